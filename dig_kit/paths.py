"""Where a notebook's relative paths point, wherever its kernel starts.

papermill (``dig-kit reproduce``) runs the notebooks with the repository root as the working
directory; JupyterLab starts each kernel in the notebook's own folder (``notebooks/``). The
notebooks' defaults (``runs/smoke/data``, ``figures``) mean the repository root, so each
notebook's config cell calls :func:`work_from_root` first: the kernel moves to the root and
every relative path (parameters, presets such as ``train.model: runs/smoke/tiny-model``) then
means the same thing under JupyterLab and papermill.

The root is, in this order: ``$DIG_KIT_ROOT`` (``dig-kit reproduce`` sets it to the directory
it runs from, the run's root); the nearest directory at or above the working directory that
holds a dig-kit checkout (a ``pyproject.toml`` naming ``dig-kit``); else the working directory
itself (a notebook copied somewhere else keeps its own folder). Standard library only.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT_ENV = "DIG_KIT_ROOT"
_NAME = re.compile(r'^\s*name\s*=\s*["\']dig[-_]kit["\']', re.MULTILINE)


def is_checkout(path: str | Path) -> bool:
    """True when ``path`` is the root of a dig-kit checkout (its pyproject.toml names dig-kit)."""
    try:
        return bool(_NAME.search((Path(path) / "pyproject.toml").read_text()))
    except OSError:
        return False


def find_root(start: str | Path | None = None) -> Path:
    """The directory a notebook's relative paths mean (see the module docstring), absolute."""
    env = os.environ.get(ROOT_ENV)
    if env:
        root = Path(env).expanduser().resolve()
        if not root.is_dir():
            raise FileNotFoundError(f"${ROOT_ENV}={env!r} is not a directory")
        return root
    here = Path(start if start is not None else os.getcwd()).resolve()
    for p in (here, *here.parents):
        if is_checkout(p):
            return p
    return here


def work_from_root(start: str | Path | None = None) -> Path:
    """Make :func:`find_root` the working directory and return it (a notebook's first call)."""
    root = find_root(start)
    if Path.cwd().resolve() != root:
        os.chdir(root)
    return root
