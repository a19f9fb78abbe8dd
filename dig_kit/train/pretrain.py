"""Perception pretraining of the mini backbone: what Qwen3-VL brings to DiG, made by the kit.

``dig-kit pretrain --out DIR`` trains the mini Qwen3-VL (:mod:`dig_kit.models.mini`) on an
endless stream of procedurally generated scenes (the kit's scene and pair samplers), rendered
by the fast shaded renderer (:mod:`dig_kit.scenes.shaded`, a jittered look per scene, shared
by the two images of a DiG pair as the kit's Blender pairs share camera and lights) in
DataLoader worker processes, with a perception curriculum in three phases (share of the
budget in brackets):

1. ``objects`` [0, 0.3): scenes of 1-3 objects; name the object in a box ("large red metal
   cube"), yes/no questions about a colour and shape, counting, every object boxed and named.
2. ``scenes`` [0.3, 0.6): the profile's scenes (its ``data.scene``); the same tasks, plus plain
   grounding (the boxes of every object) and yes/no questions about both images of a pair.
3. ``pairs`` [0.6, 1]: the same, plus pairs: the DiG task (the boxes of the differences, the
   count stated for half of them) and same-or-not (another view of the same scene, a scene
   with one change, or another scene).

Every completion is what the kit's models answer: an empty thought, then the answer
(``</think>\\n\\n<answer>yes</answer>``, a JSON list). Loss on the completion only, each example
weighing the same (``loss_mean``), with the per-task loss logged. The budget is ``max_examples``
and/or ``max_minutes``; the learning rate warms up, then follows a cosine over the budget's
progress.

Held-out checks on the kit's Cycles renders (``heldout``: a DiG data dir with ``eval`` and
``stage1`` splits, e.g. ``runs/mini/data``), logged with the examples seen in
``OUT/metrics.jsonl`` (:func:`evaluate`): the yes/no accuracy of
:func:`dig_kit.train.warmstart.vqa_examples` (one image and both images, as
``benchmarks/probe_mini.py``), the attributes named for an object's box, grounding F1 and DiG F1.
At the end also the colour probe (:func:`dig_kit.models.perception.linear_probe`, fitted on
``stage1``).

Layout: ``OUT/checkpoint`` (weights, optimizer, ``state.json``; replaced atomically, resumed
from after a crash or an interruption), ``OUT/final`` (weights in the kit's layout, tokenizer,
processor, ``pretrain.json`` and a model card), ``OUT/metrics.jsonl``. One process (the model
is small; the data workers use the other cores).
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dig_kit.config import ConfigError

PHASES = ("objects", "scenes", "pairs")
TASKS = (
    "attributes",
    "yes_no",
    "count",
    "describe",
    "grounding",
    "yes_no_both",
    "dig",
    "same",
    "yes_no_think",
    "yes_no_first",
)
DENSE_TASKS = ("yes_no_first",)
"""Tasks whose image tokens are also trained where they stand (:func:`dense_targets`)."""
PHASE_TASKS: dict[str, dict[str, float]] = {
    "objects": {"attributes": 3, "yes_no": 3, "count": 1, "describe": 2, "yes_no_think": 0, "yes_no_first": 0},
    "scenes": {
        "attributes": 2,
        "yes_no": 3,
        "count": 1,
        "describe": 2,
        "grounding": 1,
        "yes_no_both": 1,
        "yes_no_think": 2,
        "yes_no_first": 0,
    },
    "pairs": {
        "attributes": 2,
        "yes_no": 2,
        "count": 1,
        "describe": 2,
        "grounding": 1,
        "yes_no_both": 1,
        "dig": 3,
        "same": 2,
        "yes_no_think": 2,
        "yes_no_first": 0,
    },
}
"""Task weights per phase (a drawn scene gives one example per task in proportion). A weight of 0
keeps a task out of the phase unless ``task_weights`` turns it on: ``yes_no_think`` on the objects
phase's 1-3 objects, the look-up's easiest form (off by default: measured not to lift the answer
within ~17,000 examples at width 128, ``docs/2026-12-05-look-up-after-an-image.md``); ``yes_no_first``
everywhere (the question before the image, with :func:`dense_targets`; off by default until measured
in the recipe)."""


@dataclass
class PretrainConfig:
    out: str
    seed: int = 0
    preset: str = "mini"
    """The profile whose scenes, image size and change rules the stream follows."""
    init: str | None = None
    """A checkpoint dir to start from; default: a new mini model (random init)."""
    max_examples: int = 20_000
    max_minutes: float = 0.0
    """Wall-clock budget of the training loop (0: none); training stops at whichever comes first."""
    batch_size: int = 64
    learning_rate: float = 1e-3
    warmup_steps: int = 200
    lr_schedule: str = "cosine"
    """``cosine``: after the warm-up, a cosine over the budget down to a tenth of the peak; ``constant``: the
    peak rate to the end (a continuation that must get past a plateau, not settle)."""
    weight_decay: float = 0.01
    phase_ends: tuple[float, float] = (0.3, 0.6)
    workers: int = -1
    """DataLoader worker processes; -1: all cores but one."""
    heldout: str | None = None
    heldout_pairs: int = 100
    eval_every: int = 0
    """Held-out check every this many examples (0: only at the end)."""
    checkpoint_minutes: float = 5.0
    device: str = "auto"
    examples_per_scene: int = 4
    loss_mean: str = "example"
    """``example``: each example weighs the same (a yes/no answer's one deciding token is not drowned
    by the ~80 tokens of a described scene); ``token``: each completion token weighs the same."""
    task_weights: dict = field(default_factory=dict)
    """Overrides of :data:`PHASE_TASKS`' weights, in every phase that has the task (e.g. {"yes_no": 6})."""
    model: dict = field(default_factory=dict)
    """Overrides of :func:`dig_kit.models.mini.build_mini_model`'s architecture (text_width, ...)."""
    widen: int = 0
    """Widen the starting model's text model to this width before training, computing the same function
    (:func:`dig_kit.models.mini.widen_mini_model`): a trained backbone grows without starting over (0: no)."""
    dense_layers: tuple[int, int] = (1, 3)
    """After how many text layers the image tokens of a :data:`DENSE_TASKS` example are read out through
    the language-model head: (naming, matching), see :func:`dense_losses`."""
    dense_weight: float = 1.0
    """The weight of the two dense losses against the completion loss (a batch's mean over examples;
    at 1.0 they outweigh it several times). 0.25 did not spare the boxes either
    (``docs/2026-12-05-question-first-in-the-pairs-phase.md``)."""

    def _start_text(self, key: str) -> int:
        """A text-model setting (``hidden_size``, ``num_hidden_layers``) of the model training starts
        from: ``init``'s config.json, or a new mini model's (``model`` overrides, else the defaults)."""
        from dig_kit.models.mini import TEXT_LAYERS, TEXT_WIDTH

        if self.init is not None:
            config = json.loads((Path(self.init) / "config.json").read_text())
            return int(config.get("text_config", {}).get(key, 0))
        new_model = {"hidden_size": ("text_width", TEXT_WIDTH), "num_hidden_layers": ("text_layers", TEXT_LAYERS)}
        arg, default = new_model[key]
        return int(self.model.get(arg, default))

    def check(self) -> None:
        def bad(name, why):
            raise ConfigError(f"pretrain.{name}: {why}")

        if self.max_examples <= 0 and self.max_minutes <= 0:
            bad("max_examples", "set max_examples or max_minutes above 0 (the budget)")
        if self.batch_size < 1:
            bad("batch_size", f"{self.batch_size}: must be >= 1")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            bad("learning_rate", f"{self.learning_rate}: must be > 0")
        a, b = self.phase_ends
        if not 0 <= a <= b <= 1:
            bad("phase_ends", f"{self.phase_ends}: must be 0 <= a <= b <= 1")
        if self.lr_schedule not in ("cosine", "constant"):
            bad("lr_schedule", f"{self.lr_schedule!r}: choose cosine or constant")
        if self.device not in ("auto", "cpu", "cuda"):
            bad("device", f"{self.device!r}: choose auto, cpu or cuda")
        if self.heldout is not None:
            from dig_kit.data.reader import check_dataset_dir

            try:
                for subset in ("eval", "stage1"):  # held-out checks; the colour probe's training images
                    check_dataset_dir(self.heldout, subset)
            except ConfigError as e:
                bad("heldout", f"{self.heldout}: not a rendered DiG data dir with eval and stage1 splits ({e})")
        if self.init is not None and not (Path(self.init) / "config.json").exists():
            bad("init", f"{self.init}: not a checkpoint dir (no config.json)")
        if self.widen:
            from dig_kit.models.mini import widen_error

            why = widen_error(self._start_text("hidden_size"), self.widen)
            if why:
                bad("widen", why)
        if self.examples_per_scene < 1:
            bad("examples_per_scene", "must be >= 1")
        naming, matching = self.dense_layers
        if not 0 <= naming < matching:
            bad("dense_layers", f"{self.dense_layers}: expected 0 <= naming < matching (text layers)")
        if not (self.dense_weight > 0 and math.isfinite(self.dense_weight)):
            bad("dense_weight", f"{self.dense_weight}: must be > 0")
        if any(self.task_weights.get(t, PHASE_TASKS[ph].get(t, 0)) > 0 for t in DENSE_TASKS for ph in PHASES):
            layers = self._start_text("num_hidden_layers")
            if matching > layers:
                bad("dense_layers", f"{self.dense_layers}: the text model has {layers} layers")
        if self.loss_mean not in ("example", "token"):
            bad("loss_mean", f"{self.loss_mean!r}: choose example or token")
        for task, weight in self.task_weights.items():
            if task not in TASKS:
                bad("task_weights", f"unknown task {task!r} (choose from {', '.join(TASKS)})")
            if not weight >= 0:
                bad("task_weights", f"{task}: weight {weight} must be >= 0")


