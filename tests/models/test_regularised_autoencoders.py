"""The deterministic baselines: the plain autoencoder and the regularised autoencoders RAE-L2 and
RAE-GP of Ghosh et al. (2020)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from torch import nn

import vaekit.models.autoencoder  # noqa: F401  (registration)
import vaekit.models.rae  # noqa: F401  (registration)
from vaekit.errors import ConfigError
from vaekit.evaluation.latents import encode_dataset
from vaekit.models import BaseVAE, build_model
from vaekit.models.autoencoder import POSTERIOR_STD, Autoencoder
from vaekit.models.rae import code_penalty, jacobian_sq_norm_estimate, weight_sq_norm
from vaekit.registry import DATASETS
from vaekit.samplers import GaussianMixtureSampler
from vaekit.training import load_experiment, train

SHAPE = [1, 8, 8]


def make(model_type: str, seed: int = 0, **extra) -> BaseVAE:
    torch.manual_seed(seed)
    options = {"type": model_type, "network": "mlp", "data_shape": SHAPE, "latent_dim": 3,
               "network_options": {"hidden": [16]}}
    return build_model({**options, **extra})


def batch(n: int = 8) -> torch.Tensor:
    return (torch.rand((n, *SHAPE), generator=torch.Generator().manual_seed(1)) > 0.5).float()


# ------------------------------------------------------------------------------ autoencoder
def test_autoencoder_loss_is_the_reconstruction_nll_of_the_point_code():
    model = make("autoencoder")
    x = batch()
    out = model.loss(x)
    assert set(out) == {"loss", "recon"}
    codes = model.encoder(x)
    expected = -model.decode(codes).log_prob(x).mean()
    torch.testing.assert_close(out["loss"], expected)
    torch.testing.assert_close(model.loss(x)["loss"], out["loss"], rtol=0, atol=0)  # no noise
    qz_x = model.encode(x)
    torch.testing.assert_close(qz_x.mean, codes)
    assert torch.all(qz_x.stddev == POSTERIOR_STD) and qz_x.event_shape == (3,)
    assert not Autoencoder.defines_likelihood
    # The prior is N(0, I), so sampling works (badly, by design).
    assert model.sample(5, generator=torch.Generator().manual_seed(0)).shape == (5, *SHAPE)


# ---------------------------------------------------------------------------------- RAE-L2
def test_weight_norm_covers_weights_not_biases():
    layer = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    expected = layer[0].weight.pow(2).sum() + layer[2].weight.pow(2).sum()
    torch.testing.assert_close(weight_sq_norm(layer), expected)
    weight_sq_norm(layer).backward()
    assert layer[0].bias.grad is None and layer[0].weight.grad is not None


def test_rae_l2_loss_terms():
    model = make("rae_l2", embedding_weight=0.3, reg_weight=0.02)
    x = batch()
    out = model.loss(x)
    codes = model.encoder(x)
    torch.testing.assert_close(out["embedding"], 0.5 * codes.pow(2).sum(-1).mean())
    decoder_weights = [m.weight for m in model.decoder.modules() if isinstance(m, nn.Linear)]
    torch.testing.assert_close(out["decoder_reg"],
                               sum(w.pow(2).sum() for w in decoder_weights))
    torch.testing.assert_close(out["loss"], out["recon"] + 0.3 * out["embedding"]
                               + 0.02 * out["decoder_reg"])
    # The penalty is on the decoder only: it leaves no gradient on the encoder by itself.
    model.zero_grad()
    model.loss(x)["decoder_reg"].backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    torch.testing.assert_close(code_penalty(torch.tensor([[3.0, 4.0]])), torch.tensor([12.5]))


def test_rae_defaults_and_config_checks():
    assert (make("rae_l2").config.embedding_weight, make("rae_l2").config.reg_weight) == (1e-4,
                                                                                        1e-7)
    assert make("rae_gp").config.reg_weight == 0.5e-7
    with pytest.raises(ConfigError, match="embedding_weight"):
        make("rae_gp", embedding_weight=-1.0)


# ---------------------------------------------------------------------------------- RAE-GP
def average_estimate(fn, z: torch.Tensor, probes: int) -> torch.Tensor:
    """Mean of ``probes`` independent one-probe estimates at each row of z."""
    repeated = z.repeat(probes, 1).requires_grad_(True)
    estimates = jacobian_sq_norm_estimate(fn, repeated, torch.Generator().manual_seed(0))
    return estimates.detach().reshape(probes, len(z)).mean(0)


def test_jacobian_estimate_of_a_linear_decoder_is_its_frobenius_norm():
    model = make("rae_gp", likelihood="gaussian", network_options={"hidden": []})
    (linear,) = [m for m in model.decoder.modules() if isinstance(m, nn.Linear)]
    z = torch.randn(2, 3, generator=torch.Generator().manual_seed(2))
    estimate = average_estimate(model.decoded_mean, z, probes=4000)
    exact = linear.weight.detach().pow(2).sum()  # the Gaussian mean is the raw output: J = W
    torch.testing.assert_close(estimate, exact.expand(2), rtol=0.05, atol=0)


def test_jacobian_estimate_matches_autograd_jacobian_of_a_nonlinear_decoder():
    model = make("rae_gp")  # Bernoulli: D(z) = sigmoid(MLP(z)), tanh hidden layer
    z = torch.randn(3, 3, generator=torch.Generator().manual_seed(3))
    exact = torch.stack([
        torch.autograd.functional.jacobian(lambda v: model.decoded_mean(v[None])[0], row)
        .pow(2).sum() for row in z
    ])
    estimate = average_estimate(model.decoded_mean, z, probes=4000)
    torch.testing.assert_close(estimate, exact, rtol=0.06, atol=0)


def test_gradient_penalty_trains_the_decoder_and_works_without_autograd():
    model = make("rae_gp", reg_weight=1.0, embedding_weight=0.1)
    x = batch()
    out = model.loss(x)
    torch.testing.assert_close(out["loss"], out["recon"] + 0.1 * out["embedding"]
                               + out["decoder_reg"])
    model.zero_grad()
    out["decoder_reg"].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.decoder.parameters()
               if p.dim() > 1)
    with torch.inference_mode():  # Lightning's validation: the penalty is still computed
        val = model.loss(x)
    assert torch.isfinite(val["decoder_reg"]) and val["decoder_reg"] > 0


# ----------------------------------------------------------------------- with the engine
BASE = [
    "model.network=mlp", "model.latent_dim=3", "model.network_options={hidden: [32]}",
    "data.name=test_blobs", "data.val_size=32", "train.max_steps=60", "train.batch_size=16",
    "train.lr=5e-3", "train.val_every=30", "train.val_batches=1", "train.log_every=1",
    "train.progress_bar=false", "train.loggers=[csv]",
]


def run(tmp_path: Path, name: str, *overrides: str):
    config = load_experiment(None, [*BASE, *overrides, f"run_dir={tmp_path / name}"])
    result = train(config)
    with (tmp_path / name / "logs" / "metrics.csv").open() as handle:
        losses = [float(r["train/loss"]) for r in csv.DictReader(handle) if r.get("train/loss")]
    return result, losses


@pytest.mark.parametrize("model_type", ["autoencoder", "rae_l2", "rae_gp"])
def test_trains_through_the_engine(tmp_path, model_type):
    result, losses = run(tmp_path, model_type, f"model.type={model_type}")
    assert result.steps == 60
    assert sum(losses[-10:]) < 0.8 * sum(losses[:10])


def test_the_code_penalty_keeps_codes_small_and_a_gmm_samples_them(tmp_path):
    blobs = DATASETS.build("test_blobs", "train")
    norms = {}
    for beta in (0.0, 3.0):
        result, _ = run(tmp_path, f"beta{beta}", "model.type=rae_l2",
                        f"model.embedding_weight={beta}")
        codes, _ = encode_dataset(result.model, blobs, max_examples=128)
        norms[beta] = float((torch.from_numpy(codes) ** 2).sum(-1).mean())
    assert norms[3.0] < 0.5 * norms[0.0], norms
    # Ex-post density estimation, what RAEs are sampled with.
    sampler = GaussianMixtureSampler(result.model, num_components=2).fit(blobs, max_examples=128)
    images = sampler.sample(6, generator=torch.Generator().manual_seed(0))
    assert images.shape == (6, *SHAPE) and 0 <= images.min() and images.max() <= 1
