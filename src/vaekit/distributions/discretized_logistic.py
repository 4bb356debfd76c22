"""Discretized logistic likelihoods for 8-bit (or ``n_bins``-level) images in [0, 1].

The discretized logistic of Kingma et al. (2016, "Improved variational inference with inverse
autoregressive flow") and its mixture from PixelCNN++ (Salimans et al. 2017, "PixelCNN++:
improving the PixelCNN with discretized logistic mixture likelihood and other modifications"):
a continuous logistic(loc, scale) is integrated over the bin of each grey level, and the two edge
bins absorb the tails, so the probabilities of the ``n_bins`` levels sum to exactly one and
``-log_prob`` is a true code length (nats; divide by ``numel * log 2`` for bits/dim).

Data live in [0, 1] with bin centres ``k / (n_bins - 1)`` (``k = 0 .. n_bins-1``), i.e. the
``x / 255`` of 8-bit images; PixelCNN++ works on [-1, 1], so its scales are twice ours.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.distributions import Categorical, Distribution, Independent, constraints
from torch.distributions.utils import broadcast_all

from vaekit.distributions.base import Likelihood
from vaekit.errors import ConfigError
from vaekit.registry import LIKELIHOODS

DEFAULT_BINS = 256
# PixelCNN++ clamps log-scales at -7 on [-1, 1] data; the same bound on [0, 1] data is
# -7 - log 2. At that scale the most likely 8-bit level already has probability ~0.97, so a
# smaller scale gains almost nothing while making the density spikes (and gradients) extreme.
DEFAULT_MIN_LOG_SCALE = -7.0 - math.log(2.0)
# Summation over bins in chunks: bounded memory (chunk x the parameter tensor) with few launches.
_MEAN_CHUNK = 32
_NO_SAMPLE_DIMS = torch.Size()


def _full_precision(params: torch.Tensor) -> torch.Tensor:
    """Half-precision decoder outputs (autocast) -> float32: a log-likelihood summed over
    thousands of pixels in bfloat16 (8 mantissa bits) is off by whole nats."""
    return params.float() if params.dtype in (torch.float16, torch.bfloat16) else params


def _log1mexp_of_log(log_d: torch.Tensor) -> torch.Tensor:
    """``log(1 - exp(-d))`` for ``d = exp(log_d) > 0``, accurate for every ``d``.

    Uses ``log(-expm1(-d))`` for d <= log 2 and ``log1p(-exp(-d))`` above (Maechler 2012,
    "Accurately computing log(1 - exp(-|a|))"); for tiny d, where d itself would underflow,
    the series ``log d - d/2``. Every branch is finite, so ``torch.where`` passes no NaN
    gradients.
    """
    log_d = log_d.clamp(max=30.0)  # d = e^30: 1 - exp(-d) == 1 in any float type
    d = log_d.exp()
    tiny = log_d < -12.0  # d < 6e-6: the series error d^2/24 is below 2e-12
    d_safe = torch.where(tiny, torch.ones_like(d), d)
    exact = torch.where(
        d_safe <= math.log(2.0),
        torch.log(-torch.expm1(-d_safe)),
        torch.log1p(-torch.exp(-d_safe)),
    )
    return torch.where(tiny, log_d - 0.5 * d, exact)


class DiscretizedLogistic(Distribution):
    """Logistic(loc, exp(log_scale)) discretized to ``n_bins`` levels on [0, 1].

    ``P(k) = F(c_k + h) - F(c_k - h)`` for interior levels (``c_k = k / (n_bins - 1)``, ``h``
    half a bin), ``F(c_0 + h)`` for level 0 and ``1 - F(c_last - h)`` for the last level, where
    ``F`` is the logistic CDF. Values are snapped to the nearest level, so float data that is
    ``k / 255`` up to rounding is scored as level ``k``.

    ``log_prob`` has no cancellation: with ``a`` and ``b`` the standardised upper and lower bin
    edges, ``sigmoid(a) - sigmoid(b) = sigmoid(a) * sigmoid(-b) * (1 - exp(b - a))``, so
    ``log P = logsigmoid(a) + logsigmoid(-b) + log(1 - exp(-(a - b)))``, each term computed
    stably. This is exact where PixelCNN++ subtracts CDFs and, when the difference drops below
    1e-5, falls back to the density at the bin centre times the bin width; that fallback is
    therefore not needed here (it was an approximation for the float32 cancellation).

    ``log_scale`` is clamped below at ``min_log_scale`` (default: PixelCNN++'s bound, see
    ``DEFAULT_MIN_LOG_SCALE``).
    """

    arg_constraints = {"loc": constraints.real, "log_scale": constraints.real}
    support = constraints.unit_interval
    has_rsample = False

    def __init__(
        self,
        loc: torch.Tensor,
        log_scale: torch.Tensor,
        n_bins: int = DEFAULT_BINS,
        min_log_scale: float = DEFAULT_MIN_LOG_SCALE,
        validate_args: bool | None = None,
    ) -> None:
        if int(n_bins) < 2:
            raise ConfigError(f"a discretized logistic needs n_bins >= 2, got {n_bins}")
        self.n_bins = int(n_bins)
        self.min_log_scale = float(min_log_scale)
        self.loc, log_scale = broadcast_all(loc, log_scale)
        self.log_scale = log_scale.clamp(min=self.min_log_scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(DiscretizedLogistic, _instance)
        batch_shape = torch.Size(batch_shape)
        new.n_bins = self.n_bins
        new.min_log_scale = self.min_log_scale
        new.loc = self.loc.expand(batch_shape)
        new.log_scale = self.log_scale.expand(batch_shape)
        super(DiscretizedLogistic, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def scale(self) -> torch.Tensor:
        return self.log_scale.exp()

    @property
    def bin_width(self) -> float:
        return 1.0 / (self.n_bins - 1)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        if self._validate_args:
            self._validate_sample(value)
        last = self.n_bins - 1
        k = torch.round(value * last).clamp(0, last)
        # Edges from the level index: the upper edge of level k and the lower edge of level k+1
        # are the same float ((k + 0.5) / last), so neighbouring bins see the same standardised
        # boundary. (Rounding centre + half and next centre - half separately leaves ~3e-5 of
        # the mass unaccounted for in float32 at small scales; this way it is < 1e-6.)
        inv_scale = torch.exp(-self.log_scale)
        upper = ((k + 0.5) / last - self.loc) * inv_scale
        lower = ((k - 0.5) / last - self.loc) * inv_scale
        log_cdf_upper = F.logsigmoid(upper)  # log F(upper edge): all mass below the bin's top
        log_sf_lower = F.logsigmoid(-lower)  # log (1 - F(lower edge)): all mass above its bottom
        # upper - lower = bin_width / scale exactly: taken in log form, with no subtraction.
        log_gap = math.log(self.bin_width) - self.log_scale
        interior = log_cdf_upper + log_sf_lower + _log1mexp_of_log(log_gap)
        return torch.where(k == 0, log_cdf_upper, torch.where(k == last, log_sf_lower, interior))

    @property
    def mean(self) -> torch.Tensor:
        """Exact mean ``sum_k c_k P(k)``, in [0, 1].

        By summation by parts, ``E[X] = bin_width * sum_{j>=1} P(X >= c_j)
        = bin_width * sum_{j>=1} sigmoid((loc - (c_j - h)) / scale)``: ``n_bins - 1`` sigmoid
        evaluations per element, done in chunks so memory stays ``_MEAN_CHUNK`` x the parameters.
        """
        last = self.n_bins - 1
        inv_scale = torch.exp(-self.log_scale).unsqueeze(-1)
        loc = self.loc.unsqueeze(-1)
        total = torch.zeros_like(self.loc)
        lower_edges = (torch.arange(1, self.n_bins, dtype=loc.dtype, device=loc.device) - 0.5)
        lower_edges = lower_edges / last
        for start in range(0, last, _MEAN_CHUNK):
            edges = lower_edges[start:start + _MEAN_CHUNK]
            total = total + torch.sigmoid((loc - edges) * inv_scale).sum(-1)
        return (total / last).clamp(0.0, 1.0)

    @property
    def mode(self) -> torch.Tensor:
        """The level nearest to ``loc`` (the mode of the interior bins; a heavy tail can make an
        edge bin likelier when the scale is large)."""
        last = self.n_bins - 1
        return torch.round(self.loc * last).clamp(0, last) / last

    def sample(self, sample_shape: torch.Size = _NO_SAMPLE_DIMS) -> torch.Tensor:
        """Exact samples: a continuous logistic draw rounded to its level (the edge levels take
        everything beyond them), so each level comes up with exactly probability ``P(k)``."""
        shape = self._extended_shape(sample_shape)
        with torch.no_grad():
            tiny = torch.finfo(self.loc.dtype).tiny
            u = torch.rand(shape, dtype=self.loc.dtype, device=self.loc.device)
            u = u.clamp(tiny, 1.0 - torch.finfo(self.loc.dtype).eps)
            # Cap the scale so loc + scale * logit(u) cannot be inf * 0 = nan.
            scale = self.log_scale.clamp(max=60.0).exp()
            x = self.loc + scale * (torch.log(u) - torch.log1p(-u))
            last = self.n_bins - 1
            return torch.round(x * last).clamp(0, last) / last


class DiscretizedLogisticMixture(Distribution):
    """Mixture of ``K`` discretized logistics per element (PixelCNN++, Salimans et al. 2017).

    Parameters are shaped ``(*batch_shape, K)``: ``logits`` (unnormalised mixture weights),
    ``locs`` and ``log_scales``. Each element (pixel and channel) has its own independent
    mixture: the PixelCNN++ coupling of the RGB channels (the G and B means shifted linearly by
    the R and G values) is *not* included, so the channels of a pixel are independent given z,
    the usual VAE factorisation. ``log_prob`` is ``logsumexp_k(log pi_k + log P_k(x))`` with
    the exact component probabilities of :class:`DiscretizedLogistic`.
    """

    arg_constraints = {
        "logits": constraints.real_vector,
        "locs": constraints.real_vector,
        "log_scales": constraints.real_vector,
    }
    support = constraints.unit_interval
    has_rsample = False

    def __init__(
        self,
        logits: torch.Tensor,
        locs: torch.Tensor,
        log_scales: torch.Tensor,
        n_bins: int = DEFAULT_BINS,
        min_log_scale: float = DEFAULT_MIN_LOG_SCALE,
        validate_args: bool | None = None,
    ) -> None:
        logits, locs, log_scales = broadcast_all(logits, locs, log_scales)
        if logits.dim() < 1:
            raise ConfigError("a discretized logistic mixture needs a trailing mixture dimension")
        self.logits = logits - logits.logsumexp(-1, keepdim=True)
        self.components = DiscretizedLogistic(
            locs, log_scales, n_bins, min_log_scale, validate_args=False
        )
        super().__init__(logits.shape[:-1], validate_args=validate_args)

    @property
    def locs(self) -> torch.Tensor:
        return self.components.loc

    @property
    def log_scales(self) -> torch.Tensor:
        return self.components.log_scale

    @property
    def n_bins(self) -> int:
        return self.components.n_bins

    @property
    def num_mixtures(self) -> int:
        return self.logits.shape[-1]

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(DiscretizedLogisticMixture, _instance)
        batch_shape = torch.Size(batch_shape)
        full = batch_shape + (self.num_mixtures,)
        new.logits = self.logits.expand(full)
        new.components = self.components.expand(full)
        super(DiscretizedLogisticMixture, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        if self._validate_args:
            self._validate_sample(value)
        component_log_prob = self.components.log_prob(value.unsqueeze(-1))
        return torch.logsumexp(self.logits + component_log_prob, dim=-1)

    @property
    def mean(self) -> torch.Tensor:
        return (self.logits.exp() * self.components.mean).sum(-1).clamp(0.0, 1.0)

    def sample(self, sample_shape: torch.Size = _NO_SAMPLE_DIMS) -> torch.Tensor:
        with torch.no_grad():
            which = Categorical(logits=self.logits).sample(sample_shape)
            draws = self.components.sample(sample_shape)  # (*sample, *batch, K)
            return draws.gather(-1, which.unsqueeze(-1)).squeeze(-1)


@LIKELIHOODS.register("discretized_logistic")
class DiscretizedLogisticLikelihood(Likelihood):
    """p(x|z) = prod_i DiscretizedLogistic(x_i; loc_i, scale_i) (Kingma et al. 2016).

    ``params_per_channel = 2``: the location (in [0, 1] data units, raw decoder output) and the
    log-scale (clamped below at ``min_log_scale``). Options: ``n_bins`` (default 256),
    ``min_log_scale``.
    """

    params_per_channel = 2

    def __init__(
        self,
        data_shape: tuple[int, ...],
        n_bins: int = DEFAULT_BINS,
        min_log_scale: float = DEFAULT_MIN_LOG_SCALE,
    ) -> None:
        super().__init__(data_shape)
        if int(n_bins) < 2:
            raise ConfigError(
                f"likelihood 'discretized_logistic': n_bins must be >= 2, got {n_bins}"
            )
        self.n_bins = int(n_bins)
        self.min_log_scale = float(min_log_scale)

    def forward(self, params: torch.Tensor) -> Distribution:
        loc, log_scale = self.split(_full_precision(params))
        base = DiscretizedLogistic(loc, log_scale, self.n_bins, self.min_log_scale)
        return Independent(base, len(self.data_shape))

    def extra_repr(self) -> str:
        return f"n_bins={self.n_bins}, min_log_scale={self.min_log_scale:.3f}"


@LIKELIHOODS.register("discretized_logistic_mixture")
class DiscretizedLogisticMixtureLikelihood(Likelihood):
    """p(x|z) = prod_i sum_k pi_ik DiscretizedLogistic(x_i; loc_ik, scale_ik) (PixelCNN++).

    Independent mixtures per pixel and channel (no RGB coupling, see
    :class:`DiscretizedLogisticMixture`). ``params_per_channel = 3 * num_mixtures``: as in
    :meth:`Likelihood.split`, the decoder's output channels form ``3K`` consecutive groups of
    ``C`` maps, group ``p * K + k`` holding parameter ``p`` (0: logit, 1: loc, 2: log-scale) of
    component ``k``; so output channel ``(p * K + k) * C + c`` is that parameter for data
    channel ``c``.
    Options: ``num_mixtures`` (default 5, as in PixelCNN++), ``n_bins`` (256), ``min_log_scale``.
    """

    def __init__(
        self,
        data_shape: tuple[int, ...],
        num_mixtures: int = 5,
        n_bins: int = DEFAULT_BINS,
        min_log_scale: float = DEFAULT_MIN_LOG_SCALE,
    ) -> None:
        super().__init__(data_shape)
        if int(num_mixtures) < 1:
            raise ConfigError(
                f"likelihood 'discretized_logistic_mixture': num_mixtures must be >= 1, "
                f"got {num_mixtures}"
            )
        if int(n_bins) < 2:
            raise ConfigError(
                f"likelihood 'discretized_logistic_mixture': n_bins must be >= 2, got {n_bins}"
            )
        self.num_mixtures = int(num_mixtures)
        self.n_bins = int(n_bins)
        self.min_log_scale = float(min_log_scale)
        # An instance attribute: the model reads it to size the decoder's output.
        self.params_per_channel = 3 * self.num_mixtures

    def forward(self, params: torch.Tensor) -> Distribution:
        nd = len(self.data_shape)
        k = self.num_mixtures
        # (*lead, 3*K*C, ...) -> (*lead, 3, K, C, ...): the chunk order of Likelihood.split.
        grouped = _full_precision(params).unflatten(-nd, (3, k, self.data_shape[0]))
        # Each of the three: (*lead, K, C, ...) -> (*lead, C, ..., K), mixture dim last.
        logits, locs, log_scales = (t.movedim(-nd - 1, -1) for t in grouped.unbind(-nd - 2))
        base = DiscretizedLogisticMixture(
            logits, locs, log_scales, self.n_bins, self.min_log_scale
        )
        return Independent(base, nd)

    def extra_repr(self) -> str:
        return (
            f"num_mixtures={self.num_mixtures}, n_bins={self.n_bins}, "
            f"min_log_scale={self.min_log_scale:.3f}"
        )
