"""dig_kit: a reproducibility kit for DiG (Differential Grounding) and TWIN (Same or Not?).

The package root and its pure modules (config, scenes, prompts, rewards, figures) import
only the standard library, numpy, scipy, yaml and matplotlib. Heavy dependencies live
behind one module each and are imported only when that feature is used:

- ``bpy`` (Blender): ``dig_kit.render.blender``
- ``torch`` / ``transformers`` / ``trl``: ``dig_kit.train``
- ``vllm``: ``dig_kit.evaluation`` backends
"""

__version__ = "0.1.0"
