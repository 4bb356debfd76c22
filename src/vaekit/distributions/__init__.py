"""Posterior heads, priors and likelihoods as torch.distributions objects."""

from vaekit.distributions import bernoulli, priors  # noqa: F401  (registration)
from vaekit.distributions.base import Likelihood
from vaekit.distributions.kl import kl, kl_per_dim
from vaekit.distributions.posterior import DiagonalGaussianHead
from vaekit.distributions.priors import StandardNormalPrior

__all__ = ["DiagonalGaussianHead", "Likelihood", "StandardNormalPrior", "kl", "kl_per_dim"]
