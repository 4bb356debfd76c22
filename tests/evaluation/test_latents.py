"""Latent statistics, the one-call report and the registered metrics."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch.distributions import kl_divergence
from torch.utils.data import DataLoader, TensorDataset

from vaekit.evaluation import (
    active_units,
    encode_dataset,
    evaluate_elbo,
    evaluate_model,
    kl_per_dimension,
    reconstruction_error,
)
from vaekit.models import build_model
from vaekit.registry import METRICS

SHAPE = (1, 6, 6)
LATENT = 5


def tiny_model(seed: int = 0):
    torch.manual_seed(seed)
    return build_model({"type": "vae", "network": "mlp", "data_shape": list(SHAPE),
                        "latent_dim": LATENT, "network_options": {"hidden": [32]}})


def data(n: int = 40, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand((n, *SHAPE), generator=gen)


def test_active_units_are_exactly_the_dims_the_encoder_uses():
    model, x = tiny_model(), data()
    inactive = [1, 3]
    last = model.encoder[-1]  # outputs [mu (D), pre-std (D)]
    with torch.no_grad():
        last.weight[:LATENT] *= 20.0  # make the used dims clearly vary with x
        last.weight[inactive] = 0.0  # these means are the bias, whatever the input
    result = active_units(model, x)
    assert result.count == LATENT - len(inactive)
    assert [d for d in range(LATENT) if not result.active[d]] == inactive
    assert np.all(result.activity[inactive] == 0.0)
    # Activity is the variance over the data of the posterior mean (N - 1 normalisation).
    means, _ = encode_dataset(model, x)
    np.testing.assert_allclose(result.activity, means.astype(np.float64).var(0, ddof=1),
                               rtol=1e-6)
    count, activity = result[:2]  # unpacks like a tuple
    assert count == result.count and activity is result.activity
    # A threshold above every activity leaves no active unit.
    assert active_units(model, x, threshold=float(activity.max()) + 1).count == 0


def test_kl_per_dimension_sums_to_the_elbo_kl():
    model, x = tiny_model(), data()
    per_dim = kl_per_dimension(model, x, batch_size=7)  # several batches, a partial last one
    assert per_dim.shape == (LATENT,) and np.all(per_dim >= 0)
    elbo = evaluate_elbo(model, x, seed=0)
    assert per_dim.sum() == pytest.approx(elbo["kl"], rel=1e-5)
    with torch.no_grad():
        qz = model.encode(x)
        manual = kl_divergence(qz.base_dist, model.prior().base_dist).mean(0).numpy()
    np.testing.assert_allclose(per_dim, manual, rtol=1e-5)


def test_encode_dataset_and_reconstruction_error():
    model, x = tiny_model(), data(9)
    loader = DataLoader(TensorDataset(x), batch_size=4)
    means, stds = encode_dataset(model, loader)
    with torch.no_grad():
        qz = model.encode(x)
        px_z = model.decode(qz.mean)
    assert means.shape == stds.shape == (9, LATENT)
    np.testing.assert_allclose(means, qz.mean.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(stds, qz.stddev.numpy(), rtol=1e-6, atol=1e-6)
    means5, _ = encode_dataset(model, x, max_examples=5)
    assert means5.shape == (5, LATENT)

    err = reconstruction_error(model, loader)
    mse = float(((model.reconstruct(x) - x) ** 2).mean())
    assert err["mse"] == pytest.approx(mse, rel=1e-5)
    assert err["recon_nll"] == pytest.approx(float(-px_z.log_prob(x).mean()), rel=1e-5)
    assert err["num_examples"] == 9


def test_evaluate_model_is_flat_json_and_consistent():
    model, x = tiny_model(), data(12)
    report = evaluate_model(model, x, num_importance_samples=10, max_examples=10, batch_size=4)
    json.dumps(report)  # only JSON types
    assert all(isinstance(v, (int, float, str, list)) for v in report.values())
    assert report["num_examples"] == 10 and report["num_importance_samples"] == 10
    assert report["elbo"] == pytest.approx(-(report["recon"] + report["kl"]))
    assert report["kl_total"] == pytest.approx(report["kl"], rel=1e-5)
    np.testing.assert_allclose(report["kl_per_dim"], kl_per_dimension(model, x[:10]), rtol=1e-5)
    au = active_units(model, x[:10])
    assert report["active_units"] == au.count
    np.testing.assert_allclose(report["active_unit_activity"], au.activity, rtol=1e-5)
    assert report["recon_mse"] == pytest.approx(reconstruction_error(model, x[:10])["mse"])
    assert report["bits_per_dim"] == pytest.approx(
        report["iwae_nll"] / (math.prod(SHAPE) * math.log(2)))
    assert report == evaluate_model(model, x, 10, 10, batch_size=4)  # seeded by default
    quick = evaluate_model(model, x, num_importance_samples=0)
    assert "iwae_nll" not in quick and quick["num_examples"] == 12


@pytest.mark.parametrize(("name", "keys"), [
    ("elbo", {"elbo", "recon", "kl", "num_examples"}),
    ("iwae_nll", {"iwae_nll", "iwae_nll_stderr", "bits_per_dim", "num_importance_samples"}),
    ("active_units", {"active_units", "active_unit_activity"}),
    ("kl_per_dim", {"kl_per_dim", "kl_total"}),
    ("reconstruction_error", {"recon_mse", "recon_nll"}),
])
def test_registered_metrics(name, keys):
    model, x = tiny_model(), data(8)
    options = {"num_samples": 4, "seed": 0} if name == "iwae_nll" else {}
    out = METRICS.get(name)(model, x, **options)
    assert keys <= set(out)
    json.dumps(out)


def test_datasets_are_read_in_order():
    """A Dataset (here one whose __getitems__ returns whole batches) is read like the tensor."""
    from vaekit.data.base import ArrayImageDataset

    model = tiny_model()
    raw = (data(11).numpy() * 255).astype(np.uint8)
    dataset = ArrayImageDataset(raw)
    x = torch.from_numpy(raw).float() / 255
    means, _ = encode_dataset(model, dataset, batch_size=4)
    np.testing.assert_allclose(means, encode_dataset(model, x)[0], rtol=1e-5, atol=1e-6)
    assert evaluate_elbo(model, dataset, batch_size=4, seed=0) == pytest.approx(
        evaluate_elbo(model, x, batch_size=4, seed=0), rel=1e-5)
