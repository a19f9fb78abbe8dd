"""Rule-based answer extraction, the same for every benchmark of a kind. Pure; never raises.

Step 1, the final answer (:func:`final_answer`), supplement "Evaluation Configuration"
--------------------------------------------------------------------------------------
Thinking models write ``reasoning </think> answer``; only the text after the *last*
``</think>`` is the answer ("Think-Then-Answer"). An output of a thinking model with no
``</think>`` was cut off (it hit the token limit) before it answered: it is **truncated**,
scored as wrong and counted in the metrics' ``truncated``. Whether a model thinks is known at
generation time (its chat template's generation prompt opens ``<think>``) and recorded with
the predictions; for predictions made elsewhere ``thinking="auto"`` decides per file: a
thinking model when any output contains ``</think>``. A non-thinking model's whole output is
its answer, unless it opened ``<think>`` itself and never closed it (truncated as well).
Inside the final answer, ``<answer>...</answer>`` (the last one) and ``\\boxed{...}`` (the
last one) narrow it further.

Step 2, the kind of answer
--------------------------
- **Option letter** (:func:`extract_option`; MMBench, MMStar, AI2D, ScienceQA, HRBench,
  CV-Bench, V*, MMVP): VLMEvalKit's ``can_infer`` first, exactly:
  (a) ``can_infer_option``: replace each of ``.()[],:;!*#{}`` by a space, split on
  whitespace; if exactly one option letter occurs as a word, that is the answer ("B",
  "(B) table", "The answer is B."); a refusal phrase or a bare ``Z`` means "no answer";
  (b) ``can_infer_text``: otherwise, if exactly one option's text occurs in the answer
  (case-insensitive substring), that option.
  Where VLMEvalKit then asks an LLM judge (GPT) to map a free-form answer to an option, ours
  applies four deterministic rules instead, in order, and otherwise scores the item wrong
  (``unparsed``): the last ``answer is X`` / ``answer: X`` / ``option X`` statement; a letter
  that opens the answer (``"A. red, because ..."``, ``"(C) ..."``); an answer that is a lone
  letter in either case (``"(a)"``, as MMVP writes its options); a bold ``**X**``. Each
  letter must be one of the item's options.
- **Yes/no** (:func:`extract_yes_no`; POPE, MME, HallusionBench, VSR): VLMEvalKit's
  ``YOrN_Extraction``: lower-case, VQA punctuation processing, split into words; "yes" if
  ``yes`` occurs and ``no`` does not, "no" for the converse. Where both or neither occur
  VLMEvalKit asks an LLM judge; ours takes the first word of the answer if it is yes/no
  ("Yes, there is no other ..." -> yes), else unparsed (wrong).
- **Short answer** (TextVQA): the final answer text as written, normalised by the standard
  VQA answer processor (:func:`normalize_vqa_answer`) at scoring time.
- **Boxes** (RefCOCO family, DiG): :func:`dig_kit.rewards.parse_boxes` on the raw output (it
  reads after ``</think>`` and inside ``<answer>`` itself), in the model's coordinate
  convention.
- **Count / same-or-not** (TWIN FGVQA): :func:`dig_kit.rewards.parse_twin_answer`.
"""

from __future__ import annotations

import copy
import re
from typing import Mapping

from dig_kit.rewards.parsing import answer_segment

_THINK_END_RE = re.compile(r"<\s*/\s*think\s*>", re.IGNORECASE)
_THINK_OPEN_RE = re.compile(r"<\s*think\s*>", re.IGNORECASE)
_BOXED_RE = re.compile(r"\\boxed\{([^{}]*)\}")


def final_answer(text, thinking: bool = False) -> tuple[str, bool]:
    """``(answer, truncated)`` of a raw output: the text after the last ``</think>``, then the
    content of the last ``<answer>`` tag if any. ``truncated`` when a thinking output (or one
    that opened ``<think>``) never closed its reasoning; the answer is then ``""``."""
    if not isinstance(text, str):
        return "", bool(thinking)
    ends = list(_THINK_END_RE.finditer(text))
    last = ends[-1] if ends else None
    if last is not None:
        rest = text[last.end():]
    elif thinking or _THINK_OPEN_RE.search(text):
        return "", True
    else:
        rest = text
    seg, _tagged = answer_segment(rest)
    return seg.strip(), False


def detect_thinking(outputs) -> bool:
    """``thinking="auto"`` for predictions made elsewhere: any output closes ``</think>``."""
    return any(isinstance(o, str) and _THINK_END_RE.search(o) for o in outputs)


def unbox(answer: str) -> str:
    """The content of the last ``\\boxed{...}`` (models trained on math write it), else the answer."""
    found = _BOXED_RE.findall(answer or "")
    return found[-1].strip() if found else (answer or "")


# -- multiple choice (VLMEvalKit can_infer, then our deterministic fallbacks) -------------
_REFUSALS = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)
_OPTION_STRIP = ".()[],:;!*#{}"


