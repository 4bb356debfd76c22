"""IDX reader/writer, the MNIST / Fashion-MNIST datasets and the download checksum logic."""

from __future__ import annotations

import gzip
import hashlib
import warnings

import numpy as np
import pytest

from vaekit.data import download
from vaekit.data.idx import fashion_mnist, mnist, read_idx, write_idx
from vaekit.errors import DataError
from vaekit.registry import DATASETS

# Label counts of the MNIST test set (LeCun's page) and of the first 10,000 training labels.
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# ------------------------------------------------------------------------------ reader/writer
@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([-5, 0, 7], dtype=np.int8),
        np.array([[-300, 2], [40000 - 65536, 1]], dtype=np.int16),
        np.array([1, -(2**31), 2**31 - 1], dtype=np.int32),
        np.array([[0.5, -1.25e-3]], dtype=np.float32),
        np.array([np.pi, -np.e], dtype=np.float64),
    ],
    ids=["u8-3d", "i8", "i16", "i32", "f32", "f64"],
)
def test_round_trip(tmp_path, array, suffix):
    path = write_idx(tmp_path / f"a.idx{suffix}", array)
    back = read_idx(path)
    assert back.dtype == array.dtype.newbyteorder("=") and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_header_is_big_endian_mnist_layout(tmp_path):
    images = np.zeros((3, 28, 28), dtype=np.uint8)
    raw = write_idx(tmp_path / "x", images).read_bytes()
    assert raw[:16] == bytes.fromhex("00000803" "00000003" "0000001c" "0000001c")
    assert len(raw) == 16 + 3 * 28 * 28


def test_gzip_is_detected_from_content_not_name(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    gz = write_idx(tmp_path / "a.gz", array)
    renamed = gz.rename(tmp_path / "plain-name")
    np.testing.assert_array_equal(read_idx(renamed), array)


def test_limit_reads_the_first_entries(tmp_path):
    array = np.arange(5 * 2 * 2, dtype=np.uint8).reshape(5, 2, 2)
    for name in ("a", "a.gz"):
        path = write_idx(tmp_path / name, array)
        np.testing.assert_array_equal(read_idx(path, limit=3), array[:3])
        np.testing.assert_array_equal(read_idx(path, limit=99), array)


def test_truncated_data(tmp_path):
    raw = write_idx(tmp_path / "a", np.ones((4, 28, 28), np.uint8)).read_bytes()
    (tmp_path / "cut").write_bytes(raw[:-10])
    with pytest.raises(DataError, match=r"truncated IDX data.*\(4, 28, 28\).*3126 bytes follow"):
        read_idx(tmp_path / "cut")


def test_truncated_header(tmp_path):
    (tmp_path / "cut").write_bytes(bytes.fromhex("00000803 00000004 0000"))
    with pytest.raises(DataError, match="truncated IDX header"):
        read_idx(tmp_path / "cut")


def test_extra_bytes(tmp_path):
    raw = write_idx(tmp_path / "a", np.ones(4, np.uint8)).read_bytes()
    (tmp_path / "long").write_bytes(raw + b"\0")
    with pytest.raises(DataError, match="unexpected bytes"):
        read_idx(tmp_path / "long")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"<!DOCTYPE html><html>404</html>", "not an IDX file: it starts with bytes 3c 21 44 4f"),
        (b"\x89PNG\r\n\x1a\n" + bytes(20), "not an IDX file"),
        (bytes.fromhex("00000A01") + bytes(8), "not an IDX file"),  # unknown type 0x0A
        (bytes.fromhex("00000800"), "declares 0 dimensions"),
        (b"\0\0", "only 2 bytes"),
    ],
)
def test_foreign_files(tmp_path, content, message):
    (tmp_path / "f").write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_idx(tmp_path / "f")


