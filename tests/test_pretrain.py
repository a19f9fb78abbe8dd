"""Perception pretraining (``dig-kit pretrain``) on tiny CPU budgets: the generated examples and
their answers, encoding and batching, the loss, a whole run, resuming, starting from a
pretrained model, and bad input named before anything is written."""

import json
import random
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from dig_kit.config import ConfigError, load_config
from dig_kit.scenes.attributes import ATTRIBUTES
from dig_kit.train import pretrain as P
from dig_kit.train.pretrain import PHASE_TASKS, PretrainConfig

# the mini preset names the shipped backbone; the example stream does not depend on it
KIT = load_config("mini", {"warm_start.backbone": ""})
W, H = KIT.data.render.width, KIT.data.render.height
TINY_MODEL = dict(text_width=64, text_layers=1, vision_width=32, vision_depth=1)
BOX = re.compile(r"\[(-?\d+), (-?\d+), (-?\d+), (-?\d+)\]")


def _cfg(out, **kw) -> PretrainConfig:
    base = dict(max_examples=16, batch_size=8, workers=0, warmup_steps=2, device="cpu", model=TINY_MODEL)
    return PretrainConfig(out=str(out), **{**base, **kw})


# ---------------------------------------------------------------------------------------------
# examples


def _recorded(monkeypatch) -> dict:
    """Record every render of the stream: id(image) -> (image, scene, full boxes, seen ids, look)."""
    renders = {}
    real = P._render

    def render(scene, kit, rng, look=None):
        image, index, full, seen = real(scene, kit, rng, look)
        renders[id(image)] = (image, scene, full, seen, look)  # the image kept: its id stays unique
        return image, index, full, seen

    monkeypatch.setattr(P, "_render", render)
    return renders


def _words_ok(text: str) -> bool:
    size, color, material, shape = text.split()
    return (
        size in ATTRIBUTES["size"]
        and color in ATTRIBUTES["color"]
        and material in ATTRIBUTES["material"]
        and shape in ATTRIBUTES["shape"]
    )


def _answer(completion: str) -> str:
    m = re.fullmatch(r"<answer>(.*)</answer>", completion)
    assert m, completion
    return m.group(1)


def _boxes(completion: str) -> list[list[int]]:
    boxes = json.loads(completion)
    assert isinstance(boxes, list)
    for b in boxes:
        assert isinstance(b, list) and len(b) == 4 and all(isinstance(v, int) for v in b), completion
    return boxes


def _thing(text: str) -> str:
    m = re.match(r"Is there an? (\w+ \w+) in (the image|both images)\?", text)
    assert m, text
    return m.group(1)


def _visible_things(scene, seen) -> set[str]:
    return {f"{o.color} {o.shape}" for o in scene.objects if o.id in seen}


def _int_box(box) -> list[int]:
    return [int(round(float(v))) for v in box]


def _check_example(text, images, completion, task, renders):
    """The completion is well formed and true of the scenes the images were rendered from."""
    _, scene, full, seen, look = renders[id(images[0])]
    if len(images) == 2:  # a before/after pair shares its lights and exposure; a same-or-not candidate does not
        other_look = renders[id(images[1])][4]
        assert look is not None and (other_look is look) == (task != "same"), task
    if task == "attributes":
        words = _answer(completion)
        assert _words_ok(words)
        asked = [int(v) for v in BOX.search(text).groups()]
        (obj,) = [o for o in scene.objects if _int_box(full[o.id]) == asked]
        assert obj.id in seen and words == P.label(obj)
    elif task in ("yes_no", "yes_no_first"):
        assert _answer(completion) == ("yes" if _thing(text) in _visible_things(scene, seen) else "no")
    elif task == "yes_no_think":  # the thought names every seen object left to right, then the true answer
        thought, answer = completion.split("\n</think>\n\n")
        order = sorted((o for o in scene.objects if o.id in seen), key=lambda o: (full[o.id][0], o.id))
        assert thought == ", ".join(f"{o.color} {o.shape}" for o in order)
        assert _answer(answer) == ("yes" if _thing(text) in _visible_things(scene, seen) else "no")
    elif task == "count":
        assert _answer(completion) == str(len(seen))
    elif task == "describe":
        items = json.loads(completion)
        assert [list(d) for d in items] == [["bbox_2d", "label"]] * len(items)
        for d in items:
            assert len(d["bbox_2d"]) == 4 and all(isinstance(v, int) for v in d["bbox_2d"]) and _words_ok(d["label"])
        truth = sorted((_int_box(full[o.id]), P.label(o)) for o in scene.objects if o.id in seen)
        assert [(d["bbox_2d"], d["label"]) for d in items] == truth  # every seen object, left to right
    elif task == "grounding":
        assert _boxes(completion) == sorted(_int_box(full[i]) for i in seen)
    elif task == "yes_no_both":
        _, after, _, seen_after, _ = renders[id(images[1])]
        both = _visible_things(scene, seen) & _visible_things(after, seen_after)
        assert _answer(completion) == ("yes" if _thing(text) in both else "no")
    elif task == "dig":
        _, after, full_after, _, _ = renders[id(images[1])]
        boxes = _boxes(completion)
        before_objs, after_objs = {o.id: o for o in scene.objects}, {o.id: o for o in after.objects}
        changed = [i for i in before_objs.keys() | after_objs.keys() if before_objs.get(i) != after_objs.get(i)]
        assert 1 <= len(boxes) == len(changed) <= 4
        expected = sorted(_int_box(full_after[i] if i not in before_objs else full[i]) for i in changed)
        assert boxes == expected  # an added object's box on the after image, any other's on the before
    elif task == "same":
        _, other, _, _, _ = renders[id(images[1])]
        same_objects = sorted(scene.objects, key=lambda o: o.id) == sorted(other.objects, key=lambda o: o.id)
        assert _answer(completion) == ("yes" if same_objects else "no")
    else:
        raise AssertionError(task)


