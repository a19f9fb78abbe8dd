"""The only module that imports ``bpy`` (Blender as a Python module).

:class:`BlenderRenderer` holds one Blender session: it is created once per worker process
and renders many scenes, so bpy is loaded once per worker, not once per image. Per image it
rebuilds only the objects, camera and lights; the world, ground, materials, meshes and the
compositor graph are built once.

Outputs per image: an 8-bit PNG (Cycles, Principled BSDF materials per supplement §7,
Standard view transform so the palette's fixed RGB values stay recognisable) and the
object-index pass (each object's ``pass_index`` is its id + 1; 0 is background), written by
a compositor File Output node as a float EXR and read back through ``bpy.data.images``.
Boxes come from projecting every mesh vertex through the camera: the objects are convex
polyhedra, so the projected vertices' extent is the tight box of the rendered geometry.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

try:
    import bpy  # first: bmesh, bpy_extras and mathutils are importable once bpy is loaded
    import bmesh
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Matrix, Vector
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "Rendering needs Blender's Python module: install the 'render' extra (pip install 'dig-kit[render]', "
        "i.e. bpy==5.0.1 on Python 3.11)"
    ) from e

from dig_kit.config import RenderConfig
from dig_kit.scenes.attributes import COLORS, MATERIALS, srgb_to_linear
from dig_kit.scenes.spec import SceneSpec

GROUND_COLOR = (0.45, 0.45, 0.45)


def _look_at(obj, target) -> None:
    direction = Vector(target) - obj.location
    obj.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()


class BlenderRenderer:
    """One persistent Blender session rendering :class:`SceneSpec` s with Cycles.

    Blender holds one session per process: creating a renderer resets it, so an older
    renderer of the same process refuses to render (use worker processes for several).
    """

    _generation = 0

    def __init__(self, cfg: RenderConfig, workdir: str | Path | None = None):
        BlenderRenderer._generation += 1
        self._gen = BlenderRenderer._generation
        self.cfg = cfg
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="dig_kit_bpy_"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.last_render_seconds = 0.0
        self.device = "cpu"
        bpy.ops.wm.read_factory_settings(use_empty=True)
        self.scene = bpy.context.scene
        self._setup_render()
        self._setup_world()
        self._add_ground()
        self._add_camera_and_lights()
        self._meshes = self._build_meshes()
        self._materials: dict[tuple[str, str], object] = {}
        self._dynamic: list = []

    # -- one-time setup ------------------------------------------------------------------
    def _setup_render(self) -> None:
        sc, cfg = self.scene, self.cfg
        sc.render.engine = "CYCLES"
        self.device = self._pick_device(cfg.device)
        sc.cycles.device = "GPU" if self.device == "gpu" else "CPU"
        sc.cycles.samples = cfg.samples
        sc.cycles.sampling_pattern = cfg.sampling_pattern.upper()
        sc.cycles.use_adaptive_sampling = cfg.adaptive
        sc.cycles.adaptive_threshold = cfg.adaptive_threshold
        sc.cycles.use_denoising = cfg.denoise
        if cfg.denoise:
            sc.cycles.denoiser = "OPENIMAGEDENOISE"
            sc.cycles.denoising_quality = cfg.denoise_quality.upper()
            sc.cycles.denoising_prefilter = "FAST" if cfg.denoise_quality == "fast" else "ACCURATE"
        sc.cycles.use_light_tree = cfg.light_tree
        sc.cycles.max_bounces = cfg.max_bounces
        sc.cycles.diffuse_bounces = min(2, cfg.max_bounces)
        sc.cycles.glossy_bounces = min(2, cfg.max_bounces)
        sc.cycles.transmission_bounces = 0
        sc.cycles.volume_bounces = 0
        sc.cycles.transparent_max_bounces = 0
        sc.cycles.caustics_reflective = False
        sc.cycles.caustics_refractive = False
        sc.cycles.seed = 0
        sc.render.resolution_x, sc.render.resolution_y = cfg.width, cfg.height
        sc.render.resolution_percentage = 100
        sc.render.image_settings.file_format = "PNG"
        sc.render.image_settings.color_mode = "RGB"
        sc.render.image_settings.color_depth = "8"
        sc.view_settings.view_transform = "Standard"
        if cfg.threads > 0:
            sc.render.threads_mode = "FIXED"
            sc.render.threads = cfg.threads
        view_layer = sc.view_layers[0]
        view_layer.use_pass_object_index = True
        # Compositor: write the object-index pass as a float EXR next to each render.
        tree = bpy.data.node_groups.new("dig_kit_compositor", "CompositorNodeTree")
        sc.compositing_node_group = tree
        layers = tree.nodes.new("CompositorNodeRLayers")
        out = tree.nodes.new("CompositorNodeOutputFile")
        out.format.media_type = "IMAGE"
        out.format.file_format = "OPEN_EXR"
        out.format.color_depth = "32"
        out.directory = str(self.workdir) + os.sep
        out.file_name = "pass_"
        out.file_output_items.new("FLOAT", "index")
        tree.links.new(layers.outputs["Object Index"], out.inputs[0])
        self._index_path = self.workdir / "pass_index.exr"

    @staticmethod
    def _pick_device(want: str) -> str:
        if want == "cpu":
            return "cpu"
        prefs = bpy.context.preferences.addons["cycles"].preferences
        for backend in ("OPTIX", "CUDA", "HIP", "METAL", "ONEAPI"):
            try:
                prefs.compute_device_type = backend
            except TypeError:
                continue
            prefs.get_devices()
            gpus = [d for d in prefs.devices if d.type == backend]
            if gpus:
                for d in prefs.devices:
                    d.use = d.type == backend
                return "gpu"
        if want == "gpu":
            raise RuntimeError("render.device=gpu but Blender found no CUDA/OptiX/HIP/Metal/oneAPI device")
        return "cpu"

    def _setup_world(self) -> None:
        """The world shader: a plain background, and a brighter sky seen by reflections only."""
        world = bpy.data.worlds.new("world")
        self.scene.world = world
        world.use_nodes = True
        nodes, links = world.node_tree.nodes, world.node_tree.links
        self._background = nodes["Background"]  # what the camera sees, and the soft ambient light
        self._background.inputs["Color"].default_value = (0.5, 0.5, 0.5, 1.0)
        if self.cfg.reflection_env > 0:
            # Metals mirror their surroundings: a dim uniform world makes gray metal read as black.
            # Glossy rays (reflections) see a brighter sky instead, as CLEVR's studio scene gives its
            # metals; the camera and diffuse bounces still see the plain background, so matte
            # objects and the ground look as before.
            env = nodes.new("ShaderNodeBackground")
            env.inputs["Color"].default_value = (0.8, 0.8, 0.8, 1.0)
            env.inputs["Strength"].default_value = self.cfg.reflection_env
            path = nodes.new("ShaderNodeLightPath")
            mix = nodes.new("ShaderNodeMixShader")
            links.new(path.outputs["Is Glossy Ray"], mix.inputs["Fac"])
            links.new(self._background.outputs["Background"], mix.inputs[1])
            links.new(env.outputs["Background"], mix.inputs[2])
            links.new(mix.outputs["Shader"], nodes["World Output"].inputs["Surface"])

    def _add_ground(self) -> None:
        """The ground plane, matte gray."""
        mesh = bpy.data.meshes.new("ground")
        bm = bmesh.new()
        bmesh.ops.create_grid(bm, x_segments=1, y_segments=1, size=60.0)
        bm.to_mesh(mesh)
        bm.free()
        ground = bpy.data.objects.new("ground", mesh)
        ground.data.materials.append(self._principled("ground", GROUND_COLOR, 0.0, 0.9))
        self.scene.collection.objects.link(ground)

    def _add_camera_and_lights(self) -> None:
        """The camera and the key, fill and back area lights (each scene places them)."""
        cam = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
        cam.data.sensor_width = 36.0
        cam.data.sensor_fit = "HORIZONTAL"
        self.scene.collection.objects.link(cam)
        self.scene.camera = cam
        self.camera = cam
        self.lights = {}
        for name in ("key", "fill", "back"):
            data = bpy.data.lights.new(name, "AREA")
            data.size = 2.0
            obj = bpy.data.objects.new(name, data)
            self.scene.collection.objects.link(obj)
            self.lights[name] = obj

    def _build_meshes(self) -> dict[str, object]:
        """Unit meshes (half-extent 1, base on z=-1); objects scale them by the size factor."""
        meshes = {}
        for shape in ("cube", "sphere", "cylinder"):
            mesh = bpy.data.meshes.new(shape)
            bm = bmesh.new()
            if shape == "cube":
                bmesh.ops.create_cube(bm, size=2.0)
            elif shape == "sphere":
                bmesh.ops.create_uvsphere(bm, u_segments=48, v_segments=24, radius=1.0)
            else:
                bmesh.ops.create_cone(bm, cap_ends=True, segments=48, radius1=1.0, radius2=1.0, depth=2.0)
            bm.to_mesh(mesh)
            bm.free()
            if shape != "cube":
                for poly in mesh.polygons:
                    poly.use_smooth = shape == "sphere" or abs(poly.normal.z) < 0.5
            mesh.materials.append(None)  # one slot, filled per object
            meshes[shape] = mesh
        self._unit_vertices = {k: np.array([v.co[:] for v in m.vertices]) for k, m in meshes.items()}
        return meshes

    def _principled(self, name, rgb_linear, metallic, roughness):
        mat = bpy.data.materials.new(name)
        mat.use_nodes = True
        bsdf = mat.node_tree.nodes["Principled BSDF"]
        bsdf.inputs["Base Color"].default_value = (*rgb_linear, 1.0)
        bsdf.inputs["Metallic"].default_value = metallic
        bsdf.inputs["Roughness"].default_value = roughness
        return mat

    def _material(self, color: str, material: str):
        key = (color, material)
        if key not in self._materials:
            p = MATERIALS[material]
            self._materials[key] = self._principled(
                f"{color}_{material}", srgb_to_linear(COLORS[color]), p["metallic"], p["roughness"]
            )
        return self._materials[key]

    # -- per scene -----------------------------------------------------------------------
    def _object_matrix(self, obj) -> Matrix:
        s = obj.scale
        return (
            Matrix.Translation((obj.x, obj.y, s))
            @ Matrix.Rotation(math.radians(obj.rotation), 4, "Z")
            @ Matrix.Diagonal((s, s, s, 1.0))
        )

    def build(self, scene: SceneSpec) -> None:
        """Replace the objects, camera and lights by those of ``scene``."""
        for ob in self._dynamic:
            bpy.data.objects.remove(ob, do_unlink=True)
        self._dynamic = []
        for spec in scene.objects:
            ob = bpy.data.objects.new(f"obj{spec.id}", self._meshes[spec.shape])
            ob.matrix_world = self._object_matrix(spec)
            ob.pass_index = spec.id + 1
            self.scene.collection.objects.link(ob)
            # Meshes are shared between objects, so the material is linked per object.
            ob.material_slots[0].link = "OBJECT"
            ob.material_slots[0].material = self._material(spec.color, spec.material)
            self._dynamic.append(ob)
        self._set_camera(scene)
        light = scene.light
        for name, loc, power in (
            ("key", light.key_location, light.key_strength),
            ("fill", light.fill_location, light.fill_strength),
            ("back", light.back_location, light.back_strength),
        ):
            ob = self.lights[name]
            ob.location = loc
            ob.data.energy = power
            _look_at(ob, (0.0, 0.0, 0.0))
        self._background.inputs["Strength"].default_value = light.ambient
        bpy.context.view_layer.update()

    def render(self, scene: SceneSpec, png_path: str | Path) -> np.ndarray:
        """Render ``scene`` to ``png_path``; return the object-index pass (H x W int array)."""
        if self._gen != BlenderRenderer._generation:
            raise RuntimeError(
                "this BlenderRenderer was replaced by a newer one in the same process "
                "(Blender holds one session per process)"
            )
        self.build(scene)
        if self._index_path.exists():
            self._index_path.unlink()
        self.scene.render.filepath = str(png_path)
        t0 = time.perf_counter()
        bpy.ops.render.render(write_still=True)
        self.last_render_seconds = time.perf_counter() - t0
        img = bpy.data.images.load(str(self._index_path), check_existing=False)
        try:
            w, h = img.size
            px = np.empty(w * h * img.channels, dtype=np.float32)
            img.pixels.foreach_get(px)
        finally:
            bpy.data.images.remove(img)
        index = np.rint(px.reshape(h, w, -1)[..., 0]).astype(np.int32)
        return index[::-1]  # Blender stores rows bottom-up

    def project_boxes(self, scene: SceneSpec, ids=None, clip: bool = True) -> dict[int, list[float]]:
        """Tight [x1, y1, x2, y2] pixel boxes (top-left origin) of the objects' meshes, clipped
        to the image unless ``clip`` is False; of every object, or of those in ``ids``."""
        W, H = self.cfg.width, self.cfg.height
        self._set_camera(scene)
        bpy.context.view_layer.update()
        boxes = {}
        for spec in scene.objects:
            if ids is not None and spec.id not in ids:
                continue
            m = np.array(self._object_matrix(spec))
            verts = self._unit_vertices[spec.shape] @ m[:3, :3].T + m[:3, 3]
            uv = np.array([world_to_camera_view(self.scene, self.camera, Vector(v))[:2] for v in verts])
            xs, ys = uv[:, 0] * W, (1.0 - uv[:, 1]) * H
            box = [float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())]
            if clip:
                box = [float(np.clip(v, 0, lim)) for v, lim in zip(box, (W, H, W, H))]
            boxes[spec.id] = [round(v, 2) for v in box]
        return boxes

    def _set_camera(self, scene: SceneSpec) -> None:
        cam = scene.camera
        self.camera.location = cam.location
        self.camera.data.lens = cam.focal_length
        _look_at(self.camera, cam.look_at)
