"""The beta-TCVAE decomposition of the KL term into index-code MI, total correlation and
dimension-wise KL.

Chen, Li, Grosse & Duvenaud (2018), "Isolating Sources of Disentanglement in Variational
Autoencoders", NeurIPS (their decomposition of the ELBO's KL term)::

    E_p(n)[KL(q(z|n) || p(z))] = I_q(z; n)                       index-code MI
                               + KL(q(z) || prod_j q(z_j))        total correlation (TC)
                               + sum_j KL(q(z_j) || p(z_j))       dimension-wise KL

with the aggregate posterior q(z) = (1/N) sum_n q(z|n) over the N training examples. Evaluated
at a sample z_i ~ q(z|x_i) each term is a difference of log densities::

    MI     ~ log q(z_i|x_i) - log q(z_i)
    TC     ~ log q(z_i) - sum_j log q(z_ij)
    dimKL  ~ sum_j log q(z_ij) - log p(z_i)

so the three telescope to the single-sample KL estimate ``log q(z_i|x_i) - log p(z_i)`` whatever
the estimates of log q(z) and log q(z_j) are. Those need the whole dataset; two minibatch
estimators are given (the paper's main text and its appendix), for a batch of B examples whose
posteriors are diagonal Gaussians ``N(mu_j, std_j^2)``:

- ``"mws"``, minibatch-weighted sampling (the paper's main estimator, and the default of the
  reference code rtqichen/beta-tcvae, vae_quant.py)::

      log q(z_i) ~ logsumexp_j log q(z_i|x_j) - log(N B)

  Every component gets the weight 1/(N B), so the weights of a row sum to 1/N, not 1: the
  estimate is biased low. With B = N it is exactly ``log q(z_i) - log N`` (and each log q(z_ij)
  is low by log N too, so the reported TC is high by ``(D - 1) log N``). It is still what the
  paper's experiments and the reference's default used.

- ``"mss"``, minibatch-stratified sampling (the paper's appendix; the reference's ``--mss``):
  z_i was drawn from its own component x_i, which gets the weight 1/N; the other M = B - 1
  examples of the batch stand for the other N - 1 examples, M - 1 of them with the weight 1/M
  and one with (N - M) / (N M)::

      log q(z_i) ~ logsumexp_j (log w_ij + log q(z_i|x_j))

  The weights of a row sum to one and the estimate of q(z_i) (before the log) is unbiased over
  random minibatches drawn without replacement. Which "other" example takes the odd weight is
  the next one in the batch, cyclically (row i: column (i + 1) mod B). The reference code meant
  this but its strided assignment puts the 1/N and (N - M)/(N M) weights in columns 0 and 1
  of every row instead of on the diagonal (rtqichen/beta-tcvae pull request #1;
  YannDubs/disentangling-vae issue #58); this module follows the paper's estimator. With one
  example per batch there are no other strata and MSS falls back to MWS's weight 1/N.

All functions are pure: tensors in, per-example tensors or a flat dict of per-example-averaged
scalars (nats) out.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from vaekit.errors import ConfigError

Estimator = Literal["mws", "mss"]
ESTIMATORS: tuple[str, ...] = ("mws", "mss")

_LOG_2PI = math.log(2.0 * math.pi)


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Element-wise ``log N(z; mu, std^2)`` (broadcasting)."""
    return -0.5 * ((z - mu) / std).pow(2) - std.log() - 0.5 * _LOG_2PI


def gaussian_log_density_matrix(
    z: torch.Tensor, mu: torch.Tensor, std: torch.Tensor
) -> torch.Tensor:
    """``[i, j, d] = log N(z[i, d]; mu[j, d], std[j, d]^2)`` for ``z (B, D)`` and posterior
    parameters ``mu, std (M, D)``: every sample under every component, per dimension."""
    return gaussian_log_density(z.unsqueeze(1), mu.unsqueeze(0), std.unsqueeze(0))


