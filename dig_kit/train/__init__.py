"""Training: tiny-model builder, model loading, trl GRPO wiring, curriculum, online filtering.

The only place (with the evaluation backends) that imports torch, transformers and trl;
``import dig_kit`` never imports this package.
"""
