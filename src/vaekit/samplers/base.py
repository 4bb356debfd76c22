"""What a sampler is: ``sample(n, generator) -> images (n, C, H, W)`` in [0, 1].

Sample-quality metrics take any callable with that signature; vaekit's samplers are classes
with a ``sample`` method that are also callable. :class:`PriorSampler` wraps a model's own
``sample`` (z ~ p(z)); :class:`~vaekit.samplers.gmm.GaussianMixtureSampler` draws z from a
density fitted to the aggregate posterior instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch
from torch import nn

from vaekit.evaluation.latents import encode_dataset
from vaekit.evaluation.likelihood import DataLike, evaluating, model_device

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


# ------------------------------------------------------------------------ shared helpers
@contextlib.contextmanager
def seeded_init(seed: int) -> Iterator[None]:
    """Seed torch's global CPU RNG inside the block (module initialisation draws from it) and
    restore its state afterwards, so fitting a sampler leaves the caller's random stream alone."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def train_on_codes(
    module: nn.Module,
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    num_codes: int,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """Minimise ``batch_loss(indices)`` over ``module``'s parameters with Adam for ``steps``
    minibatches of ``min(batch_size, num_codes)`` code indices drawn uniformly with replacement
    from ``generator``; the module is left in eval mode. Returns the loss of every step
    ``(steps,)`` (float, CPU)."""
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    size = min(batch_size, num_codes)
    history = []
    module.train()
    with torch.enable_grad():  # fit() may be called under no_grad (e.g. inside evaluation code)
        for _ in range(steps):
            index = torch.randint(num_codes, (size,), generator=generator,
                                  device=generator.device)
            loss = batch_loss(index)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            history.append(loss.detach())
    module.eval()
    return torch.stack(history).float().cpu() if history else torch.empty(0)


def encode_codes(model: BaseVAE, dataset: DataLike, batch_size: int = 256,
                 max_examples: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means and standard deviations ``(N, D)`` (float32, CPU) of q(z|x) for (at most
    ``max_examples`` of) ``dataset``, without touching the global RNG."""
    # A DataLoader draws its base seed from the global RNG: keep the caller's stream intact.
    with torch.random.fork_rng(devices=[]):
        means, stds = encode_dataset(model, dataset, batch_size=batch_size,
                                     max_examples=max_examples)
    return torch.from_numpy(means), torch.from_numpy(stds)


def decode_latents(model: BaseVAE, z: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Mean images ``(n, C, H, W)`` in [0, 1] of p(x|z) for codes ``z`` ``(n, D)``, decoded in
    chunks of ``batch_size`` in eval mode without autograd, as ``model.sample`` decodes."""
    if len(z) == 0:
        return torch.empty((0, *model.data_shape))
    device = model_device(model)
    dtype = next(model.parameters()).dtype
    with evaluating(model):
        chunks = [model.likelihood.mean_image(model.decode(part.to(device=device, dtype=dtype)))
                  for part in z.split(batch_size)]
    return torch.cat(chunks)


def standard_normal_draws(n: int, dim: int, generator: torch.Generator | None,
                          device: torch.device) -> torch.Tensor:
    """``(n, dim)`` N(0, I) draws from ``generator`` (on its device; ``None``: the global RNG),
    moved to ``device``, so a CPU generator reproduces the same draws for a model on a GPU."""
    source = generator.device if generator is not None else torch.device("cpu")
    return torch.randn((n, dim), generator=generator, device=source).to(device)


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
