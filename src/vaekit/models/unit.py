"""UNIT: unsupervised image-to-image translation with a shared latent space.

Liu, Breuel & Kautz (2017), "Unsupervised Image-to-Image Translation Networks", NeurIPS. Two
VAE-GANs, one per image domain, whose latent spaces are one: a pair of corresponding images
``(x_a, x_b)`` is assumed to have the same code z. The assumption is built into the networks by
*weight sharing*: each domain has its own first encoder layers and last decoder layers, but the
last encoder layers and the first decoder layers are one set of parameters used by both domains
(sec. 2, fig. 1). Translation A -> B is ``G_b(E_a(x_a))``.

Here (per domain ``d`` in {a, b}; ``shared_*`` are the *same* modules for both)::

    E_d(x) = shared_encoder(private_encoder_d(x))   -> mu (B, D);  q_d(z|x) = N(mu, I)
    G_d(z) = private_decoder_d(shared_decoder(z))   -> p_d(x|z) (the configured likelihood)

With ``sharing="deep"`` (default, the paper's layout scaled to 28x28 digits) the private parts
are one stride-2 convolution at the encoder's input and one transposed convolution at the
decoder's output; the second convolution, the fully connected layers and their mirror images are
shared, so only the low-level rendering (intensity, colour, stroke shape) is domain-specific.
``sharing="top"`` keeps a whole network family per domain and shares two fully connected layers
on each side (any image size, e.g. ``mlp``). As in the paper, q(z|x) has unit variance, so its
KL to the N(0, I) prior is ``|mu|^2 / 2``.

Training objective of the encoders and generators (group ``model``; sec. 2 eqs. 2-5, with the
paper's L1 reconstructions replaced by each domain's negative log-likelihood in nats)::

    VAE_d:   -log p_d(x_d | z_d) + KL(q_d(z|x_d) || p(z)),                     z_d ~ q_d(z|x_d)
    GAN:     adversarial_weight * [gen(D_b(x_ab)) + gen(D_a(x_ba))],  x_ab = mean of G_b(z_a)
    cycle:   cycle_weight * [-log p_a(x_a | z_aba) + KL(q_b(z|x_ab) || p(z)) + same for b],
             z_aba ~ q_b(z | x_ab)

and the discriminators (group ``discriminator``) separate each domain's real images from the
translations into it (``vaekit.losses.adversarial``: non-saturating or hinge). The generator's
adversarial term reaches the generators through a copy of D with detached parameters, and the
model group leaves its translations in ``ctx.cache`` for the discriminator group. Setting
``adversarial_weight = cycle_weight = 0`` leaves two VAEs that share layers and nothing else:
the "coupled VAE" baseline of the translation benchmark.

Batches are tuples ``(x_a, x_b)`` of *unpaired* images (``vaekit.apps.translation.domains``).
``encode``/``decode`` without a domain act on domain A, so the generic tools (reconstruction,
sampling, likelihood) see the domain-A VAE; :meth:`UNIT.translate` maps between the domains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal
from torch.func import functional_call

from vaekit.config import check, check_betas
from vaekit.errors import ConfigError, DataError, ShapeError
from vaekit.losses.adversarial import (
    check_adversarial_kind,
    discriminator_loss,
    generator_loss,
)
from vaekit.models.base import (
    BaseVAE,
    LossContext,
    VAEConfig,
    _call_with_options,
    discriminator_adam_options,
)
from vaekit.nn.image_discriminator import ImageDiscriminator
from vaekit.registry import LIKELIHOODS, MODELS, NETWORKS, PRIORS

DISCRIMINATOR = "discriminator"
DOMAINS = ("a", "b")
CACHE_KEY = "unit.translations"  # ctx.cache: detached (x_ba, x_ab) of the model pass


@dataclass
class TwoDomainConfig(VAEConfig):
    """Settings shared by the two-domain translation models.

    ``sharing``: which layers the domains share. ``"deep"`` (the paper's layout): each domain
    has one private stride-2 convolution at the input of its encoder and one private transposed
    convolution at the output of its decoder (``conv_channels[0]`` channels); everything between
    -- a second stride-2 convolution (``conv_channels[1]``), the fully connected layers
    (``shared_hidden``) and their mirror images in the decoder -- is shared; images need sides
    divisible by 4 (``network`` is not used). ``"top"``: each domain's private part is a whole
    ``network`` family encoder/decoder (e.g. ``mlp``, ``conv28``) exchanging ``shared_hidden``
    features with two shared fully connected layers on each side.
    ``adversarial_weight`` weights the GAN terms (per image, next to likelihoods summed over
    pixels). ``channels_b``: channels of domain-B images (None: as domain A; e.g. 3 for
    coloured digits); B has domain A's height and width. ``shared_hidden``: width of the shared
    fully connected layers (and, with ``"top"``, of the features the private networks exchange
    with them). ``gan_loss``: non_saturating or hinge.
    Discriminators: ``discriminator_width`` channels in the first layer, optional spectral norm,
    own Adam settings (``discriminator_lr`` / ``discriminator_betas``, None: the trainer's).
    """

    network: str = "conv28"
    latent_dim: int = 16
    channels_b: int | None = None
    sharing: Literal["deep", "top"] = "deep"
    conv_channels: tuple[int, int] = (32, 64)
    shared_hidden: int = 128
    adversarial_weight: float = 1.0
    gan_loss: Literal["non_saturating", "hinge"] = "non_saturating"
    discriminator_width: int = 16
    spectral_norm: bool = False
    discriminator_lr: float | None = None
    discriminator_betas: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.channels_b is None or self.channels_b > 0,
              f"model.channels_b must be positive (or null), got {self.channels_b}")
        check(self.shared_hidden > 0, f"model.shared_hidden must be positive, "
                                      f"got {self.shared_hidden}")
        check(self.sharing in ("deep", "top"),
              f"model.sharing must be 'deep' or 'top', got {self.sharing!r}")
        self.conv_channels = tuple(int(c) for c in self.conv_channels)
        check(len(self.conv_channels) == 2 and min(self.conv_channels) > 0,
              f"model.conv_channels must be two positive widths, got {self.conv_channels}")
        check(self.adversarial_weight >= 0,
              f"model.adversarial_weight must be >= 0, got {self.adversarial_weight}")
        check(self.discriminator_width > 0, "model.discriminator_width must be positive")
        check(self.discriminator_lr is None or self.discriminator_lr > 0,
              f"model.discriminator_lr must be positive (or null), got {self.discriminator_lr}")
        check_adversarial_kind(self.gan_loss, "model.gan_loss")
        if self.discriminator_betas is not None:
            self.discriminator_betas = check_betas("model.discriminator_betas",
                                                   self.discriminator_betas)


@dataclass
class UNITConfig(TwoDomainConfig):
    """UNIT settings; ``cycle_weight`` weights the cycle-consistency terms (the paper uses the
    same weights for the cycle as for the VAE terms, i.e. 1 here)."""

    config_type: ClassVar[str] = "unit"

    cycle_weight: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.cycle_weight >= 0, f"model.cycle_weight must be >= 0, got {self.cycle_weight}")


def unit_gaussian(mu: torch.Tensor) -> Independent:
    """q(z|x) = N(mu, I) with event shape ``(D,)``."""
    return Independent(Normal(mu, torch.ones_like(mu)), 1)


def kl_unit_gaussian(mu: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, I) || N(0, I)) = |mu|^2 / 2 per example ``(B,)``."""
    return 0.5 * mu.square().sum(-1)


def mlp(widths: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between and *before* them (the input is a previous layer's
    linear output) and none after."""
    layers: list[nn.Module] = []
    for w_in, w_out in zip(widths[:-1], widths[1:]):
        layers += [nn.ReLU(), nn.Linear(w_in, w_out)]
    return nn.Sequential(*layers)


def frozen_logits(discriminator: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """D(x) logits with D's parameters detached: the gradient reaches x only."""
    params = {name: p.detach() for name, p in discriminator.named_parameters()}
    logits, _ = functional_call(discriminator, params, (x,))
    return logits


class TwoDomainModel(BaseVAE):
    """Base of the translation models: per-domain private networks, likelihoods and
    discriminators, batches ``(x_a, x_b)``, the discriminator group."""

    def __init__(self, config: TwoDomainConfig) -> None:
        nn.Module.__init__(self)
        if config.data_shape is None:
            raise ShapeError("model.data_shape is not set: build the model from a two-domain "
                             "dataset (vaekit.train) or pass data_shape=(C, H, W) in the config")
        self.config = config
        self.shapes = {"a": tuple(config.data_shape), "b": self.shape_b(config)}
        if config.sharing == "top":
            self.family = NETWORKS.get(config.network)
            for shape in self.shapes.values():
                self.family.check(shape, **config.network_options)
        else:
            shape = self.shapes["a"]
            if len(shape) != 3 or shape[1] % 4 or shape[2] % 4 or min(shape[1:]) < 8:
                raise ShapeError(
                    f"model.sharing='deep' takes images (C, H, W) with H and W multiples of 4 "
                    f"and at least 8, got data shape {shape}; resize the images or use "
                    "model.sharing='top' with a network family that fits them")
        self.likelihoods = nn.ModuleDict({
            d: _call_with_options(LIKELIHOODS.get(config.likelihood), "likelihood",
                                  config.likelihood, self.shapes[d], **config.likelihood_options)
            for d in DOMAINS})
        self.likelihood = self.likelihoods["a"]
        self.discriminators = nn.ModuleDict({
            d: ImageDiscriminator(self.shapes[d], config.discriminator_width,
                                  config.spectral_norm) for d in DOMAINS})
        self.pz = PRIORS.build(config.prior, self.prior_dim())

    @staticmethod
    def shape_b(config: TwoDomainConfig) -> tuple[int, ...]:
        shape = tuple(config.data_shape)
        return (config.channels_b, *shape[1:]) if config.channels_b else shape

    def prior_dim(self) -> int:
        return self.config.latent_dim

    def build_networks(self, code_dim: int) -> None:
        """Private encoders/decoders per domain and the shared layers between them and the
        code of size ``code_dim`` (see :class:`TwoDomainConfig` ``sharing``)."""
        cfg = self.config
        hidden = cfg.shared_hidden
        if cfg.sharing == "top":
            self.private_encoders = nn.ModuleDict({
                d: _call_with_options(self.family.encoder, "network", cfg.network,
                                      self.shapes[d], hidden, **cfg.network_options)
                for d in DOMAINS})
            self.private_decoders = nn.ModuleDict({
                d: _call_with_options(self.family.decoder, "network", cfg.network, hidden,
                                      self.shapes[d], self.out_channels(d),
                                      **cfg.network_options)
                for d in DOMAINS})
            self.shared_encoder = mlp([hidden, hidden, code_dim])
            self.shared_decoder = nn.Sequential(nn.Linear(code_dim, hidden), nn.ReLU(),
                                                nn.Linear(hidden, hidden))
            return
        w1, w2 = cfg.conv_channels
        side_h, side_w = self.shapes["a"][1] // 4, self.shapes["a"][2] // 4
        self.private_encoders = nn.ModuleDict({
            d: nn.Sequential(nn.Conv2d(self.shapes[d][0], w1, 4, 2, 1), nn.LeakyReLU(0.2))
            for d in DOMAINS})
        self.private_decoders = nn.ModuleDict({
            d: nn.ConvTranspose2d(w1, self.out_channels(d), 4, 2, 1) for d in DOMAINS})
        self.shared_encoder = nn.Sequential(
            nn.Conv2d(w1, w2, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(),
            nn.Linear(w2 * side_h * side_w, hidden), nn.ReLU(), nn.Linear(hidden, code_dim))
        self.shared_decoder = nn.Sequential(
            nn.Linear(code_dim, hidden), nn.ReLU(), nn.Linear(hidden, w2 * side_h * side_w),
            nn.ReLU(), nn.Unflatten(1, (w2, side_h, side_w)),
            nn.ConvTranspose2d(w2, w1, 4, 2, 1), nn.ReLU())

    def out_channels(self, domain: str) -> int:
        return self.likelihoods[domain].params_per_channel * self.shapes[domain][0]

    # ------------------------------------------------------------------------------ data
    @property
    def data_shape_b(self) -> tuple[int, ...]:
        return self.shapes["b"]

    def example_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A two-domain batch made from domain-A images ``x``: ``(x, 1 - x)``, the second
        repeated to domain B's channels (the contract tests; not a meaningful translation)."""
        x_b = 1.0 - x
        if self.shapes["b"][0] != x.shape[1]:
            x_b = x_b.mean(1, keepdim=True).expand(-1, self.shapes["b"][0], -1, -1)
        return x, x_b

    def split_batch(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2
                and all(isinstance(t, torch.Tensor) for t in batch)):
            raise DataError(
                f"model '{self.config.config_type}' trains on unpaired batches (x_a, x_b) of two "
                "image domains, got a single batch; use a two-domain dataset such as "
                "data.name=restyled_mnist (vaekit.apps.translation.domains)")
        x_a, x_b = batch
        for d, x in zip(DOMAINS, (x_a, x_b)):
            if tuple(x.shape[1:]) != self.shapes[d]:
                raise ShapeError(
                    f"domain-{d} images of shape {tuple(x.shape[1:])} do not fit this model, "
                    f"which takes {self.shapes[d]}" + ("; set model.channels_b to the domain-B "
                                                       "channel count" if d == "b" else ""))
        return x_a, x_b

    @staticmethod
    def other(domain: str) -> str:
        if domain not in DOMAINS:
            raise ConfigError(f"domain must be 'a' or 'b', got {domain!r}")
        return "b" if domain == "a" else "a"

    # ---------------------------------------------------------------------- optimisation
    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        disc = {id(p) for p in self.discriminators.parameters()}
        return {
            "model": [p for p in self.parameters() if p.requires_grad and id(p) not in disc],
            DISCRIMINATOR: [p for p in self.discriminators.parameters() if p.requires_grad],
        }

    def optimizer_options(self, group: str) -> dict[str, Any]:
        return discriminator_adam_options(self.config) if group == DISCRIMINATOR else {}

    def generator_terms(self, x_ba: torch.Tensor, x_ab: torch.Tensor) -> torch.Tensor:
        """Adversarial loss of the translations into A and into B (D frozen)."""
        kind = self.config.gan_loss
        return (generator_loss(frozen_logits(self.discriminators["a"], x_ba), kind)
                + generator_loss(frozen_logits(self.discriminators["b"], x_ab), kind))

    def discriminator_loss(self, x_a: torch.Tensor, x_b: torch.Tensor, ctx: LossContext
                           ) -> dict[str, torch.Tensor]:
        """Each domain's discriminator: real images of the domain vs translations into it."""
        fakes = ctx.cache.get(CACHE_KEY)
        if fakes is None:  # no model pass this step: translate the batch here
            with torch.no_grad():
                fakes = (self.translate(x_b, "b"), self.translate(x_a, "a"))
        out: dict[str, torch.Tensor] = {}
        total = torch.zeros((), device=x_a.device)
        for d, real, fake in (("a", x_a, fakes[0]), ("b", x_b, fakes[1])):
            real_logits, _ = self.discriminators[d](real)
            fake_logits, _ = self.discriminators[d](fake.detach())
            terms = discriminator_loss(real_logits, fake_logits, self.config.gan_loss)
            total = total + terms["loss"]
            out[f"d_real_{d}"], out[f"d_fake_{d}"] = terms["d_real"], terms["d_fake"]
        return {"loss": total, **out}

    def translate(self, x: torch.Tensor, source: str = "a", **options: Any) -> torch.Tensor:
        raise NotImplementedError


@MODELS.register("unit")
class UNIT(TwoDomainModel):
    """Two VAE-GANs with shared top encoder and bottom decoder layers (one latent space)."""

    config_class: ClassVar[type] = UNITConfig
    defines_likelihood: ClassVar[bool] = False  # trained with GAN and cycle terms, not an ELBO

    def __init__(self, config: UNITConfig) -> None:
        super().__init__(config)
        self.build_networks(config.latent_dim)  # the shared-latent constraint lives here

    # ------------------------------------------------------------------ probabilistic pieces
    def encode(self, x: torch.Tensor, domain: str = "a") -> Distribution:
        """q_d(z|x) = N(mu, I), batch ``(B,)``, event ``(D,)``."""
        self.other(domain)
        return unit_gaussian(self.shared_encoder(self.private_encoders[domain](x)))

    def decode(self, z: torch.Tensor, domain: str = "a") -> Distribution:
        """p_d(x|z) for latents ``(..., D)``."""
        self.other(domain)
        lead = z.shape[:-1]
        params = self.private_decoders[domain](self.shared_decoder(z.reshape(-1, z.shape[-1])))
        return self.likelihoods[domain](params.reshape(*lead, *params.shape[1:]))

    def image(self, z: torch.Tensor, domain: str) -> torch.Tensor:
        """The mean image of p_d(x|z), differentiable (what a translation outputs)."""
        return self.decode(z, domain).mean

    @torch.no_grad()
    def translate(self, x: torch.Tensor, source: str = "a", **options: Any) -> torch.Tensor:
        """``G_target(E_source(x))`` at the posterior mean, clamped to [0, 1]."""
        target = self.other(source)
        return self.likelihoods[target].mean_image(self.decode(self.encode(x, source).mean,
                                                               target))

    # ------------------------------------------------------------------------- training
    def vae_terms(self, x: torch.Tensor, domain: str) -> tuple[torch.Tensor, ...]:
        """(recon (B,), KL (B,), z) of domain ``domain``'s VAE."""
        mu = self.shared_encoder(self.private_encoders[domain](x))
        z = mu + torch.randn_like(mu)
        recon = -self.decode(z, domain).log_prob(x)
        return recon, kl_unit_gaussian(mu), z

    def loss(self, batch: Any, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        ctx = ctx or LossContext()
        x_a, x_b = self.split_batch(batch)
        if group == DISCRIMINATOR:
            return self.discriminator_loss(x_a, x_b, ctx)
        cfg = self.config
        recon_a, kl_a, z_a = self.vae_terms(x_a, "a")
        recon_b, kl_b, z_b = self.vae_terms(x_b, "b")
        vae = (recon_a + recon_b).mean() + ctx.kl_weight * (kl_a + kl_b).mean()
        out = {"recon_a": recon_a.mean(), "recon_b": recon_b.mean(),
               "kl_a": kl_a.mean(), "kl_b": kl_b.mean()}
        loss = vae
        need_translations = cfg.adversarial_weight > 0 or cfg.cycle_weight > 0
        if need_translations:
            x_ab, x_ba = self.image(z_a, "b"), self.image(z_b, "a")
            ctx.cache[CACHE_KEY] = (x_ba.detach(), x_ab.detach())
            if cfg.adversarial_weight > 0:
                adversarial = self.generator_terms(x_ba, x_ab)
                loss = loss + cfg.adversarial_weight * adversarial
                out["adversarial"] = adversarial
            if cfg.cycle_weight > 0:
                # x_a -> b -> a and x_b -> a -> b through the shared latent space.
                mu_ab = self.shared_encoder(self.private_encoders["b"](x_ab))
                mu_ba = self.shared_encoder(self.private_encoders["a"](x_ba))
                cycle_a = -self.decode(mu_ab + torch.randn_like(mu_ab), "a").log_prob(x_a)
                cycle_b = -self.decode(mu_ba + torch.randn_like(mu_ba), "b").log_prob(x_b)
                cycle = ((cycle_a + cycle_b).mean()
                         + ctx.kl_weight * (kl_unit_gaussian(mu_ab)
                                            + kl_unit_gaussian(mu_ba)).mean())
                loss = loss + cfg.cycle_weight * cycle
                out["cycle_a"], out["cycle_b"] = cycle_a.mean(), cycle_b.mean()
        return {"loss": loss, **out}

    # ----------------------------------------------------------------- generic evaluation
    def log_importance_weights(self, x: torch.Tensor, num_samples: int,
                               generator: torch.Generator | None = None) -> torch.Tensor:
        """Domain A's importance weights (x a single domain-A batch)."""
        if isinstance(x, (tuple, list)):
            x = x[0]
        return super().log_importance_weights(x, num_samples, generator)
