"""One-call model evaluation and the registered scalar metrics.

:func:`evaluate_model` gathers the likelihood and latent statistics into one flat, JSON-friendly
dict (floats, ints and lists only) for ``metrics.json`` files and the CLI. Each evaluation is
also registered in :data:`vaekit.registry.METRICS` as ``fn(model, data, **options) -> dict`` so
configs can ask for it by name::

    METRICS.get("iwae_nll")(model, test_loader, num_samples=5000)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from vaekit.evaluation.latents import (
    active_units,
    encode_dataset,
    kl_per_dimension,
    reconstruction_error,
)
from vaekit.evaluation.likelihood import (
    DataLike,
    estimate_nll,
    evaluate_elbo,
    iter_batches,
    iwae_bound,
    make_generator,
    model_device,
)
from vaekit.registry import METRICS

if TYPE_CHECKING:
    from vaekit.models.base import BaseVAE


# ------------------------------------------------------------------------ registered metrics
@METRICS.register("elbo")
def elbo_metric(model: BaseVAE, data: DataLike, **options: Any) -> dict[str, Any]:
    """``{"elbo", "recon", "kl", "num_examples"}``: see :func:`evaluate_elbo`."""
    return evaluate_elbo(model, data, **options)


@METRICS.register("iwae_nll")
def iwae_nll_metric(model: BaseVAE, data: DataLike, **options: Any) -> dict[str, Any]:
    """``{"iwae_nll", "iwae_nll_stderr", "bits_per_dim", "num_importance_samples",
    "num_examples"}``: the K-sample estimate of Burda et al. (2016), see :func:`estimate_nll`."""
    out = estimate_nll(model, data, **options)
    return {
        "iwae_nll": out["nll"],
        "iwae_nll_stderr": out["nll_stderr"],
        "bits_per_dim": out["bits_per_dim"],
        "num_importance_samples": out["num_samples"],
        "num_examples": out["num_examples"],
    }


@METRICS.register("active_units")
def active_units_metric(model: BaseVAE, data: DataLike, **options: Any) -> dict[str, Any]:
    """``{"active_units", "active_unit_activity"}``: Burda et al. (2016) active units."""
    result = active_units(model, data, **options)
    return {"active_units": result.count, "active_unit_activity": result.activity.tolist()}


@METRICS.register("kl_per_dim")
def kl_per_dim_metric(model: BaseVAE, data: DataLike, **options: Any) -> dict[str, Any]:
    """``{"kl_per_dim", "kl_total"}``: mean analytic KL per latent dimension, nats."""
    per_dim = kl_per_dimension(model, data, **options)
    return {"kl_per_dim": per_dim.tolist(), "kl_total": float(per_dim.sum())}


@METRICS.register("reconstruction_error")
def reconstruction_error_metric(model: BaseVAE, data: DataLike, **options: Any
                                ) -> dict[str, Any]:
    """``{"recon_mse", "recon_nll", "num_examples"}`` at the posterior mean."""
    out = reconstruction_error(model, data, **options)
    return {"recon_mse": out["mse"], "recon_nll": out["recon_nll"],
            "num_examples": out["num_examples"]}


# ------------------------------------------------------------------------------- report
def evaluate_model(
    model: BaseVAE,
    data: DataLike,
    num_importance_samples: int = 5000,
    max_examples: int | None = None,
    *,
    batch_size: int = 100,
    chunk_size: int | None = None,
    active_threshold: float = 0.01,
    seed: int | None = 0,
) -> dict[str, Any]:
    """Every evaluation in one pass over the data, as a flat JSON-friendly dict.

    Keys: ``elbo``, ``recon``, ``kl`` (nats per example, analytic KL); ``iwae_nll``,
    ``iwae_nll_stderr``, ``bits_per_dim``, ``num_importance_samples`` (the K-sample estimate of
    Burda et al. 2016; skipped when ``num_importance_samples`` is 0); ``active_units`` and
    ``active_unit_activity`` (Burda et al. 2016, threshold ``active_threshold``);
    ``kl_per_dim`` and ``kl_total``; ``recon_mse`` and ``recon_nll`` (at the posterior mean);
    ``num_examples``, ``latent_dim``, ``model_type``.

    The data is read once (so a shuffling loader still gives consistent numbers across the
    metrics) and at most ``max_examples`` examples are used; K = 5000 matches the paper but costs
    5000 decoder passes per example, so cap ``max_examples`` for large test sets. ``seed``
    (default 0) makes the sampled numbers reproducible; None uses the global RNG.
    """
    if num_importance_samples < 0:
        raise ValueError(f"num_importance_samples must be >= 0, got {num_importance_samples}")
    gen = make_generator(seed)
    sums: dict[str, float] = {"recon": 0.0, "kl": 0.0, "nll": 0.0, "nll_sq": 0.0,
                              "recon_mse": 0.0, "recon_nll": 0.0}
    kl_dims: np.ndarray | None = np.zeros(model.latent_dim, dtype=np.float64)
    means: list[np.ndarray] = []
    count = values = 0
    device = model_device(model)
    # One loop over the batches, calling the public functions on each batch tensor: their
    # per-batch means are combined weighted by batch size, which gives the data-set means.
    for x in iter_batches(data, batch_size, max_examples, device, model.data_shape):
        n = len(x)
        elbo = evaluate_elbo(model, x, batch_size=n, generator=gen)
        sums["recon"] += elbo["recon"] * n
        sums["kl"] += elbo["kl"] * n
        if num_importance_samples:
            nll = -iwae_bound(model, x, num_importance_samples, chunk_size, generator=gen)
            sums["nll"] += float(nll.double().sum())
            sums["nll_sq"] += float(nll.double().pow(2).sum())
        recon = reconstruction_error(model, x, batch_size=n)
        sums["recon_mse"] += recon["mse"] * x.numel()
        sums["recon_nll"] += recon["recon_nll"] * n
        if kl_dims is not None:
            try:
                kl_dims += kl_per_dimension(model, x, batch_size=n) * n
            except ValueError:  # no factorised KL (e.g. VQ-VAE's code-grid prior): skip it
                kl_dims = None
        means.append(encode_dataset(model, x, batch_size=n)[0])
        count += n
        values += x.numel()
    if count == 0:
        raise ValueError("no data to evaluate")

    report: dict[str, Any] = {
        "model_type": str(getattr(model.config, "config_type", type(model).__name__)),
        "latent_dim": int(model.latent_dim),
        "num_examples": count,
        "elbo": -(sums["recon"] + sums["kl"]) / count,
        "recon": sums["recon"] / count,
        "kl": sums["kl"] / count,
    }
    if num_importance_samples:
        mean = sums["nll"] / count
        var = max(sums["nll_sq"] / count - mean**2, 0.0) * count / max(count - 1, 1)
        report.update({
            "iwae_nll": mean,
            "iwae_nll_stderr": math.sqrt(var / count),
            "bits_per_dim": mean / (math.prod(model.data_shape) * math.log(2)),
            "num_importance_samples": int(num_importance_samples),
        })
    all_means = np.concatenate(means).astype(np.float64)
    activity = (np.var(all_means, axis=0, ddof=1) if count > 1
                else np.zeros(model.latent_dim))
    if kl_dims is not None:
        kl_dims /= count
        report.update({"kl_per_dim": [float(k) for k in kl_dims],
                       "kl_total": float(kl_dims.sum())})
    report.update({
        "active_units": int((activity > active_threshold).sum()),
        "active_unit_activity": [float(a) for a in activity],
        "recon_mse": sums["recon_mse"] / values,
        "recon_nll": sums["recon_nll"] / count,
    })
    return report

