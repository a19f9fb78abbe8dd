"""The mini profile's pieces on tiny settings: the compact tokenizer, the mini Qwen3-VL
builder, the warm start (examples, augmentation, trl SFT phases), the grounding task, the
report (mean over seeds, results.json), the pipeline's plan and ``benchmarks/probe_mini.py``'s
measurements. The full profile is a benchmark (README "The method in miniature"), not a test."""

import json
import random

import numpy as np
import pytest
from benchmark_script import load_benchmark

from dig_kit.config import ConfigError, load_config

MINI_TINY = [
    "data.render.width=64",
    "data.render.height=64",
    "data.render.samples=2",
    "data.subsets.stage1.num_pairs=3",
    "data.subsets.stage2.num_pairs=2",
    "data.subsets.stage3.num_pairs=2",
    "data.subsets.eval.num_pairs=3",
]
MODEL_TINY = dict(image_size=64, text_width=64, text_layers=1, vision_width=32, vision_depth=1)


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    pytest.importorskip("bpy")
    pytest.importorskip("torch")
    from dig_kit.data.writer import render_dataset
    from dig_kit.models.mini import build_mini_model

    root = tmp_path_factory.mktemp("mini")
    cfg = load_config("mini", MINI_TINY)
    render_dataset(cfg, root / "data", progress=False)
    model = build_mini_model(root / "model", **MODEL_TINY)
    return {"root": root, "data": root / "data", "model": model, "cfg": cfg}


def test_mini_tokenizer_writes_numbers_and_prompts_compactly():
    pytest.importorskip("tokenizers")
    from dig_kit.models.mini import MAX_NUMBER, build_mini_tokenizer
    from dig_kit.prompts import TWIN_PAIR_TEMPLATE, dig_prompt

    tok = build_mini_tokenizer()
    assert all(len(tok(str(n))["input_ids"]) == 1 for n in range(MAX_NUMBER + 1))
    assert len(tok(dig_prompt(None))["input_ids"]) < 45  # ~330 with the smoke model's tokenizer
    assert len(tok(dig_prompt(3))["input_ids"]) < 50
    assert len(tok(TWIN_PAIR_TEMPLATE)["input_ids"]) < 24
    box = "[[12, 34, 56, 78], [100, 2, 3, 128]]"
    assert len(tok(box)["input_ids"]) == 21  # 8 numbers, 6 brackets, 7 x ", "
    for text in (box, "unseen text: ünïcode, 12345 and 3.14", dig_prompt(2)):  # any text round-trips (bytes)
        assert tok.decode(tok(text)["input_ids"]) == text


