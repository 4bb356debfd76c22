"""Procedural 3D-shapes-like scenes, rendered on demand by a small vectorised ray caster.

.. important::
   This is **not** the DeepMind 3dshapes dataset (Burgess & Kim 2018,
   github.com/deepmind/3d-shapes, used in FactorVAE, Kim & Mnih 2018). It contains none of that
   data and does not reproduce its pixels: it only uses the **same factor grid** (names, sizes,
   values and row-major order), so that code written for 3dshapes runs unchanged and the factors
   have the same meaning. Numbers measured on it are not comparable with published 3dshapes
   results.

480,000 RGB 64x64 images, one per combination of six factors (``orientation`` varies fastest,
as in the release's ``images`` / ``labels`` arrays):

===========  ====  =======================================================================
factor       size  values (as in the release's ``labels``)
===========  ====  =======================================================================
floor_hue      10  linspace(0, 1, 10, endpoint=False) = 0, 0.1, ..., 0.9
wall_hue       10  the same
object_hue     10  the same
scale           8  linspace(0.75, 1.25, 8)
shape           4  0, 1, 2, 3 = cube, cylinder, sphere, capsule
orientation    15  linspace(-30, 30, 15) degrees
===========  ====  =======================================================================

The scene. World axes: ``x`` to the right, ``y`` up, ``z`` away from the camera. A room corner:
the floor ``y = 0``, a back wall ``z = 2`` and a right wall ``x = 2.4`` (both walls take the wall
hue). The object stands on the floor at the origin, scaled by ``scale`` and turned about the
vertical axis by ``orientation``. At scale 1: a cube of side 1; an upright cylinder of radius 0.5
and height 1; a sphere of radius 0.6; a capsule of radius 0.38 lying on its side, its axis
(0.84 long between the centres of its two hemispheres) along ``x``, across the view, at
orientation 0. So orientation shows for the cube and the capsule only: the cylinder and the
sphere are symmetric about the vertical axis and look exactly the same at every orientation.

A pinhole camera (34 degrees vertical field of view) at ``(-1.5, 2.3, -5.2)`` looks at
``(0.25, 0.55, 0)``: slightly from the left and from above, so the floor fills the lower half of
the image, the back wall the upper left and the right wall the upper right, meeting in a vertical
corner; the object is in the middle. One directional light from the upper left, slightly from
the front (towards ``(-1, 1.2, -0.5)``), gives Lambertian shading plus ambient light
(``0.35 + 0.65 max(cos, 0)``), and the object casts a hard shadow (ambient light only) onto the
floor to its right. The floor and the walls are flat and lit evenly, each at its own level (the
back wall, lit at a grazing angle, is the darkest), so within a surface pixels differ only where
the shadow falls.

Colours are HSV with the factor's hue, saturation 0.85 and value 1, times the lighting; pixels
are float32 in [0, 1]. One ray per pixel (no anti-aliasing). Only elementwise arithmetic is used
(no reductions or matrix products over pixels or scenes), so an image does not depend on what
else was in its batch, and rendering is deterministic.

Speed: a scene's image is its geometry (which surface each pixel sees and how brightly it is
lit: 480 combinations of scale, shape and orientation, of which 256 differ, as cylinders and
spheres ignore the orientation) coloured by its three hues. With ``cache=True`` (the default)
the first render traces all 256 geometries in one pass (about 0.1 s, 10 MB kept) and every
render is then a lookup and a multiply. The tracer is numpy, which runs on the calling thread.
"""

from __future__ import annotations

import math
from functools import cache
from typing import NamedTuple

import numpy as np
import torch

from vaekit.data.base import GroundTruthDataset
from vaekit.errors import DataError
from vaekit.registry import DATASETS

FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
FACTOR_SIZES = (10, 10, 10, 8, 4, 15)
SHAPE_NAMES = ("cube", "cylinder", "sphere", "capsule")
# Surface labels of :meth:`ProceduralShapes3D.segment`.
FLOOR, WALL, OBJECT = 0, 1, 2

_SIZE = 64
_CUBE, _CYLINDER, _SPHERE, _CAPSULE = range(4)
# Symmetric about the vertical axis: their orientation is not traced (exactly invariant images,
# fewer geometries to cache).
_SYMMETRIC = (_CYLINDER, _SPHERE)

