"""The dataset: on-disk layout and reader (:mod:`.reader`), the writer that renders into it
(:mod:`.writer`, via :mod:`dig_kit.render.pool`), exports to other formats (:mod:`.exports`).

Importing ``dig_kit.data`` or its reader starts no renderer and imports no bpy.
"""
