"""The shipped mini backbone (dig_kit/models/mini_backbone, made by ``dig-kit pretrain``): what the
repository promises about it, the mini profile's use of it (notebook 02a's starting weights) and the
``backbone`` entry of ``runs/mini/results.json``."""

import json
from pathlib import Path

import numpy as np
import pytest
from benchmark_script import load_benchmark

from dig_kit.config import ConfigError, load_config
from dig_kit.models.mini import BACKBONE_DIR, backbone_path, prepare_mini_model

CARD_FIELDS = ("recipe", "made_on", "wall_s", "examples_seen", "heldout", "parameters", "runs")


def test_the_shipped_backbone_is_small_complete_and_documented():
    files = {p.name: p for p in BACKBONE_DIR.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "processor_config.json", "README.md"} <= set(files)
    assert sum(p.stat().st_size for p in files.values()) <= 20 * 2**20  # the repository's limit for weights
    card = json.loads(files["pretrain.json"].read_text())
    assert set(CARD_FIELDS) <= set(card)
    assert card["examples_seen"] == sum(r["examples_seen"] for r in card["runs"]) > 0
    assert card["wall_s"] == pytest.approx(sum(r["wall_s"] for r in card["runs"]), abs=0.2)
    held = card["heldout"]
    for key in ("yes_no", "named_color", "colour_probe"):
        assert 0 <= held[key] <= 1
    readme = files["README.md"].read_text()
    assert f"{card['examples_seen']:,} examples seen" in readme and "dig-kit pretrain" in readme
    assert "/tmp" not in readme and "/tmp" not in files["pretrain.json"].read_text()  # no machine's paths
    curve = [json.loads(line) for line in files["metrics.jsonl"].read_text().splitlines()]
    checks = [r for r in curve if "yes_no" in r]
    assert len(checks) >= 2 and checks[-1]["named_color"] == held["named_color"]


def test_the_shipped_backbone_loads_and_speaks_the_kits_tokenizer():
    pytest.importorskip("torch")
    from PIL import Image

    from dig_kit.models.loading import load_model_and_processor
    from dig_kit.models.mini import build_mini_tokenizer
    from dig_kit.models.perception import p_yes
    from dig_kit.prompts import VQA_ONE_TEMPLATE

    model, processor = load_model_and_processor(BACKBONE_DIR, dtype="fp32")
    # the shipped tokenizer is the one the code builds (same vocabulary, same ids)
    assert processor.tokenizer.get_vocab() == build_mini_tokenizer().get_vocab()
    image = Image.new("RGB", (128, 128), (120, 120, 120))
    p = p_yes(model.eval(), processor, VQA_ONE_TEMPLATE.format(thing="red cube"), [image])
    assert 0.0 < p < 1.0


def test_mini_preset_starts_from_the_shipped_backbone_and_bad_backbones_are_named(tmp_path):
    cfg = load_config("mini")
    assert cfg.warm_start.backbone == "shipped" and backbone_path("shipped") == BACKBONE_DIR
    with pytest.raises(ConfigError, match="warm_start.backbone"):
        load_config("mini", [f"warm_start.backbone={tmp_path / 'nothing'}"])
    assert load_config("mini", ['warm_start.backbone=""']).warm_start.backbone == ""


def test_prepare_copies_the_backbone_once_and_results_name_it(tmp_path):
    from dig_kit.paper.miniature import backbone_summary

    out = prepare_mini_model("shipped", tmp_path / "model")
    assert (out / "model.safetensors").read_bytes() == (BACKBONE_DIR / "model.safetensors").read_bytes()
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    assert prepare_mini_model("shipped", out) == out and (out / "model.safetensors").stat().st_mtime_ns == stamp
    summary = backbone_summary(out)
    card = json.loads((BACKBONE_DIR / "pretrain.json").read_text())
    assert summary == {
        "path": "dig_kit/models/mini_backbone",
        "made_on": card["made_on"],
        "wall_s": card["wall_s"],
        "examples_seen": card["examples_seen"],
        "yes_no_accuracy": card["heldout"]["yes_no"],
        "yes_no_think_accuracy": card["heldout"].get("yes_no_think"),
        "yes_no_first_accuracy": card["heldout"].get("yes_no_first"),
        "colour_accuracy": card["heldout"]["colour_probe"],
        "named_colour_accuracy": card["heldout"]["named_color"],
    }
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        prepare_mini_model(str(tmp_path / "missing"), tmp_path / "m2")
    assert backbone_summary(tmp_path) is None  # a model built at random init has no backbone


