"""Statistics of the latent code: KL per dimension, active units, reconstructions, encodings.

These need no sampling: they use the posterior parameters and the analytic KL, so they are
deterministic for a given model and data set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch

from vaekit.distributions.kl import kl_per_dim
from vaekit.evaluation.likelihood import DataLike, evaluating, iter_batches, model_device

if TYPE_CHECKING:
    from vaekit.models.base import BaseVAE


class ActiveUnits(NamedTuple):
    """Result of :func:`active_units`; unpacks as ``count, activity = active_units(...)``."""

    count: int
    activity: np.ndarray  # (D,) Cov_x(E_q[z_d])
    threshold: float

    @property
    def active(self) -> np.ndarray:
        """Boolean mask ``(D,)`` of the active dimensions."""
        return self.activity > self.threshold


def _batches(model: BaseVAE, data: DataLike, batch_size: int, max_examples: int | None):
    for x in iter_batches(data, batch_size, max_examples, model_device(model), model.data_shape):
        model.check_input(x)
        yield x


def encode_dataset(
    model: BaseVAE,
    data: DataLike,
    *,
    batch_size: int = 256,
    max_examples: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and standard deviations ``(N, D)`` (float32 numpy) for every example.

    The representation that disentanglement metrics score is the posterior mean.
    """
    means, stds = [], []
    with evaluating(model):
        for x in _batches(model, data, batch_size, max_examples):
            qz_x = model.encode(x)
            means.append(qz_x.mean.float().cpu())
            stds.append(qz_x.stddev.float().cpu())
    if not means:
        raise ValueError("no data to encode")
    return torch.cat(means).numpy(), torch.cat(stds).numpy()


def kl_per_dimension(
    model: BaseVAE,
    data: DataLike,
    *,
    batch_size: int = 256,
    max_examples: int | None = None,
) -> np.ndarray:
    """Mean over the data of the analytic KL(q(z_d|x) || p(z_d)) for each latent dim ``(D,)``.

    The entries sum to the mean total KL of the ELBO (for a factorised posterior and prior), so
    they show how the information in the code is spread over the dimensions; dimensions near 0
    nats are unused (posterior collapse). Raises ``ValueError`` for non-factorised q or p.
    """
    total: torch.Tensor | None = None
    count = 0
    with evaluating(model):
        pz = model.prior()
        for x in _batches(model, data, batch_size, max_examples):
            per_dim = kl_per_dim(model.encode(x), pz)
            if per_dim is None:
                raise ValueError(
                    "kl_per_dimension needs a factorised posterior and prior with an analytic KL "
                    f"({type(model).__name__} does not have one)"
                )
            batch_sum = per_dim.double().sum(0).cpu()
            total = batch_sum if total is None else total + batch_sum
            count += len(x)
    if total is None:
        raise ValueError("no data to evaluate")
    return (total / count).numpy()


def active_units(
    model: BaseVAE,
    data: DataLike,
    threshold: float = 0.01,
    *,
    batch_size: int = 256,
    max_examples: int | None = None,
) -> ActiveUnits:
    """Count the active latent units of Burda, Grosse & Salakhutdinov (2016), sec. 5.2.

    Unit d is active when its activity ``A_d = Cov_x(E_{q(z|x)}[z_d]) > threshold`` (0.01 in the
    paper): a unit whose posterior mean does not vary with the input carries no information about
    it, whatever its posterior variance. The covariance over the data uses the unbiased (N - 1)
    normalisation, computed in float64 in two passes for accuracy.
    """
    means, _ = encode_dataset(model, data, batch_size=batch_size, max_examples=max_examples)
    if len(means) < 2:
        raise ValueError("active_units needs at least 2 examples to measure a variance")
    activity = np.var(means.astype(np.float64), axis=0, ddof=1)
    return ActiveUnits(int((activity > threshold).sum()), activity, float(threshold))


def reconstruction_error(
    model: BaseVAE,
    data: DataLike,
    *,
    batch_size: int = 256,
    max_examples: int | None = None,
) -> dict[str, float]:
    """Reconstruction quality at the posterior mean z = E[q(z|x)] (no sampling).

    ``mse``: mean squared error per value (pixel and channel) between ``x`` and the mean of
    p(x|z) as an image (``model.reconstruct``); ``recon_nll``: per-example ``-log p(x|z)`` in
    nats; ``num_examples``.
    """
    total_sq = total_nll = 0.0
    count = values = 0
    with evaluating(model):
        for x in _batches(model, data, batch_size, max_examples):
            px_z = model.decode(model.encode(x).mean)
            image = model.likelihood.mean_image(px_z)
            total_sq += float((image.double() - x.double()).pow(2).sum())
            total_nll += float(-px_z.log_prob(x).double().sum())
            count += len(x)
            values += x.numel()
    if count == 0:
        raise ValueError("no data to evaluate")
    return {"mse": total_sq / values, "recon_nll": total_nll / count, "num_examples": count}