@pytest.mark.parametrize("phase, n", [("objects", 32), ("scenes", 32), ("pairs", 56)])
def test_each_phase_gives_its_tasks_with_true_answers(monkeypatch, phase, n):
    renders = _recorded(monkeypatch)
    stream = P.phase_examples(KIT, phase, np.random.default_rng(1), random.Random(1), 4)
    tasks = set()
    for _ in range(n):
        text, images, completion, task, dense = next(stream)
        assert task in PHASE_TASKS[phase] and dense is None  # yes_no_first, the one dense task, is off by default
        assert len(images) == (2 if task in ("yes_no_both", "dig", "same") else 1)
        assert all(im.size == (W, H) and im.mode == "RGB" for im in images)
        _check_example(text, images, completion, task, renders)
        tasks.add(task)
    assert tasks == {t for t, w in PHASE_TASKS[phase].items() if w > 0}  # every task of the phase turns up
    if phase == "objects":
        assert all(1 <= len(s.objects) <= 3 for _, s, _, _, _ in renders.values())


def test_a_task_off_by_default_is_turned_on_by_its_weight(monkeypatch):
    _recorded(monkeypatch)
    stream = P.phase_examples(KIT, "objects", np.random.default_rng(2), random.Random(2), 4, {"yes_no_think": 50})
    tasks = [next(stream)[3] for _ in range(24)]
    assert PHASE_TASKS["objects"]["yes_no_think"] == 0 and tasks.count("yes_no_think") > 12


def test_task_weights_override_the_phase_mix(monkeypatch):
    renders = _recorded(monkeypatch)
    weights = {t: 0 for t in PHASE_TASKS["pairs"]} | {"same": 1, "count": 1}
    stream = P.phase_examples(KIT, "pairs", np.random.default_rng(2), random.Random(2), 4, weights)
    seen_tasks = []
    for _ in range(12):
        example = next(stream)
        _check_example(*example[:4], renders)
        seen_tasks.append(example[3])
    assert set(seen_tasks) == {"same", "count"}


def test_an_asked_box_names_its_object():
    """``image_examples`` on a hand-made scene: the attributes of the object in the box, yes only
    for what is seen (an object not seen is absent), the count and the labelled boxes."""
    from dig_kit.scenes import SceneSpec

    objs = [
        {"id": 0, "shape": "cube", "color": "red", "size": "large", "material": "metal", "x": 0.0, "y": 0.0},
        {"id": 1, "shape": "sphere", "color": "blue", "size": "small", "material": "matte", "x": 2.0, "y": 2.0},
        {"id": 2, "shape": "cylinder", "color": "green", "size": "medium", "material": "matte", "x": -2.0, "y": 1.0},
    ]
    scene = SceneSpec.from_dict({"objects": objs})
    boxes = {0: [10.2, 20.0, 40.0, 60.6], 1: [70.0, 5.0, 90.0, 25.0], 2: [50.0, 50.0, 60.0, 70.0]}
    seen = {0, 1}  # object 2 hidden
    rng = random.Random(0)
    for _ in range(20):
        text, images, completion = P.image_examples("attributes", scene, "IMG", boxes, seen, rng)
        assert images == ["IMG"]
        if "[10, 20, 40, 61]" in text:
            assert completion == "<answer>large red metal cube</answer>"
        else:
            assert "[70, 5, 90, 25]" in text and completion == "<answer>small blue matte sphere</answer>"
        text, _, completion = P.image_examples("yes_no", scene, "IMG", boxes, seen, rng)
        assert _answer(completion) == ("yes" if _thing(text) in {"red cube", "blue sphere"} else "no")
        text, _, completion = P.image_examples("yes_no_think", scene, "IMG", boxes, seen, rng)
        truth = "yes" if _thing(text) in {"red cube", "blue sphere"} else "no"
        assert completion == f"red cube, blue sphere\n</think>\n\n<answer>{truth}</answer>"  # x1 10 before 70
    assert P.image_examples("count", scene, "IMG", boxes, seen, rng)[2] == "<answer>2</answer>"
    assert P.image_examples("describe", scene, "IMG", boxes, seen, rng)[2] == (
        '[{"bbox_2d": [10, 20, 40, 61], "label": "large red metal cube"}, '
        '{"bbox_2d": [70, 5, 90, 25], "label": "small blue matte sphere"}]'
    )
    assert P.image_examples("grounding", scene, "IMG", boxes, seen, rng)[2] == "[[10, 20, 40, 61], [70, 5, 90, 25]]"
    assert P.image_examples("attributes", scene, "IMG", boxes, set(), rng) is None


