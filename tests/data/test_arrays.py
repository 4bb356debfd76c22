"""array_file: tabular vectors, sequences and images read from .npy/.npz/.csv, without pickle."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from vaekit.data.arrays import array_file
from vaekit.errors import DataError
from vaekit.registry import DATASETS


def _table(n=50, d=4, seed=0):
    return np.random.default_rng(seed).normal(3.0, 2.0, (n, d)).astype(np.float32)


def test_npy_keeps_the_example_shape_and_values(tmp_path):
    values = np.random.default_rng(0).normal(size=(20, 2, 16)).astype(np.float32)
    np.save(tmp_path / "seq.npy", values)
    ds = array_file(str(tmp_path / "seq.npy"), split="all")
    assert ds.data_shape == (2, 16) and len(ds) == 20
    np.testing.assert_array_equal(ds[3].numpy(), values[3])
    batch = ds.__getitems__([0, 5])
    np.testing.assert_array_equal(np.stack([b.numpy() for b in batch]), values[[0, 5]])


def test_splits_partition_the_rows_reproducibly(tmp_path):
    values = np.arange(100, dtype=np.float32)[:, None].repeat(3, axis=1)
    np.save(tmp_path / "t.npy", values)
    train = array_file(str(tmp_path / "t.npy"), split="train", test_fraction=0.2, seed=1)
    test = array_file(str(tmp_path / "t.npy"), split="test", test_fraction=0.2, seed=1)
    rows = lambda ds: {int(ds[i][0]) for i in range(len(ds))}  # noqa: E731
    assert len(train) == 80 and len(test) == 20
    assert rows(train).isdisjoint(rows(test)) and rows(train) | rows(test) == set(range(100))
    again = array_file(str(tmp_path / "t.npy"), split="test", test_fraction=0.2, seed=1)
    assert rows(again) == rows(test)
    other = array_file(str(tmp_path / "t.npy"), split="test", test_fraction=0.2, seed=2)
    assert rows(other) != rows(test)


def test_standardize_uses_the_training_statistics_for_every_split(tmp_path):
    values = _table(200)
    np.save(tmp_path / "t.npy", values)
    train = array_file(str(tmp_path / "t.npy"), split="train", standardize=True)
    test = array_file(str(tmp_path / "t.npy"), split="test", standardize=True)
    train_values = train.values.numpy()
    np.testing.assert_allclose(train_values.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(train_values.std(0), 1.0, atol=1e-4)
    # The test rows are mapped with the training mean/std, so they are not exactly centred.
    raw = array_file(str(tmp_path / "t.npy"), split="test").values.numpy()
    raw_train = array_file(str(tmp_path / "t.npy"), split="train").values.numpy()
    expected = (raw - raw_train.mean(0)) / raw_train.std(0)
    np.testing.assert_allclose(test.values.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_csv_with_header_and_label_column_by_name(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,label,c\n1,2,0,3\n4,5,1,6\n7,8,1,9\n")
    ds = array_file(str(path), split="all", label_column="label")
    assert ds.data_shape == (3,)
    np.testing.assert_array_equal(ds.values.numpy(), [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    np.testing.assert_array_equal(ds.labels, [0, 1, 1])


def test_gzipped_tsv_without_header_and_label_by_index(tmp_path):
    path = tmp_path / "t.tsv.gz"
    with gzip.open(path, "wt") as stream:
        stream.write("1\t2\t5\n3\t4\t6\n")
    ds = array_file(str(path), split="all", label_column=-1)
    np.testing.assert_array_equal(ds.values.numpy(), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(ds.labels, [5, 6])


def test_shape_turns_rows_into_sequences(tmp_path):
    np.save(tmp_path / "t.npy", _table(10, 12))
    ds = array_file(str(tmp_path / "t.npy"), split="all", shape=[3, 4])
    assert ds.data_shape == (3, 4)
    with pytest.raises(DataError, match=r"shape \[5, 5\] does not fit examples of 12 values"):
        array_file(str(tmp_path / "t.npy"), shape=[5, 5])


def test_npz_needs_a_key_when_ambiguous(tmp_path):
    np.savez(tmp_path / "t.npz", x=_table(10), y=np.arange(10))
    with pytest.raises(DataError, match="holds arrays.*data.options.key"):
        array_file(str(tmp_path / "t.npz"))
    ds = array_file(str(tmp_path / "t.npz"), split="all", key="x", label_key="y")
    assert ds.data_shape == (4,) and list(ds.labels) == list(range(10))
    with pytest.raises(DataError, match="no array 'z'"):
        array_file(str(tmp_path / "t.npz"), key="z")


def test_object_arrays_are_refused_not_unpickled(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="unpickling"):
        array_file(str(tmp_path / "obj.npy"))


@pytest.mark.parametrize("content, message", [
    ("a,b\n1,x\n", "numbers only"),
    ("a,b\n", "header but no rows"),
    ("", "is empty"),
    ("1,nan\n2,3\n", "NaN or Inf"),
])
def test_bad_tables_are_explained(tmp_path, content, message):
    path = tmp_path / "t.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        array_file(str(path), split="all")


def test_bad_options_are_explained(tmp_path):
    np.save(tmp_path / "t.npy", _table(10))
    path = str(tmp_path / "t.npy")
    with pytest.raises(DataError, match="no file given"):
        array_file()
    with pytest.raises(DataError, match="file not found"):
        array_file(str(tmp_path / "missing.npy"))
    with pytest.raises(DataError, match="unknown split"):
        array_file(path, split="valid")
    with pytest.raises(DataError, match="test_fraction"):
        array_file(path, test_fraction=1.0)
    with pytest.raises(DataError, match="split 'test' is empty"):
        array_file(path, split="test", test_fraction=0.0)
    (tmp_path / "t.json").write_text("[]")
    with pytest.raises(DataError, match="is not a .npy"):
        array_file(str(tmp_path / "t.json"))
    np.save(tmp_path / "flat.npy", np.arange(5.0))
    with pytest.raises(DataError, match=r"array of examples \(N, ...\)"):
        array_file(str(tmp_path / "flat.npy"))


def test_registered_and_root_is_the_file(tmp_path):
    np.save(tmp_path / "t.npy", _table(10))
    ds = DATASETS.build("array_file", root=str(tmp_path / "t.npy"), split="all")
    assert len(ds) == 10


def test_real_digits_csv_as_a_table(real_data):
    # sklearn's digits file: 64 pixel counts and the label in the last column.
    path = real_data("sklearn_digits") / "digits.csv.gz"
    ds = array_file(str(path), split="all", label_column=-1)
    assert ds.data_shape == (64,) and len(ds) == 1797
    assert set(np.unique(ds.labels)) == set(range(10))
    assert float(ds.values.min()) == 0.0 and float(ds.values.max()) == 16.0
