"""Rule-based answer extraction, the same for every benchmark of a kind. Pure; never raises.

Two **protocols** (``Task.protocol``, ``--protocol``):

- ``vlmevalkit`` (the default): VLMEvalKit's exact-matching rules (``judge: exact_matching``),
  item by item: the final answer as below, then ``can_infer`` (MCQ) or ``YOrN_Extraction``
  (yes/no) on it as written. What they cannot read is wrong (``unparsed``), as VLMEvalKit
  scores it without a judge.
- ``lenient``: the same first, then the kit's own fallbacks where VLMEvalKit would ask an
  LLM judge (``<answer>``/``\\boxed{}`` narrowing, "answer is X", a leading or lone letter,
  a bold letter, yes/no from the first word). Numbers made with it are **not** comparable to
  published ones; it is an explicit option, never the default.
- ``judge``: exact matching as ``vlmevalkit``, then what it cannot read (``unparsed``) of a
  multiple-choice or yes/no answer goes to an LLM judge with VLMEvalKit's matching prompts
  (:mod:`dig_kit.evaluation.judge`), as VLMEvalKit does when given a judge model. Which
  judge model ran is up to the user's endpoint; its replies are cached.

Step 1, the final answer, per output (:func:`split_thinking`)
-------------------------------------------------------------
The answer is the text after the *last* ``</think>`` (spacing variants accepted). Without
one, an output is **truncated** (wrong, counted in ``truncated`` with its reason) when

- the backend reports it stopped by the length limit (``finish_reason == "length"``, which
  ``dig-kit evaluate`` records with each prediction): ``length``;
- it opened ``<think>`` itself and never closed it: ``unclosed_think``;
- the model's chat template opens ``<think>`` (``thinking=True``: recorded per prediction by
  ``evaluate``, or ``--thinking yes``) and it never closed it: ``no_think_end``.

Otherwise (no tags, a model whose template opens none, or unknown) the whole output is its
answer. This is decided per output, never per file: one ``</think>`` elsewhere in a file
changes nothing for the other outputs. An output cut by the length limit *after*
``</think>`` is truncated too (``length``): its answer may be incomplete.

This is VLMEvalKit's ``SPLIT_THINK`` (``vlmeval/inference.py``: the text after the last
``</think>``), plus the truncation rules. Like VLMEvalKit (its Qwen3-VL wrapper and its
matching), the default protocol does **not** unwrap ``<answer>...</answer>``: a DiG-trained
model's ``<answer>B</answer>`` is unparsed by ``can_infer`` (yes/no reads through the tags);
``lenient`` unwraps it, ``judge`` asks the judge.

Step 2, the kind of answer
--------------------------
- **Option letter** (:func:`match_option`; MMBench, MMStar, AI2D, ScienceQA, HRBench,
  CV-Bench, V*, MMVP): VLMEvalKit ``can_infer`` (``vlmeval/utils/matching_util.py``):
  (a) ``can_infer_option``: a refusal phrase gives ``Z`` (no answer); replace each of
  ``.()[],:;!*#{}`` by a space and split on whitespace; if exactly one option letter occurs
  as a word *and its first occurrence is among the last four words*
  (``index > len(words) - 5``), that letter (``option_letter``); if no option letter occurs
  but a ``Z`` does, no answer; else VLMEvalKit's case-insensitive
  ``(correct )?answer is **X**`` rule for X in A-D, the first such statement
  (``answer_is``; it also reads "the answer is blue" as B, a quirk kept on purpose);
  (b) ``can_infer_text``: unless the answer is longer than twice the total length of the
  option texts, the single option whose text occurs in it, case-insensitive
  (``option_text``).
- **Yes/no** (:func:`match_yes_no`; POPE, MME, HallusionBench, VSR): VLMEvalKit
  ``YOrN_Extraction``: lower-case, VQA punctuation processing, split into words; "yes" if
  ``yes`` occurs and ``no`` does not, "no" for the converse, else unparsed.
- **Short answer** (TextVQA): the final answer text, normalised by the standard VQA answer
  processor (:func:`normalize_vqa_answer`) at scoring time.
- **Boxes** (RefCOCO family): :func:`dig_kit.evaluation.boxes.extract_box` (VLMEvalKit's
  tolerant reading); DiG: :func:`dig_kit.rewards.parse_boxes`.
- **Count / same-or-not** (TWIN FGVQA): :func:`dig_kit.rewards.parse_twin_answer`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping

from dig_kit.rewards.parsing import answer_segment

PROTOCOLS = ("vlmevalkit", "lenient", "judge")

_THINK_END_RE = re.compile(r"<\s*/\s*think\s*>", re.IGNORECASE)
_THINK_OPEN_RE = re.compile(r"<\s*think\s*>", re.IGNORECASE)
_BOXED_RE = re.compile(r"\\boxed\{([^{}]*)\}")


def split_thinking(text, thinking: bool | None = None, finish_reason=None) -> tuple[str, str | None]:
    """``(answer, truncated)`` of one raw output: the text after the last ``</think>`` (or the
    whole output), and ``None`` or why it is truncated (``"length"``, ``"unclosed_think"``,
    ``"no_think_end"``; the answer is then ``""``). ``thinking``: does the model's template
    open ``<think>`` (``None``: unknown). See the module docstring, step 1."""
    if not isinstance(text, str):
        return "", ("length" if finish_reason == "length" else None)
    if finish_reason == "length":
        return "", "length"
    ends = list(_THINK_END_RE.finditer(text))
    if ends:
        return text[ends[-1].end() :].strip(), None
    if _THINK_OPEN_RE.search(text):
        return "", "unclosed_think"
    if thinking:
        return "", "no_think_end"
    return text.strip(), None


def final_answer(text, thinking: bool | None = False, finish_reason=None) -> tuple[str, bool]:
    """The lenient protocol's final answer: :func:`split_thinking`, then the content of the
    last ``<answer>`` tag if any. ``(answer, truncated)``."""
    answer, why = split_thinking(text, thinking, finish_reason)
    if why is not None:
        return "", True
    seg, _tagged = answer_segment(answer)
    return seg.strip(), False


def detect_thinking(outputs) -> bool:
    """Whether any output closes ``</think>`` (informational only: thinking is decided per output)."""
    return any(isinstance(o, str) and _THINK_END_RE.search(o) for o in outputs)


def unbox(answer: str) -> str:
    """The content of the last ``\\boxed{...}`` (models trained on math write it), else the answer."""
    found = _BOXED_RE.findall(answer or "")
    return found[-1].strip() if found else (answer or "")


# -- multiple choice: VLMEvalKit can_infer, then (lenient only) our fallbacks -------------
_REFUSALS = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)
_OPTION_STRIP = ".()[],:;!*#{}"
_VERBOSE_ANSWER_RE = re.compile(r"(?:correct\s+)?answer\s+is\s+\**([ABCD])\**", re.IGNORECASE)


def _option_rule(answer: str, choices: Mapping[str, str]) -> tuple[str | bool, str]:
    if "Failed to obtain answer via API" in answer:
        return False, "unparsed"
    for err in _REFUSALS:
        if err in answer:
            return "Z", "refusal"
    mod = copy.copy(answer)
    for c in _OPTION_STRIP:
        mod = mod.replace(c, " ")
    splits = [x.strip() for x in mod.split()]
    hits = [c for c in choices if c in splits]
    if len(hits) == 1:
        if splits.index(hits[0]) > len(splits) - 5:
            return hits[0], "option_letter"
    elif not hits and sum(1 for z in ("Z", "") if z in splits) == 1:
        return "Z", "refusal"
    m = _VERBOSE_ANSWER_RE.search(answer)
    if m and m.group(1).upper() in choices:
        return m.group(1).upper(), "answer_is"
    return False, "unparsed"


def can_infer_option(answer: str, choices: Mapping[str, str]) -> str | bool:
    """VLMEvalKit ``can_infer_option``: the letter, ``"Z"`` for a refusal, ``False`` otherwise."""
    return _option_rule(answer, choices)[0]


def can_infer_text(answer: str, choices: Mapping[str, str]) -> str | bool:
    """VLMEvalKit ``can_infer_text``: the single option whose text occurs in the answer
    (case-insensitive), unless the answer is longer than twice all option texts together."""
    low = answer.lower()
    if len(low) > 2 * sum(len(str(v)) for v in choices.values()):
        return False
    cands = [k for k, v in choices.items() if str(v).lower() in low]
    return cands[0] if len(cands) == 1 else False


def can_infer(answer: str, choices: Mapping[str, str]) -> str | bool:
    """VLMEvalKit ``can_infer``: option letter first, then option text."""
    answer = str(answer)
    return can_infer_option(answer, choices) or can_infer_text(answer, choices)


_STATED_RE = re.compile(r"(?:answer\s*(?:is|:)|option)\s*:?\s*\(?\*{0,2}([A-Z])\b", re.IGNORECASE)
_LEADING_RE = re.compile(r"^\s*\**\s*\(?([A-Z])(?:[.:)\]]|\s*$)")
_LONE_LETTER_RE = re.compile(r"^\(?([a-zA-Z])\)?\.?$")
_BOLD_RE = re.compile(r"\*\*\(?([A-Z])\)?[.:]?\*\*")


def _lenient_option(s: str, options: Mapping[str, str]) -> tuple[str | None, str]:
    for m in reversed(list(_STATED_RE.finditer(s))):
        if m.group(1) in options:  # upper case only: "answer is a cat" is no option
            return m.group(1), "lenient_stated"
    m = _LEADING_RE.match(s)
    if m and m.group(1) in options:
        return m.group(1), "lenient_leading"
    m = _LONE_LETTER_RE.match(s)
    if m and m.group(1).upper() in options:
        return m.group(1).upper(), "lenient_lone_letter"
    bold = [b for b in _BOLD_RE.findall(s) if b in options]
    if bold:
        return bold[-1], "lenient_bold"
    return None, "unparsed"


def match_option(answer: str, options: Mapping[str, str], protocol: str = "vlmevalkit") -> tuple[str | None, str]:
    """``(letter or None, rule)`` of a final answer; ``options`` maps letters to option texts.
    Rules: ``option_letter``, ``answer_is``, ``option_text`` (VLMEvalKit), ``refusal`` and
    ``unparsed`` (no answer), and with ``protocol="lenient"`` ``lenient_*``. See the module
    docstring."""
    if not isinstance(answer, str) or not answer.strip() or not options:
        return None, "unparsed"
    options = {str(k): str(v) for k, v in options.items()}
    lenient = protocol == "lenient"
    if lenient:
        seg, _ = answer_segment(answer)
        answer = unbox(seg).strip() or answer
    letter, rule = _option_rule(answer, options)
    if letter == "Z":
        return None, "refusal"
    if letter:
        return (letter, rule) if letter in options else (None, "unparsed")
    letter = can_infer_text(answer, options)
    if letter:
        return letter, "option_text"
    if lenient:
        return _lenient_option(answer.strip(), options)
    return None, "unparsed"


def extract_option(answer: str, options: Mapping[str, str], protocol: str = "vlmevalkit") -> str | None:
    """The option letter of a final answer, or ``None`` (unparsed or refused: scored wrong)."""
    return match_option(answer, options, protocol)[0]


# -- yes / no ---------------------------------------------------------------------------
_PUNCT = [";", r"/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"]
_COMMA_STRIP = re.compile(r"(\d)(,)(\d)")
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")


def process_punctuation(text: str) -> str:
    """The official VQA evaluation's ``processPunctuation`` (also VLMEvalKit's), quirks
    included: a mark next to a space (or any digit-comma-digit in the text) is deleted,
    otherwise replaced by a space; periods not followed by a digit are deleted (the original
    passes ``re.UNICODE`` as the *count* of ``sub``, so at most 32 of them)."""
    out = text
    for p in _PUNCT:
        if (p + " " in text or " " + p in text) or _COMMA_STRIP.search(text) is not None:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return _PERIOD_STRIP.sub("", out, re.UNICODE)


def yorn_extraction(answer: str) -> str:
    """VLMEvalKit ``YOrN_Extraction``: ``"Yes"``, ``"No"`` or ``"Unknown"``."""
    words = process_punctuation(answer.lower()).split()
    if "yes" in words and "no" not in words:
        return "Yes"
    if "yes" not in words and "no" in words:
        return "No"
    return "Unknown"


def match_yes_no(answer: str, protocol: str = "vlmevalkit") -> tuple[str | None, str]:
    """``("yes"|"no"|None, rule)``: VLMEvalKit ``YOrN_Extraction`` (rule ``yorn``); with
    ``protocol="lenient"`` also ``\\boxed{}``/``<answer>`` narrowing and the first word when
    both or neither occur (``lenient_first_word``). Otherwise ``unparsed``."""
    if not isinstance(answer, str) or not answer.strip():
        return None, "unparsed"
    lenient = protocol == "lenient"
    if lenient:
        seg, _ = answer_segment(answer)
        answer = unbox(seg) or answer
    r = yorn_extraction(answer)
    if r != "Unknown":
        return r.lower(), "yorn"
    if lenient:
        words = process_punctuation(answer.lower()).split()
        if words and words[0] in ("yes", "no"):
            return words[0], "lenient_first_word"
    return None, "unparsed"


def extract_yes_no(answer: str, protocol: str = "vlmevalkit") -> str | None:
    """``"yes"``, ``"no"`` or ``None`` (unparsed: wrong). See :func:`match_yes_no`."""
    return match_yes_no(answer, protocol)[0]


# -- short answers: the VQA answer normalisation (TextVQA) -------------------------------
CONTRACTIONS = {
    "aint": "ain't",
    "arent": "aren't",
    "cant": "can't",
    "couldve": "could've",
    "couldnt": "couldn't",
    "couldn'tve": "couldn't've",
    "couldnt've": "couldn't've",
    "didnt": "didn't",
    "doesnt": "doesn't",
    "dont": "don't",
    "hadnt": "hadn't",
    "hadnt've": "hadn't've",
    "hadn'tve": "hadn't've",
    "hasnt": "hasn't",
    "havent": "haven't",
    "hed": "he'd",
    "hed've": "he'd've",
    "he'dve": "he'd've",
    "hes": "he's",
    "howd": "how'd",
    "howll": "how'll",
    "hows": "how's",
    "Id've": "I'd've",
    "I'dve": "I'd've",
    "Im": "I'm",
    "Ive": "I've",
    "isnt": "isn't",
    "itd": "it'd",
    "itd've": "it'd've",
    "it'dve": "it'd've",
    "itll": "it'll",
    "let's": "let's",
    "maam": "ma'am",
    "mightnt": "mightn't",
    "mightnt've": "mightn't've",
    "mightn'tve": "mightn't've",
    "mightve": "might've",
    "mustnt": "mustn't",
    "mustve": "must've",
    "neednt": "needn't",
    "notve": "not've",
    "oclock": "o'clock",
    "oughtnt": "oughtn't",
    "ow's'at": "'ow's'at",
    "'ows'at": "'ow's'at",
    "'ow'sat": "'ow'sat",
    "shant": "shan't",
    "shed've": "she'd've",
    "she'dve": "she'd've",
    "she's": "she's",
    "shouldve": "should've",
    "shouldnt": "shouldn't",
    "shouldnt've": "shouldn't've",
    "shouldn'tve": "shouldn't've",
    "somebody'd": "somebodyd",
    "somebodyd've": "somebody'd've",
    "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll",
    "somebodys": "somebody's",
    "someoned": "someone'd",
    "someoned've": "someone'd've",
    "someone'dve": "someone'd've",
    "someonell": "someone'll",
    "someones": "someone's",
    "somethingd": "something'd",
    "somethingd've": "something'd've",
    "something'dve": "something'd've",
    "somethingll": "something'll",
    "thats": "that's",
    "thered": "there'd",
    "thered've": "there'd've",
    "there'dve": "there'd've",
    "therere": "there're",
    "theres": "there's",
    "theyd": "they'd",
    "theyd've": "they'd've",
    "they'dve": "they'd've",
    "theyll": "they'll",
    "theyre": "they're",
    "theyve": "they've",
    "twas": "'twas",
    "wasnt": "wasn't",
    "wed've": "we'd've",
    "we'dve": "we'd've",
    "weve": "we've",
    "werent": "weren't",
    "whatll": "what'll",
    "whatre": "what're",
    "whats": "what's",
    "whatve": "what've",
    "whens": "when's",
    "whered": "where'd",
    "wheres": "where's",
    "whereve": "where've",
    "whod": "who'd",
    "whod've": "who'd've",
    "who'dve": "who'd've",
    "wholl": "who'll",
    "whos": "who's",
    "whove": "who've",
    "whyll": "why'll",
    "whyre": "why're",
    "whys": "why's",
    "wont": "won't",
    "wouldve": "would've",
    "wouldnt": "wouldn't",
    "wouldnt've": "wouldn't've",
    "wouldn'tve": "wouldn't've",
    "yall": "y'all",
    "yall'll": "y'all'll",
    "y'allll": "y'all'll",
    "yall'd've": "y'all'd've",
    "y'alld've": "y'all'd've",
    "y'all'dve": "y'all'd've",
    "youd": "you'd",
    "youd've": "you'd've",
    "you'dve": "you'd've",
    "youll": "you'll",
    "youre": "you're",
    "youve": "you've",
}
NUMBER_MAP = {
    "none": "0",
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
ARTICLES = ("a", "an", "the")


def process_digit_article(text: str) -> str:
    """The official VQA ``processDigitArticle``: lower-case, number words to digits, drop
    articles, restore contractions."""
    words = [NUMBER_MAP.get(w, w) for w in text.lower().split()]
    words = [w for w in words if w not in ARTICLES]
    return " ".join(CONTRACTIONS.get(w, w) for w in words)


def normalize_vqa_answer(text: str) -> str:
    """The standard VQA answer normalisation as the TextVQA evaluators apply it to both the
    prediction and the ten human answers (EvalAI's ``EvalAIAnswerProcessor``, used by
    lmms-eval, LLaVA and the M4C evaluator): lower-case; drop ``,`` and ``?``; split ``'s``;
    newlines/tabs to spaces; :func:`process_punctuation`; :func:`process_digit_article`."""
    s = str(text).lower().replace(",", "").replace("?", "").replace("'s", " 's").strip()
    s = s.replace("\n", " ").replace("\t", " ").strip()
    return process_digit_article(process_punctuation(s))


def vqa_accuracy(prediction: str, answers) -> float:
    """VQA accuracy of one prediction against the human answers (10 for TextVQA): for each
    answer, ``min(1, #matches among the other answers / 3)``, averaged over the answers;
    both sides normalised by :func:`normalize_vqa_answer`."""
    gts = [normalize_vqa_answer(a) for a in answers]
    if not gts:
        return 0.0
    pred = normalize_vqa_answer(prediction)
    accs = []
    for i in range(len(gts)):
        matches = sum(1 for j, g in enumerate(gts) if j != i and g == pred)
        accs.append(min(1.0, matches / 3.0))
    return sum(accs) / len(accs)
