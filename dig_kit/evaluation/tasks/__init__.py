"""The benchmark registry: ``get_task(name)`` by name, ``task_names()`` lists them.

| group | names |
|---|---|
| perception (Table 1) | hallusionbench, hrbench8k, pope, vstar, vsr, cvbench, mmvp |
| general (Table 2) | mmbench_dev_en, mmvet, mmstar, scienceqa_img, textvqa_val, mme, ai2d_test |
| grounding (Table 3) | refcoco_val, refcoco_testa, refcoco_testb, refcoco+_val, refcoco+_testa, refcoco+_testb, refcocog_val, refcocog_test; refcoco_all, refcoco+_all, refcocog_all (every split, per split + macro/micro) |
| dig | dig_eval (the held-out split of a rendered DiG dataset), dig_grounding (every object of its before images) |
| twin | fgvqa |

Names are case-insensitive; common spellings are aliases (``HallusionBench``, ``HRBench8K``,
``MMBench_DEV_EN``, ``ScienceQA_TEST``, ``TextVQA_VAL``, ``AI2D_TEST``, ``V*``, ``CV-Bench``...).
"""

from __future__ import annotations

import copy

from .base import Task
from .dig import TASKS as _DIG
from .general import TASKS as _GENERAL
from .grounding import TASKS as _GROUNDING
from .perception import TASKS as _PERCEPTION

REGISTRY: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Add a task (a :class:`Task` instance) under its ``name``."""
    key = task.name.lower()
    if key in REGISTRY:
        raise ValueError(f"task {task.name!r} is registered twice")
    REGISTRY[key] = task
    return task


for _t in _PERCEPTION + _GENERAL + _GROUNDING + _DIG:
    register(_t)

ALIASES = {
    "halbench": "hallusionbench", "hrbench": "hrbench8k", "hrbench_8k": "hrbench8k", "hrb8k": "hrbench8k",
    "v*": "vstar", "vstarbench": "vstar", "vstar_bench": "vstar", "vsr_zeroshot": "vsr", "cv-bench": "cvbench",
    "cv_bench": "cvbench", "mmbench": "mmbench_dev_en", "mmbench_dev_en_v11": "mmbench_dev_en", "mm-vet": "mmvet",
    "scienceqa": "scienceqa_img", "scienceqa_test": "scienceqa_img", "sqa": "scienceqa_img", "textvqa": "textvqa_val",
    "ai2d": "ai2d_test", "refcoco": "refcoco_val", "refcoco+": "refcoco+_val", "refcocoplus_val": "refcoco+_val",
    "refcocog": "refcocog_val", "dig": "dig_eval", "twin_fgvqa": "fgvqa",
}


def task_names(group: str | None = None) -> list[str]:
    return [n for n, t in REGISTRY.items() if group is None or t.group == group]


def get_task(name: str, **options) -> Task:
    """A copy of the registered task ``name`` with ``options`` set (e.g. ``coord_format``);
    ``KeyError`` naming the known tasks otherwise."""
    key = str(name).lower()
    key = ALIASES.get(key, key)
    if key not in REGISTRY:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(REGISTRY)}")
    task = copy.copy(REGISTRY[key])
    for k, v in options.items():
        if v is None:
            continue
        if not hasattr(task, k):
            raise KeyError(f"benchmark {task.name!r} has no option {k!r}")
        setattr(task, k, v)
    return task


__all__ = ["REGISTRY", "Task", "get_task", "register", "task_names"]
