"""Likelihood evaluation: the ELBO and importance-sampled estimates of log p(x).

Everything here works for any :class:`~vaekit.models.base.BaseVAE` through its probabilistic
pieces (``encode(x) -> q(z|x)``, ``decode(z) -> p(x|z)``, ``prior() -> p(z)``), so a new model
gets the same numbers as every other one without model-specific evaluation code.

The log-likelihood estimate is the importance-weighted bound of Burda, Grosse & Salakhutdinov
(2016), "Importance Weighted Autoencoders", ICLR, eq. 8,

    log p(x) >= L_K = log (1/K) sum_k p(x, z_k) / q(z_k | x),   z_k ~ q(z|x),

which is non-decreasing in K and tends to log p(x) as K -> infinity; the paper reports
``-L_5000`` as the test negative log-likelihood, which is what :func:`estimate_nll` returns.
The K samples are processed in chunks (a running ``logsumexp``), so K = 5000 needs only the
memory of one chunk.

Sampling is reproducible: pass ``seed`` or a ``torch.Generator``; with neither, the global torch
RNG is used (so ``torch.manual_seed`` also makes results repeatable).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from vaekit.distributions.sampling import sample_posterior  # noqa: F401  (re-export)

if TYPE_CHECKING:
    from vaekit.models.base import BaseVAE

# Elements of one decoder output (chunk x batch x data size) that the automatic chunk size aims
# for: 8M float32 values = 32 MB per tensor, a handful of which are alive at once.
_CHUNK_BUDGET = 2**23

DataLike = Any  # a tensor/array (N, *data_shape), a Dataset, or an iterable of batches


# --------------------------------------------------------------------------------- plumbing
def model_device(model: torch.nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (CPU for a model with neither)."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def make_generator(
    seed: int | None = None, generator: torch.Generator | None = None
) -> torch.Generator | None:
    """``generator`` if given, else a fresh CPU generator seeded with ``seed``, else None."""
    if generator is not None:
        return generator
    if seed is not None:
        return torch.Generator().manual_seed(int(seed))
    return None


@contextlib.contextmanager
def evaluating(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode and no autograd for the duration; the previous train/eval mode is restored."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _to_batch(batch: Any) -> torch.Tensor:
    """The image tensor of one loader batch: a tensor, the first item of (x, y, ...), or
    ``batch['x' | 'image' | 'images']``."""
    if isinstance(batch, dict):
        for key in ("x", "image", "images"):
            if key in batch:
                return _to_batch(batch[key])
        raise TypeError(f"cannot find the images in a batch dict with keys {sorted(batch)}")
    if isinstance(batch, (tuple, list)):
        if not batch:
            raise TypeError("empty batch")
        return _to_batch(batch[0])
    if isinstance(batch, np.ndarray):
        batch = torch.from_numpy(batch)
    if not isinstance(batch, torch.Tensor):
        raise TypeError(f"expected a tensor batch, got {type(batch).__name__}")
    if not batch.is_floating_point():
        # Binary integer/bool data; uint8 0..255 images must be scaled by the caller.
        batch = batch.to(torch.get_default_dtype())
    return batch


def _collate(items: Any) -> Any:
    # A dataset whose ``__getitems__`` returns the whole batch as one tensor (vaekit's array
    # datasets do) must not go through default_collate, which would try to stack it again.
    if isinstance(items, torch.Tensor):
        return items
    return torch.utils.data.default_collate(items)


def iter_batches(
    data: DataLike,
    batch_size: int = 256,
    max_examples: int | None = None,
    device: torch.device | str | None = None,
    data_shape: tuple[int, ...] | None = None,
) -> Iterator[torch.Tensor]:
    """Yield float batches ``(B, *data_shape)`` from a tensor/array, a Dataset or a DataLoader.

    A tensor/array is split into ``batch_size`` slices (a single example without the batch axis
    is accepted when ``data_shape`` is given); a Dataset is wrapped in an ordered DataLoader; any
    other iterable is taken to yield batches as they are. At most ``max_examples`` examples are
    produced, in order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_examples is not None and max_examples < 1:
        raise ValueError(f"max_examples must be >= 1, got {max_examples}")
    if isinstance(data, np.ndarray):
        data = torch.from_numpy(data)
    if isinstance(data, torch.Tensor):
        if data_shape is not None and data.dim() == len(data_shape):
            data = data.unsqueeze(0)
        batches: Iterable[Any] = data.split(batch_size)
    elif isinstance(data, torch.utils.data.Dataset) and hasattr(data, "__len__"):
        batches = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False,
                                              collate_fn=_collate)
    else:
        batches = data
    remaining = math.inf if max_examples is None else max_examples
    for batch in batches:
        x = _to_batch(batch)
        if len(x) > remaining:
            x = x[: int(remaining)]
        remaining -= len(x)
        if len(x):
            yield x if device is None else x.to(device)
        if remaining <= 0:  # stop before the loader reads (and decodes) another batch
            return


