"""One run at a time per runs directory: ``with run_lock(dir, "dig-kit reproduce ..."):``.

A lock is the file ``<dir>/.dig-kit.lock``, held with ``flock`` for as long as the holder
lives and naming it (pid, host, start time, command). Taking a lock fails with
:class:`RunLockError`, naming the holder, when a live process of another run holds a lock on
``dir``, on a directory above it (a ``reproduce`` holds ``runs/<profile>``, a stage its run
dir), or on one up to two levels below it. A lock whose holder died (a killed run) is not
held any more: it is taken over, and the taker says so.

Processes started by a holder (papermill's kernels, launched ranks) inherit the holder's token
through ``$DIG_KIT_LOCKS``, so a notebook stage run by ``reproduce`` works under its lock while
the same stage started from JupyterLab beside it is refused. Where the file system has no
``flock`` (some cluster mounts) a lock is held while its pid lives on the same host. Standard
library only.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
import time
import uuid
from pathlib import Path

LOCK_NAME = ".dig-kit.lock"
TOKENS_ENV = "DIG_KIT_LOCKS"
_NO_FLOCK = (errno.ENOLCK, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP)


class RunLockError(RuntimeError):
    """The directory is in use by another live run."""


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def _pid_alive(info: dict) -> bool:
    if info.get("host") != socket.gethostname():
        return True  # cannot tell from here
    try:
        os.kill(int(info.get("pid", -1)), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


def _holder(path: Path) -> dict | None:
    """The info of the live holder of lock file ``path``, or None when nobody holds it."""
    if not path.is_file():
        return None
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        info = _read(path)
        return info if info and _pid_alive(info) else None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    except BlockingIOError:
        return _read(path) or {"pid": "?"}
    except OSError as e:
        if e.errno not in _NO_FLOCK:
            raise
        info = _read(path)
        return info if info and _pid_alive(info) else None
    finally:
        os.close(fd)


def describe(info: dict) -> str:
    return (
        f"pid {info.get('pid', '?')} on host {info.get('host', '?')}, started {info.get('started', '?')}: "
        f"{info.get('command', '?')}"
    )


def _ours(info: dict) -> bool:
    return info.get("token") in os.environ.get(TOKENS_ENV, "").split(",")


def check_free(directory: str | Path) -> None:
    """Raise :class:`RunLockError` when another live run holds ``directory``, a directory
    above it, or one up to two levels below it."""
    d = Path(directory).resolve()
    candidates = [p / LOCK_NAME for p in (d, *d.parents)]
    if d.is_dir():
        candidates += sorted(d.glob(f"*/{LOCK_NAME}")) + sorted(d.glob(f"*/*/{LOCK_NAME}"))
    for path in candidates:
        info = _holder(path)
        if info is not None and not _ours(info):
            raise RunLockError(
                f"{path.parent} is in use by another run ({describe(info)}; lock file {path}). Wait for it to "
                "finish or stop it; the lock of a run that was killed is taken over automatically."
            )


@contextlib.contextmanager
def run_lock(directory: str | Path, command: str | None = None):
    """Hold ``directory``'s lock while the block runs (see the module docstring)."""
    import fcntl

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    check_free(d)
    path = d / LOCK_NAME
    token = uuid.uuid4().hex
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "token": token,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": command or " ".join(sys.argv),
    }
    flock = True
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            check_free(d)  # raises, naming the holder (unless it just let go: try again)
            time.sleep(0.1)
            continue
        except OSError as e:
            if e.errno not in _NO_FLOCK:
                os.close(fd)
                raise
            flock = False
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a file its holder unlinked while we waited
            break
        os.close(fd)
    old = _read(path)
    if old and not _ours(old) and (flock or not _pid_alive(old)):
        print(
            f"dig-kit: taking over the lock of a run that is no longer running ({describe(old)})",
            file=sys.stderr,
            flush=True,
        )
    elif old and not flock and _pid_alive(old) and not _ours(old):
        os.close(fd)
        raise RunLockError(f"{d} is in use by another run ({describe(old)}; lock file {path})")
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    saved = os.environ.get(TOKENS_ENV)
    os.environ[TOKENS_ENV] = ",".join(t for t in (saved, token) if t)
    try:
        yield path
    finally:
        if saved is None:
            os.environ.pop(TOKENS_ENV, None)
        else:
            os.environ[TOKENS_ENV] = saved
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)
