"""Conditional VAE: encoder, decoder and prior all see a class label.

Sohn, Lee & Yan (2015), "Learning Structured Output Representation using Deep Conditional
Generative Models", NeurIPS. With the condition ``c`` a class label and the output the data
``x``, the conditional ELBO (their eq. 4) is::

    log p(x | c) >= E_q(z|x,c)[log p(x | z, c)] - KL(q(z | x, c) || p(z | c))

and generation draws ``z ~ p(z | c)``, ``x ~ p(x | z, c)``.

**Prior.** ``conditional_prior=True`` (default) is Sohn et al.'s prior network for a class
label: ``p(z | c) = N(mu_c, diag(sigma_c^2))``, one learned mean and standard deviation per class
(a lookup table, initialised to N(0, I)). ``conditional_prior=False`` uses ``p(z | c) = N(0, I)``
for every class (the label-conditioned generator of Kingma et al. 2014, "Semi-supervised
learning with deep generative models"); then the code of a class must fill the standard normal
and samples fall where the aggregate posterior of that class has little mass more often. On FSDD
spectrograms the code keeps some digit information even though the decoder is given the label,
and the class-conditional prior is what makes digit-conditioned samples say the right digit
(conv64, 16 latents, 1,500 steps: a digit classifier recognises 0.76 of the samples with the
learned p(z|c), 0.60 with N(0, I)).

**Networks.** The label enters as a one-hot vector ``e(c)`` of ``num_classes`` entries,
concatenated

- to the encoder's features: ``q(z|x,c) = N(mu, sigma)`` with
  ``[mu, sigma_raw] = W [relu(f(x)), e(c)] + b``, ``f`` the configured encoder family with
  ``feature_dim`` outputs;
- to z for the decoder: ``p(x|z,c) = g([z, e(c)])``, ``g`` the configured decoder family with
  ``latent_dim + num_classes`` inputs.

**Batches.** ``loss`` takes ``(x, y)`` (the trainer serves them: ``uses_labels``) or a plain ``x``.
A missing label, a plain ``x`` or ``y = -1``, is **unconditional**: ``e(-1)`` is the zero vector
and the prior is an extra "no label" row of the prior table (N(0, I) before training, and fixed
at N(0, I) with ``conditional_prior=False``). The model is then an ordinary VAE with the same
weights: that is what the generic evaluation code sees (``encode(x)``, ``decode(z)``,
``prior()``, ``loss(x)`` without labels). A model trained only on labelled batches has not learnt
the unlabelled case; pass labels to ``encode``, ``decode``, ``reconstruct`` and ``sample`` to use
it as trained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Distribution, Independent, Normal

from vaekit.config import check
from vaekit.distributions.kl import kl
from vaekit.errors import ShapeError
from vaekit.losses.elbo import elbo_loss
from vaekit.models.base import BaseVAE, LossContext, VAEConfig, _call_with_options
from vaekit.registry import MODELS, NETWORKS

UNCONDITIONAL = -1

Labels = torch.Tensor | int | None
Batch = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | list[torch.Tensor]


@dataclass
class CVAEConfig(VAEConfig):
    config_type: ClassVar[str] = "cvae"

    num_classes: int = 10
    feature_dim: int = 256  # encoder features, before the label is concatenated
    conditional_prior: bool = True  # p(z|c) = N(mu_c, sigma_c) learned; False: N(0, I)

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.num_classes >= 1, f"model.num_classes must be >= 1, got {self.num_classes}")
        check(self.feature_dim > 0, f"model.feature_dim must be positive, got {self.feature_dim}")
        check(self.prior == "standard_normal",
              f"model.prior: a cvae has its own prior p(z|c) (see model.conditional_prior), got "
              f"'{self.prior}'")


@MODELS.register("cvae")
class CVAE(BaseVAE):
    """Label-conditioned VAE; see the module docstring for the objective and the interface."""

    config_class: ClassVar[type] = CVAEConfig
    uses_labels: ClassVar[bool] = True  # the trainer serves (x, y) batches

    def __init__(self, config: CVAEConfig) -> None:
        super().__init__(config)
        classes, latent = config.num_classes, config.latent_dim
        self.posterior_in = nn.Linear(config.feature_dim + classes, 2 * latent)
        # p(x|z,c) takes [z, one-hot c] (replaces the base class's decoder of z alone).
        self.decoder = _call_with_options(
            NETWORKS.get(config.network).decoder, "network", config.network, latent + classes,
            config.data_shape, self.likelihood.params_per_channel * config.data_shape[0],
            **config.network_options)
        if config.conditional_prior:
            # Row c: [mean, log std] of p(z|c); the last row is the unlabelled case.
            self.prior_table = nn.Embedding(classes + 1, 2 * latent)
            nn.init.zeros_(self.prior_table.weight)

    def encoder_features(self) -> int:
        return self.config.feature_dim

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    # ------------------------------------------------------------------------- labels
    def labels_for(self, y: Labels, shape: tuple[int, ...], device: torch.device
                   ) -> torch.Tensor:
        """Labels as int64 of exactly ``shape`` (broadcast), -1 where unlabelled or ``None``."""
        if y is None:
            return torch.full(shape, UNCONDITIONAL, dtype=torch.long, device=device)
        y = torch.as_tensor(y, device=device).long()
        if y.numel() and (y.max() >= self.num_classes or y.min() < UNCONDITIONAL):
            raise ShapeError(f"labels must be in 0..{self.num_classes - 1} (or -1 for none), "
                             f"got values from {int(y.min())} to {int(y.max())}")
        try:
            y = y.expand(shape) if y.dim() <= len(shape) else y
        except RuntimeError:
            y = None
        if y is None or tuple(y.shape) != tuple(shape):
            raise ShapeError(f"labels do not fit a batch of shape {tuple(shape)}")
        return y

    def embed_labels(self, y: Labels, shape: tuple[int, ...], like: torch.Tensor
                     ) -> torch.Tensor:
        """One-hot ``(*shape, num_classes)`` of labels ``y`` (broadcast to ``shape``); ``None``
        or ``-1`` give the zero vector (unconditional)."""
        y = self.labels_for(y, shape, like.device)
        known = (y >= 0)[..., None]
        return F.one_hot(y.clamp_min(0), self.num_classes).to(like.dtype) * known

    def split_batch(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(x, y)`` from ``(x, y)`` or a plain ``x`` (y = None: unconditional)."""
        if isinstance(batch, (tuple, list)):
            if len(batch) != 2:
                raise ShapeError(f"a cvae batch is x or (x, y), got a sequence of {len(batch)} "
                                 "items")
            x, y = batch
            y = torch.as_tensor(y, device=x.device).long().reshape(-1)
            if len(y) != len(x):
                raise ShapeError(f"{len(y)} labels for a batch of {len(x)} examples")
            return x, y
        return batch, None

    # ------------------------------------------------------------------ distributions
    def encode(self, x: torch.Tensor, y: Labels = None) -> Distribution:
        """q(z|x,y), batch ``(B,)``; without ``y`` (or y = -1) the unconditional encoder."""
        features = F.relu(self.encoder(x))
        onehot = self.embed_labels(y, (len(x),), features)
        return self.posterior_head(self.posterior_in(torch.cat([features, onehot], dim=-1)))

    def decode(self, z: torch.Tensor, y: Labels = None) -> Distribution:
        """p(x|z,y) for latents ``(..., D)`` and labels broadcastable to ``z.shape[:-1]``."""
        onehot = self.embed_labels(y, tuple(z.shape[:-1]), z)
        return super().decode(torch.cat([z, onehot], dim=-1))

    def conditional_prior(self, y: Labels, shape: tuple[int, ...] = ()) -> Distribution:
        """p(z|y) with batch shape ``shape`` (labels broadcast to it; -1 / None: unlabelled)."""
        if not self.config.conditional_prior:
            return self.pz().expand(shape) if shape else self.pz()
        device = self.prior_table.weight.device
        rows = self.labels_for(y, shape, device)
        rows = torch.where(rows < 0, torch.full_like(rows, self.num_classes), rows)
        mean, log_std = self.prior_table(rows).chunk(2, dim=-1)
        return Independent(Normal(mean, log_std.exp()), 1)

    def prior(self) -> Distribution:
        """The unlabelled prior p(z | no label), batch shape ``()`` (see the module docstring)."""
        return self.conditional_prior(None)

    # ---------------------------------------------------------------------- training
    def loss(self, x: Batch, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        """Negative conditional ELBO (eq. 4 of Sohn et al.) averaged over the batch."""
        ctx = ctx or LossContext()
        x, y = self.split_batch(x)
        qz_x = self.encode(x, y)
        z = qz_x.rsample()
        return elbo_loss(x, qz_x, self.conditional_prior(y, (len(x),)), self.decode(z, y), z,
                         kl_weight=ctx.kl_weight, free_bits=ctx.free_bits)

    # --------------------------------------------------------------------- utilities
    @torch.no_grad()
    def infer_labels(self, x: torch.Tensor) -> torch.Tensor:
        """The label ``(B,)`` under which each example is most probable: ``argmax_c`` of the
        conditional ELBO ``log p(x | z, c) - KL(q(z|x,c) || p(z|c))`` at ``z = E[q(z|x,c)]``
        (Bayes' rule with a uniform p(c)). For inputs whose label is unknown."""
        scores = []
        for c in range(self.num_classes):
            qz = self.encode(x, c)
            px = self.decode(qz.mean, c)
            pz = self.conditional_prior(c, (len(x),))
            scores.append(px.log_prob(x) - kl(qz, pz, qz.mean))
        return torch.stack(scores, dim=-1).argmax(dim=-1)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: Labels = None) -> torch.Tensor:
        """Mean of p(x | z = E[q(z|x,y)], y); without ``y`` both sides are unconditional."""
        return self.likelihood.mean_image(self.decode(self.encode(x, y).mean, y))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None,
               labels: Labels = None) -> torch.Tensor:
        """Means of p(x|z,c) for ``n`` draws z ~ p(z|c). ``labels``: one label for all, ``(n,)``
        labels, or None for labels drawn uniformly from ``generator`` (after the noise)."""
        device = self.posterior_in.weight.device
        gen_device = generator.device if generator is not None else device
        eps = torch.randn((n, self.latent_dim), generator=generator, device=gen_device)
        if labels is None:
            labels = torch.randint(self.num_classes, (n,), generator=generator,
                                   device=gen_device)
        labels = self.labels_for(torch.as_tensor(labels).to(device), (n,), device)
        pz = self.conditional_prior(labels, (n,))
        z = pz.mean + pz.stddev * eps.to(device)
        return self.likelihood.mean_image(self.decode(z, labels))