def test_corrupt_gzip(tmp_path):
    gz = write_idx(tmp_path / "a.gz", np.random.default_rng(0).integers(0, 255, 5000, np.uint8))
    raw = gz.read_bytes()
    (tmp_path / "cut.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="gzip"):
        read_idx(tmp_path / "cut.gz")
    (tmp_path / "bad.gz").write_bytes(raw[:20] + bytes(len(raw) - 20))
    with pytest.raises(DataError, match="gzip"):
        read_idx(tmp_path / "bad.gz")


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_idx(tmp_path / "nope")


# -------------------------------------------------------------------------- synthetic folders
def _fake_mnist(folder, n_train=6, n_test=4, train_images_name="train-images-idx3-ubyte.gz"):
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(1)
    train = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    test = rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8)
    write_idx(folder / train_images_name, train)
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.arange(n_train, dtype=np.uint8) % 10)
    write_idx(folder / "t10k-images-idx3-ubyte", test)  # uncompressed works too
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(n_test, dtype=np.uint8) % 10)
    return train, test


def test_mnist_from_folder(tmp_path):
    train, test = _fake_mnist(tmp_path / "m")
    ds = mnist(root=str(tmp_path / "m"), split="train")
    assert ds.images.shape == (6, 1, 28, 28) and ds.images.dtype.is_floating_point is False
    np.testing.assert_array_equal(ds.images[:, 0].numpy(), train)
    np.testing.assert_array_equal(ds.labels, np.arange(6) % 10)
    item = ds[2]  # float in [0, 1]: uint8 / 255
    np.testing.assert_allclose(item[0].numpy(), train[2] / 255.0, atol=1e-6)
    ds_test = DATASETS.build("fashion_mnist", root=str(tmp_path / "m"), split="test", limit=3)
    np.testing.assert_array_equal(ds_test.images[:, 0].numpy(), test[:3])


def test_mnist_partial_training_images(tmp_path):
    _fake_mnist(tmp_path / "m", n_train=8,
                train_images_name="train-images-first10k-idx3-ubyte.gz")
    # The partial file holds only the first 5 images; the labels file still has all 8.
    write_idx(tmp_path / "m" / "train-images-first10k-idx3-ubyte.gz",
              np.zeros((5, 28, 28), np.uint8))
    with pytest.warns(UserWarning, match="using the 5 images"):
        ds = mnist(root=str(tmp_path / "m"))
    assert len(ds) == 5 and list(ds.labels) == [0, 1, 2, 3, 4]
    # Fashion-MNIST has no partial file convention: its train split is simply missing.
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        fashion_mnist(root=str(tmp_path / "m"))


def test_mnist_count_mismatch_and_bad_shapes(tmp_path):
    _fake_mnist(tmp_path / "m")
    write_idx(tmp_path / "m" / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(DataError, match="4 images but 't10k-labels-idx1-ubyte.gz' 3 labels"):
        mnist(root=str(tmp_path / "m"), split="test")
    write_idx(tmp_path / "m" / "t10k-images-idx3-ubyte", np.zeros((4, 32, 32), np.uint8))
    with pytest.raises(DataError, match=r"shape \(N, 28, 28\)"):
        mnist(root=str(tmp_path / "m"), split="test")


def test_mnist_errors(tmp_path):
    with pytest.raises(DataError, match="unknown split 'valid'.*train, test"):
        mnist(root=str(tmp_path), split="valid")
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz' \(or without \.gz\)"):
        mnist(root=str(tmp_path), split="test")


def test_missing_dataset_folder_names_path_and_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEKIT_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=r"nowhere/mnist'.*VAEKIT_DATA"):
        mnist()


# ---------------------------------------------------------------------------------- real data
def test_real_mnist_test_set(real_data):
    folder = real_data("mnist")
    ds = mnist(root=str(folder), split="test")
    assert ds.images.shape == (10000, 1, 28, 28)
    assert np.bincount(ds.labels, minlength=10).tolist() == MNIST_TEST_COUNTS
    # Mean pixel of the test set: 0.132515 (shared/data/binarized_mnist/README).
    assert ds.images.double().mean().item() / 255 == pytest.approx(0.132515, abs=2e-6)
    assert int(ds.images.max()) == 255 and int(ds.images.min()) == 0


def test_real_mnist_train_uses_the_first_10k_when_that_is_all_there_is(real_data):
    folder = real_data("mnist")
    labels = read_idx(folder / "train-labels-idx1-ubyte.gz")
    assert labels.shape == (60000,)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = DATASETS.build("mnist", split="train", limit=None)
    if (folder / "train-images-idx3-ubyte.gz").is_file():
        assert len(ds) == 60000 and not caught
    else:
        assert len(ds) == 10000 and "first10k" in str(caught[0].message)
    np.testing.assert_array_equal(ds.labels, labels[: len(ds)])
    # Image 0 of MNIST's training set is a 5, image 1 a 0: labels and images line up.
    assert ds.labels[:4].tolist() == [5, 0, 4, 1]


def test_real_fashion_mnist(real_data):
    folder = real_data("fashion_mnist")
    test = fashion_mnist(root=str(folder), split="test")
    assert test.images.shape == (10000, 1, 28, 28)
    assert np.bincount(test.labels).tolist() == [1000] * 10
    train = fashion_mnist(split="train", limit=1000)
    assert train.images.shape == (1000, 1, 28, 28)


# ------------------------------------------------------------------ download / verification
def test_verify_file(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"hello")
    md5 = hashlib.md5(b"hello").hexdigest()
    sha = hashlib.sha256(b"hello").hexdigest()
    assert download.verify_file(path, md5=md5) == "md5"
    assert download.verify_file(path, md5="0" * 32, sha256=sha.upper()) == "sha256"
    with pytest.raises(DataError, match="checksum mismatch.*expected 000"):
        download.verify_file(path, md5="0" * 32)
    with pytest.raises(DataError, match="no checksum"):
        download.verify_file(path)


def test_verify_accepts_recompressed_gzip_by_content(tmp_path):
    content = b"IDX content" * 100
    path = tmp_path / "f.gz"
    path.write_bytes(gzip.compress(content, mtime=12345))  # a re-gzipped copy: other bytes
    content_md5 = hashlib.md5(content).hexdigest()
    assert download.verify_file(path, md5="0" * 32, content_md5=content_md5) == "content md5"
    with pytest.raises(DataError, match="content md5"):
        download.verify_file(path, md5="0" * 32, content_md5="1" * 32)


def test_verify_real_mnist_and_fashion_files(real_data):
    # The local copies are re-gzipped: they pass through the official content MD5s.
    verified = download.verify_files(real_data("mnist"), download.MNIST_FILES)
    assert {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
            "train-labels-idx1-ubyte.gz"} <= set(verified)
    verified = download.verify_files(real_data("fashion_mnist"), download.FASHION_MNIST_FILES)
    assert len(verified) == 4


def test_download_file_checks_and_is_atomic(tmp_path):
    # A file:// URL exercises the real download path without a network.
    source = tmp_path / "src.bin"
    source.write_bytes(b"payload")
    good = hashlib.md5(b"payload").hexdigest()
    out = download.download_file(source.as_uri(), tmp_path / "dl" / "file.bin", md5=good)
    assert out.read_bytes() == b"payload"
    with pytest.raises(DataError, match="checksum mismatch"):
        download.download_file(source.as_uri(), tmp_path / "dl" / "bad.bin", md5="0" * 32)
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == ["file.bin"]  # no leftovers
    with pytest.raises(DataError, match="download of .* failed"):
        download.download_file((tmp_path / "missing").as_uri(), tmp_path / "dl" / "x")


def test_download_release_from_a_local_mirror(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    files = []
    for name in ("a.gz", "b.gz"):
        data = gzip.compress(name.encode())
        (mirror / name).write_bytes(data)
        files.append(download.RemoteFile(name, hashlib.md5(data).hexdigest()))
    dest = download._download_release(tmp_path / "dest", ("file:///nonexistent/",
                                                          mirror.as_uri() + "/"), tuple(files))
    assert sorted(p.name for p in dest.iterdir()) == ["a.gz", "b.gz"]
    assert download.verify_files(dest, tuple(files)) == ["a.gz", "b.gz"]
