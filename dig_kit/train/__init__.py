"""Training: trl GRPO wiring, the curriculum stages, online filtering (models: :mod:`dig_kit.models`).

With :mod:`dig_kit.models` and the evaluation backends, the only place that imports torch, transformers and trl;
``import dig_kit`` never imports this package.
"""
