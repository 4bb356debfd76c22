"""VAEs with flow posteriors (vae_linnf: planar/radial, vae_iaf): identity flows give the plain
VAE, the loss and the evaluation hooks use the flow posterior's density, training learns."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from torch.distributions import Independent

import vaekit.models.vae_iaf  # noqa: F401  (registers the model)
import vaekit.models.vae_linnf  # noqa: F401  (registers the model)
from vaekit.distributions.flows import FlowPosterior, IAFStep, PlanarFlow, RadialFlow
from vaekit.errors import ConfigError
from vaekit.models import BaseVAE, LossContext, build_model
from vaekit.training import load_experiment, train

SHAPE = [1, 8, 8]
SMALL_IAF = {"made_hidden": [16, 16], "context_dim": 4}


def make(model_type: str, seed: int = 0, **extra) -> BaseVAE:
    torch.manual_seed(seed)
    return build_model({"type": model_type, "network": "mlp", "data_shape": SHAPE,
                        "latent_dim": 3, "network_options": {"hidden": [16]}, **extra})


def batch(n: int = 8) -> torch.Tensor:
    return (torch.rand((n, *SHAPE), generator=torch.Generator().manual_seed(1)) > 0.5).float()


def seeded() -> torch.Generator:
    return torch.Generator().manual_seed(3)


def make_identity(model: BaseVAE) -> None:
    """Set every flow to the identity map (exactly for planar/radial, to within 1e-17 for IAF)."""
    with torch.no_grad():
        for flow in model.flows:
            if isinstance(flow, PlanarFlow):  # u-hat = 0 needs m(w^T u) = 0: w^T u = log(e - 1)
                flow.u.copy_(math.log(math.e - 1) * flow.w / flow.w.square().sum())
            elif isinstance(flow, RadialFlow):  # beta = 0: softplus(beta_raw) = alpha
                flow.beta_raw.copy_(torch.log(torch.expm1(torch.nn.functional.softplus(
                    flow.alpha_raw))))
            elif isinstance(flow, IAFStep):  # sigmoid(s) = 1 to double precision
                flow.gate_bias = 40.0


def plain_vae_twin(model: BaseVAE) -> BaseVAE:
    """A plain ``vae`` with the flow model's encoder and decoder."""
    vae = make("vae")
    missing, unexpected = vae.load_state_dict(model.state_dict(), strict=False)
    assert not missing and all(key.startswith("flows.") for key in unexpected)
    return vae


# ---------------------------------------------------------------- identity flows = plain VAE
def test_linnf_with_identity_flows_is_the_plain_vae():
    model = make("vae_linnf", flows=["planar", "radial", "planar"])
    make_identity(model)
    vae = plain_vae_twin(model)
    x = batch()
    # Importance weights (the likelihood evaluation) on the same draws.
    torch.testing.assert_close(model.log_importance_weights(x, 5, seeded()),
                               vae.log_importance_weights(x, 5, seeded()))
    # The training loss on the same draw: the same reconstruction, and a KL estimate that is
    # the single-sample one of the plain posterior (the VAE itself uses the analytic KL).
    torch.manual_seed(4)
    out = model.loss(x)
    torch.manual_seed(4)
    qz_x = vae.encode(x)
    z = qz_x.rsample()
    torch.testing.assert_close(out["recon"], -vae.decode(z).log_prob(x).mean())
    torch.testing.assert_close(out["kl"], (qz_x.log_prob(z) - vae.prior().log_prob(z)).mean())
    torch.testing.assert_close(out["loss"], out["recon"] + out["kl"])
    torch.testing.assert_close(model.reconstruct(x), vae.reconstruct(x))


def test_iaf_with_identity_steps_scores_like_its_base_posterior():
    model = make("vae_iaf", **SMALL_IAF).double()
    make_identity(model)
    x = batch().double()
    qz0 = model.encode(x)
    z = qz0.mean + qz0.stddev * torch.randn((5, *qz0.batch_shape, 3), generator=seeded(),
                                            dtype=torch.float64)
    expected = model.decode(z).log_prob(x) + model.prior().log_prob(z) - qz0.log_prob(z)
    torch.testing.assert_close(model.log_importance_weights(x, 5, seeded()), expected)


def test_flows_change_the_weights_when_not_the_identity():
    model = make("vae_linnf", flows=["planar", "radial"])
    with torch.no_grad():
        for p in model.flows.parameters():
            p.normal_()
    x = batch()
    base_only = plain_vae_twin(model).log_importance_weights(x, 5, seeded())
    assert not torch.allclose(model.log_importance_weights(x, 5, seeded()), base_only)


