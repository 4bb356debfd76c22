"""Bernoulli likelihood for binary (or [0, 1] grey-level) data."""

from __future__ import annotations

import torch
from torch.distributions import Bernoulli, Distribution, Independent

from vaekit.distributions.base import Likelihood
from vaekit.registry import LIKELIHOODS


@LIKELIHOODS.register("bernoulli")
class BernoulliLikelihood(Likelihood):
    """p(x|z) = prod_i Bernoulli(x_i; sigmoid(logits_i)).

    Validation is off so grey-level data in [0, 1] is accepted: the log-probability is then the
    negative binary cross-entropy, the usual (unnormalised) choice for MNIST-like data.
    """

    params_per_channel = 1

    def forward(self, params: torch.Tensor) -> Distribution:
        return Independent(
            Bernoulli(logits=params, validate_args=False), len(self.data_shape), validate_args=False
        )