def test_a_dense_example_names_what_it_asks_and_where_its_objects_are(monkeypatch):
    """``yes_no_first``: a truthful yes/no whose dense source is the render's index pass, the
    seen objects' ``colour shape`` by index value and the thing the question asks about."""
    renders = _recorded(monkeypatch)
    stream = P.phase_examples(KIT, "objects", np.random.default_rng(3), random.Random(3), 4, {"yes_no_first": 50})
    dense_seen = 0
    for _ in range(24):
        text, images, completion, task, dense = next(stream)
        _check_example(text, images, completion, task, renders)
        if task != "yes_no_first":
            assert dense is None
            continue
        dense_seen += 1
        _, scene, _, seen, _ = renders[id(images[0])]
        assert dense["asked"] == _thing(text) == P.asked_thing(text)
        assert dense["things"] == {o.id + 1: f"{o.color} {o.shape}" for o in scene.objects if o.id in seen}
        assert dense["index"].shape == (H, W) and set(np.unique(dense["index"])) <= {
            0,
            *(o.id + 1 for o in scene.objects),
        }
    assert dense_seen > 12
    with pytest.raises(ValueError, match="not a one-image yes/no question"):
        P.asked_thing("Is there a red cube in both images? Answer yes or no inside <answer></answer> tags.")


def test_each_image_token_is_marked_by_the_object_under_it():
    index = np.zeros((32, 48), dtype=int)  # 2 x 3 blocks of 16 px, row by row
    index[:16, 16:32] = 1  # object 0 fills the second block
    index[16:, :6] = 2  # object 1 covers 6/16 of the fourth block: 37% >= 25%
    index[16:, 32:35] = 2  # and 3/16 of the sixth: 19%
    index[16:, 40:48] = 3  # object 2 half of the sixth
    assert P.token_objects(index, 2, 3) == [0, 1, 0, 2, 0, 3]
    assert P.token_objects(index, 1, 1) == [0]  # the largest object covers 1/6 of the whole: none

    class Tok:  # word -> id, as the mini tokenizer's single-token words
        ids = {"red": 5, "cube": 6, "blue": 7, "sphere": 8, "yes": 1, "no": 2}

        def convert_tokens_to_ids(self, words):
            return [self.ids[w] for w in words]

    # object 2 (value 3) is not seen: its token is not trained
    dense = {"index": index, "things": {1: "red cube", 2: "blue sphere"}, "asked": "blue sphere"}
    names, match = P.dense_targets(Tok(), dense, 2, 3)
    none = [-100, -100]
    assert names.tolist() == [none, [5, 6], none, [7, 8], none, none]
    assert match.tolist() == [-100, 2, -100, 1, -100, -100]


# ---------------------------------------------------------------------------------------------
# a whole run (shared: its model and processor serve the encoding and loss tests too)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("pretrain") / "run"
    log: list[str] = []
    # 20 examples in batches of 8: 3 steps (one per phase), a checkpoint after each
    final = P.pretrain(_cfg(out, max_examples=20, checkpoint_minutes=0), log=log.append)
    return {"out": out, "final": final, "log": log}


@pytest.fixture(scope="module")
def model_and_processor(first_run):
    from dig_kit.models.loading import load_model_and_processor

    return load_model_and_processor(first_run["final"], dtype="fp32")


def _metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_a_tiny_run_writes_a_loadable_model_with_its_record(first_run, model_and_processor):
    out, final, log = first_run["out"], first_run["final"], first_run["log"]
    assert final == out / "final"
    model, processor = model_and_processor
    assert sum(p.numel() for p in model.parameters()) > 0 and processor.tokenizer is not None
    summary = json.loads((final / "pretrain.json").read_text())
    assert summary["examples_seen"] == 24  # 20 rounded up to whole batches of 8
    assert len(summary["runs"]) == 1
    run = summary["runs"][0]
    assert run["steps"] == 3 and run["examples_seen"] == 24 and run["config"]["max_examples"] == 20
    assert "CPU" in run["made_on"] and "CPU" in summary["made_on"]
    assert summary["parameters"] == sum(p.numel() for p in model.parameters())
    card = (final / "README.md").read_text()
    assert "24 examples seen" in card and "--max-examples 20" in card
    assert [m for m in log if m.startswith("phase")] == [
        "phase objects from 0 examples",
        "phase scenes from 8 examples",
        "phase pairs from 16 examples",
    ]
    rows = _metrics(out)
    steps = [r["step"] for r in rows]
    assert rows and steps == sorted(set(steps)) and steps[-1] == 3 and rows[-1]["examples_seen"] == 24
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["step"] == 3 and state["examples_seen"] == 24
    assert json.loads((out / "pretrain_config.json").read_text())["max_examples"] == 20


