"""VAE-GAN: a VAE whose reconstruction error is measured in a discriminator's feature space.

Larsen, Sønderby, Larochelle & Winther (2016), "Autoencoding beyond pixels using a learned
similarity metric", ICML. A GAN discriminator ``Dis`` learns to tell data from decoded images;
the likelihood of the VAE is moved from pixels to the discriminator's ``l``-th layer (sec. 2.2),
``p(Dis_l(x) | z) = N(Dis_l(x) | Dis_l(x~), I)`` with ``x~ = Dec(z)``, ``z ~ q(z|x)``, and the
decoder is also trained to fool the discriminator. The paper's Algorithm 1 trains three parts
with separate optimisers, here three optimiser groups stepped in this order every batch::

    encoder:       KL(q(z|x) || p(z)) + L_feat
    decoder:       gamma * L_feat + L_gen(D(x~), D(x_p)),       x_p = Dec(z_p), z_p ~ p(z)
    discriminator: L_disc(D(x); D(x~), D(x_p))

where ``L_feat = -log N(Dis_l(x) | Dis_l(x~), I)`` (nats per example, summed over the ``F``
features) and ``L_gen`` / ``L_disc`` are the adversarial losses of
:mod:`vaekit.losses.adversarial` (``adversarial_loss``: ``"non_saturating"``, the paper's GAN
loss in its usual non-saturating form, or ``"hinge"``). The discriminator's fakes are the
reconstructions and the prior samples together (the paper's ``L_GAN`` has one term for each;
here their logits are pooled, so each counts half). ``gamma`` weights reconstruction against
fooling the discriminator in the decoder's loss (sec. 2.2); the decoder's adversarial loss
counts with weight ``adversarial_weight``.

Choices and their sources:

- Discriminator: :class:`~vaekit.nn.image_discriminator.ImageDiscriminator` (DCGAN-style strided
  convolutions, no batch norm), features = its last convolution's activations; the paper's
  discriminator uses batch normalisation and takes ``Dis_l`` from one of its intermediate
  convolutions.
  ``spectral_norm=True`` (Miyato et al. 2018) stabilises it.
- Each group only updates its own parameters: while a group's loss is built, the parameters of
  the other parts are frozen (``requires_grad`` off), so no gradient leaks into them and no
  time is spent on their weight gradients. The paper back-propagates the encoder's and the
  decoder's losses through the other networks in the same way.
- The encoder group leaves its detached codes and the real images' features in ``ctx.cache``;
  the decoder group leaves its detached fakes for the discriminator group, so each part of one
  training step sees the same draws (the discriminator's fakes come from the decoder before
  its update, as in a GAN step).
- ``pixel_weight`` adds ``-log p(x|z)`` (the model's pixel likelihood) to the encoder's and the
  decoder's losses; 0, the paper's setting, drops it. ``recon`` is reported either way.
- Scales: ``L_feat`` is a sum over ``F`` features (it includes the constant
  ``F/2 log 2 pi``), the pixel term a sum over pixels (hundreds of nats on 28x28 images), the
  adversarial terms are per image (about one nat). With ``pixel_weight = 1`` the adversarial
  signal is weak at ``adversarial_weight = 1``; ``benchmarks/sharpness.py`` uses 10 on
  Fashion-MNIST. With spectral normalisation the features are 1-Lipschitz functions of the
  image, so ``L_feat`` varies little and the feature term is a gentle one.
- ``kl_weight`` / ``free_bits`` of the trainer apply to the KL as in the plain VAE.
- Optimisers: Adam with the trainer's settings for all three groups unless
  ``discriminator_lr`` / ``discriminator_betas`` are set (the paper used RMSProp with lr 3e-4,
  as we read it).

``encode``, ``decode``, ``sample`` and ``reconstruct`` are the VAE's; samples and
reconstructions are the means of p(x|z), which the discriminator scores.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from vaekit.config import check, check_betas
from vaekit.losses.adversarial import (
    check_adversarial_kind,
    discriminator_loss,
    generator_loss,
)
from vaekit.losses.elbo import kl_terms
from vaekit.models.base import BaseVAE, LossContext, VAEConfig, discriminator_adam_options
from vaekit.nn.image_discriminator import ImageDiscriminator
from vaekit.registry import MODELS

ENCODER, DECODER, DISCRIMINATOR = "encoder", "decoder", "discriminator"
Z_CACHE_KEY = "vae_gan.z"  # the encoder pass's detached codes (B, D)
REAL_FEATURES_KEY = "vae_gan.real_features"  # Dis_l(x), detached (B, F)
FAKES_CACHE_KEY = "vae_gan.fakes"  # the decoder pass's detached reconstructions + samples


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Within the block, the modules' parameters take no gradient (gradients still flow through
    their activations to whatever comes before); their previous ``requires_grad`` is restored
    on exit."""
    params = [p for module in modules for p in module.parameters()]
    previous = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, previous):
            p.requires_grad_(flag)


