"""Two-stage VAE sampling: a second, small VAE fitted to the latent codes of the first.

Dai & Wipf (2019), "Diagnosing and Enhancing VAE Models", ICLR, sec. 4. A VAE trained on data
that lie on a manifold of dimension r < D (the latent size) can reconstruct well and still give
an aggregate posterior q(z) = E_x q(z|x) that does not match the prior N(0, I), so decoding
prior draws gives poor images. Their remedy: once the first VAE is trained, train a second VAE
with latent u of the same size D on the codes z ~ q(z|x) of the training data. The codes fill
R^D (manifold dimension r = D), the case in which a VAE can learn the distribution exactly and
its aggregate posterior q(u) matches N(0, I) (their Theorem 1). Generation is then (sec. 4)::

    u ~ N(0, I)  ->  z ~ p(z|u) = N(f(u), gamma I)  ->  image = E[p(x|z)]

Choices, as in the paper and the authors' code (github.com/daib13/TwoStageVAE):

- Training data: fresh samples z = mu(x) + sigma(x) eps of q(z|x) at every minibatch
  (``fit_on="samples"``, their ``z_batch = mu_z + sd_z * noise``); ``fit_on="means"`` fits
  the posterior means E[q(z|x)] instead, as the GMM sampler does.
- Networks: encoder and decoder are ReLU MLPs (3 layers of 1024 units in the paper; a smaller
  ``hidden=(256, 256, 256)`` here) whose last hidden layer is concatenated with their input
  before the output layer, as in the authors' code.
- The decoder variance gamma is one learned scalar (sec. 3-4: learning gamma lets it go to 0
  where the model fits the codes exactly), initialised at gamma = 1.
- Sampling draws z ~ N(f(u), gamma I) as the authors' ``generate`` does
  (``decoder_noise=True``); ``decoder_noise=False`` decodes the mean f(u).

The second VAE is trained inside :meth:`TwoStageVAESampler.fit` by a short plain-torch Adam loop
over minibatches of the codes (a fixed number of ``steps``, seeded), not by the training engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal, kl_divergence

from vaekit.config import check
from vaekit.evaluation.likelihood import DataLike, model_device
from vaekit.samplers.base import (
    _check_count,
    decode_latents,
    encode_codes,
    seeded_init,
    standard_normal_draws,
    train_on_codes,
)

if TYPE_CHECKING:
    from vaekit.models.base import BaseVAE

FIT_ON = ("samples", "means")


class _SkipMLP(nn.Module):
    """ReLU MLP ``dim -> hidden -> out`` whose output layer reads ``[input, last hidden]``
    (the concatenation of the authors' second-stage encoder and decoder)."""

    def __init__(self, dim: int, hidden: Sequence[int], out: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = dim
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(dim + width, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([x, self.body(x)], dim=-1))


class SecondStageVAE(nn.Module):
    """The second-stage VAE on R^D: q(u|z) = N(mu(z), diag sigma(z)^2), p(u) = N(0, I),
    p(z|u) = N(f(u), gamma I) with gamma a learned scalar (Dai & Wipf 2019, sec. 4)."""

    def __init__(self, dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.dim = dim
        self.encoder = _SkipMLP(dim, hidden, 2 * dim)
        self.decoder = _SkipMLP(dim, hidden, dim)
        # log gamma = 0: gamma = 1 at the start, as the authors' loggamma_z initialiser.
        self.log_gamma = nn.Parameter(torch.zeros(()))

    @property
    def gamma(self) -> torch.Tensor:
        """The decoder variance gamma (a scalar)."""
        return self.log_gamma.exp()

    def encode(self, z: torch.Tensor) -> Distribution:
        """q(u|z), a diagonal Gaussian with event shape ``(D,)``."""
        mean, log_std = self.encoder(z).chunk(2, dim=-1)
        return Independent(Normal(mean, log_std.exp()), 1)

    def decode(self, u: torch.Tensor) -> Distribution:
        """p(z|u) = N(f(u), gamma I), event shape ``(D,)``."""
        mean = self.decoder(u)
        return Independent(Normal(mean, (0.5 * self.log_gamma).exp().expand_as(mean)), 1)

    def prior(self, like: torch.Tensor) -> Distribution:
        """p(u) = N(0, I) on ``like``'s device and dtype."""
        zeros = like.new_zeros(self.dim)
        return Independent(Normal(zeros, torch.ones_like(zeros)), 1)

    def loss(self, z: torch.Tensor, eps: torch.Tensor) -> dict[str, torch.Tensor]:
        """Negative ELBO per code, averaged: ``recon = -log p(z|u)`` at the reparameterised
        ``u = mu + sigma * eps`` plus the analytic ``kl = KL(q(u|z) || p(u))``, in nats."""
        qu_z = self.encode(z)
        u = qu_z.base_dist.loc + qu_z.base_dist.scale * eps
        recon = -self.decode(u).log_prob(z)
        kl = kl_divergence(qu_z, self.prior(z))
        return {"loss": (recon + kl).mean(), "recon": recon.mean(), "kl": kl.mean()}


class TwoStageVAESampler:
    """Decode z drawn from a second VAE fitted to the first model's codes (Dai & Wipf 2019).

    ``TwoStageVAESampler(model, hidden=(256, 256, 256), steps=3000, lr=1e-3, seed=0)
    .fit(train_data)`` then ``.sample(n, generator)`` -> mean images ``(n, C, H, W)``.
    ``fit_on``: ``"samples"`` (the paper's: z ~ q(z|x), redrawn at every step) or ``"means"``.
    ``decoder_noise``: draw z ~ N(f(u), gamma I) (the authors' sampling) or take f(u).
    ``seed`` fixes the initialisation, minibatches and noise of the fit, which leaves the global
    RNG alone; ``batch_size`` is the decoding chunk. After ``fit``, ``loss_history`` holds the
    second stage's negative ELBO (nats per code) at each step.
    """

    def __init__(
        self,
        model: BaseVAE,
        hidden: Sequence[int] = (256, 256, 256),
        steps: int = 3000,
        lr: float = 1e-3,
        train_batch_size: int = 128,
        fit_on: str = "samples",
        decoder_noise: bool = True,
        seed: int = 0,
        *,
        batch_size: int = 1000,
    ) -> None:
        check(len(hidden) >= 1 and all(int(h) >= 1 for h in hidden),
              f"hidden must list at least one positive layer size, got {list(hidden)}")
        check(steps >= 0, f"steps must be >= 0, got {steps}")
        check(lr > 0, f"lr must be positive, got {lr}")
        check(train_batch_size >= 1, f"train_batch_size must be >= 1, got {train_batch_size}")
        check(fit_on in FIT_ON, f"fit_on must be one of {', '.join(FIT_ON)}, got '{fit_on}'")
        check(batch_size >= 1, f"batch_size must be >= 1, got {batch_size}")
        self.model = model
        self.hidden = tuple(int(h) for h in hidden)
        self.steps = int(steps)
        self.lr = float(lr)
        self.train_batch_size = int(train_batch_size)
        self.fit_on = fit_on
        self.decoder_noise = bool(decoder_noise)
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self.network: SecondStageVAE | None = None
        self.loss_history = torch.empty(0)

    def fit(self, dataset: DataLike, max_examples: int | None = None,
            batch_size: int = 256) -> TwoStageVAESampler:
        """Train the second stage on the codes of (at most ``max_examples`` of) ``dataset``."""
        return self.fit_latents(*encode_codes(self.model, dataset, batch_size, max_examples))

    def fit_latents(self, means: torch.Tensor,
                    stds: torch.Tensor | None = None) -> TwoStageVAESampler:
        """Train the second stage on codes given as posterior means ``(N, D)`` and standard
        deviations ``(N, D)`` of q(z|x) (``stds`` is needed when ``fit_on="samples"``)."""
        if means.ndim != 2 or len(means) < 1:
            raise ValueError(f"expected codes of shape (N, D), got {tuple(means.shape)}")
        if self.fit_on == "samples" and (stds is None or stds.shape != means.shape):
            raise ValueError("fit_on='samples' needs posterior stds of the means' shape")
        device = model_device(self.model)
        means = means.detach().to(device=device, dtype=torch.float32)
        scales = (stds.detach().to(device=device, dtype=torch.float32)
                  if self.fit_on == "samples" and stds is not None else torch.zeros_like(means))
        with seeded_init(self.seed):
            network = SecondStageVAE(means.shape[1], self.hidden)
        network = network.to(device)
        generator = torch.Generator(device=device).manual_seed(self.seed)

        def batch_loss(index: torch.Tensor) -> torch.Tensor:
            # One draw gives the z ~ q(z|x) noise and the u ~ q(u|z) noise.
            eps = torch.randn((2, len(index), means.shape[1]), generator=generator,
                              device=device)
            z = means[index] + scales[index] * eps[0]
            return network.loss(z, eps[1])["loss"]

        self.loss_history = train_on_codes(
            network, batch_loss, len(means), steps=self.steps,
            batch_size=self.train_batch_size, lr=self.lr, generator=generator)
        self.network = network
        return self

    def _fitted(self) -> SecondStageVAE:
        if self.network is None:
            raise RuntimeError("call fit() before sampling")
        return self.network

    @property
    def gamma(self) -> float:
        """The fitted decoder variance gamma of the second stage."""
        return self._fitted().gamma.item()

    @torch.no_grad()
    def second_stage_posterior(self, z: torch.Tensor) -> Distribution:
        """q(u|z) of the fitted second stage for codes ``z`` ``(N, D)``."""
        network = self._fitted()
        device = next(network.parameters()).device
        return network.encode(z.to(device=device, dtype=torch.float32))

    @torch.no_grad()
    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` codes ``(n, D)``: u ~ N(0, I), then z ~ p(z|u) (or its mean)."""
        network = self._fitted()
        _check_count(n, self.batch_size)
        device = next(network.parameters()).device
        u = standard_normal_draws(n, network.dim, generator, device)
        pz_u = network.decode(u)
        if not self.decoder_noise:
            return pz_u.mean
        return pz_u.mean + pz_u.stddev * standard_normal_draws(n, network.dim, generator, device)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean images ``(n, C, H, W)`` of p(x|z) for z from the two-stage sampler."""
        return decode_latents(self.model, self.sample_latents(n, generator), self.batch_size)

    __call__ = sample
