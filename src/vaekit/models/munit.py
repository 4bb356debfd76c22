"""Content/style translation model (MUNIT-style), with a variational style code.

Huang, Liu, Belongie & Kautz (2018), "Multimodal Unsupervised Image-to-Image Translation",
ECCV. Each image is encoded into a *content* code, shared by the domains, and a *style* code,
specific to its domain with a N(0, I) prior. A domain's decoder renders a content code in a style
(AdaIN, Huang & Belongie 2017: the style sets per-feature scales and shifts). Translating A -> B
keeps the content and takes a B style: a style drawn from the prior (many translations of one
input: "multimodal") or the style code of a B image (example-guided translation, style
transfer). Swapping style codes between two images of a domain keeps each image's content.

Networks (per domain ``d``; ``shared_*`` are one module used by both domains)::

    content: c = shared_encoder(private_encoder_d(x))   (a point code, as in MUNIT)
    style:   q_d(s|x) = N(mu_s, diag sigma_s^2) from style_encoder_d(x),  p(s) = N(0, I)
    G_d(c, s) = private_decoder_d(AdaIN_d(shared_decoder(c), s))
    AdaIN_d(h, s) = h * (1 + gamma_d(s)) + beta_d(s)   (an affine map of s, per channel)

The private/shared split follows ``sharing`` exactly as in :mod:`vaekit.models.unit`; the style
encoder is MUNIT's (strided convolutions, global average pooling, a linear layer) with
``sharing="deep"``, a ``network`` family encoder with ``"top"``.
Sharing the content encoder's top layers (as UNIT does for its whole latent) is our choice: it
makes the content spaces of the two domains one space from the start, which small models on a
CPU budget need; MUNIT relies on its losses alone. The objective (group ``model``; the paper's
eq. 5 with its L1 terms replaced by nats: each domain's negative log-likelihood for images,
unit-variance Gaussian log-likelihoods for codes)::

    within d:  -log p_d(x | c, s) + KL(q_d(s|x) || N(0, I)),    s ~ q_d(s|x)
    cross:     x_ab = mean of G_b(c_a, s_b),  s_b ~ N(0, I)   (and x_ba likewise)
               adversarial_weight * gen(D_b(x_ab))
               content_weight * |E^c_b(x_ab) - c_a|^2 / 2           (content reconstruction)
               style_weight * |E^s_b(x_ab) - s_b|^2 / 2             (style reconstruction)
               cycle_weight * -log p_a(x_a | E^c_b(x_ab), s_a)     (explicit cycle; paper: 0)

with each domain's discriminator trained on its real images vs the translations into it
(:class:`~vaekit.models.unit.TwoDomainModel`). ``encode``/``decode`` without a domain act on
domain A with the latent ``z = [content, style]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal

from vaekit.config import check
from vaekit.distributions.posterior import DiagonalGaussianHead
from vaekit.errors import ShapeError
from vaekit.models.base import LossContext, _call_with_options
from vaekit.models.unit import (
    CACHE_KEY,
    DISCRIMINATOR,
    DOMAINS,
    TwoDomainConfig,
    TwoDomainModel,
)
from vaekit.registry import MODELS

CONTENT_STD = 1e-3  # the content code is a point; encode() gives it this nominal scale


@dataclass
class MUNITConfig(TwoDomainConfig):
    """``latent_dim`` is the content code's size, ``style_dim`` the style code's; the weights
    are those of the objective in the module docstring."""

    config_type: ClassVar[str] = "munit"

    style_dim: int = 4
    content_weight: float = 1.0
    style_weight: float = 1.0
    cycle_weight: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.style_dim > 0, f"model.style_dim must be positive, got {self.style_dim}")
        for key in ("content_weight", "style_weight", "cycle_weight"):
            check(getattr(self, key) >= 0, f"model.{key} must be >= 0, got {getattr(self, key)}")


class AdaIN(nn.Module):
    """``h * (1 + gamma(s)) + beta(s)``: a style code sets a scale and shift per feature (per
    channel of a feature map ``(B, F, H, W)``)."""

    def __init__(self, style_dim: int, features: int) -> None:
        super().__init__()
        self.affine = nn.Linear(style_dim, 2 * features)

    def forward(self, h: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.affine(s).chunk(2, dim=-1)  # (B, F) each
        gamma = gamma.reshape(*gamma.shape, *([1] * (h.dim() - 2)))
        beta = beta.reshape(*beta.shape, *([1] * (h.dim() - 2)))
        return h * (1.0 + gamma) + beta


@MODELS.register("munit")
class MUNIT(TwoDomainModel):
    """Two domains, a shared content space and a style space per domain."""

    config_class: ClassVar[type] = MUNITConfig
    defines_likelihood: ClassVar[bool] = False

    def __init__(self, config: MUNITConfig) -> None:
        super().__init__(config)
        self.build_networks(config.latent_dim)  # content: shared as UNIT's latent
        style_out = 2 * config.style_dim
        if config.sharing == "top":
            self.style_encoders = nn.ModuleDict({
                d: _call_with_options(self.family.encoder, "network", config.network,
                                      self.shapes[d], style_out, **config.network_options)
                for d in DOMAINS})
            features = config.shared_hidden
        else:  # MUNIT's style encoder: strided convolutions, global average pooling, linear
            width = config.conv_channels[0]
            self.style_encoders = nn.ModuleDict({
                d: nn.Sequential(nn.Conv2d(self.shapes[d][0], width, 4, 2, 1), nn.ReLU(),
                                 nn.Conv2d(width, width, 4, 2, 1), nn.ReLU(),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Linear(width, style_out))
                for d in DOMAINS})
            features = config.conv_channels[0]
        self.style_posterior = DiagonalGaussianHead(config.style_dim)
        self.adain = nn.ModuleDict({d: AdaIN(config.style_dim, features) for d in DOMAINS})

    def prior_dim(self) -> int:
        return self.config.latent_dim + self.config.style_dim

    @property
    def latent_dim(self) -> int:
        """Size of ``z = [content, style]`` (what ``encode`` gives and ``decode`` takes)."""
        return self.config.latent_dim + self.config.style_dim

    @property
    def content_dim(self) -> int:
        return self.config.latent_dim

    @property
    def style_dim(self) -> int:
        return self.config.style_dim

    # ------------------------------------------------------------------ probabilistic pieces
    def encode_parts(self, x: torch.Tensor, domain: str) -> tuple[torch.Tensor, Independent]:
        """(content mean ``(B, C)``, q_d(s|x) with event shape ``(S,)``)."""
        self.other(domain)
        mu_c = self.shared_encoder(self.private_encoders[domain](x))
        return mu_c, self.style_posterior(self.style_encoders[domain](x))

    def encode(self, x: torch.Tensor, domain: str = "a") -> Distribution:
        """q(z|x) over ``z = [content, style]``: the content code (deterministic; reported
        with scale ``CONTENT_STD``) next to q_d(s|x)."""
        mu_c, qs_x = self.encode_parts(x, domain)
        loc = torch.cat([mu_c, qs_x.mean], -1)
        scale = torch.cat([torch.full_like(mu_c, CONTENT_STD), qs_x.stddev], -1)
        return Independent(Normal(loc, scale), 1)

    def content(self, x: torch.Tensor, domain: str = "a") -> torch.Tensor:
        return self.encode_parts(x, domain)[0]

    def style(self, x: torch.Tensor, domain: str = "b") -> torch.Tensor:
        """The mean style code ``(B, S)`` of images of ``domain``."""
        return self.encode_parts(x, domain)[1].mean

    def generate(self, c: torch.Tensor, s: torch.Tensor, domain: str) -> Distribution:
        """p_d(x | c, s) for codes ``(B, C)`` and ``(B, S)``."""
        self.other(domain)
        if c.shape[:-1] != s.shape[:-1]:
            raise ShapeError(f"content codes {tuple(c.shape)} and style codes {tuple(s.shape)} "
                             "must have the same batch shape")
        h = self.adain[domain](self.shared_decoder(c), s)
        return self.likelihoods[domain](self.private_decoders[domain](h))

    def decode(self, z: torch.Tensor, domain: str = "a") -> Distribution:
        """p_d(x|z) for ``z = [content, style]`` of shape ``(..., C + S)``."""
        self.other(domain)
        lead = z.shape[:-1]
        flat = z.reshape(-1, z.shape[-1])
        h = self.adain[domain](self.shared_decoder(flat[:, :self.content_dim]),
                               flat[:, self.content_dim:])
        params = self.private_decoders[domain](h)
        return self.likelihoods[domain](params.reshape(*lead, *params.shape[1:]))

    def sample_style(self, n: int, generator: torch.Generator | None = None,
                     device: torch.device | None = None) -> torch.Tensor:
        return torch.randn((n, self.style_dim), generator=generator, device=device)

    # ---------------------------------------------------------------------- translation
    @torch.no_grad()
    def translate(self, x: torch.Tensor, source: str = "a", style: torch.Tensor | None = None,
                  generator: torch.Generator | None = None, **options: Any) -> torch.Tensor:
        """x's content in a target-domain style: ``style`` codes ``(B, S)`` or ``(S,)``, or
        draws from the style prior (``generator`` for reproducible draws)."""
        target = self.other(source)
        c = self.content(x, source)
        if style is None:
            style = self.sample_style(len(x), generator, x.device)
        style = style.to(c).expand(len(c), -1)
        return self.likelihoods[target].mean_image(self.generate(c, style, target))

    @torch.no_grad()
    def swap_style(self, x_content: torch.Tensor, x_style: torch.Tensor, domain: str = "b",
                   content_domain: str | None = None) -> torch.Tensor:
        """Images of ``domain`` with the content of ``x_content`` (images of
        ``content_domain``, default ``domain``) and the style of ``x_style`` (images of
        ``domain``; as many as ``x_content``, or one style image for all)."""
        c = self.content(x_content, content_domain or domain)
        s = self.style(x_style, domain).expand(len(c), -1)
        return self.likelihoods[domain].mean_image(self.generate(c, s, domain))

    # ------------------------------------------------------------------------- training
    def loss(self, batch: Any, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        ctx = ctx or LossContext()
        x_a, x_b = self.split_batch(batch)
        if group == DISCRIMINATOR:
            return self.discriminator_loss(x_a, x_b, ctx)
        cfg = self.config
        out: dict[str, torch.Tensor] = {}
        codes = {}
        loss = torch.zeros((), device=x_a.device)
        for d, x in (("a", x_a), ("b", x_b)):
            mu_c, qs_x = self.encode_parts(x, d)
            s = qs_x.rsample()
            recon = -self.generate(mu_c, s, d).log_prob(x)
            kl_s = torch.distributions.kl_divergence(
                qs_x, Independent(Normal(torch.zeros_like(s), torch.ones_like(s)), 1))
            loss = loss + recon.mean() + ctx.kl_weight * kl_s.mean()
            out[f"recon_{d}"], out[f"kl_style_{d}"] = recon.mean(), kl_s.mean()
            codes[d] = (mu_c, s)
        fakes = {}
        for source, target in (("a", "b"), ("b", "a")):
            mu_c, s_source = codes[source]
            s_target = self.sample_style(len(mu_c), device=mu_c.device)
            fake = self.generate(mu_c, s_target, target).mean  # (B, C, H, W)
            fakes[target] = fake
            mu_c_back, qs_back = self.encode_parts(fake, target)
            content_rec = 0.5 * (mu_c_back - mu_c).square().sum(-1).mean()
            style_rec = 0.5 * (qs_back.mean - s_target).square().sum(-1).mean()
            loss = loss + cfg.content_weight * content_rec + cfg.style_weight * style_rec
            out[f"content_rec_{source}{target}"] = content_rec
            out[f"style_rec_{source}{target}"] = style_rec
            if cfg.cycle_weight > 0:
                x_source = x_a if source == "a" else x_b
                cycle = -self.generate(mu_c_back, s_source, source).log_prob(x_source).mean()
                loss = loss + cfg.cycle_weight * cycle
                out[f"cycle_{source}"] = cycle
        ctx.cache[CACHE_KEY] = (fakes["a"].detach(), fakes["b"].detach())
        if cfg.adversarial_weight > 0:
            adversarial = self.generator_terms(fakes["a"], fakes["b"])
            loss = loss + cfg.adversarial_weight * adversarial
            out["adversarial"] = adversarial
        return {"loss": loss, **out}