def feature_nll(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """``-log N(real | fake, I)`` per example ``(B,)`` in nats, summed over the features: the
    Gaussian observation model of Larsen et al. (2016), eq. 6."""
    squared = (real_features - fake_features).pow(2).sum(-1)
    return 0.5 * squared + 0.5 * real_features.shape[-1] * math.log(2 * math.pi)


@dataclass
class VAEGANConfig(VAEConfig):
    config_type: ClassVar[str] = "vae_gan"

    gamma: float = 1.0  # weight of the feature reconstruction in the decoder's loss
    adversarial_weight: float = 1.0  # weight of the decoder's adversarial loss
    adversarial_loss: str = "non_saturating"  # or "hinge"
    pixel_weight: float = 0.0  # weight of -log p(x|z) in the encoder's and decoder's losses
    discriminator_width: int = 32
    spectral_norm: bool = False
    discriminator_lr: float | None = None  # None: the trainer's train.lr
    discriminator_betas: tuple[float, float] | None = None  # None: the trainer's train.betas

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("gamma", "adversarial_weight", "pixel_weight"):
            value = getattr(self, key)
            check(value >= 0, f"model.{key} must be >= 0, got {value}")
        check_adversarial_kind(self.adversarial_loss, "model.adversarial_loss")
        check(self.discriminator_width > 0,
              f"model.discriminator_width must be positive, got {self.discriminator_width}")
        check(self.discriminator_lr is None or self.discriminator_lr > 0,
              f"model.discriminator_lr must be positive (or null), got {self.discriminator_lr}")
        if self.discriminator_betas is not None:
            self.discriminator_betas = check_betas("model.discriminator_betas",
                                                   self.discriminator_betas)


@MODELS.register("vae_gan")
class VAEGAN(BaseVAE):
    """VAE + GAN with a discriminator-feature reconstruction loss, three optimisers."""

    config_class: ClassVar[type] = VAEGANConfig
    # Trained on a feature-space likelihood, not log p(x|z): its pixel ELBO is a loose bound.
    defines_likelihood: ClassVar[bool] = False

    def __init__(self, config: VAEGANConfig) -> None:
        super().__init__(config)
        self.discriminator = ImageDiscriminator(config.data_shape, config.discriminator_width,
                                                config.spectral_norm)

    # ---------------------------------------------------------------------- optimisation
    def decoder_parts(self) -> list[nn.Module]:
        """The generator: the decoder and the likelihood's own parameters (if any)."""
        return [self.decoder, self.likelihood]

    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        disc = {id(p) for p in self.discriminator.parameters()}
        dec = {id(p) for part in self.decoder_parts() for p in part.parameters()}
        trainable = [p for p in self.parameters() if p.requires_grad]
        return {
            ENCODER: [p for p in trainable if id(p) not in disc | dec],
            DECODER: [p for p in trainable if id(p) in dec],
            DISCRIMINATOR: [p for p in trainable if id(p) in disc],
        }

    def optimizer_options(self, group: str) -> dict[str, Any]:
        return discriminator_adam_options(self.config) if group == DISCRIMINATOR else {}

    # ---------------------------------------------------------------------------- losses
    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = ENCODER
             ) -> dict[str, torch.Tensor]:
        ctx = ctx or LossContext()
        if group == DECODER:
            return self.decoder_loss(x, ctx)
        if group == DISCRIMINATOR:
            return self.discriminator_step_loss(x, ctx)
        return self.encoder_loss(x, ctx)

    def _real_features(self, x: torch.Tensor, ctx: LossContext) -> torch.Tensor:
        features = ctx.cache.get(REAL_FEATURES_KEY)
        if features is None:
            with torch.no_grad():
                features = self.discriminator(x)[1]
            ctx.cache[REAL_FEATURES_KEY] = features
        return features

    def encoder_loss(self, x: torch.Tensor, ctx: LossContext) -> dict[str, torch.Tensor]:
        """KL + feature reconstruction (+ pixel reconstruction); decoder and D frozen."""
        with frozen(self.discriminator, *self.decoder_parts()):
            qz_x = self.encode(x)
            z = qz_x.rsample()  # (B, D)
            px_z = self.decode(z)
            x_rec = self.likelihood.mean_image(px_z)  # (B, C, H, W)
            feat_nll = feature_nll(self._real_features(x, ctx), self.discriminator(x_rec)[1])
            recon = -px_z.log_prob(x)  # (B,) pixel nats, reported (and weighted if asked)
        kl_example, kl_objective = kl_terms(qz_x, self.prior(), z, ctx.free_bits)
        ctx.cache[Z_CACHE_KEY] = z.detach()
        loss = ctx.kl_weight * kl_objective + feat_nll.mean()
        if self.config.pixel_weight > 0:
            loss = loss + self.config.pixel_weight * recon.mean()
        return {"loss": loss, "kl": kl_example.mean(), "feature_recon": feat_nll.mean(),
                "recon": recon.mean(), "elbo": -(recon + kl_example).mean()}

    def decoder_loss(self, x: torch.Tensor, ctx: LossContext) -> dict[str, torch.Tensor]:
        """gamma * feature reconstruction + adversarial loss on reconstructions and samples;
        encoder and D frozen."""
        z = ctx.cache.get(Z_CACHE_KEY)
        if z is None:  # called on its own (no encoder pass this step): encode the batch here
            with torch.no_grad():
                z = self.encode(x).sample()
        z_prior = self.sample_prior(len(z)).to(z)  # (B, D)
        with frozen(self.discriminator, self.encoder, self.posterior_head, self.pz):
            px_z = self.decode(z)
            # (2B, C, H, W): the reconstructions, then the prior samples
            fakes = torch.cat([self.likelihood.mean_image(px_z),
                               self.likelihood.mean_image(self.decode(z_prior))])
            logits, features = self.discriminator(fakes)
            feat_nll = feature_nll(self._real_features(x, ctx), features[: len(z)])
            adversarial = generator_loss(logits, self.config.adversarial_loss)
            recon = -px_z.log_prob(x)  # (B,)
        ctx.cache[FAKES_CACHE_KEY] = fakes.detach()
        cfg = self.config
        loss = cfg.gamma * feat_nll.mean() + cfg.adversarial_weight * adversarial
        if cfg.pixel_weight > 0:
            loss = loss + cfg.pixel_weight * recon.mean()
        return {"loss": loss, "feature_recon": feat_nll.mean(), "adversarial": adversarial,
                "recon": recon.mean()}

    def discriminator_step_loss(self, x: torch.Tensor, ctx: LossContext
                                ) -> dict[str, torch.Tensor]:
        """The GAN loss of D on the batch (real) and the decoder pass's fakes."""
        fakes = ctx.cache.get(FAKES_CACHE_KEY)
        if fakes is None:  # called on its own: make reconstructions and samples here
            with torch.no_grad():
                z = self.encode(x).sample()
                z_prior = self.sample_prior(len(z)).to(z)
                fakes = self.likelihood.mean_image(self.decode(torch.cat([z, z_prior])))
        real_logits = self.discriminator(x)[0]
        fake_logits = self.discriminator(fakes)[0]
        terms = discriminator_loss(real_logits, fake_logits, self.config.adversarial_loss)
        accuracy = torch.cat([real_logits > 0, fake_logits <= 0]).float().mean()
        return {**terms, "disc_accuracy": accuracy}