def test_an_empty_backbone_builds_a_new_model(tmp_path):
    pytest.importorskip("torch")
    out = prepare_mini_model("", tmp_path / "model", image_size=64)
    assert (out / "config.json").exists() and not (out / "backbone.json").exists()
    assert Path(out / "README.md").read_text().startswith("# mini Qwen3-VL")


def test_probe_learnability_streams_and_scores_the_deciding_token():
    """benchmarks/probe_learnability.py, whose numbers the backbone report cites: its questions'
    answers follow their rule, and it scores the answer word itself."""
    import random

    import numpy as np

    probe = load_benchmark("probe_learnability")
    stream = probe._stream("text_equality", None, np.random.default_rng(0), random.Random(0))
    for question, image, answer, candidates, cells in (next(stream) for _ in range(50)):
        told, asked = question.split(".")[0].split()[-1], question.split("Is there a ")[1].split()[0]
        assert image is None and cells is None and candidates == ["yes", "no"]
        assert answer == ("yes" if told == asked else "no")
    # the backbone learns to name a one-object scene's colour within a few batches (scored before
    # each is trained on); one token off, the colour logits would stay guesses (chance 1/8)
    learned = probe.learn(str(BACKBONE_DIR), "name_colour", 192, 32, 5e-4, 0, 64)
    assert [n for n, _ in learned] == [64, 128, 192] and learned[-1][1] > 0.6, learned
    index = np.zeros((32, 48), dtype=int)  # the cells of the dense naming loss, row by row
    index[:16, 16:32] = 1  # object 0 fills the second cell
    index[16:, :6] = 2  # object 1 covers 6/16 of the fourth cell's columns: 37% >= 25%
    index[16:, 32:35] = 2  # and 3/16 of the sixth: 19%, not named
    scene = type(
        "Scene", (), {"objects": [type("O", (), {"id": i, "color": c}) for i, c in enumerate(["red", "blue"])]}
    )
    assert probe.cell_colours(scene, index) == [None, "red", None, "blue", None, None]
    probe.learn(
        str(BACKBONE_DIR), "yes_no_colour", 32, 32, 1e-4, 0, 32, dense_layer=1
    )  # image tokens match their cells


def _record_renders(monkeypatch) -> dict:
    """Record each render of the pretraining renderer: id(image) -> (image, scene, full boxes, look, seen ids)."""
    from dig_kit.train import pretrain as P

    renders, real = {}, P._render

    def render(scene, kit, rng, look=None):
        out = real(scene, kit, rng, look)
        renders[id(out[0])] = (out[0], scene, out[2], look, out[3])  # the image kept: its id stays unique
        return out

    monkeypatch.setattr(P, "_render", render)
    return renders


def test_probe_learnability_pairs_follow_their_scenes(monkeypatch):
    """The pair skills: "anything different?" is yes exactly when the after scene differs (one
    object's colour), "the shape of the object that changed" is that object's, and the two images
    share their look only with --look shared."""
    import random

    import numpy as np

    from dig_kit.config import load_config

    probe = load_benchmark("probe_learnability")
    kit = load_config(preset="mini", overrides={"warm_start.backbone": ""})
    renders = _record_renders(monkeypatch)
    for look in ("shared", "own"):
        answers = []
        stream = probe._stream("spot_change", kit, np.random.default_rng(3), random.Random(3), look)
        for question, images, answer, candidates, _ in (next(stream) for _ in range(10)):
            assert question == probe.SPOT
            (_, before, _, look_b, _), (_, after, _, look_a, _) = renders[id(images[0])], renders[id(images[1])]
            changed = [(a.color, b.color) for a, b in zip(after.objects, before.objects) if a != b]
            assert [a.id for a in after.objects] == [b.id for b in before.objects]
            assert candidates == ["yes", "no"] and answer == ("yes" if changed else "no")
            assert all(x != y for x, y in changed) and len(changed) <= 1
            assert (look_a is look_b) == (look == "shared")
            answers.append(answer)
        assert set(answers) == {"yes", "no"}
    stream = probe._stream("changed_shape", kit, np.random.default_rng(4), random.Random(4), "shared")
    for question, images, answer, candidates, _ in (next(stream) for _ in range(6)):
        assert question == probe.CHANGED
        before, after = renders[id(images[0])][1], renders[id(images[1])][1]
        (obj,) = [b for a, b in zip(after.objects, before.objects) if a != b]
        assert 2 <= len(before.objects) <= 3 and answer == obj.shape and answer in candidates