# ---------------------------------------------------------------------------------------------
# examples (pure: a scene, its render and boxes -> prompts and completions)


def label(obj) -> str:
    """``"large red metal cube"``: size, colour, material, shape (Qwen3-VL's label order for CLEVR)."""
    return f"{obj.size} {obj.color} {obj.material} {obj.shape}"


def box_text(box) -> str:
    return "[" + ", ".join(str(int(round(float(v)))) for v in box) + "]"


def _answer(text: str) -> str:
    return f"<answer>{text}</answer>"


def think_completion(thought: str, answer: str) -> str:
    """A completion that writes its thought before the answer (Qwen3-VL-Thinking's ``<think>``
    span, which the chat template's generation prompt opens); :func:`encode` keeps it as is."""
    from dig_kit.prompts import ANSWER_PREFIX

    return f"{thought}\n{ANSWER_PREFIX}{answer}"


def objects_thought(visible, boxes: dict[int, list[float]]) -> str:
    """``"red cube, blue sphere"``: the colour and shape of each seen object, left to right."""
    return ", ".join(f"{o.color} {o.shape}" for o in sorted(visible, key=lambda o: (boxes[o.id][0], o.id)))


def describe_completion(scene, boxes: dict[int, list[float]]) -> str:
    """Qwen3-VL's grounding JSON, every seen object, left to right."""
    items = sorted((boxes[o.id], o) for o in scene.objects if o.id in boxes)
    return "[" + ", ".join(f'{{"bbox_2d": {box_text(b)}, "label": "{label(o)}"}}' for b, o in items) + "]"


