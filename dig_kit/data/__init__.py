"""The dataset: on-disk layout and reader (:mod:`.reader`), the writer that renders into it
(:mod:`.writer`, via :mod:`dig_kit.render.pool`), the rows' column types and the shards'
``metadata.parquet`` that ``datasets`` loads (:mod:`.schema`), exports to other formats
(:mod:`.exports`).

Importing ``dig_kit.data`` or its reader starts no renderer and imports no bpy.
"""
