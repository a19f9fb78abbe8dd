"""The benchmark registry: ``get_task(name)`` by name, ``task_names()`` lists them.

| group | names |
|---|---|
| perception (Table 1) | hallusionbench, hrbench8k, pope, vstar, vsr, cvbench, mmvp |
| general (Table 2) | mmbench_dev_en, mmvet, mmstar, scienceqa_img, textvqa_val, mme, ai2d_test |
| grounding (Table 3) | refcoco_val, refcoco_testa, refcoco_testb, refcoco+_val, refcoco+_testa, refcoco+_testb, |
| | refcocog_val, refcocog_test; refcoco_all, refcoco+_all, refcocog_all (every split, per split |
| | + macro/micro); refcoco (VLMEvalKit's RefCOCO: every split of its file, its "Average") |
| dig | dig_eval (the held-out split of a rendered DiG dataset), dig_grounding (every object of its before images) |
| twin | fgvqa |

Names are case-insensitive (a space reads as ``_``: ``RefCOCO val`` is ``refcoco_val``);
common spellings are aliases (``V*``, ``CV-Bench``, ``MM-Vet``, ``SQA``...; ``RefCOCO+`` and
``RefCOCOg`` name every split of their dataset). **VLMEvalKit's dataset names are accepted as
they are** (:data:`VLMEVALKIT_DATASETS`): each scores that dataset's own file
(``<name>.tsv``, as VLMEvalKit stores it, found first under a data root) the way VLMEvalKit
does. Most are a task's own name (``POPE`` is ``pope``); those naming one variant of a
benchmark are tasks of their own: ``MMBench_DEV_EN_V11`` and ``AI2D_TEST_NO_MASK`` (their own
file only), ``CV-Bench-2D`` and ``CV-Bench-3D`` (that half alone, plain accuracy), and
``RefCOCO`` (:class:`.grounding.VLMEvalKitRefCOCO`).
"""

from __future__ import annotations

import copy
import re

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
    "halbench": "hallusionbench",
    "hrbench": "hrbench8k",
    "hrbench_8k": "hrbench8k",
    "hrb8k": "hrbench8k",
    "v*": "vstar",
    "vstar_bench": "vstar",
    "vsr_zeroshot": "vsr",
    "cv-bench": "cvbench",
    "cv_bench": "cvbench",
    "mmbench": "mmbench_dev_en",
    "mm-vet": "mmvet",
    "scienceqa": "scienceqa_img",
    "sqa": "scienceqa_img",
    "textvqa": "textvqa_val",
    "ai2d": "ai2d_test",
    "refcoco+": "refcoco+_all",
    "refcocoplus": "refcoco+_all",
    "refcocog": "refcocog_all",
    "refcocoplus_val": "refcoco+_val",
    "refcocoplus_testa": "refcoco+_testa",
    "refcocoplus_testb": "refcoco+_testb",
    "dig": "dig_eval",
    "twin_fgvqa": "fgvqa",
}

VLMEVALKIT_DATASETS: dict[str, tuple[str, dict]] = {
    # VLMEvalKit's dataset name (vlmeval/dataset/*.py): (the kit's task, its options for that dataset)
    "HallusionBench": ("hallusionbench", {}),
    "HRBench8K": ("hrbench8k", {}),
    "POPE": ("pope", {}),
    "VStarBench": ("vstar", {}),
    "VSR-zeroshot": ("vsr", {}),
    "CV-Bench-2D": ("cvbench", {"subset": "2D", "headline": "accuracy"}),
    "CV-Bench-3D": ("cvbench", {"subset": "3D", "headline": "accuracy"}),
    "MMVP": ("mmvp", {}),
    "MMBench_DEV_EN": ("mmbench_dev_en", {}),
    "MMBench_DEV_EN_V11": ("mmbench_dev_en", {}),
    "MMVet": ("mmvet", {}),
    "MMStar": ("mmstar", {}),
    "ScienceQA_TEST": ("scienceqa_img", {}),
    "TextVQA_VAL": ("textvqa_val", {}),
    "MME": ("mme", {}),
    "AI2D_TEST": ("ai2d_test", {}),
    "AI2D_TEST_NO_MASK": ("ai2d_test", {}),
    "RefCOCO": ("refcoco", {}),
}
"""VLMEvalKit's names of the paper's benchmarks. Its file of dataset ``NAME`` is ``NAME.tsv``
(its LMUData folder); a name whose file is not the task's own (a variant: another file, or
options) gives a task of that name, which reads that file alone."""
_VLMEVALKIT = {k.lower(): (k, task, opts) for k, (task, opts) in VLMEVALKIT_DATASETS.items()}
_VLMEVALKIT_FILES = {f"{k}.tsv" for k in VLMEVALKIT_DATASETS}


def _vlmevalkit_task(name: str, task_name: str, options: dict) -> Task:
    """The task VLMEvalKit's dataset ``name`` scores: ``task_name``'s, reading ``name.tsv``
    first (and never another VLMEvalKit dataset's file)."""
    task = copy.copy(REGISTRY[task_name])
    own = f"{name}.tsv"
    task.data_names = (own,) + tuple(n for n in task.data_names if n != own and n not in _VLMEVALKIT_FILES)
    if own not in REGISTRY[task_name].data_names or options:  # a variant: a task of its own
        task.name = name.lower()
    for k, v in options.items():
        setattr(task, k, v)
    return task


def task_names(group: str | None = None) -> list[str]:
    return [n for n, t in REGISTRY.items() if group is None or t.group == group]


def vlmevalkit_names() -> list[str]:
    """VLMEvalKit's dataset names the kit accepts (:data:`VLMEVALKIT_DATASETS`)."""
    return list(VLMEVALKIT_DATASETS)


def get_task(name: str, **options) -> Task:
    """A copy of the registered task ``name`` (or of the task VLMEvalKit's dataset ``name``
    scores) with ``options`` set (e.g. ``coord_format``); ``KeyError`` naming the known tasks
    otherwise."""
    key = re.sub(r"\s+", "_", str(name).strip().lower())
    if key in _VLMEVALKIT:
        task = _vlmevalkit_task(*_VLMEVALKIT[key])
    else:
        key = ALIASES.get(key, key)
        if key not in REGISTRY:
            raise KeyError(
                f"unknown benchmark {name!r}; known: {', '.join(REGISTRY)}; VLMEvalKit's dataset "
                f"names: {', '.join(VLMEVALKIT_DATASETS)}"
            )
        task = copy.copy(REGISTRY[key])
    for k, v in options.items():
        if v is None:
            continue
        if not hasattr(task, k):
            raise KeyError(f"benchmark {task.name!r} has no option {k!r}")
        setattr(task, k, v)
    return task


__all__ = ["REGISTRY", "VLMEVALKIT_DATASETS", "Task", "get_task", "register", "task_names", "vlmevalkit_names"]
