"""Loss functions: pure, returning a flat dict of per-example-averaged scalars in nats."""

from vaekit.losses.elbo import capacity_loss, elbo_loss, kl_terms
from vaekit.losses.iwae import iwae_bound, iwae_loss, log_importance_weights
from vaekit.losses.total_correlation import (
    decomposition_terms,
    estimate_log_qz,
    exact_log_qz,
    minibatch_log_weights,
    tc_decomposition,
)

__all__ = [
    "capacity_loss", "decomposition_terms", "elbo_loss", "estimate_log_qz", "exact_log_qz",
    "iwae_bound", "iwae_loss", "kl_terms", "log_importance_weights", "minibatch_log_weights",
    "tc_decomposition",
]