def test_a_finished_run_is_not_trained_again(first_run):
    log: list[str] = []
    before = (first_run["final"] / "pretrain.json").read_text()
    assert P.pretrain(_cfg(first_run["out"], max_examples=20), log=log.append) == first_run["final"]
    assert len(log) == 1 and "already pretrained" in log[0]
    assert (first_run["final"] / "pretrain.json").read_text() == before


def _example_rows(processor, n=3, weights=None):
    stream = P.phase_examples(KIT, "pairs", np.random.default_rng(5), random.Random(5), 4, weights)
    rows, completions = [], []
    while len(rows) < n:
        text, images, completion, task, _ = next(stream)
        if rows and len(images) == 1 and rows[-1]["image_grid_thw"].shape[0] == 1:
            continue  # mix one- and two-image examples
        row = P.encode(processor, text, images, completion)
        row["task"] = task
        rows.append(row)
        completions.append(completion)
    return rows, completions


def test_encoded_batches_mask_the_prompt_and_the_padding(model_and_processor):
    _, processor = model_and_processor
    tok = processor.tokenizer
    rows, completions = _example_rows(processor)
    for row, completion in zip(rows, completions):
        labels = row["labels"]
        assert labels.shape == row["input_ids"].shape
        target = labels != -100
        n = int(target.sum())
        assert n > 0 and bool(target[-n:].all()) and not bool(target[:-n].any())  # the completion is the tail
        thought = "" if "</think>" in completion else "</think>\n\n"  # a completion that thinks keeps its thought
        assert tok.decode(labels[target]) == thought + completion + tok.eos_token
        assert (labels[target] == row["input_ids"][target]).all()
    batch = P.collate(rows, tok.pad_token_id)
    assert batch["tasks"] == [r["task"] for r in rows]
    lengths = [len(r["input_ids"]) for r in rows]
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape == (3, max(lengths))
    for i, n in enumerate(lengths):
        assert (batch["input_ids"][i, :n] == rows[i]["input_ids"]).all()
        assert (batch["labels"][i, :n] == rows[i]["labels"]).all()
        assert (batch["attention_mask"][i, :n] == 1).all() and (batch["attention_mask"][i, n:] == 0).all()
        assert (batch["labels"][i, n:] == -100).all() and (batch["input_ids"][i, n:] == tok.pad_token_id).all()
    grid = batch["image_grid_thw"]
    assert grid.shape[0] == sum(r["image_grid_thw"].shape[0] for r in rows) >= 4
    assert batch["pixel_values"].shape[0] == int(grid.prod(dim=1).sum())  # one row per image patch


def test_a_completion_that_thinks_trains_its_thought_then_its_answer(model_and_processor):
    _, processor = model_and_processor
    tok = processor.tokenizer
    completion = P.think_completion("red cube, blue sphere", "<answer>no</answer>")
    row = P.encode(processor, "Is there a green cube in the image?", [_image()], completion)
    target = row["labels"] != -100
    assert tok.decode(row["labels"][target]) == "red cube, blue sphere\n</think>\n\n<answer>no</answer>" + tok.eos_token


