"""Answer extraction: tables of real-looking model outputs (dig_kit.evaluation.extract)."""

from __future__ import annotations

import pytest

from dig_kit.evaluation.extract import (
    can_infer,
    detect_thinking,
    extract_option,
    extract_yes_no,
    final_answer,
    normalize_vqa_answer,
    process_punctuation,
    vqa_accuracy,
)

THINK = "Let me look. The cup is left of the plate, and the answer might be B or C. "

FINAL = [
    # (raw output, thinking, expected answer, expected truncated)
    (THINK + "</think>\n\nC", True, "C", False),  # Qwen3-VL-Thinking: the template opened <think>
    ("<think>" + THINK + "</think>The answer is B.", False, "The answer is B.", False),
    (THINK + "</think>first</think>  second ", True, "second", False),  # the last </think> counts
    (THINK + "< /think >yes", True, "yes", False),  # spacing variants (Qwen2.5-VL-32B writes them)
    (THINK + "</think><answer>A</answer> because red", True, "A", False),  # <answer> narrows it
    (THINK + "so the answer is", True, "", True),  # cut off at max_new_tokens: wrong, truncated
    ("<think>" + THINK, False, "", True),  # opened <think> itself and never closed it
    ("B", False, "B", False),  # a non-thinking model: the whole output
    ("", True, "", True),
    (None, False, "", False),
]


@pytest.mark.parametrize("raw,thinking,answer,truncated", FINAL)
def test_final_answer(raw, thinking, answer, truncated):
    assert final_answer(raw, thinking) == (answer, truncated)


def test_detect_thinking():
    assert detect_thinking(["abc", "x</think>A"])
    assert not detect_thinking(["A", "B", None])


OPTS = {"A": "red", "B": "green", "C": "blue", "D": "yellow"}
OPTION_CASES = [
    ("B", "B"),
    ("B.", "B"),
    ("(C) blue", "C"),
    ("The answer is C.", "C"),
    ("Answer: D", "D"),
    ("**A**", "A"),
    ("\\boxed{B}", "B"),
    ("It is blue.", "C"),  # option text, VLMEvalKit can_infer_text
    ("A and C both look plausible, but the answer is C", "C"),  # our rule: the stated answer
    ("A. red, because the apple is ripe and red", "A"),
    ("C. The cube is blue; A and B are wrong.", "C"),  # our rule: the letter opening the answer
    ("Cannot determine the answer", None),  # a refusal (VLMEvalKit's Z): wrong
    ("None of the options fits.", None),
    ("I see a cat.", None),
    ("", None),
    ("E", None),  # not an option of this item
]


@pytest.mark.parametrize("answer,letter", OPTION_CASES)
def test_extract_option(answer, letter):
    assert extract_option(answer, OPTS) == letter


def test_can_infer_matches_vlmevalkit():
    assert can_infer("B", OPTS) == "B"
    assert can_infer("The correct choice is (B)", OPTS) == "B"
    assert can_infer("A or B", OPTS) is False
    assert can_infer("greenish", OPTS) == "B"  # option text occurs in the answer
    assert can_infer("red or green", OPTS) is False
    assert can_infer("Z", OPTS) == "Z"
    assert can_infer("I can't process this file.", OPTS) == "Z"


YES_NO_CASES = [
    ("Yes", "yes"),
    ("yes.", "yes"),
    ("No, there is no dog in the image.", "no"),
    ("Yes, there is a bottle on the table.", "yes"),
    ("Yes, there is no other bottle.", "yes"),  # both words: ours takes the leading one
    ("There is no bottle, so yes the statement is false", None),  # both, neither leads: unparsed
    ("There is a bottle.", None),
    ("NO", "no"),
    ("\\boxed{Yes}", "yes"),
    ("", None),
]


@pytest.mark.parametrize("answer,expected", YES_NO_CASES)
def test_extract_yes_no(answer, expected):
    assert extract_yes_no(answer) == expected


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
