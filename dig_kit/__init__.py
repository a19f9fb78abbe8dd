"""dig_kit: a reproducibility kit for DiG (Differential Grounding) and TWIN (Same or Not?).

The map, one room per line (data flows down; ``tests/test_architecture.py`` enforces it):

- ``config``, ``prompts``, ``cli``: one typed config per run; the DiG/TWIN prompts; ``dig-kit``
- ``paths``: the root a notebook's relative paths mean, wherever its kernel starts (stdlib only)
- ``launcher``, ``runlock``: child process trees (GPUs seen without torch, a guard that ends a
  tree whose caller stops or dies) and one run per runs directory (stdlib only)
- ``scenes/``: pure scene logic (numpy only): attributes, sampling, changes, TWIN items, ray casting,
  fast shaded renders
- ``render/``: the Blender renderer and its worker pool, the only bpy importer
- ``data/``: the dataset on disk: layout and reader, the writer (renders via ``render``), exports
- ``rewards/``: plain reward functions, their box geometry (which the grounding scorers share) and
  their trl / EasyR1 adapters, nothing else
- ``models/``: loading checkpoints and processors; the tiny and mini model builders, the shipped mini
  backbone, perception probes (train + evaluation)
- ``train/``: the GRPO stage runner, online filtering, the supervised warm start, perception pretraining
  (torch/trl imported here only)
- ``evaluation/``: backends (vLLM, transformers), file formats, answer extraction, benchmark tasks
- ``paper/``: the reproduction layer (reproduce pipeline, ablations, figures, tables, widgets)

The core never imports ``paper/`` (``cli`` does, for ``reproduce``); ``rewards``, ``paths``,
``launcher`` and ``runlock`` import nothing else of the kit; ``scenes`` only ``config`` (``models``
and ``train`` may read its attribute words); ``train`` and ``evaluation`` meet in ``models``
and ``data`` and never import each other or ``render``. ``import dig_kit`` and the pure
modules import only the standard library, numpy, scipy, yaml and matplotlib: ``bpy`` lives in
``render.blender``, torch/transformers/trl in ``models``/``train``, vLLM in an evaluation backend.
"""

__version__ = "0.1.0"
