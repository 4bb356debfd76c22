"""Build training/validation datasets and loaders from a :class:`DataConfig`."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, Subset
from torch.utils.data._utils.collate import default_collate

from vaekit.errors import ConfigError, DataError
from vaekit.registry import DATASETS
from vaekit.training.config import DataConfig


def build_dataset(config: DataConfig, split: str | None = None) -> Dataset:
    """Instantiate the registered dataset ``config.name`` for ``split`` (default: config.split).

    Only the arguments the dataset's factory accepts are passed; an option it does not know is a
    :class:`ConfigError` naming the option and listing the valid ones.
    """
    factory = DATASETS.get(config.name)
    params = inspect.signature(factory).parameters
    kwargs: dict[str, Any] = dict(config.options)
    valid = sorted(p for p in params if p not in ("self",))
    for key in kwargs:
        if key not in params:
            raise ConfigError(
                f"data.options.{key}: dataset '{config.name}' has no option '{key}'; "
                f"valid options: {', '.join(valid)}"
            )
    if config.root is not None:
        if "root" not in params:
            raise ConfigError(f"data.root: dataset '{config.name}' is generated and takes no root")
        kwargs["root"] = config.root
    if "split" in params:
        kwargs["split"] = split or config.split
    elif split not in (None, config.split, "train"):
        raise ConfigError(f"dataset '{config.name}' has no splits (asked for '{split}')")
    dataset = factory(**kwargs)
    if len(dataset) == 0:
        raise DataError(f"dataset '{config.name}' (split {split or config.split}) is empty")
    return dataset


def data_shape_of(dataset: Dataset) -> tuple[int, ...]:
    """The dataset's ``data_shape`` (looked up through Subsets: for clip datasets it is the
    frame shape, not the item's), else the shape of its first item."""
    inner = dataset
    while isinstance(inner, Subset) and getattr(inner, "data_shape", None) is None:
        inner = inner.dataset
    shape = getattr(inner, "data_shape", None)
    if shape is None:
        shape = tuple(_first_item(dataset).shape)
    return tuple(int(s) for s in shape)


def _first_item(dataset: Dataset) -> torch.Tensor:
    item = dataset[0]
    return item[0] if isinstance(item, (tuple, list)) else item


