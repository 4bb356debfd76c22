"""An autoregressive prior over the discrete codes of a trained VQ-VAE, fitted after training.

van den Oord et al. (2017), "Neural Discrete Representation Learning", sec. 3.2 / 4: once the
autoencoder is trained, a second model learns p(codes) over the grid of code indices of the
training images (the paper uses a PixelCNN; here the causal transformer of
:mod:`vaekit.nn.code_prior`), and new images are decoded from codes drawn from it. ``vq_vae``
already trains such a prior alongside the autoencoder; this sampler fits a fresh one to the
frozen codes of any dataset (e.g. to give a model trained without a useful prior one, or a
bigger prior than the one trained with it), behind the common ``fit(dataset)`` /
``sample(n)`` interface of the samplers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from vaekit.errors import ConfigError
from vaekit.evaluation.likelihood import DataLike, evaluating, iter_batches, model_device
from vaekit.nn.code_prior import CausalTransformerPrior
from vaekit.samplers.base import _check_count, seeded_init, train_on_codes

if TYPE_CHECKING:
    from vaekit.models.base import BaseVAE


class CodePriorSampler:
    """Images decoded from code grids drawn from a causal transformer fitted to the codes of a
    dataset. ``steps`` Adam steps of ``batch_size`` grids at ``lr``; ``width``/``layers``/
    ``heads``: the transformer's size; ``temperature`` divides its logits when sampling."""

    def __init__(self, model: BaseVAE, steps: int = 2000, batch_size: int = 64, lr: float = 3e-4,
                 width: int = 64, layers: int = 2, heads: int = 4, temperature: float = 1.0,
                 seed: int = 0) -> None:
        if not all(hasattr(model, name) for name in ("encode_codes", "decode_codes")):
            raise ConfigError(f"sampler 'code_prior' needs a model with discrete codes "
                              f"(vq_vae), not {type(model).__name__}; use 'gmm' or 'maf' for "
                              "continuous latents")
        if steps < 0 or batch_size < 1 or not lr > 0 or not temperature > 0:
            raise ValueError("code_prior needs steps >= 0, batch_size >= 1, lr > 0 and "
                             "temperature > 0")
        self.model = model
        self.steps, self.batch_size, self.lr = int(steps), int(batch_size), float(lr)
        self.temperature = float(temperature)
        self.seed = int(seed)
        with seeded_init(self.seed):
            self.prior = CausalTransformerPrior(model.quantizer.num_codes, model.grid_shape,
                                                width=width, layers=layers, heads=heads)
        self.prior.to(model_device(model))
        self.losses = torch.empty(0)

    def codes_of(self, dataset: DataLike, max_examples: int | None = None,
                 batch_size: int = 256) -> torch.Tensor:
        """Code grids ``(N, H', W')`` of (at most ``max_examples`` of) ``dataset``."""
        with evaluating(self.model), torch.random.fork_rng(devices=[]):
            grids = [self.model.encode_codes(x) for x in iter_batches(
                dataset, batch_size, max_examples, model_device(self.model),
                self.model.data_shape)]
        return torch.cat(grids)

    def fit(self, dataset: DataLike, max_examples: int | None = None,
            batch_size: int = 256) -> CodePriorSampler:
        """Fit the prior to the codes of ``dataset``; ``self.losses`` holds each step's mean
        negative log-likelihood per grid (nats)."""
        codes = self.codes_of(dataset, max_examples, batch_size)
        generator = torch.Generator(device=codes.device).manual_seed(self.seed)
        self.losses = train_on_codes(
            self.prior, lambda index: -self.prior.log_prob(codes[index]).mean(), len(codes),
            steps=self.steps, batch_size=self.batch_size, lr=self.lr, generator=generator)
        return self

    @torch.no_grad()
    def nll(self, dataset: DataLike, max_examples: int | None = None) -> float:
        """Mean -log p(codes) (nats per grid) of the prior on the codes of ``dataset``."""
        self.prior.eval()
        return float(-self.prior.log_prob(self.codes_of(dataset, max_examples)).mean())

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        _check_count(n, self.batch_size)
        self.prior.eval()
        codes = self.prior.sample(n, generator=generator, temperature=self.temperature)
        with evaluating(self.model):
            return self.model.likelihood.mean_image(self.model.decode_codes(codes))

    __call__ = sample
