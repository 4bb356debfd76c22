"""Binarized MNIST: the packed npz, Larochelle's .amat text format, and their agreement."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from vaekit.data.binarized_mnist import binarized_mnist, read_amat, read_packed
from vaekit.errors import DataError
from vaekit.registry import DATASETS

# sha256 of the packed arrays' raw bytes (shared/data/binarized_mnist/README).
PACKED_SHA256 = {
    "valid": "a256ac44ae26be720fad8616a05ed6ecfd1619930d9a208379bb2a4405df5b6d",
    "test": "9fcd8da6f0fdf09b2ba30fe63a0bb784042a0de82563172530229b983e294ff2",
}


def _write_amat(path, pixels):
    path.write_text("\n".join(" ".join(str(int(v)) for v in row) for row in pixels) + "\n")


def _random_binary(n, seed=0):
    return np.random.default_rng(seed).integers(0, 2, (n, 784), dtype=np.uint8)


def test_amat_round_trip(tmp_path):
    pixels = _random_binary(7)
    _write_amat(tmp_path / "binarized_mnist_valid.amat", pixels)
    ds = binarized_mnist(root=str(tmp_path), split="valid")
    assert ds.images.shape == (7, 1, 28, 28)
    # Row-major 28x28: pixel 28 * r + c of a line is image[r, c].
    np.testing.assert_array_equal(ds.images.numpy().reshape(7, 784), pixels)
    assert set(np.unique(ds[3].numpy())) <= {0.0, 1.0}  # binary: not divided by 255
    assert ds[3].sum().item() == pixels[3].sum()


def test_amat_accepts_float_notation(tmp_path):
    pixels = _random_binary(2)
    text = "\n".join(" ".join(f"{v:.1f}" for v in row) for row in pixels)
    (tmp_path / "f.amat").write_text(text)
    np.testing.assert_array_equal(read_amat(tmp_path / "f.amat"), pixels)


@pytest.mark.parametrize(
    "lines, message",
    [
        (["0 " * 784, "0 " * 783], "number of columns changed"),  # a ragged line
        (["0 " * 100, "0 " * 100], "lines have 100 values, expected 784"),
        (["2 " * 784], "values must be 0 or 1"),
        (["0 a " * 392], "not a binarized MNIST .amat"),
        ([], "empty"),
    ],
)
def test_amat_errors(tmp_path, lines, message):
    (tmp_path / "f.amat").write_text("\n".join(lines))
    with pytest.raises(DataError, match=message):
        read_amat(tmp_path / "f.amat")


def test_packed_npz_takes_precedence_and_is_checked(tmp_path):
    pixels = _random_binary(5, seed=1)
    np.savez(tmp_path / "binarized_mnist_packed.npz", test=np.packbits(pixels, axis=1))
    _write_amat(tmp_path / "binarized_mnist_test.amat", 1 - pixels)  # must be ignored
    ds = binarized_mnist(root=str(tmp_path), split="test", limit=3)
    np.testing.assert_array_equal(ds.images.numpy().reshape(3, 784), pixels[:3])
    with pytest.raises(DataError, match="no array 'valid'.*has: test"):
        binarized_mnist(root=str(tmp_path), split="valid")
    np.savez(tmp_path / "bad.npz", test=np.zeros((2, 784), np.uint8))
    with pytest.raises(DataError, match=r"\(N, 98\)"):
        read_packed(tmp_path / "bad.npz", "test")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable npz"):
        read_packed(tmp_path / "junk.npz", "test")


def test_missing_files_and_bad_split(tmp_path):
    with pytest.raises(DataError, match="binarized_mnist_packed.npz' nor .*_train.amat"):
        binarized_mnist(root=str(tmp_path))
    with pytest.raises(DataError, match="unknown split 'validation'.*train, valid, test"):
        binarized_mnist(root=str(tmp_path), split="validation")


def test_real_splits(real_data):
    folder = real_data("binarized_mnist")
    sizes = {"train": 50000, "valid": 10000, "test": 10000}
    for split, size in sizes.items():
        ds = DATASETS.build("binarized_mnist", split=split)
        assert ds.images.shape == (size, 1, 28, 28), split
        assert int(ds.images.max()) == 1
    with np.load(folder / "binarized_mnist_packed.npz") as archive:
        for split, digest in PACKED_SHA256.items():
            assert hashlib.sha256(archive[split].tobytes()).hexdigest() == digest


def test_real_test_mean_matches_mnist(real_data):
    # README: mean pixel of the test split 0.132512 (MNIST test mean / 255 is 0.132515): the
    # split is a stochastic binarization of the MNIST test digits.
    ds = binarized_mnist(root=str(real_data("binarized_mnist")), split="test")
    assert ds.images.double().mean().item() == pytest.approx(0.132512, abs=1e-6)
    # Digits are centred like MNIST's: the border rows are almost always empty.
    assert ds.images[:, 0, 0, :].double().mean().item() < 1e-3


def test_real_amat_and_npz_agree(real_data, tmp_path):
    # Write part of the real test split in Larochelle's text format and read it back.
    pixels = read_packed(real_data("binarized_mnist") / "binarized_mnist_packed.npz", "test")
    _write_amat(tmp_path / "binarized_mnist_test.amat", pixels[:300])
    ds = binarized_mnist(root=str(tmp_path), split="test")
    np.testing.assert_array_equal(ds.images.numpy().reshape(-1, 784), pixels[:300])
