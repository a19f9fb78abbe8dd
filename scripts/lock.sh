#!/usr/bin/env bash
# Regenerate the pinned sets in locks/ from pyproject.toml, against the public index only
# (this machine's pip/uv configuration is ignored, so no local-only build can be pinned).
#   locks/cpu.txt  Python 3.11, any OS: core + render + train + notebooks + dev (numpy 1.26, bpy 5.0.1)
#   locks/gpu.txt  Python 3.11, Linux x86_64: core + train + notebooks + vllm + dev (numpy 2, CUDA torch)
# setup.sh installs with these as pip constraints; tests/test_locks.py checks they still resolve.
# Usage: bash scripts/lock.sh [--check]   (--check: resolve into a temp dir and diff, write nothing)
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-}
if [ -z "$UV" ]; then
  for c in .venv/bin/uv "$(command -v uv || true)"; do [ -n "$c" ] && [ -x "$c" ] && UV=$c && break; done
fi
[ -n "$UV" ] || { echo "lock.sh: uv not found (it is in the dev extra: bash scripts/setup.sh)" >&2; exit 2; }
out=locks
if [ "${1:-}" = "--check" ]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi

compile() {  # NAME, then uv pip compile arguments
  local name=$1; shift
  [ -f "locks/$name.txt" ] && [ "$out" != locks ] && cp "locks/$name.txt" "$out/$name.txt"
  env -u UV_INDEX_URL -u UV_EXTRA_INDEX_URL -u UV_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL \
      -u PIP_FIND_LINKS -u PIP_CONSTRAINT PIP_CONFIG_FILE=/dev/null \
    "$UV" pip compile --quiet --no-config --index-url https://pypi.org/simple --python-version 3.11 \
      --no-header --no-annotate --custom-compile-command "bash scripts/lock.sh" \
      pyproject.toml "$@" -o "$out/$name.txt"
  { echo "# $name environment, resolved by scripts/lock.sh from pyproject.toml against the public index. Do not edit."
    grep -v '^#' "$out/$name.txt"; } > "$out/$name.tmp" && mv "$out/$name.tmp" "$out/$name.txt"
}
compile cpu --universal --extra render --extra train --extra notebooks --extra dev
compile gpu --python-platform x86_64-manylinux_2_28 --extra train --extra notebooks --extra vllm --extra dev

if [ "$out" != locks ]; then
  diff -u locks/cpu.txt "$out/cpu.txt" && diff -u locks/gpu.txt "$out/gpu.txt" && echo "locks are up to date"
else
  echo "wrote locks/cpu.txt ($(grep -c '==' locks/cpu.txt) pins) and locks/gpu.txt ($(grep -c '==' locks/gpu.txt) pins)"
fi