def as_batch(model: BaseVAE, x: torch.Tensor | np.ndarray) -> torch.Tensor:
    """``x`` as a float batch on the model's device, checked against the model's data shape; a
    single example without the batch axis becomes a batch of one."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if x.dim() == len(model.data_shape):
        x = x.unsqueeze(0)
    x = _to_batch(x).to(model_device(model))
    model.check_input(x)
    return x


def auto_chunk_size(num_samples: int, batch_size: int, data_shape: tuple[int, ...]) -> int:
    """The largest chunk of importance samples whose decoder output fits the memory budget."""
    per_sample = max(1, batch_size * math.prod(data_shape))
    return int(max(1, min(num_samples, _CHUNK_BUDGET // per_sample)))


# ------------------------------------------------------------------------------- ELBO
def evaluate_elbo(
    model: BaseVAE,
    data: DataLike,
    *,
    num_samples: int = 1,
    batch_size: int = 256,
    max_examples: int | None = None,
    seed: int | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """Per-example means of the ELBO and its two terms, in nats.

    ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)) (Kingma & Welling 2014, eq. 3): the expectation
    is a Monte-Carlo average over ``num_samples`` posterior draws, the KL is analytic when torch
    knows it (so ``kl`` has no sampling noise) and a Monte-Carlo estimate otherwise. Returns
    ``{"elbo", "recon", "kl", "num_examples"}`` with ``elbo == -(recon + kl)``.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    gen = make_generator(seed, generator)
    total_recon = total_kl = 0.0
    count = 0
    with evaluating(model):
        device = model_device(model)
        for x in iter_batches(data, batch_size, max_examples, device, model.data_shape):
            model.check_input(x)
            recon, kl_example = model.elbo_terms(x, num_samples, gen)
            # Accumulate in float64: sums over a whole test set lose digits in float32.
            total_recon += float(recon.double().sum())
            total_kl += float(kl_example.double().sum())
            count += len(x)
    if count == 0:
        raise ValueError("no data to evaluate")
    recon_mean, kl_mean = total_recon / count, total_kl / count
    return {
        "elbo": -(recon_mean + kl_mean),
        "recon": recon_mean,
        "kl": kl_mean,
        "num_examples": count,
    }


# --------------------------------------------------------------------------- IWAE bound
def iwae_bound(
    model: BaseVAE,
    x: torch.Tensor,
    num_samples: int,
    chunk_size: int | None = None,
    *,
    seed: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The K-sample importance-weighted bound L_K per example ``(B,)``, in nats.

    Burda et al. (2016), eq. 8: ``logsumexp_k log w_k - log K`` with
    ``log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x)`` (the model's
    ``log_importance_weights``; a hierarchical model sums over its latent groups). The K
    samples are drawn ``chunk_size`` at a time and combined by a running ``logsumexp``, which
    is exact (not an approximation) and bounds memory by one chunk. K = 1 gives an unbiased
    single-sample ELBO estimate. Runs without gradients, in eval mode.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    gen = make_generator(seed, generator)
    with evaluating(model):
        x = as_batch(model, x)
        if chunk_size is None:
            chunk_size = auto_chunk_size(num_samples, len(x), model.data_shape)
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        log_sum = torch.full((len(x),), -math.inf, dtype=x.dtype, device=x.device)
        done = 0
        while done < num_samples:
            k = min(chunk_size, num_samples - done)
            log_w = model.log_importance_weights(x, k, gen)  # (k, B)
            log_sum = torch.logaddexp(log_sum, torch.logsumexp(log_w, dim=0))
            done += k
    return log_sum - math.log(num_samples)


def estimate_nll(
    model: BaseVAE,
    data: DataLike,
    num_samples: int = 5000,
    *,
    chunk_size: int | None = None,
    batch_size: int = 100,
    max_examples: int | None = None,
    seed: int | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """Negative log-likelihood estimate ``-L_K`` averaged over the data (Burda et al. 2016).

    Returns ``nll`` (nats per example), ``bits_per_dim = nll / (num_dims * ln 2)`` with
    ``num_dims`` the number of values in one example, ``nll_stderr`` (the standard error of the
    mean over examples), ``num_examples`` and ``num_samples``. Because L_K is a lower bound on
    log p(x), ``nll`` is an upper bound in expectation that tightens as K grows.
    """
    gen = make_generator(seed, generator)
    total = total_sq = 0.0
    count = 0
    device = model_device(model)
    for x in iter_batches(data, batch_size, max_examples, device, model.data_shape):
        nll = -iwae_bound(model, x, num_samples, chunk_size, generator=gen).double()
        total += float(nll.sum())
        total_sq += float((nll**2).sum())
        count += len(x)
    if count == 0:
        raise ValueError("no data to evaluate")
    mean = total / count
    var = max(total_sq / count - mean**2, 0.0) * count / max(count - 1, 1)
    num_dims = math.prod(model.data_shape)
    return {
        "nll": mean,
        "nll_stderr": math.sqrt(var / count),
        "bits_per_dim": mean / (num_dims * math.log(2)),
        "num_examples": count,
        "num_samples": int(num_samples),
    }
