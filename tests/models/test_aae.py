"""The adversarial autoencoder (Makhzani et al. 2016): its discriminator separates prior draws
from codes, the generator loss pulls codes towards the prior, and both groups train."""

from __future__ import annotations

import csv

import lightning as L
import pytest
import torch
from torch import nn

import vaekit.models.aae  # noqa: F401  (registration)
from vaekit.errors import ConfigError
from vaekit.models import BaseVAE, LossContext, build_model
from vaekit.models.aae import DISCRIMINATOR, Z_CACHE_KEY, discriminator_terms
from vaekit.training import load_experiment, train

SHAPE = [1, 8, 8]


def make(seed: int = 0, **extra) -> BaseVAE:
    torch.manual_seed(seed)
    options = {"type": "aae", "network": "mlp", "data_shape": SHAPE, "latent_dim": 2,
               "network_options": {"hidden": [16]}, "discriminator_hidden": 32}
    return build_model({**options, **extra})


def batch(n: int = 32) -> torch.Tensor:
    return (torch.rand((n, *SHAPE), generator=torch.Generator().manual_seed(1)) > 0.5).float()


def shift_codes(model: BaseVAE, offset: float) -> None:
    """Make the encoder ignore x and put every code at (offset, offset)."""
    last = [m for m in model.encoder.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(offset)


def test_defaults_and_groups():
    model = make()
    cfg = model.config
    assert (cfg.posterior, cfg.adversarial_weight, cfg.discriminator_layers) == (
        "deterministic", 1.0, 2)
    groups = model.optimizer_groups()
    assert list(groups) == ["model", DISCRIMINATOR]
    disc = {id(p) for p in model.discriminator.parameters()}
    assert {id(p) for p in groups[DISCRIMINATOR]} == disc
    assert not disc & {id(p) for p in groups["model"]}
    assert model.optimizer_options(DISCRIMINATOR) == {}
    tuned = make(discriminator_lr=2e-4, discriminator_betas=[0.5, 0.9])
    assert tuned.optimizer_options(DISCRIMINATOR) == {"lr": 2e-4, "betas": (0.5, 0.9)}
    assert tuned.optimizer_options("model") == {}
    with pytest.raises(ConfigError, match="posterior"):
        make(posterior="vmf")


def test_discriminator_terms_are_the_cross_entropy_and_accuracy():
    out = discriminator_terms(torch.tensor([2.0, -1.0]), torch.tensor([-3.0, 0.5]))
    expected = -(torch.log(torch.sigmoid(torch.tensor([2.0, -1.0]))).sum()
                 + torch.log(1 - torch.sigmoid(torch.tensor([-3.0, 0.5]))).sum()) / 4
    torch.testing.assert_close(out["loss"], expected)
    assert float(out["disc_accuracy"]) == 0.5  # right on 2.0 and -3.0, wrong on -1.0 and 0.5


def test_discriminator_learns_to_separate_prior_draws_from_codes():
    model = make()
    shift_codes(model, 3.0)  # codes far from N(0, I)
    x = batch()
    optimiser = torch.optim.Adam(model.optimizer_groups()[DISCRIMINATOR], lr=1e-2)
    first = model.loss(x, LossContext(), DISCRIMINATOR)
    for _ in range(60):
        optimiser.zero_grad()
        model.loss(x, LossContext(), DISCRIMINATOR)["loss"].backward()
        optimiser.step()
    last = model.loss(x, LossContext(), DISCRIMINATOR)
    # From an uninformed start (cross-entropy near log 2) to a near-perfect split.
    assert float(first["disc_loss"]) > 0.5 and float(last["disc_loss"]) < 0.05
    assert float(last["disc_accuracy"]) > 0.95
    # The generator loss now sees codes the discriminator rejects; its gradient pulls the codes
    # towards the prior (the encoder's bias moves down from 3) and never touches D.
    model.zero_grad()
    out = model.loss(x, LossContext(), "model")
    assert float(out["adversarial"].detach()) > 3.0
    out["adversarial"].backward()
    last_encoder_layer = [m for m in model.encoder.modules() if isinstance(m, nn.Linear)][-1]
    assert torch.all(last_encoder_layer.bias.grad > 0)
    assert all(p.grad is None for p in model.discriminator.parameters())


def test_discriminator_group_reuses_the_model_pass_codes():
    model = make(posterior="gaussian")
    ctx = LossContext()
    x = batch(8)
    model.loss(x, ctx, "model")
    z = ctx.cache[Z_CACHE_KEY]
    assert not z.requires_grad and z.shape == (8, 2)
    torch.manual_seed(0)
    out = model.loss(x, ctx, DISCRIMINATOR)
    torch.manual_seed(0)
    prior_draws = model.prior().sample((8,))
    expected = discriminator_terms(model.discriminator(prior_draws), model.discriminator(z))
    torch.testing.assert_close(out["loss"], expected["loss"])
    # A Gaussian posterior trains on draws, not on its mean.
    qz_x = model.encode(x)
    assert not torch.allclose(z, qz_x.mean) and torch.all(qz_x.stddev > 1e-3)


class InitialWeights(L.Callback):
    """Keeps a copy of the model's weights as training starts."""

    def on_train_start(self, trainer, pl_module) -> None:
        self.state = {k: v.detach().clone() for k, v in pl_module.model.state_dict().items()}


def test_both_groups_step_through_the_engine(tmp_path):
    config = load_experiment(None, [
        "model.type=aae", "model.network=mlp", "model.latent_dim=2",
        "model.network_options={hidden: [32]}", "model.discriminator_hidden=32",
        "data.name=test_blobs", "data.val_size=32", "train.max_steps=60",
        "train.batch_size=16", "train.lr=5e-3", "train.val_every=30", "train.val_batches=1",
        "train.log_every=1", "train.progress_bar=false", "train.loggers=[csv]",
        f"run_dir={tmp_path / 'run'}",
    ])
    snapshot = InitialWeights()
    result = train(config, callbacks=[snapshot])
    trained = result.model.state_dict()
    for part in ("encoder.", "decoder.", "discriminator."):
        names = [name for name in trained if name.startswith(part)]
        assert names and all(not torch.equal(snapshot.state[n], trained[n]) for n in names), part
    with (tmp_path / "run" / "logs" / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {"train/model/recon", "train/model/adversarial", "train/discriminator/disc_loss",
            "train/discriminator/disc_accuracy"} <= set(rows[0])
    recon = [float(r["train/model/recon"]) for r in rows if r.get("train/model/recon")]
    assert sum(recon[-10:]) < 0.8 * sum(recon[:10])