def test_probe_learnability_locate_scores_the_box_corner(monkeypatch):
    """``locate``: one object wholly in frame, its box as the kit's grounding answer, and the
    score of x1 and y1 beside the mean guess's, each a share of the examples."""
    import random

    import numpy as np

    from dig_kit.config import load_config
    from dig_kit.prompts import GROUNDING_PROMPT

    probe = load_benchmark("probe_learnability")
    kit = load_config(preset="mini", overrides={"warm_start.backbone": ""})
    renders = _record_renders(monkeypatch)
    stream = probe._stream("locate", kit, np.random.default_rng(5), random.Random(5))
    for question, image, answer, candidates, _ in (next(stream) for _ in range(8)):
        _, scene, full, _, _ = renders[id(image)]
        (obj,) = scene.objects
        box = [int(round(float(v))) for v in full[obj.id]]
        assert question == GROUNDING_PROMPT and answer == f"[[{', '.join(map(str, box))}]]"
        assert 0 <= box[0] < box[2] <= 128 and 0 <= box[1] < box[3] <= 128 and candidates[box[0]] == str(box[0])
    monkeypatch.undo()
    ((seen, acc),) = probe.learn(str(BACKBONE_DIR), "locate", 32, 32, 1e-12, 0, 32)
    assert seen == 32 and len(acc) == 4 and all(0 <= a <= 1 for a in acc)


def test_probe_learnability_thinks_aloud_then_answers(monkeypatch):
    """``yes_no_think``: the thought names the visible objects' colours left to right, the answer
    is true of the scene, the thought fills the ``<think>`` span before the answer, and the
    ``--text-only`` control leaves the image out."""
    import random

    import numpy as np

    from dig_kit.config import load_config
    from dig_kit.models.loading import load_model_and_processor

    probe = load_benchmark("probe_learnability")
    kit = load_config(preset="mini", overrides={"warm_start.backbone": ""})
    renders = _record_renders(monkeypatch)
    _, processor = load_model_and_processor(str(BACKBONE_DIR))
    stream = probe._stream("yes_no_think", kit, np.random.default_rng(6), random.Random(6))
    answers = []
    for question, image, (thought, answer), candidates, _ in (next(stream) for _ in range(12)):
        _, scene, full, _, ids = renders[id(image)]
        seen = sorted((o for o in scene.objects if o.id in ids), key=lambda o: full[o.id][0])
        asked = question.split("Is there a ")[1].split()[0]
        assert 1 <= len(scene.objects) <= 3 and candidates == ["yes", "no"]
        assert thought.split() == [o.color for o in seen] and seen
        assert answer == ("yes" if asked in thought.split() else "no")
        answers.append(answer)
        row = probe._encode(processor, question, image, answer, False, thought)
        said = processor.tokenizer.decode([t for t in row["labels"].tolist() if t != -100])
        assert said.startswith(f"{thought}\n</think>") and f"<answer>{answer}</answer>" in said
    assert set(answers) == {"yes", "no"}
    monkeypatch.undo()
    encoded, encode = [], probe._encode

    def record(processor, question, image, answer, question_first, thought="", answer_only=False):
        encoded.append((image, thought))
        return encode(processor, question, image, answer, question_first, thought, answer_only)

    monkeypatch.setattr(probe, "_encode", record)
    ((seen_n, acc),) = probe.learn(str(BACKBONE_DIR), "yes_no_think", 32, 32, 1e-12, 0, 32, text_only=True)
    assert seen_n == 32 == len(encoded) and 0 <= acc <= 1
    assert all(image is None and thought for image, thought in encoded)  # no image, the thought kept
    encoded.clear()  # --blank-image: a text skill's words after a plain grey image of the profile's size
    ((seen_n, _),) = probe.learn(str(BACKBONE_DIR), "lookup_words", 32, 32, 1e-12, 0, 32, blank_image=True)
    assert seen_n == 32 == len(encoded) and all(thought for _, thought in encoded)
    assert {(im.size, im.getextrema()) for im, _ in encoded} == {((128, 128), ((128, 128),) * 3)}


