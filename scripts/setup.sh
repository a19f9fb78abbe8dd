#!/usr/bin/env bash
# Create (or reuse) dig-kit's environments at the repo root and install the dig-kit command.
#
#   bash scripts/setup.sh          CPU default: .venv (Python 3.11) with everything: bpy 5.0.1,
#                                  CPU torch, trl, jupyterlab, papermill, tests. Pins: locks/cpu.txt.
#   bash scripts/setup.sh --gpu    Linux + NVIDIA driver >= 580 (CUDA 13): .venv with CUDA torch,
#                                  vLLM, trl, jupyterlab, papermill, tests (locks/gpu.txt), and
#                                  .venv-render with bpy for the Blender workers (locks/cpu.txt).
#
# Why two environments on a GPU machine: bpy 5.0.1 (cp311) needs numpy < 2 while vLLM pulls
# opencv-python-headless, which needs numpy >= 2. dig-kit runs its Blender workers with the
# interpreter of .venv-render (see dig_kit/render/pool.py), so `dig-kit render` and
# `dig-kit reproduce` in .venv render there without further setup.
#
# Idempotent: a second run with unchanged pyproject.toml and locks only checks a stamp.
# Environment: PYTHON=/path/to/python3.11 picks the interpreter; DIG_KIT_SKIP_GPU_CHECK=1 builds
# the GPU environments without an NVIDIA driver (to prepare an image, or to test the install).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "setup.sh: $*" >&2; exit 1; }
mode=
for a in "$@"; do
  case "$a" in
    --gpu) mode=gpu ;;
    --cpu) mode=cpu ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$a' (use --gpu, --cpu or --help)" ;;
  esac
done

# No flag: keep the kind .venv already has (so the README's commands work on a GPU setup too).
[ -n "$mode" ] || { [ "$(sed -n 1p .venv/.dig-kit-kind 2>/dev/null)" = gpu ] && mode=gpu || mode=cpu; }

# -- checks before anything is written --------------------------------------------------------
PY=${PYTHON:-python3.11}
if ! command -v "$PY" >/dev/null 2>&1; then
  if [ -z "${PYTHON:-}" ] && command -v python3 >/dev/null 2>&1 \
     && python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    PY=python3
  else
    die "Python 3.11 not found ('$PY' is not on PATH). Install it (Debian/Ubuntu: apt-get install python3.11 python3.11-venv; or: uv python install 3.11; pyenv install 3.11) or point PYTHON=/path/to/python3.11 at one."
  fi
fi
"$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || die "$PY is Python $("$PY" -c 'import platform; print(platform.python_version())'); dig-kit's environments need 3.11 (bpy 5.0.1 ships cp311 wheels only). Set PYTHON=/path/to/python3.11."
"$PY" -c 'import venv, ensurepip' 2>/dev/null \
  || die "$PY has no venv/ensurepip module (Debian/Ubuntu: apt-get install python3.11-venv)."

need_gb=4; [ "$mode" = gpu ] && need_gb=16
free_kb=$(df -Pk . | awk 'NR==2 {print $4}')
[ "${free_kb:-0}" -ge $((need_gb * 1024 * 1024)) ] \
  || die "only $((free_kb / 1024 / 1024)) GiB free in $(pwd); the $mode setup needs about $need_gb GiB (environments plus pip's cache)."

if [ "$mode" = gpu ] && [ "${DIG_KIT_SKIP_GPU_CHECK:-0}" != 1 ]; then
  [ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ] \
    || die "--gpu needs Linux on x86_64 (vLLM's CUDA wheels); this is $(uname -s) $(uname -m)."
  command -v nvidia-smi >/dev/null 2>&1 \
    || die "--gpu: nvidia-smi not found, so no NVIDIA driver is installed (needed: >= 580, CUDA 13). Set DIG_KIT_SKIP_GPU_CHECK=1 to build anyway."
  drv=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n 1)
  [ "${drv%%.*}" -ge 580 ] 2>/dev/null \
    || die "--gpu: NVIDIA driver '${drv:-unknown}' is older than 580; torch 2.13 and vLLM 0.31 are CUDA 13 builds. Update the driver, or set DIG_KIT_SKIP_GPU_CHECK=1 to build anyway."
