"""Colour and noisy dSprites: dSprites' masks, RGB, and randomness fixed by (seed, index)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaekit.data.dsprites import DSprites
from vaekit.data.dsprites_variants import ColorDSprites, NoisyDSprites
from vaekit.errors import DataError
from vaekit.registry import DATASETS


@pytest.fixture(scope="module")
def sprites() -> DSprites:
    return DSprites()


@pytest.fixture(scope="module")
def factors(sprites) -> np.ndarray:
    return sprites.sample_factors(200, np.random.default_rng(0))


@pytest.fixture(scope="module")
def masks(sprites, factors) -> torch.Tensor:
    return sprites.render(factors)


@pytest.mark.parametrize("cls", [ColorDSprites, NoisyDSprites])
def test_grid_and_output(cls, sprites, factors):
    ds = cls()
    assert len(ds) == 737_280 and ds.factor_sizes == sprites.factor_sizes
    assert ds.factor_names == sprites.factor_names
    for mine, theirs in zip(ds.factor_values(), sprites.factor_values()):
        np.testing.assert_array_equal(mine, theirs)
    images = ds.render(factors)
    assert images.shape == (200, 3, 64, 64) and images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1
    assert ds.data_shape == (3, 64, 64) and ds[7].shape == (3, 64, 64)
    assert ds.render(np.zeros((0, 5), np.int64)).shape == (0, 3, 64, 64)


def test_color_sprite_mask_and_colours(factors, masks):
    ds = ColorDSprites(seed=3)
    images, mask = ds.render(factors), masks
    # The sprite is where dSprites draws it, in one colour per image; the rest stays black.
    assert torch.equal(images.amax(1, keepdim=True) > 0, mask > 0)
    colours = torch.from_numpy(ds.colors(factors))
    np.testing.assert_array_equal(images, mask * colours[:, :, None, None])
    assert colours.min() >= 0.5 and colours.max() <= 1.0
    # Uniform on [0.5, 1]^3: mean 0.75, sd 0.144, channels independent.
    assert abs(colours.mean() - 0.75) < 0.02 and abs(colours.std() - 0.144) < 0.02
    assert torch.corrcoef(colours.T).sub(torch.eye(3)).abs().max() < 0.25


def test_noisy_sprite_is_white_on_uniform_noise(factors, masks):
    ds = NoisyDSprites(seed=3)
    images, mask = ds.render(factors), masks.expand(-1, 3, -1, -1)
    assert (images[mask > 0] == 1).all()
    noise = images[mask == 0]
    assert noise.numel() > 1_000_000
    # Uniform on [0, 1): mean 1/2, variance 1/12, flat histogram, no tie to the factors.
    assert abs(noise.mean() - 0.5) < 0.002 and abs(noise.var() - 1 / 12) < 0.002
    counts = torch.histc(noise, bins=10, min=0, max=1) / noise.numel()
    assert (counts - 0.1).abs().max() < 0.003
    # The noise differs between images, channels and pixels.
    assert not torch.equal(images[0, 0], images[1, 0])
    assert not torch.equal(images[0, 0], images[0, 1])


@pytest.mark.parametrize("cls", [ColorDSprites, NoisyDSprites])
def test_randomness_is_a_function_of_seed_and_index(cls, factors):
    ds = cls(seed=11)
    once = ds.render(factors)
    # Same image every time, whatever the instance, the batch, its order or the way in ...
    np.testing.assert_array_equal(once, cls(seed=11).render(factors))
    rows = [5, 3, 150]
    batch = ds.__getitems__(ds.factors_to_index(factors[rows]).tolist())
    np.testing.assert_array_equal(torch.stack(batch), once[rows])
    # ... and a different one with another seed.
    other = cls(seed=12).render(factors)
    assert not torch.equal(once, other)


def test_colour_is_drawn_per_image_not_per_factor_value():
    # As in disentanglement_lib the colour is not a factor: images that share every factor but
    # posY get independent colours, and the colours do not depend on the shape.
    ds = ColorDSprites()
    colours = ds.colors(np.array([[0, 5, 0, 16, y] for y in range(32)]))
    assert len(np.unique(colours, axis=0)) == 32
    rows = ds.sample_factors(3000, np.random.default_rng(1))
    colours = ds.colors(rows)
    for shape in range(3):
        assert abs(colours[rows[:, 0] == shape].mean() - 0.75) < 0.01


def test_other_render_sizes_and_given_sprites(factors):
    big = NoisyDSprites(render_size=32).render(factors[:4])
    assert big.shape == (4, 3, 32, 32)
    wrapped = ColorDSprites(sprites=DSprites(render_size=32), render_size=32)
    assert wrapped.data_shape == (3, 32, 32)
    with pytest.raises(DataError, match="render_size=64 but the given sprites"):
        ColorDSprites(sprites=DSprites(render_size=32))


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_bad_seed(seed):
    with pytest.raises(DataError, match="seed must be a non-negative integer"):
        NoisyDSprites(seed=seed)


def test_bad_factors_are_dsprites_errors():
    with pytest.raises(DataError, match=r"scale = 6 .* out of range"):
        ColorDSprites().render(np.array([[0, 6, 0, 0, 0]]))


def test_registered():
    assert DATASETS.get("color_dsprites") is ColorDSprites
    assert DATASETS.get("noisy_dsprites") is NoisyDSprites
    built = DATASETS.build("noisy_dsprites", seed=4)
    assert isinstance(built, NoisyDSprites) and built.seed == 4