def test_probe_learnability_lookup_words_answers_from_its_thought():
    """``lookup_words``: no image; the answer is yes exactly when the asked thing is among the
    thought's 1-5 items of the kit's attribute words, and both answers turn up."""
    import random

    from dig_kit.scenes.attributes import COLORS, SHAPES

    probe = load_benchmark("probe_learnability")
    few = probe._stream("lookup_words", None, None, random.Random(3), items=(3, 5))  # --items 3-5
    assert {len(next(few)[2][0].split(", ")) for _ in range(60)} == {3, 4, 5}
    stream = probe._stream("lookup_words", None, None, random.Random(3))
    answers = []
    for question, image, (thought, answer), candidates, cells in (next(stream) for _ in range(40)):
        items = thought.split(", ")
        asked = question.split("Is there a ")[1].split(" in the image")[0]
        assert image is None and cells is None and candidates == ["yes", "no"] and 1 <= len(items) <= 5
        assert all(i.split()[0] in COLORS and i.split()[1] in SHAPES for i in items + [asked])
        assert answer == ("yes" if asked in items else "no")
        answers.append(answer)
    assert set(answers) == {"yes", "no"}


def test_probe_learnability_lookup_scene_is_the_pretrainings_think_task_alone():
    """``lookup_scene``: a rendered scene of the mini profile, the thought its seen objects left
    to right, the answer yes exactly when the asked thing is among them; both answers turn up."""
    import random

    from dig_kit.config import load_config
    from dig_kit.scenes.attributes import COLORS, SHAPES

    probe = load_benchmark("probe_learnability")
    kit = load_config(preset="mini", overrides={"warm_start.backbone": ""})
    stream = probe._stream("lookup_scene", kit, np.random.default_rng(4), random.Random(4))
    answers = []
    for question, image, (thought, answer), candidates, cells in (next(stream) for _ in range(40)):
        items = thought.split(", ")
        asked = question.split("Is there a ")[1].split(" in the image")[0]
        assert image.size == (kit.data.render.width, kit.data.render.height) and cells is None
        assert candidates == ["yes", "no"]
        assert 1 <= len(items) <= kit.data.scene.max_objects
        assert all(i.split()[0] in COLORS and i.split()[1] in SHAPES for i in items + [asked])
        assert answer == ("yes" if asked in items else "no")
        answers.append(answer)
    assert set(answers) == {"yes", "no"}


def test_probe_learnability_answer_only_leaves_the_thought_untrained():
    """``--answer-only``: the thought stays in the input; the labels start at ``<answer>``."""
    from dig_kit.models.loading import load_processor
    from dig_kit.models.mini import BACKBONE_DIR

    probe = load_benchmark("probe_learnability")
    processor = load_processor(BACKBONE_DIR)
    tok = processor.tokenizer
    question = "Is there a red cube in the image? Answer yes or no inside <answer></answer> tags."
    full = probe._encode(processor, question, None, "yes", False, "red cube, blue sphere")
    answer = probe._encode(processor, question, None, "yes", False, "red cube, blue sphere", answer_only=True)
    assert full["input_ids"].tolist() == answer["input_ids"].tolist()  # the same input
    assert "red cube, blue sphere" in tok.decode(full["labels"][full["labels"] >= 0])
    assert tok.decode(answer["labels"][answer["labels"] >= 0]) == f"<answer>yes</answer>{tok.eos_token}"


def test_probe_learnability_asks_first_and_trains_the_image_tokens(monkeypatch):
    """``yes_no_first``: the pretraining's own examples on scenes of ``items`` objects, encoded
    question first; with ``dense_layers`` each step adds the pretraining's dense losses over the
    tokens of the seen objects, without them none."""
    import random

    from dig_kit.config import load_config
    from dig_kit.train import pretrain as P

    probe = load_benchmark("probe_learnability")
    kit = load_config(preset="mini", overrides={"warm_start.backbone": ""})
    renders = _record_renders(monkeypatch)
    stream = probe._stream("yes_no_first", kit, np.random.default_rng(7), random.Random(7), items=(1, 1))
    for question, image, answer, candidates, dense in (next(stream) for _ in range(8)):
        _, scene, _, _, ids = renders[id(image)]
        (obj,) = scene.objects
        assert candidates == ["yes", "no"] and dense["asked"] == P.asked_thing(question)
        assert answer == ("yes" if obj.id in ids and dense["asked"] == f"{obj.color} {obj.shape}" else "no")
    monkeypatch.undo()
    calls, real = [], P.dense_losses

    def dense_losses(*args):
        calls.append(args[-2])
        return real(*args)

    monkeypatch.setattr(P, "dense_losses", dense_losses)
    ((seen, acc),) = probe.learn(str(BACKBONE_DIR), "yes_no_first", 32, 32, 1e-12, 0, 32, dense_layers=(1, 3))
    assert seen == 32 and 0 <= acc <= 1 and calls == [(1, 3)]
    probe.learn(str(BACKBONE_DIR), "yes_no_first", 32, 32, 1e-12, 0, 32)
    assert calls == [(1, 3)]  # the question-first order alone: no dense losses
