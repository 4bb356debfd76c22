"""Dataset interfaces shared by every loader.

Images are stored once, compactly (uint8 ``(N, C, H, W)``), and converted to float32 in [0, 1]
only when a batch is fetched, so no dataset is held in memory twice. ``__getitems__`` lets the
DataLoader fetch a whole batch with one indexing operation instead of one Python call per image.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from vaekit.errors import DataError


def is_count(value: object, minimum: int = 1) -> bool:
    """Whether a dataset option is an integer (not a bool) of at least ``minimum``; options come
    from config files and the command line, so a string or a list must be refused, not compared."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum


class ArrayDataset(Dataset):
    """Examples held as one array ``(N, *shape)``; items are float32 tensors of ``shape``.

    Any shape: vectors ``(D,)`` (tabular data), sequences ``(C, L)``, images ``(C, H, W)``.
    ``values``: float array, or uint8 scaled by ``scale`` when fetched. ``labels``: optional
    int array ``(N,)``, exposed as ``.labels``.
    """

    noun = "values"  # what error messages call the examples

    def __init__(self, values: np.ndarray, labels: np.ndarray | None = None, *,
                 scale: float = 1.0, name: str = "dataset") -> None:
        if values.ndim < 2:
            raise DataError(f"{name}: expected an array of examples (N, ...), got shape "
                            f"{values.shape}")
        if len(values) == 0:
            raise DataError(f"{name}: the dataset is empty")
        if values.dtype != np.uint8:
            values = np.asarray(values, dtype=np.float32)
            if not np.isfinite(values).all():
                raise DataError(f"{name}: {self.noun} contain NaN or Inf values")
        self.values = torch.from_numpy(np.ascontiguousarray(values))
        if labels is not None and len(labels) != len(values):
            raise DataError(f"{name}: {len(labels)} labels for {len(values)} examples")
        self.labels = None if labels is None else np.asarray(labels)
        self.scale = scale if values.dtype == np.uint8 else 1.0
        self.name = name

    @property
    def data_shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape[1:])

    def __len__(self) -> int:
        return len(self.values)

    def _to_float(self, raw: torch.Tensor) -> torch.Tensor:
        return raw.to(torch.float32).mul_(self.scale) if self.scale != 1.0 else raw.float()

    def __getitem__(self, index: int) -> torch.Tensor:
        return self._to_float(self.values[index])

    def __getitems__(self, indices: Sequence[int]) -> list[torch.Tensor]:
        # One gather and one conversion for the whole batch; a list so that any collate works.
        return list(self._to_float(self.values[torch.as_tensor(indices)]).unbind(0))


class ArrayImageDataset(ArrayDataset):
    """Images held as one array; items are float32 tensors ``(C, H, W)`` in [0, 1].

    ``images``: uint8 array ``(N, C, H, W)`` (scaled by 1/255, or by 1 when ``binary``) or float
    array already in [0, 1]. ``labels``: optional int array ``(N,)``, exposed as ``.labels``.
    """

    noun = "images"

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray | None = None,
        *,
        binary: bool = False,
        name: str = "dataset",
    ) -> None:
        if images.ndim != 4:
            raise DataError(f"{name}: expected images of shape (N, C, H, W), got {images.shape}")
        super().__init__(images, labels, scale=1.0 if binary else 1.0 / 255.0, name=name)

    @property
    def images(self) -> torch.Tensor:
        return self.values


class GroundTruthDataset(Dataset, ABC):
    """A dataset generated from known, discrete factors of variation.

    The disentanglement metrics only use this interface: factor names and sizes, sampling of factor
    indices, and rendering of observations for given factor indices. Item ``i`` is the image of
    the ``i``-th factor combination in row-major order of ``factor_sizes``.
    """

    factor_names: tuple[str, ...]
    factor_sizes: tuple[int, ...]

    @abstractmethod
    def factor_values(self) -> list[np.ndarray]:
        """The real-valued factor value of each index, one array per factor."""

    @abstractmethod
    def render(self, factors: np.ndarray) -> torch.Tensor:
        """Observations ``(n, C, H, W)`` float32 in [0, 1] for factor indices ``(n, K)``."""

    @property
    def num_factors(self) -> int:
        return len(self.factor_sizes)

    @property
    def data_shape(self) -> tuple[int, ...]:
        return tuple(self.render(np.zeros((1, self.num_factors), dtype=np.int64)).shape[1:])

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` uniformly random factor index combinations ``(n, K)``."""
        return np.stack([rng.integers(0, size, n) for size in self.factor_sizes], axis=1)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, torch.Tensor]:
        factors = self.sample_factors(n, rng)
        return factors, self.render(factors)

    def index_to_factors(self, index: np.ndarray | int) -> np.ndarray:
        return np.stack(np.unravel_index(np.asarray(index), self.factor_sizes), axis=-1)

    def factors_to_index(self, factors: np.ndarray) -> np.ndarray:
        factors = np.asarray(factors)
        return np.ravel_multi_index(tuple(factors[..., k] for k in range(self.num_factors)),
                                    self.factor_sizes)

    def __len__(self) -> int:
        return int(np.prod(self.factor_sizes))

    def __getitem__(self, index: int) -> torch.Tensor:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} factor combinations")
        return self.render(self.index_to_factors(index % len(self))[None])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[torch.Tensor]:
        # One vectorised render for the whole batch; a list so that any collate works.
        return list(self.render(self.index_to_factors(np.asarray(indices))).unbind(0))