def test_a_dense_example_asks_first_and_lines_its_targets_up_with_the_image_tokens(model_and_processor, monkeypatch):
    """Encoded, the question stands before the image, every image token has a target slot (in the
    order the model takes them), a marked token lies on an object of its name, and a batch
    concatenates the slots row by row (rows without dense targets: -100)."""
    model, processor = model_and_processor
    tok = processor.tokenizer
    renders = _recorded(monkeypatch)
    stream = P.phase_examples(KIT, "objects", np.random.default_rng(4), random.Random(4), 4, {"yes_no_first": 50})
    rows, marked = [], 0
    while len(rows) < 4:
        text, images, completion, task, dense = next(stream)
        row = P.encode(processor, text, images, completion, dense)
        row["task"] = task
        image_at = (row["input_ids"] == model.config.image_token_id).nonzero()[:, 0]
        n = len(image_at)
        assert row["dense_names"].shape == (n, 2) and row["dense_match"].shape == (n,)
        if dense is None:
            assert (row["dense_match"] == -100).all() and (row["dense_names"] == -100).all()
            if not rows:
                rows.append(row)
            continue
        ids = row["input_ids"].tolist()
        colour, shape = tok.convert_tokens_to_ids(P.asked_thing(text).split())  # one token each
        assert ids.index(colour) < ids.index(shape) < int(image_at[0])  # the asked thing is read before the image
        _, scene, full, seen, _ = renders[id(images[0])]
        _, h, w = (int(v) for v in row["image_grid_thw"][0])
        cols = w // processor.image_processor.merge_size
        cell = W // cols
        yes, no = tok.convert_tokens_to_ids(["yes", "no"])
        for j in (row["dense_match"] != -100).nonzero()[:, 0].tolist():
            r, c = divmod(j, cols)
            name = tok.convert_ids_to_tokens(row["dense_names"][j].tolist())
            (obj,) = [o for o in scene.objects if o.id in seen and [o.color, o.shape] == name][:1] or [None]
            assert obj is not None, name
            x1, y1, x2, y2 = full[obj.id]  # the token's block overlaps its object's box
            assert x1 < (c + 1) * cell and x2 > c * cell and y1 < (r + 1) * cell and y2 > r * cell
            truth = yes if " ".join(name) == dense["asked"] else no
            assert int(row["dense_match"][j]) == truth
            marked += 1
        rows.append(row)
    assert marked > 0
    batch = P.collate(rows, tok.pad_token_id)
    assert (batch["dense_match"] == torch_cat(r["dense_match"] for r in rows)).all()
    assert len(batch["dense_match"]) == int((batch["input_ids"] == model.config.image_token_id).sum())


def torch_cat(tensors):
    import torch

    return torch.cat(list(tensors))


def test_the_dense_losses_read_the_marked_tokens_through_the_word_head(model_and_processor):
    """``dense_losses`` by hand: naming, the mean of the two words' log-probabilities over marked
    tokens; matching, the yes tokens' mean plus the no tokens' mean (the classes weigh alike)."""
    import torch

    model, processor = model_and_processor
    tok = processor.tokenizer
    row = P.encode(
        processor,
        "Is there a red cube in the image? Answer yes or no inside <answer></answer> tags.",
        [_image()],
        "<answer>no</answer>",
        {"index": np.zeros((H, W), dtype=int), "things": {}, "asked": "red cube"},
    )
    batch = P.collate([{**row, "task": "yes_no_first"}], tok.pad_token_id)
    names, match = batch.pop("dense_names"), batch.pop("dense_match")
    batch.pop("tasks"), batch.pop("labels")
    assert (match == -100).all()  # nothing under any token: nothing trained
    yes, no = tok.convert_tokens_to_ids(["yes", "no"])
    red, cube = tok.convert_tokens_to_ids(["red", "cube"])
    names[2], names[5] = torch.tensor([red, cube]), torch.tensor([red, cube])
    match[2], match[5], match[7], match[9] = yes, no, no, no
    model.eval()
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True)
        zero = P.dense_losses(
            model, out.hidden_states, batch["input_ids"], names * 0 - 100, match * 0 - 100, (0, 1), yes
        )
        assert [float(v) for v in zero] == [0.0, 0.0]
        naming, matching = P.dense_losses(model, out.hidden_states, batch["input_ids"], names, match, (0, 1), yes)
        at = batch["input_ids"] == model.config.image_token_id
        norm = model.model.language_model.norm
        lp0 = model.lm_head(norm(out.hidden_states[0][at])).log_softmax(-1)
        lp1 = model.lm_head(norm(out.hidden_states[1][at])).log_softmax(-1)
    assert float(naming) == pytest.approx(-float(lp0[[2, 2, 5, 5], [red, cube, red, cube]].mean()), rel=1e-5)
    expected = -float(lp1[2, yes]) - float(lp1[[5, 7, 9], [no, no, no]].mean())
    assert float(matching) == pytest.approx(expected, rel=1e-5)


def test_a_run_with_the_dense_task_trains_its_image_tokens(tmp_path, monkeypatch):
    real, got = P.dense_losses, []

    def dense_losses(*args):
        out = real(*args)
        got.append([float(v.detach()) for v in out])
        return out

    monkeypatch.setattr(P, "dense_losses", dense_losses)
    cfg = _cfg(
        tmp_path / "dense", max_examples=16, task_weights={"yes_no_first": 100}, dense_layers=(0, 1), dense_weight=0.25
    )
    final = P.pretrain(cfg, log=lambda *_: None)
    assert len(got) == 2 and all(np.isfinite(v).all() and v[1] > 0 for v in got)  # two steps, each with marked tokens
    assert "--task-weight yes_no_first=100 " in (final / "README.md").read_text()
    assert "--dense-layers 0,1 --dense-weight 0.25`" in (final / "README.md").read_text()  # the card names both


