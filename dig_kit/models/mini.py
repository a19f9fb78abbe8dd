"""The ``mini`` profile's small Qwen3-VL, built offline: a real ``Qwen3VLForConditionalGeneration``
of a few million parameters with a tokenizer that writes the kit's prompts and numbers compactly.

Why these choices:

- **Tokenizer**: a byte-level BPE trained on the kit's own texts (DiG with and without the count
  hint, TWIN, the grounding instructions of the warm start, yes/no, attribute and counting
  questions, Qwen3-VL-style labelled boxes ``[{"bbox_2d": [12, 34, 56, 78], "label": "large red
  metal cube"}]`` for every size/colour/material/shape, their ``<answer>`` answers) and the
  integers 0-1000. Its pre-tokenizer (:data:`PRE_TOKENIZER_PATTERN`) isolates digit runs, the
  words of :data:`WORDS` (every attribute word and the answer words), the ``<answer>`` tags and
  the JSON characters ``[ ] { } "``; the text between them is one piece that BPE merges whole.
  So every integer 0-1000 is one token, ``red`` is the same single token in a question, a label
  and an answer, and a prompt is a few dozen tokens: the DiG prompt costs 18 tokens instead of
  ~330, an answer ``[[12, 34, 56, 78]]`` costs 11, a labelled box 33. :func:`build_mini_tokenizer`
  checks all of this and raises if it does not hold. Any text still tokenizes (bytes).
- **Number embeddings**: the embedding (tied with the output layer) of the token of integer
  ``v`` starts as a smooth function of ``v`` (sinusoids at several scales, then a fixed random
  projection) plus noise, so neighbouring coordinates start with neighbouring logits: a wrong
  coordinate is wrong by a little, not by a random amount. Only the initialisation differs
  from :func:`dig_kit.models.tiny.build_tiny_model`; the weights are all trained.
- **Vision geometry**: patch 8 (Qwen3-VL uses 16) with Qwen3-VL's 2x2 merge, so one image
  token covers 16x16 pixels: a 128x128 image is 64 tokens and an object of the mini scenes
  (20-50 px) spans one to three tokens.

Same layout and loading path as every other checkpoint of the kit
(:func:`dig_kit.models.loading.load_model_and_processor`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from dig_kit.models.loading import vision_token_ids
from dig_kit.models.tiny import CHAT_TEMPLATE, SPECIAL_TOKENS, THINK_TOKENS
from dig_kit.scenes.attributes import COLORS, MATERIALS, SHAPES, SIZES

BACKBONE_DIR = Path(__file__).resolve().parent / "mini_backbone"
"""The shipped perception-pretrained mini backbone (``dig-kit pretrain``; its README.md is the model card)."""

MAX_NUMBER = 1000
"""Integers 0..MAX_NUMBER are single tokens (pixels of small images, and Qwen's 0-1000 scale)."""

ANSWER_WORDS: tuple[str, ...] = ("yes", "no", "same", "different")
"""Answer words besides the attributes (yes/no, same-or-not). Words of the fixed prose
("image", "both") stay inside BPE's prose pieces: isolating them made the DiG prompt 17% longer."""

WORDS: tuple[str, ...] = tuple(
    sorted({*SIZES, *COLORS, *MATERIALS, *SHAPES, *ANSWER_WORDS}, key=lambda w: (-len(w), w))
)
"""The words that are each one token, the same token wherever they stand: every attribute word
of :mod:`dig_kit.scenes.attributes` (sizes, colours, materials, shapes) and :data:`ANSWER_WORDS`,
longest first (so that a longer word is tried before any word it starts with)."""

PRE_TOKENIZER_PATTERN = r"\d+|\b(?:" + "|".join(re.escape(w) for w in WORDS) + r")\b|</?answer>|" + r'[\[\]{}"]'
r"""What the pre-tokenizer cuts out as pieces of their own (``Split(..., behavior="isolated")``),
before BPE sees the text: digit runs, each word of :data:`WORDS` as a whole lower-case word
(``\b...\b``: ``no`` in ``not`` or ``red`` in ``reddish`` is not cut out), the tags
``<answer>``/``</answer>`` and the JSON characters ``[ ] { } "`` one by one. The text between two
matches (prose, spaces, commas) stays one piece, which BPE merges into a few long tokens."""


TEXT_WIDTH = 128
"""The text model's width of a new mini model (:func:`build_mini_model`'s default)."""
HEAD_DIM = 32
"""The size of each attention head of the mini text model."""
TEXT_LAYERS = 4
"""The text model's depth of a new mini model (:func:`build_mini_model`'s default)."""


def widen_error(old: int, new: int) -> str | None:
    """Why the text model cannot be widened from ``old`` to ``new`` (None: it can): the new width
    must be larger and a whole number of head pairs (the key/value heads stay shared by two)."""
    if new <= old or new % (2 * HEAD_DIM):
        return f"{new}: must be wider than the starting model's {old} and a multiple of {2 * HEAD_DIM}"
    return None


def _labels() -> list[str]:
    """Every object name of the scenes, in the order of Qwen3-VL's grounding labels:
    size, colour, material, shape (``large red metal cube``)."""
    return [f"{z} {c} {m} {s}" for z in SIZES for c in COLORS for m in MATERIALS for s in SHAPES]


def _corpus() -> list[str]:
    import random

    from dig_kit.prompts import (
        ATTRIBUTE_QUESTION_TEMPLATE,
        COUNT_TEMPLATE,
        GROUNDING_PROMPT,
        LABELLED_GROUNDING_PROMPT,
        TWIN_MULTI_TEMPLATE,
        TWIN_PAIR_TEMPLATE,
        VQA_BOTH_TEMPLATE,
        VQA_ONE_TEMPLATE,
        dig_prompt,
    )

    rng = random.Random(0)

    def box() -> str:
        x1, y1 = rng.randint(0, 900), rng.randint(0, 900)
        return f"[{x1}, {y1}, {x1 + rng.randint(1, 100)}, {y1 + rng.randint(1, 100)}]"

    def grounding(labels: list[str]) -> str:
        return "[" + ", ".join(f'{{"bbox_2d": {box()}, "label": "{label}"}}' for label in labels) + "]"

    labels = _labels()
    texts = [dig_prompt(None), TWIN_PAIR_TEMPLATE, TWIN_MULTI_TEMPLATE, GROUNDING_PROMPT]
    texts += [dig_prompt(n) for n in range(1, 11)]
    texts += [t.format(thing=f"{c} {s}") for t in (VQA_ONE_TEMPLATE, VQA_BOTH_TEMPLATE) for c in COLORS for s in SHAPES]
    texts += [LABELLED_GROUNDING_PROMPT, COUNT_TEMPLATE] + [
        ATTRIBUTE_QUESTION_TEMPLATE.format(box=box()) for _ in labels
    ]
    texts += [f"What {a} is the object at {box()}?" for a in ("size", "color", "material", "shape") for _ in range(8)]
    texts += [grounding([label]) for label in labels]  # every label once alone, then in lists of two to four
    texts += [grounding(rng.sample(labels, rng.randint(2, 4))) for _ in labels]
    texts += [f"<answer>{label}</answer>" for label in labels]
    texts += [f"<answer>{w}</answer>" for w in WORDS] + [f"<answer>{n}</answer>" for n in range(11)]
    texts += list(WORDS) + [f" {w}" for w in WORDS]
    chat = [
        "<|im_start|>user\n",
        "<|im_end|>\n",
        "<|im_start|>assistant\n",
        "\n</think>\n\n",
        "</think>\n\n",
        "[]",
        "[[1, 2, 3, 4]]",
        "[[1, 2, 3, 4], [5, 6, 7, 8]]",
    ]
    numbers = [str(i) for i in range(MAX_NUMBER + 1)]
    return (texts + chat) * 8 + numbers * 4


def _check_mini_tokenizer(tok) -> None:
    """Raise RuntimeError unless every integer 0..MAX_NUMBER is one token, ``<answer>`` and
    ``</answer>`` are one token each, and every word of :data:`WORDS` is one token with one id
    everywhere: alone, after a space, in a grounding label, in a question, in an answer."""
    from dig_kit.prompts import VQA_ONE_TEMPLATE

    def ids(text: str) -> list[int]:
        return tok(text, add_special_tokens=False)["input_ids"]

    missing = [n for n in range(MAX_NUMBER + 1) if len(ids(str(n))) != 1]
    if missing:
        raise RuntimeError(
            f"mini tokenizer: {len(missing)} integers are not single tokens (e.g. {missing[:5]}); raise vocab_size"
        )
    tags = [t for t in ("<answer>", "</answer>") if len(ids(t)) != 1]
    if tags:
        raise RuntimeError(f"mini tokenizer: {tags} not single tokens")
    slots = {**{w: 0 for w in SIZES}, **{w: 1 for w in COLORS}, **{w: 2 for w in MATERIALS}, **{w: 3 for w in SHAPES}}
    failed = []
    for w in WORDS:
        alone = ids(w)
        if len(alone) != 1:
            failed.append(f"{w!r} is {len(alone)} tokens")
            continue
        label = w  # an answer word stands alone; an attribute word takes its place in "large red metal cube"
        if w in slots:
            parts = "large red metal cube".split()
            parts[slots[w]] = w
            label = " ".join(parts)
        contexts = {
            "after a space": " " + w,
            "in a label": f'[{{"bbox_2d": [12, 34, 56, 78], "label": "{label}"}}]',
            "in a question": VQA_ONE_TEMPLATE.format(thing=label),
            "in an answer": f"<answer>{w}</answer>",
        }
        for where, text in contexts.items():
            got = ids(text)
            if alone[0] not in got or tok.decode(got) != text:
                failed.append(f"{w!r} {where} ({text!r}: {tok.convert_ids_to_tokens(got)})")
    if failed:
        raise RuntimeError(
            f"mini tokenizer: words not one consistent token: {'; '.join(failed[:5])} "
            "(raise vocab_size, or check PRE_TOKENIZER_PATTERN)"
        )


def build_mini_tokenizer(vocab_size: int = 3072):
    """The compact tokenizer (see the module docstring), with Qwen's special tokens and chat template."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRE_TOKENIZER_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS + THINK_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
        max_token_length=None,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:],
        chat_template=CHAT_TEMPLATE,
    )
    fast.padding_side = "left"
    _check_mini_tokenizer(fast)
    return fast


def number_token_ids(tokenizer, max_number: int = MAX_NUMBER) -> list[int]:
    """Token id of each integer 0..max_number."""
    return [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(str(n))[0]) for n in range(max_number + 1)]


def _smooth_number_embeddings(n: int, dim: int, generator):
    """(n, dim): sinusoids of the value at scales 2..2000 through a fixed random projection."""
    import math

    import torch

    v = torch.arange(n, dtype=torch.float32)[:, None]
    scales = torch.logspace(math.log10(2.0), math.log10(2000.0), 16)
    feats = torch.cat([torch.sin(v * 2 * math.pi / scales), torch.cos(v * 2 * math.pi / scales)], dim=1)
    proj = torch.randn(feats.shape[1], dim, generator=generator) / math.sqrt(feats.shape[1])
    return feats @ proj


def build_mini_model(
    out_dir: str | Path,
    seed: int = 0,
    image_size: int = 128,
    text_width: int = TEXT_WIDTH,
    text_layers: int = TEXT_LAYERS,
    vision_width: int = 96,
    vision_depth: int = 2,
    patch: int = 8,
    merge: int = 2,
    overwrite: bool = True,
) -> Path:
    """Build and save the mini Qwen3-VL (model, tokenizer, processor files) into ``out_dir``.
    With ``overwrite=False`` an existing model there is kept."""
    out = Path(out_dir)
    if not overwrite and (out / "config.json").exists() and (out / "tokenizer.json").exists():
        return out
    import torch
    from transformers import Qwen2VLImageProcessor, Qwen3VLConfig, Qwen3VLForConditionalGeneration

    if image_size % (patch * merge):
        raise ValueError(f"image_size {image_size}: must be a multiple of {patch * merge}")
    tokenizer = build_mini_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    heads = max(2, text_width // HEAD_DIM)
    grid = image_size // patch
    config = Qwen3VLConfig(
        text_config=dict(
            vocab_size=len(tokenizer),
            hidden_size=text_width,
            intermediate_size=3 * text_width,
            num_hidden_layers=text_layers,
            num_attention_heads=heads,
            num_key_value_heads=max(1, heads // 2),
            head_dim=HEAD_DIM,
            max_position_embeddings=4096,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": [8, 4, 4],
                "mrope_interleaved": True,
            },
            tie_word_embeddings=True,
            pad_token_id=ids["<|endoftext|>"],
            bos_token_id=None,
            eos_token_id=ids["<|im_end|>"],
        ),
        vision_config=dict(
            depth=vision_depth,
            hidden_size=vision_width,
            intermediate_size=2 * vision_width,
            num_heads=max(2, vision_width // 32),
            patch_size=patch,
            spatial_merge_size=merge,
            temporal_patch_size=2,
            out_hidden_size=text_width,
            num_position_embeddings=grid * grid,
            deepstack_visual_indexes=[0],
        ),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = Qwen3VLForConditionalGeneration(config)
    emb = model.get_input_embeddings().weight
    with torch.no_grad():
        g = torch.Generator().manual_seed(seed)
        smooth = _smooth_number_embeddings(MAX_NUMBER + 1, text_width, g)
        smooth *= emb.std() / smooth.std()
        nums = torch.tensor(number_token_ids(tokenizer))
        emb[nums] = 0.5 * emb[nums] + smooth
    gen = model.generation_config
    gen.eos_token_id = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    gen.pad_token_id = ids["<|endoftext|>"]
    gen.suppress_tokens = vision_token_ids(tokenizer)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    Qwen2VLImageProcessor(
        patch_size=patch,
        merge_size=merge,
        temporal_patch_size=2,
        size={"shortest_edge": 16 * 16, "longest_edge": image_size * image_size},
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    ).save_pretrained(out)
    (out / "video_preprocessor_config.json").write_text(
        json.dumps(
            {
                "processor_class": "Qwen3VLProcessor",
                "video_processor_type": "Qwen3VLVideoProcessor",
                "patch_size": patch,
                "merge_size": merge,
                "temporal_patch_size": 2,
            },
            indent=2,
        )
    )
    (out / "processor_config.json").write_text(json.dumps({"processor_class": "Qwen3VLProcessor"}, indent=2))
    n_params = sum(p.numel() for p in model.parameters())
    (out / "README.md").write_text(
        f"# mini Qwen3-VL (dig_kit, profile mini)\n\nRandomly initialised, {n_params:,} parameters, built offline by "
        "`dig_kit.models.mini.build_mini_model`: Qwen3-VL's architecture at a small width, patch 8, a compact "
        "tokenizer. Not a pretrained model: the mini profile gives it a supervised warm start that stands in for "
        "Qwen3-VL's pretraining before the DiG curriculum.\n"
    )
    return out


def backbone_path(backbone: str) -> Path:
    """``shipped`` -> :data:`BACKBONE_DIR`; anything else is a path."""
    return BACKBONE_DIR if backbone == "shipped" else Path(backbone)


def prepare_mini_model(backbone: str, out_dir: str | Path, seed: int = 0, image_size: int = 128) -> Path:
    """The warm start's starting weights in ``out_dir``: a copy of ``backbone`` (``shipped`` or a
    checkpoint dir, with ``backbone.json`` saying where it came from), or, with an empty
    ``backbone``, a new mini model at random init. An existing copy of the same source is kept."""
    import shutil

    out = Path(out_dir)
    if not backbone:
        return build_mini_model(out, seed=seed, image_size=image_size, overwrite=False)
    src = backbone_path(backbone)
    if not (src / "config.json").exists():
        raise FileNotFoundError(f"mini backbone {backbone!r}: no checkpoint at {src}")
    source = {"backbone": backbone, "path": str(src)}
    marker = out / "backbone.json"
    if marker.exists() and json.loads(marker.read_text()) == source and (out / "config.json").exists():
        return out
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    (tmp / "backbone.json").write_text(json.dumps(source, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def widen_mini_model(src: str | Path, out_dir: str | Path, text_width: int, seed: int = 0) -> Path:
    """A copy of the mini checkpoint ``src`` whose text model is ``text_width`` wide (more heads
    of the same size, the MLP at three times the width, as :func:`build_mini_model`), computing
    the same function (Net2Net-style, Chen et al. 2016): the old weights keep their place, every
    new weight that writes to the residual stream (new rows of the embedding, of ``o_proj`` and
    ``down_proj``, of the vision mergers' output) starts at zero, so the new dimensions hold
    zeros; the new weights that read them start random, so the gradient reaches them; the
    RMSNorm weights are scaled by ``sqrt(old / new)`` (the root mean square now runs over the
    zeros too). The vision tower and the tokenizer are copied as they are. Raises ValueError
    where :func:`widen_error` names a problem."""
    import math
    import shutil

    import torch
    from transformers import Qwen3VLForConditionalGeneration

    src, out = Path(src), Path(out_dir)
    model = Qwen3VLForConditionalGeneration.from_pretrained(src, dtype=torch.float32)
    tc = model.config.text_config
    old, hd = tc.hidden_size, tc.head_dim
    why = widen_error(old, text_width)
    if why:
        raise ValueError(f"widen to {why}")
    config = model.config.__class__.from_dict(model.config.to_dict())
    heads = text_width // hd
    for key, value in dict(
        hidden_size=text_width,
        intermediate_size=3 * text_width,
        num_attention_heads=heads,
        num_key_value_heads=heads // (tc.num_attention_heads // tc.num_key_value_heads),
    ).items():
        setattr(config.text_config, key, value)
    config.vision_config.out_hidden_size = text_width
    torch.manual_seed(seed)
    wide = Qwen3VLForConditionalGeneration(config)
    before, after = model.state_dict(), wide.state_dict()
    scale = math.sqrt(old / text_width)
    if set(before) != set(after):
        raise RuntimeError(
            f"widen: the wider model's parameters differ in name: {sorted(set(before) ^ set(after))[:4]}"
        )
    writes = (
        "embed_tokens.weight",
        "lm_head.weight",
        "o_proj.weight",
        "down_proj.weight",
        "linear_fc2.weight",
        "linear_fc2.bias",
    )
    with torch.no_grad():
        for name, new in after.items():
            w = before[name]
            if w.shape == new.shape:  # the vision tower, q_norm / k_norm (per head): as they were
                new.copy_(w)
            elif name.endswith("norm.weight"):  # the text model's RMSNorms: over the zeros too now
                new.fill_(float(w.mean()) * scale)
                new[: w.shape[0]] = w * scale
            else:
                if name.endswith(writes):
                    new.zero_()  # writes to the new dimensions: nothing yet
                if w.ndim == 1:
                    new[: w.shape[0]] = w
                else:
                    new[: w.shape[0], : w.shape[1]] = w
    wide.load_state_dict(after)
    wide.generation_config = model.generation_config
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    # tokenizer and processor files; not the weights, optimizer state or the source's card and logs
    skip = ("model.safetensors", "*.pt", "state.json", "metrics.jsonl", "pretrain.json", "backbone.json", "README.md")
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns(*skip, "widened.json"))
    wide.save_pretrained(tmp)
    (tmp / "widened.json").write_text(json.dumps({"from": str(src), "text_width": [old, text_width]}, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out
