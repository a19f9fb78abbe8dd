"""The kernel manager ``dig-kit reproduce`` starts its notebooks' kernels with.

jupyter_client's default talks to a kernel over TCP on localhost, and ipykernel then opens
every step log with "Kernel is running over TCP without encryption", a notice about a
transport the user never chose. :class:`IPCKernelManager` uses IPC (Unix domain sockets) in a
private temporary directory instead: nothing listens on a port, the notice does not apply, and
the directory is removed with the manager.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref

from jupyter_client.manager import AsyncKernelManager


class IPCKernelManager(AsyncKernelManager):
    """An :class:`~jupyter_client.manager.AsyncKernelManager` on IPC sockets in a temporary
    directory of its own (papermill: ``execute_notebook(..., kernel_manager_class=...)``)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if os.name == "nt":  # pragma: no cover - Windows has no IPC transport here
            return
        sockets = tempfile.mkdtemp(prefix="dig-kit-kernel-")
        weakref.finalize(self, shutil.rmtree, sockets, True)
        self.transport = "ipc"
        self.ip = os.path.join(sockets, "kernel")
