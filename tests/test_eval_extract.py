"""Answer extraction: tables of real-looking model outputs (dig_kit.evaluation.extract).

Each case's comment names the reference behaviour it mirrors: VLMEvalKit's exact matching
(``vlmeval/utils/matching_util.py`` ``can_infer``; ``vlmeval/dataset/utils/yorn.py``
``YOrN_Extraction``) for the default protocol, or the kit's own lenient fallback."""

from __future__ import annotations

import pytest

from dig_kit.evaluation.extract import (
    can_infer,
    detect_thinking,
    extract_option,
    extract_yes_no,
    final_answer,
    match_option,
    match_yes_no,
    normalize_vqa_answer,
    process_punctuation,
    split_thinking,
    vqa_accuracy,
)

THINK = "Let me look. The cup is left of the plate, and the answer might be B or C. "

SPLIT = [
    # (raw output, thinking, finish_reason, expected answer, expected truncation reason)
    (THINK + "</think>\n\nC", True, "stop", "C", None),  # Qwen3-VL-Thinking: the template opened <think>
    ("<think>" + THINK + "</think>The answer is B.", None, None, "The answer is B.", None),  # tags in the output
    (THINK + "</think>first</think>  second ", True, None, "second", None),  # the last </think> counts
    (THINK + "< /think >yes", True, None, "yes", None),  # spacing variants (Qwen2.5-VL-32B writes them)
    (
        THINK + "</think><answer>A</answer> because red",
        True,
        None,
        "<answer>A</answer> because red",
        None,
    ),  # as written
    (THINK + "so the answer is", True, "stop", "", "no_think_end"),  # template opened <think>, never closed
    (THINK + "so the answer is", None, "length", "", "length"),  # backend: stopped by max_new_tokens
    (THINK + "</think>The answer is", None, "length", "", "length"),  # cut after </think>: incomplete answer
    ("<think>" + THINK, None, None, "", "unclosed_think"),  # opened <think> itself and never closed it
    ("B", None, None, "B", None),  # no tags, template unknown: its own answer (not decided per file)
    ("B", False, None, "B", None),  # a model whose template opens no <think>: the whole output
    ("B", True, None, "", "no_think_end"),  # --thinking yes: an output without </think> never answered
    ("", True, None, "", "no_think_end"),
    (None, False, None, "", None),  # not a string: nothing to read (unparsed, not truncated)
]


@pytest.mark.parametrize("raw,thinking,finish,answer,why", SPLIT)
def test_split_thinking(raw, thinking, finish, answer, why):
    assert split_thinking(raw, thinking, finish) == (answer, why)


FINAL = [
    # lenient final answer: split_thinking, then <answer> narrowing (the kit's own rule)
    (THINK + "</think><answer>A</answer> because red", True, "A", False),
    (THINK + "so the answer is", True, "", True),
    ("B", False, "B", False),
]


@pytest.mark.parametrize("raw,thinking,answer,truncated", FINAL)
def test_final_answer(raw, thinking, answer, truncated):
    assert final_answer(raw, thinking) == (answer, truncated)


def test_detect_thinking():
    assert detect_thinking(["abc", "x</think>A"])
    assert not detect_thinking(["A", "B", None])


