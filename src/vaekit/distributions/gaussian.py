"""Gaussian likelihoods for real-valued (or [0, 1] image) data.

``log_prob`` is a *density* (nats per example): for data that are really 8-bit images it is not
comparable with the discrete likelihoods (Bernoulli, discretized logistic) unless corrected for
the bin width (Theis et al. 2016, "A note on the evaluation of generative models").

The mean is the raw decoder output, with no sigmoid: a sigmoid mean cannot reach exactly 0 or 1,
so on images with saturated pixels (MNIST's black background) it pushes logits to +-infinity and
its gradient vanishes there. ``Likelihood.mean_image`` clamps the mean to [0, 1] for display.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Distribution, Independent, Normal

from vaekit.distributions.base import Likelihood
from vaekit.errors import ConfigError
from vaekit.registry import LIKELIHOODS

DEFAULT_STD = 0.1
# Floor on learned standard deviations: about the std of uniform noise inside one 8-bit grey
# level (1 / 255 / sqrt(12) ~= 1.1e-3). Without a floor the likelihood of a deep latent variable
# model is unbounded (Mattei & Frellsen 2018, "Leveraging the exact likelihood of deep latent
# variable models"): a pixel that is reconstructed exactly drives its variance to zero.
DEFAULT_MIN_STD = 1e-3


def _full_precision(params: torch.Tensor) -> torch.Tensor:
    """Half-precision decoder outputs (autocast) -> float32: a log-likelihood summed over
    thousands of pixels in bfloat16 (8 mantissa bits) is off by whole nats."""
    return params.float() if params.dtype in (torch.float16, torch.bfloat16) else params


@LIKELIHOODS.register("gaussian")
class GaussianLikelihood(Likelihood):
    """p(x|z) = prod_i N(x_i; mu_i, std^2) with a fixed ``std`` (default 0.1).

    With a fixed std the reconstruction term is ``SSE / (2 std^2)`` plus a constant, i.e. a
    weighted squared error. The default 0.1 (in units of [0, 1] pixels) is close to the
    reconstruction error a VAE actually reaches on natural-image datasets, so it is near the
    maximum-likelihood std (Rybkin et al. 2021, "Simple and effective VAE training with
    calibrated decoders"); std = 1 makes the reconstruction term so weak relative to the KL that
    the posterior tends to collapse and samples are a blur. ``params_per_channel = 1`` (the mean).
    """

    params_per_channel = 1

    def __init__(self, data_shape: tuple[int, ...], std: float = DEFAULT_STD) -> None:
        super().__init__(data_shape)
        if not float(std) > 0:
            raise ConfigError(f"likelihood 'gaussian': std must be positive, got {std}")
        self.std = float(std)

    def forward(self, params: torch.Tensor) -> Distribution:
        params = _full_precision(params)
        scale = torch.full_like(params, self.std)
        return Independent(Normal(params, scale), len(self.data_shape))

    def extra_repr(self) -> str:
        return f"std={self.std}"


@LIKELIHOODS.register("gaussian_learned")
class LearnedGaussianLikelihood(Likelihood):
    """p(x|z) = prod_i N(x_i; mu_i, sigma_i^2) with a learned standard deviation.

    ``variance="per_pixel"`` (default): the decoder emits two maps per channel, the mean and a
    raw scale, ``sigma = softplus(raw) + min_std`` (softplus rather than exp so a large raw
    output cannot overflow; the same map as the posterior head), ``params_per_channel = 2``.

    ``variance="shared"``: one learned scalar for the whole image, ``sigma = exp(log_std) +
    min_std``, the "sigma-VAE" of Rybkin et al. (2021); ``params_per_channel = 1``. Its maximum
    likelihood value is the root mean squared reconstruction error, so it calibrates the balance
    between reconstruction and KL without a hand-tuned beta. It starts at ``init_std``
    (default 0.1, the fixed ``gaussian`` default, so early training matches that model).

    ``min_std`` (default 1e-3, about one 8-bit grey level's quantisation noise) bounds sigma
    away from zero; see the module constant for why.
    """

    params_per_channel = 2

    def __init__(
        self,
        data_shape: tuple[int, ...],
        variance: str = "per_pixel",
        min_std: float = DEFAULT_MIN_STD,
        init_std: float = DEFAULT_STD,
    ) -> None:
        super().__init__(data_shape)
        if variance not in ("per_pixel", "shared"):
            raise ConfigError(
                f"likelihood 'gaussian_learned': variance must be 'per_pixel' or 'shared', "
                f"got {variance!r}"
            )
        if not float(min_std) >= 0:
            raise ConfigError(
                f"likelihood 'gaussian_learned': min_std must be >= 0, got {min_std}"
            )
        if not float(init_std) > float(min_std):
            raise ConfigError(
                f"likelihood 'gaussian_learned': init_std must exceed min_std ({min_std}), "
                f"got {init_std}"
            )
        self.variance = variance
        self.min_std = float(min_std)
        # An instance attribute: the model reads it to size the decoder's output.
        self.params_per_channel = 2 if variance == "per_pixel" else 1
        if variance == "shared":
            # Log-parameterised so gradient steps are relative changes of sigma.
            self.log_std = nn.Parameter(torch.tensor(math.log(float(init_std) - self.min_std)))
        else:
            self.register_parameter("log_std", None)

    @property
    def shared_std(self) -> torch.Tensor | None:
        """The learned shared sigma (a scalar tensor), or None for per-pixel variance."""
        if self.log_std is None:
            return None
        return self.log_std.exp() + self.min_std

    def forward(self, params: torch.Tensor) -> Distribution:
        params = _full_precision(params)
        if self.variance == "per_pixel":
            mean, raw_scale = self.split(params)
            scale = F.softplus(raw_scale) + self.min_std
        else:
            mean = params
            scale = self.shared_std.to(params.dtype).expand_as(params)
        return Independent(Normal(mean, scale), len(self.data_shape))

    def extra_repr(self) -> str:
        return f"variance={self.variance!r}, min_std={self.min_std}"
