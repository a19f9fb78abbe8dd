"""The attribute space of DiG scenes, exactly as the supplement (§7) defines it.

- shape: cube, sphere, cylinder
- color: eight hues with fixed RGB (CLEVR's palette, sRGB 0-255)
- size: small / medium / large = scale factors 0.4 / 0.6 / 0.8 (the object's half-extent)
- material: metal (metallic 1.0, roughness 0.2), matte (metallic 0.0, roughness 0.8)
"""

from __future__ import annotations

import math

SHAPES: tuple[str, ...] = ("cube", "sphere", "cylinder")

COLORS: dict[str, tuple[int, int, int]] = {
    "blue": (42, 75, 215),
    "brown": (129, 74, 25),
    "cyan": (41, 208, 208),
    "gray": (87, 87, 87),
    "green": (29, 105, 20),
    "purple": (129, 38, 192),
    "red": (173, 35, 35),
    "yellow": (255, 238, 51),
}

SIZES: dict[str, float] = {"small": 0.4, "medium": 0.6, "large": 0.8}

MATERIALS: dict[str, dict[str, float]] = {
    "metal": {"metallic": 1.0, "roughness": 0.2},
    "matte": {"metallic": 0.0, "roughness": 0.8},
}

ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "shape": SHAPES,
    "color": tuple(COLORS),
    "size": tuple(SIZES),
    "material": tuple(MATERIALS),
}


def footprint_radius(shape: str, size: str) -> float:
    """Radius of a circle on the ground that contains the object at any rotation.

    A cube of half-extent s reaches s*sqrt(2) at its corners; spheres and cylinders reach s.
    """
    s = SIZES[size]
    return s * math.sqrt(2.0) if shape == "cube" else s


def srgb_to_linear(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    """sRGB 0-255 -> linear 0-1 (what Blender's Principled BSDF base color expects)."""

    def f(c: float) -> float:
        c = c / 255.0
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return tuple(f(c) for c in rgb)  # type: ignore[return-value]
