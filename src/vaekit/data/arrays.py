"""Numeric arrays from a file: tabular vectors, 1-D sequences or images of any size.

``array_file`` reads one array of examples ``(N, *shape)`` from

- ``.npy``: the array itself (read with ``allow_pickle=False``: never unpickled);
- ``.npz``: the array under ``key`` (or the only array in the file); labels under
  ``label_key`` if given;
- ``.csv`` / ``.tsv`` / ``.txt`` (optionally gzipped): one example per row, numbers only; a
  first row that is not numeric is taken as a header; ``label_column`` names (or indexes) a
  column of integer labels that is removed from the features.

``shape`` reshapes each row, e.g. ``[1, 100]`` turns 100 columns into a one-channel sequence
for the ``conv1d`` network, or ``[1, 8, 8]`` into images. Vectors ``(D,)`` train with the
``mlp`` network and usually a Gaussian likelihood (``standardize=true`` scales every feature to
zero mean and unit variance, with the training part's statistics for every split).

Splits: ``train`` / ``test`` are a seeded random partition with ``test_fraction`` of the rows in
``test``; ``all`` is every row.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import numpy as np

from vaekit.data.base import ArrayDataset, is_count
from vaekit.errors import DataError
from vaekit.registry import DATASETS

SPLITS = ("train", "test", "all")
TABLE_SUFFIXES = (".csv", ".tsv", ".txt")


def _read_text(path: Path) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as stream:
            return stream.read()
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise DataError(f"array_file: cannot read '{path}' as text: {err}") from None


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def read_table(path: Path, label_column: str | int | None = None
               ) -> tuple[np.ndarray, np.ndarray | None]:
    """Features ``(N, D)`` float32 and labels ``(N,)`` (or None) of a CSV/TSV file."""
    text = _read_text(path)
    delimiter = "\t" if ".tsv" in path.suffixes else ","
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise DataError(f"array_file: '{path}' is empty")
    first = [cell.strip() for cell in lines[0].split(delimiter)]
    header = None if all(_is_number(c) for c in first) else first
    rows = lines[1:] if header else lines
    if not rows:
        raise DataError(f"array_file: '{path}' has a header but no rows")
    try:
        table = np.loadtxt(io.StringIO("\n".join(rows)), delimiter=delimiter, ndmin=2,
                           dtype=np.float64)
    except ValueError as err:
        raise DataError(f"array_file: '{path}' must hold numbers only (after an optional "
                        f"header row): {err}") from None
    if label_column is None:
        return table.astype(np.float32), None
    column = _column_index(label_column, header, table.shape[1], path)
    labels = table[:, column]
    if not np.array_equal(labels, np.round(labels)):
        raise DataError(f"array_file: label column {label_column!r} of '{path}' must hold "
                        "integers")
    features = np.delete(table, column, axis=1)
    return features.astype(np.float32), labels.astype(np.int64)


def _column_index(label_column: str | int, header: list[str] | None, width: int,
                  path: Path) -> int:
    if isinstance(label_column, str) and not label_column.lstrip("-").isdigit():
        if header is None or label_column not in header:
            raise DataError(f"array_file: no column named {label_column!r} in '{path}' "
                            f"(columns: {', '.join(header) if header else 'no header row'})")
        return header.index(label_column)
    index = int(label_column)
    if not -width <= index < width:
        raise DataError(f"array_file: label_column {index} is out of range for {width} columns")
    return index % width


def read_array(path: Path, key: str | None = None, label_key: str | None = None
               ) -> tuple[np.ndarray, np.ndarray | None]:
    """The example array (and labels) of a ``.npy`` / ``.npz`` file, never unpickling."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"array_file: '{path}' is not a readable numpy file (object arrays "
                        f"are refused: they would need unpickling): {err}") from None
    if isinstance(loaded, np.ndarray):
        return loaded, None
    with loaded:
        names = list(loaded.files)
        if key is None:
            candidates = [n for n in names if n != label_key]
            if len(candidates) != 1:
                raise DataError(f"array_file: '{path}' holds arrays {names}; choose one with "
                                "data.options.key")
            key = candidates[0]
        if key not in names or (label_key is not None and label_key not in names):
            missing = key if key not in names else label_key
            raise DataError(f"array_file: '{path}' has no array '{missing}' (it holds {names})")
        labels = None if label_key is None else np.asarray(loaded[label_key]).astype(np.int64)
        return np.asarray(loaded[key]), labels