def image_examples(task: str, scene, image, boxes: dict[int, list[float]], seen: set[int], rng: random.Random):
    """One example of a single-image task (None when the scene cannot give it)."""
    from dig_kit.prompts import (
        ATTRIBUTE_QUESTION_TEMPLATE,
        COUNT_TEMPLATE,
        GROUNDING_PROMPT,
        LABELLED_GROUNDING_PROMPT,
        VQA_ONE_TEMPLATE,
    )
    from dig_kit.scenes.attributes import COLORS, SHAPES
    from dig_kit.train.warmstart import format_boxes

    visible = [o for o in scene.objects if o.id in seen]
    if task == "attributes":
        if not visible:
            return None
        o = rng.choice(visible)
        return ATTRIBUTE_QUESTION_TEMPLATE.format(box=box_text(boxes[o.id])), [image], _answer(label(o))
    if task in ("yes_no", "yes_no_think", "yes_no_first"):
        present = {f"{o.color} {o.shape}" for o in visible}
        absent = sorted({f"{c} {s}" for c in COLORS for s in SHAPES} - present)
        yes = bool(present) and rng.random() < 0.5
        thing = rng.choice(sorted(present) if yes else absent)
        answer = _answer("yes" if yes else "no")
        if task == "yes_no_think":  # name what is seen, then answer from the words written
            answer = think_completion(objects_thought(visible, boxes), answer)
        return VQA_ONE_TEMPLATE.format(thing=thing), [image], answer
    if task == "count":
        return COUNT_TEMPLATE, [image], _answer(str(len(visible)))
    if task == "describe":
        return LABELLED_GROUNDING_PROMPT, [image], describe_completion(scene, {i: boxes[i] for i in seen})
    if task == "grounding":
        return GROUNDING_PROMPT, [image], format_boxes([boxes[i] for i in seen])
    raise ValueError(task)


# ---------------------------------------------------------------------------------------------
# the stream (DataLoader workers)


def _scene_config(kit, phase: str):
    from dataclasses import replace

    scene = kit.data.scene
    if phase == "objects":
        return replace(scene, min_objects=1, max_objects=min(3, scene.max_objects))
    return scene


def _render(scene, kit, rng, look=None):
    """A fast shaded render of ``scene`` with ``look`` (by default a newly drawn jittered one):
    ``(PIL image, index pass, full boxes, ids of the objects seen)`` (seen: at least
    ``data.render.min_visible_pixels`` pixels, and 8)."""
    from PIL import Image

    from dig_kit.scenes import raycast, shaded

    r = kit.data.render
    look = look or shaded.jittered_look(rng)
    image, index = shaded.render(scene, r.width, r.height, look, rng)
    full = raycast.full_boxes(scene, r.width, r.height)
    counts = np.bincount(index.ravel(), minlength=max(o.id for o in scene.objects) + 2)
    need = max(8, int(kit.data.render.min_visible_pixels or 0))
    seen = {o.id for o in scene.objects if counts[o.id + 1] >= need}
    return Image.fromarray(image), index, full, seen


def _in_frame(boxes, width, height) -> bool:
    return all(b[0] >= 0 and b[1] >= 0 and b[2] <= width and b[3] <= height for b in boxes.values())


def phase_examples(
    kit, phase: str, rng: np.random.Generator, pyrng: random.Random, per_scene: int, overrides: dict | None = None
):
    """Examples ``(text, images, completion, task, dense)`` drawn for one phase (endless); ``dense``
    is None, or for a :data:`DENSE_TASKS` example what :func:`dense_targets` needs (the index pass,
    the seen objects' ``colour shape``, the asked one). ``overrides`` replace task weights of
    :data:`PHASE_TASKS`."""
    from dataclasses import replace

    from dig_kit.prompts import TWIN_PAIR_TEMPLATE, VQA_BOTH_TEMPLATE, dig_prompt
    from dig_kit.scenes import shaded
    from dig_kit.scenes.attributes import COLORS, SHAPES
    from dig_kit.scenes.changes import ChangeError, sample_pair
    from dig_kit.scenes.sampling import sample_scene
    from dig_kit.scenes.spec import SceneError
    from dig_kit.scenes.twin import make_candidate
    from dig_kit.train.warmstart import format_boxes

    weights = {t: (overrides or {}).get(t, v) for t, v in PHASE_TASKS[phase].items()}
    tasks, w = list(weights), np.array(list(weights.values()), dtype=float)
    cfg = replace(kit.data, scene=_scene_config(kit, phase))
    phase_kit = replace(kit, data=cfg)
    width, height = cfg.render.width, cfg.render.height
    while True:
        chosen = [tasks[i] for i in rng.choice(len(tasks), size=per_scene, p=w / w.sum())]
        try:
            if any(t in ("dig", "same", "yes_no_both") for t in chosen):
                pair = sample_pair(cfg, int(rng.integers(2**31)), 1, min(4, cfg.scene.max_objects), 0)
                before, after = pair.before, pair.after
            else:
                before, after = sample_scene(cfg.scene, rng), None
        except (SceneError, ChangeError):
            continue
        look = shaded.jittered_look(rng)  # a pair's two images share it, as the kit's Blender pairs share lights
        img_b, index_b, full_b, seen_b = _render(before, phase_kit, rng, look)
        if not _in_frame(full_b, width, height):
            continue
        boxes_b = {i: full_b[i] for i in full_b}
        img_a = None
        for task in chosen:
            if task in ("attributes", "yes_no", "count", "describe", "grounding", "yes_no_think", "yes_no_first"):
                ex = image_examples(task, before, img_b, boxes_b, seen_b, pyrng)
                if ex:
                    dense = None
                    if task in DENSE_TASKS:
                        things = {o.id + 1: f"{o.color} {o.shape}" for o in before.objects if o.id in seen_b}
                        dense = {"index": index_b, "things": things, "asked": asked_thing(ex[0])}
                    yield (*ex, task, dense)
                continue
            if after is None:
                continue
            if img_a is None:
                img_a, _, full_a, seen_a = _render(after, phase_kit, rng, look)
            if task == "dig":
                if not pair.differences or not _in_frame(full_a, width, height):
                    continue
                # as the rendered data: every difference seen where it is boxed (an add on the after image)
                if any(d.object_id not in (seen_a if d.type == "add" else seen_b) for d in pair.differences):
                    continue
                boxes = [full_a[d.object_id] if d.type == "add" else full_b[d.object_id] for d in pair.differences]
                hint = len(boxes) if pyrng.random() < 0.5 else None
                yield dig_prompt(hint), [img_b, img_a], format_boxes(boxes), task, None
            elif task == "yes_no_both":
                one = {f"{o.color} {o.shape}" for o in before.objects if o.id in seen_b}
                both = one & {f"{o.color} {o.shape}" for o in after.objects if o.id in seen_a}
                absent = sorted({f"{c} {s}" for c in COLORS for s in SHAPES} - both)
                yes = bool(both) and pyrng.random() < 0.5
                thing = pyrng.choice(sorted(both) if yes else absent)
                yield VQA_BOTH_TEMPLATE.format(thing=thing), [img_b, img_a], _answer("yes" if yes else "no"), task, None
            elif task == "same":
                kind = pyrng.choice(["positive", "positive", "hard", "easy"])
                try:
                    cand = make_candidate(before, kind, cfg, rng)
                except (SceneError, ChangeError):
                    continue
                img_c, *_ = _render(cand.scene, phase_kit, rng)
                yield TWIN_PAIR_TEMPLATE, [img_b, img_c], _answer("yes" if kind == "positive" else "no"), task, None


