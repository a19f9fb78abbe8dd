"""Which perception skills can a mini checkpoint pick up by gradient descent, and how fast?

``probe_mini.py`` says what a checkpoint *does*; this says what a few thousand more examples
*teach* it. For each skill it fine-tunes a fresh copy of the checkpoint on an endless stream of
generated scenes (the pretraining's renderer, :func:`dig_kit.train.pretrain._render`), and
prints the accuracy of the *deciding* answer token on each new batch before the model trains on
it (online: every batch is unseen), so a skill the model cannot learn stays at chance:

- ``name_colour``: "What color is the object?" on one-object scenes (8 colours; chance 1/8).
  The image -> answer path: can the answer position read the image?
- ``text_rule``: "Is there a <colour> object?", answered yes for the first four colours of
  the list, whatever the image shows (chance 1/2): can the answer position read the question?
- ``yes_no_colour``: the same question answered truthfully on one-object scenes (chance 1/2):
  both at once, compared. Neither the question word nor the image alone predicts the answer.
- ``lookup_shape``: "What is the shape of the <colour> object?" on scenes of 2-3 objects, the
  colour naming exactly one of them (chance 1/3): finding an object by its content.
- ``text_equality``: no image; "The object is <colour>. Is there a <colour> object?" (chance
  1/2): the same comparison as ``yes_no_colour`` with both colours given as words.
- ``spot_change``: a before/after pair of 1-3 objects from the same camera, the after scene the
  same or with one object's colour changed (half each); "Is anything different between the two
  images?" (chance 1/2): the comparison DiG needs, between two images at the same place.
- ``changed_shape``: a pair of 2-3 objects, one of which changes colour; "What is the shape of
  the object that changed?" (chance 1/3): finding an object by a difference, then reading it.
- ``yes_no_think``: "Is there a <colour> object?" on scenes of 1-3 objects, answered truthfully
  after a thought that names the visible objects' colours left to right (Qwen3-VL-Thinking's
  ``<think>`` span). The thought is given (teacher forcing), so the score is that of the answer
  after a true thought: naming (``name_colour``), then a comparison of words in the text.
- ``lookup_words``: no image, nothing rendered; a thought of 1-5 ``colour shape`` items (drawn
  at random, repeats allowed), then "Is there a <colour> <shape> in the image?" answered from
  the thought (chance 1/2): the look-up the pretraining's ``yes_no_think`` task needs after its
  thought, as words only. Cheap (no vision tower), so it can run to many more examples.
- ``lookup_scene``: the pretraining's ``yes_no_think`` task alone: a scene of the mini profile
  (3-5 objects), the thought its seen objects' ``colour shape`` left to right
  (:func:`dig_kit.train.pretrain.objects_thought`), "Is there a <colour> <shape> in the image?"
  (half of them present; four questions a render). With ``--text-only``: the same thoughts and
  questions without the image, so the two runs differ only by the image in the prompt.
- ``locate``: the kit's grounding prompt on one-object scenes, answered with the object's box;
  scored on its first two numbers, x1 and y1, each a hit within ``LOCATE_TOLERANCE`` pixels
  (printed as x1/y1), beside the hits of always guessing the mean of the boxes seen so far.
- ``yes_no_first``: the pretraining's ``yes_no_first`` task alone, encoded as the pretraining
  encodes it (:func:`dig_kit.train.pretrain.encode`): "Is there a <colour> <shape> in the
  image?" on scenes of 1-3 objects (``--items``), the question before the image. With ``--dense-layers 1,3``
  also the pretraining's dense losses (:func:`dig_kit.train.pretrain.dense_losses`): after the
  first text layer each image token names its object's colour and shape, after the third it says
  whether its object is the one asked about; without, the question-first order alone.

``--question-first`` puts the question before the image in the user turn (the image tokens then
see the question; the kit's prompts put images first). ``--dense-naming LAYER`` adds a loss that
makes the image tokens speak in words: the language-model head (the word embeddings), applied to
the normed hidden state after ``LAYER`` language-model layers, predicts at each image token the
colour word of the object covering its 16x16-pixel cell (cells an object covers by a quarter or
more; the others are not scored). ``--look`` (pair skills): ``shared``, the after image keeps the
before image's lights and exposure, as the kit's Blender pairs do (default); ``own``, each image
draws its own. ``--text-only`` is a control: the same questions and answers, no image;
``--blank-image`` the converse for the text skills (``text_equality``, ``lookup_words``): their
words after a plain grey image, so that a text skill and its image counterpart differ only by
what the image shows. ``--items 3-5`` sets how many items a ``lookup_words`` thought holds (and
how many objects a ``yes_no_first`` scene holds);
``--answer-only`` trains the answer alone (a given thought is context, not a target). Each
accuracy point is also printed to stderr as it comes.

    python benchmarks/probe_learnability.py dig_kit/models/mini_backbone --examples 4000

CPU, 2 cores shared with a pretraining run: 3,200 examples of an image skill took 7-11 minutes,
9,600 of ``text_equality`` 5 minutes; alone, 3,200 examples of a pair skill 6.3 minutes.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from dataclasses import replace

import numpy as np

SKILLS = (
    "name_colour",
    "text_rule",
    "yes_no_colour",
    "lookup_shape",
    "text_equality",
    "spot_change",
    "changed_shape",
    "locate",
    "yes_no_think",
    "lookup_words",
    "lookup_scene",
    "yes_no_first",
)
PAIR_SKILLS = ("spot_change", "changed_shape")
QUESTION = "Is there a {} object in the image? Answer yes or no inside <answer></answer> tags."
NAME = "What color is the object? Answer inside <answer></answer> tags."
SPOT = "Is anything different between the two images? Answer yes or no inside <answer></answer> tags."
CHANGED = "What is the shape of the object that changed? Answer inside <answer></answer> tags."
LOCATE_TOLERANCE = 4
"""Pixels: a coordinate of ``locate`` within this of the truth is a hit."""


def cell_colours(scene, index: np.ndarray, cell: int = 16, share: float = 0.25) -> list:
    """The colour word of the object covering each ``cell`` x ``cell`` block of the index pass
    (row by row: the order of the merged image tokens), or None where no object covers ``share``."""
    from dig_kit.train.pretrain import token_objects

    by_id = {o.id + 1: o for o in scene.objects}  # the index pass's values
    blocks = token_objects(index, index.shape[0] // cell, index.shape[1] // cell, share)
    return [by_id[k].color if k else None for k in blocks]


def _pair_stream(skill: str, kit, rng: np.random.Generator, pyrng: random.Random, look: str):
    """Two renders of one scene from the same camera (a before/after pair): ``spot_change``, the
    after scene is the before scene or has one object's colour changed (half each), "is anything
    different?"; ``changed_shape``, 2-3 objects, one changes colour, "what is the shape of the
    object that changed?". ``look``: ``shared``, the after image keeps the before image's lights
    and exposure (only the noise is redrawn), as the kit's Blender pairs; ``own``, each image
    draws its own look."""
    from dig_kit.scenes import shaded
    from dig_kit.scenes.attributes import SHAPES
    from dig_kit.scenes.changes import ChangeError, apply_kinds
    from dig_kit.scenes.sampling import sample_scene
    from dig_kit.scenes.spec import SceneError
    from dig_kit.train.pretrain import _render

    lo, hi = (1, 3) if skill == "spot_change" else (2, 3)
    scene_cfg = replace(kit.data.scene, min_objects=lo, max_objects=hi)
    while True:
        change = skill == "changed_shape" or pyrng.random() < 0.5
        try:
            before = sample_scene(scene_cfg, rng)
            after, diffs = apply_kinds(before, [("color", "")], scene_cfg, rng) if change else (before, [])
        except (SceneError, ChangeError):
            continue
        first = shaded.jittered_look(rng)
        img_b, _, _, seen_b = _render(before, kit, rng, look=first)
        img_a, *_ = _render(after, kit, rng, look=first if look == "shared" else None)
        if any(d.object_id not in seen_b for d in diffs):
            continue  # the change must be visible
        if skill == "spot_change":
            yield SPOT, [img_b, img_a], "yes" if change else "no", ["yes", "no"], None
        else:
            yield CHANGED, [img_b, img_a], diffs[0].before["shape"], list(SHAPES), None


def _locate_stream(kit, rng: np.random.Generator):
    """One-object scenes wholly in frame, the grounding prompt, the object's box."""
    from dig_kit.prompts import GROUNDING_PROMPT
    from dig_kit.scenes.sampling import sample_scene
    from dig_kit.train.pretrain import _in_frame, _render
    from dig_kit.train.warmstart import format_boxes

    r = kit.data.render
    scene_cfg = replace(kit.data.scene, min_objects=1, max_objects=1)
    numbers = [str(v) for v in range(max(r.width, r.height) + 1)]
    while True:
        scene = sample_scene(scene_cfg, rng)
        image, _, full, seen = _render(scene, kit, rng)
        if seen and _in_frame(full, r.width, r.height):
            yield GROUNDING_PROMPT, image, format_boxes(full.values()), numbers, None