def test_mini_tokenizer_gives_each_word_one_id_in_questions_labels_and_answers():
    """An attribute word is one token, the same one in a yes/no question, a Qwen3-VL grounding
    label and an answer; so are the answer words, the tags, the JSON characters and the integers."""
    pytest.importorskip("tokenizers")
    from dig_kit.models.mini import MAX_NUMBER, WORDS, build_mini_tokenizer
    from dig_kit.prompts import (
        ATTRIBUTE_QUESTION_TEMPLATE,
        COUNT_TEMPLATE,
        LABELLED_GROUNDING_PROMPT,
        VQA_ONE_TEMPLATE,
    )
    from dig_kit.scenes.attributes import COLORS, MATERIALS, SHAPES, SIZES

    tok = build_mini_tokenizer()

    def ids(text):
        return tok(text, add_special_tokens=False)["input_ids"]

    assert {*SIZES, *COLORS, *MATERIALS, *SHAPES, "yes", "no", "same", "different"} <= set(WORDS)
    assert all(len(a) >= len(b) for a, b in zip(WORDS, WORDS[1:]))  # longest first
    space, open_, close = (*ids(" "), *ids("<answer>"), *ids("</answer>"))  # each a single token
    one = {w: ids(w) for w in WORDS}
    assert all(len(v) == 1 for v in one.values()), {w: v for w, v in one.items() if len(v) != 1}
    one = {w: v[0] for w, v in one.items()}
    for w in WORDS:
        assert ids(" " + w) == [space, one[w]], w
        assert ids(f"<answer>{w}</answer>") == [open_, one[w], close], w
    assert all(len(ids(c)) == 1 for c in '[]{}"')
    assert all(ids(f"<answer>{n}</answer>") == [open_, *ids(str(n)), close] for n in range(MAX_NUMBER + 1))
    assert all(len(ids(str(n))) == 1 for n in range(MAX_NUMBER + 1))

    label = [one[w] for w in ("large", "red", "metal", "cube")]
    assert ids("large red metal cube") == [label[0], space, label[1], space, label[2], space, label[3]]
    assert ids("<answer>large red metal cube</answer>") == [open_, *ids("large red metal cube"), close]
    question = ids(VQA_ONE_TEMPLATE.format(thing="red cube"))
    assert [i for i in question if i in one.values()] == [one[w] for w in ("red", "cube", "yes", "no")]
    for z in SIZES:
        for c in COLORS:
            for m in MATERIALS:
                for s in SHAPES:
                    got = ids(f'[{{"bbox_2d": [5, 6, 70, 80], "label": "{z} {c} {m} {s}"}}]')
                    assert [i for i in got if i in one.values()] == [one[z], one[c], one[m], one[s]]
    pieces = tok.backend_tokenizer.pre_tokenizer.pre_tokenize_str("reddish notable imagery, Red Yes")
    assert len(pieces) == 1  # whole lower-case words only: the text stays one piece

    grounding = (
        '[{"bbox_2d": [12, 34, 56, 78], "label": "large red metal cube"}, {"bbox_2d": [1, 2, 3, 4], "label": "x"}]'
    )
    for text in (LABELLED_GROUNDING_PROMPT, ATTRIBUTE_QUESTION_TEMPLATE.format(box="[12, 34, 56, 78]"), COUNT_TEMPLATE):
        assert len(ids(text)) < 30 and tok.decode(ids(text)) == text  # prose stays merged between the words
    for text in (grounding, 'ünïcode 日本語 🙂, "quoted" {braces} [1.5, -2]\n\tYes No RED'):
        assert tok.decode(ids(text)) == text  # any text round-trips (bytes)


