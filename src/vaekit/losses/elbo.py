"""The evidence lower bound and its weighted variants (VAE, beta-VAE, capacity annealing).

Pure functions: distributions and samples in, a flat dict of per-example-averaged scalars in nats
out. ``loss`` is what the optimiser minimises; the other terms are for logging.
"""

from __future__ import annotations

import torch
from torch.distributions import Distribution

from vaekit.distributions.kl import kl, kl_per_dim


def kl_terms(
    qz_x: Distribution, pz: Distribution, z: torch.Tensor, free_bits: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """(KL per example ``(B,)``, the KL term to optimise as a scalar).

    With ``free_bits`` > 0 (Kingma et al. 2016, "Improved variational inference with inverse
    autoregressive flow", eq. 15) each latent dimension's batch-mean KL is floored at
    ``free_bits`` nats in the objective, so the optimiser gains nothing by pushing a dimension's
    KL below it; the reported KL is unchanged.
    """
    kl_example = kl(qz_x, pz, z)
    if free_bits <= 0:
        return kl_example, kl_example.mean()
    per_dim = kl_per_dim(qz_x, pz)
    if per_dim is None:  # not factorised: floor the total instead
        return kl_example, kl_example.mean().clamp_min(free_bits)
    return kl_example, per_dim.mean(0).clamp_min(free_bits).sum()


def elbo_loss(
    x: torch.Tensor,
    qz_x: Distribution,
    pz: Distribution,
    px_z: Distribution,
    z: torch.Tensor,
    *,
    beta: float = 1.0,
    kl_weight: float = 1.0,
    free_bits: float = 0.0,
) -> dict[str, torch.Tensor]:
    """Negative (beta-weighted) ELBO: ``recon + kl_weight * beta * KL``.

    ``beta=1, kl_weight=1`` is the VAE of Kingma & Welling (2014); ``beta>1`` the beta-VAE of
    Higgins et al. (2017); ``kl_weight`` carries warm-up/annealing schedules from the trainer.
    """
    recon = -px_z.log_prob(x)  # (B,)
    kl_example, kl_objective = kl_terms(qz_x, pz, z, free_bits)
    elbo = -(recon + kl_example)
    loss = recon.mean() + (kl_weight * beta) * kl_objective
    return {"loss": loss, "elbo": elbo.mean(), "recon": recon.mean(), "kl": kl_example.mean()}


def capacity_loss(
    x: torch.Tensor,
    qz_x: Distribution,
    pz: Distribution,
    px_z: Distribution,
    z: torch.Tensor,
    *,
    capacity: float,
    gamma: float,
) -> dict[str, torch.Tensor]:
    """Burgess et al. (2018), "Understanding disentangling in beta-VAE", eq. 8:
    ``recon + gamma * |KL - C|`` with the capacity C (nats) raised during training."""
    recon = -px_z.log_prob(x)
    kl_example = kl(qz_x, pz, z)
    kl_mean = kl_example.mean()
    loss = recon.mean() + gamma * (kl_mean - capacity).abs()
    return {
        "loss": loss,
        "elbo": -(recon + kl_example).mean(),
        "recon": recon.mean(),
        "kl": kl_mean,
        "capacity": torch.as_tensor(capacity, dtype=kl_mean.dtype),
    }
