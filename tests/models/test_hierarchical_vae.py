"""Hierarchical VAE: bounds, per-group KL, balancing, warm-up, sampling, persistence."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch

from vaekit.checkpoint import load_pretrained, save_pretrained
from vaekit.evaluation.likelihood import estimate_nll, evaluate_elbo, iwae_bound
from vaekit.losses.hierarchical import hierarchical_elbo_loss, kl_balance_coefficients
from vaekit.models import LossContext, build_model
from vaekit.training import load_experiment, train
from vaekit.training.schedules import kl_weight


def small_model(seed: int = 0, **options):
    torch.manual_seed(seed)
    config = {"type": "hierarchical_vae", "data_shape": (1, 6, 6), "hidden_dim": 32,
              "group_dims": [2, 3, 4], **options}
    model = build_model(config)
    # Move every head off its "q = p" initialisation so the groups carry information.
    with torch.no_grad():
        for head in (*model.prior_heads, *model.posterior_heads):
            head.weight.normal_(0, 0.3)
            head.bias.normal_(0, 0.3)
    return model.eval()


def binary_batch(n: int = 6, seed: int = 1) -> torch.Tensor:
    return (torch.rand(n, 1, 6, 6, generator=torch.Generator().manual_seed(seed)) > 0.5).float()


def test_loss_reports_every_group_and_sums_to_the_elbo():
    model, x = small_model(), binary_batch()
    torch.manual_seed(0)
    terms = model.loss(x, LossContext())
    kls = [terms[f"kl_g{g}"] for g in range(3)]
    assert all(k > 0 for k in kls)
    assert torch.allclose(sum(kls), terms["kl"], atol=1e-5)
    assert torch.allclose(terms["elbo"], -(terms["recon"] + terms["kl"]), atol=1e-4)
    # At full KL weight the objective is exactly the negative ELBO (no balancing).
    assert torch.allclose(terms["loss"], -terms["elbo"], atol=1e-4)
    assert {"active_g0", "active_g1", "active_g2"} <= set(terms)


def test_importance_weights_average_to_the_elbo():
    """E_q[log w] with K=1 draws equals the ELBO: the analytic per-group KL terms and the
    sampled log p - log q terms must describe the same model."""
    model, x = small_model(), binary_batch(3)
    with torch.no_grad():
        log_w = model.log_importance_weights(x, 20000, torch.Generator().manual_seed(0))
        recon, kl_total = model.elbo_terms(x, 20000, torch.Generator().manual_seed(1))
    assert log_w.shape == (20000, 3)
    stderr = log_w.std(0) / math.sqrt(20000)
    assert torch.all((log_w.mean(0) - (-(recon + kl_total))).abs() < 5 * stderr + 0.02)


def test_iwae_bound_tightens_with_k_and_is_reproducible():
    model, x = small_model(), binary_batch(4)
    bounds = [float(iwae_bound(model, x, k, seed=3).mean()) for k in (1, 10, 200)]
    assert bounds[0] < bounds[1] < bounds[2]
    again = iwae_bound(model, x, 10, seed=3)
    assert torch.equal(again, iwae_bound(model, x, 10, seed=3))
    elbo = evaluate_elbo(model, x, num_samples=500, seed=0)["elbo"]
    nll = estimate_nll(model, x, num_samples=200, seed=0)["nll"]
    assert -nll > elbo  # the K-sample bound is tighter than the ELBO


def test_kl_balancing_weights_groups_by_kl_per_dimension():
    kl_groups = torch.tensor([[4.0, 1.0], [2.0, 3.0]])  # (B, G); group means 3 and 2
    coeff = kl_balance_coefficients(kl_groups, group_sizes=[1, 4])
    per_dim = torch.tensor([3.01 / 1, 2.01 / 4])
    assert torch.allclose(coeff, per_dim / per_dim.mean())
    assert coeff.mean() == pytest.approx(1.0)
    recon = torch.tensor([10.0, 12.0])
    warm = hierarchical_elbo_loss(recon, kl_groups, [1, 4], kl_weight=0.5)
    expected = 11.0 + 0.5 * float((coeff * kl_groups.mean(0)).sum())
    assert float(warm["loss"]) == pytest.approx(expected)
    plain = hierarchical_elbo_loss(recon, kl_groups, [1, 4], kl_weight=0.5, balance=False)
    assert float(plain["loss"]) == pytest.approx(11.0 + 0.5 * 5.0)
    full = hierarchical_elbo_loss(recon, kl_groups, [1, 4], kl_weight=1.0)
    assert float(full["loss"]) == pytest.approx(16.0)  # balancing only during warm-up
    floored = hierarchical_elbo_loss(recon, kl_groups, [1, 4], free_bits=1.0)
    assert float(floored["loss"]) == pytest.approx(11.0 + 3.0 + 4.0)  # group 1 floored at 4


def test_sampling_is_reproducible_and_temperature_zero_is_the_prior_mean():
    model = small_model()
    a = model.sample(5, generator=torch.Generator().manual_seed(0))
    b = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert a.shape == (5, 1, 6, 6) and torch.equal(a, b)
    assert 0 <= float(a.min()) and float(a.max()) <= 1
    cold = model.sample(4, temperature=0.0)
    assert torch.allclose(cold, cold[:1].expand_as(cold))
    assert not torch.allclose(a, a[:1].expand_as(a))


def test_generic_interface_sees_the_top_group():
    model, x = small_model(), binary_batch(4)
    qz_x = model.encode(x)
    assert qz_x.event_shape == (2,) and model.latent_dim == 2
    px_z = model.decode(torch.zeros(3, 4, 2))
    assert px_z.batch_shape == (3, 4)
    assert model.reconstruct(x).shape == x.shape


def test_save_load_round_trip(tmp_path):
    model, x = small_model(), binary_batch()
    save_pretrained(model, tmp_path / "m")
    loaded = load_pretrained(tmp_path / "m")
    assert type(loaded) is type(model) and loaded.config.group_dims == (2, 3, 4)
    assert torch.equal(loaded.reconstruct(x), model.reconstruct(x))
    gen = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    assert torch.equal(loaded.sample(3, gen()), model.sample(3, gen()))


def read_log(run_dir) -> list[dict[str, str]]:
    with (run_dir / "logs" / "metrics.csv").open() as handle:
        return [r for r in csv.DictReader(handle) if r.get("train/kl_weight")]


def test_training_logs_group_kl_and_follows_the_warmup(tmp_path):
    config = load_experiment(None, [
        "model.type=hierarchical_vae", "model.hidden_dim=32", "model.group_dims=[2, 4]",
        "data.name=test_blobs", "data.val_size=32", "train.batch_size=16",
        "train.max_steps=40", "train.lr=3e-3", "train.kl_schedule=linear",
        "train.kl_warmup_steps=20", "train.log_every=4", "train.val_every=40",
        "train.progress_bar=false", "train.loggers=[csv]", "train.skip_grad_norm=1e6",
        f"run_dir={tmp_path / 'run'}"])
    result = train(config)
    rows = read_log(tmp_path / "run")
    assert len(rows) >= 5
    for row in rows:
        # The weight logged at (0-based) batch `step` is the one that batch was trained with.
        expected = kl_weight(int(row["step"]), "linear", warmup_steps=20, total_steps=40)
        assert float(row["train/kl_weight"]) == pytest.approx(expected)
        assert float(row["train/kl_g0"]) >= 0 and float(row["train/kl_g1"]) >= 0
        assert float(row["train/grad_norm"]) > 0
    first, last = float(rows[0]["train/recon"]), float(rows[-1]["train/recon"])
    assert last < first
    assert result.metrics["val/kl"] > 0


def test_updates_with_exploding_gradients_are_skipped(tmp_path):
    config = load_experiment(None, [
        "model.type=hierarchical_vae", "model.hidden_dim=16", "model.group_dims=[2]",
        "data.name=test_blobs", "data.val_size=32", "train.batch_size=16", "train.max_steps=6",
        "train.skip_grad_norm=1e-9", "train.progress_bar=false", "train.loggers=[csv]",
        "train.val_every=100", f"run_dir={tmp_path / 'run'}"])
    torch.manual_seed(0)
    before = build_model({"type": "hierarchical_vae", "hidden_dim": 16, "group_dims": [2],
                          "data_shape": (1, 8, 8)}).state_dict()
    result = train(config)
    after = result.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # no update was applied
    assert json.loads((tmp_path / "run" / "run.json").read_text())["skipped_updates"] == 6
