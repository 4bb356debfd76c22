"""The model zoo; each model is one file registered in ``vaekit.registry.MODELS``."""

from vaekit.models import (  # noqa: F401  (registration)
    aae,
    annealed_vae,
    autoencoder,
    beta_tcvae,
    beta_vae,
    ciwae,
    cvae,
    dip_vae,
    factor_vae,
    hamiltonian_vae,
    hierarchical_vae,
    info_vae,
    iwae,
    m2,
    miwae,
    msssim_vae,
    munit,
    piwae,
    pvae,
    rae,
    soft_intro_vae,
    svae,
    unit,
    vae,
    vae_gan,
    vae_iaf,
    vae_linnf,
    vamp_vae,
    vq_vae,
    wae_mmd,
)
from vaekit.models.base import BaseVAE, LossContext, VAEConfig, build_model

__all__ = ["BaseVAE", "LossContext", "VAEConfig", "build_model"]
