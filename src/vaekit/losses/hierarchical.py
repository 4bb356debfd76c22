"""The ELBO of a VAE with several latent groups, with NVAE's KL balancing.

Pure functions: per-example reconstruction and per-group KL terms in, a flat dict of
per-example-averaged scalars (nats) out; ``loss`` is what is minimised.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def kl_balance_coefficients(kl_groups: torch.Tensor, group_sizes: Sequence[int]) -> torch.Tensor:
    """Per-group KL weights ``(G,)`` with mean 1 (Vahdat & Kautz 2020, NVAE, appendix A).

    During KL warm-up each group's KL is weighted in proportion to its batch-mean KL per latent
    dimension (plus 0.01), so groups that already carry much information are penalised more and
    the cheap way out, switching a whole group off, is discouraged. Detached: the coefficients
    are weights, not part of the gradient. ``kl_groups`` is ``(B, G)``.
    """
    sizes = torch.as_tensor(list(group_sizes), dtype=kl_groups.dtype, device=kl_groups.device)
    per_dim = (kl_groups.detach().abs().mean(0) + 0.01) / sizes
    return per_dim / per_dim.mean()


def hierarchical_elbo_loss(
    recon: torch.Tensor,
    kl_groups: torch.Tensor,
    group_sizes: Sequence[int],
    *,
    kl_weight: float = 1.0,
    free_bits: float = 0.0,
    balance: bool = True,
) -> dict[str, torch.Tensor]:
    """Negative ELBO ``recon + sum_g KL_g`` with warm-up, KL balancing and free bits.

    ``recon``: ``-log p(x|z)`` per example ``(B,)``; ``kl_groups``: the KL of each group given
    the groups above it, ``(B, G)``, top group first. The optimised KL is
    ``kl_weight * sum_g c_g max(KL_g, free_bits * size_g)`` where ``c_g`` are the balancing
    coefficients while ``kl_weight < 1`` (warm-up) and 1 afterwards, so the final objective is
    the plain ELBO. Reported ``elbo``/``kl`` are always unweighted; ``kl_g{i}`` is group i's KL.
    """
    kl_example = kl_groups.sum(1)
    kl_means = kl_groups.mean(0)  # (G,)
    if free_bits > 0:
        floors = free_bits * torch.as_tensor(list(group_sizes), dtype=kl_means.dtype,
                                             device=kl_means.device)
        kl_objective = torch.maximum(kl_means, floors)
    else:
        kl_objective = kl_means
    if balance and kl_weight < 1.0:
        kl_objective = kl_objective * kl_balance_coefficients(kl_groups, group_sizes)
    loss = recon.mean() + kl_weight * kl_objective.sum()
    terms = {"loss": loss, "elbo": -(recon + kl_example).mean(), "recon": recon.mean(),
             "kl": kl_example.mean()}
    terms.update({f"kl_g{i}": kl_means[i].detach() for i in range(len(kl_means))})
    return terms