def test_the_dense_weight_scales_what_the_image_token_losses_teach(tmp_path):
    """Same seed and examples: two runs at weight 1 end with the same weights, a run at 0.25 with others."""
    from safetensors.numpy import load_file

    def weights(name, w):
        cfg = _cfg(tmp_path / name, task_weights={"yes_no_first": 100}, dense_layers=(0, 1), dense_weight=w)
        return load_file(P.pretrain(cfg, log=lambda *_: None) / "model.safetensors")

    one, again, quarter = weights("a", 1.0), weights("b", 1.0), weights("c", 0.25)
    assert all(np.array_equal(one[k], again[k]) for k in one)
    assert any(not np.allclose(one[k], quarter[k]) for k in one)


def _image():
    from PIL import Image

    return Image.new("RGB", (W, H), (90, 90, 90))


def test_the_think_check_answers_after_the_models_own_thought(model_and_processor, monkeypatch):
    """``evaluate``'s ``yes_no_think``: the thought is what the model generates up to ``</think>``,
    and p(yes) is read after that thought (an empty thought: the direct answer)."""
    import torch

    from dig_kit.models.perception import answer_logprob, p_yes, thought_text

    model, processor = model_and_processor
    tok = processor.tokenizer
    said = tok("red cube, blue sphere\n</think>\n\n<answer>", add_special_tokens=False, return_tensors="pt")
    monkeypatch.setattr(
        model, "generate", lambda input_ids, **kw: torch.cat([input_ids, said["input_ids"]], dim=1), raising=False
    )
    text, images = "Is there a red cube in the image? Answer yes or no inside <answer></answer> tags.", [_image()]
    thought = thought_text(model, processor, text, images)
    assert thought == "red cube, blue sphere"
    eos = tok.eos_token
    after = [
        answer_logprob(model, processor, text, images, f"{thought}\n</think>\n\n<answer>{a}</answer>{eos}")
        for a in ("yes", "no")
    ]
    assert p_yes(model, processor, text, images, thought) == pytest.approx(1 / (1 + np.exp(after[1] - after[0])))
    direct = [
        answer_logprob(model, processor, text, images, f"</think>\n\n<answer>{a}</answer>{eos}") for a in ("yes", "no")
    ]
    assert p_yes(model, processor, text, images) == pytest.approx(1 / (1 + np.exp(direct[1] - direct[0])))


def test_the_completion_loss_is_the_models_own_loss(model_and_processor):
    import torch

    model, processor = model_and_processor
    rows, _ = _example_rows(processor)
    batch = P.collate(rows, processor.tokenizer.pad_token_id)
    for key in ("tasks", "dense_names", "dense_match"):
        batch.pop(key)
    labels = batch.pop("labels")
    model.eval()
    with torch.no_grad():
        out = model(**batch, labels=labels)
        loss, per_example = P.completion_loss(out.logits, labels)
        assert float(loss) == pytest.approx(float(out.loss), abs=1e-5)  # "token": transformers' own loss
        by_example, _ = P.completion_loss(out.logits, labels, "example")
        assert float(by_example) == pytest.approx(float(per_example.mean()), abs=1e-6)
        assert abs(float(by_example) - float(loss)) > 1e-4  # completions of unequal length weigh differently
        for i, row in enumerate(rows):  # each example's own loss, as if alone in its batch
            alone = P.collate([row], processor.tokenizer.pad_token_id)
            alone = {k: v for k, v in alone.items() if k not in ("tasks", "dense_names", "dense_match")}
            assert float(per_example[i]) == pytest.approx(float(model(**alone).loss), abs=1e-4)


# ---------------------------------------------------------------------------------------------
# resuming and continuing


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path):
    class Interrupted(Exception):
        pass

    def stop_at_pairs(msg):
        if str(msg).startswith("phase pairs"):
            raise Interrupted  # after 2 steps (16 examples), each checkpointed

    cfg = _cfg(tmp_path, max_examples=24, checkpoint_minutes=0)
    with pytest.raises(Interrupted):
        P.pretrain(cfg, log=stop_at_pairs)
    assert not (tmp_path / "final").exists()
    state = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert state["step"] == 2 and state["examples_seen"] == 16
    log: list[str] = []
    final = P.pretrain(cfg, log=log.append)
    assert log[0].startswith(f"resuming from {tmp_path / 'checkpoint'}: step 2, 16 examples seen")
    assert log[1] == "phase pairs from 16 examples"  # not from 0: the first two steps are not redone
    run = json.loads((final / "pretrain.json").read_text())["runs"][0]
    assert run["steps"] == 3 and run["examples_seen"] == 24
    state = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert state["step"] == 3 and state["round"] == 1  # a new data round: other scenes than before
    steps = [r["step"] for r in _metrics(tmp_path)]
    assert steps == sorted(set(steps)) and steps[-1] == 3


