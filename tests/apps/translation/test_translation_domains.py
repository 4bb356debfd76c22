"""Restyle transforms and the two-domain datasets: exact values, determinism, pairing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaekit.apps.translation.domains import (
    BACKGROUND,
    FOREGROUND,
    DomainPairs,
    dilate,
    erode,
    restyle,
)
from vaekit.errors import DataError
from vaekit.registry import DATASETS


def square(size: int = 12, lo: int = 4, hi: int = 8) -> torch.Tensor:
    x = torch.zeros(1, 1, size, size)
    x[..., lo:hi, lo:hi] = 1.0
    return x


def vertical_bar(size: int = 16, col: int = 8) -> torch.Tensor:
    x = torch.zeros(1, 1, size, size)
    x[..., 2:size - 2, col] = 1.0
    return x


def test_invert_and_colour_are_exact():
    x = torch.rand(3, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(restyle(x, "invert"), 1.0 - x)
    rgb = restyle(square(), "colour")
    assert rgb.shape == (1, 3, 12, 12)
    torch.testing.assert_close(rgb[0, :, 5, 5], torch.tensor(FOREGROUND))  # on the stroke
    torch.testing.assert_close(rgb[0, :, 0, 0], torch.tensor(BACKGROUND))  # background


def test_thicken_grows_each_stroke_by_one_pixel_on_every_side():
    thick = restyle(square(), "thicken")
    expected = square(lo=3, hi=9)
    torch.testing.assert_close(thick, expected)
    assert torch.equal(erode(dilate(square())), square())  # closing keeps a convex square


def test_edges_mark_the_boundary_and_nothing_else():
    x = square(lo=3, hi=9)
    e = restyle(x, "edges")
    assert e[0, 0, 6, 6] == 0  # the inside of the square
    assert e[0, 0, 0, 0] == 0  # far background
    assert e[0, 0, 3, 5] == 1 and e[0, 0, 2, 5] == 1  # the edge and the pixel just outside
    outline = restyle(x, "outline")  # the inner boundary ring only
    assert outline.sum() == 6 * 4 - 4 and outline[0, 0, 2, 5] == 0 and outline[0, 0, 3, 5] == 1


def test_slant_shears_a_vertical_bar():
    out = restyle(vertical_bar(), "slant")[0, 0]
    cols = torch.arange(16.0)
    top = (out[3] * cols).sum() / out[3].sum()
    bottom = (out[12] * cols).sum() / out[12].sum()
    # Italic: the top of the bar leans right of its bottom by 0.35 column per row (9 rows).
    assert float(top - bottom) == pytest.approx(0.35 * 9, abs=0.6)
    assert float(out.sum()) == pytest.approx(float(vertical_bar().sum()), rel=0.1)  # mass kept


@pytest.mark.parametrize("style", ["invert", "thicken", "slant", "edges", "colour", "outline"])
def test_restyles_are_deterministic_and_in_range(style):
    x = torch.rand(4, 1, 10, 10, generator=torch.Generator().manual_seed(3))
    a, b = restyle(x, style), restyle(x.clone(), style)
    assert torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 1


def test_unknown_style_is_a_data_error():
    with pytest.raises(DataError, match="unknown restyle 'blur'"):
        restyle(torch.zeros(1, 1, 4, 4), "blur")


def test_paired_domains_serve_the_ground_truth_and_unpaired_random_colours_differ():
    images = torch.randint(0, 256, (10, 1, 8, 8), dtype=torch.uint8)
    paired = DomainPairs(images, images, "invert", labels=np.arange(10), paired=True)
    x_a, x_b = paired.__getitems__([3, 1, 4])
    torch.testing.assert_close(x_b, 1.0 - x_a)
    torch.testing.assert_close(x_a, images[[3, 1, 4]].float() / 255)
    assert paired.data_shape == (1, 8, 8) and paired.data_shape_b == (1, 8, 8)
    single = paired[4]
    assert torch.equal(single[1], x_b[2])
    coloured = DomainPairs(images, images, "random_colour", paired=True, colour_seed=5)
    _, rgb = coloured.__getitems__([0, 1])
    assert rgb.shape == (2, 3, 8, 8) and coloured.data_shape_b == (3, 8, 8)
    assert not torch.allclose(coloured.foreground[0], coloured.foreground[1])
    again = DomainPairs(images, images, "random_colour", paired=True, colour_seed=5)
    assert torch.equal(again.__getitems__([0, 1])[1], rgb)  # seeded


def test_restyled_mnist_is_unpaired_on_train_and_paired_on_test(shared_data):
    train = DATASETS.build("restyled_mnist", split="train", style="thicken", limit=200)
    test = DATASETS.build("restyled_mnist", split="test", style="thicken", limit=50)
    assert len(train) == 100 and not train.paired  # two disjoint halves of 200 images
    a_rows = {bytes(r.numpy()) for r in train.images_a.flatten(1)}
    b_rows = {bytes(r.numpy()) for r in train.images_b.flatten(1)}
    # No digit image is in both domains (exact duplicates in MNIST would also be caught here).
    assert not a_rows & b_rows
    x_a, x_b = test.__getitems__(list(range(50)))
    torch.testing.assert_close(x_b, restyle(x_a, "thicken"))
    assert test.paired and len(test.labels) == 50


def test_dsprites_outlines_pair_each_filled_shape_with_its_boundary():
    paired = DATASETS.build("dsprites_outline", split="test", count=12, size=32)
    x_a, x_b = paired.__getitems__(list(range(12)))
    assert paired.paired and x_a.shape == x_b.shape == (12, 1, 32, 32)
    torch.testing.assert_close(x_b, restyle(x_a, "outline"))
    assert (x_b <= x_a).all() and x_b.sum() < x_a.sum()  # the boundary lies inside the shape
    assert set(np.unique(paired.labels)) <= {0, 1, 2}
    unpaired = DATASETS.build("dsprites_outline", split="train", count=12, size=32)
    _, b = unpaired.__getitems__(list(range(12)))
    assert not torch.equal(b, restyle(unpaired.images_a, "outline"))


def test_restyled_digits_are_the_labelled_target_domain(shared_data):
    digits = DATASETS.build("restyled_digits", split="test", style="edges", limit=20)
    mnist = DATASETS.build("mnist", split="test", limit=20)
    source = torch.stack([mnist[i] for i in range(20)])
    torch.testing.assert_close(torch.stack([digits[i] for i in range(20)]),
                               restyle(source, "edges"))
    assert np.array_equal(digits.labels, mnist.labels)
