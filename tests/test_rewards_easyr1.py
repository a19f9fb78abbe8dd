"""The EasyR1 reward modules, loaded and called the way EasyR1's reward loader does.

EasyR1 (hiyouga/EasyR1): ``verl/workers/reward/config.py`` ``RewardConfig`` has the keys
``reward_function`` (``PATH:FUNCTION``, ``main`` without the colon), ``reward_function_kwargs``,
``skip_special_tokens`` and ``num_cpus``; ``verl/workers/reward/function.py``
``AutoRewardManager`` imports the file by path as module ``custom_reward_fn``, reads its
``REWARD_NAME`` (default ``"unknown"``) and ``REWARD_TYPE`` (default ``"batch"``), binds the
kwargs with ``functools.partial`` and, in batch mode, calls the function once with a list of
``{"response", "response_length", "ground_truth"}``; the reward is each score's ``overall`` and
every returned key is logged as a mean. :class:`EasyR1Loader` repeats that without torch.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
import textwrap
from collections import defaultdict
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import yaml

import dig_kit.rewards.easyr1 as easyr1_module
import dig_kit.rewards.easyr1_twin as easyr1_twin_module
from dig_kit.rewards import dig_reward, make_ground_truth, twin_reward

ROOT = Path(__file__).resolve().parents[1]
EASYR1_REWARD_KEYS = {"reward_function", "reward_function_kwargs", "skip_special_tokens", "num_cpus"}
GT = [[10, 10, 50, 50], [100, 100, 160, 140]]
COMPLETIONS = [
    "[[10, 10, 50, 50], [100, 100, 160, 140]]",  # perfect
    "<think>hmm</think><answer>[[10, 10, 50, 50]]</answer>",  # one miss
    "I do not know.",  # no valid answer
    "[[10, 10, 50, 25], [100, 100, 160, 140], [170, 170, 190, 190]]",  # loose + extra
]


class EasyR1Loader:
    """EasyR1's ``RewardConfig.post_init`` + ``AutoRewardManager`` (loading and dispatch)."""

    def __init__(self, reward_function: str, reward_function_kwargs: dict | None = None):
        if ":" not in reward_function:
            path, name = reward_function, "main"
        else:
            path, name = reward_function.rsplit(":", maxsplit=1)
        path = os.path.abspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"Reward function file {path} not found.")
        spec = importlib.util.spec_from_file_location("custom_reward_fn", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["custom_reward_fn"] = module
        try:
            spec.loader.exec_module(module)
        finally:
            sys.modules.pop("custom_reward_fn", None)  # (EasyR1 keeps it; a test should not)
        if not hasattr(module, name):
            raise AttributeError(f"Module {module} does not have function {name}.")
        self.module = module
        self.reward_fn = partial(getattr(module, name), **(reward_function_kwargs or {}))
        self.reward_name = getattr(module, "REWARD_NAME", "unknown")
        self.reward_type = getattr(module, "REWARD_TYPE", "batch")

    def compute_reward(self, responses: list[str], ground_truths: list) -> tuple[list[float], dict[str, float]]:
        inputs = [
            {"response": r, "response_length": len(r), "ground_truth": g} for r, g in zip(responses, ground_truths)
        ]
        if self.reward_type == "batch":
            scores = self.reward_fn(inputs)
        elif self.reward_type == "sequential":
            scores = [self.reward_fn(x) for x in inputs]
        else:
            raise ValueError(f"Unsupported reward type: {self.reward_type}.")
        metrics = defaultdict(list)
        for score in scores:
            for key, value in score.items():
                metrics[key].append(value)
        return [s["overall"] for s in scores], {k: float(np.mean(v)) for k, v in metrics.items()}


def _outside_the_package(module, tmp_path: Path) -> Path:
    """The module's file copied where no package surrounds it (EasyR1 imports it by path)."""
    copy = tmp_path / "elsewhere" / Path(module.__file__).name
    copy.parent.mkdir(parents=True)
    shutil.copy(module.__file__, copy)
    return copy


def test_dig_module_in_batch_mode(tmp_path):
    path = _outside_the_package(easyr1_module, tmp_path)
    loader = EasyR1Loader(f"{path}:compute_score", {"format_weight": 0.2})
    assert (loader.reward_type, loader.reward_name) == ("batch", "dig")
    gt = make_ground_truth(GT, 200, 200)
    rewards, metrics = loader.compute_reward(COMPLETIONS, [gt] * len(COMPLETIONS))
    expected = [dig_reward(c, GT, (200, 200), alpha=0.2)["overall"] for c in COMPLETIONS]
    assert rewards == pytest.approx(expected)
    assert rewards[0] == pytest.approx(1.0) and rewards[2] == 0.0
    assert {"overall", "format", "accuracy", "f1", "miou", "precision", "recall", "num_pred"} == set(metrics)
    assert metrics["overall"] == pytest.approx(np.mean(expected))


def test_without_a_function_name_easyr1_calls_main(tmp_path):
    path = _outside_the_package(easyr1_module, tmp_path)
    rewards, _ = EasyR1Loader(str(path)).compute_reward(COMPLETIONS[:1], [make_ground_truth(GT, 200, 200)])
    assert rewards == pytest.approx([1.0])


def test_twin_module_in_batch_mode(tmp_path):
    path = _outside_the_package(easyr1_twin_module, tmp_path)
    loader = EasyR1Loader(f"{path}:compute_score")
    assert (loader.reward_type, loader.reward_name) == ("batch", "twin")
    cases = [
        ("<answer>no</answer>", "no"),
        ("They differ. <answer>yes</answer>", "no"),
        ("2", "2"),
        ("none", "0"),
        ("I cannot tell.", "yes"),
    ]
    rewards, metrics = loader.compute_reward([c for c, _ in cases], [y for _, y in cases])
    assert rewards == [twin_reward(c, y)["overall"] for c, y in cases] == [1.0, 0.0, 1.0, 1.0, 0.0]
    assert metrics["format"] == pytest.approx(0.8)
    # the documented function name in the DiG module gives the same scores
    same = EasyR1Loader(f"{_outside_the_package(easyr1_module, tmp_path / 'dig')}:compute_twin_score")
    assert same.compute_reward([c for c, _ in cases], [y for _, y in cases])[0] == rewards


def _reward_keys_in(doc: str) -> set[str]:
    """The keys of the ``worker: reward:`` YAML block in a docstring."""
    m = re.search(r"^( *)worker:\n(?:\1 .*\n)+", doc, re.M)
    assert m, "the docstring shows EasyR1's worker.reward config"
    block = yaml.safe_load(textwrap.dedent(m.group(0)))
    return set(block["worker"]["reward"])


@pytest.mark.parametrize("module", [easyr1_module, easyr1_twin_module])
def test_documented_config_is_what_easyr1_accepts(module):
    keys = _reward_keys_in(module.__doc__)
    assert "reward_function" in keys and keys <= EASYR1_REWARD_KEYS, keys - EASYR1_REWARD_KEYS
    target = yaml.safe_load(textwrap.dedent(re.search(r"^( *)worker:\n(?:\1 .*\n)+", module.__doc__, re.M).group(0)))[
        "worker"
    ]["reward"]["reward_function"]
    file, func = target.rsplit(":", 1)
    assert file.endswith(f"dig_kit/rewards/{Path(module.__file__).name}") and callable(getattr(module, func))


def test_readme_names_only_keys_easyr1_accepts():
    readme = (ROOT / "README.md").read_text()
    bullet = re.search(r"^- \*\*EasyR1\*\*:.*?(?=^- )", readme, re.S | re.M).group(0)
    keys = set(re.findall(r"worker\.reward\.(\w+)", bullet))
    assert "reward_function" in keys and keys <= EASYR1_REWARD_KEYS, keys - EASYR1_REWARD_KEYS
    for module in (easyr1_module, easyr1_twin_module):
        assert f"dig_kit/rewards/{Path(module.__file__).name}:compute_score" in bullet


def test_wrong_inputs_and_options_name_the_field(tmp_path):
    fn = EasyR1Loader(f"{_outside_the_package(easyr1_module, tmp_path)}:compute_score").module.compute_score
    gt = make_ground_truth(GT, 200, 200)
    with pytest.raises(ValueError, match=r"reward input 1 has no 'ground_truth'.*data\.answer_key"):
        fn([{"response": "x", "ground_truth": gt}, {"response": "x", "answer": gt}])
    with pytest.raises(ValueError, match="reward input 0 has no 'response'"):
        fn([{"text": "x", "ground_truth": gt}])
    with pytest.raises(ValueError, match=r"reward input 1: ground_truth is not JSON"):
        fn([{"response": "x", "ground_truth": gt}, {"response": "x", "ground_truth": "[[1, 2"}])
    with pytest.raises(ValueError, match=r"reward input 0: ground_truth must hold a list of \[x1, y1, x2, y2\]"):
        fn([{"response": "x", "ground_truth": '{"boxes": [[1, 2, 3]]}'}])
    with pytest.raises(TypeError, match=r"unknown DiG reward option\(s\) \['format_weigth'\]"):
        fn([{"response": "x", "ground_truth": gt}], format_weigth=0.1)
    with pytest.raises(TypeError, match="reward_inputs must be a list of dicts"):
        fn("x")
    twin = EasyR1Loader(f"{_outside_the_package(easyr1_twin_module, tmp_path / 't')}:compute_score").module
    with pytest.raises(ValueError, match="reward input 0: ground_truth: TWIN label must be yes/no"):
        twin.compute_score([{"response": "yes", "ground_truth": "maybe"}])
    # sequential mode (EasyR1's other mode): one dict in, one dict out
    assert fn({"response": COMPLETIONS[0], "ground_truth": gt})["overall"] == pytest.approx(1.0)
