"""Test helpers for child processes: find a test's own live processes, wait for them to end,
and hold a run lock from another process (a second reproduce, as a user would start one)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path


def ours(marker: str) -> list[str]:
    """Command lines of live processes that mention ``marker`` (a test's tmp path), this one aside."""
    out = []
    for d in Path("/proc").glob("[0-9]*"):
        try:
            if int(d.name) == os.getpid() or (d / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            args = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        if marker in args:
            out.append(f"{d.name}: {args}")
    return out


def wait_gone(marker: str, seconds: float = 40) -> list[str]:
    """Wait up to ``seconds`` for every process mentioning ``marker`` to end; return those left."""
    deadline = time.time() + seconds
    while time.time() < deadline and ours(marker):
        time.sleep(0.5)
    return ours(marker)


def lock_holder(directory: Path, command: str) -> subprocess.Popen:
    """Another process holding ``directory``'s run lock (started, lock taken) until killed."""
    code = textwrap.dedent(f"""
        import time
        from dig_kit.runlock import run_lock
        with run_lock({str(directory)!r}, {command!r}):
            print("held", flush=True)
            time.sleep(300)
    """)
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder
