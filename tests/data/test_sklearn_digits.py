"""scikit-learn digits: splits, scaling to [0, 1], agreement with sklearn's own loader."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from vaekit.data.sklearn_digits import sklearn_digits
from vaekit.errors import DataError
from vaekit.registry import DATASETS


def _write_csv(path, pixels, labels):
    rows = np.concatenate([pixels, labels[:, None]], axis=1)
    with gzip.open(path, "wt") as stream:
        stream.write("\n".join(",".join(str(int(v)) for v in row) for row in rows))


def test_real_splits_and_scaling(real_data):
    folder = real_data("sklearn_digits")
    full = sklearn_digits(root=str(folder), split="all")
    train, test = sklearn_digits(split="train"), DATASETS.build("sklearn_digits", split="test")
    assert (len(full), len(train), len(test)) == (1797, 1500, 297)
    assert full.images.shape == (1797, 1, 8, 8) and full.images.dtype.is_floating_point
    np.testing.assert_array_equal(np.concatenate([train.images, test.images]), full.images)
    values = full.images.numpy() * 16  # stored as count / 16
    np.testing.assert_array_equal(values, np.round(values))
    assert values.min() == 0 and values.max() == 16
    counts = np.bincount(full.labels)
    assert counts.sum() == 1797 and counts.min() >= 170  # about 180 per class
    assert len(sklearn_digits(split="train", limit=10)) == 10


def test_real_file_equals_sklearn_loader(real_data):
    datasets = pytest.importorskip("sklearn.datasets")
    ours = sklearn_digits(root=str(real_data("sklearn_digits")), split="all")
    theirs = datasets.load_digits()
    np.testing.assert_array_equal(ours.images[:, 0].numpy() * 16, theirs.images)
    np.testing.assert_array_equal(ours.labels, theirs.target)


def test_synthetic_file(tmp_path):
    rng = np.random.default_rng(0)
    pixels, labels = rng.integers(0, 17, (20, 64)), np.arange(20) % 10
    _write_csv(tmp_path / "digits.csv.gz", pixels, labels)
    ds = sklearn_digits(root=str(tmp_path), split="all")
    np.testing.assert_allclose(ds.images.numpy().reshape(20, 64), pixels / 16)
    assert ds[0].shape == (1, 8, 8)  # no rescaling of float images at fetch time
    np.testing.assert_allclose(ds[0].numpy().ravel(), pixels[0] / 16, rtol=1e-6)
    with pytest.raises(DataError, match="split 'test' .* is empty"):
        sklearn_digits(root=str(tmp_path), split="test")  # only 20 rows: all in train


@pytest.mark.parametrize(
    "pixels, labels, message",
    [
        (np.full((2, 64), 17), np.zeros(2), "pixel values must be 0..16"),
        (np.zeros((2, 64)), np.full(2, 10), "labels must be 0..9"),
        (np.zeros((2, 10)), np.zeros(2), r"64 pixels \+ 1 label"),
    ],
)
def test_bad_files(tmp_path, pixels, labels, message):
    _write_csv(tmp_path / "digits.csv.gz", pixels, labels)
    with pytest.raises(DataError, match=message):
        sklearn_digits(root=str(tmp_path))


def test_missing_and_corrupt(tmp_path):
    with pytest.raises(DataError, match="data file not found: .*digits.csv.gz"):
        sklearn_digits(root=str(tmp_path))
    (tmp_path / "digits.csv.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match="is not the digits CSV"):
        sklearn_digits(root=str(tmp_path))
    with pytest.raises(DataError, match="unknown split 'valid'"):
        sklearn_digits(root=str(tmp_path), split="valid")