def test_mini_model_loads_generates_and_starts_with_smooth_number_embeddings(mini):
    import torch
    from PIL import Image

    from dig_kit.models.loading import load_model_and_processor
    from dig_kit.models.mini import number_token_ids
    from dig_kit.prompts import chat_messages, dig_prompt

    model, processor = load_model_and_processor(mini["model"], dtype="fp32")
    cfg = model.config
    assert type(model).__name__ == "Qwen3VLForConditionalGeneration"
    assert cfg.vision_config.patch_size == 8 and cfg.vision_config.spatial_merge_size == 2
    emb = model.get_input_embeddings().weight.detach()
    ids = number_token_ids(processor.tokenizer)

    def cos(a, b):
        return float(torch.nn.functional.cosine_similarity(emb[ids[a]], emb[ids[b]], dim=0))

    near = np.mean([cos(v, v + 1) for v in range(0, 120, 7)])
    far = np.mean([cos(v, v + 400) for v in range(0, 120, 7)])
    assert near > 0.5 and near > far + 0.3, (near, far)
    images = [Image.new("RGB", (64, 64), (200, 30, 30)), Image.new("RGB", (64, 64), (30, 30, 200))]
    text = processor.apply_chat_template(chat_messages(dig_prompt(None), 2), add_generation_prompt=True, tokenize=False)
    enc = processor(text=[text], images=[images], return_tensors="pt")
    assert (enc["input_ids"] == cfg.image_token_id).sum() == 2 * (64 // 16) ** 2  # 16x16 px per image token
    out = model.generate(**enc, max_new_tokens=4, do_sample=False)
    assert out.shape[1] == enc["input_ids"].shape[1] + 4 or processor.tokenizer.eos_token_id in out[0].tolist()


def test_mirror_box_matches_the_mirrored_object_mask(mini):
    """Flipping the image flips every object's pixels: the mask-tight box of the mirrored mask
    is ``mirror_box`` of the stored visible box, exactly."""
    from dig_kit.data.reader import load_split
    from dig_kit.render.masks import decode_rle
    from dig_kit.train.warmstart import mirror_box

    row = load_split(mini["data"], "stage1")[0]
    for obj in row["objects_before"]:
        mask = decode_rle(obj["mask"])[:, ::-1]
        ys, xs = np.nonzero(mask)
        tight = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        assert mirror_box(obj["bbox_visible"], row["width"]) == pytest.approx(tight)


def test_warm_start_examples_grounding_dig_swap_and_vqa(mini):
    from dig_kit.data.reader import load_split
    from dig_kit.train.warmstart import (
        dig_examples,
        format_boxes,
        grounding_examples,
        mirror_box,
        swapped_boxes,
        vqa_examples,
    )

    assert format_boxes([[50.4, 2, 60, 9.6], [10, 20.5, 30, 40]]) == "[[10, 20, 30, 40], [50, 2, 60, 10]]"
    rows = [r for s in ("stage1", "stage2", "stage3") for r in load_split(mini["data"], s)]
    for row in rows:
        g = grounding_examples(row, augment=True)
        assert len(g) == 4 and all(len(e["images"]) == 1 for e in g)
        assert json.loads(g[0]["completion"]) == json.loads(
            format_boxes([o["bbox_full"] for o in row["objects_before"]])
        )
        assert len(json.loads(g[2]["completion"])) == len(row["objects_after"])
        d = dig_examples(row, augment=True, count_hint=True)
        assert len(d) == 4 and all(len(e["images"]) == 2 for e in d)
        assert f"exactly {row['num_differences']}" in d[0]["text"]
        assert d[2]["images"] == [row["after"], row["before"]]
        assert json.loads(d[1]["completion"]) == json.loads(
            format_boxes([mirror_box(b, row["width"]) for b in row["boxes"]])
        )
        for diff, box in zip(row["differences"], swapped_boxes(row)):
            if diff["type"] == "add":  # after the swap it is a removal: boxed where the object is, the same box
                assert box == diff["bbox"] == diff["bbox_full_after"]
            elif diff["type"] == "remove":  # after the swap it is an add into the spot it left
                assert box == diff["bbox_full_before"]
            else:
                assert box == diff["bbox_full_after"]
    rng = random.Random(0)
    answers = [e["completion"] for r in rows * 10 for e in vqa_examples(r, rng)]
    assert {"<answer>yes</answer>", "<answer>no</answer>"} == set(answers)
    assert 0.3 < answers.count("<answer>yes</answer>") / len(answers) < 0.7
    for row in rows:
        one, both = vqa_examples(row, rng)
        thing = one["text"].split("Is there a ")[1].split(" in the image")[0]
        present = {f"{o['color']} {o['shape']}" for o in row["objects_before"]}
        assert (thing in present) == (one["completion"] == "<answer>yes</answer>")
        thing = both["text"].split("Is there a ")[1].split(" in both")[0]
        present &= {f"{o['color']} {o['shape']}" for o in row["objects_after"]}
        assert (thing in present) == (both["completion"] == "<answer>yes</answer>")


def test_warm_start_phases_train_with_sft_lower_the_loss_and_resume(mini, tmp_path):
    pytest.importorskip("trl")
    from dig_kit.paper.miniature import heldout_callbacks
    from dig_kit.train.warmstart import read_loss, run_warm_start

    cfg = load_config(
        "mini",
        MINI_TINY
        + [
            "warm_start.grounding_steps=15",
            "warm_start.dig_steps=3",
            "warm_start.batch_size=4",
            "warm_start.subsets=[stage1]",
            "warm_start.grounding_lr=3e-3",
            "warm_start.eval_every=5",
            "warm_start.eval_pairs=2",
        ],
    )
    out = tmp_path / "ws"
    phases = run_warm_start(cfg, mini["data"], mini["model"], out, callbacks=heldout_callbacks(cfg, mini["data"], 8))
    assert phases["grounding"] == out / "grounding" / "final" and phases["dig"] == out / "dig" / "final"
    for phase in ("grounding", "dig"):
        assert (out / phase / "final" / "model.safetensors").exists()
        assert (out / phase / "final" / "config.yaml").exists()
    loss = [r["loss"] for r in read_loss(out, "grounding")]
    assert len(loss) == 5 and loss[-1] < 0.8 * loss[0], loss  # 15 steps on the same 12 images: the loss falls
    checks = read_loss(out, "grounding", "eval")  # the held-out curve: steps 5, 10 and the end
    assert [r["step"] for r in checks] == [5, 10, 15] and {r["benchmark"] for r in checks} == {"dig_grounding"}
    assert all(0 <= r["f1"] <= 1 and 0 <= r["format"] <= 1 for r in checks)
    assert [(r["step"], r["benchmark"]) for r in read_loss(out, "dig", "eval")] == [(3, "dig_eval")]
    stamp = (out / "dig" / "final" / "model.safetensors").stat().st_mtime
    assert run_warm_start(cfg, mini["data"], mini["model"], out) == phases  # finished phases are not retrained
    assert (out / "dig" / "final" / "model.safetensors").stat().st_mtime == stamp


def test_warm_start_config_and_bad_input_fail_before_training(mini, tmp_path):
    from dig_kit.train.warmstart import run_phase

    with pytest.raises(ConfigError, match="warm_start.subsets"):
        load_config("mini", ["warm_start.subsets=[stage1, eval]"])
    with pytest.raises(ConfigError, match="warm_start.grounding_share"):
        load_config("mini", ["warm_start.grounding_share=1.0"])
    cfg = load_config("mini", MINI_TINY + ["warm_start.grounding_steps=2"])
    with pytest.raises(ConfigError, match="no model at"):
        run_phase(cfg, "grounding", mini["data"], tmp_path / "nothing", tmp_path / "out")
    with pytest.raises(ConfigError, match="phase"):
        run_phase(cfg, "pretraining", mini["data"], mini["model"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_grounding_task_scores_every_object_of_the_before_image(mini):
    from dig_kit.data.reader import load_split
    from dig_kit.evaluation.tasks import get_task
    from dig_kit.train.warmstart import format_boxes

    task = get_task("dig_grounding")
    docs = task.load(mini["data"])
    rows = {r["id"]: r for r in load_split(mini["data"], "eval")}
    assert len(docs) == len(rows) and all(len(d["images"]) == 1 for d in docs)
    perfect = {
        d["id"]: {"output": "</think>\n\n" + format_boxes([o["bbox_full"] for o in rows[d["id"]]["objects_before"]])}
        for d in docs
    }
    metrics, _ = task.score(docs, perfect, thinking=True)
    assert metrics["f1"] == 100 and metrics["recall"] == 100
    one = {
        d["id"]: {"output": "</think>\n\n" + format_boxes([rows[d["id"]]["objects_before"][0]["bbox_full"]])}
        for d in docs
    }
    metrics, _ = task.score(docs, one, thinking=True)
    n_obj = sum(len(r["objects_before"]) for r in rows.values())
    assert metrics["precision"] == 100 and metrics["recall"] == pytest.approx(100 * len(docs) / n_obj, abs=0.01)


def test_probe_mini_linear_probe_and_answer_logprob(mini):
    """benchmarks/probe_mini.py, whose numbers the README cites: the probe separates separable
    features and not noise; an answer's log-probability is exactly the model's own
    loss on the completion tokens (no off-by-one between prompt and answer)."""
    import torch

    from dig_kit.data.reader import load_split
    from dig_kit.models.loading import load_model_and_processor

    probe = load_benchmark("probe_mini")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 8, 400)
    x = np.eye(8)[y] * 6 + rng.normal(size=(400, 8))
    assert probe.linear_probe(x[:300], y[:300], x[300:], y[300:], 8) > 0.95
    noise = rng.normal(size=(400, 16))
    assert probe.linear_probe(noise[:300], y[:300], noise[300:], y[300:], 8) < 0.35

    model, processor = load_model_and_processor(mini["model"], dtype="fp32")
    model.eval()
    row = load_split(mini["data"], "eval")[0]
    images = [row["before"].convert("RGB"), row["after"].convert("RGB")]
    completion = "</think>\n\n<answer>yes</answer>" + processor.tokenizer.eos_token
    got = probe.answer_logprob(model, processor, "Same?", images, completion)
    inputs, n = probe.answer_inputs(processor, "Same?", images, completion)
    labels = torch.full_like(inputs["input_ids"], -100)
    labels[:, n:] = inputs["input_ids"][:, n:]
    with torch.no_grad():
        loss = model(**inputs, labels=labels).loss
    assert inputs["input_ids"].shape[1] - n == len(
        processor.tokenizer(completion, add_special_tokens=False)["input_ids"]
    )
    assert got == pytest.approx(-float(loss) * (inputs["input_ids"].shape[1] - n), rel=1e-4)
    assert 0 < probe.p_yes(model, processor, "Same?", images) < 1
    grid = probe.image_tokens(model, processor, images[0])
    assert grid.shape[:2] == (row["height"] // 16, row["width"] // 16)


def test_mean_over_seeds_and_results_json(mini, tmp_path, monkeypatch):
    from dig_kit.paper.ablations import mean_over_seeds
    from dig_kit.paper.miniature import collect_results, f1_change, mean_box, results_rows

    per_seed = {
        s: {
            "DiG-1": {
                "dig_eval": {"f1": f, "miou": 40.0, "score": f, "headline": "f1"},
                "refcoco_val": {"status": "missing data: x", "score": None},
            }
        }
        for s, f in ((0, 10.0), (1, 20.0), (2, 30.0))
    }
    agg = mean_over_seeds(per_seed)["DiG-1"]
    assert agg["dig_eval"]["f1"] == 20.0 and agg["dig_eval"]["f1_sd"] == 10.0 and agg["dig_eval"]["seeds"] == 3
    assert agg["dig_eval"]["per_seed"] == {"0": 10.0, "1": 20.0, "2": 30.0}
    assert agg["refcoco_val"]["status"].startswith("missing data")

    runs = tmp_path / "runs"
    (runs / "warm_start").mkdir(parents=True)
    (runs / "eval").mkdir()
    (runs / "twin-train").mkdir()
    metrics = {"f1": 25.0, "miou": 50.0, "precision": 30.0, "recall": 20.0, "format": 100.0}
    # per-pair scores as the runner writes them, found by their settings path (as written at run time:
    # relative to where the run started, so found again below `runs`)
    scored = {"warm": [(1, 2, 2), (1, 2, 2)], "stage3": [(2, 2, 2), (1, 2, 2)]}
    for name, counts in scored.items():
        rows = [{"id": f"p{i}", "tp": t, "n_pred": p, "n_gt": g} for i, (t, p, g) in enumerate(counts)]
        (runs / "eval" / name).mkdir()
        (runs / "eval" / name / "scores-k.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    settings = {k: {"settings": {"scores": f"elsewhere/runs/eval/{k}/scores-k.jsonl"}} for k in scored}
    decoy = tmp_path / "cwd" / "elsewhere" / "runs" / "eval" / "stage3" / "scores-k.jsonl"  # another run's file
    decoy.parent.mkdir(parents=True)
    decoy.write_text(json.dumps({"id": "p0", "tp": 0, "n_pred": 2, "n_gt": 2}) + "\n")
    monkeypatch.chdir(tmp_path / "cwd")  # the path as written resolves to the decoy: the copy below `runs` wins
    (runs / "warm_start" / "results.json").write_text(
        json.dumps({"after DiG SFT": {"dig_eval": {**metrics, **settings["warm"]}}})
    )
    (runs / "eval" / "summary.json").write_text(
        json.dumps({"+ DiG stage 3": {"dig_eval": {**metrics, "f1": 35.0, **settings["stage3"]}}})
    )
    (runs / "twin-train" / "summary.json").write_text(json.dumps({"+ TWIN (synthetic)": {"pair": 62.5, "n": 8}}))
    (runs / "results.json").write_text(json.dumps({"wall_s": 1234.5}))  # written by the pipeline before
    res = collect_results(runs, mini["data"])
    assert res["heldout"]["warm_start"] == {"f1": 0.25, "miou": 0.5, "precision": 0.3, "recall": 0.2, "format": 1.0}
    assert res["heldout"]["stage3"]["f1"] == 0.35 and res["heldout"]["stage1"] is None
    assert res["twin"]["pair_accuracy"] == 0.625 and res["wall_s"] == 1234.5
    base = res["heldout"]["baseline_mean_box"]
    assert base["format"] == 1.0 and 0 <= base["f1"] <= 1
    box = mean_box(mini["data"])
    assert all(0 <= v <= 64 for v in box) and box[0] < box[2] and box[1] < box[3]
    assert json.loads((runs / "results.json").read_text()) == res
    assert [r["Model"] for r in results_rows(res)][:2] == ["mean-box baseline (no model)", "warm start (after SFT DiG)"]
    # stage 3 against the warm start, same two pairs: F1 0.75 - 0.5; resampling both pairs the same way
    # gives 1.0 - 0.5 (pair 0 twice), 0 (pair 1 twice) or 0.25: the interval spans [0, 0.5]
    assert res["heldout_change"]["vs"] == "warm_start" and "stage1" not in res["heldout_change"]
    assert res["heldout_change"]["stage3"] == {"f1_delta": 0.25, "ci95": [0.0, 0.5], "n": 2}
    assert results_rows(res)[-1]["F1 vs warm start [95% CI]"] == "+25.0 [+0.0, +50.0]"
    same = {"a": (1, 3, 2), "b": (0, 1, 2)}
    assert f1_change(same, same) == {"f1_delta": 0.0, "ci95": [0.0, 0.0], "n": 2}
    assert f1_change(same, {"c": (1, 1, 1)}) is None  # no shared pairs


def test_pipeline_plans_the_mini_profile_and_checks_overrides_first(tmp_path, capsys):
    from dig_kit.paper.pipeline import run_pipeline, steps

    plan = steps("mini", tmp_path / "runs" / "mini", tmp_path / "fig", ["train.seed=3"])
    names = [s.name for s in plan]
    assert names == [
        "render",
        "rewards",
        "warm_start",
        "train1",
        "train2",
        "train3",
        "evaluate",
        "twin",
        "ablations",
        "artifacts",
    ]
    params = {s.name: s.params for s in plan}
    warm_final = str(tmp_path / "runs" / "mini" / "warm_start" / "dig" / "final")
    assert params["train1"]["overrides"] == [f"train.model={warm_final}", "train.seed=3"]
    assert params["render"]["overrides"] == ["train.seed=3"]
    assert params["ablations"]["seeds"] == [0, 1, 2]
    assert params["evaluate"]["models"]["warm start"] == warm_final
    assert "warm_start" not in [s.name for s in steps("smoke", tmp_path, tmp_path)]
    assert run_pipeline("mini", str(tmp_path / "r"), str(tmp_path / "f"), overrides=["warm_start.dig_steps=-1"]) == 2
    assert "warm_start.dig_steps" in capsys.readouterr().err
    assert not (tmp_path / "r").exists() and not (tmp_path / "f").exists()


def test_wall_time_is_stated_only_when_every_step_ran_in_one_invocation(tmp_path):
    from dig_kit.paper.pipeline import _stamp_wall_time

    (tmp_path / "timings.json").write_text(json.dumps({"a": 10.0, "b": 5.5}))
    (tmp_path / "results.json").write_text(json.dumps({"heldout": {}}))
    assert _stamp_wall_time(tmp_path, ["a", "b"], {"a", "b"}) == 15.5
    assert json.loads((tmp_path / "results.json").read_text())["wall_s"] == 15.5
    assert _stamp_wall_time(tmp_path, ["a", "b"], set()) is None  # nothing ran: left as it was
    assert json.loads((tmp_path / "results.json").read_text())["wall_s"] == 15.5
    assert _stamp_wall_time(tmp_path, ["a", "b"], {"b"}) is None  # a resumed rerun: only a lower bound
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["wall_s"] is None and data["wall_s_lower_bound"] == 15.5 and "['a']" in data["wall_s_note"]


def test_backbone_curve_draws_each_check_where_runs_have_it():
    """Rows of several pretraining runs: a check an older run did not log (the F1s) is drawn from
    the rows that have it, the others over every check row; training rows are not drawn."""
    pytest.importorskip("matplotlib")
    from dig_kit.paper.miniature import BACKBONE_CURVES, plot_backbone_curve

    base = {k: 0.5 for k in BACKBONE_CURVES if not k.endswith("_f1")}
    rows = [
        {"examples_seen": 0, **base},
        {"examples_seen": 1000, "loss": 1.0},
        {"examples_seen": 2000, **base},
        {"examples_seen": 0, "examples_total": 2000, **base, "grounding_f1": 0.1, "dig_f1": 0.05},
        {"examples_seen": 500, "examples_total": 2500, **base, "grounding_f1": 0.2, "dig_f1": 0.15},
    ]
    fig = plot_backbone_curve(rows)
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines() if not ln.get_label().startswith("_")}
    assert set(lines) == set(BACKBONE_CURVES.values())
    assert list(lines[BACKBONE_CURVES["yes_no"]].get_xdata()) == [0, 2, 2, 2.5]
    assert list(lines[BACKBONE_CURVES["dig_f1"]].get_xdata()) == [2, 2.5]
    assert list(lines[BACKBONE_CURVES["dig_f1"]].get_ydata()) == [0.05, 0.15]