def _split_rows(n: int, split: str, test_fraction: float, seed: int) -> np.ndarray:
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    if split == "all":
        return np.arange(n)
    rows = order[:n_test] if split == "test" else order[n_test:]
    if len(rows) == 0:
        raise DataError(f"array_file: split '{split}' is empty ({n} rows, test_fraction "
                        f"{test_fraction}); change data.options.test_fraction")
    return np.sort(rows)


@DATASETS.register("array_file")
def array_file(
    path: str | None = None,
    split: str = "train",
    root: str | None = None,
    key: str | None = None,
    label_key: str | None = None,
    label_column: str | int | None = None,
    shape: list[int] | None = None,
    standardize: bool = False,
    test_fraction: float = 0.1,
    seed: int = 0,
    limit: int | None = None,
) -> ArrayDataset:
    """Examples of a numeric file (see the module docstring); e.g. on the command line
    ``--data.name=array_file --data.options.path=table.csv --data.options.standardize=true``
    (``--data.root=table.csv`` says the same)."""
    path = path if path is not None else root
    if path is None:
        raise DataError("array_file: no file given; set data.options.path to a .npy, .npz, "
                        ".csv or .tsv file")
    if split not in SPLITS:
        raise DataError(f"array_file: unknown split '{split}'; valid splits: {', '.join(SPLITS)}")
    if not isinstance(test_fraction, (int, float)) or not 0 <= test_fraction < 1:
        raise DataError(f"array_file: test_fraction must be in [0, 1), got {test_fraction!r}")
    if limit is not None and not is_count(limit):
        raise DataError(f"array_file: limit must be a positive integer, got {limit!r}")
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"array_file: file not found: '{file}'")
    suffixes = [s.lower() for s in file.suffixes]
    if suffixes and suffixes[-1] in (".npy", ".npz"):
        values, labels = read_array(file, key, label_key)
    elif any(s in TABLE_SUFFIXES for s in suffixes):
        values, labels = read_table(file, label_column)
    else:
        raise DataError(f"array_file: '{file.name}' is not a .npy, .npz, .csv, .tsv or .txt "
                        "file (optionally .gz)")
    if not np.issubdtype(values.dtype, np.number) or values.ndim < 2 or len(values) == 0:
        raise DataError(f"array_file: '{file}' must hold a numeric array of examples (N, ...), "
                        f"got dtype {values.dtype} and shape {values.shape}")
    values = values.astype(np.float32)
    if shape is not None:
        shape = tuple(int(s) for s in shape)
        if int(np.prod(shape)) != int(np.prod(values.shape[1:])):
            raise DataError(f"array_file: shape {list(shape)} does not fit examples of "
                            f"{int(np.prod(values.shape[1:]))} values")
        values = values.reshape(len(values), *shape)
    if not np.isfinite(values).all():
        raise DataError(f"array_file: '{file}' contains NaN or Inf values")
    rows = _split_rows(len(values), split, float(test_fraction), int(seed))
    if standardize:
        train_rows = _split_rows(len(values), "train", float(test_fraction), int(seed))
        mean = values[train_rows].mean(axis=0)
        std = values[train_rows].std(axis=0)
        values = (values - mean) / np.where(std > 0, std, 1.0)
    values = values[rows][:limit]
    labels = None if labels is None else labels[rows][:limit]
    return ArrayDataset(values, labels, name=f"array_file-{file.name}-{split}")
