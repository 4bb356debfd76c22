"""Encoder/decoder families, registered by name in ``vaekit.registry.NETWORKS``."""

from vaekit.nn import conv1d, conv28, conv64, mlp, resnet  # noqa: F401  (registration)
from vaekit.nn.base import NetworkFamily
from vaekit.nn.discriminator import FactorDiscriminator, permute_dims

__all__ = ["FactorDiscriminator", "NetworkFamily", "permute_dims"]
