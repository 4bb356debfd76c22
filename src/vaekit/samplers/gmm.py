"""Ex-post density estimation: sample from a Gaussian mixture fitted to the aggregate posterior.

Ghosh, Sajjadi, Vergari, Black & Schölkopf (2020), "From Variational to Deterministic
Autoencoders", ICLR, sec. 4: after training, fit a density to the codes of the training data and
decode samples from it instead of from the prior p(z). With a VAE, the aggregate posterior
q(z) = E_x q(z|x) often leaves holes in p(z) that decode to poor images; a 10-component GMM on
the posterior means E[q(z|x)] (their choice, full covariances) usually improves sample quality
at no training cost.

The mixture is fitted by scikit-learn's EM; sampling is done here in torch so that it is
reproducible with a ``torch.Generator`` (``None``: the global torch RNG).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.mixture import GaussianMixture

from vaekit.evaluation.latents import encode_dataset
from vaekit.evaluation.likelihood import DataLike
from vaekit.samplers.base import _check_count, decode_latents

if TYPE_CHECKING:
    from vaekit.models.base import BaseVAE


def _scale_trils(gmm: GaussianMixture) -> np.ndarray:
    """Cholesky factors ``(K, D, D)`` of every component covariance, for any covariance type."""
    k, d = gmm.means_.shape
    cov = np.asarray(gmm.covariances_, dtype=np.float64)
    if gmm.covariance_type == "full":
        return np.linalg.cholesky(cov)
    if gmm.covariance_type == "tied":
        return np.broadcast_to(np.linalg.cholesky(cov), (k, d, d)).copy()
    if gmm.covariance_type == "diag":
        return np.sqrt(cov)[:, :, None] * np.eye(d)
    if gmm.covariance_type == "spherical":
        return np.sqrt(cov)[:, None, None] * np.eye(d)
    raise ValueError(f"unknown covariance_type '{gmm.covariance_type}'")


class GaussianMixtureSampler:
    """Decode z drawn from a GMM fitted to the posterior means of the training data.

    ``GaussianMixtureSampler(model, num_components=10, covariance_type="full", seed=0)
    .fit(train_data)`` then ``.sample(n, generator)`` -> mean images ``(n, C, H, W)``, decoded
    as ``model.sample`` decodes prior draws. ``seed`` seeds the EM initialisation, so the fit is
    reproducible; ``covariance_type`` is any of scikit-learn's (full, tied, diag, spherical).
    """

    def __init__(
        self,
        model: BaseVAE,
        num_components: int = 10,
        covariance_type: str = "full",
        seed: int = 0,
        *,
        batch_size: int = 1000,
        **gmm_options: Any,
    ) -> None:
        self.model = model
        self.num_components = int(num_components)
        self.covariance_type = covariance_type
        self.seed = seed
        self.batch_size = int(batch_size)
        self.gmm_options = gmm_options
        self.mixture: GaussianMixture | None = None
        self._weights: torch.Tensor | None = None
        self._means: torch.Tensor | None = None
        self._scale_trils: torch.Tensor | None = None

    def fit(self, dataset: DataLike, max_examples: int | None = None,
            batch_size: int = 256) -> GaussianMixtureSampler:
        """Fit the mixture to E[q(z|x)] of (at most ``max_examples`` of) ``dataset``."""
        means, _ = encode_dataset(self.model, dataset, batch_size=batch_size,
                                  max_examples=max_examples)
        if len(means) < self.num_components:
            raise ValueError(f"{len(means)} codes cannot fit {self.num_components} components")
        gmm = GaussianMixture(n_components=self.num_components,
                              covariance_type=self.covariance_type,
                              random_state=self.seed, **self.gmm_options)
        gmm.fit(means.astype(np.float64))
        self.mixture = gmm
        self._weights = torch.as_tensor(gmm.weights_, dtype=torch.float64)
        self._means = torch.as_tensor(gmm.means_, dtype=torch.float64)
        self._scale_trils = torch.as_tensor(_scale_trils(gmm), dtype=torch.float64)
        return self

    @property
    def mixture_mean(self) -> np.ndarray:
        """Mean of the fitted mixture, ``sum_k w_k mu_k`` ``(D,)``."""
        if self._weights is None or self._means is None:
            raise RuntimeError("call fit() first")
        return (self._weights @ self._means).numpy()

    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` codes ``(n, D)`` (float64, CPU) drawn from the fitted mixture."""
        if self._weights is None or self._means is None or self._scale_trils is None:
            raise RuntimeError("call fit() before sampling")
        _check_count(n, self.batch_size)
        if n == 0:
            return torch.empty((0, self._means.shape[1]), dtype=torch.float64)
        device = generator.device if generator is not None else torch.device("cpu")
        weights = self._weights.to(device)
        component = torch.multinomial(weights, n, replacement=True, generator=generator)
        eps = torch.randn((n, self._means.shape[1]), generator=generator, device=device,
                          dtype=torch.float64)
        component = component.cpu()
        eps = eps.cpu()
        return self._means[component] + (self._scale_trils[component] @ eps[:, :, None])[..., 0]

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean images ``(n, C, H, W)`` of p(x|z) for z from the mixture."""
        return decode_latents(self.model, self.sample_latents(n, generator), self.batch_size)

    __call__ = sample
