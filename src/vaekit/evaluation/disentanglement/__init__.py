"""Disentanglement metrics over ground-truth-factor datasets or plain (factors, codes) arrays.

Importing this package registers every metric in :data:`vaekit.registry.METRICS`. The metric
modules are imported by name (not their functions) because several share their module's name.
"""

from vaekit.evaluation.disentanglement import (  # noqa: F401  (registration)
    beta_vae_score,
    dci,
    factor_vae_score,
    irs,
    mig,
    mig_chen,
    modularity,
    sap,
)
from vaekit.evaluation.disentanglement.base import (
    mean_representation,
    sample_codes,
)

__all__ = ["mean_representation", "sample_codes"]