def _text_stream(pyrng: random.Random):
    """``text_equality``: no image, nothing to render."""
    from dig_kit.scenes.attributes import COLORS

    colours = sorted(COLORS)
    while True:
        told, yes = pyrng.choice(colours), pyrng.random() < 0.5
        asked = told if yes else pyrng.choice([c for c in colours if c != told])
        yield f"The object is {told}. " + QUESTION.format(asked), None, "yes" if yes else "no", ["yes", "no"], None


def _lookup_stream(pyrng: random.Random, items: tuple[int, int] = (1, 5)):
    """``lookup_words``: a thought of ``items`` (fewest, most; default 1-5) ``colour shape``
    items, a question about one thing."""
    from dig_kit.prompts import VQA_ONE_TEMPLATE
    from dig_kit.scenes.attributes import COLORS, SHAPES

    things = sorted(f"{c} {s}" for c in COLORS for s in SHAPES)
    while True:
        thought = [pyrng.choice(things) for _ in range(pyrng.randint(*items))]
        yes = pyrng.random() < 0.5
        asked = pyrng.choice(sorted(set(thought)) if yes else sorted(set(things) - set(thought)))
        answer = "yes" if yes else "no"
        yield VQA_ONE_TEMPLATE.format(thing=asked), None, (", ".join(thought), answer), ["yes", "no"], None