# Camera, room and light (world units; see the module docstring).
_CAMERA = (-1.5, 2.3, -5.2)
_TARGET = (0.25, 0.55, 0.0)
_FOV_DEG = 34.0
_BACK_WALL_Z = 2.0
_SIDE_WALL_X = 2.4
_TO_LIGHT = (-1.0, 1.2, -0.5)  # direction towards the light (normalised below)
_AMBIENT, _DIFFUSE = 0.35, 0.65
_SATURATION, _VALUE = 0.85, 1.0

# Object sizes at scale 1 (world units).
_CUBE_HALF = 0.5
_CYL_RADIUS, _CYL_HALF_HEIGHT = 0.5, 0.5
_SPHERE_RADIUS = 0.6
_CAPSULE_RADIUS, _CAPSULE_HALF_LENGTH = 0.38, 0.42
# Height of each shape's centre above the floor at scale 1, so that it stands on the floor.
_CENTRE_HEIGHT = (_CUBE_HALF, _CYL_HALF_HEIGHT, _SPHERE_RADIUS, _CAPSULE_RADIUS)
# Radius of a sphere about each shape's centre that holds the shape at scale 1 (at any angle).
_SHAPE_RADIUS = (
    _CUBE_HALF * math.sqrt(3.0),
    math.hypot(_CYL_RADIUS, _CYL_HALF_HEIGHT),
    _SPHERE_RADIUS,
    _CAPSULE_HALF_LENGTH + _CAPSULE_RADIUS,
)
_MAX_SCALE = 1.25
_N_GEOMETRIES = FACTOR_SIZES[3] * FACTOR_SIZES[4] * FACTOR_SIZES[5]

# Tracing is in numpy float32: twice as fast as float64, far more precise than 8-bit output, and
# numpy runs on the calling thread. (PyTorch's intra-op thread pool made the same code up to 80x
# slower on a busy 2-core machine, waiting for a descheduled worker at every op.)
_DTYPE = np.float32
# Stands in for a zero ray-direction component (else 0 * inf = nan in a slab test when a ray
# starts exactly on a slab's boundary).
_TINY = 1e-12
# Geometries traced together (see _trace): the work arrays stay in cache.
_CHUNK = 16


def factor_values() -> list[np.ndarray]:
    """The factor values of the 3dshapes release's ``labels`` (orientation in degrees)."""
    hues = np.linspace(0.0, 1.0, 10, endpoint=False)
    return [
        hues,
        hues.copy(),
        hues.copy(),
        np.linspace(0.75, 1.25, 8),
        np.arange(4, dtype=np.float64),
        np.linspace(-30.0, 30.0, 15),
    ]


def hsv_palette(hues: np.ndarray, saturation: float = _SATURATION,
                value: float = _VALUE) -> np.ndarray:
    """RGB ``(len(hues), 3)`` in [0, 1] of HSV colours (the standard hexcone formula)."""
    hues = np.asarray(hues, dtype=np.float64)[:, None]
    k = (np.array([5.0, 3.0, 1.0]) + 6.0 * hues) % 6.0
    return value - value * saturation * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