OPTS = {"A": "red", "B": "green", "C": "blue", "D": "yellow"}  # texts total 18 chars: text match up to 36
OPTION_CASES = [
    # (answer, vlmevalkit (letter, rule), lenient letter)
    ("B", ("B", "option_letter"), "B"),  # can_infer_option: a lone letter word
    ("B.", ("B", "option_letter"), "B"),  # can_infer_option: "." becomes a space
    ("(C) blue", ("C", "option_letter"), "C"),  # can_infer_option: "()" become spaces
    ("The answer is C.", ("C", "option_letter"), "C"),  # can_infer_option: letter among the last 4 words
    ("Answer: D", ("D", "option_letter"), "D"),
    ("**A**", ("A", "option_letter"), "A"),  # can_infer_option: "*" becomes a space
    ("\\boxed{B}", ("B", "option_letter"), "B"),  # can_infer_option: "{}" become spaces
    ("I think it's C, the blue one.", ("C", "option_letter"), "C"),  # index 3 > 7 - 5
    ("It is blue.", ("C", "option_text"), "C"),  # can_infer_text: the one option text in a short answer
    ("A and C both look plausible, but the answer is C", ("C", "answer_is"), "C"),  # two letters: _VERBOSE_ANSWER_RE
    ("The answer is b", ("B", "answer_is"), "B"),  # VLMEvalKit's newer case-insensitive "answer is X"
    ("the answer is blue", ("B", "answer_is"), "B"),  # VLMEvalKit quirk kept: "answer is b(lue)" reads B
    ("Option B is tempting, but it is not correct here at all", (None, "unparsed"), "B"),  # B not in the last words
    ("A. red, because the apple is ripe and red", (None, "unparsed"), "A"),  # too long for can_infer_text (41 > 36)
    ("C. The cube is blue; A and B are wrong.", (None, "unparsed"), "C"),  # 3 letters; lenient: the leading letter
    ("Cannot determine the answer", (None, "refusal"), None),  # VLMEvalKit's refusal list: Z
    ("Z", (None, "refusal"), None),  # a bare Z: VLMEvalKit's "no answer"
    ("None of the options fits.", (None, "unparsed"), None),
    ("I see a cat.", (None, "unparsed"), None),
    ("", (None, "unparsed"), None),
    ("E", (None, "unparsed"), None),  # not an option of this item
]


@pytest.mark.parametrize("answer,exact,lenient", OPTION_CASES)
def test_match_option(answer, exact, lenient):
    assert match_option(answer, OPTS) == exact
    assert extract_option(answer, OPTS) == exact[0]
    assert extract_option(answer, OPTS, "lenient") == lenient


SHORT_OPTIONS = [
    # (options, answer, vlmevalkit letter): the length limit of can_infer_text (issue 13, cause 2)
    ({"A": "Yes", "B": "No"}, "I cannot tell which way the dog is facing", None),  # "no" in "cannot": too long
    ({"A": "2", "B": "3"}, "There are 12 apples in the picture", None),  # "2" in "12": too long (limit 4)
    ({"A": "2", "B": "3"}, "12", "A"),  # short enough: VLMEvalKit does read "2" inside "12"
    ({"A": "Yes", "B": "No"}, "no", "B"),  # lower-case text match
]


@pytest.mark.parametrize("options,answer,letter", SHORT_OPTIONS)
def test_text_match_length_limit(options, answer, letter):
    assert extract_option(answer, options) == letter


def test_can_infer_matches_vlmevalkit():
    assert can_infer("B", OPTS) == "B"
    assert can_infer("The correct choice is (B)", OPTS) == "B"
    assert can_infer("A or B", OPTS) is False
    assert can_infer("greenish", OPTS) == "B"  # option text occurs in the answer
    assert can_infer("red or green", OPTS) is False
    assert can_infer("Z", OPTS) == "Z"
    assert can_infer("I can't process this file.", OPTS) == "Z"


YES_NO_CASES = [
    # (answer, vlmevalkit (label, rule), lenient label)
    ("Yes", ("yes", "yorn"), "yes"),  # YOrN_Extraction
    ("yes.", ("yes", "yorn"), "yes"),
    ("No, there is no dog in the image.", ("no", "yorn"), "no"),
    ("Yes, there is a bottle on the table.", ("yes", "yorn"), "yes"),
    ("Yes, there is no other bottle.", (None, "unparsed"), "yes"),  # both: Unknown; lenient: the first word
    ("There is no bottle, so yes the statement is false", (None, "unparsed"), None),  # both, neither leads
    ("There is a bottle.", (None, "unparsed"), None),  # neither: Unknown
    ("I cannot say", (None, "unparsed"), None),  # "no" inside "cannot" is no word
    ("NO", ("no", "yorn"), "no"),  # lower-cased first
    ("\\boxed{Yes}", ("yes", "yorn"), "yes"),  # punctuation processing splits "\\boxed{yes}"
    ("", (None, "unparsed"), None),
]


@pytest.mark.parametrize("answer,exact,lenient", YES_NO_CASES)
def test_match_yes_no(answer, exact, lenient):
    assert match_yes_no(answer) == exact
    assert extract_yes_no(answer) == exact[0]
    assert extract_yes_no(answer, "lenient") == lenient


