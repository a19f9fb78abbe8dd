"""Rendering: ``blender`` (the only bpy importer), pair rendering and the dataset writer.

Importing ``dig_kit.render`` does not import bpy; ``dig_kit.render.blender`` does.
"""
