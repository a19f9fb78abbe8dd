"""Prompt templates: DiG (supplement §6, verbatim) and TWIN (the TWIN paper).

The DiG template is the supplement's "Prompt for DiG Task" with the PDF extraction
artifacts undone (``$[x_{-1}, y_{-1}, x_{-2}, y_{-2}]$`` is ``[x1, y1, x2, y2]``; the bold
markers are kept as the model saw them). The two ``<image>`` placeholders are not part of
the text: images go into the chat message as their own content parts, before the text, which
the chat template turns into Qwen's vision tokens.

Stages 1 and 2 tell the model how many differences there are (supplement: "the model is
additionally informed of the number of differences"); the paper does not give the sentence,
ours is :data:`COUNT_HINT`, appended after the template. Stage 3 omits it.
"""

from __future__ import annotations

DIG_TEMPLATE = (
    "You will be given two separate images.\n"
    "- The first image is the 'before' version.\n"
    "- The second image is the 'after' version.\n"
    "Your task is to compare them and identify all 'changed regions'. Provide your answer as a JSON list of "
    "bounding boxes. All bounding boxes you provide must be on the **'before' (first) image**.\n\n"
    "Follow these rules: 1. **Item is Missing or Changed:** If an item from the 'before' image is **missing** or "
    "**looks different** (e.g., color, shape, state) in the 'after' image, box the **original item on the 'before' "
    "image**. 2. **Item is New:** If a **new item appears** in the 'after' image (in a previously empty spot), box "
    "the **corresponding empty area on the 'before' image**.\n\n"
    "Important: All coordinates must be relative to the **first ('before') image**. Use the format "
    "[x1, y1, x2, y2] with absolute pixel coordinates."
)

COUNT_HINT = "There {verb} exactly {n} {noun} between the two images."

TWIN_PAIR_TEMPLATE = (
    "You will be given two images. Do they show the same object instance (the very same physical objects, "
    "possibly seen from another viewpoint or under other lighting), or not? Look closely at shapes, colors, "
    "sizes, materials and the arrangement of the objects. Explain your reasoning, then give your final answer, "
    "yes or no, inside <answer></answer> tags."
)

TWIN_MULTI_TEMPLATE = (
    "You will be given four images: a reference image followed by three candidate images. How many of the three "
    "candidates show the same object instance as the reference (the very same physical objects, possibly seen "
    "from another viewpoint or under other lighting)? Explain your reasoning, then give your final answer, a "
    "number from 0 to 3, inside <answer></answer> tags."
)


GROUNDING_PROMPT = (
    "Locate every object in the image. Provide your answer as a JSON list of bounding boxes, one per object, "
    "in the format [x1, y1, x2, y2] with absolute pixel coordinates."
)
"""Single-image grounding (every object boxed): the skill a pretrained Qwen3-VL brings, taught
first by the ``mini`` profile's warm start (:mod:`dig_kit.train.warmstart`) and scored on the
held-out images by the ``dig_grounding`` task."""


VQA_ONE_TEMPLATE = "Is there a {thing} in the image? Answer yes or no inside <answer></answer> tags."
VQA_BOTH_TEMPLATE = "Is there a {thing} in both images? Answer yes or no inside <answer></answer> tags."
"""Yes/no questions about one image or two (``thing``: e.g. ``red cube``): general visual
question answering, which a pretrained Qwen3-VL also brings; the ``mini`` warm start mixes them
into its grounding phase so the model knows the ``<answer>`` format before TWIN, without ever
seeing a same-or-not question."""


LABELLED_GROUNDING_PROMPT = (
    "Locate every object in the image and name it. Provide your answer as a JSON list of objects, each with its "
    'bounding box "bbox_2d" [x1, y1, x2, y2] in absolute pixel coordinates and a "label" (size, color, material, '
    "shape)."
)
"""Grounding with names, answered in Qwen3-VL's own format:
``[{"bbox_2d": [12, 34, 56, 78], "label": "large red metal cube"}]`` (label: size, color,
material, shape, the words of :mod:`dig_kit.scenes.attributes`)."""

ATTRIBUTE_QUESTION_TEMPLATE = (
    "What are the size, color, material and shape of the object at {box}? Answer inside <answer></answer> tags."
)
"""One object's attributes (``box``: ``[x1, y1, x2, y2]``); answer e.g.
``<answer>large red metal cube</answer>``."""

COUNT_TEMPLATE = "How many objects are in the image? Answer with a number inside <answer></answer> tags."
"""Counting; answer e.g. ``<answer>3</answer>``."""


ANSWER_PREFIX = "</think>\n\n"
"""What the kit's trained models write before their answer: an empty thought (Qwen3-VL-Thinking's
``<think>`` is opened by the chat template's generation prompt)."""


def dig_prompt(num_differences: int | None = None) -> str:
    """The DiG instruction; with ``num_differences`` (stages 1-2) the count is stated."""
    if num_differences is None:
        return DIG_TEMPLATE
    n = int(num_differences)
    hint = COUNT_HINT.format(verb="is" if n == 1 else "are", n=n, noun="difference" if n == 1 else "differences")
    return f"{DIG_TEMPLATE}\n\n{hint}"


def chat_messages(text: str, num_images: int, question_first: bool = False) -> list[dict]:
    """A single-turn user message with ``num_images`` image parts, then the text (Qwen style);
    ``question_first``: the text, then the images (the image tokens then see the question)."""
    images = [{"type": "image"} for _ in range(num_images)]
    text_part = [{"type": "text", "text": text}]
    return [{"role": "user", "content": text_part + images if question_first else images + text_part}]
