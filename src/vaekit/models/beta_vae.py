"""beta-VAE.

Higgins et al. (2017), "beta-VAE: Learning Basic Visual Concepts with a Constrained Variational
Framework", ICLR. The KL term is weighted by beta > 1, pressing the posterior towards the
factorised prior and so towards disentangled codes, at some cost in reconstruction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vaekit.config import check
from vaekit.models.base import VAEConfig
from vaekit.models.vae import VAE
from vaekit.registry import MODELS


@dataclass
class BetaVAEConfig(VAEConfig):
    config_type: ClassVar[str] = "beta_vae"

    beta: float = 4.0  # the paper's dSprites setting

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.beta >= 0, f"model.beta must be >= 0, got {self.beta}")


@MODELS.register("beta_vae")
class BetaVAE(VAE):
    """Minimises ``recon + beta * KL``."""

    config_class: ClassVar[type] = BetaVAEConfig

    def beta(self) -> float:
        return self.config.beta
