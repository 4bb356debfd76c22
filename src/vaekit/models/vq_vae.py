"""VQ-VAE with a learned autoregressive prior.

van den Oord, Vinyals & Kavukcuoglu (2017), "Neural Discrete Representation Learning", NeurIPS.
A conv encoder maps an image to an ``H' x W'`` grid of ``code_dim`` vectors, each replaced by its
nearest codebook vector (:mod:`vaekit.nn.vector_quantizer`); a conv decoder gives p(x | z_q).
An autoregressive prior over the grid of code indices (:mod:`vaekit.nn.code_prior`) generates
new images: sample a grid, decode it.

Two optimiser groups, stepped in this order each training step::

    model: -log p(x|z_q) + beta ||z_e - sg(z_q)||^2 [+ ||sg(z_e) - z_q||^2 without EMA]
    prior: -log p_prior(codes(x)), on the codes the model pass left in ``ctx.cache["codes"]``

The paper trains the prior after the autoencoder. Here both train in one run: ``prior_start_step``
delays the prior's learning (its loss is multiplied by 0 before that step; its NLL is still
reported), and ``freeze_autoencoder_step`` freezes the encoder, decoder and codebook from that
step on, so the prior then fits fixed codes, the paper's second stage. (A prior that only ever
chases moving codes generates much worse images: on binarised MNIST after 600 joint steps with
the default settings, 1500 more prior-only steps on the frozen codes took the prior's NLL from
about 182 to 140 nats per image and its samples from strokes to recognisable digits.)

Generic tools see a deterministic posterior over the flattened quantised latents
``(B, code_dim * H' * W')``: ``encode(x)`` is a :class:`PointMass` at z_q(x) and ``prior()`` a
:class:`CodeGridPrior` whose ``log_prob`` is the prior's log-probability of the nearest code
grid. The Monte-Carlo KL ``log q(z) - log p(z)`` is then ``-log p_prior(codes)`` (the posterior
is one-hot, entropy 0), so ``evaluate_elbo`` and ``iwae_bound`` give VQ-VAE's bound
``log p(x) >= log p(x|z_q) + log p_prior(codes)``. Per-dimension KL does not exist here (the
prior is not factorised).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn
from torch.distributions import Distribution, constraints

from vaekit.config import check
from vaekit.errors import ShapeError
from vaekit.models.base import BaseVAE, LossContext, VAEConfig, _call_with_options
from vaekit.nn.code_prior import CausalTransformerPrior
from vaekit.nn.vector_quantizer import VectorQuantizer
from vaekit.nn.vq_networks import check_image_shape, vq_decoder, vq_encoder
from vaekit.registry import LIKELIHOODS, MODELS

PRIOR = "prior"
CODES_CACHE_KEY = "codes"  # ctx.cache entry: the model pass's code grids, for the prior group


@dataclass
class VQVAEConfig(VAEConfig):
    """VQ-VAE settings. The inherited ``latent_dim``, ``network``, ``network_options`` and
    ``prior`` are not used: VQ-VAE has its own conv networks (``hidden_channels``,
    ``residual_blocks``, ``downsample``), its latent size is ``code_dim * H' * W'`` and its
    prior is the learned autoregressive one (``prior_*``)."""

    config_type: ClassVar[str] = "vq_vae"

    num_codes: int = 128
    code_dim: int = 16
    commitment: float = 0.25  # beta of sec. 3.2
    ema: bool = True  # EMA codebook updates (appendix A.1) instead of the codebook loss
    ema_decay: float = 0.99
    ema_eps: float = 1e-5  # Laplace smoothing of the cluster sizes
    dead_code_threshold: float = 1.0  # EMA cluster size below which a code is restarted; 0: off
    downsample: int = 2  # stride-2 stages: 28x28 -> 7x7
    hidden_channels: int = 64  # 256 in the paper; 64 keeps CPU training quick
    residual_blocks: int = 2
    residual_hidden: int = 32
    prior_layers: int = 4
    prior_width: int = 128
    prior_heads: int = 4
    prior_dropout: float = 0.0
    prior_lr: float | None = None  # None: the trainer's train.lr
    prior_start_step: int = 0
    freeze_autoencoder_step: int | None = None  # from this step on only the prior learns

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.num_codes >= 2 and self.code_dim >= 1,
              f"model.num_codes must be >= 2 and model.code_dim >= 1, got {self.num_codes}, "
              f"{self.code_dim}")
        check(self.commitment >= 0, f"model.commitment must be >= 0, got {self.commitment}")
        check(0 <= self.ema_decay < 1, f"model.ema_decay must be in [0, 1), got {self.ema_decay}")
        check(self.ema_eps > 0, f"model.ema_eps must be positive, got {self.ema_eps}")
        check(self.dead_code_threshold >= 0,
              f"model.dead_code_threshold must be >= 0, got {self.dead_code_threshold}")
        check(self.downsample >= 0, f"model.downsample must be >= 0, got {self.downsample}")
        check(min(self.hidden_channels, self.residual_hidden) >= 1 and self.residual_blocks >= 0,
              "model.hidden_channels and model.residual_hidden must be positive and "
              "model.residual_blocks >= 0")
        check(self.prior_layers >= 1 and self.prior_heads >= 1
              and self.prior_width % self.prior_heads == 0,
              f"model.prior_layers and model.prior_heads must be positive and model.prior_width "
              f"({self.prior_width}) divisible by model.prior_heads ({self.prior_heads})")
        check(0 <= self.prior_dropout < 1,
              f"model.prior_dropout must be in [0, 1), got {self.prior_dropout}")
        check(self.prior_lr is None or self.prior_lr > 0,
              f"model.prior_lr must be positive (or null), got {self.prior_lr}")
        check(self.prior_start_step >= 0,
              f"model.prior_start_step must be >= 0, got {self.prior_start_step}")
        check(self.freeze_autoencoder_step is None or self.freeze_autoencoder_step >= 0,
              f"model.freeze_autoencoder_step must be >= 0 (or null), got "
              f"{self.freeze_autoencoder_step}")


class PointMass(Distribution):
    """q(z|x) = delta at ``point (*batch, D)``: a probability mass on the discrete set of code
    grids, so ``log_prob`` is 0 at the point and -inf elsewhere, and the spread is 0."""

    arg_constraints: ClassVar[dict] = {}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, point: torch.Tensor) -> None:
        self.point = point
        super().__init__(point.shape[:-1], point.shape[-1:], validate_args=False)

    @property
    def mean(self) -> torch.Tensor:
        return self.point

    @property
    def mode(self) -> torch.Tensor:
        return self.point

    @property
    def variance(self) -> torch.Tensor:
        return torch.zeros_like(self.point)

    def rsample(self, sample_shape: torch.Size | tuple = ()) -> torch.Tensor:
        return self.point.expand(*sample_shape, *self.point.shape)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        at_point = (value == self.point).all(dim=-1)
        return torch.zeros_like(at_point, dtype=self.point.dtype).masked_fill(~at_point,
                                                                              -math.inf)

    def entropy(self) -> torch.Tensor:
        return self.point.new_zeros(self.batch_shape)


class CodeGridPrior(Distribution):
    """The learned prior seen over flattened quantised latents ``(..., code_dim * H' * W')``.

    ``log_prob(z)`` is the autoregressive prior's log-probability of the code grid nearest to z
    (exact on codebook grids, which is where the posterior puts its mass); ``sample`` decodes
    prior draws into codebook vectors.
    """

    arg_constraints: ClassVar[dict] = {}
    support = constraints.real_vector

    def __init__(self, model: VQVAE) -> None:
        self.model = model
        super().__init__(torch.Size(), torch.Size([model.latent_dim]), validate_args=False)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        lead = value.shape[:-1]
        codes = self.model.quantizer.quantize(self.model.as_grid(value))
        return self.model.code_prior.log_prob(codes).reshape(lead)

    def sample(self, sample_shape: torch.Size | tuple = ()) -> torch.Tensor:
        count = math.prod(sample_shape)
        return self.model.sample_prior(count).reshape(*sample_shape, self.model.latent_dim)


@MODELS.register("vq_vae")
class VQVAE(BaseVAE):
    """Encoder -> nearest codebook vectors -> decoder; an autoregressive prior over the codes."""

    config_class: ClassVar[type] = VQVAEConfig

    def __init__(self, config: VQVAEConfig) -> None:
        # BaseVAE.__init__ builds a Gaussian posterior head and a flat-latent network family,
        # neither of which VQ-VAE has; set up only what BaseVAE's utilities use.
        nn.Module.__init__(self)
        if config.data_shape is None:
            raise ShapeError(
                "model.data_shape is not set: build the model from a dataset (vaekit.train) or "
                "pass data_shape=(C, H, W) in the config"
            )
        self.config = config
        self.grid_shape = check_image_shape(config.data_shape, config.downsample)
        self.likelihood = _call_with_options(
            LIKELIHOODS.get(config.likelihood), "likelihood", config.likelihood,
            config.data_shape, **config.likelihood_options,
        )
        out_channels = self.likelihood.params_per_channel * config.data_shape[0]
        networks = (config.hidden_channels, config.residual_blocks, config.residual_hidden,
                    config.downsample)
        self.encoder = vq_encoder(config.data_shape[0], config.code_dim, *networks)
        self.decoder = vq_decoder(config.code_dim, out_channels, *networks)
        self.quantizer = VectorQuantizer(
            config.num_codes, config.code_dim, commitment=config.commitment, ema=config.ema,
            decay=config.ema_decay, eps=config.ema_eps,
            dead_code_threshold=config.dead_code_threshold,
        )
        self.code_prior = CausalTransformerPrior(
            config.num_codes, self.grid_shape, width=config.prior_width,
            layers=config.prior_layers, heads=config.prior_heads, dropout=config.prior_dropout,
        )

    # ------------------------------------------------------------------------ latents
    @property
    def latent_dim(self) -> int:
        """Size of the flattened quantised latent ``code_dim * H' * W'``."""
        return self.config.code_dim * self.grid_shape[0] * self.grid_shape[1]

    def as_grid(self, z: torch.Tensor) -> torch.Tensor:
        """Flattened latents ``(..., latent_dim)`` -> ``(N, code_dim, H', W')``."""
        if z.shape[-1] != self.latent_dim:
            raise ShapeError(f"VQ-VAE latents have {self.latent_dim} values (code_dim x "
                             f"{self.grid_shape[0]} x {self.grid_shape[1]}), got {tuple(z.shape)}")
        return z.reshape(-1, self.config.code_dim, *self.grid_shape)

    @torch.no_grad()
    def encode_codes(self, x: torch.Tensor) -> torch.Tensor:
        """Code indices ``(B, H', W')`` of ``x``; never updates the codebook."""
        self.check_input(x)
        return self.quantizer.quantize(self.encoder(x))

    def encode(self, x: torch.Tensor) -> Distribution:
        """The deterministic posterior: a :class:`PointMass` at the flattened z_q(x)."""
        return PointMass(self.quantizer.lookup(self.encode_codes(x)).flatten(1))

    def prior(self) -> Distribution:
        return CodeGridPrior(self)

    # ------------------------------------------------------------------------ decoding
    def decode_grid(self, z_grid: torch.Tensor) -> Distribution:
        """p(x|z) for latent grids ``(B, code_dim, H', W')``."""
        return self.likelihood(self.decoder(z_grid))

    def decode(self, z: torch.Tensor) -> Distribution:
        """p(x|z) for flattened latents ``(..., latent_dim)``, decoded as given (not snapped to
        the codebook, so interpolations between codes decode smoothly)."""
        lead = z.shape[:-1]
        params = self.decoder(self.as_grid(z))
        return self.likelihood(params.reshape(*lead, *params.shape[1:]))

    def decode_codes(self, codes: torch.Tensor) -> Distribution:
        """p(x | codes) for code grids ``(B, H', W')``."""
        return self.decode_grid(self.quantizer.lookup(codes))

    # ------------------------------------------------------------------------ utilities
    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Mean image of p(x | z_q(x))."""
        return self.likelihood.mean_image(self.decode_codes(self.encode_codes(x)))

    @torch.no_grad()
    def sample_codes(self, n: int, generator: torch.Generator | None = None,
                     temperature: float = 1.0) -> torch.Tensor:
        """``n`` code grids ``(n, H', W')`` from the learned prior."""
        return self.code_prior.sample(n, generator=generator, temperature=temperature)

    @torch.no_grad()
    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` flattened quantised latents ``(n, latent_dim)`` from the learned prior."""
        return self.quantizer.lookup(self.sample_codes(n, generator)).flatten(1)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None,
               temperature: float = 1.0) -> torch.Tensor:
        """Mean images ``(n, *data_shape)`` in [0, 1] of decoded prior samples."""
        codes = self.sample_codes(n, generator, temperature)
        return self.likelihood.mean_image(self.decode_codes(codes))

    # ---------------------------------------------------------------------- optimisation
    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        prior_ids = {id(p) for p in self.code_prior.parameters()}
        return {
            "model": [p for p in self.parameters() if p.requires_grad and id(p) not in prior_ids],
            PRIOR: [p for p in self.code_prior.parameters() if p.requires_grad],
        }

    def optimizer_options(self, group: str) -> dict[str, Any]:
        if group == PRIOR and self.config.prior_lr is not None:
            return {"lr": self.config.prior_lr}
        return {}

    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        ctx = ctx or LossContext()
        if group == PRIOR:
            return self.prior_loss(x, ctx)
        return self.model_loss(x, ctx)

    def autoencoder_frozen(self, step: int) -> bool:
        freeze_step = self.config.freeze_autoencoder_step
        return freeze_step is not None and step >= freeze_step

    def model_loss(self, x: torch.Tensor, ctx: LossContext) -> dict[str, torch.Tensor]:
        """Reconstruction NLL + commitment (+ codebook) loss, per-example means in nats. The
        codebook's EMA update and dead-code restarts happen here, in training mode only."""
        if not (self.training and self.autoencoder_frozen(ctx.step)):
            return self._model_terms(x, ctx, update=self.training)
        with torch.no_grad():
            terms = self._model_terms(x, ctx, update=False)
        # A loss that reaches no parameter: they keep grad None, which Adam skips, so not even
        # its momentum moves the frozen encoder, decoder and codebook.
        terms["loss"] = terms["loss"].detach().requires_grad_()
        return terms

    def _model_terms(self, x: torch.Tensor, ctx: LossContext, update: bool
                     ) -> dict[str, torch.Tensor]:
        self.check_input(x)
        quantized = self.quantizer(self.encoder(x), update=update)
        recon = -self.decode_grid(quantized.z_q).log_prob(x)
        ctx.cache[CODES_CACHE_KEY] = quantized.codes.detach()
        return {
            "loss": recon.mean() + quantized.commitment + quantized.codebook_loss,
            "recon": recon.mean(),
            "commitment": quantized.commitment,
            "codebook": quantized.codebook_loss,
            "perplexity": quantized.perplexity,
            "codebook_usage": quantized.usage,
        }

    def prior_loss(self, x: torch.Tensor, ctx: LossContext) -> dict[str, torch.Tensor]:
        """-log p_prior(codes) per example (nats) on the model pass's codes (or x's codes)."""
        codes = ctx.cache.get(CODES_CACHE_KEY)
        if codes is None:  # called on its own: encode here, without touching the codebook
            codes = self.encode_codes(x)
        nll = -self.code_prior.log_prob(codes).mean()
        learning = float(ctx.step >= self.config.prior_start_step)
        positions = self.grid_shape[0] * self.grid_shape[1]
        return {
            "loss": learning * nll,
            "prior_nll": nll.detach(),
            "prior_bits_per_code": nll.detach() / (positions * math.log(2.0)),
        }
