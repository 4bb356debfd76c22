"""IDX files and the datasets stored in them: MNIST and Fashion-MNIST.

IDX is the format of MNIST (LeCun, Bottou, Bengio & Haffner 1998; yann.lecun.com/exdb/mnist):
a big-endian header ``00 00 <type> <ndim>``, ``ndim`` uint32 sizes, then the values row-major.
Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, github.com/zalandoresearch/fashion-mnist) uses the
same files. Files may be gzip-compressed (detected from their first bytes, not their name).

The reader checks the header strictly (magic number, type, number of dimensions, data size), so
a truncated download, an HTML error page saved under the file's name or a file of another format
is a :class:`DataError` that says what is wrong, not a silently wrong array.
"""

from __future__ import annotations

import gzip
import math
import os
import warnings
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from vaekit.data.base import ArrayImageDataset, is_count
from vaekit.data.paths import dataset_dir
from vaekit.errors import DataError
from vaekit.registry import DATASETS

# IDX type byte -> big-endian numpy dtype (the format's spec on LeCun's MNIST page).
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_NDIM = 8


def _open(path: Path) -> BinaryIO:
    with path.open("rb") as probe:
        compressed = probe.read(2) == _GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else path.open("rb")  # type: ignore[return-value]


_CHUNK = 1 << 24


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes (fewer only at the end of the data).

    Read in chunks: ``size`` comes from the file's header, and a corrupt header can announce
    more bytes than memory holds (one huge ``read`` would fail with MemoryError/OverflowError).
    """
    chunks, left = [], size
    while left > 0:
        chunk = stream.read(min(left, _CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_idx(path: str | os.PathLike, *, limit: int | None = None) -> np.ndarray:
    """The array stored in IDX file ``path`` (optionally gzipped), in native byte order.

    ``limit``: read only the first ``limit`` entries along the first axis. Without it the file
    must hold exactly the data its header announces (no missing and no extra bytes).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"IDX file not found: '{path}'")
    try:
        with _open(path) as stream:
            return _read_idx_stream(stream, path, limit)
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise DataError(f"'{path}': corrupt or truncated gzip data ({err}); download the file "
                        "again") from err


