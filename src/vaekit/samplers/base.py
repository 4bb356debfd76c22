"""What a sampler is: ``sample(n, generator) -> images (n, C, H, W)`` in [0, 1].

Sample-quality metrics take any callable with that signature; vaekit's samplers are classes
with a ``sample`` method that are also callable. :class:`PriorSampler` wraps a model's own
``sample`` (z ~ p(z)); :class:`~vaekit.samplers.gmm.GaussianMixtureSampler` draws z from a
density fitted to the aggregate posterior instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch

from vaekit.evaluation.likelihood import evaluating

if TYPE_CHECKING:
    from vaekit.models.base import BaseVAE


@runtime_checkable
class Sampler(Protocol):
    """Anything that draws ``n`` images ``(n, C, H, W)`` in [0, 1], reproducibly given a
    ``torch.Generator`` (``None``: the global torch RNG)."""

    def __call__(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor: ...


def _check_count(n: int, batch_size: int) -> None:
    if n < 0:
        raise ValueError(f"the number of samples must be >= 0, got {n}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")


class PriorSampler:
    """Images decoded from z ~ p(z): the model's own ``sample`` in eval mode. The baseline that
    ex-post density estimation is compared against.

    ``batch_size``: when set, ``n`` is drawn in calls of at most that many (bounded memory);
    the random stream then depends on it (torch draws small and large batches differently), so
    keep it fixed when comparing runs. ``None`` (default): one ``model.sample(n)`` call.
    """

    def __init__(self, model: BaseVAE, batch_size: int | None = None) -> None:
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model
        self.batch_size = batch_size

    def fit(self, *args, **kwargs) -> PriorSampler:
        """Nothing to fit (the prior is part of the model); here for a common interface."""
        return self

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        step = self.batch_size or max(n, 1)
        _check_count(n, step)
        with evaluating(self.model):
            chunks = [self.model.sample(min(step, n - start), generator=generator)
                      for start in range(0, n, step)]
        if not chunks:
            return torch.empty((0, *self.model.data_shape))
        return torch.cat(chunks)

    __call__ = sample