def _scene_lookup_stream(kit, rng: np.random.Generator, pyrng: random.Random):
    """``lookup_scene``: the pretraining's ``yes_no_think`` examples
    (:func:`dig_kit.train.pretrain.image_examples`), four questions a render."""
    from dig_kit.prompts import ANSWER_PREFIX
    from dig_kit.scenes.sampling import sample_scene
    from dig_kit.scenes.spec import SceneError
    from dig_kit.train.pretrain import _render, image_examples

    while True:
        try:
            scene = sample_scene(kit.data.scene, rng)
        except SceneError:  # a crowded draw: the next one
            continue
        image, _, full, seen = _render(scene, kit, rng)
        if not seen:
            continue
        for _ in range(4):
            question, _, completion = image_examples("yes_no_think", scene, image, full, seen, pyrng)
            thought, answer = completion.split(f"\n{ANSWER_PREFIX}")
            yield (
                question,
                image,
                (thought, answer.removeprefix("<answer>").removesuffix("</answer>")),
                ["yes", "no"],
                None,
            )


def _first_stream(kit, rng: np.random.Generator, pyrng: random.Random, items: tuple[int, int]):
    """``yes_no_first``: the pretraining's own ``yes_no_first`` examples on scenes of ``items``
    objects, their dense targets' source in the cells slot."""
    from dig_kit.train.pretrain import PHASE_TASKS, phase_examples

    scene = replace(kit.data.scene, min_objects=items[0], max_objects=items[1])
    kit = replace(kit, data=replace(kit.data, scene=scene))
    only = {t: 0 for t in PHASE_TASKS["scenes"]} | {"yes_no_first": 1}  # the scenes phase: the scene config as is
    for question, images, completion, _, dense in phase_examples(kit, "scenes", rng, pyrng, 4, only):
        yield question, images[0], completion.removeprefix("<answer>").removesuffix("</answer>"), ["yes", "no"], dense


def _stream(skill: str, kit, rng: np.random.Generator, pyrng: random.Random, look: str = "shared", items=(1, 5)):
    """Endless ``(question, image(s) or None, answer, candidate words, cell colours or None)``."""
    if skill in PAIR_SKILLS:
        return _pair_stream(skill, kit, rng, pyrng, look)
    if skill == "text_equality":
        return _text_stream(pyrng)
    if skill == "lookup_words":
        return _lookup_stream(pyrng, items)
    if skill == "lookup_scene":
        return _scene_lookup_stream(kit, rng, pyrng)
    if skill == "locate":
        return _locate_stream(kit, rng)
    if skill == "yes_no_first":
        return _first_stream(kit, rng, pyrng, items)
    return _image_stream(skill, kit, rng, pyrng)