# ----------------------------------------------------------------- the flow posterior's density
@pytest.mark.parametrize(("model_type", "extra"), [
    ("vae_linnf", {"flows": ["radial", "planar"]}), ("vae_iaf", SMALL_IAF),
])
def test_evaluation_hooks_use_the_flow_posterior(model_type, extra):
    model = make(model_type, **extra)
    x = batch()
    qz_x = model.posterior(x)
    assert isinstance(qz_x, FlowPosterior) and isinstance(model.encode(x), Independent)
    # log w by hand from q_K's own samples and density ...
    z, log_q = qz_x.transform(qz_x.base.mean + qz_x.base.stddev * torch.randn(
        (6, len(x), 3), generator=seeded()))
    expected = model.decode(z).log_prob(x) + model.prior().log_prob(z) - log_q
    torch.testing.assert_close(model.log_importance_weights(x, 6, seeded()), expected)
    # ... and the ELBO terms are its average on the same draws.
    recon, kl_example = model.elbo_terms(x, 6, seeded())
    torch.testing.assert_close(-(recon + kl_example), expected.mean(0))


def test_iaf_reads_the_encoder_context():
    model = make("vae_iaf", **SMALL_IAF)
    x = batch()
    base, context = model.base_and_context(x)
    assert context.shape == (len(x), 4)
    z0 = base.mean
    with_context = FlowPosterior(base, model.flows, context).transform(z0)[0]
    without = FlowPosterior(base, model.flows, torch.zeros_like(context)).transform(z0)[0]
    assert (with_context - without).abs().max() > 1e-4


def test_kl_weight_and_free_bits_act_on_the_kl_estimate():
    model = make("vae_linnf")
    x = batch()
    torch.manual_seed(0)
    out = model.loss(x, LossContext(kl_weight=0.25))
    torch.testing.assert_close(out["loss"], out["recon"] + 0.25 * out["kl"])
    torch.manual_seed(0)
    floored = model.loss(x, LossContext(free_bits=50.0))  # floor far above the KL
    torch.testing.assert_close(floored["loss"], floored["recon"] + 50.0)


@pytest.mark.parametrize(("model_type", "extra", "message"), [
    ("vae_linnf", {"flows": ["planar", "sylvester"]}, r"model.flows\[1\]"),
    ("vae_iaf", {"num_steps": 0}, "model.num_steps"),
    ("vae_iaf", {"made_hidden": []}, "model.made_hidden"),
    ("vae_iaf", {"context_dim": -1}, "model.context_dim"),
])
def test_bad_settings_are_config_errors_naming_the_key(model_type, extra, message):
    with pytest.raises(ConfigError, match=message):
        make(model_type, **extra)


def test_defaults():
    linnf, iaf = make("vae_linnf"), make("vae_iaf")
    assert [type(f).__name__ for f in linnf.flows] == ["PlanarFlow", "PlanarFlow"]
    # Reversed between steps, and back at the end: z_T is in z_0's order.
    assert [type(f).__name__ for f in iaf.flows] == ["IAFStep", "ReverseFlow", "IAFStep",
                                                     "ReverseFlow"]
    odd = make("vae_iaf", num_steps=3, **SMALL_IAF)
    assert [type(f).__name__ for f in odd.flows].count("ReverseFlow") == 2
    assert iaf.config.made_hidden == [128, 128, 128] and iaf.config.gate_bias == 1.0


# ------------------------------------------------------------------------------ training
@pytest.mark.parametrize(("model_type", "extra"), [
    ("vae_linnf", ["model.flows=[planar, radial, planar]"]),
    ("vae_iaf", ["model.made_hidden=[32, 32]", "model.context_dim=8"]),
])
def test_training_lowers_the_loss(tmp_path, model_type, extra):
    config = load_experiment(None, [
        f"model.type={model_type}", "model.network=mlp", "model.latent_dim=4",
        "model.network_options={hidden: [32]}", "data.name=test_blobs", "data.val_size=32",
        "train.batch_size=16", "train.max_steps=40", "train.lr=5e-3", "train.val_every=40",
        "train.log_every=2", "train.progress_bar=false", "train.loggers=[csv]",
        f"run_dir={tmp_path / 'run'}", *extra,
    ])
    result = train(config)
    assert result.steps == 40
    with (tmp_path / "run" / "logs" / "metrics.csv").open() as handle:
        curve = [float(r["train/loss"]) for r in csv.DictReader(handle) if r.get("train/loss")]
    assert len(curve) >= 10
    assert sum(curve[-3:]) / 3 < 0.8 * sum(curve[:3]) / 3
