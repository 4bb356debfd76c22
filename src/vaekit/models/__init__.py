"""The model zoo; each model is one file registered in ``vaekit.registry.MODELS``."""

from vaekit.models import annealed_vae, beta_vae, iwae, vae  # noqa: F401  (registration)
from vaekit.models.base import BaseVAE, LossContext, VAEConfig, build_model

__all__ = ["BaseVAE", "LossContext", "VAEConfig", "build_model"]