def asked_thing(text: str) -> str:
    """The ``colour shape`` a one-image yes/no question (``VQA_ONE_TEMPLATE``) asks about."""
    from dig_kit.prompts import VQA_ONE_TEMPLATE

    head, tail = VQA_ONE_TEMPLATE.split("{thing}")
    if not (text.startswith(head) and text.endswith(tail)):
        raise ValueError(f"not a one-image yes/no question: {text!r}")
    return text[len(head) : len(text) - len(tail)]


def token_objects(index: np.ndarray, rows: int, cols: int, share: float = 0.25) -> list[int]:
    """For each of ``rows`` x ``cols`` equal blocks of the index pass (row by row: the order of the
    merged image tokens), its value (object id + 1) where one object covers at least ``share`` of
    the block, else 0."""
    height, width = index.shape
    out = []
    for r in range(rows):
        for c in range(cols):
            block = index[r * height // rows : (r + 1) * height // rows, c * width // cols : (c + 1) * width // cols]
            counts = np.bincount(block.ravel())
            counts[0] = 0  # background
            k = int(counts.argmax())
            out.append(k if k and counts[k] >= share * block.size else 0)
    return out


def dense_targets(tokenizer, dense: dict, rows: int, cols: int):
    """Per-token targets of a :data:`DENSE_TASKS` example's image (``rows`` x ``cols`` merged
    tokens, row by row): ``names`` (n, 2), the word ids of the colour and shape of the seen object
    under each token, and ``match`` (n,), the id of ``yes`` where that object is the asked
    ``colour shape`` and of ``no`` where it is another; -100 where no seen object covers the token."""
    import torch

    names, match = [], []
    yes, no = tokenizer.convert_tokens_to_ids(["yes", "no"])
    for k in token_objects(dense["index"], rows, cols):
        thing = dense["things"].get(k)
        if thing is None:
            names.append([-100, -100])
            match.append(-100)
            continue
        names.append(tokenizer.convert_tokens_to_ids(thing.split()))
        match.append(yes if thing == dense["asked"] else no)
    return torch.tensor(names, dtype=torch.long).reshape(-1, 2), torch.tensor(match, dtype=torch.long)


def encode(processor, text: str, images, completion: str, dense: dict | None = None) -> dict:
    """Token ids, labels (-100 on the prompt) and the processor's image tensors of one example.
    The completion follows an empty thought unless it writes its own (:func:`think_completion`).
    With ``dense`` (a :data:`DENSE_TASKS` example) the question stands before the image and the
    row carries :func:`dense_targets`; every row carries ``dense_names``/``dense_match`` for its
    image tokens (-100 where nothing is trained), so that a batch lines them up."""
    import torch

    from dig_kit.prompts import ANSWER_PREFIX, chat_messages

    messages = chat_messages(text, len(images), question_first=dense is not None)
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    enc = processor(text=[prompt], images=[images], return_tensors="pt")
    tok = processor.tokenizer
    prefix = "" if ANSWER_PREFIX in completion else ANSWER_PREFIX
    comp = tok(prefix + completion + tok.eos_token, add_special_tokens=False, return_tensors="pt")["input_ids"][0]
    ids = torch.cat([enc["input_ids"][0], comp])
    labels = torch.cat([torch.full_like(enc["input_ids"][0], -100), comp])
    out = {
        "input_ids": ids,
        "labels": labels,
        "pixel_values": enc["pixel_values"],
        "image_grid_thw": enc["image_grid_thw"],
    }
    if "mm_token_type_ids" in enc:
        out["mm_token_type_ids"] = torch.cat([enc["mm_token_type_ids"][0], torch.zeros_like(comp)])
    merge = processor.image_processor.merge_size
    grids = [(int(h) // merge, int(w) // merge) for _, h, w in enc["image_grid_thw"].tolist()]
    n = sum(r * c for r, c in grids)
    out["dense_names"] = torch.full((n, 2), -100, dtype=torch.long)
    out["dense_match"] = torch.full((n,), -100, dtype=torch.long)
    if dense is not None:
        (rows, cols), *rest = grids
        if rest:
            raise ValueError("a dense example has one image")
        out["dense_names"], out["dense_match"] = dense_targets(processor.tokenizer, dense, rows, cols)
    return out


def collate(rows: list[dict], pad_id: int) -> dict:
    """Right-padded batch of :func:`encode` rows (rows without images, text only, carry no image tensors)."""
    import torch

    n = max(len(r["input_ids"]) for r in rows)

    def pad(key, value):
        return torch.stack([torch.nn.functional.pad(r[key], (0, n - len(r[key])), value=value) for r in rows])

    batch = {
        "input_ids": pad("input_ids", pad_id),
        "labels": pad("labels", -100),
        "attention_mask": torch.stack(
            [torch.nn.functional.pad(torch.ones_like(r["input_ids"]), (0, n - len(r["input_ids"]))) for r in rows]
        ),
    }
    if "pixel_values" in rows[0]:
        batch["pixel_values"] = torch.cat([r["pixel_values"] for r in rows])
        batch["image_grid_thw"] = torch.cat([r["image_grid_thw"] for r in rows])
    if "mm_token_type_ids" in rows[0]:
        batch["mm_token_type_ids"] = pad("mm_token_type_ids", 0)
    if "dense_match" in rows[0]:  # image tokens in batch order, as the model's image-token mask takes them
        batch["dense_names"] = torch.cat([r["dense_names"] for r in rows])
        batch["dense_match"] = torch.cat([r["dense_match"] for r in rows])
    batch["tasks"] = [r["task"] for r in rows]
    return batch


class _Stream:
    """An endless iterable of encoded examples of one phase; each DataLoader worker draws its own."""

    def __init__(self, kit, processor, phase: str, seed: tuple[int, ...], per_scene: int, weights: dict):
        self.kit, self.processor, self.phase, self.seed, self.per_scene = kit, processor, phase, seed, per_scene
        self.weights = weights

    def __iter__(self):
        import torch

        info = torch.utils.data.get_worker_info()
        wid = info.id if info else 0
        ss = np.random.SeedSequence([*self.seed, PHASES.index(self.phase), wid])
        rng = np.random.default_rng(ss)
        pyrng = random.Random(int(ss.generate_state(1)[0]))
        for text, images, completion, task, dense in phase_examples(
            self.kit, self.phase, rng, pyrng, self.per_scene, self.weights
        ):
            row = encode(self.processor, text, images, completion, dense)
            row["task"] = task
            yield row


def _loader(cfg: PretrainConfig, kit, processor, phase: str, round_: int):
    import torch

    class Stream(_Stream, torch.utils.data.IterableDataset):
        pass

    workers = cfg.workers if cfg.workers >= 0 else max(0, (os.cpu_count() or 1) - 1)
    pad_id = processor.tokenizer.pad_token_id
    return torch.utils.data.DataLoader(
        Stream(kit, processor, phase, (cfg.seed, round_), cfg.examples_per_scene, cfg.task_weights),
        batch_size=cfg.batch_size,
        num_workers=workers,
        collate_fn=lambda rows: collate(rows, pad_id),
        prefetch_factor=4 if workers else None,
        persistent_workers=False,
    )


# ---------------------------------------------------------------------------------------------
# held-out checks on Cycles renders


def heldout_rows(path: str | Path, subset: str, limit: int) -> list[dict]:
    """The first ``limit`` rows of a rendered split, images opened (no ``datasets`` needed)."""
    from PIL import Image

    from dig_kit.data.reader import check_dataset_dir, read_rows

    root = check_dataset_dir(path, subset) / subset
    rows = []
    for shard in sorted(p for p in root.iterdir() if p.is_dir()):
        for row in read_rows(shard / "metadata.jsonl"):
            row = dict(row)
            row["before"] = Image.open(shard / row["before_file_name"]).convert("RGB")
            row["after"] = Image.open(shard / row["after_file_name"]).convert("RGB")
            rows.append(row)
            if len(rows) >= limit:
                return rows
    return rows


def _answer_text(model, processor, text: str, images, device, max_new_tokens: int) -> str:
    """The greedy answer to ``text`` after an empty thought (what the kit's models write)."""
    from dig_kit.prompts import ANSWER_PREFIX, chat_messages

    prompt = processor.apply_chat_template(chat_messages(text, len(images)), add_generation_prompt=True, tokenize=False)
    enc = processor(text=[prompt + ANSWER_PREFIX], images=[images], return_tensors="pt").to(device)
    out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False)
    return ANSWER_PREFIX + processor.tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)


def evaluate(model, processor, rows: list[dict], device, generate_pairs: int = 40) -> dict:
    """Held-out checks on rendered pairs: yes/no accuracy (one image, both images; every row;
    answered after an empty thought, and for one image also after the model's own thought and,
    as ``yes_no_first``, with the question before the image),
    the attributes named for one object's box (every row), and on the first ``generate_pairs``
    rows the F1 (IoU >= 0.5, Hungarian matching, as the DiG reward) of greedy single-image
    grounding (every object of the before image) and of the DiG answer (no count hint)."""
    import torch

    from dig_kit.models.perception import p_yes, thought_text
    from dig_kit.prompts import ATTRIBUTE_QUESTION_TEMPLATE, GROUNDING_PROMPT, dig_prompt
    from dig_kit.rewards import dig_reward
    from dig_kit.train.warmstart import vqa_examples

    was_training = model.training
    model.eval()
    rng = random.Random(0)
    correct: dict[str, list[bool]] = {"one image": [], "both images": []}
    after_thought: list[bool] = []  # one image, answered after the model's own thought
    first: list[bool] = []  # one image, the question before it
    named: dict[str, list[bool]] = {k: [] for k in ("size", "color", "material", "shape")}
    f1: dict[str, list[float]] = {"grounding_f1": [], "dig_f1": []}
    with torch.no_grad(), _autocast(device):
        for i, row in enumerate(rows):
            for kind, ex in zip(correct, vqa_examples(row, rng)):
                truth = ex["completion"] == "<answer>yes</answer>"
                correct[kind].append((p_yes(model, processor, ex["text"], ex["images"]) > 0.5) == truth)
                if kind == "one image":
                    thought = thought_text(model, processor, ex["text"], ex["images"])
                    p = p_yes(model, processor, ex["text"], ex["images"], thought)
                    after_thought.append((p > 0.5) == truth)
                    p = p_yes(model, processor, ex["text"], ex["images"], question_first=True)
                    first.append((p > 0.5) == truth)
            o = row["objects_before"][rng.randrange(len(row["objects_before"]))]
            text = ATTRIBUTE_QUESTION_TEMPLATE.format(box=box_text(o["bbox_full"]))
            answer = _answer_text(model, processor, text, [row["before"]], device, 12)
            words = answer.replace("<answer>", " ").replace("</answer>", " ").split()
            for k in named:
                named[k].append(o[k] in words)
            if i < generate_pairs:
                size = (row["width"], row["height"])
                objects = [b["bbox_full"] for b in row["objects_before"]]
                answer = _answer_text(model, processor, GROUNDING_PROMPT, [row["before"]], device, 64)
                f1["grounding_f1"].append(dig_reward(answer, objects, size)["f1"])
                answer = _answer_text(model, processor, dig_prompt(None), [row["before"], row["after"]], device, 64)
                f1["dig_f1"].append(dig_reward(answer, row["boxes"], size)["f1"])
    if was_training:
        model.train()
    out = {f"yes_no_{k.split()[0]}": float(np.mean(v)) for k, v in correct.items()}
    out["yes_no_think"] = float(np.mean(after_thought))
    out["yes_no_first"] = float(np.mean(first))
    out["yes_no"] = float(np.mean(correct["one image"] + correct["both images"]))
    out.update({f"named_{k}": float(np.mean(v)) for k, v in named.items()})
    out.update({k: float(np.mean(v)) for k, v in f1.items() if v})
    return out


def colour_probe(model, processor, heldout: str, train_images: int = 300, eval_images: int = 100) -> float:
    """The held-out colour probe of ``benchmarks/probe_mini.py`` (fitted on stage1, scored on eval)."""
    from dig_kit.models.perception import colour_samples, linear_probe
    from dig_kit.scenes.attributes import COLORS

    colours = list(COLORS)
    model_cpu = model.float().cpu()
    x_tr, y_tr = colour_samples(model_cpu, processor, heldout_rows(heldout, "stage1", train_images), colours)
    x_te, y_te = colour_samples(model_cpu, processor, heldout_rows(heldout, "eval", eval_images), colours)
    return linear_probe(x_tr, y_tr, x_te, y_te, len(colours))


# ---------------------------------------------------------------------------------------------
# training


def _device(cfg: PretrainConfig):
    import torch

    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("pretrain.device: cuda asked for, but torch sees no CUDA device")
    return torch.device(cfg.device)


def _autocast(device):
    import contextlib

    import torch

    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _save_model(model, processor, source: Path, dest: Path) -> None:
    """A complete checkpoint dir (weights, tokenizer, processor files) at ``dest``."""
    model.save_pretrained(dest)
    processor.save_pretrained(dest)
    for name in ("video_preprocessor_config.json", "processor_config.json"):
        if (source / name).exists() and not (dest / name).exists():
            shutil.copy(source / name, dest / name)


def _save_checkpoint(out: Path, model, processor, source: Path, opt, state: dict) -> None:
    """Write ``out/checkpoint`` atomically (a new dir renamed into place)."""
    import torch

    tmp, final, old = out / "checkpoint.new", out / "checkpoint", out / "checkpoint.old"
    shutil.rmtree(tmp, ignore_errors=True)
    _save_model(model, processor, source, tmp)
    torch.save(opt.state_dict(), tmp / "optimizer.pt")
    (tmp / "state.json").write_text(json.dumps(state, indent=2))
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def completion_loss(logits, labels, mean: str = "token"):
    """The cross-entropy of the completion tokens, averaged over the batch's tokens (``token``:
    what transformers' ``loss`` is) or per example, then over the examples (``example``), and each
    example's own mean."""
    import torch

    shift, target = logits[:, :-1].float(), labels[:, 1:]
    tok = torch.nn.functional.cross_entropy(
        shift.reshape(-1, shift.shape[-1]), target.reshape(-1), ignore_index=-100, reduction="none"
    ).view(target.shape)
    mask = target != -100
    per_example = tok.sum(1) / mask.sum(1).clamp(min=1)
    loss = per_example.mean() if mean == "example" else tok.sum() / mask.sum().clamp(min=1)
    return loss, per_example.detach()


def dense_losses(model, hidden_states, input_ids, names, match, layers: tuple[int, int], yes_id: int):
    """The image tokens of :data:`DENSE_TASKS` examples, read out through the language-model head
    (the word embeddings, tied) after ``layers = (naming, matching)`` text layers: ``naming``, the
    cross-entropy of the colour and shape words of the object under each token (half each);
    ``matching``, of ``yes`` where the object is the one asked about, ``no`` where it is another,
    the two classes weighted alike (a scene's few matching tokens are not drowned). Question
    before image, a token can compare its object with the question; the answer then needs only
    to find a token that said yes. Returns ``(naming, matching)`` (zero tensors when nothing is
    trained)."""

    at = input_ids == model.config.image_token_id
    norm = model.model.language_model.norm

    def words(layer):
        return model.lm_head(norm(hidden_states[layer][at])).float().log_softmax(-1)

    zero = hidden_states[0].new_zeros(()).float()
    keep = names[:, 0] != -100
    naming = -words(layers[0])[keep].gather(1, names[keep]).mean() if keep.any() else zero
    scored = match != -100
    matching = zero
    if scored.any():
        lp = words(layers[1])[scored].gather(1, match[scored, None])[:, 0]
        yes = match[scored] == yes_id
        matching = sum((-lp[m].mean() for m in (yes, ~yes) if m.any()), zero)
    return naming, matching


def _rewrite(path: Path, keep) -> None:
    """Keep the JSON-lines rows of ``path`` that ``keep`` accepts (written to a temp file, then renamed)."""
    rows = [r for r in map(json.loads, path.read_text().splitlines()) if keep(r)]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tmp.replace(path)


def _init_summary(init: str | None) -> dict:
    """The ``pretrain.json`` of a pretrained starting point (its examples and runs), else {}."""
    if init and (Path(init) / "pretrain.json").exists():
        return json.loads((Path(init) / "pretrain.json").read_text())
    return {}


def _phase(cfg: PretrainConfig, progress: float) -> str:
    """The curriculum phase at ``progress`` (share of the budget spent)."""
    return PHASES[sum(progress >= e for e in cfg.phase_ends)]


def _lr(cfg: PretrainConfig, step: int, progress: float) -> float:
    warm = min(1.0, (step + 1) / max(1, cfg.warmup_steps))
    if cfg.lr_schedule == "constant":
        return cfg.learning_rate * warm
    return cfg.learning_rate * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def pretrain(cfg: PretrainConfig, log=print) -> Path:
    """Run (or resume) the pretraining; return ``OUT/final``."""
    import torch

    from dig_kit.config import load_config
    from dig_kit.models.loading import load_model_and_processor
    from dig_kit.models.mini import build_mini_model, widen_mini_model

    cfg.check()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError(
            "dig-kit pretrain runs as one process (the model is small; data workers use the other cores): "
            "start it with python or dig-kit, not torchrun/accelerate with several processes"
        )
    out = Path(cfg.out)
    final = out / "final"
    if (final / "pretrain.json").exists():
        log(f"{final}: already pretrained (delete it to train again)")
        return final
    out.mkdir(parents=True, exist_ok=True)
    # a stale half-written checkpoint from a crash mid-save
    if not (out / "checkpoint").exists() and (out / "checkpoint.old").exists():
        (out / "checkpoint.old").rename(out / "checkpoint")
    (out / "pretrain_config.json").write_text(json.dumps(asdict(cfg), indent=2))
    # the profile's scenes and image size; its warm start (which may name this very backbone) is not read
    kit = load_config(preset=cfg.preset, overrides={"warm_start.backbone": ""})
    device = _device(cfg)
    before = _init_summary(cfg.init)
    state = {
        "step": 0,
        "examples_seen": 0,
        "train_s": 0.0,
        "round": 0,
        "phase": PHASES[0],
        "examples_before": before.get("examples_seen", 0),
    }
    if (out / "checkpoint" / "state.json").exists():
        start = out / "checkpoint"
        state = json.loads((start / "state.json").read_text())
        state["round"] += 1
        log(f"resuming from {start}: step {state['step']}, {state['examples_seen']:,} examples seen")
    else:
        start = Path(cfg.init) if cfg.init else build_mini_model(out / "init", seed=cfg.seed, **cfg.model)
        if cfg.widen:
            start = widen_mini_model(start, out / "widened", cfg.widen, seed=cfg.seed)
            log(f"widened the text model to {cfg.widen} ({start})")
    source = Path(cfg.init) if cfg.init else out / "init"
    model, processor = load_model_and_processor(start, dtype="fp32")
    yes_id = processor.tokenizer.convert_tokens_to_ids("yes")
    model.to(device).train()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    rest = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}],
        lr=cfg.learning_rate,
        betas=(0.9, 0.98),
        fused=device.type == "cuda",
    )
    if start.name == "checkpoint":
        opt.load_state_dict(torch.load(start / "optimizer.pt", map_location=device))
    rows = heldout_rows(cfg.heldout, "eval", cfg.heldout_pairs) if cfg.heldout else []
    metrics = out / "metrics.jsonl"
    if start.name != "checkpoint" and metrics.exists():
        metrics.unlink()
    elif metrics.exists():  # resuming: forget what was logged after the checkpoint (it is done again)
        _rewrite(metrics, lambda r: r["step"] <= state["step"])

    def progress() -> float:
        p = state["examples_seen"] / cfg.max_examples if cfg.max_examples > 0 else 0.0
        if cfg.max_minutes > 0:
            p = max(p, state["train_s"] / (60 * cfg.max_minutes))
        return p

    def write(row):
        with metrics.open("a") as f:
            f.write(json.dumps(row) + "\n")

    def check(name):
        t = time.perf_counter()
        r = evaluate(model, processor, rows, device) if rows else {}
        row = {
            "step": state["step"],
            "examples_seen": state["examples_seen"],
            "examples_total": state["examples_before"] + state["examples_seen"],
            "train_s": round(state["train_s"], 1),
            "phase": state["phase"],
            "check": name,
            "eval_s": round(time.perf_counter() - t, 1),
            **r,
        }
        if metrics.exists():  # a check done again after a resume replaces its first record
            _rewrite(metrics, lambda old: (old["step"], old.get("check")) != (row["step"], name))
        write(row)
        log(f"[{name}] " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
        return row

    if state["step"] == 0 and rows:
        check("before training")
    last_ckpt, next_eval = (
        time.perf_counter(),
        (state["examples_seen"] // cfg.eval_every + 1) * cfg.eval_every if cfg.eval_every else None,
    )
    losses: list[float] = []
    task_losses: dict[str, list[float]] = {}
    t_log, seen_log = time.perf_counter(), state["examples_seen"]
    while progress() < 1.0:
        phase = _phase(cfg, progress())
        state["phase"] = phase
        log(f"phase {phase} from {state['examples_seen']:,} examples")
        t_prev = time.perf_counter()  # train_s counts the loop's wall time (data waits too), not the checks
        for batch in _loader(cfg, kit, processor, phase, state["round"]):
            tasks = batch.pop("tasks")
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            for g in opt.param_groups:
                g["lr"] = _lr(cfg, state["step"], progress())
            labels = batch.pop("labels")
            names, match = batch.pop("dense_names", None), batch.pop("dense_match", None)
            dense = match is not None and bool((match != -100).any())
            with _autocast(device):
                fwd = model(**batch, output_hidden_states=dense)
            loss, per_example = completion_loss(fwd.logits, labels, cfg.loss_mean)
            if dense:
                naming, matching = dense_losses(
                    model, fwd.hidden_states, batch["input_ids"], names, match, cfg.dense_layers, yes_id
                )
                loss = loss + cfg.dense_weight * (naming + matching)
                task_losses.setdefault("dense_naming", []).append(float(naming.detach()))
                task_losses.setdefault("dense_match", []).append(float(matching.detach()))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(float(loss.detach()))
            for task, value in zip(tasks, per_example.tolist()):
                task_losses.setdefault(task, []).append(value)
            now = time.perf_counter()
            state["step"] += 1
            state["examples_seen"] += len(batch["input_ids"])
            state["train_s"] += now - t_prev
            t_prev = now
            if state["step"] % 50 == 0:
                rate = (state["examples_seen"] - seen_log) / (now - t_log)
                row = {
                    "step": state["step"],
                    "examples_seen": state["examples_seen"],
                    "train_s": round(state["train_s"], 1),
                    "examples_total": state["examples_before"] + state["examples_seen"],
                    "loss": float(np.mean(losses)),
                    "task_loss": {k: round(float(np.mean(v)), 4) for k, v in sorted(task_losses.items())},
                    "lr": opt.param_groups[0]["lr"],
                    "examples_per_s": round(rate, 1),
                    "phase": phase,
                }
                write(row)
                log(f"step {row['step']} examples {row['examples_seen']:,} loss {row['loss']:.4f} ({rate:.0f} ex/s)")
                losses, task_losses, t_log, seen_log = [], {}, now, state["examples_seen"]
            if next_eval is not None and state["examples_seen"] >= next_eval:
                check("held-out")
                next_eval += cfg.eval_every
                t_prev = t_log = time.perf_counter()
                seen_log = state["examples_seen"]
            if time.perf_counter() - last_ckpt > 60 * cfg.checkpoint_minutes:
                _save_checkpoint(out, model, processor, source, opt, state)
                last_ckpt = t_prev = time.perf_counter()
            if progress() >= 1.0 or _phase(cfg, progress()) != phase:
                break
    _save_checkpoint(out, model, processor, source, opt, state)
    result = check("final")
    if cfg.heldout:
        result["colour_probe"] = colour_probe(model, processor, cfg.heldout)
        log(f"colour probe (held-out): {result['colour_probe']:.3f}")
        model.to(device)
    return save_final(out, model, processor, source, cfg, state, result, device)


def save_final(
    out: Path, model, processor, source: Path, cfg: PretrainConfig, state: dict, result: dict, device
) -> Path:
    """``OUT/final``: fp32 weights, tokenizer and processor, ``pretrain.json``, a model card."""
    import platform

    import torch

    tmp, final = out / "final.new", out / "final"
    shutil.rmtree(tmp, ignore_errors=True)
    _save_model(model.float(), processor, source, tmp)
    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({os.cpu_count()} cores)"
    run = {
        "config": asdict(cfg),
        "made_on": hardware,
        "platform": platform.platform(),
        "torch": torch.__version__,
        "wall_s": round(state["train_s"], 1),
        "steps": state["step"],
        "examples_seen": state["examples_seen"],
    }
    runs = _init_summary(cfg.init).get("runs", []) + [run]
    summary = {
        "recipe": "dig_kit.train.pretrain",
        "made_on": " + ".join(dict.fromkeys(r["made_on"] for r in runs)),
        "wall_s": round(sum(r["wall_s"] for r in runs), 1),
        "examples_seen": sum(r["examples_seen"] for r in runs),
        "heldout": {k: v for k, v in result.items() if k in CARD_CHECKS},
        "parameters": sum(p.numel() for p in model.parameters()),
        "runs": runs,
    }
    (tmp / "pretrain.json").write_text(json.dumps(summary, indent=2))
    (tmp / "README.md").write_text(model_card(summary))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


CARD_CHECKS = {
    "yes_no": "yes/no accuracy, 'is there a <colour> <shape> ...' (chance 0.5)",
    "yes_no_one": "yes/no accuracy, one image",
    "yes_no_both": "yes/no accuracy, both images of a pair",
    "yes_no_think": "yes/no accuracy, one image, answered after the model's own thought (it names the objects)",
    "yes_no_first": "yes/no accuracy, one image, the question asked before the image",
    "named_color": "colour named for an object's box (chance 0.125)",
    "named_shape": "shape named (chance 0.33)",
    "named_material": "material named (chance 0.5)",
    "named_size": "size named (chance 0.33)",
    "colour_probe": "linear colour probe on the image tokens (chance 0.125)",
    "grounding_f1": "grounding F1, every object of one image (IoU >= 0.5; mean over 40 images)",
    "dig_f1": "DiG F1, the differences of a pair (IoU >= 0.5; mean over 40 pairs, no count hint)",
}
"""The held-out checks the model card lists, with what each means."""


def model_card(s: dict) -> str:
    h = s["heldout"]
    lines = [
        "# mini Qwen3-VL backbone, perception-pretrained by dig_kit",
        "",
        f"A {s['parameters']:,}-parameter Qwen3-VL (`dig_kit.models.mini`: Qwen3-VL's architecture at a small width, "
        "patch 8, a word-level tokenizer for the attribute words) pretrained by the kit's own recipe "
        "(`dig_kit.train.pretrain`) on procedurally generated CLEVR-like scenes rendered by the kit's fast shaded "
        "renderer. No external data or weights.",
        "",
        f"Made on {s['made_on']}: {s['wall_s'] / 60:.1f} min of training, {s['examples_seen']:,} examples seen.",
        "",
        "| run | hardware | command | minutes | steps | examples |",
        "|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(s["runs"], 1):
        c = r["config"]
        cmd = (
            f"dig-kit pretrain --out OUT --max-examples {c['max_examples']} --max-minutes {c['max_minutes']} "
            f"--batch-size {c['batch_size']} --lr {c['learning_rate']} --warmup-steps {c['warmup_steps']}"
            + f" --loss-mean {c.get('loss_mean', 'token')}"
            + (f" --lr-schedule {c['lr_schedule']}" if c.get("lr_schedule", "cosine") != "cosine" else "")
            + (" --init PREVIOUS/final" if c.get("init") else "")
            + (f" --widen {c['widen']}" if c.get("widen") else "")
            + "".join(f" --task-weight {k}={v:g}" for k, v in c.get("task_weights", {}).items())
            + (
                f" --phase-ends {c['phase_ends'][0]:g},{c['phase_ends'][1]:g}"
                if list(c["phase_ends"]) != [0.3, 0.6]
                else ""
            )
            + "".join(f" --model-arg {k}={v}" for k, v in c.get("model", {}).items())
            + (
                f" --dense-layers {c['dense_layers'][0]},{c['dense_layers'][1]}"
                if list(c.get("dense_layers", [1, 3])) != [1, 3]
                else ""
            )
            + (f" --dense-weight {c['dense_weight']:g}" if c.get("dense_weight", 1.0) != 1.0 else "")
        )
        lines.append(
            f"| {i} | {r['made_on']} | `{cmd}` | {r['wall_s'] / 60:.1f} | {r['steps']:,} | {r['examples_seen']:,} |"
        )
    lines += ["", "| held-out check (Cycles renders of the mini profile, never trained on) | value |", "|---|---|"]
    for k, what in CARD_CHECKS.items():
        if isinstance(h.get(k), float):
            lines.append(f"| {what} | {h[k]:.3f} |")
    lines += [
        "",
        "Held-out checks: `dig_kit.train.pretrain.evaluate` and `benchmarks/probe_mini.py` on the kit's "
        "Cycles renders of the mini profile (never trained on).",
        "",
    ]
    return "\n".join(lines)
