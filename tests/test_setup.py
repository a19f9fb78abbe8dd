"""The environment a user builds: pinned sets that resolve on the public index, a setup that fails early.

The lock guard resolves pyproject.toml against the public index alone, with this machine's
pip/uv configuration ignored (scripts/lock.sh --check), so a pin to a build that exists only in
a local wheel directory can never land again. Metadata only, no big downloads.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PY311 = sys.executable if sys.version_info[:2] == (3, 11) else "python3.11"
LOCKS = [ROOT / "locks" / "cpu.txt", ROOT / "locks" / "gpu.txt"]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^ ;]+)", line)
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def test_locks_pin_no_local_builds():
    # '+cpu', '+cu130' ... are local version labels: only a private wheel dir has them.
    for lock in LOCKS:
        local = {k: v for k, v in _pins(lock).items() if "+" in v}
        assert not local, f"{lock.name} pins local-only builds: {local}"
    assert not re.search(r"==[^\s;,\"']*\+", (ROOT / "pyproject.toml").read_text())


def test_locks_keep_the_design_facts():
    cpu, gpu = (_pins(p) for p in LOCKS)
    assert cpu["bpy"] == "5.0.1" and cpu["numpy"].startswith("1.")  # bpy 5.0.1: cp311, numpy < 2
    assert "vllm" not in cpu and "bpy" not in gpu
    assert gpu["numpy"].split(".")[0] == "2"  # vLLM -> opencv-python-headless -> numpy >= 2
    assert gpu["trl"] == cpu["trl"] and gpu["torch"] == cpu["torch"]
    major, minor = (int(x) for x in gpu["vllm"].split(".")[:2])
    assert (0, 28) <= (major, minor) <= (0, 31)  # trl 1.16's supported range, weight sync >= 0.28
    assert gpu["transformers"].split(".")[0] == "5"


def _index_reachable() -> bool:
    try:
        urllib.request.urlopen("https://pypi.org/simple/uv/", timeout=10)
        return True
    except Exception:
        return False


def test_locks_resolve_on_the_public_index_alone():
    uv = shutil.which("uv", path=os.path.dirname(sys.executable)) or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed (dev extra): cannot resolve the locks")
    if not _index_reachable():
        pytest.skip("the public index (pypi.org) is not reachable from here: lock resolution not checked")
    r = subprocess.run(
        ["bash", "scripts/lock.sh", "--check"],
        cwd=ROOT,
        env={**os.environ, "UV": uv},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, (
        "locks/ no longer match pyproject.toml on the public index; run `bash scripts/lock.sh`.\n"
        + r.stdout[-4000:]
        + r.stderr[-4000:]
    )
    assert "locks are up to date" in r.stdout


# -- setup.sh fails early, clearly, and writes nothing ------------------------------------------
@pytest.fixture
def repo_copy(tmp_path):
    for rel in ("scripts/setup.sh", "pyproject.toml", "locks/cpu.txt", "locks/gpu.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    return tmp_path


def _setup(repo: Path, *args: str, path_prefix: str = "", **env: str):
    full = {**os.environ, **env}
    if path_prefix:
        full["PATH"] = path_prefix + os.pathsep + full["PATH"]
    return subprocess.run(
        ["bash", str(repo / "scripts/setup.sh"), *args], capture_output=True, text=True, env=full, timeout=120
    )


def test_setup_names_a_missing_python(repo_copy):
    r = _setup(repo_copy, PYTHON="/nonexistent/python3.11")
    assert r.returncode != 0 and "Python 3.11 not found" in r.stderr and "PYTHON=" in r.stderr
    assert not (repo_copy / ".venv").exists()


def test_setup_refuses_another_python_version(repo_copy, tmp_path_factory):
    # a stand-in interpreter that reports Python 3.12 (real ones may be missing on a CI machine)
    fake = tmp_path_factory.mktemp("bin") / "python3.12"
    fake.write_text(
        f"#!/bin/sh\nexec {sys.executable} -c 'import sys, platform; sys.version_info = (3, 12, 0); "
        'platform.python_version = lambda: "3.12.0"; exec(sys.argv[1])\' "$2"\n'
    )
    fake.chmod(0o755)
    r = _setup(repo_copy, PYTHON=str(fake))
    assert r.returncode != 0 and "is Python 3.12.0" in r.stderr and "need 3.11" in r.stderr, r.stderr
    assert not (repo_copy / ".venv").exists()


def test_setup_checks_free_disk(repo_copy, tmp_path_factory):
    bin_dir = tmp_path_factory.mktemp("fakebin")
    (bin_dir / "df").write_text(
        "#!/bin/sh\necho 'Filesystem 1024-blocks Used Available Capacity Mounted'\n"
        "echo '/dev/x 1000000 900000 100000 90% /'\n"
    )
    (bin_dir / "df").chmod(0o755)
    r = _setup(repo_copy, path_prefix=str(bin_dir), PYTHON=PY311)
    assert r.returncode != 0 and "GiB free" in r.stderr and "needs about 4 GiB" in r.stderr, r.stderr
    assert not (repo_copy / ".venv").exists()


def test_setup_gpu_needs_a_driver(repo_copy, tmp_path_factory):
    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has an NVIDIA driver")
    r = _setup(repo_copy, "--gpu", PYTHON=PY311)
    assert r.returncode != 0 and "NVIDIA driver" in r.stderr and "580" in r.stderr, r.stderr
    assert not (repo_copy / ".venv").exists()


def test_setup_rejects_unknown_options(repo_copy):
    r = _setup(repo_copy, "--gpus")
    assert r.returncode != 0 and "unknown option '--gpus'" in r.stderr


# -- conda / mamba / Binder: environment files that are the locks' own sets ---------------------
# conda and mamba write an environment file's pip list to a requirements file beside it and run
# `pip install -U -r <file>` from that directory (conda: conda/env/installers/pip.py; mamba:
# libmamba's install_for_other_pkgmgr), so its relative paths are the repository's.
ENV_FILES = {"cpu": ROOT / "environment.yml", "gpu": ROOT / "environment-gpu.yml"}


def _setup_facts() -> dict:
    """What setup.sh installs per kind (lock, extras, CPU torch index) and lock.sh's Python."""
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    facts = {}
    for kind, lock, extras, cpu_torch in re.findall(r'install_env \.venv (cpu|gpu) (\S+) "([^"]+)"( 1)?', setup):
        facts[kind] = {"lock": lock, "extras": extras, "cpu_torch": bool(cpu_torch)}
    facts["pip"] = re.search(r'pip install --quiet --upgrade "(pip[^"]+)"', setup).group(1)
    facts["index"] = re.search(r"--extra-index-url (https://\S+)", setup).group(1)
    facts["python"] = re.search(r"--python-version (\S+)", (ROOT / "scripts" / "lock.sh").read_text()).group(1)
    return facts


