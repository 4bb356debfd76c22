"""Procedural 3D-shapes-like scenes: the 3dshapes factor grid, and what each factor does."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from matplotlib.colors import rgb_to_hsv

from vaekit.data import shapes3d
from vaekit.data.shapes3d import FLOOR, OBJECT, WALL, ProceduralShapes3D
from vaekit.errors import DataError
from vaekit.registry import DATASETS

SIZES = (10, 10, 10, 8, 4, 15)
CUBE, CYLINDER, SPHERE, CAPSULE = range(4)


@pytest.fixture(scope="module")
def ds() -> ProceduralShapes3D:
    return ProceduralShapes3D()


def scene(floor=2, wall=5, obj=8, scale=4, shape=CUBE, orient=10) -> np.ndarray:
    return np.array([[floor, wall, obj, scale, shape, orient]])


def object_mask(ds: ProceduralShapes3D, factors: np.ndarray) -> torch.Tensor:
    return ds.segment(factors) == OBJECT


def test_factor_grid_is_the_3dshapes_release(ds):
    assert len(ds) == 480_000 == int(np.prod(SIZES))
    assert ds.factor_sizes == SIZES and ds.num_factors == 6
    assert ds.factor_names == ("floor_hue", "wall_hue", "object_hue", "scale", "shape",
                               "orientation")
    values = ds.factor_values()
    for hues in values[:3]:
        np.testing.assert_allclose(hues, [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    np.testing.assert_allclose(values[3], np.linspace(0.75, 1.25, 8))
    np.testing.assert_array_equal(values[4], [0, 1, 2, 3])
    np.testing.assert_allclose(values[5], np.linspace(-30, 30, 15))
    values[3][0] = 99.0  # callers get copies
    assert ds.factor_values()[3][0] == 0.75
    # Row-major in the release's order: orientation varies fastest, floor hue slowest.
    np.testing.assert_array_equal(ds.index_to_factors(1), [0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(ds.index_to_factors(15), [0, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(ds.index_to_factors(479_999), [9, 9, 9, 7, 3, 14])


def test_docstring_says_it_is_not_the_original():
    doc = shapes3d.__doc__ + ProceduralShapes3D.__doc__
    assert "not** the DeepMind 3dshapes" in doc and "NOT the DeepMind 3dshapes" in doc


def test_render_output(ds):
    factors = ds.sample_factors(40, np.random.default_rng(0))
    images = ds.render(factors)
    assert images.shape == (40, 3, 64, 64) and images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1
    assert images.amin(dim=(1, 2, 3)).max() < 0.5 and images.amax(dim=(1, 2, 3)).min() > 0.5
    assert ds.data_shape == (3, 64, 64) and ds[123].shape == (3, 64, 64)
    assert ds.render(np.zeros((0, 6), np.int64)).shape == (0, 3, 64, 64)


def test_deterministic_cached_or_not_and_batch_independent(ds):
    factors = ds.sample_factors(24, np.random.default_rng(1))
    once = ds.render(factors)
    np.testing.assert_array_equal(once, ds.render(factors))
    fresh = ProceduralShapes3D(cache=False)
    np.testing.assert_array_equal(fresh.render(factors), once)
    alone = torch.cat([fresh.render(f[None]) for f in factors[:8]])
    np.testing.assert_array_equal(alone, once[:8])
    index = [0, 1234, 479_999]
    batch = ds.__getitems__(index)
    np.testing.assert_array_equal(torch.stack(batch), ds.render(ds.index_to_factors(index)))
    np.testing.assert_array_equal(ds[1234], batch[1])


@pytest.mark.parametrize("column, surface", [(0, FLOOR), (1, WALL), (2, OBJECT)])
def test_each_hue_changes_exactly_its_surface(ds, column, surface):
    base = scene()
    for shape in range(4):
        base[0, 4] = shape
        other = base.copy()
        other[0, column] = 7
        changed = (ds.render(base) != ds.render(other)).any(dim=1)[0]
        segment = ds.segment(base)[0]
        assert (segment == surface).sum() > 300
        assert torch.equal(changed, segment == surface)


def test_surfaces_take_their_hue(ds):
    # Lighting scales the value only: every pixel of a surface has the surface's hue.
    factors = scene(floor=1, wall=4, obj=6)
    hsv = rgb_to_hsv(ds.render(factors)[0].permute(1, 2, 0).numpy())
    segment = ds.segment(factors)[0].numpy()
    for surface, hue in ((FLOOR, 0.1), (WALL, 0.4), (OBJECT, 0.6)):
        np.testing.assert_allclose(hsv[segment == surface, 0], hue, atol=1e-4)
        np.testing.assert_allclose(hsv[segment == surface, 1], 0.85, atol=1e-4)


def test_room_layout(ds):
    # Floor at the bottom, walls at the top, the object around the middle.
    segment = ds.segment(scene())[0]
    assert (segment[-1] == FLOOR).all() and (segment[0] == WALL).all()
    rows, cols = torch.nonzero(segment == OBJECT, as_tuple=True)
    assert abs(rows.float().mean() - 32) < 8 and abs(cols.float().mean() - 32) < 8


def test_scale_grows_the_object(ds):
    for shape in range(4):
        factors = np.concatenate([scene(scale=s, shape=shape) for s in range(8)])
        area = object_mask(ds, factors).sum(dim=(1, 2))
        assert (area[1:] > area[:-1]).all(), (shape, area)
        assert 1.4 < area[-1] / area[0] < 3.5  # (1.25 / 0.75)^2 = 2.8 for a projected area


def test_four_shapes_four_silhouettes(ds):
    masks = object_mask(ds, np.concatenate([scene(shape=s) for s in range(4)]))
    for a in range(4):
        for b in range(a + 1, 4):
            assert (masks[a] != masks[b]).sum() > 30, (a, b)


def test_orientation_turns_cube_and_capsule_only(ds):
    for shape, visible in ((CUBE, True), (CYLINDER, False), (SPHERE, False), (CAPSULE, True)):
        factors = np.concatenate([scene(shape=shape, orient=o) for o in (0, 4, 7, 14)])
        masks, images = object_mask(ds, factors), ds.render(factors)
        for k in range(1, 4):
            differ = (masks[k] != masks[0]).sum().item()
            if visible:
                assert differ > 5, (shape, k)
            else:
                assert differ == 0 and torch.equal(images[k], images[0])
    # -30 and +30 degrees mirror the cube about its front: different silhouettes.
    cube = object_mask(ds, np.concatenate([scene(orient=0), scene(orient=14)]))
    assert (cube[0] != cube[1]).sum() > 5


def test_cast_shadow_on_the_floor_next_to_the_object(ds):
    for shape in range(4):
        factors = scene(shape=shape, scale=7, orient=3)
        image, segment = ds.render(factors)[0], ds.segment(factors)[0]
        brightness = image.sum(0)
        floor = segment == FLOOR
        rows, cols = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
        obj_r, obj_c = torch.nonzero(segment == OBJECT, as_tuple=True)
        # Distance of every pixel to the nearest object pixel.
        dist = ((rows[..., None] - obj_r) ** 2 + (cols[..., None] - obj_c) ** 2).amin(-1).sqrt()
        lit = brightness[floor & (dist > 20)]
        assert lit.numel() > 100 and (lit.max() - lit.min()) < 1e-6  # far floor: evenly lit
        shadow = floor & (brightness < 0.7 * lit.max())
        assert shadow.sum() > 15, shape          # a visible shadow ...
        assert dist[shadow].max() < 16, shape     # ... next to the object
        assert (cols[shadow].mean() > obj_c.float().mean()), shape  # the light is on the left


def test_geometry_cache_holds_each_distinct_geometry_once():
    ds = ProceduralShapes3D()
    ds.render(scene())
    labels, light = ds._table
    assert labels.shape == light.shape == (480, 64 * 64)
    # Cylinder and sphere are traced once per scale, cube and capsule at all 15 angles.
    assert int((labels.max(1) == OBJECT).sum()) == 8 * (15 + 1 + 1 + 15)
    every = np.array([[3, 1, 4, sc, sh, o] for sc in range(8) for sh in range(4)
                      for o in range(15)])
    np.testing.assert_array_equal(ds.render(every), ProceduralShapes3D(cache=False).render(every))


@pytest.mark.parametrize(
    "factors, message",
    [
        (np.zeros((2, 5), np.int64), r"shape \(n, 6\)"),
        (np.zeros(6, np.int64), r"shape \(n, 6\)"),
        (np.zeros((1, 6)), "integers"),
        (np.array([[0, 0, 0, 8, 0, 0]]), "scale = 8 .* out of range 0..7"),
        (np.array([[0, 0, 0, 0, 0, -1]]), "orientation = -1"),
    ],
)
def test_bad_factors(ds, factors, message):
    with pytest.raises(DataError, match=message):
        ds.render(factors)


def test_registered():
    assert DATASETS.get("procedural_shapes3d") is ProceduralShapes3D
    built = DATASETS.build("procedural_shapes3d", cache=False)
    assert isinstance(built, ProceduralShapes3D) and len(built) == 480_000


@pytest.mark.parametrize("cache", [False, True])
def test_render_speed(cache):
    ds = ProceduralShapes3D(cache=cache)
    factors = ds.sample_factors(1024, np.random.default_rng(4))
    ds.render(factors[:64])
    start = time.perf_counter()
    ds.render(factors)
    # About 0.1 s (not cached) and 0.05 s (cached) on one idle core; the bound only catches an
    # accidental per-image Python loop, with room for a busy machine.
    assert time.perf_counter() - start < 5.0
