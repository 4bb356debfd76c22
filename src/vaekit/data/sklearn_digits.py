"""scikit-learn's "digits": 1,797 handwritten digits of 8x8 pixels (UCI Optical Recognition of
Handwritten Digits, Alpaydin & Kaynak 1998; the file behind ``sklearn.datasets.load_digits``).

Each pixel counts the "on" cells of a 4x4 block of the original 32x32 bitmap: 0..16. Images are
stored as float32 ``value / 16`` in [0, 1] (16 * 16 does not fit a uint8). A small dataset for
fast experiments and tests: a VAE trains on it in seconds on a CPU.
"""

from __future__ import annotations

import gzip
import zlib

import numpy as np

from vaekit.data.base import ArrayImageDataset, is_count
from vaekit.data.paths import dataset_dir, require_file
from vaekit.errors import DataError
from vaekit.registry import DATASETS

FILE_NAME = "digits.csv.gz"
TRAIN_SIZE = 1500  # train = the first 1,500 rows, test = the other 297
SPLITS = ("train", "test", "all")


def read_digits_csv(path) -> tuple[np.ndarray, np.ndarray]:
    """Pixels ``(N, 64)`` int 0..16 and labels ``(N,)`` 0..9 of ``digits.csv.gz``."""
    try:
        with gzip.open(path, "rt") as stream:
            table = np.loadtxt(stream, delimiter=",", ndmin=2)
    except (ValueError, OSError, EOFError, zlib.error) as err:
        raise DataError(f"'{path}' is not the digits CSV (gzipped, 65 integer columns): "
                        f"{err}") from err
    if table.shape[1] != 65 or len(table) == 0:
        raise DataError(f"'{path}': expected rows of 64 pixels + 1 label, got {table.shape}")
    if not np.array_equal(table, np.round(table)):
        raise DataError(f"'{path}': values must be integers")
    pixels, labels = table[:, :64].astype(np.int64), table[:, 64].astype(np.int64)
    if pixels.min() < 0 or pixels.max() > 16:
        raise DataError(f"'{path}': pixel values must be 0..16")
    if labels.min() < 0 or labels.max() > 9:
        raise DataError(f"'{path}': labels must be 0..9")
    return pixels, labels


@DATASETS.register("sklearn_digits")
def sklearn_digits(root: str | None = None, split: str = "train",
                   limit: int | None = None) -> ArrayImageDataset:
    """8x8 digits as float32 ``(N, 1, 8, 8)`` in [0, 1], labels 0-9.

    Splits: ``train`` (first 1,500), ``test`` (last 297), ``all`` (1,797). ``root`` defaults to
    ``$VAEKIT_DATA/sklearn_digits`` (file ``digits.csv.gz``). ``limit`` keeps the first N.
    """
    if split not in SPLITS:
        raise DataError(f"sklearn_digits: unknown split '{split}'; valid splits: "
                        f"{', '.join(SPLITS)}")
    if limit is not None and not is_count(limit):
        raise DataError(f"sklearn_digits: limit must be a positive integer, got {limit!r}")
    folder = dataset_dir("sklearn_digits", root)
    path = require_file(folder / FILE_NAME, "It ships with scikit-learn: "
                        "sklearn/datasets/data/digits.csv.gz.")
    pixels, labels = read_digits_csv(path)
    part = {"train": slice(0, TRAIN_SIZE), "test": slice(TRAIN_SIZE, None), "all": slice(None)}
    pixels, labels = pixels[part[split]][:limit], labels[part[split]][:limit]
    if len(pixels) == 0:
        raise DataError(f"sklearn_digits: split '{split}' of '{path}' is empty")
    images = (pixels / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    return ArrayImageDataset(images, labels, name=f"sklearn_digits-{split}")