def can_infer_option(answer: str, choices: Mapping[str, str]) -> str | bool:
    """VLMEvalKit ``can_infer_option``: the single option letter that occurs as a word; ``"Z"``
    for a refusal; ``False`` when none or several occur."""
    if "Failed to obtain answer via API" in answer:
        return False
    for err in _REFUSALS:
        if err in answer:
            return "Z"
    mod = copy.copy(answer)
    for c in _OPTION_STRIP:
        mod = mod.replace(c, " ")
    splits = [x.strip() for x in mod.split()]
    hits = [c for c in choices if c in splits]
    if len(hits) == 1:
        return hits[0]
    if not hits and "Z" in splits:
        return "Z"
    return False


def can_infer_text(answer: str, choices: Mapping[str, str]) -> str | bool:
    """VLMEvalKit ``can_infer_text``: the single option whose text occurs in the answer."""
    low = answer.lower()
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


def extract_option(answer: str, options: Mapping[str, str]) -> str | None:
    """The option letter of a final answer, or ``None`` (unparsed or refused: scored wrong).
    ``options`` maps letters (``"A"``...) to option texts. See the module docstring."""
    if not answer or not options:
        return None
    s = unbox(answer).strip()
    r = can_infer(s, options)
    if r:
        return r if r in options else None
    for m in reversed(list(_STATED_RE.finditer(s))):
        letter = m.group(1)
        if letter in options:  # upper case only: "answer is a cat" is no option
            return letter
    m = _LEADING_RE.match(s)
    if m and m.group(1) in options:
        return m.group(1)
    m = _LONE_LETTER_RE.match(s)
    if m and m.group(1).upper() in options:
        return m.group(1).upper()
    bold = [b for b in _BOLD_RE.findall(s) if b in options]
    if bold:
        return bold[-1]
    return None


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


def extract_yes_no(answer: str) -> str | None:
    """``"yes"``, ``"no"`` or ``None`` (unparsed: wrong). See the module docstring."""
    if not answer:
        return None
    s = unbox(answer)
    r = yorn_extraction(s)
    if r != "Unknown":
        return r.lower()
    words = process_punctuation(s.lower()).split()
    if words and words[0] in ("yes", "no"):
        return words[0]
    return None


# -- short answers: the VQA answer normalisation (TextVQA) -------------------------------
CONTRACTIONS = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've", "couldnt": "couldn't",
    "couldn'tve": "couldn't've", "couldnt've": "couldn't've", "didnt": "didn't", "doesnt": "doesn't",
    "dont": "don't", "hadnt": "hadn't", "hadnt've": "hadn't've", "hadn'tve": "hadn't've", "hasnt": "hasn't",
    "havent": "haven't", "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've", "hes": "he's", "howd": "how'd",
    "howll": "how'll", "hows": "how's", "Id've": "I'd've", "I'dve": "I'd've", "Im": "I'm", "Ive": "I've",
    "isnt": "isn't", "itd": "it'd", "itd've": "it'd've", "it'dve": "it'd've", "itll": "it'll", "let's": "let's",
    "maam": "ma'am", "mightnt": "mightn't", "mightnt've": "mightn't've", "mightn'tve": "mightn't've",
    "mightve": "might've", "mustnt": "mustn't", "mustve": "must've", "neednt": "needn't", "notve": "not've",
    "oclock": "o'clock", "oughtnt": "oughtn't", "ow's'at": "'ow's'at", "'ows'at": "'ow's'at", "'ow'sat": "'ow'sat",
    "shant": "shan't", "shed've": "she'd've", "she'dve": "she'd've", "she's": "she's", "shouldve": "should've",
    "shouldnt": "shouldn't", "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've", "somebody'd": "somebodyd",
    "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've", "somebodyll": "somebody'll",
    "somebodys": "somebody's", "someoned": "someone'd", "someoned've": "someone'd've", "someone'dve": "someone'd've",
    "someonell": "someone'll", "someones": "someone's", "somethingd": "something'd", "somethingd've": "something'd've",
    "something'dve": "something'd've", "somethingll": "something'll", "thats": "that's", "thered": "there'd",
    "thered've": "there'd've", "there'dve": "there'd've", "therere": "there're", "theres": "there's",
    "theyd": "they'd", "theyd've": "they'd've", "they'dve": "they'd've", "theyll": "they'll", "theyre": "they're",
    "theyve": "they've", "twas": "'twas", "wasnt": "wasn't", "wed've": "we'd've", "we'dve": "we'd've",
    "weve": "we've", "werent": "weren't", "whatll": "what'll", "whatre": "what're", "whats": "what's",
    "whatve": "what've", "whens": "when's", "whered": "where'd", "wheres": "where's", "whereve": "where've",
    "whod": "who'd", "whod've": "who'd've", "who'dve": "who'd've", "wholl": "who'll", "whos": "who's",
    "whove": "who've", "whyll": "why'll", "whyre": "why're", "whys": "why's", "wont": "won't",
    "wouldve": "would've", "wouldnt": "wouldn't", "wouldnt've": "wouldn't've", "wouldn'tve": "wouldn't've",
    "yall": "y'all", "yall'll": "y'all'll", "y'allll": "y'all'll", "yall'd've": "y'all'd've",
    "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've", "youd": "you'd", "youd've": "you'd've",
    "you'dve": "you'd've", "youll": "you'll", "youre": "you're", "youve": "you've",
}
NUMBER_MAP = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
              "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
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