def _env_file(kind: str) -> tuple[dict, list[str], list[str]]:
    import yaml

    env = yaml.safe_load(ENV_FILES[kind].read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = [line for d in env["dependencies"] if isinstance(d, dict) for line in d["pip"]]
    return env, conda, pip


@pytest.mark.parametrize("kind", ["cpu", "gpu"])
def test_environment_files_are_what_setup_installs(kind):
    facts = _setup_facts()
    env, conda, pip = _env_file(kind)
    assert env["name"] == {"cpu": "dig-kit", "gpu": "dig-kit-gpu"}[kind]
    assert env["channels"] == ["conda-forge", "nodefaults"]
    # conda gives Python and pip, nothing else: every other package comes from the lock
    assert conda == [f"python={facts['python']}", facts["pip"]], ENV_FILES[kind].name
    want = ([f"--extra-index-url {facts['index']}"] if facts[kind]["cpu_torch"] else []) + [
        f"-c {facts[kind]['lock']}",
        f"-e .[{facts[kind]['extras']}]",
    ]
    assert pip == want, f"{ENV_FILES[kind].name}'s pip section differs from scripts/setup.sh's {kind} install"
    assert (ROOT / facts[kind]["lock"]).is_file()


def _pip_resolve(kind: str, tmp: Path) -> subprocess.Popen:
    """Start pip as conda runs it on ``kind``'s environment file, in a copy of the files it reads
    (``-e .`` builds the kit's metadata there), as a dry run against the public index alone."""
    work = tmp / kind
    work.mkdir()
    for rel in ("pyproject.toml", "README.md", "locks"):
        (shutil.copytree if (ROOT / rel).is_dir() else shutil.copy)(ROOT / rel, work / rel)
    (work / "dig_kit").symlink_to(ROOT / "dig_kit")
    reqs = work / "condaenv.test.requirements.txt"
    reqs.write_text("\n".join(_env_file(kind)[2]))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env["PIP_CONFIG_FILE"] = os.devnull  # this machine's pip configuration (local wheel dirs) ignored
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-U",
            "-r",
            reqs.name,
            "--exists-action=b",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--retries",
            "0",
            "--timeout",
            "30",
            "--report",
            "report.json",
        ],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _pins_for_this_python(path: Path) -> dict[str, str]:
    """The lock's pins whose markers hold here (the interpreter pip resolves for)."""
    from packaging.requirements import Requirement

    pins = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate():
                pins[re.sub(r"[-_.]+", "-", req.name.lower())] = str(req.specifier).removeprefix("==")
    return pins


@pytest.mark.slow
def test_environment_files_resolve_to_the_locks_pins(tmp_path):
    # what conda's pip step would install, version for version, is the lock (CPU and GPU, ~40 s)
    if not _index_reachable():
        pytest.skip("the public index (pypi.org) is not reachable from here: the environment files not resolved")
    runs = {kind: _pip_resolve(kind, tmp_path) for kind in ENV_FILES}
    for kind, proc in runs.items():
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"pip cannot install {ENV_FILES[kind].name}'s pip section:\n{out[-4000:]}"
        report = json.loads((tmp_path / kind / "report.json").read_text())
        pins = _pins_for_this_python(ROOT / _setup_facts()[kind]["lock"])
        got = {
            re.sub(r"[-_.]+", "-", i["metadata"]["name"].lower()): i["metadata"]["version"] for i in report["install"]
        }
        kit = got.pop("dig-kit")
        assert kit, "the kit itself is installed (-e .)"
        off = {n: (v, pins.get(n)) for n, v in got.items() if pins.get(n) != v.split("+")[0]}
        assert not off, f"{ENV_FILES[kind].name} would install versions the lock does not pin: {off}"
