"""The trl and EasyR1 adapters, called exactly the way trl 1.16 and EasyR1 call reward functions."""

from __future__ import annotations

import importlib.util
import json
import pickle
import sys
from collections import defaultdict
from pathlib import Path

import pytest

import dig_kit.rewards.easyr1 as easyr1_module
from dig_kit.paper.case_study import CASE_STUDY_BOXES, CASE_STUDY_OUTPUT
from dig_kit.rewards import dig_reward, make_ground_truth, make_trl_rewards, make_twin_trl_reward

GT = [[10, 10, 50, 50], [100, 100, 160, 140]]
COMPLETIONS = [
    "[[10, 10, 50, 50], [100, 100, 160, 140]]",  # perfect
    "<think>hmm</think><answer>[[10, 10, 50, 50]]</answer>",  # one miss
    "I do not know.",  # no valid answer
    "[[10, 10, 50, 25], [100, 100, 160, 140], [170, 170, 190, 190]]",  # loose + extra
]


def trl_call(func, completions, **columns):
    """Call a reward function with the keyword arguments trl 1.16's GRPOTrainer passes
    (``_calculate_rewards``): prompts, completions, completion_ids, columns, trainer_state,
    log_extra, log_metric. Returns the rewards and what was logged."""
    metrics, extra = defaultdict(list), defaultdict(list)
    rewards = func(
        prompts=["p"] * len(completions),
        completions=completions,
        completion_ids=[[1, 2]] * len(completions),
        **columns,
        trainer_state=None,
        log_extra=lambda column, values: extra[column].extend(values),
        log_metric=lambda name, value: metrics[name].append(value),
    )
    return rewards, metrics, extra


def dig_columns(n):
    return {"boxes": [GT] * n, "width": [200] * n, "height": [200] * n, "prompt_id": list(range(n))}


def test_trl_single_reward_matches_dig_reward_and_logs_components():
    funcs, weights = make_trl_rewards()
    assert weights == [1.0] and funcs[0].__name__ == "dig_reward"
    rewards, metrics, extra = trl_call(funcs[0], COMPLETIONS, **dig_columns(4))
    expected = [dig_reward(c, GT, (200, 200)) for c in COMPLETIONS]
    assert rewards == pytest.approx([e["overall"] for e in expected])
    assert all(isinstance(r, float) for r in rewards)
    for key in ("format", "f1", "miou", "precision", "recall", "accuracy", "num_pred"):
        assert metrics[f"dig/{key}"] == [pytest.approx(sum(e[key] for e in expected) / 4)]
    assert extra["dig_f1"] == pytest.approx([e["f1"] for e in expected])


def test_trl_conversational_completions():
    funcs, _ = make_trl_rewards()
    conv = [[{"role": "assistant", "content": c}] for c in COMPLETIONS]
    assert trl_call(funcs[0], conv, **dig_columns(4))[0] == trl_call(funcs[0], COMPLETIONS, **dig_columns(4))[0]


@pytest.mark.parametrize("variant", ["format", "format_iou", "format_f1", "format_iou_f1"])
def test_trl_split_components_reproduce_overall(variant):
    # one callable per component, trl sums them with reward_weights: must equal the overall reward
    funcs, weights = make_trl_rewards(split_components=True, variant=variant)
    assert [f.__name__ for f in funcs] == ["dig_format", "dig_f1", "dig_miou"]
    cols = dig_columns(4)
    per_func = [trl_call(f, COMPLETIONS, **cols)[0] for f in funcs]
    total = [sum(w * r[i] for w, r in zip(weights, per_func)) for i in range(4)]
    assert total == pytest.approx([dig_reward(c, GT, (200, 200), variant=variant)["overall"] for c in COMPLETIONS])


def test_trl_rows_without_boxes_get_none_and_json_boxes_are_read():
    funcs, _ = make_trl_rewards()
    cols = {"boxes": [json.dumps(GT), None], "width": [200, None], "height": [200, None]}
    rewards, _, _ = trl_call(funcs[0], COMPLETIONS[:2], **cols)
    assert rewards[0] == 1.0 and rewards[1] is None


def test_trl_reward_is_picklable_and_keeps_name():
    funcs, _ = make_trl_rewards(variant="format_f1")
    trl_call(funcs[0], COMPLETIONS, **dig_columns(4))  # fill the cache
    clone = pickle.loads(pickle.dumps(funcs[0]))
    assert clone.__name__ == "dig_reward"
    assert trl_call(clone, COMPLETIONS, **dig_columns(4))[0] == trl_call(funcs[0], COMPLETIONS, **dig_columns(4))[0]


def test_trl_twin_reward():
    func = make_twin_trl_reward()
    rewards, metrics, _ = trl_call(
        func, ["<answer>yes</answer>", "no", "<answer>2</answer>", "x"], answer=["yes", "yes", "2", None]
    )
    assert rewards == [1.0, 0.0, 1.0, None]
    assert metrics["twin/format"] == [1.0]


def _load_like_easyr1(path: Path):
    """EasyR1's FunctionRewardManager: spec_from_file_location('custom_reward_fn', path)."""
    spec = importlib.util.spec_from_file_location("custom_reward_fn", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["custom_reward_fn"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop("custom_reward_fn", None)
    return module


def test_easyr1_batch_interface():
    module = _load_like_easyr1(Path(easyr1_module.__file__))
    gt = make_ground_truth(GT, 200, 200)
    inputs = [{"response": c, "response_length": 10, "ground_truth": gt} for c in COMPLETIONS]
    scores = module.compute_score(inputs)
    assert len(scores) == 4
    for c, s in zip(COMPLETIONS, scores):
        assert {"overall", "format", "accuracy"} <= set(s)
        assert all(isinstance(v, float) for v in s.values())  # EasyR1 averages every key
        ref = dig_reward(c, GT, (200, 200))
        assert s["overall"] == pytest.approx(ref["overall"]) and s["accuracy"] == pytest.approx(ref["accuracy"])


def test_easyr1_options_sequential_mode_and_ground_truth_forms():
    # format_weight is EasyR1's name for alpha (reward_function_kwargs)
    item = {"response": COMPLETIONS[1], "response_length": 3, "ground_truth": {"boxes": GT, "image_size": [200, 200]}}
    s = easyr1_module.compute_score(item, format_weight=0.2)  # sequential mode: one dict in, one out
    assert s["overall"] == pytest.approx(dig_reward(COMPLETIONS[1], GT, (200, 200), alpha=0.2)["overall"])
    bare = easyr1_module.compute_score([{"response": CASE_STUDY_OUTPUT, "ground_truth": json.dumps(CASE_STUDY_BOXES)}])
    assert bare[0]["overall"] == 1.0
    with pytest.raises(ValueError):
        easyr1_module.compute_score([{"response": "x", "ground_truth": '{"boxes": [[1, 2, 3]]}'}])


def test_easyr1_twin():
    module = _load_like_easyr1(Path(easyr1_module.__file__))
    scores = module.compute_twin_score(
        [{"response": "<answer>no</answer>", "ground_truth": "no"}, {"response": "3", "ground_truth": "2"}]
    )
    assert [s["overall"] for s in scores] == [1.0, 0.0]
