"""Models: loading real Qwen3-VL checkpoints and processors (:mod:`.loading`) and the tiny
offline Qwen3-VL builder (:mod:`.tiny`); shared by ``train`` and ``evaluation``.

torch and transformers are imported inside these modules, never by ``import dig_kit``.
"""

from .quiet import quiet_library_notices

quiet_library_notices()  # transformers/trl notices about their own internals (see .quiet)
