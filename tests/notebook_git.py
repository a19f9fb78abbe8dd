"""The notebooks as git stores them (what a commit holds), not as JupyterLab last saved them.

Saving in JupyterLab writes outputs into notebooks/*.ipynb; the nbstripout filter (.gitattributes,
scripts/git-filters.sh) strips them on the way into git. Tests about what is committed read the
index through this helper; outside a git checkout they read the file.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def committed_text(path: Path) -> str:
    rel = Path(path).resolve().relative_to(ROOT).as_posix()
    r = subprocess.run(["git", "show", f":{rel}"], cwd=ROOT, capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else Path(path).read_text()


def committed_notebook(path: Path) -> dict:
    return json.loads(committed_text(path))  # plain json: nbformat's schema validation is slow to import
