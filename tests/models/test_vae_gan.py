"""VAE-GAN (Larsen et al. 2016): three optimiser groups that each train only their own part,
the feature-wise reconstruction loss, the shared draws between groups, training through the
engine and exact resumption from a checkpoint."""

from __future__ import annotations

import csv
import math

import lightning as L
import pytest
import torch
from group_isolation import assert_groups_train_only_their_own_parameters
from torch.distributions import Normal

from vaekit.errors import ConfigError, ShapeError
from vaekit.losses.adversarial import discriminator_loss, generator_loss
from vaekit.models import BaseVAE, LossContext, build_model
from vaekit.models.vae_gan import (
    DECODER,
    DISCRIMINATOR,
    ENCODER,
    FAKES_CACHE_KEY,
    Z_CACHE_KEY,
    feature_nll,
    frozen,
)
from vaekit.training import load_experiment, train

SHAPE = [1, 8, 8]


def make(seed: int = 0, **extra) -> BaseVAE:
    torch.manual_seed(seed)
    options = {"type": "vae_gan", "network": "mlp", "data_shape": SHAPE, "latent_dim": 3,
               "network_options": {"hidden": [16]}, "discriminator_width": 4}
    return build_model({**options, **extra})


def batch(n: int = 6) -> torch.Tensor:
    return (torch.rand((n, *SHAPE), generator=torch.Generator().manual_seed(1)) > 0.5).float()


def test_three_disjoint_groups_in_training_order():
    model = make()
    groups = model.optimizer_groups()
    assert list(groups) == [ENCODER, DECODER, DISCRIMINATOR]
    ids = [{id(p) for p in params} for params in groups.values()]
    assert all(ids) and not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert set.union(*ids) == {id(p) for p in model.parameters()}
    assert ids[2] == {id(p) for p in model.discriminator.parameters()}
    assert ids[1] == {id(p) for p in model.decoder.parameters()}
    assert model.optimizer_options(DISCRIMINATOR) == {}
    tuned = make(discriminator_lr=2e-4, discriminator_betas=[0.5, 0.999])
    assert tuned.optimizer_options(DISCRIMINATOR) == {"lr": 2e-4, "betas": (0.5, 0.999)}
    assert tuned.optimizer_options(ENCODER) == tuned.optimizer_options(DECODER) == {}


@pytest.mark.parametrize("spectral", [False, True])
def test_each_group_trains_its_own_parameters_only(spectral):
    assert_groups_train_only_their_own_parameters(make(spectral_norm=spectral), batch())


def test_frozen_restores_requires_grad_even_after_an_error():
    layer, other = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    other.bias.requires_grad_(False)
    with pytest.raises(RuntimeError, match="boom"), frozen(layer, other):
        assert not any(p.requires_grad for p in [*layer.parameters(), *other.parameters()])
        raise RuntimeError("boom")
    assert layer.weight.requires_grad and layer.bias.requires_grad
    assert other.weight.requires_grad and not other.bias.requires_grad
    # Gradients still flow through a frozen module to its input.
    x = torch.ones(1, 2, requires_grad=True)
    with frozen(layer):
        layer(x).sum().backward()
    assert x.grad is not None and layer.weight.grad is None


def test_feature_nll_is_the_unit_gaussian_likelihood():
    real, fake = torch.randn(4, 5), torch.randn(4, 5)
    expected = -Normal(fake, 1.0).log_prob(real).sum(-1)
    torch.testing.assert_close(feature_nll(real, fake), expected)
    assert float(feature_nll(real, real)[0]) == pytest.approx(2.5 * math.log(2 * math.pi))


def test_loss_terms_compose_as_documented():
    model = make(gamma=0.3, adversarial_weight=2.0)
    x = batch()
    ctx = LossContext(kl_weight=0.5)
    enc = model.loss(x, ctx, ENCODER)
    torch.testing.assert_close(enc["loss"], 0.5 * enc["kl"] + enc["feature_recon"])
    torch.testing.assert_close(enc["elbo"], -(enc["recon"] + enc["kl"]))
    dec = model.loss(x, ctx, DECODER)
    torch.testing.assert_close(dec["loss"], 0.3 * dec["feature_recon"] + 2.0 * dec["adversarial"])
    pixel = make(pixel_weight=0.7)
    torch.manual_seed(3)
    a = pixel.loss(x, LossContext(), ENCODER)
    torch.testing.assert_close(a["loss"], a["kl"] + a["feature_recon"] + 0.7 * a["recon"])
    b = pixel.loss(x, LossContext(), DECODER)
    torch.testing.assert_close(b["loss"], b["feature_recon"] + b["adversarial"] + 0.7 * b["recon"])


