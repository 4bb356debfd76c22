"""Mutual Information Gap with the original estimator of Chen et al. (2018).

Chen, Li, Grosse & Duvenaud 2018, "Isolating Sources of Disentanglement in Variational
Autoencoders" (NeurIPS, arXiv:1802.04942), as computed by their code
(rtqichen/beta-tcvae, ``disentanglement_metrics.py`` and ``metric_helpers/mi_metric.py``).
Unlike the discretised MIG of disentanglement_lib (:mod:`.mig`), it uses the encoder's Gaussian
posteriors ``q(z|x_n) = N(mean_n, diag(std_n^2))`` of *every* point of the factor grid:

- one sample ``z_n ~ q(z|x_n)`` is drawn per point;
- marginal entropies ``H(z_j) = E[-log q(z_j)]`` with the aggregate posterior
  ``q(z_j) = 1/N sum_n q(z_j|x_n)`` over all ``N`` points, averaged over ``num_samples`` (10,000)
  of the ``z_n`` drawn without replacement, in log space;
- conditional entropies ``H(z_j|v_k) = sum_v p(v_k = v) H(z_j|v_k = v)``, each term the same
  estimate with the aggregate over the points where factor ``k`` equals ``v`` and at most
  ``num_samples`` of their samples;
- ``I(z_j; v_k) = H(z_j) - H(z_j|v_k)``, clamped at 0 and divided by the factor entropy
  ``H(v_k)``; the gap of factor ``k`` is the largest minus the second-largest normalised MI over
  codes, and the MIG is the mean gap over factors.

Cost: each entropy term evaluates ``samples x points x D`` Gaussian densities, about
``(K + 1) * num_samples * N * D`` in all: 4.4e11 for the full dSprites grid (737,280 points,
10 codes, 5 factors). The kernel runs in float32 (errors below 1e-4 nats against float64 for
posterior stds down to 1e-4) with float64 accumulation, in chunks of about a million densities,
so memory is O(N D) beyond the inputs; it runs on ``device`` when given (the paper used a GPU).
``max_points`` estimates from a random subset of the points instead (not in the paper): the
aggregate posteriors are then mixtures over fewer points.

Measured on one thread of this project's 2-core machine, for the full dSprites grid with
synthetic, partly disentangled posteriors (10 codes, stds about 0.1 in the active ones): the
estimator took 908 s (about 15 minutes), and encoding the 737,280 images with a conv64 encoder
takes about 8.5 minutes more. With ``max_points`` of 20,000 / 50,000 / 100,000 / 200,000 the
estimator took 10 / 35 / 84 / 203 s and the MIG moved by 0.0010 / 0.0008 / 0.0005 / 0.0006
(0.471 on the full grid; per factor at most 0.005). Narrower posteriors make a subsample's
mixtures lumpier, so check ``max_points`` on your own models before relying on it.

Deviations from the reference code:

- ``p(v_k = v)`` and ``H(v_k)`` are those of the factor values in the points used (on a full
  grid: ``1 / size`` and ``log(size)``, the reference's constants);
- the paper's dSprites numbers leave out the factor ``shape``: pass ``factor_indices=(1, 2, 3,
  4)`` to :func:`compute_mig_chen` for that protocol (the default scores every factor);
- a factor with zero entropy is left out of the mean (NaN in ``mig_per_factor``; 0 if every
  factor is constant), and with one code dimension the second-best MI is 0, as in :mod:`.mig`;
- random numbers come from ``np.random.default_rng(seed)`` (the reference is unseeded).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from vaekit.data.base import GroundTruthDataset
from vaekit.evaluation.disentanglement.base import check_arrays
from vaekit.registry import METRICS

# observations (B, C, H, W) -> (means (B, D), stds (B, D)) of a diagonal Gaussian q(z|x)
PosteriorFn = Callable[[torch.Tensor], tuple[np.ndarray, np.ndarray]]

NUM_SAMPLES = 10000  # Chen et al.'s n_samples
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
# Densities evaluated per chunk: about 4 MB of float32 on CPU (cache-friendly), more on GPUs.
_CHUNK_CPU, _CHUNK_GPU = 1 << 20, 1 << 26
_SAMPLE_CHUNK = 128


def gaussian_posterior(model: torch.nn.Module) -> PosteriorFn:
    """Means and standard deviations of ``model.encode(x)`` (a diagonal Gaussian q(z|x))."""

    @torch.no_grad()
    def posterior(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        was_training = model.training
        model.eval()
        try:
            device = next(model.parameters()).device
            qz = model.encode(x.to(device))
            return qz.mean.cpu().numpy(), qz.stddev.cpu().numpy()
        finally:
            model.train(was_training)

    return posterior


class _Posteriors:
    """The points' posteriors, dims-major on ``device``, in the form the kernel wants.

    ``log N(z; m, s) = -log(2 pi)/2 + log w - d^2`` with ``w = 1/s`` and ``d = (z - m) / (s
    sqrt 2) = z a + b`` (``a = 1/(s sqrt 2)``, ``b = -m a``): two fused multiply-adds per density.
    """

    def __init__(self, means: np.ndarray, stds: np.ndarray, device: torch.device) -> None:
        means64 = torch.as_tensor(means, dtype=torch.float64).T
        stds64 = torch.as_tensor(stds, dtype=torch.float64).T
        scale = 1.0 / (stds64 * math.sqrt(2.0))
        self.scale = scale.to(device, torch.float32).contiguous()  # a (D, N)
        self.offset = (-means64 * scale).to(device, torch.float32).contiguous()  # b (D, N)
        self.log_w = (-torch.log(stds64)).to(device, torch.float32).contiguous()  # (D, N)
        self.device = device

    def entropy(self, samples: np.ndarray, points: np.ndarray | None) -> np.ndarray:
        """``E_s[-log (1/M) sum_m q(z_sj | x_m)]`` per dim over the samples ``(S, D)``, with the
        mixture over ``points`` (indices; all points when None)."""
        if points is None:
            scale, offset, log_w = self.scale, self.offset, self.log_w
        else:
            at = torch.as_tensor(points, device=self.device)
            scale, offset, log_w = self.scale[:, at], self.offset[:, at], self.log_w[:, at]
        num_dims, num_points = scale.shape
        # Shift the log weights so the largest is 0: no term overflows, and a sample's own
        # component, always in the mixture, keeps the sum far from underflow.
        shift = log_w.max(dim=1, keepdim=True).values
        log_w = log_w - shift
        z = torch.as_tensor(samples.T, dtype=torch.float32, device=self.device)  # (D, S)
        total = torch.zeros(num_dims, z.shape[1], dtype=torch.float64, device=self.device)
        budget = _CHUNK_GPU if self.device.type == "cuda" else _CHUNK_CPU
        s_chunk = _SAMPLE_CHUNK
        m_chunk = max(64, budget // (num_dims * s_chunk))
        buf = torch.empty(num_dims, s_chunk, m_chunk, dtype=torch.float32, device=self.device)
        for s0 in range(0, z.shape[1], s_chunk):
            zs = z[:, s0:s0 + s_chunk, None]
            ns = zs.shape[1]
            for m0 in range(0, num_points, m_chunk):
                nm = min(m_chunk, num_points - m0)
                d = buf[:, :ns, :nm]
                torch.addcmul(offset[:, None, m0:m0 + nm], zs, scale[:, None, m0:m0 + nm], out=d)
                torch.addcmul(log_w[:, None, m0:m0 + nm], d, d, value=-1.0, out=d)
                total[:, s0:s0 + ns] += d.exp_().sum(dim=-1)
        neg_log_q = (math.log(num_points) + _LOG_SQRT_2PI - shift.double() - total.log()).cpu()
        if not torch.isfinite(neg_log_q).all():
            raise FloatingPointError(
                "mig_chen: the aggregate posterior density underflowed; posterior stds span "
                "more than ~30 orders of magnitude"
            )
        return neg_log_q.mean(dim=1).numpy()


def _factor_entropy(values: np.ndarray) -> float:
    _, counts = np.unique(values, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def mig_chen_from_posteriors(
    factors: np.ndarray,
    means: np.ndarray,
    stds: np.ndarray,
    *,
    num_samples: int = NUM_SAMPLES,
    max_points: int | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> dict[str, Any]:
    """Chen et al.'s MIG from integer ``factors`` ``(N, K)`` and posterior ``means``, ``stds``
    ``(N, D)`` of all ``N`` points (the whole factor grid in the paper).

    ``max_points``: estimate from that many points drawn at random without replacement (None:
    all ``N``). Returns ``{"mig", "mig_per_factor" (K), "mutual_info" (D x K, nats, unclamped),
    "normalized_mutual_info" (D x K), "marginal_entropies" (D), "conditional_entropies"
    (D x K), "factor_entropies" (K), "num_points", "num_samples"}`` (matrices are codes x
    factors, as nested lists).
    """
    factors, means = check_arrays(factors, means)
    stds = np.asarray(stds, dtype=np.float64)
    if stds.ndim == 1:
        stds = stds[:, None]  # one code dimension, as check_arrays reads 1-D means
    if stds.shape != means.shape:
        raise ValueError(f"stds {stds.shape} and means {means.shape} differ in shape")
    if not (np.isfinite(stds).all() and (stds > 0).all()):
        raise ValueError("stds must be positive and finite")
    if num_samples < 1:
        raise ValueError(f"num_samples must be positive, got {num_samples}")
    rng = np.random.default_rng(seed)
    if max_points is not None and len(factors) > max_points:
        if max_points < 2:
            raise ValueError(f"max_points must be at least 2, got {max_points}")
        keep = np.sort(rng.choice(len(factors), size=max_points, replace=False))
        factors, means, stds = factors[keep], means[keep], stds[keep]
    n, num_codes = means.shape
    num_factors = factors.shape[1]
    dev = torch.device(device) if device is not None else torch.device("cpu")

    # One sample per point, shared by every entropy term as in the reference.
    samples = means + stds * rng.standard_normal(means.shape)
    posteriors = _Posteriors(means, stds, dev)

    def draw(pool: np.ndarray) -> np.ndarray:
        # at most num_samples of the pool's samples, without replacement (randperm[:n_samples])
        return pool if len(pool) <= num_samples else rng.choice(pool, num_samples, replace=False)

    marginal = posteriors.entropy(samples[draw(np.arange(n))], None)
    conditional = np.zeros((num_codes, num_factors))
    factor_entropy = np.zeros(num_factors)
    for k in range(num_factors):
        values, inverse = np.unique(factors[:, k], return_inverse=True)
        factor_entropy[k] = _factor_entropy(factors[:, k])
        if len(values) < 2:
            conditional[:, k] = marginal  # conditioning on a constant changes nothing
            continue
        for v in range(len(values)):
            points = np.flatnonzero(inverse == v)
            term = posteriors.entropy(samples[draw(points)], points)
            conditional[:, k] += len(points) / n * term

    mutual_info = marginal[:, None] - conditional  # (D, K)
    informative = factor_entropy > 0
    normalized = np.zeros_like(mutual_info)
    normalized[:, informative] = (np.clip(mutual_info[:, informative], 0, None)
                                  / factor_entropy[informative])
    top = np.sort(normalized, axis=0)[::-1]
    second = top[1] if num_codes > 1 else np.zeros(num_factors)
    gaps = np.full(num_factors, np.nan)
    gaps[informative] = (top[0] - second)[informative]
    return {
        "mig": float(np.mean(gaps[informative])) if informative.any() else 0.0,
        "mig_per_factor": gaps.tolist(),
        "mutual_info": mutual_info.tolist(),
        "normalized_mutual_info": normalized.tolist(),
        "marginal_entropies": marginal.tolist(),
        "conditional_entropies": conditional.tolist(),
        "factor_entropies": factor_entropy.tolist(),
        "num_points": int(n),
        "num_samples": int(min(num_samples, n)),
    }


def compute_mig_chen(
    model_or_posterior_fn: torch.nn.Module | PosteriorFn,
    dataset: GroundTruthDataset,
    *,
    seed: int = 0,
    num_samples: int = NUM_SAMPLES,
    max_points: int | None = None,
    factor_indices: Sequence[int] | None = None,
    batch_size: int = 256,
    device: str | torch.device | None = None,
) -> dict[str, Any]:
    """Chen et al.'s MIG of a model (or a posterior function) on a ground-truth dataset.

    By default every point of the factor grid is encoded and used, as in the paper: on the full
    dSprites grid about 4.4e11 density evaluations, some 25 minutes on one CPU thread here
    (timings in the module docstring). ``max_points`` uses that many random grid points
    instead (100,000: about 3 minutes with the encoding). ``factor_indices`` restricts the
    factors that are scored (Chen et al. score dSprites on ``(1, 2, 3, 4)``: scale,
    orientation, posX, posY). ``device``: where the entropy kernel runs; ``batch_size`` only
    sets how many observations are encoded at once.
    """
    if isinstance(model_or_posterior_fn, torch.nn.Module):
        posterior = gaussian_posterior(model_or_posterior_fn)
    elif callable(model_or_posterior_fn):
        posterior = model_or_posterior_fn
    else:
        raise TypeError("expected a model with encode(x) -> q(z|x) or a function x -> "
                        f"(means, stds), got {type(model_or_posterior_fn).__name__}")
    total = len(dataset)
    if max_points is None or max_points >= total:
        index = np.arange(total)
    else:
        # a stream of its own, so the estimator's draws (from `seed`) are not correlated with it
        index = np.sort(np.random.default_rng([seed, 1]).choice(total, max_points,
                                                                replace=False))
    factors = dataset.index_to_factors(index)
    means, stds = [], []
    for start in range(0, len(index), batch_size):
        m, s = posterior(dataset.render(factors[start:start + batch_size]))
        means.append(np.asarray(m, dtype=np.float32))
        stds.append(np.asarray(s, dtype=np.float32))
    scored = factors if factor_indices is None else factors[:, list(factor_indices)]
    return mig_chen_from_posteriors(scored, np.concatenate(means), np.concatenate(stds),
                                    num_samples=num_samples, seed=seed, device=device)


@METRICS.register("mig_chen")
def mig_chen_metric(model: torch.nn.Module, dataset: GroundTruthDataset, **options: Any
                    ) -> dict[str, Any]:
    """Registered form: Chen et al.'s MIG of ``model``'s posteriors on ``dataset``."""
    return compute_mig_chen(model, dataset, **options)
