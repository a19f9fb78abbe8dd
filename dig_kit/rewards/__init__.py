"""Rewards for DiG and TWIN: parsing model output, Hungarian box matching, trl/EasyR1 adapters.

Pure: imports only the standard library, numpy and scipy (never torch, trl, bpy or vllm), so
the rewards can be tested, benchmarked and plugged into any trainer.

- :func:`dig_reward` / :func:`dig_reward_batch` / :func:`dig_reward_group`: the DiG reward
  (slides "Reward design"; alpha = 0.1 from supplement Table 5); see :mod:`.dig`.
- :func:`parse_boxes` / :func:`extract_answer`: robust parsing, never raises; see :mod:`.parsing`.
- :data:`COORD_FORMATS`, :func:`to_pixels`, :func:`scale_box`, :func:`box_iou`, :func:`iou_matrix`:
  box geometry, shared with the evaluation's grounding scorers; see :mod:`.geometry`.
- :func:`twin_reward`: TWIN's binary same-or-not and multi (count 0-3) reward; see :mod:`.twin`.
- :func:`make_trl_rewards` / :func:`make_twin_trl_reward`: trl ``GRPOTrainer`` reward functions.
- ``dig_kit/rewards/easyr1.py:compute_score``: the EasyR1 reward function (see :mod:`.easyr1`);
  TWIN's: ``dig_kit/rewards/easyr1_twin.py:compute_score`` (:mod:`.easyr1_twin`).
- the reward sanity studies and their figures live in :mod:`dig_kit.paper.reward_sanity`.
"""

from .dig import COMPONENTS, VARIANTS, DigRewardOptions, dig_reward, dig_reward_batch, dig_reward_group
from .easyr1 import compute_score as easyr1_compute_score
from .easyr1 import compute_twin_score as easyr1_compute_twin_score
from .easyr1 import make_ground_truth
from .geometry import COORD_FORMATS, box_iou, iou_matrix, scale_box, to_pixels
from .integrations import DigTrlReward, TwinTrlReward, make_trl_rewards, make_twin_trl_reward
from .matching import hungarian
from .parsing import extract_answer, parse_boxes
from .reference import dig_reward_reference
from .twin import parse_twin_answer, twin_reward, twin_reward_batch

__all__ = [
    "COMPONENTS",
    "COORD_FORMATS",
    "VARIANTS",
    "DigRewardOptions",
    "DigTrlReward",
    "TwinTrlReward",
    "box_iou",
    "dig_reward",
    "dig_reward_batch",
    "dig_reward_group",
    "dig_reward_reference",
    "easyr1_compute_score",
    "easyr1_compute_twin_score",
    "extract_answer",
    "hungarian",
    "iou_matrix",
    "make_ground_truth",
    "make_trl_rewards",
    "make_twin_trl_reward",
    "parse_boxes",
    "parse_twin_answer",
    "scale_box",
    "to_pixels",
    "twin_reward",
    "twin_reward_batch",
]