def test_a_finished_run_continues_to_a_larger_budget(first_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(first_run["out"], out)
    shutil.rmtree(out / "final")
    log: list[str] = []
    final = P.pretrain(_cfg(out, max_examples=40), log=log.append)
    assert log[0].startswith(f"resuming from {out / 'checkpoint'}: step 3, 24 examples seen")
    assert log[1] == "phase pairs from 24 examples"
    summary = json.loads((final / "pretrain.json").read_text())
    assert summary["examples_seen"] == 40 and summary["runs"][0]["steps"] == 5
    steps = [r["step"] for r in _metrics(out)]
    assert steps == [3, 5]  # the first run's final check, then this one's: none repeated


def test_resuming_after_the_final_check_repeats_no_metrics_row(first_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(first_run["out"], out)
    shutil.rmtree(out / "final")  # as if interrupted while final/ was being written
    P.pretrain(_cfg(out, max_examples=20), log=lambda *_: None)
    steps = [r["step"] for r in _metrics(out)]
    assert steps == sorted(set(steps)), steps


def test_starting_from_a_pretrained_model_adds_a_run(first_run, tmp_path):
    cfg = _cfg(tmp_path, init=str(first_run["final"]), max_examples=8, lr_schedule="constant")
    final = P.pretrain(cfg, log=lambda *_: None)
    old = json.loads((first_run["final"] / "pretrain.json").read_text())
    new = json.loads((final / "pretrain.json").read_text())
    assert [r["config"]["max_examples"] for r in new["runs"]] == [20, 8]
    assert new["runs"][0] == old["runs"][0]
    assert new["examples_seen"] == old["examples_seen"] + 8 == 32
    assert new["runs"][1]["config"]["init"] == str(first_run["final"])
    assert _metrics(tmp_path)[-1]["examples_total"] == 32
    card = (final / "README.md").read_text()
    assert "32 examples seen" in card and "--init PREVIOUS/final" in card
    assert card.count("--lr-schedule constant") == 1  # the continuation's command, not the first run's
    assert not (tmp_path / "init").exists()  # no new model built


def test_widening_keeps_what_the_model_computes_and_lets_the_new_width_learn(tmp_path):
    torch = pytest.importorskip("torch")
    from PIL import Image

    from dig_kit.models.loading import load_model_and_processor
    from dig_kit.models.mini import build_mini_model, widen_mini_model
    from dig_kit.prompts import chat_messages, dig_prompt

    narrow_dir = build_mini_model(tmp_path / "narrow", **TINY_MODEL)
    wide_dir = widen_mini_model(narrow_dir, tmp_path / "wide", 128)
    narrow, processor = load_model_and_processor(narrow_dir, dtype="fp32")
    wide, _ = load_model_and_processor(wide_dir, dtype="fp32")
    tc = wide.config.text_config
    assert (tc.hidden_size, tc.num_attention_heads, tc.intermediate_size) == (128, 4, 384)
    assert wide.config.vision_config.out_hidden_size == 128
    assert sum(p.numel() for p in wide.parameters()) > 1.5 * sum(p.numel() for p in narrow.parameters())
    assert json.loads((wide_dir / "widened.json").read_text())["text_width"] == [64, 128]
    assert not (wide_dir / "README.md").exists()  # the narrow model's card does not describe it
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)) for _ in range(2)]
    prompt = processor.apply_chat_template(
        chat_messages(dig_prompt(None), 2), add_generation_prompt=True, tokenize=False
    )
    enc = processor(text=[prompt + "<answer>[[1, 2, 30, 40]]</answer>"], images=[images], return_tensors="pt")
    with torch.no_grad():
        a, b = narrow(**enc).logits, wide(**enc).logits
    assert float((a - b).abs().max()) < 1e-3 * float(a.abs().max())  # the same function (up to RMSNorm's eps)
    assert torch.equal(a.argmax(-1), b.argmax(-1))
    wide.train()
    opt = torch.optim.SGD(wide.parameters(), lr=0.1)
    for _ in range(2):  # the last layer's new rows get gradient once the embedding's new columns have moved
        opt.zero_grad()
        wide(**enc, labels=enc["input_ids"]).loss.backward()
        opt.step()
    layer = wide.model.language_model.layers[0]
    for grown in (
        layer.self_attn.o_proj.weight[64:],
        layer.mlp.down_proj.weight[64:],
        layer.self_attn.o_proj.weight[:, 64:],
        wide.model.visual.merger.linear_fc2.weight[64:],
    ):
        assert float(grown.detach().abs().sum()) > 0  # the new width is not a dead end: training moves it off zero
    with pytest.raises(ValueError, match="multiple of 64"):
        widen_mini_model(narrow_dir, tmp_path / "bad", 96)
    assert not (tmp_path / "bad").exists()