fi

# -- helpers ----------------------------------------------------------------------------------
quiet_pip() {  # pip, without the noise of a machine-wide config that lists missing local indexes
  "$@" 2> >(grep -v -e "is ignored: it is neither a file nor a directory" >&2)
}

make_env() {  # DIR KIND: create DIR with $PY unless it exists; refuse one of another kind
  local dir=$1 kind=$2
  if [ -x "$dir/bin/python" ]; then
    "$dir/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
      || die "$dir exists with another Python; remove it (rm -rf $dir) and run setup again."
    local had; had=$(sed -n 1p "$dir/.dig-kit-kind" 2>/dev/null || true)
    [ -z "$had" ] || [ "$had" = "$kind" ] \
      || die "$dir holds the '$had' environment, not '$kind' (their torch builds differ); remove it (rm -rf $dir) and run setup again."
  else
    "$PY" -m venv "$dir"
  fi
  echo "$kind" > "$dir/.dig-kit-kind"
}

install_env() {  # DIR KIND LOCK EXTRAS [TORCH_FROM_CPU_INDEX]
  local dir=$1 kind=$2 lock=$3 extras=$4 cpu_torch=${5:-0}
  local stamp="$dir/.dig-kit-stamp" want
  want=$(cat pyproject.toml "$lock" | sha256sum | cut -d' ' -f1)
  make_env "$dir" "$kind"
  if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && "$dir/bin/python" -c 'import dig_kit' 2>/dev/null; then
    echo "$dir: up to date ($kind, $lock)"
    return
  fi
  echo "$dir: installing the $kind environment from $lock ..."
  local t0=$SECONDS
  quiet_pip "$dir/bin/python" -m pip install --quiet --upgrade "pip>=25"
  if [ "$cpu_torch" = 1 ] && ! "$dir/bin/python" -c 'import torch' 2>/dev/null; then
    local torch_pin; torch_pin=$(grep -E '^torch==' "$lock" | cut -d' ' -f1)
    # CPU torch (~200 MB) from PyTorch's CPU index when it answers; else the configured index
    # (on PyPI, the CUDA build: ~2.6 GB with its nvidia-* wheels; it runs on the CPU as well).
    if "$dir/bin/python" -c 'import urllib.request as u; u.urlopen("https://download.pytorch.org/whl/cpu/torch/", timeout=5)' 2>/dev/null; then
      quiet_pip "$dir/bin/python" -m pip install --quiet -c "$lock" \
        --extra-index-url https://download.pytorch.org/whl/cpu "$torch_pin"
    else
      echo "  (PyTorch's CPU index is not reachable: $torch_pin comes from the configured index)"
    fi
  fi
  quiet_pip "$dir/bin/python" -m pip install --quiet -c "$lock" -e ".[$extras]"
  echo "$want" > "$stamp"
  echo "$dir: ready in $((SECONDS - t0)) s, $(du -sh "$dir" 2>/dev/null | cut -f1)"
}

# -- environments -----------------------------------------------------------------------------
if [ "$mode" = cpu ]; then
  install_env .venv cpu locks/cpu.txt "all,dev" 1
else
  install_env .venv gpu locks/gpu.txt "train,notebooks,vllm,dev"
  install_env .venv-render render locks/cpu.txt "render"
fi
.venv/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null 2>&1 || true

# Notebooks reach git without outputs: the nbstripout git filter (scripts/git-filters.sh).
bash scripts/git-filters.sh
# ... and JupyterLab saves the kit's notebooks/ as git stores them, so a save leaves `git status`
# clean (git calls a file of another size modified before any filter runs): dig_kit/paper/jupyter.py.
mkdir -p .venv/etc/jupyter/jupyter_server_config.d
# (a server extension: the server reads jupyter_server_config.d/ for jpserver_extensions only)
echo '{"ServerApp": {"jpserver_extensions": {"dig_kit.paper.jupyter": true}}}' \
  > .venv/etc/jupyter/jupyter_server_config.d/dig-kit.json
echo "dig-kit environment ready ($mode): $(pwd)/.venv (run .venv/bin/dig-kit --help)"
