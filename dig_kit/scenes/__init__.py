"""Pure scene logic (numpy only): the attribute space, scene specs, sampling and changes.

Nothing here imports bpy; the renderer (``dig_kit.render.blender``) turns specs into images.
"""

from dig_kit.scenes.attributes import COLORS, MATERIALS, SHAPES, SIZES
from dig_kit.scenes.changes import ChangeError, Difference, PairSpec, apply_changes, sample_pair
from dig_kit.scenes.sampling import jitter_view, sample_scene
from dig_kit.scenes.spec import CameraSpec, LightSpec, ObjectSpec, SceneError, SceneSpec

__all__ = [
    "COLORS",
    "MATERIALS",
    "SHAPES",
    "SIZES",
    "CameraSpec",
    "LightSpec",
    "ObjectSpec",
    "SceneSpec",
    "SceneError",
    "ChangeError",
    "Difference",
    "PairSpec",
    "apply_changes",
    "sample_pair",
    "jitter_view",
    "sample_scene",
]
