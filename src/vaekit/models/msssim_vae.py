"""VAE with an MS-SSIM reconstruction loss (pythae's MSSSIM_VAE).

Snell, Ridgeway, Liao, Roads, Mozer & Zemel (2017), "Learning to Generate Images with Perceptual
Similarity Metrics", ICIP: replace the pixel-wise reconstruction term of the VAE by a perceptual
one, here multi-scale SSIM (Wang, Simoncelli & Bovik 2003; :mod:`vaekit.losses.ms_ssim`)::

    loss = recon_scale * (1 - MS-SSIM(x, x_hat)) + kl_weight * beta * KL(q(z|x) || p(z))

with ``x_hat`` the mean of p(x|z) for one reparameterised z ~ q(z|x) (for the Bernoulli
likelihood: the pixel probabilities). The likelihood is then a decoder output head only: its
log-density is not trained, but ``elbo`` (under it) is still reported, for comparison, and the
likelihood evaluation (``log_importance_weights``, ``elbo_terms``) uses it unchanged, so such
numbers say little about this model. Learned likelihood parameters (e.g. ``gaussian_learned``'s
scale) receive no gradient.

Defaults:

- ``recon_scale = None``: the number of data elements C * H * W, so the reconstruction term has
  the size of a per-pixel loss summed over the image, like the NLL it replaces, and ``beta = 1``
  balances it against the KL in nats as in a VAE. Only the ratio beta / recon_scale matters to
  the optimum: pythae writes ``(1 - MS-SSIM) + beta * KL`` with beta 1e-2 (MNIST) or 1e-3
  (CelebA) in its example configs, the same order as 1 / (C H W) here (1.3e-3 for 28 x 28 x 1,
  8e-5 for 64 x 64 x 3).
- ``window_size = 11`` (Gaussian, sigma 1.5) and ``scales = None`` (as many of the five standard
  scales as the images hold, weights renormalised): Wang et al.'s settings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from vaekit.config import check
from vaekit.losses.elbo import kl_terms
from vaekit.losses.ms_ssim import MS_SSIM_WEIGHTS, ms_ssim
from vaekit.models.base import BaseVAE, LossContext, VAEConfig
from vaekit.registry import MODELS


@dataclass
class MSSSIMVAEConfig(VAEConfig):
    config_type: ClassVar[str] = "msssim_vae"

    beta: float = 1.0  # weight of the KL
    recon_scale: float | None = None  # None: C * H * W
    window_size: int = 11
    scales: int | None = None  # None: as many as the image size allows

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.beta >= 0, f"model.beta must be >= 0, got {self.beta}")
        check(self.recon_scale is None or self.recon_scale > 0,
              f"model.recon_scale must be positive (or null for C*H*W), got {self.recon_scale}")
        check(self.window_size >= 1, f"model.window_size must be >= 1, got {self.window_size}")
        check(self.scales is None or 1 <= self.scales <= len(MS_SSIM_WEIGHTS),
              f"model.scales must be null or 1..{len(MS_SSIM_WEIGHTS)}, got {self.scales}")
        if self.data_shape is not None:
            check(len(self.data_shape) == 3,
                  f"msssim_vae needs image data (C, H, W), got data_shape {self.data_shape}")


@MODELS.register("msssim_vae")
class MSSSIMVAE(BaseVAE):
    """Minimises ``recon_scale * (1 - MS-SSIM) + kl_weight * beta * KL`` (single sample)."""

    config_class: ClassVar[type] = MSSSIMVAEConfig

    @property
    def recon_scale(self) -> float:
        scale = self.config.recon_scale
        return float(math.prod(self.data_shape)) if scale is None else float(scale)

    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        ctx = ctx or LossContext()
        c = self.config
        qz_x = self.encode(x)
        z = qz_x.rsample()
        px_z = self.decode(z)
        similarity = ms_ssim(px_z.mean, x, scales=c.scales, window_size=c.window_size)
        recon = self.recon_scale * (1.0 - similarity)  # (B,)
        kl_example, kl_objective = kl_terms(qz_x, self.prior(), z, ctx.free_bits)
        nll = -px_z.log_prob(x)
        return {
            "loss": recon.mean() + ctx.kl_weight * c.beta * kl_objective,
            "recon": recon.mean(),
            "ms_ssim": similarity.mean(),
            "kl": kl_example.mean(),
            "elbo": -(nll + kl_example).mean().detach(),
        }
