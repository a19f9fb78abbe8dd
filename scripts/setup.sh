#!/usr/bin/env bash
# Create (or reuse) the environment in .venv/ at the repo root and install dig-kit into it.
# Idempotent: a second run with unchanged pyproject.toml/constraints.txt only checks a stamp.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), "dig-kit needs Python 3.11 (bpy 5.0 wheels are cp311)"'
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.dig-kit-stamp
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! .venv/bin/python -c 'import dig_kit' 2>/dev/null; then
  # torch==2.13.0 (CPU build) is taken from the local wheel dir when pip is configured with one;
  # elsewhere it comes from PyPI (add --index-url https://download.pytorch.org/whl/cpu for CPU only).
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -c constraints.txt -e ".[all,dev]"
  echo "$want" > "$stamp"
fi
.venv/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null 2>&1 || true
echo "dig-kit environment ready: $(pwd)/.venv (run .venv/bin/dig-kit --help)"
