"""Soft-IntroVAE (Daniel & Tamar 2021): two optimiser groups that each train only their own
part, the soft exponential ELBO term of the encoder, the decoder's loss, training through the
engine and exact resumption from a checkpoint."""

from __future__ import annotations

import csv

import lightning as L
import pytest
import torch
from group_isolation import assert_groups_train_only_their_own_parameters

from vaekit.errors import ConfigError
from vaekit.models import BaseVAE, LossContext, build_model
from vaekit.models.soft_intro_vae import DECODER, ENCODER, POSTERIOR_KEY, PRIOR_Z_KEY
from vaekit.training import load_experiment, train

SHAPE = [1, 8, 8]


def make(seed: int = 0, **extra) -> BaseVAE:
    torch.manual_seed(seed)
    options = {"type": "soft_intro_vae", "network": "mlp", "data_shape": SHAPE,
               "latent_dim": 3, "network_options": {"hidden": [16]}}
    return build_model({**options, **extra})


def batch(n: int = 6) -> torch.Tensor:
    return (torch.rand((n, *SHAPE), generator=torch.Generator().manual_seed(1)) > 0.5).float()


def test_defaults_groups_and_scale():
    model = make()
    cfg = model.config
    assert (cfg.beta_rec, cfg.beta_kl, cfg.beta_neg, cfg.alpha, cfg.gamma_r) == (
        1.0, 1.0, 256.0, 2.0, 1e-8)
    assert model.scale == pytest.approx(1 / 64)  # 1 / (C * H * W)
    assert make(scale=0.5).scale == 0.5
    groups = model.optimizer_groups()
    assert list(groups) == [ENCODER, DECODER]
    enc, dec = ({id(p) for p in params} for params in groups.values())
    assert enc and dec and not enc & dec
    assert enc | dec == {id(p) for p in model.parameters()}
    assert dec == {id(p) for p in model.decoder.parameters()}
    assert model.defines_likelihood


def test_each_group_trains_its_own_parameters_only():
    assert_groups_train_only_their_own_parameters(make(), batch())


def test_encoder_loss_is_the_elbo_plus_the_soft_term():
    model = make(alpha=2.0, beta_neg=4.0)
    x = batch()
    out = model.loss(x, LossContext(), ENCODER)
    torch.testing.assert_close(out["elbo"], -(out["recon"] + out["kl"]))
    soft = 0.5 * (out["exp_elbo_rec"] + out["exp_elbo_fake"]) / (2.0 * model.scale)
    torch.testing.assert_close(out["loss"], out["recon"] + out["kl"] + soft)
    assert 0 < float(out["exp_elbo_fake"]) < 1  # exp of a negative scaled ELBO
    # A huge beta_neg makes the fakes' exp(ELBO) vanish: the loss is the negative ELBO.
    plain = make(beta_neg=1e6)
    out = plain.loss(x, LossContext(), ENCODER)
    assert float(out["exp_elbo_rec"]) == 0.0 and float(out["exp_elbo_fake"]) == 0.0
    torch.testing.assert_close(out["loss"], out["recon"] + out["kl"])


def test_the_soft_term_falls_as_the_fakes_kl_rises():
    """The soft term rewards the encoder for giving generated images a large KL (telling them
    apart from data): moving every posterior mean away from the prior raises the fakes' KL and
    lowers their exp(ELBO), for the same noise."""
    model = make(beta_neg=64.0)
    x = batch()
    torch.manual_seed(2)
    base = model.loss(x, LossContext(), ENCODER)
    # The encoder's last layer outputs [mu, pre-sigma]: shift every mu by 2.
    head = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        head.bias[: model.latent_dim] += 2.0
    torch.manual_seed(2)
    shifted = model.loss(x, LossContext(), ENCODER)
    assert float(shifted["kl_fake"]) > float(base["kl_fake"])
    assert float(shifted["exp_elbo_fake"]) < float(base["exp_elbo_fake"])


def test_decoder_loss_composes_as_documented_and_uses_the_encoder_pass():
    model = make(beta_rec=2.0, beta_kl=0.5, gamma_r=0.1)
    x = batch()
    ctx = LossContext()
    model.loss(x, ctx, ENCODER)
    assert set(ctx.cache) == {POSTERIOR_KEY, PRIOR_Z_KEY}
    assert ctx.cache[PRIOR_Z_KEY].shape == (len(x), model.latent_dim)
    out = model.loss(x, ctx, DECODER)
    expected = (2.0 * out["recon"] + 0.5 * 0.5 * (out["kl_rec"] + out["kl_fake"])
                + 0.1 * 2.0 * out["recon_fake"])
    torch.testing.assert_close(out["loss"], expected)
    # Without an encoder pass this step, the decoder group encodes the batch itself.
    assert torch.isfinite(model.loss(x, LossContext(), DECODER)["loss"])


def test_config_errors():
    for key in ("beta_neg", "beta_rec", "beta_kl", "alpha"):
        with pytest.raises(ConfigError, match=key):
            make(**{key: 0.0})
    with pytest.raises(ConfigError, match="gamma_r"):
        make(gamma_r=-1.0)
    with pytest.raises(ConfigError, match="scale"):
        make(scale=0.0)


# ------------------------------------------------------------------------------ the engine
class InitialWeights(L.Callback):
    def on_train_start(self, trainer, pl_module) -> None:
        self.state = {k: v.detach().clone() for k, v in pl_module.model.state_dict().items()}


def overrides(run_dir, steps: int) -> list[str]:
    return ["model.type=soft_intro_vae", "model.network=mlp", "model.latent_dim=2",
            "model.network_options={hidden: [32]}", "model.beta_neg=16",
            "data.name=test_blobs", "data.val_size=32", f"train.max_steps={steps}",
            "train.batch_size=16", "train.lr=3e-3", "train.val_every=20", "train.val_batches=1",
            "train.log_every=1", "train.checkpoint_every=10", "train.progress_bar=false",
            "train.loggers=[csv]", "train.threads=1", f"run_dir={run_dir}"]


def test_both_groups_step_through_the_engine_and_reconstruction_improves(tmp_path):
    snapshot = InitialWeights()
    result = train(load_experiment(None, overrides(tmp_path / "run", 60)), callbacks=[snapshot])
    trained = result.model.state_dict()
    for part in ("encoder.", "decoder."):
        names = [name for name in trained if name.startswith(part)]
        assert names and all(not torch.equal(snapshot.state[n], trained[n]) for n in names), part
    with (tmp_path / "run" / "logs" / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {"train/encoder/exp_elbo_fake", "train/encoder/kl",
            "train/decoder/kl_fake"} <= set(rows[0])
    recon = [float(r["train/decoder/recon"]) for r in rows if r.get("train/decoder/recon")]
    assert sum(recon[-10:]) < 0.8 * sum(recon[:10])


def test_resumed_run_equals_the_uninterrupted_one(tmp_path):
    straight = train(load_experiment(None, overrides(tmp_path / "straight", 16)))
    train(load_experiment(None, overrides(tmp_path / "split", 10)))
    resumed = train(load_experiment(tmp_path / "split" / "config.yaml", ["train.max_steps=16"]),
                    resume=True)
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
