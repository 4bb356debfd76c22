"""Labelled batches for models that train on labels (M2, conditional models)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import Subset

from vaekit.data.base import ArrayImageDataset
from vaekit.errors import ConfigError, DataError
from vaekit.training.data import LabelledDataset, labels_of, make_loader


def dataset(n: int = 40) -> ArrayImageDataset:
    images = np.arange(n * 4, dtype=np.uint8).reshape(n, 1, 2, 2)
    return ArrayImageDataset(images, labels=np.arange(n) % 4, name="toy")


def test_labels_follow_subsets_and_reach_the_batch():
    subset = Subset(dataset(), [5, 6, 7, 13])
    assert labels_of(subset).tolist() == [1, 2, 3, 1]
    loader = make_loader(LabelledDataset(subset), batch_size=4, shuffle=False)
    x, y = next(iter(loader))
    assert x.shape == (4, 1, 2, 2) and y.tolist() == [1, 2, 3, 1]
    # The image of each example travels with its own label.
    assert torch.equal(x[0], subset[0])


def test_num_labelled_keeps_a_balanced_seeded_subset():
    labelled = LabelledDataset(dataset(), num_labelled=8, seed=3)
    kept = labelled.labels[labelled.labels >= 0]
    assert len(kept) == 8 and torch.bincount(kept).tolist() == [2, 2, 2, 2]
    again = LabelledDataset(dataset(), num_labelled=8, seed=3)
    assert torch.equal(labelled.labels, again.labels)
    with pytest.raises(ConfigError, match="num_labelled"):
        LabelledDataset(dataset(), num_labelled=2)


def test_a_dataset_without_labels_is_served_unlabelled_with_a_warning():
    unlabelled = ArrayImageDataset(np.zeros((4, 1, 2, 2), np.uint8), name="plain")
    with pytest.warns(UserWarning, match="no labels"):
        assert LabelledDataset(unlabelled).labels.tolist() == [-1, -1, -1, -1]
    with pytest.raises(DataError, match="labelled dataset"):
        LabelledDataset(unlabelled, num_labelled=2)


def _labelled_blobs(split: str = "train", n: int = 128) -> ArrayImageDataset:
    """8x8 images of a bright quadrant; the label says which quadrant."""
    rng = np.random.default_rng({"train": 0, "test": 1}.get(split, 2))
    labels = rng.integers(0, 4, n)
    images = np.zeros((n, 1, 8, 8), np.uint8)
    for i, q in enumerate(labels):
        r, c = divmod(int(q), 2)
        images[i, 0, 4 * r:4 * r + 4, 4 * c:4 * c + 4] = 1
    return ArrayImageDataset(images, labels=labels, binary=True, name="labelled_blobs")


def test_a_label_model_trains_on_labelled_batches(tmp_path, monkeypatch):
    from vaekit.registry import DATASETS
    from vaekit.training import load_experiment, train

    monkeypatch.setitem(DATASETS._entries, "test_labelled_blobs", _labelled_blobs)
    config = load_experiment(None, [
        "model.type=m2", "model.network=mlp", "model.latent_dim=2", "model.num_classes=4",
        "model.network_options={hidden: [32]}", "data.name=test_labelled_blobs",
        "data.val_size=16", "data.num_labelled=8", "train.batch_size=16", "train.max_steps=30",
        "train.lr=3e-3", "train.val_every=30", "train.progress_bar=false",
        "train.loggers=[csv]", f"run_dir={tmp_path / 'run'}"])
    result = train(config)
    assert result.steps == 30 and np.isfinite(result.metrics["val/loss"])
    # The labels reached the model: 8 of 112 training examples are labelled (about 7% of a
    # batch); validation serves every label.
    assert 0 < result.metrics["train/labelled_fraction"] < 0.5
    assert result.metrics["val/labelled_fraction"] == 1.0
