"""The base class of every VAE-family model and its config.

A model is an ``nn.Module`` built from a config dataclass. It exposes the probabilistic pieces as
torch.distributions objects (``encode(x) -> qz_x``, ``decode(z) -> px_z``, ``prior() -> pz``) and
one training entry point, ``loss(x, ctx, group)``, returning a flat dict of per-example-averaged
scalars (nats) whose ``loss`` entry is minimised. Models with several optimisers (adversarial
ones) list their parameter groups in ``optimizer_groups()``; the trainer steps them in order.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from torch.distributions import Distribution

from vaekit.config import check, from_dict
from vaekit.distributions.kl import kl
from vaekit.distributions.posterior import DiagonalGaussianHead
from vaekit.distributions.sampling import sample_posterior
from vaekit.errors import CheckpointError, ConfigError, ShapeError
from vaekit.registry import LIKELIHOODS, MODELS, NETWORKS, PRIORS


@dataclass
class VAEConfig:
    """Settings shared by every Gaussian-latent VAE.

    ``data_shape`` is filled in from the dataset when left empty; ``network_options`` and
    ``likelihood_options`` are passed as keyword arguments to the chosen network family and
    likelihood (unknown options are errors naming them).
    """

    config_type: ClassVar[str] = "vae"

    latent_dim: int = 10
    network: str = "conv64"
    network_options: dict[str, Any] = field(default_factory=dict)
    likelihood: str = "bernoulli"
    likelihood_options: dict[str, Any] = field(default_factory=dict)
    prior: str = "standard_normal"
    data_shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        check(self.latent_dim > 0, f"model.latent_dim must be positive, got {self.latent_dim}")
        if self.data_shape is not None:
            self.data_shape = tuple(int(s) for s in self.data_shape)
            check(all(s > 0 for s in self.data_shape),
                  f"model.data_shape must be positive sizes, got {self.data_shape}")


@dataclass
class LossContext:
    """What the trainer tells a loss about the optimisation state.

    ``kl_weight`` carries KL warm-up / cyclical annealing; ``free_bits`` is nats per latent dim;
    ``cache`` lets a model share one forward pass between the losses of several optimisers.
    """

    step: int = 0
    kl_weight: float = 1.0
    free_bits: float = 0.0
    cache: dict[str, Any] = field(default_factory=dict)


def _call_with_options(fn, kind: str, name: str, *args, **options):
    try:
        return fn(*args, **options)
    except TypeError as err:
        if "unexpected keyword" in str(err) or "positional argument" in str(err):
            raise ConfigError(f"model.{kind}_options for '{name}': {err}") from None
        raise


class BaseVAE(nn.Module):
    """Encoder -> diagonal Gaussian q(z|x); prior p(z); decoder -> likelihood p(x|z)."""

    config_class: ClassVar[type] = VAEConfig
    # False for models trained without a likelihood bound (plain, Wasserstein, regularised,
    # adversarial autoencoders): their importance-sampled "NLL" is a valid but very loose bound
    # and does not belong in a likelihood table.
    defines_likelihood: ClassVar[bool] = True
    # True for models whose loss takes ``(x, y)`` batches (semi-supervised, conditional): the
    # trainer then serves the dataset's labels with the images.
    uses_labels: ClassVar[bool] = False

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        if config.data_shape is None:
            raise ShapeError(
                "model.data_shape is not set: build the model from a dataset (vaekit.train) or "
                "pass data_shape=(C, H, W) in the config"
            )
        self.config = config
        data_shape = config.data_shape
        family = NETWORKS.get(config.network)
        family.check(data_shape, **config.network_options)
        self.likelihood = _call_with_options(
            LIKELIHOODS.get(config.likelihood), "likelihood", config.likelihood, data_shape,
            **config.likelihood_options,
        )
        out_channels = self.likelihood.params_per_channel * data_shape[0]
        self.encoder = _call_with_options(
            family.encoder, "network", config.network, data_shape, self.encoder_features(),
            **config.network_options,
        )
        self.decoder = _call_with_options(
            family.decoder, "network", config.network, config.latent_dim, data_shape,
            out_channels, **config.network_options,
        )
        self.posterior_head = DiagonalGaussianHead(config.latent_dim)
        self.pz = PRIORS.build(config.prior, config.latent_dim)

    # ----------------------------------------------------------------- probabilistic pieces
    @property
    def data_shape(self) -> tuple[int, ...]:
        return self.config.data_shape

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def encoder_features(self) -> int:
        return 2 * self.config.latent_dim

    def check_input(self, x: torch.Tensor) -> None:
        if tuple(x.shape[1:]) != self.data_shape:
            raise ShapeError(
                f"input of shape {tuple(x.shape)} does not fit this model, which takes batches of "
                f"{self.data_shape}; resize the data or train a model for this shape"
            )

    def encode(self, x: torch.Tensor) -> Distribution:
        """q(z|x) with batch shape ``(B,)`` and event shape ``(D,)``."""
        return self.posterior_head(self.encoder(x))

    def decode(self, z: torch.Tensor) -> Distribution:
        """p(x|z) for latents ``(..., D)``; batch shape ``z.shape[:-1]``."""
        lead = z.shape[:-1]
        params = self.decoder(z.reshape(-1, z.shape[-1]))
        return self.likelihood(params.reshape(*lead, *params.shape[1:]))

    def prior(self) -> Distribution:
        return self.pz()

    # ---------------------------------------------------------------------------- training
    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameter groups, one optimiser each, stepped in this order every training step."""
        return {"model": [p for p in self.parameters() if p.requires_grad]}

    def optimizer_options(self, group: str) -> dict[str, Any]:
        """Adam settings for one group (``lr``, ``betas``, ``weight_decay``) that differ from
        the trainer's; e.g. FactorVAE's discriminator uses its paper's lr and betas."""
        return {}

    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    # ---------------------------------------------------------------------- evaluation hooks
    def log_importance_weights(
        self, x: torch.Tensor, num_samples: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x)``, shape ``(K, B)``, for K
        draws z_k ~ q(z|x); the IWAE bound and the NLL estimate are built on it."""
        qz_x = self.encode(x)
        z = sample_posterior(qz_x, num_samples, generator)  # (K, B, D)
        return self.decode(z).log_prob(x) + self.prior().log_prob(z) - qz_x.log_prob(z)

    def elbo_terms(
        self, x: torch.Tensor, num_samples: int = 1, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction ``-E_q log p(x|z)``, KL) per example ``(B,)``; the expectation is a
        ``num_samples``-draw average, the KL analytic where torch knows it."""
        qz_x = self.encode(x)
        z = sample_posterior(qz_x, num_samples, generator)  # (S, B, D)
        recon = -self.decode(z).log_prob(x).mean(0)
        kl_example = kl(qz_x, self.prior(), z)
        if kl_example.dim() == 2:  # Monte-Carlo fallback: one estimate per sample
            kl_example = kl_example.mean(0)
        return recon, kl_example

    # ------------------------------------------------------------------------- utilities
    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Mean of p(x | z = E[q(z|x)]) as an image batch."""
        return self.likelihood.mean_image(self.decode(self.encode(x).mean))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Means of p(x|z) for ``n`` draws z ~ p(z)."""
        z = self.sample_prior(n, generator)
        return self.likelihood.mean_image(self.decode(z))

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        pz = self.prior()
        if generator is None:
            return pz.sample((n,))
        eps = torch.randn((n, self.latent_dim), generator=generator, device=pz.mean.device)
        return pz.mean + pz.stddev * eps

    def save_pretrained(self, directory: str | Path) -> Path:
        from vaekit.checkpoint import save_pretrained

        return save_pretrained(self, directory)

    @classmethod
    def from_pretrained(cls, directory: str | Path, map_location: str = "cpu") -> BaseVAE:
        from vaekit.checkpoint import load_pretrained

        model = load_pretrained(directory, map_location)
        if not isinstance(model, cls):
            raise CheckpointError(
                f"'{directory}' holds a {type(model).__name__}, not a {cls.__name__}; load it "
                "with vaekit.checkpoint.load_pretrained or that class"
            )
        return model


def discriminator_adam_options(config: Any) -> dict[str, Any]:
    """Adam settings of an adversarial model's discriminator group from its config's
    ``discriminator_lr`` and ``discriminator_betas`` (None: the trainer's ``train.lr`` /
    ``train.betas``)."""
    options: dict[str, Any] = {}
    if getattr(config, "discriminator_lr", None) is not None:
        options["lr"] = config.discriminator_lr
    if getattr(config, "discriminator_betas", None) is not None:
        options["betas"] = tuple(config.discriminator_betas)
    return options


def model_config_from_dict(data: Any, path: str = "model") -> Any:
    """Build the config dataclass of the model named by ``data['type']`` (default ``vae``)."""
    if dataclasses.is_dataclass(data):
        return data
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with a 'type' key, got {data!r}")
    model_type = data.get("type", "vae")
    model_cls = MODELS.get(model_type)
    try:
        return from_dict(model_cls.config_class, data, path)
    except ConfigError as err:
        raise ConfigError(f"{err} (for {path}.type '{model_type}')") from None


def build_model(config: Any) -> BaseVAE:
    """Instantiate the registered model class for ``config`` (a dataclass or a dict)."""
    config = model_config_from_dict(config)
    return MODELS.get(config.config_type)(config)
