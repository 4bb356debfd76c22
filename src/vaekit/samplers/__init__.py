"""Samplers: draw images from a trained model, from its prior or from a fitted latent density.

Every sampler has ``sample(n, generator=None) -> images (n, C, H, W)`` in [0, 1] and is callable
with the same arguments, which is what
:func:`vaekit.evaluation.generation.sample_quality` takes. Those that fit a density to the codes
of the training data have ``fit(dataset, max_examples=None, batch_size=256) -> self``
(``PriorSampler.fit`` does nothing).

They are registered by name in :data:`SAMPLERS` so that configs and the CLI can pick one::

    sampler = build_sampler("maf", model, steps=1000).fit(train_data)
    images = sampler(64, torch.Generator().manual_seed(0))

- ``prior``: :class:`PriorSampler`, z ~ p(z).
- ``gmm``: :class:`GaussianMixtureSampler`, a Gaussian mixture on E[q(z|x)] (Ghosh et al. 2020).
- ``two_stage``: :class:`TwoStageVAESampler`, a second VAE on the codes (Dai & Wipf 2019).
- ``maf``: :class:`FlowSampler`, a masked autoregressive flow on E[q(z|x)]
  (Papamakarios et al. 2017).
- ``code_prior``: :class:`CodePriorSampler`, an autoregressive transformer over the discrete
  code grids of a VQ-VAE, fitted to the frozen codes (van den Oord et al. 2017).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vaekit.registry import Registry
from vaekit.samplers.base import PriorSampler, Sampler
from vaekit.samplers.code_prior import CodePriorSampler
from vaekit.samplers.gmm import GaussianMixtureSampler
from vaekit.samplers.maf import FlowSampler, MaskedAutoregressiveFlow
from vaekit.samplers.two_stage import TwoStageVAESampler

if TYPE_CHECKING:
    from vaekit.models.base import BaseVAE

SAMPLERS: Registry[Any] = Registry("sampler")
SAMPLERS.register("prior")(PriorSampler)
SAMPLERS.register("gmm")(GaussianMixtureSampler)
SAMPLERS.register("two_stage")(TwoStageVAESampler)
SAMPLERS.register("maf")(FlowSampler)
SAMPLERS.register("code_prior")(CodePriorSampler)


def build_sampler(name: str, model: BaseVAE, **options: Any) -> Any:
    """The sampler registered as ``name`` for ``model``, built with ``options`` (its keyword
    arguments, e.g. ``num_components`` for ``gmm``); not yet fitted. An unknown name raises
    :class:`~vaekit.errors.RegistryError` listing the known ones."""
    return SAMPLERS.build(name, model, **options)


__all__ = [
    "SAMPLERS",
    "CodePriorSampler",
    "FlowSampler",
    "GaussianMixtureSampler",
    "MaskedAutoregressiveFlow",
    "PriorSampler",
    "Sampler",
    "TwoStageVAESampler",
    "build_sampler",
]