def test_a_continuation_can_widen_its_start(first_run, tmp_path):
    final = P.pretrain(_cfg(tmp_path, init=str(first_run["final"]), max_examples=8, widen=128), log=lambda *_: None)
    config = json.loads((final / "config.json").read_text())
    assert config["text_config"]["hidden_size"] == 128 and config["vision_config"]["out_hidden_size"] == 128
    card = (final / "README.md").read_text()
    assert card.count("--widen 128") == 1  # the continuation's command
    new = json.loads((final / "pretrain.json").read_text())
    assert new["parameters"] > json.loads((first_run["final"] / "pretrain.json").read_text())["parameters"]


# ---------------------------------------------------------------------------------------------
# bad input: named before anything is written


def test_no_budget_is_named(tmp_path):
    with pytest.raises(ConfigError, match="max_examples"):
        PretrainConfig(out=str(tmp_path / "x"), max_examples=0, max_minutes=0).check()
    PretrainConfig(out=str(tmp_path / "x"), max_examples=0, max_minutes=1.0).check()  # minutes alone will do


def test_the_learning_rate_warms_up_then_follows_its_schedule(tmp_path):
    cos = _cfg(tmp_path, learning_rate=1e-3, warmup_steps=10)
    const = _cfg(tmp_path, learning_rate=1e-3, warmup_steps=10, lr_schedule="constant")
    for cfg in (cos, const):  # the same linear warm-up
        assert P._lr(cfg, 0, 0.0) == pytest.approx(1e-4)
        assert P._lr(cfg, 9, 0.01) == pytest.approx(1e-3, rel=1e-3)
    assert P._lr(cos, 100, 0.5) == pytest.approx(0.55e-3)  # halfway down the cosine
    assert P._lr(cos, 1000, 1.0) == pytest.approx(1e-4)  # a tenth of the peak at the end
    assert P._lr(const, 100, 0.5) == P._lr(const, 1000, 1.0) == pytest.approx(1e-3)


@pytest.mark.parametrize(
    "kw, named",
    [
        ({"max_examples": 0, "max_minutes": 0}, "max_examples"),
        ({"task_weights": {"nope": 1.0}}, "'nope'"),
        ({"task_weights": {"yes_no": -1.0}}, "yes_no"),
        ({"phase_ends": (0.7, 0.2)}, "phase_ends"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr_schedule": "linear"}, "lr_schedule"),
        ({"heldout": "NOWHERE"}, "NOWHERE"),
        ({"init": "NOWHERE"}, "NOWHERE"),
        ({"widen": 64}, "widen"),  # no wider than the tiny model's 64
        ({"widen": 100}, "widen"),
        ({"dense_layers": (1, 1)}, "dense_layers"),
        ({"dense_weight": 0.0}, "dense_weight"),
        ({"dense_weight": float("nan")}, "dense_weight"),
        ({"task_weights": {"yes_no_first": 1}}, "the text model has 1 layers"),  # default (1, 3), tiny model
    ],
)
def test_bad_settings_are_named_before_anything_is_written(tmp_path, kw, named):
    kw = {k: (str(tmp_path / "nodata") if v == "NOWHERE" else v) for k, v in kw.items()}
    named = str(tmp_path / "nodata") if named == "NOWHERE" else named
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=re.escape(named)):
        P.pretrain(_cfg(out, **kw), log=lambda *_: None)
    assert not out.exists()


def test_a_heldout_dir_that_is_not_a_dataset_is_named_before_anything_is_written(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "README.md").write_text("# not a dataset\n")
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="notes"):
        P.pretrain(_cfg(out, heldout=str(tmp_path / "notes")), log=lambda *_: None)
    assert not out.exists()


def test_the_cli_names_an_unknown_task_and_writes_nothing(tmp_path, capsys):
    from dig_kit.cli import main

    out = tmp_path / "out"
    assert main(["pretrain", "--out", str(out), "--task-weight", "nope=1"]) != 0
    assert "nope" in capsys.readouterr().err
    assert not out.exists()
    for args, named in (
        (["--phase-ends", "0.3"], "--phase-ends"),
        (["--model-arg", "depth=3"], "depth=3"),
        (["--task-weight", "yes_no"], "yes_no"),
    ):
        assert main(["pretrain", "--out", str(out), *args]) != 0
        assert named in capsys.readouterr().err
        assert not out.exists()


def test_the_cli_names_a_model_arg_that_is_not_a_number(tmp_path, capsys):
    from dig_kit.cli import main

    assert main(["pretrain", "--out", str(tmp_path / "out"), "--model-arg", "text_width=wide"]) != 0
    assert "text_width=wide" in capsys.readouterr().err


def test_the_cli_names_dense_layers_that_are_not_two_numbers(tmp_path, capsys):
    from dig_kit.cli import main

    assert main(["pretrain", "--out", str(tmp_path / "out"), "--dense-layers", "3"]) != 0
    assert "--dense-layers 3" in capsys.readouterr().err and not (tmp_path / "out").exists()
