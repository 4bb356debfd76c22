"""Semi-supervised VAE "M2".

Kingma, Rezende, Mohamed & Welling (2014), "Semi-supervised Learning with Deep Generative
Models", NeurIPS. The class label y is a second latent variable, observed for some examples::

    p(y) = Cat(1/C),  p(z) = N(0, I),  p(x | y, z)                      (eq. 3)
    q(y | x) = Cat(pi(x)),  q(z | x, y) = N(mu(x, y), diag(sigma^2(x, y)))   (eq. 4)

    labelled:   -L(x, y) = E_q(z|x,y)[log p(x|y,z) + log p(y) + log p(z) - log q(z|x,y)]  (eq. 6)
    unlabelled: -U(x)    = sum_y q(y|x) (-L(x, y)) + H(q(y|x))                            (eq. 7)
    J^alpha = sum_labelled L + sum_unlabelled U + alpha E_labelled[-log q(y|x)]          (eq. 8-9)

with ``alpha = 0.1 N``. Divided by N to average per example, eq. 9 puts the weight
``alpha / N = 0.1`` on the mean cross-entropy of the labelled examples: ``classifier_weight``.
The marginalisation over y in U is exact (every class is decoded).

Batches: ``loss`` takes ``x`` (all unlabelled) or ``(x, y)`` with ``y = -1`` marking unlabelled
examples. vaekit's engine currently passes image tensors only (``training/data.py``
``collate`` drops labels), so through ``vaekit.train`` the model sees unlabelled data and
trains on U alone.

Networks: ``q(y|x)`` is its own encoder of the configured family (output ``num_classes``
logits). ``q(z|x,y)`` is the configured encoder to ``feature_dim`` features, to which a learned
embedding of y is added (a linear layer on the concatenation [features, one-hot y]), then tanh
and a linear map to the Gaussian's parameters. The decoder is the configured family fed
``[z, one-hot y]``.

Generic interface: ``encode(x)`` is the marginal ``q(z|x) = sum_y q(y|x) q(z|x,y)`` (a mixture)
and ``decode(z)`` the marginal ``p(x|z) = sum_y p(y) p(x|y,z)``; pass ``y`` to ``decode`` for a
class-conditional likelihood. ``log_importance_weights`` samples (y, z) jointly from q, so the
NLL estimate is of log p(x) with y marginalised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import (
    Categorical,
    Distribution,
    Independent,
    MixtureSameFamily,
    kl_divergence,
)

from vaekit.config import check
from vaekit.distributions.sampling import sample_posterior
from vaekit.errors import ShapeError
from vaekit.models.base import BaseVAE, LossContext, VAEConfig, _call_with_options
from vaekit.registry import MODELS, NETWORKS

UNLABELLED = -1

Batch = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | list[torch.Tensor]


@dataclass
class M2Config(VAEConfig):
    config_type: ClassVar[str] = "m2"

    num_classes: int = 10
    classifier_weight: float = 0.1  # alpha / N of eq. 9 (alpha = 0.1 N)
    feature_dim: int = 500  # features of x in q(z|x,y) (the paper's 500-unit hidden layers)

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.num_classes >= 2, f"model.num_classes must be >= 2, got {self.num_classes}")
        check(self.classifier_weight >= 0,
              f"model.classifier_weight must be >= 0, got {self.classifier_weight}")
        check(self.feature_dim > 0, f"model.feature_dim must be positive, got {self.feature_dim}")


def split_batch(batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` from ``x`` (labels all -1) or ``(x, y)``; y as int64 ``(B,)``."""
    if isinstance(batch, (tuple, list)):
        if len(batch) != 2:
            raise ShapeError(f"an m2 batch is x or (x, y), got a sequence of {len(batch)} items")
        x, y = batch
        y = torch.as_tensor(y, device=x.device).long().reshape(-1)
        if len(y) != len(x):
            raise ShapeError(f"{len(y)} labels for a batch of {len(x)} examples")
        return x, y
    return batch, torch.full((len(batch),), UNLABELLED, dtype=torch.long, device=batch.device)


