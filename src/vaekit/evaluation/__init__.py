"""Evaluation: likelihood bounds, latent statistics and one-call reports.

Importing this package registers the scalar evaluations in :data:`vaekit.registry.METRICS`
(``elbo``, ``iwae_nll``, ``active_units``, ``kl_per_dim``, ``reconstruction_error``).
"""

from vaekit.evaluation import disentanglement  # noqa: F401  (registers the metrics)
from vaekit.evaluation.latents import (
    ActiveUnits,
    active_units,
    encode_dataset,
    kl_per_dimension,
    reconstruction_error,
)
from vaekit.evaluation.likelihood import estimate_nll, evaluate_elbo, iter_batches, iwae_bound
from vaekit.evaluation.report import evaluate_model

__all__ = [
    "ActiveUnits",
    "active_units",
    "encode_dataset",
    "estimate_nll",
    "evaluate_elbo",
    "evaluate_model",
    "iter_batches",
    "iwae_bound",
    "kl_per_dimension",
    "reconstruction_error",
]