def minibatch_log_weights(
    batch_size: int,
    dataset_size: int,
    estimator: Estimator = "mss",
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The ``(B, B)`` log weights ``log w_ij`` of component j in the estimate of q(z_i)
    (see the module docstring)."""
    check_batch(batch_size, dataset_size, estimator)
    n, b = dataset_size, batch_size
    if estimator == "mws" or b == 1:
        return torch.full((b, b), -math.log(n * b), dtype=dtype, device=device)
    m = b - 1
    weights = torch.full((b, b), 1.0 / m, dtype=torch.float64)
    rows = torch.arange(b)
    weights[rows, rows] = 1.0 / n  # z_i's own component: always in the batch
    weights[rows, (rows + 1) % b] = (n - m) / (n * m)  # one stratum stands for the rest
    return weights.log().to(dtype=dtype, device=device)


def check_batch(batch_size: int, dataset_size: int | None, estimator: str) -> None:
    """Raise :class:`ConfigError` for an unknown estimator or a dataset smaller than a batch."""
    if estimator not in ESTIMATORS:
        raise ConfigError(f"unknown TC estimator '{estimator}'; choose one of {ESTIMATORS}")
    if dataset_size is None or dataset_size < 1:
        raise ConfigError(f"dataset_size must be a positive int, got {dataset_size!r}")
    if batch_size > dataset_size:
        # A minibatch drawn without replacement cannot exceed the dataset; the MSS weight
        # (N - M)/(N M) would turn negative.
        raise ConfigError(
            f"dataset_size={dataset_size} is smaller than the batch of {batch_size}; set "
            "model.dataset_size to the number of training examples"
        )


def estimate_log_qz(
    z: torch.Tensor,
    mu: torch.Tensor,
    std: torch.Tensor,
    dataset_size: int,
    estimator: Estimator = "mss",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Minibatch estimates of the aggregate posterior at the batch's own samples.

    ``z`` ``(B, D)`` holds z_i ~ q(z|x_i) for the batch whose posteriors are ``N(mu, std^2)``
    ``(B, D)``. Returns ``log q(z_i)`` ``(B,)`` and the per-dimension marginals
    ``log q(z_ij)`` ``(B, D)`` (their sum over j is ``log prod_j q(z_ij)``).
    """
    if z.shape != mu.shape or mu.shape != std.shape or z.dim() != 2:
        raise ValueError(f"z, mu and std must all be (B, D); got {tuple(z.shape)}, "
                         f"{tuple(mu.shape)}, {tuple(std.shape)}")
    log_q = gaussian_log_density_matrix(z, mu, std)  # (B, B, D)
    log_w = minibatch_log_weights(z.shape[0], dataset_size, estimator, dtype=log_q.dtype,
                                   device=log_q.device)
    log_qz = torch.logsumexp(log_w + log_q.sum(-1), dim=1)
    log_qz_dims = torch.logsumexp(log_w.unsqueeze(-1) + log_q, dim=1)
    return log_qz, log_qz_dims


def exact_log_qz(
    z: torch.Tensor, mu: torch.Tensor, std: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The exact ``log q(z)`` ``(B,)`` and ``log q(z_j)`` ``(B, D)`` at samples ``z (B, D)``
    when ``mu, std (N, D)`` are the posteriors of the *whole* dataset (for evaluation on small
    sets and for checking the minibatch estimators)."""
    log_q = gaussian_log_density_matrix(z, mu, std)  # (B, N, D)
    log_n = math.log(mu.shape[0])
    return torch.logsumexp(log_q.sum(-1), dim=1) - log_n, torch.logsumexp(log_q, dim=1) - log_n


def decomposition_terms(
    log_qz_x: torch.Tensor,
    log_qz: torch.Tensor,
    log_qz_dims: torch.Tensor,
    log_pz: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """Batch means of MI, TC and dimension-wise KL from per-example log densities ``(B,)``
    (``log_qz_dims`` ``(B, D)``); ``kl`` is their sum, the single-sample KL estimate."""
    log_prod = log_qz_dims.sum(-1)
    mi = (log_qz_x - log_qz).mean()
    tc = (log_qz - log_prod).mean()
    dim_kl = (log_prod - log_pz).mean()
    return {"mi": mi, "tc": tc, "dim_kl": dim_kl, "kl": (log_qz_x - log_pz).mean()}


def tc_decomposition(
    z: torch.Tensor,
    mu: torch.Tensor,
    std: torch.Tensor,
    log_pz: torch.Tensor,
    dataset_size: int,
    estimator: Estimator = "mss",
) -> dict[str, torch.Tensor]:
    """Index-code MI, total correlation and dimension-wise KL of a batch (nats, per-example
    averages), estimated with ``estimator`` (module docstring) from samples ``z (B, D)`` of the
    batch's Gaussian posteriors ``N(mu, std^2)`` and the prior's ``log p(z)`` ``(B,)``.

    ``mi + tc + dim_kl == kl``, the single-sample Monte-Carlo estimate of
    ``E[KL(q(z|x) || p(z))]``, for every batch (the estimates of log q(z) cancel). Gradients flow
    through ``z``, ``mu`` and ``std``, as in the reference implementation.
    """
    log_qz_x = gaussian_log_density(z, mu, std).sum(-1)  # log q(z_i | x_i)
    log_qz, log_qz_dims = estimate_log_qz(z, mu, std, dataset_size, estimator)
    return decomposition_terms(log_qz_x, log_qz, log_qz_dims, log_pz)
