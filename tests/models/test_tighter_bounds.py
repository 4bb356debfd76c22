"""MIWAE, CIWAE and PIWAE (Rainforth et al. 2018): their bounds, their special cases, PIWAE's
gradient routing, and training through the engine."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch

import vaekit.models.ciwae  # noqa: F401  (registers the model)
import vaekit.models.miwae  # noqa: F401  (registers the model)
import vaekit.models.piwae  # noqa: F401  (registers the model)
from vaekit.errors import ConfigError
from vaekit.losses.iwae import iwae_bound
from vaekit.losses.tighter_bounds import ciwae_bound, elbo_estimate, miwae_bound
from vaekit.models import BaseVAE, LossContext, build_model
from vaekit.models.piwae import DECODER, ENCODER, SAMPLES_CACHE_KEY
from vaekit.training import load_experiment, train

SHAPE = [1, 8, 8]


def make(model_type: str, seed: int = 0, **extra) -> BaseVAE:
    torch.manual_seed(seed)
    return build_model({"type": model_type, "network": "mlp", "data_shape": SHAPE,
                        "latent_dim": 3, "network_options": {"hidden": [16]}, **extra})


def batch(n: int = 8) -> torch.Tensor:
    return (torch.rand((n, *SHAPE), generator=torch.Generator().manual_seed(1)) > 0.5).float()


def log_weights(*shape: int) -> torch.Tensor:
    # Spread-out weights, as early in training: the bounds then differ by whole nats.
    return 3.0 * torch.randn(*shape, generator=torch.Generator().manual_seed(0)) - 50.0


def same_seed_loss(model: BaseVAE, x: torch.Tensor, **kwargs) -> dict[str, torch.Tensor]:
    torch.manual_seed(7)
    return model.loss(x, **kwargs)


# --------------------------------------------------------------------------------- bounds
def test_miwae_with_one_group_is_iwae_and_with_one_sample_the_elbo():
    log_w = log_weights(6, 5)  # (K, B)
    torch.testing.assert_close(miwae_bound(log_w[None]), iwae_bound(log_w))
    torch.testing.assert_close(miwae_bound(log_w[:, None]), elbo_estimate(log_w))


def test_miwae_lies_between_the_elbo_and_the_iwae_bound_of_all_samples():
    log_w = log_weights(4, 3, 5)  # (M, K, B)
    flat = log_w.flatten(0, 1)
    miwae = miwae_bound(log_w)
    assert (elbo_estimate(flat) < miwae).all() and (miwae < iwae_bound(flat)).all()
    # It is the mean of the M groups' own IWAE bounds.
    by_hand = torch.stack([torch.logsumexp(g, 0) - math.log(3) for g in log_w]).mean(0)
    torch.testing.assert_close(miwae, by_hand)


def test_ciwae_endpoints_and_interpolation():
    log_w = log_weights(7, 5)
    elbo, iwae = elbo_estimate(log_w), iwae_bound(log_w)
    torch.testing.assert_close(ciwae_bound(log_w, 1.0), elbo)
    torch.testing.assert_close(ciwae_bound(log_w, 0.0), iwae)
    torch.testing.assert_close(ciwae_bound(log_w, 0.25), 0.25 * elbo + 0.75 * iwae)
    assert (iwae - elbo > 0.5).all()  # the endpoints really differ here
    with pytest.raises(ValueError, match="beta"):
        ciwae_bound(log_w, 1.5)


# --------------------------------------------------------------------------------- models
def test_miwae_with_one_group_trains_like_iwae():
    x = batch()
    iwae = make("iwae", num_samples=5)
    miwae = make("miwae", num_groups=1, num_samples=5)
    miwae.load_state_dict(iwae.state_dict())
    a, b = same_seed_loss(iwae, x), same_seed_loss(miwae, x)
    torch.testing.assert_close(a["loss"], b["loss"])
    torch.testing.assert_close(b["miwae_bound"], b["iwae_bound"])


def test_miwae_default_budget_and_loss_terms():
    model = make("miwae")
    assert (model.config.num_groups, model.config.num_samples) == (8, 8)
    out = model.loss(batch())
    torch.testing.assert_close(out["loss"], -out["miwae_bound"])
    assert out["elbo"] < out["miwae_bound"] < out["iwae_bound"]


def test_ciwae_endpoints_are_the_vae_and_iwae_objectives():
    x = batch()
    iwae = make("iwae", num_samples=6)
    for beta, key in ((0.0, "iwae_bound"), (1.0, "elbo")):
        ciwae = make("ciwae", num_samples=6, beta=beta)
        ciwae.load_state_dict(iwae.state_dict())
        out = same_seed_loss(ciwae, x)
        torch.testing.assert_close(out["ciwae_bound"], out[key])
        if beta == 0.0:
            torch.testing.assert_close(out["loss"], same_seed_loss(iwae, x)["loss"])


@pytest.mark.parametrize(("model_type", "extra", "message"), [
    ("ciwae", {"beta": 1.5}, "model.beta"),
    ("miwae", {"num_groups": 0}, "model.num_groups"),
    ("piwae", {"num_samples": 0}, "model.num_samples"),
])
def test_bad_settings_are_config_errors_naming_the_key(model_type, extra, message):
    with pytest.raises(ConfigError, match=message):
        make(model_type, **extra)


# ---------------------------------------------------------------------------------- PIWAE
def _grads(loss: torch.Tensor, params: list[torch.nn.Parameter]) -> list[torch.Tensor]:
    return list(torch.autograd.grad(loss, params, allow_unused=True, retain_graph=True))


def test_piwae_groups_split_the_parameters_into_encoder_and_decoder():
    model = make("piwae")
    groups = model.optimizer_groups()
    assert list(groups) == [ENCODER, DECODER]
    encoder, decoder = ({id(p) for p in groups[g]} for g in (ENCODER, DECODER))
    assert not encoder & decoder
    assert encoder | decoder == {id(p) for p in model.parameters()}
    assert encoder == {id(p) for p in model.encoder.parameters()}
    assert {id(p) for p in model.decoder.parameters()} <= decoder


def test_piwae_encoder_is_trained_by_miwae_and_decoder_by_iwae_of_the_same_samples():
    m, k = 2, 3
    model = make("piwae", num_groups=m, num_samples=k)
    groups = model.optimizer_groups()
    x, ctx = batch(), LossContext()

    # Reference: the two objectives on the same reparameterised draws.
    torch.manual_seed(3)
    qz_x = model.encode(x)
    z = qz_x.rsample((m * k,))
    log_w = model.log_joint(x, z, qz_x.log_prob(z))
    miwae_grads = _grads(-miwae_bound(log_w.reshape(m, k, -1)).mean(), groups[ENCODER])
    iwae_enc_grads = _grads(-iwae_bound(log_w).mean(), groups[ENCODER])
    iwae_dec_grads = _grads(-iwae_bound(log_w).mean(), groups[DECODER])
    # The test can tell the two targets apart: they pull the encoder differently.
    assert not all(torch.allclose(a, b) for a, b in zip(miwae_grads, iwae_enc_grads))

    torch.manual_seed(3)
    model.zero_grad()
    model.loss(x, ctx, ENCODER)["loss"].backward()
    for param, expected in zip(groups[ENCODER], miwae_grads):
        torch.testing.assert_close(param.grad, expected)
    cached_z, _ = ctx.cache[SAMPLES_CACHE_KEY]
    torch.testing.assert_close(cached_z, z.detach())

    model.zero_grad(set_to_none=True)
    out = model.loss(x, ctx, DECODER)
    out["loss"].backward()
    assert all(p.grad is None for p in groups[ENCODER])  # no IWAE gradient reaches phi
    for param, expected in zip(groups[DECODER], iwae_dec_grads):
        torch.testing.assert_close(param.grad, expected)
    torch.testing.assert_close(out["iwae_bound"], iwae_bound(log_w).mean())


def test_piwae_with_one_group_is_iwae_for_both_groups():
    x = batch()
    iwae = make("iwae", num_samples=4)
    piwae = make("piwae", num_groups=1, num_samples=4)
    piwae.load_state_dict(iwae.state_dict())
    torch.testing.assert_close(same_seed_loss(piwae, x, group=ENCODER)["loss"],
                               same_seed_loss(iwae, x)["loss"])
    with pytest.raises(ValueError, match="encoder"):
        piwae.loss(x, group="model")


# ------------------------------------------------------------------------------ training
def _curve(run_dir: Path, key: str) -> list[float]:
    with (run_dir / "logs" / "metrics.csv").open() as handle:
        return [float(r[key]) for r in csv.DictReader(handle) if r.get(key)]


@pytest.mark.parametrize(("model_type", "extra", "key"), [
    ("miwae", ["model.num_groups=2", "model.num_samples=3"], "train/loss"),
    ("ciwae", ["model.num_samples=6"], "train/loss"),
    ("piwae", ["model.num_groups=2", "model.num_samples=3"], "train/decoder/loss"),
])
def test_training_lowers_the_loss(tmp_path, model_type, extra, key):
    config = load_experiment(None, [
        f"model.type={model_type}", "model.network=mlp", "model.latent_dim=4",
        "model.network_options={hidden: [32]}", "data.name=test_blobs", "data.val_size=32",
        "train.batch_size=16", "train.max_steps=40", "train.lr=5e-3", "train.val_every=40",
        "train.log_every=2", "train.progress_bar=false", "train.loggers=[csv]",
        f"run_dir={tmp_path / 'run'}", *extra,
    ])
    result = train(config)
    assert result.steps == 40
    curve = _curve(tmp_path / "run", key)
    assert len(curve) >= 10
    assert sum(curve[-3:]) / 3 < 0.8 * sum(curve[:3]) / 3
