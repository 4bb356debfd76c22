"""RGB photo patches: deterministic, split by photograph, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vaekit.errors import DataError
from vaekit.registry import DATASETS


def make_photos(folder, count: int = 4, size: int = 40) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir()
    for i in range(count):
        # Each photo has its own constant colour, so a patch tells which photo it came from.
        pixels = np.full((size, size + 8, 3), 50 * i, np.uint8)
        Image.fromarray(pixels).save(folder / f"p{i}.png")
    Image.fromarray(rng.integers(0, 255, (40, 40), dtype=np.uint8)).save(folder / "grey.png")


def test_patches_are_split_by_photo_and_repeatable(tmp_path):
    make_photos(tmp_path / "photos")
    train = DATASETS.build("image_patches", root=str(tmp_path / "photos"), split="train",
                           patch_size=8, patches_per_image=5)
    test = DATASETS.build("image_patches", root=str(tmp_path / "photos"), split="test",
                          patch_size=8, patches_per_image=5)
    assert train.images.shape == (15, 3, 8, 8) and test.images.shape == (5, 3, 8, 8)
    train_colours = set(train.images[:, 0, 0, 0].tolist())
    test_colours = set(test.images[:, 0, 0, 0].tolist())
    assert train_colours == {0, 50, 100} and test_colours == {150}  # the 4th photo is held out
    again = DATASETS.build("image_patches", root=str(tmp_path / "photos"), split="train",
                           patch_size=8, patches_per_image=5)
    assert (again.images == train.images).all()


def test_bad_settings_are_named(tmp_path):
    make_photos(tmp_path / "photos")
    with pytest.raises(DataError, match="split"):
        DATASETS.build("image_patches", root=str(tmp_path / "photos"), split="valid")
    with pytest.raises(DataError, match="at least 64x64"):
        DATASETS.build("image_patches", root=str(tmp_path / "photos"), patch_size=64)


def test_real_photographs(shared_data):
    train = DATASETS.build("image_patches", split="train", patches_per_image=10)
    test = DATASETS.build("image_patches", split="test", patches_per_image=10)
    assert train.data_shape == (3, 32, 32) and len(train) > len(test) > 0
    assert 0.0 <= float(train[0].min()) and float(train[0].max()) <= 1.0
