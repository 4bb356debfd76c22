"""DIP-VAE (Disentangled Inferred Prior).

Kumar, Sattigeri & Balakrishnan (2018), "Variational Inference of Disentangled Latent Concepts
from Unlabeled Observations", ICLR. The ELBO plus a moment-matching penalty that pushes the
covariance of the inferred prior q(z) = E_p(x)[q(z|x)] towards the identity::

    loss = recon + kl_weight * KL
           + lambda_od * sum_{i != j} Cov[i, j]^2 + lambda_d * sum_i (Cov[i, i] - 1)^2

- DIP-VAE-I (eq. 6): Cov = Cov_p(x)[mu(x)], the covariance of the posterior means;
- DIP-VAE-II (eq. 7): Cov = Cov_q(z)[z] = E_p(x)[diag sigma^2(x)] + Cov_p(x)[mu(x)].

Both are estimated on the minibatch (biased, divided by B, as disentanglement_lib does).

One registered model, ``dip_vae``, with ``variant: "i" | "ii"`` in its config rather than two
registered names: the variants share everything but the covariance, and one config keeps
sweeps over the variant to one key. Defaults follow disentanglement_lib (``dip_vae`` in
methods/unsupervised/vae.py and the unsupervised_study_v1 sweep of Locatello et al. 2019, which
implements the paper's eqs. 6-7): ``lambda_od = 10`` (the middle of its sweep
{1, 2, 5, 10, 20, 50}) and ``lambda_d = lambda_d_factor * lambda_od`` with the factor fixed at
10 for DIP-VAE-I and 1 for DIP-VAE-II. ``lambda_d_factor: null`` picks the factor from the
variant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch

from vaekit.config import check
from vaekit.losses.elbo import kl_terms
from vaekit.models.base import BaseVAE, LossContext, VAEConfig
from vaekit.registry import MODELS

VARIANTS: tuple[str, ...] = ("i", "ii")
_DEFAULT_LAMBDA_D_FACTOR = {"i": 10.0, "ii": 1.0}


def batch_covariance(x: torch.Tensor) -> torch.Tensor:
    """``E[x x^T] - E[x] E[x]^T`` over the batch of ``x (B, D)`` (biased: divided by B)."""
    centred = x - x.mean(0, keepdim=True)
    return centred.T @ centred / x.shape[0]


def dip_covariance(mu: torch.Tensor, std: torch.Tensor, variant: str = "i") -> torch.Tensor:
    """The ``(D, D)`` covariance DIP-VAE regularises: of the means (I) or of z under q (II)."""
    if variant not in VARIANTS:
        raise ValueError(f"DIP-VAE variant must be one of {VARIANTS}, got {variant!r}")
    cov = batch_covariance(mu)
    if variant == "ii":  # law of total covariance: E[Cov[z|x]] + Cov[E[z|x]]
        cov = cov + torch.diag(std.pow(2).mean(0))
    return cov


def dip_penalty(cov: torch.Tensor, lambda_od: float, lambda_d: float) -> torch.Tensor:
    """``lambda_od * sum offdiag^2 + lambda_d * sum (diag - 1)^2``: zero iff ``cov`` is I."""
    diag = torch.diagonal(cov)
    off_diag = cov - torch.diag(diag)
    return lambda_od * off_diag.pow(2).sum() + lambda_d * (diag - 1).pow(2).sum()


@dataclass
class DIPVAEConfig(VAEConfig):
    config_type: ClassVar[str] = "dip_vae"

    variant: Literal["i", "ii"] = "i"
    lambda_od: float = 10.0
    lambda_d_factor: float | None = None  # None: 10 for variant i, 1 for ii

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.variant in VARIANTS,
              f"model.variant must be one of {list(VARIANTS)}, got {self.variant!r}")
        check(self.lambda_od >= 0, f"model.lambda_od must be >= 0, got {self.lambda_od}")
        check(self.lambda_d_factor is None or self.lambda_d_factor >= 0,
              f"model.lambda_d_factor must be >= 0, got {self.lambda_d_factor}")

    @property
    def lambda_d(self) -> float:
        factor = self.lambda_d_factor
        if factor is None:
            factor = _DEFAULT_LAMBDA_D_FACTOR[self.variant]
        return factor * self.lambda_od


@MODELS.register("dip_vae")
class DIPVAE(BaseVAE):
    """Minimises ``recon + kl_weight * KL + dip_penalty(Cov)``."""

    config_class: ClassVar[type] = DIPVAEConfig

    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        ctx = ctx or LossContext()
        c = self.config
        qz_x = self.encode(x)
        z = qz_x.rsample()
        recon = -self.decode(z).log_prob(x)
        kl_example, kl_objective = kl_terms(qz_x, self.prior(), z, ctx.free_bits)
        cov = dip_covariance(qz_x.mean, qz_x.stddev, c.variant)
        penalty = dip_penalty(cov, c.lambda_od, c.lambda_d)
        return {
            "loss": recon.mean() + ctx.kl_weight * kl_objective + penalty,
            "elbo": -(recon + kl_example).mean(),
            "recon": recon.mean(),
            "kl": kl_example.mean(),
            "dip": penalty,
        }
