"""Loss functions: pure, returning a flat dict of per-example-averaged scalars in nats."""

from vaekit.losses.elbo import capacity_loss, elbo_loss, kl_terms
from vaekit.losses.iwae import iwae_bound, iwae_loss, log_importance_weights

__all__ = [
    "capacity_loss", "elbo_loss", "iwae_bound", "iwae_loss", "kl_terms", "log_importance_weights",
]