def _image_stream(skill: str, kit, rng: np.random.Generator, pyrng: random.Random):
    """The one-image question skills: four questions a render."""
    from dig_kit.scenes.attributes import COLORS, SHAPES
    from dig_kit.scenes.sampling import sample_scene
    from dig_kit.scenes.spec import SceneError
    from dig_kit.train.pretrain import _render

    colours = sorted(COLORS)
    objects = 3 if skill in ("lookup_shape", "yes_no_think") else 1
    fewest = 1 if skill == "yes_no_think" else min(2, objects)
    scene_cfg = replace(kit.data.scene, min_objects=fewest, max_objects=objects)
    while True:
        try:
            scene = sample_scene(scene_cfg, rng)
        except SceneError:  # a crowded draw: the next one
            continue
        image, index, full, seen = _render(scene, kit, rng)
        visible = [o for o in scene.objects if o.id in seen]
        cells = cell_colours(scene, index)
        if not visible:
            continue
        for _ in range(4):  # four questions a render
            if skill == "name_colour":
                yield NAME, image, visible[0].color, colours, cells
            elif skill in ("text_rule", "yes_no_colour", "yes_no_think"):
                present = {o.color for o in visible}
                if skill == "text_rule":
                    colour = pyrng.choice(colours)
                    yes = colours.index(colour) < len(colours) // 2
                else:
                    yes = pyrng.random() < 0.5
                    colour = pyrng.choice(sorted(present) if yes else sorted(set(colours) - present))
                answer = "yes" if yes else "no"
                if skill == "yes_no_think":  # (thought, answer): the colours left to right, then the answer
                    answer = (" ".join(o.color for o in sorted(visible, key=lambda o: full[o.id][0])), answer)
                yield QUESTION.format(colour), image, answer, ["yes", "no"], cells
            else:
                counts = Counter(o.color for o in visible)
                unique = [o for o in visible if counts[o.color] == 1]
                if len(visible) < 2 or not unique:
                    break
                o = pyrng.choice(unique)
                question = f"What is the shape of the {o.color} object? Answer inside <answer></answer> tags."
                yield question, image, o.shape, list(SHAPES), cells


def _encode(
    processor, question: str, image, answer: str, question_first: bool, thought: str = "", answer_only: bool = False
) -> dict:
    """Token ids and labels (-100 on the prompt, and with ``answer_only`` on everything before
    ``<answer>``), with the processor's image tensors if any (``image``: one image, a list of
    them, or None); ``thought`` fills the ``<think>`` span."""
    import torch

    from dig_kit.prompts import ANSWER_PREFIX, chat_messages

    images = image if isinstance(image, list) else [] if image is None else [image]
    messages = chat_messages(question, len(images), question_first)
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    tok = processor.tokenizer
    if not images:
        enc = {"input_ids": tok(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]}
    else:
        enc = processor(text=[prompt], images=[images], return_tensors="pt")
    body = answer if answer.startswith("[") else f"<answer>{answer}</answer>"  # boxes: bare JSON, as the kit's
    completion = f"{thought}\n{ANSWER_PREFIX}" if thought else ANSWER_PREFIX
    completion += f"{body}{tok.eos_token}"
    comp = tok(completion, add_special_tokens=False, return_tensors="pt")["input_ids"][0]
    trained = comp.clone()
    if answer_only:  # the thought is context, not a target
        start = (comp == tok.convert_tokens_to_ids("<answer>")).nonzero()
        trained[: int(start[-1]) if len(start) else 0] = -100
    row = {
        "input_ids": torch.cat([enc["input_ids"][0], comp]),
        "labels": torch.cat([torch.full_like(enc["input_ids"][0], -100), trained]),
    }
    for key in ("pixel_values", "image_grid_thw"):
        if key in enc:
            row[key] = enc[key]
    if "mm_token_type_ids" in enc:
        row["mm_token_type_ids"] = torch.cat([enc["mm_token_type_ids"][0], torch.zeros_like(comp)])
    return row


