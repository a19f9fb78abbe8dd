"""EasyR1 reward module for TWIN (same or not): the DiG module's sibling, with TWIN's metadata.

    worker:
      reward:
        reward_function: /path/to/site-packages/dig_kit/rewards/easyr1_twin.py:compute_score

EasyR1 reads :data:`REWARD_TYPE` = ``"batch"`` and :data:`REWARD_NAME` = ``"twin"`` from this
file and calls :func:`compute_score` with the batch's inputs; ``ground_truth`` is ``"yes"`` /
``"no"`` (pair questions) or a count ``"0"``..``"3"`` (multi). Each output has ``overall`` =
``accuracy`` (1 if the final answer matches) and ``format`` (a valid answer was found), as
:func:`dig_kit.rewards.twin.twin_reward`. ``reward_function_kwargs: {task: pair}`` (or
``multi``) rejects labels of the other question type. Absolute imports only: EasyR1 loads the
file outside its package; ``dig_kit`` must be installed in its environment.
"""

from __future__ import annotations

from typing import Any

from dig_kit.rewards.easyr1 import compute_twin_score

REWARD_NAME = "twin"
"""Read by EasyR1's reward loader (its log line)."""
REWARD_TYPE = "batch"
"""Read by EasyR1's reward loader: ``compute_score`` gets the whole batch as a list."""


def compute_score(
    reward_inputs: list[dict[str, Any]] | dict[str, Any], task: str = "auto"
) -> list[dict[str, float]] | dict[str, float]:
    """EasyR1 reward function for TWIN: ``overall``, ``format`` and ``accuracy`` per input."""
    return compute_twin_score(reward_inputs, task)


main = compute_score
"""EasyR1's default function name (``reward_function`` given without ``:FUNCTION``)."""
