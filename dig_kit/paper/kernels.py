"""The kernels ``dig-kit reproduce`` runs its notebooks in, and how their progress is kept.

jupyter_client's default talks to a kernel over TCP on localhost, and ipykernel then opens
every step log with "Kernel is running over TCP without encryption", a notice about a
transport the user never chose. :class:`IPCKernelManager` uses IPC (Unix domain sockets) in a
private temporary directory instead: nothing listens on a port, the notice does not apply, and
the directory is removed with the manager.

Progress bars: in a kernel, ``tqdm.auto`` (the kit's bars and those of transformers, datasets
and huggingface_hub) draws an ipywidget. A headless run has no frontend to update it, so the
executed notebook keeps the widget's text fallback at its *first* state ("0%"). The kernels
started here run :func:`text_progress` first (``IPKernelApp.exec_lines``): every bar is tqdm's
text bar on stdout, redrawn at most every :data:`REDRAW_S` seconds (the step log follows it),
and :func:`settle_streams` then keeps each bar's final line in the executed notebook, as
JupyterLab shows a live one.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import weakref
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

REDRAW_S = 15.0  # a headless bar writes a line to the step log at most this often
_START = "from dig_kit.paper.kernels import text_progress; text_progress()"


class IPCKernelManager(AsyncKernelManager):
    """An :class:`~jupyter_client.manager.AsyncKernelManager` on IPC sockets in a temporary
    directory of its own (papermill: ``execute_notebook(..., kernel_manager_class=...)``), whose
    kernels show tqdm's text bars (:func:`text_progress`)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if os.name == "nt":  # pragma: no cover - Windows has no IPC transport here
            return
        sockets = tempfile.mkdtemp(prefix="dig-kit-kernel-")
        weakref.finalize(self, shutil.rmtree, sockets, True)
        self.transport = "ipc"
        self.ip = os.path.join(sockets, "kernel")

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return super().format_kernel_cmd([*(extra_arguments or []), f"--IPKernelApp.exec_lines={_START}"])


def text_progress(redraw_s: float = REDRAW_S) -> None:
    """Make ``tqdm.auto`` (and ``tqdm.autonotebook``) tqdm's text bar on stdout, redrawn at most
    every ``redraw_s`` seconds, in this process. Run before the libraries that bind
    ``tqdm.auto.tqdm`` at import (datasets, huggingface_hub) are imported."""
    import sys

    import tqdm.auto
    import tqdm.autonotebook
    from tqdm.std import tqdm as text_tqdm

    class TextBar(text_tqdm):
        def __init__(self, *args, **kwargs):
            if len(args) < 5:  # file is the fifth positional argument
                kwargs.setdefault("file", sys.stdout)
            kwargs.setdefault("mininterval", redraw_s)
            super().__init__(*args, **kwargs)

    def trange(*args, **kwargs):
        return TextBar(range(*args), **kwargs)

    for module in (tqdm.auto, tqdm.autonotebook):
        module.tqdm, module.trange = TextBar, trange


_REDRAWN = re.compile(r"[^\n]*\r(?=[^\n])")  # a line a later \r wrote over
_ERASED = re.compile(r"[^\n]\x08")


def settle_stream_text(text: str) -> str:
    """What a terminal shows for ``text``: carriage returns overwrite the line, backspaces erase."""
    while True:
        shorter = _ERASED.sub("", text)
        if shorter == text:
            break
        text = shorter
    return _REDRAWN.sub("", text)


def settle_streams(notebook: str | Path) -> int:
    """Merge each cell's consecutive stream outputs of one name (stdout, stderr) and keep what a
    terminal would show of them (:func:`settle_stream_text`), so a progress bar's redraws leave
    its final line; other outputs and their order are untouched. Rewrites the notebook only if
    something changed (atomically); returns the number of outputs removed."""
    import nbformat

    path = Path(notebook)
    nb = nbformat.read(str(path), as_version=4)
    removed, changed = 0, False
    for cell in nb.cells:
        outputs = cell.get("outputs")
        if not outputs:
            continue
        kept = []
        for out in outputs:
            last = kept[-1] if kept else None
            if (
                out.get("output_type") == "stream"
                and last is not None
                and last.get("output_type") == "stream"
                and last.get("name") == out.get("name")
            ):
                last["text"] += out.get("text", "")
                removed += 1
            else:
                kept.append(out)
        for out in kept:
            if out.get("output_type") == "stream":
                settled = settle_stream_text(out.get("text", ""))
                changed |= settled != out["text"]
                out["text"] = settled
        cell["outputs"] = kept
    if removed or changed:
        tmp = path.with_name(path.name + ".tmp")
        nbformat.write(nb, str(tmp))
        tmp.replace(path)
    return removed