def learn(
    checkpoint: str,
    skill: str,
    examples: int,
    batch_size: int,
    lr: float,
    seed: int,
    report_every: int,
    question_first: bool = False,
    dense_layer: int | None = None,
    look: str = "shared",
    text_only: bool = False,
    on_point=None,
    answer_only: bool = False,
    items: tuple[int, int] = (1, 5),
    blank_image: bool = False,
    dense_layers: tuple[int, int] | None = None,
):
    """Online accuracy of the deciding token, per ``report_every`` examples: ``[(seen, acc)]``;
    for ``locate``, ``acc`` is ``(x1 hits, y1 hits, x1 hits of the mean guess, y1 ...)``.
    ``yes_no_first`` is encoded as the pretraining encodes it (question first) and, with
    ``dense_layers``, trained with the pretraining's dense losses too."""
    import torch
    from PIL import Image

    from dig_kit.config import load_config
    from dig_kit.models.loading import load_model_and_processor
    from dig_kit.train.pretrain import collate, completion_loss, dense_losses, encode

    torch.manual_seed(seed)
    kit = load_config(preset="mini", overrides={"warm_start.backbone": ""})
    model, processor = load_model_and_processor(checkpoint, dtype="fp32")
    model.train()
    tok = processor.tokenizer
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=0.01)
    stream = _stream(skill, kit, np.random.default_rng(seed), random.Random(seed), look, items)
    curve, hits, seen, boxes_seen = [], [], 0, []
    blank = Image.new("RGB", (kit.data.render.width, kit.data.render.height), (128, 128, 128))
    centre = np.array([kit.data.render.width, kit.data.render.height]) / 2  # locate's guess before any box
    while seen < examples:
        rows, truth, cands, dense = [], [], [], []
        for question, image, answer, candidates, cells in (next(stream) for _ in range(batch_size)):
            thought, answer = answer if isinstance(answer, tuple) else ("", answer)
            image = None if text_only else image
            if blank_image and image is None:  # the same text after an image that shows nothing
                image = blank
            if skill == "yes_no_first":  # cells: the dense targets' source
                row = encode(processor, question, [image], f"<answer>{answer}</answer>", cells)
                cells = None
            else:
                row = _encode(processor, question, image, answer, question_first, thought, answer_only)
            rows.append({**row, "task": skill})
            dense += [tok.convert_tokens_to_ids(w) if w else -100 for w in cells or []]
            cands = tok.convert_tokens_to_ids(candidates)
            if skill == "locate":  # x1, y1: the values are the candidates' indices
                truth.append([int(v) for v in answer.strip("[]").split(", ")[:2]])
            else:
                truth.append(cands.index(tok.convert_tokens_to_ids(answer)))
        batch = collate(rows, tok.pad_token_id)
        batch.pop("tasks")
        labels = batch.pop("labels")
        names, match = batch.pop("dense_names", None), batch.pop("dense_match", None)
        out = model(**batch, output_hidden_states=dense_layer is not None or dense_layers is not None)
        logits = out.logits
        # the deciding token: the answer, the last completion token that is one of the candidate words
        # (a thought may use them too); locate: its first two numbers, x1 and y1
        shifted, pred = labels[:, 1:], logits[:, :-1]
        for i in range(len(rows)):
            where = [j for j, t in enumerate(shifted[i].tolist()) if t in cands]
            if skill != "locate":
                hits.append(int(pred[i, where[-1], cands].argmax()) == truth[i])
                continue
            guess = np.mean(boxes_seen, axis=0) if boxes_seen else centre
            got = [int(pred[i, j, cands].argmax()) for j in where[:2]]
            hits.append(
                [abs(g - t) <= LOCATE_TOLERANCE for g, t in zip(got, truth[i])]
                + [abs(g - t) <= LOCATE_TOLERANCE for g, t in zip(guess, truth[i])]
            )
            boxes_seen.append(truth[i])
        loss, _ = completion_loss(logits, labels, "example")
        if dense_layers is not None and match is not None:
            yes_id = tok.convert_tokens_to_ids("yes")
            loss = loss + sum(
                dense_losses(model, out.hidden_states, batch["input_ids"], names, match, dense_layers, yes_id)
            )
        if dense_layer is not None and dense:
            at = batch["input_ids"] == model.config.image_token_id  # row by row, as cell_colours
            words = model.lm_head(model.model.language_model.norm(out.hidden_states[dense_layer]))[at]
            loss = loss + torch.nn.functional.cross_entropy(words, torch.tensor(dense), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        seen += len(rows)
        if len(hits) >= report_every or seen >= examples:
            acc = np.mean(hits, axis=0)
            curve.append((seen, tuple(float(a) for a in acc) if acc.ndim else float(acc)))
            if on_point is not None:
                on_point(*curve[-1])
            hits = []
    return curve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", help="a mini checkpoint dir, e.g. dig_kit/models/mini_backbone")
    ap.add_argument("--skills", nargs="+", default=list(SKILLS), choices=SKILLS)
    ap.add_argument("--examples", type=int, default=4000, help="training examples per skill (default 4000)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--report-every", type=int, default=640, help="examples per accuracy point (default 640)")
    ap.add_argument("--question-first", action="store_true", help="the question before the image in the prompt")
    ap.add_argument(
        "--dense-naming",
        type=int,
        metavar="LAYER",
        help="also train the image tokens to name their object's colour after LAYER text layers (e.g. 1)",
    )
    ap.add_argument(
        "--look",
        choices=("shared", "own"),
        default="shared",
        help="pair skills: the after image keeps the before image's lights and exposure (shared, "
        "default) or draws its own",
    )
    ap.add_argument(
        "--text-only",
        action="store_true",
        help="a control: the same questions and answers with the image left out of the prompt",
    )
    ap.add_argument(
        "--answer-only",
        action="store_true",
        help="train the answer only: a given thought is context, not a target (thinking skills)",
    )
    ap.add_argument(
        "--blank-image",
        action="store_true",
        help="text skills (lookup_words, text_equality): put a plain grey image before the question, as the "
        "image skills have theirs, so that the two differ only by what the image shows",
    )
    ap.add_argument(
        "--items",
        default=None,
        metavar="FEWEST-MOST",
        help="lookup_words: how many items its thought holds (default 1-5); yes_no_first: how many objects a "
        "scene holds (default 1-3)",
    )
    ap.add_argument(
        "--dense-layers",
        metavar="NAMING,MATCHING",
        help="yes_no_first: also train its image tokens as the pretraining does (dig_kit.train.pretrain.dense_losses), "
        "e.g. 1,3",
    )
    args = ap.parse_args()
    dense_layers = None
    if args.dense_layers:
        try:
            dense_layers = tuple(int(v) for v in args.dense_layers.split(","))
            if len(dense_layers) != 2:
                raise ValueError
        except ValueError:
            ap.error(f"--dense-layers {args.dense_layers}: expected NAMING,MATCHING, e.g. 1,3")
    try:
        items = tuple(int(v) for v in args.items.split("-")) if args.items else None
        if items is not None and (len(items) != 2 or not 1 <= items[0] <= items[1]):
            raise ValueError
    except ValueError:
        ap.error(f"--items {args.items}: expected FEWEST-MOST, e.g. 3-5")
    order = "question, then image" if args.question_first else "image, then question"
    if args.text_only:
        order = "no image (text-only control)"
    if args.answer_only:
        order += "; the answer alone trained"
    if args.blank_image:
        order += "; text skills after a blank image"
    if "lookup_words" in args.skills:
        order += f"; lookup_words thoughts of {args.items or '1-5'} items"
    if args.dense_naming is not None:
        order += f"; image tokens named after layer {args.dense_naming}"
    if "yes_no_first" in args.skills:
        order += f"; yes_no_first on scenes of {args.items or '1-3'} objects, asked before the image, " + (
            f"image tokens name and match after layers {args.dense_layers}" if dense_layers else "no dense losses"
        )
    print(
        f"checkpoint {args.checkpoint} ({order}; lr {args.lr:g}, batch {args.batch_size}): "
        f"online accuracy of the deciding token, per {args.report_every} examples"
    )
    for skill in args.skills:
        t = time.perf_counter()
        curve = learn(
            args.checkpoint,
            skill,
            args.examples,
            args.batch_size,
            args.lr,
            args.seed,
            args.report_every,
            args.question_first,
            args.dense_naming,
            args.look,
            args.text_only,
            on_point=lambda n, a, skill=skill: print(f"  {skill} {n}: {a}", file=sys.stderr, flush=True),
            answer_only=args.answer_only,
            items=items or ((1, 3) if skill == "yes_no_first" else (1, 5)),
            blank_image=args.blank_image,
            dense_layers=dense_layers,
        )
        if skill == "locate":  # model x1/y1 hits (mean guess x1/y1)
            points = "  ".join(f"{n}: {a[0]:.2f}/{a[1]:.2f} ({a[2]:.2f}/{a[3]:.2f})" for n, a in curve)
        else:
            points = "  ".join(f"{n}: {a:.2f}" for n, a in curve)
        print(f"{skill:14s} {points}   ({time.perf_counter() - t:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