@MODELS.register("m2")
class M2(BaseVAE):
    """Semi-supervised VAE; see the module docstring for the objective and the interface."""

    config_class: ClassVar[type] = M2Config
    uses_labels: ClassVar[bool] = True  # the trainer serves (x, y); y = -1 marks unlabelled

    def __init__(self, config: M2Config) -> None:
        super().__init__(config)
        family, options = NETWORKS.get(config.network), config.network_options
        classes, width = config.num_classes, config.feature_dim
        self.classifier = _call_with_options(family.encoder, "network", config.network,
                                             config.data_shape, classes, **options)
        self.label_embedding = nn.Linear(classes, width, bias=False)
        self.posterior_out = nn.Linear(width, 2 * config.latent_dim)
        # p(x|y,z) takes [z, one-hot y].
        self.decoder = _call_with_options(
            family.decoder, "network", config.network, config.latent_dim + classes,
            config.data_shape, self.likelihood.params_per_channel * config.data_shape[0],
            **options)

    def encoder_features(self) -> int:
        return self.config.feature_dim

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    def _one_hot(self, y: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return F.one_hot(y, self.num_classes).to(like.dtype)

    # ------------------------------------------------------------------ distributions
    def classify(self, x: torch.Tensor) -> Categorical:
        """q(y|x), batch shape ``(B,)``."""
        return Categorical(logits=self.classifier(x))

    def _posterior(self, features: torch.Tensor, y: torch.Tensor) -> Independent:
        hidden = torch.tanh(features + self.label_embedding(self._one_hot(y, features)))
        return self.posterior_head(self.posterior_out(hidden))

    def encode_given(self, x: torch.Tensor, y: torch.Tensor) -> Independent:
        """q(z|x,y) for labels ``y`` ``(B,)``."""
        return self._posterior(self.encoder(x), y)

    def encode(self, x: torch.Tensor) -> Distribution:
        """The marginal q(z|x) = sum_y q(y|x) q(z|x,y): a mixture, batch ``(B,)``."""
        features = self.encoder(x)
        classes = torch.arange(self.num_classes, device=x.device)
        per_class = self._posterior(features.unsqueeze(1), classes.expand(len(x), -1))
        return MixtureSameFamily(self.classify(x), per_class, validate_args=False)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> Distribution:
        """p(x|y,z) for labels ``y`` (shape ``z.shape[:-1]``), or without ``y`` the marginal
        ``sum_y p(y) p(x|y,z)`` (a mixture with batch shape ``z.shape[:-1]``)."""
        if y is not None:
            return super().decode(torch.cat([z, self._one_hot(y, z)], dim=-1))
        classes = torch.arange(self.num_classes, device=z.device)
        z_all = z.unsqueeze(-2).expand(*z.shape[:-1], self.num_classes, z.shape[-1])
        px = super().decode(torch.cat([z_all, self._one_hot(classes, z).expand(
            *z.shape[:-1], -1, -1)], dim=-1))
        uniform = Categorical(logits=torch.zeros(self.num_classes, device=z.device))
        return MixtureSameFamily(uniform, px, validate_args=False)

    def log_prior_y(self) -> float:
        return -math.log(self.num_classes)

    # ------------------------------------------------------------------------ bounds
    def labelled_terms(self, x: torch.Tensor, y: torch.Tensor, num_samples: int = 1,
                       generator: torch.Generator | None = None,
                       features: torch.Tensor | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """(``-E log p(x|y,z)``, ``KL(q(z|x,y) || p(z)) - log p(y)``) per example: their sum is
        L(x, y) of eq. 6. ``num_samples`` draws of z, averaged."""
        features = self.encoder(x) if features is None else features
        qz = self._posterior(features, y)
        z = qz.rsample((num_samples,)) if generator is None else \
            sample_posterior(qz, num_samples, generator)
        recon = -self.decode(z, y.expand(num_samples, -1)).log_prob(x).mean(0)
        kl_z = kl_divergence(qz, self.prior())
        return recon, kl_z - self.log_prior_y()

    def class_terms(self, x: torch.Tensor, num_samples: int = 1,
                    generator: torch.Generator | None = None,
                    features: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`labelled_terms` for every class: ``(B, C)`` each. The batch is repeated class
        by class (x of class 0 first), one draw per (x, y) pair."""
        b, c = len(x), self.num_classes
        features = self.encoder(x) if features is None else features
        y_all = torch.arange(c, device=x.device).repeat_interleave(b)
        recon, kl = self.labelled_terms(x.repeat(c, *([1] * (x.dim() - 1))), y_all,
                                        num_samples, generator, features.repeat(c, 1))
        return recon.view(c, b).T, kl.view(c, b).T

    def unlabelled_terms(self, x: torch.Tensor, num_samples: int = 1,
                         generator: torch.Generator | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor, Categorical]:
        """(recon, KL) per example with U(x) = recon + KL (eq. 7): ``recon = sum_y q(y|x)
        recon_y`` and ``KL = sum_y q(y|x) KL_y + KL(q(y|x) || p(y))``; and q(y|x)."""
        qy = self.classify(x)
        recon_c, kl_c = self.class_terms(x, num_samples, generator)
        # kl_c holds KL_y - log p(y), so sum_y q(y) kl_c - H(q) = sum_y q(y) KL_y + KL(q || p(y)).
        kl = (qy.probs * kl_c).sum(-1) - qy.entropy()
        return (qy.probs * recon_c).sum(-1), kl, qy

    # ---------------------------------------------------------------------- training
    def loss(self, x: Batch, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        """Per-example average of eq. 9 over the batch: labelled examples contribute L(x, y)
        and ``classifier_weight * -log q(y|x)``, unlabelled ones U(x)."""
        ctx = ctx or LossContext()
        x, y = split_batch(x)
        labelled = y != UNLABELLED
        recon, kl = torch.zeros(len(x), device=x.device), torch.zeros(len(x), device=x.device)
        cross_entropy = accuracy = torch.zeros((), device=x.device)
        if labelled.any():
            xl, yl = x[labelled], y[labelled]
            recon[labelled], kl[labelled] = self.labelled_terms(xl, yl)
            qy = self.classify(xl)
            cross_entropy = -qy.log_prob(yl).mean()
            accuracy = (qy.logits.argmax(-1) == yl).float().mean()
        if (~labelled).any():
            recon[~labelled], kl[~labelled], _ = self.unlabelled_terms(x[~labelled])
        kl_objective = kl.mean()
        if ctx.free_bits > 0:
            kl_objective = kl_objective.clamp_min(ctx.free_bits)
        return {
            "loss": (recon.mean() + ctx.kl_weight * kl_objective
                     + self.config.classifier_weight * cross_entropy),
            "elbo": -(recon + kl).mean(),
            "recon": recon.mean(),
            "kl": kl.mean(),
            "classifier_ce": cross_entropy.detach(),
            "accuracy": accuracy,
            "labelled_fraction": labelled.float().mean(),
        }

    # -------------------------------------------------------------- evaluation hooks
    def log_importance_weights(self, x: torch.Tensor, num_samples: int,
                               generator: torch.Generator | None = None) -> torch.Tensor:
        """``log p(x|y,z) + log p(y) + log p(z) - log q(y|x) - log q(z|x,y)`` for (y, z) drawn
        jointly from q, shape ``(K, B)``."""
        b = len(x)
        qy = self.classify(x)
        probs = qy.probs if generator is None else qy.probs.to(generator.device)
        y = torch.multinomial(probs, num_samples, replacement=True, generator=generator)
        y = y.to(x.device).T.reshape(-1)  # (K * B,), sample-major
        x_rep = x.repeat(num_samples, *([1] * (x.dim() - 1)))
        qz = self._posterior(self.encoder(x).repeat(num_samples, 1), y)
        z = sample_posterior(qz, 1, generator)[0]
        log_w = (self.decode(z, y).log_prob(x_rep) + self.log_prior_y()
                 + self.prior().log_prob(z) - qz.log_prob(z)
                 - qy.log_prob(y.view(num_samples, b)).reshape(-1))
        return log_w.view(num_samples, b)

    def elbo_terms(self, x: torch.Tensor, num_samples: int = 1,
                   generator: torch.Generator | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """(recon, KL) of the unlabelled bound U(x) (y marginalised exactly)."""
        recon, kl, _ = self.unlabelled_terms(x, num_samples, generator)
        return recon, kl

    # --------------------------------------------------------------------- utilities
    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Mean of p(x | y, z) at the classifier's most probable y and the mean of q(z|x,y)."""
        y = self.classify(x).logits.argmax(-1)
        return self.likelihood.mean_image(self.decode(self.encode_given(x, y).mean, y))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None,
               y: torch.Tensor | None = None) -> torch.Tensor:
        """Means of p(x|y,z) for z ~ p(z) and y ~ p(y) (or the given labels ``(n,)``)."""
        z = self.sample_prior(n, generator)
        if y is None:
            device = generator.device if generator is not None else z.device
            y = torch.randint(self.num_classes, (n,), generator=generator, device=device)
        return self.likelihood.mean_image(self.decode(z, y.to(z.device)))