def _read_idx_stream(stream: BinaryIO, path: Path, limit: int | None) -> np.ndarray:
    magic = _read_exact(stream, 4)
    if len(magic) < 4:
        raise DataError(f"'{path}' is not an IDX file: it holds only {len(magic)} bytes")
    if magic[:2] != b"\x00\x00" or magic[2] not in IDX_TYPES:
        raise DataError(
            f"'{path}' is not an IDX file: it starts with bytes {magic.hex(' ')}, expected the "
            f"magic number 00 00 <type> <ndim> with type one of "
            f"{', '.join(f'{t:02x}' for t in IDX_TYPES)} (e.g. 00 00 08 03 for MNIST images)"
        )
    dtype, ndim = IDX_TYPES[magic[2]], magic[3]
    if not 1 <= ndim <= _MAX_NDIM:
        raise DataError(f"'{path}': IDX header declares {ndim} dimensions (expected 1 to "
                        f"{_MAX_NDIM})")
    raw_dims = _read_exact(stream, 4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DataError(f"'{path}': truncated IDX header ({ndim} dimensions declared, file ends "
                        "inside the list of sizes)")
    dims = tuple(int(d) for d in np.frombuffer(raw_dims, dtype=">u4"))
    row = math.prod(dims[1:]) * dtype.itemsize  # Python ints: no int64 overflow
    count = dims[0] if limit is None else min(int(limit), dims[0])
    expected = count * row
    data = _read_exact(stream, expected + (1 if limit is None else 0))
    if len(data) < expected:
        raise DataError(
            f"'{path}': truncated IDX data: the header announces shape {dims} "
            f"({dims[0] * row} bytes of data) but only {len(data)} bytes follow"
            + ("" if limit is None else f" (needed {expected} for the first {count})")
        )
    if len(data) > expected:
        raise DataError(f"'{path}': unexpected bytes after the {expected} bytes of data that the "
                        f"IDX header (shape {dims}) announces; the file is corrupt or not IDX")
    array = np.frombuffer(data, dtype=dtype).reshape((count, *dims[1:]))
    return array.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file, gzipped when ``path`` ends in ``.gz``."""
    path = Path(path)
    array = np.asarray(array)
    codes = {dt.str[1:]: code for code, dt in IDX_TYPES.items()}  # "u1" -> 0x08, ...
    key = array.dtype.str[1:]
    if key not in codes:
        raise DataError(f"IDX cannot store dtype {array.dtype}; use one of "
                        f"{', '.join(str(dt.newbyteorder('=')) for dt in IDX_TYPES.values())}")
    if not 1 <= array.ndim <= _MAX_NDIM:
        raise DataError(f"IDX stores 1 to {_MAX_NDIM} dimensions, got {array.ndim}")
    header = bytes([0, 0, codes[key], array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    body = np.ascontiguousarray(array, dtype=IDX_TYPES[codes[key]]).tobytes()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as stream:
        stream.write(header + body)
    return path


# ------------------------------------------------------------------------------------ datasets
_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# This project's MNIST copy lacks training images 10,000..59,999 (see shared/data/mnist/README).
MNIST_PARTIAL_TRAIN = "train-images-first10k-idx3-ubyte"


def find_idx_file(folder: Path, stem: str) -> Path | None:
    """``folder/stem.gz`` or ``folder/stem``, whichever exists (the compressed one first)."""
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def load_idx_split(name: str, folder: Path, split: str, limit: int | None = None,
                   partial_train: str | None = None) -> ArrayImageDataset:
    """Images ``(N, 1, 28, 28)`` uint8 and labels ``(N,)`` of an MNIST-layout folder."""
    if split not in _SPLIT_FILES:
        raise DataError(f"{name}: unknown split '{split}'; valid splits: "
                        f"{', '.join(_SPLIT_FILES)}")
    if limit is not None and not is_count(limit):
        raise DataError(f"{name}: limit must be a positive integer, got {limit!r}")
    image_stem, label_stem = _SPLIT_FILES[split]
    image_path = find_idx_file(folder, image_stem)
    partial = False
    if image_path is None and split == "train" and partial_train is not None:
        image_path = find_idx_file(folder, partial_train)
        partial = image_path is not None
    label_path = find_idx_file(folder, label_stem)
    for stem, found in ((image_stem, image_path), (label_stem, label_path)):
        if found is None:
            raise DataError(f"{name}: '{folder / stem}.gz' (or without .gz) not found")
    assert image_path is not None and label_path is not None
    images = read_idx(image_path, limit=limit)
    labels = read_idx(label_path, limit=limit)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"'{image_path}': expected uint8 images of shape (N, 28, 28), got "
                        f"{images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(f"'{label_path}': expected uint8 labels of shape (N,), got "
                        f"{labels.dtype} {labels.shape}")
    if partial:
        # The partial file holds the first N training images: pair them with the first N labels.
        warnings.warn(
            f"{name}: full training images not found in '{folder}'; using the {len(images)} "
            f"images of '{image_path.name}'. Put {image_stem}.gz there for all 60,000.",
            stacklevel=3,
        )
        labels = labels[: len(images)]
    if len(labels) != len(images):
        raise DataError(f"{name}: '{image_path.name}' holds {len(images)} images but "
                        f"'{label_path.name}' {len(labels)} labels")
    if labels.max(initial=0) > 9:
        raise DataError(f"'{label_path}': labels must be 0..9, found {int(labels.max())}")
    return ArrayImageDataset(images[:, None], labels.astype(np.int64), name=f"{name}-{split}")


@DATASETS.register("mnist")
def mnist(root: str | None = None, split: str = "train",
          limit: int | None = None) -> ArrayImageDataset:
    """MNIST digits (LeCun et al. 1998): uint8 ``(N, 1, 28, 28)``, labels 0-9.

    Splits ``train`` (60,000) and ``test`` (10,000); ``limit`` keeps the first N. Files:
    ``train-images-idx3-ubyte.gz`` etc. in ``root`` (default ``$VAEKIT_DATA/mnist``). If the full
    training images are absent, ``train-images-first10k-idx3-ubyte.gz`` (the first 10,000, as in
    this project's data folder) is used with the first 10,000 labels, and a warning says so.
    """
    return load_idx_split("mnist", dataset_dir("mnist", root), split, limit,
                          partial_train=MNIST_PARTIAL_TRAIN)


@DATASETS.register("fashion_mnist")
def fashion_mnist(root: str | None = None, split: str = "train",
                  limit: int | None = None) -> ArrayImageDataset:
    """Fashion-MNIST (Xiao et al. 2017): uint8 ``(N, 1, 28, 28)``, labels 0-9 (T-shirt/top,
    trouser, pullover, dress, coat, sandal, shirt, sneaker, bag, ankle boot).

    Splits ``train`` (60,000) and ``test`` (10,000); files as for MNIST, in ``root`` (default
    ``$VAEKIT_DATA/fashion_mnist``).
    """
    return load_idx_split("fashion_mnist", dataset_dir("fashion_mnist", root), split, limit)
