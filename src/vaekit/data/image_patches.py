"""Random square patches of natural photographs, for RGB likelihood experiments.

The project's photographs (``$VAEKIT_DATA/sample_images``: astronaut, coffee, chelsea, ...) are
too few to train on whole, but thousands of 32x32 patches cut from them are real 8-bit RGB data
with the statistics that matter for an image likelihood (smooth regions, edges, texture, noise).
Images are split between train and test by file, so test patches come from photographs the
model never saw. Patches are cut at seeded random places, so a split is the same every time.
"""

from __future__ import annotations

import warnings

import numpy as np
from PIL import Image

from vaekit.data.base import ArrayImageDataset, is_count
from vaekit.data.image_folder import list_images
from vaekit.data.paths import dataset_dir
from vaekit.errors import DataError
from vaekit.registry import DATASETS

_SPLIT_SEEDS = {"train": 0, "test": 1}


def _colour_photos(folder) -> list[np.ndarray]:
    """Every RGB(A) photograph in ``folder`` as uint8 ``(H, W, 3)``; greyscale ones skipped,
    unreadable ones too, with a warning that names them (as ``image_folder`` does)."""
    photos, skipped = [], []
    for path in list_images(folder):
        try:
            with Image.open(path) as image:
                if image.mode not in ("RGB", "RGBA"):
                    continue
                photos.append(np.asarray(image.convert("RGB"), dtype=np.uint8))
        except Exception as err:  # noqa: BLE001 - Pillow raises many types for corrupt files
            skipped.append(f"{path.name} ({type(err).__name__}: {err})")
    if skipped:
        warnings.warn(f"image_patches: skipped {len(skipped)} unreadable file(s) in '{folder}': "
                      f"{'; '.join(skipped[:5])}", stacklevel=3)
    return photos


@DATASETS.register("image_patches")
def image_patches(root: str | None = None, split: str = "train", patch_size: int = 32,
                  patches_per_image: int = 2000, test_every: int = 4) -> ArrayImageDataset:
    """``patches_per_image`` random ``patch_size`` RGB patches of each colour photograph.

    ``root`` defaults to ``$VAEKIT_DATA/sample_images``; every ``test_every``-th colour photo
    (sorted by name) is in the ``test`` split, the others in ``train``.
    """
    if split not in _SPLIT_SEEDS:
        raise DataError(f"image_patches: split must be 'train' or 'test', got {split!r}")
    if not (is_count(patch_size, 2) and is_count(patches_per_image) and is_count(test_every, 2)):
        raise DataError("image_patches: integers patch_size >= 2, patches_per_image >= 1 and "
                        f"test_every >= 2 are required, got {patch_size!r}, {patches_per_image!r}, "
                        f"{test_every!r}")
    photos = _colour_photos(dataset_dir("sample_images", root))
    chosen = [p for i, p in enumerate(photos) if (i % test_every == test_every - 1)
              == (split == "test")]
    chosen = [p for p in chosen if min(p.shape[:2]) >= patch_size]
    if not chosen:
        raise DataError(f"image_patches: no colour photograph of at least {patch_size}x"
                        f"{patch_size} pixels for split '{split}' in the image folder")
    rng = np.random.default_rng(_SPLIT_SEEDS[split])
    patches = np.empty((len(chosen) * patches_per_image, 3, patch_size, patch_size), np.uint8)
    for i, photo in enumerate(chosen):
        rows = rng.integers(0, photo.shape[0] - patch_size + 1, patches_per_image)
        cols = rng.integers(0, photo.shape[1] - patch_size + 1, patches_per_image)
        for j, (r, c) in enumerate(zip(rows, cols)):
            patch = photo[r:r + patch_size, c:c + patch_size]
            patches[i * patches_per_image + j] = patch.transpose(2, 0, 1)
    return ArrayImageDataset(patches, name=f"image_patches-{split}")
