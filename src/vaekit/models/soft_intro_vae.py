"""Soft-IntroVAE: the encoder doubles as a discriminator through a soft exponential ELBO term.

Daniel & Tamar (2021), "Soft-IntroVAE: Analyzing and Improving the Introspective Variational
Autoencoder", CVPR (its training algorithm). The encoder E maximises the ELBO of real data and
*minimises* a soft (exponential) function of the ELBO of generated images; the decoder D
maximises the ELBO of real data and the ELBO its own images get from the encoder::

    encoder: -ELBO(x) + 1/alpha * exp(alpha * s * ELBO_neg(D(z)))   (fakes detached)
    decoder: -ELBO(x) - gamma * ELBO(D(z))                          (encoder frozen)

with ``ELBO(x) = -(beta_rec * rec + beta_kl * KL)``, ``ELBO_neg`` the same with ``beta_neg`` in
place of ``beta_kl``, and ``s = 1 / (C * H * W)`` (``scale``), which keeps the exponent of
order one. Two optimiser groups, ``encoder`` then ``decoder``, stepped in this order every batch.

Following the authors' reference implementation (soft_intro_vae/train_soft_intro_vae.py):

- The generated images are the decoder's reconstructions of the batch and its samples from the
  prior, one batch of each; the exponential terms of both are averaged (hence the factor 0.5).
- In the decoder's loss, the fakes' KL counts with ``beta_kl`` (averaged over reconstructions
  and samples), and their reconstruction error with the tiny weight ``gamma_r = 1e-8``, decoded
  from detached codes; the batch is reconstructed from a fresh draw of the (detached) q(z|x) of
  the encoder pass, and the prior draws are the encoder pass's, so both groups see the same
  noise.
- Defaults ``beta_rec = beta_kl = 1`` and ``alpha = 2`` as in the reference code;
  ``beta_neg = 256`` is the value of its image examples as we read them (the paper tunes
  ``beta_neg`` per data set: it trades sample quality against reconstructions).

Units: every term is reported in nats per example; the ``loss`` entries are the reference's
losses divided by ``s`` (a constant factor, which Adam's updates do not depend on). The
reconstruction error is the model's likelihood ``-log p(x|z)`` (the reference uses a summed
squared error on images; with ``likelihood: gaussian`` the two differ by a constant and a
factor). Generated images are the means of p(x|z) in [0, 1]. ``kl_weight`` and ``free_bits``
from the trainer apply to the real data's KL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from vaekit.config import check
from vaekit.distributions.kl import kl
from vaekit.losses.elbo import kl_terms
from vaekit.models.base import BaseVAE, LossContext, VAEConfig
from vaekit.models.vae_gan import frozen
from vaekit.registry import MODELS

ENCODER, DECODER = "encoder", "decoder"
POSTERIOR_KEY = "soft_intro_vae.posterior"  # (mean, stddev) of q(z|x), detached (B, D) each
PRIOR_Z_KEY = "soft_intro_vae.z_prior"  # the step's prior draws (B, D)


@dataclass
class SoftIntroVAEConfig(VAEConfig):
    config_type: ClassVar[str] = "soft_intro_vae"

    beta_rec: float = 1.0
    beta_kl: float = 1.0
    beta_neg: float = 256.0
    gamma_r: float = 1e-8
    alpha: float = 2.0
    scale: float | None = None  # None: 1 / (C * H * W)

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("beta_rec", "beta_kl", "beta_neg", "alpha"):
            value = getattr(self, key)
            check(value > 0, f"model.{key} must be positive, got {value}")
        check(self.gamma_r >= 0, f"model.gamma_r must be >= 0, got {self.gamma_r}")
        check(self.scale is None or self.scale > 0,
              f"model.scale must be positive (or null for 1/(C*H*W)), got {self.scale}")


@MODELS.register("soft_intro_vae")
class SoftIntroVAE(BaseVAE):
    """A VAE trained with the Soft-IntroVAE encoder/decoder game, two optimisers."""

    config_class: ClassVar[type] = SoftIntroVAEConfig

    @property
    def scale(self) -> float:
        return self.config.scale or 1.0 / math.prod(self.data_shape)

    # ---------------------------------------------------------------------- optimisation
    def decoder_parts(self) -> list[nn.Module]:
        return [self.decoder, self.likelihood]

    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        dec = {id(p) for part in self.decoder_parts() for p in part.parameters()}
        trainable = [p for p in self.parameters() if p.requires_grad]
        return {ENCODER: [p for p in trainable if id(p) not in dec],
                DECODER: [p for p in trainable if id(p) in dec]}

    def optimizer_options(self, group: str) -> dict[str, Any]:
        return {}

    # ---------------------------------------------------------------------------- losses
    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = ENCODER
             ) -> dict[str, torch.Tensor]:
        ctx = ctx or LossContext()
        if group == DECODER:
            return self.decoder_loss(x, ctx)
        return self.encoder_loss(x, ctx)

    def _fake_terms(self, fakes: torch.Tensor, detach_codes: bool
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction error, KL) per generated image ``(N,)`` under the current encoder;
        with ``detach_codes`` the reconstruction's gradient stops at the codes."""
        q_fake = self.encode(fakes)
        z_fake = q_fake.rsample()  # (N, D)
        px_fake = self.decode(z_fake.detach() if detach_codes else z_fake)
        target = fakes.detach() if detach_codes else fakes
        return -px_fake.log_prob(target), kl(q_fake, self.prior(), z_fake)

    def encoder_loss(self, x: torch.Tensor, ctx: LossContext) -> dict[str, torch.Tensor]:
        cfg = self.config
        with frozen(*self.decoder_parts()):
            qz_x = self.encode(x)
            z = qz_x.rsample()  # (B, D)
            px_z = self.decode(z)
            recon = -px_z.log_prob(x)  # (B,)
            kl_example, kl_objective = kl_terms(qz_x, self.prior(), z, ctx.free_bits)
            z_prior = self.sample_prior(len(x)).to(z)
            with torch.no_grad():
                fakes = torch.cat([self.likelihood.mean_image(px_z),
                                   self.likelihood.mean_image(self.decode(z_prior))])
            rec_fake, kl_fake = self._fake_terms(fakes, detach_codes=False)  # (2B,)
        elbo_neg = -(cfg.beta_rec * rec_fake + cfg.beta_neg * kl_fake)  # (2B,)
        exp_elbo = torch.exp(cfg.alpha * self.scale * elbo_neg)
        exp_rec, exp_fake = exp_elbo[: len(x)].mean(), exp_elbo[len(x):].mean()
        ctx.cache[POSTERIOR_KEY] = (qz_x.mean.detach(), qz_x.stddev.detach())
        ctx.cache[PRIOR_Z_KEY] = z_prior
        real = cfg.beta_rec * recon.mean() + cfg.beta_kl * ctx.kl_weight * kl_objective
        soft = 0.5 * (exp_rec + exp_fake) / (cfg.alpha * self.scale)
        return {"loss": real + soft, "recon": recon.mean(), "kl": kl_example.mean(),
                "elbo": -(recon + kl_example).mean(), "exp_elbo_rec": exp_rec.detach(),
                "exp_elbo_fake": exp_fake.detach(), "kl_fake": kl_fake[len(x):].mean().detach()}

    def decoder_loss(self, x: torch.Tensor, ctx: LossContext) -> dict[str, torch.Tensor]:
        cfg = self.config
        posterior = ctx.cache.get(POSTERIOR_KEY)
        if posterior is None:  # called on its own (no encoder pass this step)
            with torch.no_grad():
                qz_x = self.encode(x)
                posterior = (qz_x.mean, qz_x.stddev)
        mean, stddev = posterior
        z = mean + stddev * torch.randn_like(mean)  # a fresh draw of the detached q(z|x)
        z_prior = ctx.cache.get(PRIOR_Z_KEY)
        if z_prior is None:
            z_prior = self.sample_prior(len(x)).to(z)
        with frozen(self.encoder, self.posterior_head, self.pz):
            px_z = self.decode(z)
            recon = -px_z.log_prob(x)  # (B,)
            fakes = torch.cat([self.likelihood.mean_image(px_z),
                               self.likelihood.mean_image(self.decode(z_prior))])
            rec_fake, kl_fake = self._fake_terms(fakes, detach_codes=True)  # (2B,)
        n = len(x)
        kl_fakes = 0.5 * (kl_fake[:n].mean() + kl_fake[n:].mean())
        rec_fakes = 0.5 * (rec_fake[:n].mean() + rec_fake[n:].mean())
        loss = (cfg.beta_rec * recon.mean() + cfg.beta_kl * kl_fakes
                + cfg.gamma_r * cfg.beta_rec * rec_fakes)
        return {"loss": loss, "recon": recon.mean(), "kl_rec": kl_fake[:n].mean(),
                "kl_fake": kl_fake[n:].mean(), "recon_fake": rec_fakes}