VQA_NORMALIZATION = [
    ("Two", "2"),
    ("The Stop sign.", "stop sign"),
    ("a cat!", "cat"),
    ("dont", "don't"),
    ("1,000", "1000"),  # digit-comma-digit: commas dropped
    ("coca-cola", "coca cola"),  # a hyphen not next to a space becomes a space
    ("3.5", "3.5"),  # a period before a digit stays
    ("yes, it is", "yes it is"),
    ("  Hello\tWorld\n", "hello world"),
    ("It's open", "it 's open"),
]


@pytest.mark.parametrize("text,expected", VQA_NORMALIZATION)
def test_normalize_vqa_answer(text, expected):
    assert normalize_vqa_answer(text) == expected


def test_process_punctuation_quirks():
    assert process_punctuation("a - b") == "a  b"  # next to a space: deleted
    assert process_punctuation("a-b") == "a b"  # otherwise: a space
    assert process_punctuation("end.") == "end"


def test_vqa_accuracy_leave_one_out():
    # 3 of 10 humans said it: the 3 subsets leaving one of them out match 2 (2/3), the 7 others 3 (1)
    assert vqa_accuracy("stop", ["stop"] * 3 + ["go"] * 7) == pytest.approx((3 * 2 / 3 + 7) / 10)
    assert vqa_accuracy("stop", ["stop"] + ["go"] * 9) == pytest.approx(9 * (1 / 3) / 10)
    assert vqa_accuracy("Stop.", ["stop"] * 4 + ["go"] * 6) == 1.0  # 4 matches: full credit everywhere
    assert vqa_accuracy("two", ["2"] * 10) == 1.0  # normalisation on both sides
    assert vqa_accuracy("red", ["blue"] * 10) == 0.0


# A DiG-trained model writes "...</think>\n\n<answer>X</answer>". VLMEvalKit does not unwrap
# <answer>: its inference (vlmeval/inference.py, SPLIT_THINK) keeps the text after the last
# </think>, the Qwen3VLChat wrapper (vlmeval/vlm/qwen3_vl/model.py) only narrows to \boxed{}
# when post_process=True (off in the Qwen3-VL Thinking configs), and can_infer_option does not
# strip "<", ">" or "/", so "<answer>B</answer>" is one word with no letter. YOrN_Extraction's
# processPunctuation does turn "<", ">" and "/" into spaces, so yes/no reads through the tags.
DIG_OUTPUTS = [
    # (raw output, vlmevalkit option (letter, rule), lenient letter)
    ("<think>\nB is green.\n</think>\n\n<answer>B</answer>", (None, "unparsed"), "B"),  # one word "<answer>B</answer>"
    ("<think>\nhm\n</think>\n\n<answer> B </answer>", ("B", "option_letter"), "B"),  # spaces make B a word
    ("<think>\nhm\n</think>\n\n<answer>(B) green</answer>", ("B", "option_letter"), "B"),  # "()" become spaces
    ("<think>\nhm\n</think>\n\n<answer>green</answer>", ("B", "option_text"), "B"),  # can_infer_text: short enough
]


@pytest.mark.parametrize("raw,exact,lenient", DIG_OUTPUTS)
def test_dig_answer_tags_as_vlmevalkit(raw, exact, lenient):
    answer, why = split_thinking(raw, True)
    assert why is None
    assert match_option(answer, OPTS) == exact
    lenient_answer, _ = final_answer(raw, True)
    assert extract_option(lenient_answer, OPTS, "lenient") == lenient


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("<think>\nhm\n</think>\n\n<answer>yes</answer>", "yes"),  # processPunctuation: "<", ">", "/" to spaces
        ("<think>\nhm\n</think>\n\n<answer>No</answer>", "no"),
        ("<think>\nhm\n</think>\n\n<answer> no </answer>", "no"),  # " <" present: the marks are deleted instead
    ],
)
def test_dig_answer_tags_yes_no(raw, expected):
    answer, _ = split_thinking(raw, True)
    assert match_yes_no(answer) == (expected, "yorn")
