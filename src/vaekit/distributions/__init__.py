"""Posterior heads, priors and likelihoods as torch.distributions objects."""

from vaekit.distributions import (  # noqa: F401  (registration)
    bernoulli,
    discretized_logistic,
    gaussian,
    priors,
)
from vaekit.distributions.base import Likelihood
from vaekit.distributions.discretized_logistic import (
    DiscretizedLogistic,
    DiscretizedLogisticMixture,
)
from vaekit.distributions.kl import kl, kl_per_dim
from vaekit.distributions.posterior import DiagonalGaussianHead
from vaekit.distributions.priors import StandardNormalPrior

__all__ = [
    "DiagonalGaussianHead",
    "DiscretizedLogistic",
    "DiscretizedLogisticMixture",
    "Likelihood",
    "StandardNormalPrior",
    "kl",
    "kl_per_dim",
]
