"""Models with several optimisers (the adversarial ones) train through the same engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from vaekit.models import build_model
from vaekit.models.base import LossContext, VAEConfig
from vaekit.models.vae import VAE
from vaekit.registry import MODELS
from vaekit.training import load_experiment, train


@dataclass
class TwoGroupConfig(VAEConfig):
    config_type: ClassVar[str] = "test_two_groups"


@MODELS.register("test_two_groups")
class TwoGroupVAE(VAE):
    """A VAE plus a 'critic' trained by its own optimiser to predict |z|^2 from z."""

    config_class: ClassVar[type] = TwoGroupConfig

    def __init__(self, config) -> None:
        super().__init__(config)
        self.critic = nn.Linear(config.latent_dim, 1)
        self.group_calls: list[str] = []

    def optimizer_groups(self):
        critic = set(map(id, self.critic.parameters()))
        return {"model": [p for p in self.parameters() if id(p) not in critic],
                "critic": list(self.critic.parameters())}

    def loss(self, x, ctx: LossContext | None = None, group: str = "model"):
        self.group_calls.append(group)
        if group == "model":
            terms = super().loss(x, ctx)
            ctx.cache["z"] = self.encode(x).mean.detach()
            return terms
        z = ctx.cache["z"]  # shared from the model group's pass, as adversarial models do
        critic_loss = (self.critic(z).squeeze(-1) - z.pow(2).sum(-1)).pow(2).mean()
        return {"loss": critic_loss}


def test_each_group_has_its_own_optimizer_and_step_count_is_batches(tmp_path):
    config = load_experiment(None, [
        "model.type=test_two_groups", "model.network=mlp", "model.latent_dim=3",
        "model.network_options={hidden: [16]}", "data.name=test_blobs", "data.val_size=32",
        "train.max_steps=12", "train.batch_size=16", "train.progress_bar=false",
        "train.loggers=[csv]", "train.log_every=1", f"run_dir={tmp_path / 'run'}",
    ])
    torch.manual_seed(0)  # train() seeds with train.seed=0 before building: same init
    before = build_model({"type": "test_two_groups", "network": "mlp", "latent_dim": 3,
                          "network_options": {"hidden": [16]}, "data_shape": [1, 8, 8]}
                         ).state_dict()
    result = train(config)
    model = result.model
    assert result.steps == 12
    assert model.group_calls[:4] == ["model", "critic", "model", "critic"]
    assert model.group_calls.count("critic") == 12
    assert not torch.equal(before["critic.weight"], model.critic.weight.detach())
    assert not torch.equal(before["decoder.0.weight"], model.state_dict()["decoder.0.weight"])
    log = (tmp_path / "run" / "logs" / "metrics.csv").read_text()
    assert "train/critic/loss" in log and "train/model/elbo" in log


def test_a_model_must_bring_its_own_config_type():
    import pytest

    from vaekit.errors import RegistryError

    with pytest.raises(RegistryError, match="config_type = 'test_misnamed'"):
        MODELS.register("test_misnamed")(type("Misnamed", (VAE,), {}))


def test_ddp_with_several_optimiser_groups_tolerates_unused_parameters():
    from vaekit.training.run import _strategy

    assert _strategy("ddp", n_groups=2) == "ddp_find_unused_parameters_true"
    assert _strategy("ddp", n_groups=1) == "ddp"
    assert _strategy("auto", n_groups=2) == "auto"
