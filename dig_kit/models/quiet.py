"""Library notices that mean nothing to a dig-kit user, silenced where the kit meets them.

Loading the tiny or a real Qwen3-VL and training it with trl make transformers print notices
about its own internals: deprecations inside trl/transformers (the kit sets none of these
names), the PIL image processor used where torchvision is absent (the kit's CPU environment has
no torchvision, on purpose), checkpoint ordering on file systems with coarse mtimes. In a
notebook they show as red stderr blocks and read like errors. :func:`quiet_library_notices`
(run when ``dig_kit.models`` is imported, so by training and evaluation alike) drops exactly
these messages; every other warning still shows. Standard library only.
"""

from __future__ import annotations

import logging
import re
import warnings

# (category, message regex): warnings raised inside trl/transformers for their own arguments
WARNINGS = [
    (FutureWarning, r"`(is_)?gradient_checkpointing` is deprecated and will be removed"),
]
# logger name -> message regex: transformers' own log lines
LOG_LINES = {
    "transformers.utils.import_utils": r"requires torchvision \(not installed\); falling back to",
    "transformers.trainer_utils": r"mtime may not be reliable on this filesystem",
}


class _Drop(logging.Filter):
    def __init__(self, pattern: str):
        super().__init__()
        self.pattern = re.compile(pattern)

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.search(record.getMessage())


_installed = False


def quiet_library_notices() -> None:
    """Install the filters once per process (idempotent)."""
    global _installed
    if _installed:
        return
    for category, pattern in WARNINGS:
        warnings.filterwarnings("ignore", message=pattern, category=category)
    for name, pattern in LOG_LINES.items():
        logging.getLogger(name).addFilter(_Drop(pattern))
    _installed = True
