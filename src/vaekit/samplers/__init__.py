"""Samplers: draw images from a trained model, from its prior or from a fitted latent density.

Every sampler has ``sample(n, generator=None) -> images (n, C, H, W)`` in [0, 1] and is callable
with the same arguments, which is what
:func:`vaekit.evaluation.generation.sample_quality` takes.
"""

from vaekit.samplers.base import PriorSampler, Sampler
from vaekit.samplers.gmm import GaussianMixtureSampler

__all__ = ["GaussianMixtureSampler", "PriorSampler", "Sampler"]