class _Vec(NamedTuple):
    """A 3-vector field as three same-shaped arrays (cheaper than stacking and slicing)."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray

    def dot(self, other: _Vec) -> np.ndarray:
        return self.x * other.x + self.y * other.y + self.z * other.z


class _Scene(NamedTuple):
    """Everything about the image that does not depend on the object, one entry per pixel."""

    ray: _Vec                # unit camera-ray directions, (P,) each, float32
    bg_t: np.ndarray         # distance to the floor or wall the ray hits
    bg_label: np.ndarray     # FLOOR or WALL, uint8
    bg_light: np.ndarray     # its brightness when not in shadow
    bg_point: _Vec           # the point hit
    primary: np.ndarray      # pixels whose ray may meet an object (any scale, shape, angle)
    shadowed: np.ndarray     # pixels whose background point an object may shade
    to_light: tuple[float, float, float]  # unit direction towards the light


def _unit(v: tuple[float, float, float] | np.ndarray) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    return a / np.linalg.norm(a)


def _meets_sphere(origin: np.ndarray, direction: np.ndarray, centre: np.ndarray,
                  radius: float) -> np.ndarray:
    """Whether rays ``origin + t direction`` (unit directions, ``t > 0``) meet a sphere."""
    oc = origin - centre
    b = (oc * direction).sum(-1)
    disc = b * b - ((oc * oc).sum(-1) - radius**2)
    return (disc >= 0) & ((-b + np.sqrt(np.maximum(disc, 0.0))) > 0)


@cache
def _scene() -> _Scene:
    """Camera rays, the room, and the pixels an object can touch; computed once, in float64."""
    eye, forward = np.asarray(_CAMERA), _unit(np.subtract(_TARGET, _CAMERA))
    right = _unit(np.cross([0.0, 1.0, 0.0], forward))
    up = np.cross(forward, right)
    half = math.tan(math.radians(_FOV_DEG) / 2)
    centres = (np.arange(_SIZE) + 0.5) / _SIZE * 2.0 - 1.0  # pixel centres in [-1, 1]
    u = np.tile(centres, _SIZE)            # column coordinate, left to right
    v = np.repeat(-centres, _SIZE)         # row coordinate, row 0 at the top
    ray = forward + half * (u[:, None] * right + v[:, None] * up)
    ray /= np.linalg.norm(ray, axis=1, keepdims=True)

    # Nearest of the three room planes in front of the camera (the camera is inside the room,
    # looking down and into the corner, so every ray meets one of them).
    with np.errstate(divide="ignore"):
        planes = np.stack([
            np.where(ray[:, 1] < 0, -eye[1] / ray[:, 1], np.inf),                  # floor
            np.where(ray[:, 2] > 0, (_BACK_WALL_Z - eye[2]) / ray[:, 2], np.inf),  # back wall
            np.where(ray[:, 0] > 0, (_SIDE_WALL_X - eye[0]) / ray[:, 0], np.inf),  # right wall
        ])
    which = planes.argmin(0)
    bg_t = planes.min(0)
    if not np.isfinite(bg_t).all():
        raise AssertionError("shapes3d: a camera ray misses the room")
    point = eye + bg_t[:, None] * ray
    light = _unit(_TO_LIGHT)
    normals = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])
    # The light comes from the room's open side, so no wall shades another wall or the floor.
    cos = np.maximum(normals @ light, 0.0)[which]

    # Conservative pixel sets: a sphere around every object at every scale and angle.
    top = max((h + r) for h, r in zip(_CENTRE_HEIGHT, _SHAPE_RADIUS)) * _MAX_SCALE
    bound_centre = np.array([0.0, top / 2, 0.0])
    bound_radius = max(abs(h * _MAX_SCALE - top / 2) + r * _MAX_SCALE
                       for h, r in zip(_CENTRE_HEIGHT, _SHAPE_RADIUS)) + 1e-3
    primary = _meets_sphere(eye[None], ray, bound_centre, bound_radius)
    shadowed = _meets_sphere(point, light[None], bound_centre, bound_radius)

    def f32(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=_DTYPE)

    return _Scene(
        ray=_Vec(*(f32(ray[:, k]) for k in range(3))),
        bg_t=f32(bg_t),
        bg_label=np.where(which == 0, FLOOR, WALL).astype(np.uint8),
        bg_light=f32(_AMBIENT + _DIFFUSE * cos),
        bg_point=_Vec(*(f32(point[:, k]) for k in range(3))),
        primary=np.flatnonzero(primary),
        shadowed=np.flatnonzero(shadowed),
        to_light=(float(light[0]), float(light[1]), float(light[2])),
    )


# ---------------------------------------------------------------------------------------------
# Ray / object intersections in the object's frame at scale 1 (origin at the object's centre).
# Each takes ray origins ``q`` and directions ``e`` (not unit: the world direction divided by the
# scale, so that ``t`` is the world distance) and returns the entry distance ``t`` (inf where the
# ray misses or the object is behind it) and the unit outward normal there. Every ray starts
# outside the object (the camera and the room's surfaces never touch it). Float32 throughout:
# Python float constants do not promote numpy arrays.
# ---------------------------------------------------------------------------------------------

def _nonzero(a: np.ndarray) -> np.ndarray:
    return np.where(a == 0, _DTYPE(_TINY), a)


def _slab(q: np.ndarray, e: np.ndarray, half: float) -> tuple[np.ndarray, np.ndarray]:
    """Where the ray enters and leaves ``|coordinate| <= half`` along one axis."""
    inv = 1.0 / _nonzero(e)
    t1, t2 = (-half - q) * inv, (half - q) * inv
    return np.minimum(t1, t2), np.maximum(t1, t2)


def _entry(near: np.ndarray, far: np.ndarray, hit: np.ndarray | None = None) -> np.ndarray:
    ok = (near <= far) & (near > 0)
    if hit is not None:
        ok &= hit
    return np.where(ok, near, _DTYPE(np.inf))


def _box(q: _Vec, e: _Vec) -> tuple[np.ndarray, _Vec]:
    """The cube ``|x|, |y|, |z| <= 0.5`` (slab method)."""
    (nx, fx), (ny, fy), (nz, fz) = (_slab(a, b, _CUBE_HALF) for a, b in zip(q, e))
    near = np.maximum(np.maximum(nx, ny), nz)
    far = np.minimum(np.minimum(fx, fy), fz)
    # The normal is that of the face entered last: the slab whose entry is the latest.
    normal = _Vec(*(np.where(n == near, -np.sign(d), _DTYPE(0))
                    for n, d in ((nx, e.x), (ny, e.y), (nz, e.z))))
    return _entry(near, far), normal


def _cylinder(q: _Vec, e: _Vec) -> tuple[np.ndarray, _Vec]:
    """The upright cylinder ``x^2 + z^2 <= r^2``, ``|y| <= h`` (infinite cylinder and a slab)."""
    a = np.maximum(e.x * e.x + e.z * e.z, _TINY)  # no ray is vertical (camera, light)
    b = q.x * e.x + q.z * e.z
    c = q.x * q.x + q.z * q.z - _CYL_RADIUS**2
    disc = b * b - a * c
    root = np.sqrt(np.maximum(disc, 0))
    side_near, side_far = (-b - root) / a, (-b + root) / a
    cap_near, cap_far = _slab(q.y, e.y, _CYL_HALF_HEIGHT)
    near = np.maximum(side_near, cap_near)
    t = _entry(near, np.minimum(side_far, cap_far), disc >= 0)
    side = side_near >= cap_near
    zero = _DTYPE(0)
    normal = _Vec(np.where(side, (q.x + near * e.x) / _CYL_RADIUS, zero),
                  np.where(side, zero, -np.sign(e.y)),
                  np.where(side, (q.z + near * e.z) / _CYL_RADIUS, zero))
    return t, normal


def _sphere_entry(q: _Vec, e: _Vec, radius: float, dx: float = 0.0) -> np.ndarray:
    """Entry distance into the sphere of ``radius`` centred at ``(dx, 0, 0)``."""
    qx = q.x - dx
    a = e.dot(e)
    b = qx * e.x + q.y * e.y + q.z * e.z
    c = qx * qx + q.y * q.y + q.z * q.z - radius**2
    disc = b * b - a * c
    near = (-b - np.sqrt(np.maximum(disc, 0))) / a
    return _entry(near, near, disc >= 0)


def _finite(t: np.ndarray) -> np.ndarray:
    """``t`` with misses (inf) set to 0, for normals: finite, and unused where the ray misses."""
    return np.where(np.isfinite(t), t, _DTYPE(0))


def _sphere(q: _Vec, e: _Vec) -> tuple[np.ndarray, _Vec]:
    t = _sphere_entry(q, e, _SPHERE_RADIUS)
    at = _finite(t)
    return t, _Vec(*((a + at * b) / _SPHERE_RADIUS for a, b in zip(q, e)))


def _capsule(q: _Vec, e: _Vec) -> tuple[np.ndarray, _Vec]:
    """A capsule along the x axis: points within ``r`` of the segment ``|x| <= L``, y = z = 0.

    It is the union of two spheres and the side of a cylinder between them, so the entry is the
    nearest of the three entries (the side's only where it lies between the two centres).
    """
    r, length = _CAPSULE_RADIUS, _CAPSULE_HALF_LENGTH
    a = np.maximum(e.y * e.y + e.z * e.z, _TINY)
    b = q.y * e.y + q.z * e.z
    c = q.y * q.y + q.z * q.z - r * r
    disc = b * b - a * c
    side = (-b - np.sqrt(np.maximum(disc, 0))) / a
    side = _entry(side, side, (disc >= 0) & (np.abs(q.x + side * e.x) <= length))
    t = np.minimum(side, np.minimum(_sphere_entry(q, e, r, -length),
                                    _sphere_entry(q, e, r, length)))
    at = _finite(t)
    px = q.x + at * e.x
    # The outward normal points away from the nearest point of the axis segment.
    normal = _Vec((px - np.clip(px, -length, length)) / r, (q.y + at * e.y) / r,
                  (q.z + at * e.z) / r)
    return t, normal


_INTERSECT = (_box, _cylinder, _sphere, _capsule)


def _to_object(p: _Vec, d: _Vec, s: np.ndarray, cos: np.ndarray, sin: np.ndarray,
               centre_y: np.ndarray) -> tuple[_Vec, _Vec]:
    """World -> object frame: move the object's centre to the origin, turn by -angle about y,
    divide by the scale (directions too, so that ``t`` stays the world distance)."""
    px, py, pz = p.x, p.y - centre_y, p.z
    q = _Vec((cos * px - sin * pz) / s, py / s, (sin * px + cos * pz) / s)
    e = _Vec((cos * d.x - sin * d.z) / s, d.y / s, (sin * d.x + cos * d.z) / s)
    return q, e


def _trace(scale: np.ndarray, shape: np.ndarray,
           angle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Surface labels (uint8) and brightness (float32), both ``(G, 64 * 64)``, of G geometries.

    ``scale``, ``shape`` and ``angle`` (radians) are ``(G,)``. Rays are traced only for the
    pixels an object can touch; the other pixels keep the room's precomputed values. Every
    operation is elementwise, so a geometry's result does not depend on the others traced
    with it.
    """
    scene = _scene()
    g = len(scale)
    label = np.repeat(scene.bg_label[None], g, axis=0)
    light = np.repeat(scene.bg_light[None], g, axis=0)
    prim, shad = scene.primary, scene.shadowed
    eye = _Vec(*(_DTYPE(c) for c in _CAMERA))
    rays = _Vec(*(c[prim] for c in scene.ray))
    bg = _Vec(*(c[shad] for c in scene.bg_point))
    sun = _Vec(*(np.full(len(shad), c, dtype=_DTYPE) for c in scene.to_light))
    lx, ly, lz = scene.to_light
    for code, intersect in enumerate(_INTERSECT):
        rows_all = np.flatnonzero(shape == code)
        for start in range(0, len(rows_all), _CHUNK):
            rows = rows_all[start:start + _CHUNK]
            s = scale[rows].astype(_DTYPE)[:, None]
            cos = np.cos(angle[rows]).astype(_DTYPE)[:, None]
            sin = np.sin(angle[rows]).astype(_DTYPE)[:, None]
            frame = (s, cos, sin, _CENTRE_HEIGHT[code] * s)

            # Shadows: does the ray from the room's surface towards the light meet the object?
            blocked, _ = intersect(*_to_object(bg, sun, *frame))
            idx = np.ix_(rows, shad)
            light[idx] = np.where(np.isfinite(blocked), _DTYPE(_AMBIENT), light[idx])

            # Camera rays: the object where it is nearer than the room. Being convex, it shades
            # itself exactly where its normal faces away from the light: no shadow rays needed.
            t, n = intersect(*_to_object(eye, rays, *frame))
            hit = t < scene.bg_t[prim]
            # Object frame -> world: turn the normal back by +angle (scaling keeps directions).
            nx, nz = cos * n.x + sin * n.z, cos * n.z - sin * n.x
            shade = _AMBIENT + _DIFFUSE * np.maximum(nx * lx + n.y * ly + nz * lz, 0)
            idx = np.ix_(rows, prim)
            label[idx] = np.where(hit, np.uint8(OBJECT), label[idx])
            light[idx] = np.where(hit, shade, light[idx])
    return label, light


@DATASETS.register("procedural_shapes3d")
class ProceduralShapes3D(GroundTruthDataset):
    """3D-shapes-like scenes (NOT the DeepMind 3dshapes data): float32 ``(3, 64, 64)`` images.

    Same factor grid as 3dshapes (see the module docstring); each image is ray-traced on demand.
    ``cache``: trace every distinct geometry (scale, shape, orientation) once, at the first
    render (about 0.1 s, 10 MB), so that rendering is then only colouring; with ``cache=False``
    each call traces its own scenes. The images are the same either way.
    """

    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES

    def __init__(self, cache: bool = True) -> None:
        self.cache = bool(cache)
        self._values = factor_values()
        self._palette = hsv_palette(self._values[0]).astype(_DTYPE)  # (10, 3)
        self._radians = np.radians(self._values[5])
        self._table: tuple[np.ndarray, np.ndarray] | None = None  # see _geometry

    def factor_values(self) -> list[np.ndarray]:
        return [v.copy() for v in self._values]

    @property
    def data_shape(self) -> tuple[int, ...]:
        return (3, _SIZE, _SIZE)

    def _check_factors(self, factors: np.ndarray) -> np.ndarray:
        factors = np.asarray(factors)
        if factors.ndim != 2 or factors.shape[1] != len(FACTOR_SIZES):
            raise DataError(f"procedural_shapes3d: factors must have shape (n, "
                            f"{len(FACTOR_SIZES)}) [{', '.join(FACTOR_NAMES)}], got "
                            f"{factors.shape}")
        if not np.issubdtype(factors.dtype, np.integer):
            raise DataError("procedural_shapes3d: factors are class indices (integers), got "
                            f"{factors.dtype}")
        bad = (factors < 0) | (factors >= np.asarray(FACTOR_SIZES))
        if bad.any():
            row, col = map(int, np.argwhere(bad)[0])
            raise DataError(f"procedural_shapes3d: factor {FACTOR_NAMES[col]} = "
                            f"{factors[row, col]} (row {row}) is out of range "
                            f"0..{FACTOR_SIZES[col] - 1}")
        return factors.astype(np.int64, copy=False)

    @staticmethod
    def _geometry_keys(factors: np.ndarray) -> np.ndarray:
        """Index ``(n,)`` of each row's geometry (scale, shape, orientation) in 0..479."""
        scale, shape, orient = factors[:, 3], factors[:, 4], factors[:, 5]
        # Symmetric shapes look the same at every angle: trace (and cache) them at angle index 0.
        orient = np.where(np.isin(shape, _SYMMETRIC), 0, orient)
        return (scale * FACTOR_SIZES[4] + shape) * FACTOR_SIZES[5] + orient

    def _trace_keys(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scale = self._values[3][keys // (FACTOR_SIZES[4] * FACTOR_SIZES[5])]
        shape = keys // FACTOR_SIZES[5] % FACTOR_SIZES[4]
        return _trace(scale, shape, self._radians[keys % FACTOR_SIZES[5]])

    def _geometry(self, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Labels ``(n, P)`` uint8 and brightness ``(n, P)`` of checked factor rows."""
        key = self._geometry_keys(factors)
        if not self.cache:
            unique, inverse = np.unique(key, return_inverse=True)
            labels, light = self._trace_keys(unique)
            return labels[inverse], light[inverse]
        if self._table is None:
            # Trace every distinct geometry at the first call, in one pass (256 of them): about
            # as fast as tracing the first batch alone, and from then on rendering is only
            # colouring. Rows of keys that never occur (turned cylinders, spheres) stay zero.
            geometries = np.indices(FACTOR_SIZES[3:]).reshape(3, -1).T  # scale, shape, angle
            hues = np.zeros((len(geometries), 3), dtype=geometries.dtype)
            every = np.unique(self._geometry_keys(np.hstack([hues, geometries])))
            labels = np.zeros((_N_GEOMETRIES, _SIZE * _SIZE), dtype=np.uint8)
            light = np.zeros((_N_GEOMETRIES, _SIZE * _SIZE), dtype=_DTYPE)
            labels[every], light[every] = self._trace_keys(every)
            self._table = (labels, light)
        labels, light = self._table
        return labels[key], light[key]

    def segment(self, factors: np.ndarray) -> torch.Tensor:
        """Which surface each pixel shows: ``(n, 64, 64)`` uint8, FLOOR, WALL or OBJECT."""
        factors = self._check_factors(factors)
        return torch.from_numpy(self._geometry(factors)[0].reshape(-1, _SIZE, _SIZE))

    def render(self, factors: np.ndarray) -> torch.Tensor:
        """Images ``(n, 3, 64, 64)`` float32 in [0, 1] for factor indices ``(n, 6)``."""
        factors = self._check_factors(factors)
        n = len(factors)
        out = np.empty((n, 3, _SIZE * _SIZE), dtype=_DTYPE)
        if n:
            labels, light = self._geometry(factors)
            # Each pixel takes the colour of its surface (floor, wall or object: the label is
            # also the hue's column in ``factors``), times its brightness.
            surface = labels + 3 * np.arange(n)[:, None]   # (n, P) into the (n * 3) surfaces
            colours = self._palette[factors[:, :3].ravel()]  # (n * 3 surfaces, 3 channels)
            for channel in range(3):
                np.multiply(np.take(colours[:, channel], surface), light, out=out[:, channel])
        return torch.from_numpy(out).view(n, 3, _SIZE, _SIZE)
