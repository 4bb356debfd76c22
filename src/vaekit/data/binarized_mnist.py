"""Binarized MNIST with the fixed binarization of Larochelle & Murray (2011, "The Neural
Autoregressive Distribution Estimator"), the standard benchmark for VAE/IWAE log-likelihoods.

Splits: ``train`` 50,000, ``valid`` 10,000, ``test`` 10,000 (no labels). Two sources, in order:

1. ``binarized_mnist_packed.npz``: keys ``train``/``valid``/``test``, each ``(N, 98)`` uint8 rows
   of ``np.packbits`` of the 784 pixels (this project's data folder, see its README);
2. Larochelle's original text files ``binarized_mnist_{split}.amat``: one image per line, 784
   space-separated 0/1 values, 28x28 row-major (``vaekit.data.download.download_binarized_mnist``).
"""

from __future__ import annotations

import os
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from vaekit.data.base import ArrayImageDataset, is_count
from vaekit.data.paths import dataset_dir
from vaekit.errors import DataError
from vaekit.registry import DATASETS

PACKED_NAME = "binarized_mnist_packed.npz"
SPLIT_SIZES = {"train": 50_000, "valid": 10_000, "test": 10_000}
_PIXELS = 28 * 28


def read_amat(path: str | os.PathLike) -> np.ndarray:
    """The rows of an ``.amat`` file as uint8 0/1 of shape ``(N, 784)``."""
    path = Path(path)
    try:
        # float parsing accepts both "1" and "1.0"; loadtxt reports the line of a ragged row.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "empty input file": checked below
            values = np.loadtxt(path, dtype=np.float32, ndmin=2)
    except (ValueError, OSError) as err:
        raise DataError(f"'{path}' is not a binarized MNIST .amat file (784 space-separated "
                        f"0/1 values per line): {err}") from err
    if values.size == 0:
        raise DataError(f"'{path}' is empty")
    if values.shape[1] != _PIXELS:
        raise DataError(f"'{path}': lines have {values.shape[1]} values, expected {_PIXELS}")
    if not np.isin(values, (0.0, 1.0)).all():
        raise DataError(f"'{path}': values must be 0 or 1")
    return values.astype(np.uint8)


def read_packed(path: str | os.PathLike, split: str) -> np.ndarray:
    """Split ``split`` of the packed npz as uint8 0/1 of shape ``(N, 784)``."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if split not in archive.files:
                raise DataError(f"'{path}' has no array '{split}' (it has: "
                                f"{', '.join(archive.files)})")
            packed = archive[split]
    except DataError:
        raise
    except (ValueError, OSError, EOFError, RuntimeError, NotImplementedError, zlib.error,
            zipfile.BadZipFile) as err:
        # (a damaged zip: EOFError, zlib.error; RuntimeError for an encrypted member;
        # NotImplementedError for an unsupported compression method)
        raise DataError(f"'{path}' is not a readable npz file: {err}") from err
    if packed.dtype != np.uint8 or packed.ndim != 2 or packed.shape[1] != _PIXELS // 8:
        raise DataError(f"'{path}': '{split}' must be uint8 of shape (N, {_PIXELS // 8}) "
                        f"(np.packbits of 784 pixels), got {packed.dtype} {packed.shape}")
    return np.unpackbits(packed, axis=1)


@DATASETS.register("binarized_mnist")
def binarized_mnist(root: str | None = None, split: str = "train",
                    limit: int | None = None) -> ArrayImageDataset:
    """Binarized MNIST (Larochelle & Murray 2011): uint8 ``(N, 1, 28, 28)`` in {0, 1}.

    ``root`` defaults to ``$VAEKIT_DATA/binarized_mnist``; it holds ``binarized_mnist_packed.npz``
    or, if that is absent, ``binarized_mnist_{split}.amat``. ``limit`` keeps the first N images.
    """
    if split not in SPLIT_SIZES:
        raise DataError(f"binarized_mnist: unknown split '{split}'; valid splits: "
                        f"{', '.join(SPLIT_SIZES)}")
    if limit is not None and not is_count(limit):
        raise DataError(f"binarized_mnist: limit must be a positive integer, got {limit!r}")
    folder = dataset_dir("binarized_mnist", root)
    packed, amat = folder / PACKED_NAME, folder / f"binarized_mnist_{split}.amat"
    if packed.is_file():
        pixels = read_packed(packed, split)
    elif amat.is_file():
        pixels = read_amat(amat)
    else:
        raise DataError(f"binarized_mnist: neither '{packed}' nor '{amat}' exists; download the "
                        "files with vaekit.data.download.download_binarized_mnist(folder)")
    images = pixels[:limit].reshape(-1, 1, 28, 28)
    return ArrayImageDataset(images, binary=True, name=f"binarized_mnist-{split}")
