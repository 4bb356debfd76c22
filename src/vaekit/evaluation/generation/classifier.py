"""A small convolutional classifier that vaekit trains itself, used as a feature extractor.

Sample-quality metrics (Fréchet distance, KID, precision/recall) need an embedding of images in
which distances mean something. The usual choice, Inception-v3 trained on ImageNet, needs
downloaded weights and is a poor fit for 28x28 grey images; instead vaekit trains a small conv
net (two conv + max-pool stages, a fully connected feature layer of ``feature_dim`` = 128 ReLU
units, a linear class head) on the *training split* of the labelled data set being modelled, and
uses the feature layer as the embedding: a domain-specific feature space that needs no download.

**These features are not Inception features.** A Fréchet distance computed on them is *not*
Inception FID, a kernel distance is *not* Inception KID, and neither is comparable with FID/KID
numbers published in papers. They are comparable only between models scored with the *same*
classifier (same data set, architecture, steps and seed; see :func:`load_or_train_classifier`,
which caches one per setting) and the same number of samples.

Files: ``classifier.json`` (config + training settings) and ``classifier.safetensors`` (weights),
each written atomically; loading never unpickles.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from vaekit.checkpoint import atomic_write
from vaekit.errors import CheckpointError
from vaekit.evaluation.likelihood import DataLike, evaluating, iter_batches, model_device
from vaekit.registry import DATASETS

FORMAT = "vaekit-feature-classifier"
CONFIG_NAME = "classifier.json"
WEIGHTS_NAME = "classifier.safetensors"
CACHE_ENV = "VAEKIT_CACHE"


@dataclass
class ClassifierConfig:
    """Architecture of a :class:`FeatureClassifier`.

    ``data_shape``: ``(C, H, W)`` of the images; ``classes``: the label values, in the order of
    the class head's outputs; ``channels``: output channels of each conv stage (3x3 conv, ReLU,
    2x2 max-pool while the image is at least 2 pixels on a side); ``feature_dim``: size of the
    feature layer that the metrics use.
    """

    data_shape: tuple[int, int, int]
    classes: tuple[int, ...]
    feature_dim: int = 128
    channels: tuple[int, ...] = (32, 64)

    def __post_init__(self) -> None:
        self.data_shape = tuple(int(s) for s in self.data_shape)  # type: ignore[assignment]
        self.classes = tuple(int(c) for c in self.classes)
        self.channels = tuple(int(c) for c in self.channels)
        if len(self.data_shape) != 3 or min(self.data_shape) < 1:
            raise ValueError(f"data_shape must be (C, H, W), got {self.data_shape}")
        if len(self.classes) < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got {self.classes}")
        if self.feature_dim < 1 or not self.channels or min(self.channels) < 1:
            raise ValueError("feature_dim and channels must be positive")


class FeatureClassifier(nn.Module):
    """Conv classifier whose penultimate (feature) layer embeds images for sample metrics.

    Not an Inception network: distances on its features are not comparable with published
    FID/KID values (see the module docstring).
    """

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        in_channels, height, width = config.data_shape
        layers: list[nn.Module] = []
        for out_channels in config.channels:
            layers += [nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU()]
            if height >= 2 and width >= 2:
                layers.append(nn.MaxPool2d(2))
                height, width = height // 2, width // 2
            in_channels = out_channels
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.feature_layer = nn.Linear(in_channels * height * width, config.feature_dim)
        self.head = nn.Linear(config.feature_dim, len(config.classes))
        self.training_info: dict[str, Any] = {}

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return self.config.data_shape

    @property
    def feature_dim(self) -> int:
        return self.config.feature_dim

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Feature-layer activations ``(B, feature_dim)`` (post-ReLU), with autograd."""
        return F.relu(self.feature_layer(self.body(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(B, num_classes)``."""
        return self.head(self.embed(x))

    # ------------------------------------------------------------------------- inference
    def _batches(self, images: DataLike, batch_size: int, max_examples: int | None = None):
        for x in iter_batches(images, batch_size, max_examples, model_device(self),
                              self.data_shape):
            if tuple(x.shape[1:]) != self.data_shape:
                raise ValueError(f"images of shape {tuple(x.shape[1:])} do not fit this "
                                 f"classifier, trained on {self.data_shape}")
            yield x

    def features(self, images: DataLike, batch_size: int = 500,
                 max_examples: int | None = None) -> np.ndarray:
        """Feature vectors ``(N, feature_dim)`` float32 of images in [0, 1] (a tensor/array
        ``(N, C, H, W)``, a Dataset or an iterable of batches); eval mode, no autograd."""
        out = []
        with evaluating(self):
            for x in self._batches(images, batch_size, max_examples):
                out.append(self.embed(x.float()).cpu())
        if not out:
            raise ValueError("no images to embed")
        return torch.cat(out).numpy()

    def predict(self, images: DataLike, batch_size: int = 500,
                max_examples: int | None = None) -> np.ndarray:
        """Predicted label values ``(N,)`` (int64)."""
        out = []
        with evaluating(self):
            for x in self._batches(images, batch_size, max_examples):
                out.append(self(x.float()).argmax(dim=1).cpu())
        if not out:
            raise ValueError("no images to classify")
        return np.asarray(self.config.classes, dtype=np.int64)[torch.cat(out).numpy()]

    def accuracy(self, dataset: Any, batch_size: int = 500,
                 max_examples: int | None = None) -> float:
        """Fraction of the first ``max_examples`` items of a labelled dataset (one with a
        ``.labels`` array) that are classified correctly."""
        labels = _labels_of(dataset)
        predicted = self.predict(dataset, batch_size, max_examples)
        return float(np.mean(predicted == labels[: len(predicted)]))

    # ------------------------------------------------------------------------- files
    def save(self, directory: str | Path) -> Path:
        """Write ``classifier.safetensors`` then ``classifier.json`` atomically."""
        directory = Path(directory)
        state = {k: v.detach().cpu().contiguous().clone() for k, v in self.state_dict().items()}
        meta = {
            "format": FORMAT,
            "config": dataclasses.asdict(self.config),
            "training": self.training_info,
            "note": "features of a classifier trained by vaekit; distances on them are not "
                    "Inception FID/KID",
        }
        atomic_write(directory / WEIGHTS_NAME,
                     lambda tmp: save_file(state, tmp, metadata={"format": FORMAT}))
        atomic_write(directory / CONFIG_NAME,
                     lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2) + "\n"))
        return directory

    @classmethod
    def load(cls, directory: str | Path, map_location: str = "cpu") -> FeatureClassifier:
        """Rebuild a classifier written by :meth:`save` (in eval mode)."""
        directory = Path(directory)
        config_path, weights_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
        for path in (config_path, weights_path):
            if not path.is_file():
                raise CheckpointError(f"'{path}' not found: not a saved feature classifier")
        try:
            meta = json.loads(config_path.read_text())
            if meta.get("format") != FORMAT:
                raise CheckpointError(f"'{config_path}' is not a feature-classifier config")
            model = cls(ClassifierConfig(**meta["config"]))
            state = load_file(weights_path, device=map_location)
            model.load_state_dict(state, strict=True)
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError,
                SafetensorError, OSError, RuntimeError) as err:
            raise CheckpointError(f"'{directory}': cannot load the classifier: {err}") from None
        model.training_info = dict(meta.get("training") or {})
        return model.eval()


# ------------------------------------------------------------------------------ training
def _labels_of(dataset: Any) -> np.ndarray:
    labels = getattr(dataset, "labels", None)
    if labels is None:
        raise ValueError(f"{type(dataset).__name__} has no .labels: a labelled dataset is needed")
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-d int array, got {labels.dtype} {labels.shape}")
    return labels.astype(np.int64)


def _image(item: Any) -> torch.Tensor:
    if isinstance(item, (tuple, list)):
        item = item[0]
    if isinstance(item, np.ndarray):
        item = torch.from_numpy(item)
    return item.float()


def _fetch(dataset: Any, indices: Sequence[int]) -> torch.Tensor:
    """Images ``(B, C, H, W)`` for ``indices``, one ``__getitems__`` call when available."""
    getitems = getattr(dataset, "__getitems__", None)
    items = getitems(list(indices)) if getitems is not None else [dataset[i] for i in indices]
    if isinstance(items, torch.Tensor):
        return items.float()
    return torch.stack([_image(item) for item in items])


def train_feature_classifier(
    dataset: Any,
    *,
    steps: int = 2000,
    batch_size: int = 128,
    seed: int = 0,
    lr: float = 1e-3,
    feature_dim: int = 128,
    channels: Sequence[int] = (32, 64),
    device: torch.device | str | None = None,
) -> FeatureClassifier:
    """Train a :class:`FeatureClassifier` with Adam and cross-entropy on a labelled dataset.

    ``dataset``: a map-style Dataset of float images ``(C, H, W)`` in [0, 1] with a ``.labels``
    int array (e.g. ``DATASETS.build("fashion_mnist", split="train")``); use its *training*
    split. Each of the ``steps`` minibatches is drawn uniformly with replacement; the weights'
    initialisation and the batches depend only on ``seed`` (the global RNG is left alone), so
    training is reproducible on one device. Returns the classifier in eval mode.
    """
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be >= 1, got {steps}, {batch_size}")
    labels = _labels_of(dataset)
    if len(labels) != len(dataset):
        raise ValueError(f"{len(labels)} labels for {len(dataset)} images")
    classes, targets = np.unique(labels, return_inverse=True)
    targets_t = torch.from_numpy(targets.astype(np.int64))
    data_shape = tuple(_fetch(dataset, [0]).shape[1:])
    config = ClassifierConfig(data_shape, tuple(classes.tolist()), feature_dim, tuple(channels))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = FeatureClassifier(config)
    device = torch.device(device) if device is not None else torch.device("cpu")
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(int(seed))
    loss = torch.zeros(())
    for _ in range(steps):
        index = torch.randint(0, len(dataset), (batch_size,), generator=generator)
        x = _fetch(dataset, index.tolist()).to(device)
        y = targets_t[index].to(device)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model.training_info = {
        "dataset": getattr(dataset, "name", type(dataset).__name__),
        "num_train": len(dataset),
        "steps": steps,
        "batch_size": batch_size,
        "seed": seed,
        "lr": lr,
        "final_loss": float(loss.detach()),
    }
    return model.eval()


# ------------------------------------------------------------------------------- cache
def default_cache_dir() -> Path:
    """Where cached classifiers live: ``$VAEKIT_CACHE/classifiers`` when ``VAEKIT_CACHE`` is
    set, else ``~/.cache/vaekit/classifiers``."""
    root = os.environ.get(CACHE_ENV)
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "vaekit"
    return base / "classifiers"


_DEFAULTS = {"batch_size": 128, "lr": 1e-3, "feature_dim": 128, "channels": [32, 64],
             "dataset_options": {}}


def classifier_cache_key(dataset_name: str, steps: int, seed: int, **settings: Any) -> str:
    """``<dataset>-<steps>-<seed>``, plus a short hash of any non-default other setting."""
    extra = {k: v for k, v in settings.items() if v != _DEFAULTS.get(k, object())}
    key = f"{dataset_name}-{steps}-{seed}"
    if extra:
        digest = hashlib.sha1(json.dumps(extra, sort_keys=True, default=str).encode())
        key += "-" + digest.hexdigest()[:8]
    return key


def load_or_train_classifier(
    dataset_name: str,
    cache_dir: str | Path | None = None,
    *,
    steps: int = 2000,
    batch_size: int = 128,
    seed: int = 0,
    lr: float = 1e-3,
    feature_dim: int = 128,
    channels: Sequence[int] = (32, 64),
    dataset_options: dict[str, Any] | None = None,
    device: torch.device | str | None = None,
) -> FeatureClassifier:
    """The cached classifier for these settings, training (and caching) it on first use.

    The classifier is trained on ``DATASETS.build(dataset_name, split="train",
    **dataset_options)`` and stored in ``<cache_dir>/<dataset>-<steps>-<seed>[-<hash>]`` (the
    hash covers non-default batch size, lr, architecture and dataset options); ``cache_dir``
    defaults to :func:`default_cache_dir`. A cache entry that cannot be read, or whose recorded
    settings differ, is retrained and overwritten (with a warning). Returned on ``device``
    (default CPU), in eval mode.
    """
    dataset_options = dict(dataset_options or {})
    settings = {"batch_size": batch_size, "lr": lr, "feature_dim": feature_dim,
                "channels": [int(c) for c in channels], "dataset_options": dataset_options}
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    directory = root / classifier_cache_key(dataset_name, steps, seed, **settings)
    expected = {"steps": steps, "seed": seed, "batch_size": batch_size, "lr": lr}
    if (directory / CONFIG_NAME).is_file():
        try:
            model = FeatureClassifier.load(directory)
            info = model.training_info
            if ({k: info.get(k) for k in expected} == expected
                    and model.feature_dim == feature_dim
                    and list(model.config.channels) == settings["channels"]):
                return model.to(device) if device is not None else model
            warnings.warn(f"cached classifier '{directory}' was trained with other settings "
                          f"({info}); retraining", stacklevel=2)
        except CheckpointError as err:
            warnings.warn(f"cached classifier is unreadable ({err}); retraining", stacklevel=2)
    dataset = DATASETS.build(dataset_name, split="train", **dataset_options)
    model = train_feature_classifier(dataset, steps=steps, batch_size=batch_size, seed=seed,
                                     lr=lr, feature_dim=feature_dim, channels=channels,
                                     device=device)
    model.training_info["dataset_name"] = dataset_name
    model.training_info["dataset_options"] = dataset_options
    try:
        model.save(directory)
    except OSError as err:  # a read-only cache still gives a usable classifier
        warnings.warn(f"could not cache the classifier in '{directory}': {err}", stacklevel=2)
    return model
