"""Rendering: ``blender`` (the only bpy importer), one pair (``pairs``) or TWIN item (``twin``)
with its visibility check, and the worker pool (``pool``) that runs them in Blender processes.

Importing ``dig_kit.render`` does not import bpy; ``dig_kit.render.blender`` does, inside the
workers only. Writing whole datasets is :mod:`dig_kit.data.writer`'s job.
"""