def train_val_datasets(config: DataConfig, seed: int) -> tuple[Dataset, Dataset | None]:
    """The training set and a validation set (a held-out split or a seeded random subset)."""
    train_set = build_dataset(config)
    if config.limit is not None:
        train_set = Subset(train_set, range(min(config.limit, len(train_set))))
    if config.val_split is not None:
        return train_set, build_dataset(config, config.val_split)
    if config.val_size == 0:
        return train_set, None
    if config.val_size >= len(train_set):
        raise ConfigError(
            f"data.val_size={config.val_size} leaves no training data out of {len(train_set)} "
            "examples; lower it or set data.val_split"
        )
    order = torch.randperm(len(train_set), generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = order[: config.val_size], order[config.val_size:]
    return Subset(train_set, train_idx.tolist()), Subset(train_set, val_idx.tolist())


def labels_of(dataset: Dataset) -> torch.Tensor | None:
    """The integer labels ``(N,)`` of a dataset with a ``labels`` array, through Subsets."""
    if isinstance(dataset, Subset):
        parent = labels_of(dataset.dataset)
        return None if parent is None else parent[torch.as_tensor(list(dataset.indices))]
    labels = getattr(dataset, "labels", None)
    return None if labels is None else torch.as_tensor(labels).long()


class LabelledDataset(Dataset):
    """Items ``(x, y)`` for models that train on labels (``BaseVAE.uses_labels``); a dataset
    without labels gives ``y = -1`` everywhere (with a warning).

    ``num_labelled``: keep the labels of only this many examples, the same number per class
    (seeded), and mark the others unlabelled with ``y = -1`` (semi-supervised training, e.g.
    M2 with 100 labels on MNIST).
    """

    def __init__(self, dataset: Dataset, num_labelled: int | None = None, seed: int = 0) -> None:
        labels = labels_of(dataset)
        if labels is None:
            if num_labelled is not None:
                raise DataError(f"data.num_labelled is set, but dataset {type(dataset).__name__} "
                                "has no labels; use a labelled dataset (e.g. mnist, "
                                "fashion_mnist, sklearn_digits)")
            # Every example unlabelled (y = -1): M2 then trains unsupervised, a conditional
            # model unconditionally; say so, since it is rarely what the user wants.
            warnings.warn(f"dataset {type(dataset).__name__} has no labels: the model trains "
                          "on unlabelled batches (y = -1)", stacklevel=2)
            labels = torch.full((len(dataset),), -1, dtype=torch.long)
        if num_labelled is not None:
            labels = _keep_balanced(labels, num_labelled, seed)
        self.dataset = dataset
        self.labels = labels

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.dataset[index], self.labels[index]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        fetch = getattr(self.dataset, "__getitems__", None)
        images = fetch(indices) if fetch else [self.dataset[i] for i in indices]
        return torch.stack(list(images)), self.labels[torch.as_tensor(indices)]


def _keep_balanced(labels: torch.Tensor, count: int, seed: int) -> torch.Tensor:
    classes = labels.unique()
    if count < len(classes) or count > len(labels):
        raise ConfigError(f"data.num_labelled={count} must be between the number of classes "
                          f"({len(classes)}) and the number of training examples ({len(labels)})")
    generator = torch.Generator().manual_seed(seed)
    kept = torch.full_like(labels, -1)
    for c in classes:
        members = (labels == c).nonzero().flatten()
        chosen = members[torch.randperm(len(members), generator=generator)[:count // len(classes)]]
        kept[chosen] = c
    return kept


def collate(batch: Any) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Batches are image tensors ``(B, C, H, W)``: datasets with ``__getitems__`` already return
    one; a :class:`LabelledDataset` gives ``(images, labels)``; for other datasets' tuples
    (image, label) only the image is kept."""
    if isinstance(batch, torch.Tensor):
        return batch
    if isinstance(batch, tuple) and len(batch) == 2 and isinstance(batch[0], torch.Tensor):
        return batch  # already collated by LabelledDataset.__getitems__
    batch = default_collate(batch)
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def make_loader(dataset: Dataset, batch_size: int, *, shuffle: bool, seed: int = 0,
                num_workers: int = 0, drop_last: bool = False) -> DataLoader:
    # Always an own generator: never draw from the global RNG (see ResumableLoader).
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      num_workers=num_workers, collate_fn=collate, drop_last=drop_last,
                      persistent_workers=num_workers > 0)


class ResumableBatchSampler(Sampler[list[int]]):
    """Seeded shuffled batches whose order depends only on (seed, epoch), starting wherever the
    run is: each pass reads the number of batches trained so far from ``progress`` and starts at
    that epoch and offset. A resumed run therefore sees exactly the batches an uninterrupted run
    would, whatever Lightning's own epoch bookkeeping says after a mid-epoch stop."""

    def __init__(self, size: int, batch_size: int, seed: int, progress: Callable[[], int],
                 drop_last: bool = True) -> None:
        self.size, self.batch_size, self.seed, self.drop_last = size, batch_size, seed, drop_last
        self.progress = progress

    def __len__(self) -> int:
        full, rest = divmod(self.size, self.batch_size)
        return full + (rest > 0 and not self.drop_last)

    def __iter__(self) -> Iterator[list[int]]:
        epoch, start = divmod(int(self.progress()), max(len(self), 1))
        generator = torch.Generator().manual_seed(self.seed + 7919 * epoch)
        order = torch.randperm(self.size, generator=generator).tolist()
        for b in range(start, len(self)):
            yield order[b * self.batch_size:(b + 1) * self.batch_size]


class ResumableLoader(DataLoader):
    """A DataLoader over a :class:`ResumableBatchSampler`. It has ``state_dict`` so Lightning
    treats it as resumable; the position itself comes from the sampler's ``progress``."""

    def __init__(self, dataset: Dataset, sampler: ResumableBatchSampler,
                 num_workers: int = 0) -> None:
        # An own generator keeps the loader from drawing its worker seed from the global RNG,
        # which would shift the model's sampling noise after a resume.
        super().__init__(dataset, batch_sampler=sampler, collate_fn=collate,
                         num_workers=num_workers, persistent_workers=num_workers > 0,
                         generator=torch.Generator().manual_seed(sampler.seed))

    def state_dict(self) -> dict[str, int]:
        return {"batches_seen": int(self.batch_sampler.progress())}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Nothing to do: the sampler reads the restored training progress."""
