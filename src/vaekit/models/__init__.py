"""The model zoo; each model is one file registered in ``vaekit.registry.MODELS``."""

from vaekit.models import (  # noqa: F401  (registration)
    annealed_vae,
    beta_tcvae,
    beta_vae,
    dip_vae,
    factor_vae,
    hierarchical_vae,
    iwae,
    vae,
    vq_vae,
)
from vaekit.models.base import BaseVAE, LossContext, VAEConfig, build_model

__all__ = ["BaseVAE", "LossContext", "VAEConfig", "build_model"]