def test_groups_share_the_steps_draws():
    """The decoder reconstructs the encoder pass's codes; the discriminator scores the decoder
    pass's fakes (reconstructions, then prior samples) against the batch."""
    model = make(adversarial_loss="hinge")
    x = batch()
    ctx = LossContext()
    model.loss(x, ctx, ENCODER)
    z = ctx.cache[Z_CACHE_KEY]
    dec = model.loss(x, ctx, DECODER)
    fakes = ctx.cache[FAKES_CACHE_KEY]
    assert fakes.shape == (2 * len(x), *SHAPE)
    with torch.no_grad():
        recon = model.likelihood.mean_image(model.decode(z))
        torch.testing.assert_close(fakes[: len(x)], recon)
        logits, _ = model.discriminator(fakes)
        torch.testing.assert_close(dec["adversarial"], generator_loss(logits, "hinge"))
    disc = model.loss(x, ctx, DISCRIMINATOR)
    with torch.no_grad():
        expected = discriminator_loss(model.discriminator(x)[0], logits, "hinge")
    for key in ("loss", "d_real", "d_fake"):
        torch.testing.assert_close(disc[key], expected[key])
    # Each group also works on its own (no earlier pass this step).
    for group in (DECODER, DISCRIMINATOR):
        assert torch.isfinite(model.loss(x, LossContext(), group)["loss"])


def test_config_errors():
    with pytest.raises(ConfigError, match="non_saturating, hinge"):
        make(adversarial_loss="wgan")
    with pytest.raises(ConfigError, match="gamma"):
        make(gamma=-1.0)
    with pytest.raises(ConfigError, match="discriminator_width"):
        make(discriminator_width=0)
    with pytest.raises(ShapeError, match="at least 8x8"):
        make(data_shape=[1, 4, 4])


def test_save_and_load_with_spectral_norm(tmp_path):
    model = make(spectral_norm=True)
    model.train()
    for _ in range(3):  # move the power-iteration vectors away from their initial values
        model.loss(batch(), LossContext(), DISCRIMINATOR)
    loaded = BaseVAE.from_pretrained(model.save_pretrained(tmp_path / "m"))
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    model.eval()
    loaded.eval()
    x = batch()
    with torch.no_grad():
        torch.testing.assert_close(model.discriminator(x)[0], loaded.discriminator(x)[0])


# ------------------------------------------------------------------------------ the engine
class InitialWeights(L.Callback):
    def on_train_start(self, trainer, pl_module) -> None:
        self.state = {k: v.detach().clone() for k, v in pl_module.model.state_dict().items()}


def overrides(run_dir, steps: int, *extra: str) -> list[str]:
    return ["model.type=vae_gan", "model.network=mlp", "model.latent_dim=2",
            "model.network_options={hidden: [32]}", "model.discriminator_width=4",
            "data.name=test_blobs", "data.val_size=32", f"train.max_steps={steps}",
            "train.batch_size=16", "train.lr=3e-3", "train.val_every=20", "train.val_batches=1",
            "train.log_every=1", "train.checkpoint_every=10", "train.progress_bar=false",
            "train.loggers=[csv]", "train.threads=1", f"run_dir={run_dir}", *extra]


def test_three_groups_step_through_the_engine(tmp_path):
    snapshot = InitialWeights()
    result = train(load_experiment(None, overrides(tmp_path / "run", 40)), callbacks=[snapshot])
    trained = result.model.state_dict()
    for part in ("encoder.", "decoder.", "discriminator."):
        names = [name for name in trained if name.startswith(part)]
        assert names and all(not torch.equal(snapshot.state[n], trained[n]) for n in names), part
    with (tmp_path / "run" / "logs" / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {"train/encoder/kl", "train/encoder/feature_recon", "train/decoder/adversarial",
            "train/discriminator/d_real", "train/discriminator/d_fake"} <= set(rows[0])
    assert any(r.get("val/feature_recon") for r in rows)  # validation runs the encoder loss


@pytest.mark.parametrize("extra", [[], ["model.spectral_norm=true",
                                        "model.adversarial_loss=hinge"]])
def test_resumed_run_equals_the_uninterrupted_one(tmp_path, extra):
    straight = train(load_experiment(None, overrides(tmp_path / "straight", 16, *extra)))
    train(load_experiment(None, overrides(tmp_path / "split", 10, *extra)))
    resumed = train(load_experiment(tmp_path / "split" / "config.yaml", ["train.max_steps=16"]),
                    resume=True)
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
