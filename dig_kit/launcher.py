"""Child process trees: work a notebook kernel, ``reproduce`` or a CLI command hands to other
processes (``accelerate launch`` over N GPUs, one evaluation worker per GPU), followed and
ended as a whole.

- :func:`visible_gpus` counts the GPUs this process may use without importing torch, so the
  caller never creates a CUDA context of its own.
- :class:`ChildTree` runs a command under a small guard process (``python -m dig_kit.launcher
  guard``) that leads its own process group and session. Its whole output goes to one log
  file. When the caller stops it (an exception, ``KeyboardInterrupt`` from a kernel interrupt)
  or dies (a kernel killed by papermill's timeout or by hand: Linux tells the guard through
  ``PR_SET_PDEATHSIG``; elsewhere the guard notices its parent is gone within a second), the
  guard ends every process below it, including those that started sessions of their own (torch
  elastic starts each rank in its own session), first with SIGTERM, then SIGKILL.

Standard library only (psutil, when installed, finds the descendants; ``/proc`` otherwise).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

GRACE_S = 20.0
"""Seconds a process tree gets between SIGTERM and SIGKILL."""


def visible_gpus(env: dict | None = None) -> list[str]:
    """The GPU ids this process may use: ``CUDA_VISIBLE_DEVICES`` when set (CUDA stops at the
    first negative id, as ``-1``), else one per ``GPU`` line of ``nvidia-smi -L``, else none."""
    env = os.environ if env is None else env
    value = env.get("CUDA_VISIBLE_DEVICES")
    if value is not None:
        ids = []
        for x in (v.strip() for v in value.split(",")):
            if not x or x.startswith("-"):
                break
            ids.append(x)
        return ids
    exe = shutil.which("nvidia-smi", path=env.get("PATH"))
    if not exe:
        return []
    try:
        r = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if r.returncode != 0:
        return []
    return [str(i) for i, _ in enumerate(x for x in r.stdout.splitlines() if x.startswith("GPU "))]


def free_port() -> int:
    """A TCP port free on this machine now (for a single-node rendezvous)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: str | Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a (log) file; '' when it does not exist."""
    try:
        with open(path, errors="replace") as f:
            return "".join(deque(f, maxlen=lines))
    except OSError:
        return ""


_ERROR_LINE = re.compile(r"^(?:\[rank\d+\]:\s*)?(?:[A-Za-z_][\w.]*\.)?[A-Za-z_]\w*(?:Error|Exception|Interrupt)\b:?")


def error_lines(path: str | Path, most: int = 3) -> list[str]:
    """The last distinct exception lines of a log (``ValueError: ...``), torch elastic's own
    ``ChildFailedError`` summary aside: what a rank died of, however long its traceback."""
    found: list[str] = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                line = line.rstrip()
                if _ERROR_LINE.match(line) and "ChildFailedError" not in line and line not in found:
                    found.append(line)
    except OSError:
        return []
    return found[-most:]


# -- process trees ------------------------------------------------------------------------------
def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, ...), whatever session they are in."""
    try:
        import psutil

        try:
            return [p.pid for p in psutil.Process(pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
    except ImportError:
        pass
    children: dict[int, list[int]] = {}
    for d in Path("/proc").glob("[0-9]*"):
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purpose
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _signal(pids: Sequence[int], sig: int) -> None:
    for p in pids:
        try:
            os.kill(p, sig)
        except (ProcessLookupError, PermissionError):
            pass


def kill_tree(pid: int, grace: float = GRACE_S, include_root: bool = True) -> None:
    """SIGTERM ``pid`` and all its descendants; SIGKILL whatever is left after ``grace`` s."""
    seen = set(descendants(pid)) | ({pid} if include_root else set())
    _signal(sorted(seen), signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        seen |= set(descendants(pid))  # a process started meanwhile
        if not any(_alive(p) for p in seen):
            return
        time.sleep(0.2)
    seen |= set(descendants(pid))
    _signal(sorted(seen), signal.SIGKILL)


def _die_with_parent() -> None:
    """Linux: the kernel sends this process SIGTERM when its parent exits, and makes it the
    new parent of any process orphaned below it (so nothing of the tree escapes it)."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            prctl = ctypes.CDLL(None, use_errno=True).prctl
            prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
            prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        except (OSError, AttributeError):
            pass


def _guard(parent: int, cmd: list[str]) -> int:
    """Run ``cmd``; end its whole tree when told to (a signal) or when ``parent`` is gone."""
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before prctl
        return 1
    stop: list[int] = []

    def on_signal(sig, _frame):
        stop.append(sig)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    child = subprocess.Popen(cmd)
    while True:
        try:
            rc = child.wait(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            pass
        if stop or os.getppid() != parent:
            why = f"signal {signal.Signals(stop[0]).name}" if stop else "the launching process is gone"
            print(f"dig-kit launcher: {why}: ending the process tree of pid {child.pid}", file=sys.stderr, flush=True)
            kill_tree(os.getpid(), include_root=False)
            child.wait()
            return 128 + (stop[0] if stop else signal.SIGTERM)
    kill_tree(os.getpid(), grace=5.0, include_root=False)  # anything the command left behind
    return rc


class LaunchError(RuntimeError):
    """A launched child process failed; the message holds the last lines of its log."""


class ChildTree:
    """One command run as a process tree of its own under the guard (see the module docstring).

    ``run()`` starts it, calls ``on_poll`` about every ``interval`` seconds while it runs (a
    progress bar), and returns its exit code; any exception while waiting (``KeyboardInterrupt``
    from a kernel interrupt included) ends the whole tree before it propagates."""

    def __init__(self, cmd: Sequence[str], log: str | Path, env: dict | None = None, cwd: str | Path | None = None):
        self.cmd, self.log = [str(c) for c in cmd], Path(log)
        self.env, self.cwd = env, cwd
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as f:
            guard = [sys.executable, "-m", "dig_kit.launcher", "guard", str(os.getpid()), "--"]
            self.proc = subprocess.Popen(
                guard + self.cmd,
                stdout=f,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )

    def stop(self, grace: float = GRACE_S) -> None:
        """End the tree: ask the guard (it stops its tree), then kill what is left."""
        if self.proc is None:
            return
        below = descendants(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace + 10)
            except subprocess.TimeoutExpired:
                pass
        left = [p for p in set(below) | set(descendants(self.proc.pid)) | {self.proc.pid} if _alive(p)]
        _signal(left, signal.SIGKILL)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()

    def run(self, on_poll: Callable[[], None] | None = None, interval: float = 1.0) -> int:
        self.start()
        try:
            while self.proc.poll() is None:
                if on_poll:
                    on_poll()
                time.sleep(interval)
            if on_poll:
                on_poll()
            return self.proc.returncode
        except BaseException:
            self.stop()
            raise


def run_children(
    trees: Sequence[ChildTree], on_poll: Callable[[], None] | None = None, interval: float = 1.0
) -> list[int]:
    """Run several trees at once; the first failure (or an exception while waiting) ends the
    others. Returns every exit code (a tree ended because another failed reads -15 or 143)."""
    for t in trees:
        t.start()
    try:
        while True:
            codes = [t.proc.poll() for t in trees]
            if on_poll:
                on_poll()
            if all(c is not None for c in codes):
                return codes
            if any(c not in (None, 0) for c in codes):
                for t in trees:
                    t.stop()
                return [t.proc.returncode for t in trees]
            time.sleep(interval)
    except BaseException:
        for t in trees:
            t.stop()
        raise


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 4 or argv[0] != "guard" or argv[2] != "--":
        print("usage: python -m dig_kit.launcher guard PARENT_PID -- COMMAND ...", file=sys.stderr)
        return 2
    return _guard(int(argv[1]), argv[3:])


if __name__ == "__main__":
    sys.exit(main())
