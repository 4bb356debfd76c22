"""Every registered model: builds, trains (finite loss, gradients everywhere), saves and loads."""

from __future__ import annotations

import json

import pytest
import torch

from vaekit.errors import CheckpointError, VaekitError
from vaekit.models import BaseVAE, LossContext, build_model
from vaekit.registry import MODELS

# The library's models (tests register throwaway models named test_*; leave those out).
LIBRARY_MODELS = [name for name in MODELS.names() if not name.startswith("test_")]

SHAPE = [1, 8, 8]
NEEDS = {"beta_tcvae": {"dataset_size": 64}}  # settings a model cannot run without
# Models that build their own networks (no `network` option), with a top latent size of 3.
OWN_NETWORKS = {
    "hierarchical_vae": {"hidden_dim": 16, "group_dims": [3, 2]},
    "svg": {"channels": [4, 8], "g_dim": 8, "z_dim": 3, "predictor_hidden": 8,  # video
            "predictor_layers": 1, "posterior_hidden": 8, "prior_hidden": 8, "context": 2},
}


def config(model_type: str, **extra) -> dict:
    extra = {**NEEDS.get(model_type, {}), **extra}
    if model_type in OWN_NETWORKS:
        return {"type": model_type, "data_shape": SHAPE, **OWN_NETWORKS[model_type], **extra}
    return {"type": model_type, "network": "mlp", "data_shape": SHAPE, "latent_dim": 3,
            "network_options": {"hidden": [16]}, **extra}


def make(model_type: str, seed: int = 0, **extra) -> BaseVAE:
    torch.manual_seed(seed)
    return build_model(config(model_type, **extra))


def batch(n: int = 6) -> torch.Tensor:
    return torch.rand((n, *SHAPE), generator=torch.Generator().manual_seed(1))


def model_batch(model: BaseVAE, x: torch.Tensor):
    """A training batch for ``model``: ``x``, or what its ``example_batch(x)`` makes of it
    (models whose batches carry more than images, e.g. captions)."""
    example_batch = getattr(model, "example_batch", None)
    return x if example_batch is None else example_batch(x)


def _without_grad(params: list[torch.nn.Parameter], model: torch.nn.Module) -> list[str]:
    names = {id(p): name for name, p in model.named_parameters()}
    return [names[id(p)] for p in params if p.grad is None or p.grad.abs().sum() == 0]


@pytest.mark.parametrize("model_type", LIBRARY_MODELS)
def test_every_model_builds_and_its_loss_reaches_every_parameter(model_type):
    model = make(model_type)
    assert isinstance(model, BaseVAE) and model.config.config_type == model_type
    x = batch()
    groups = model.optimizer_groups()
    assert groups, "a model needs at least one parameter group"
    first = next(iter(groups))
    for group in groups:
        model.zero_grad()
        out = model.loss(model_batch(model, x), LossContext(step=10), group)
        assert "loss" in out and out["loss"].dim() == 0
        assert all(torch.isfinite(v).all() for v in out.values()), out
        out["loss"].backward()
        if group == first:  # the main objective trains every parameter of its group
            missing = _without_grad(groups[group], model)
            assert not missing, f"{model_type}: no gradient reaches {missing}"


def test_beta_vae_with_beta_one_is_the_vae():
    vae = make("vae")
    beta = make("beta_vae", beta=1.0)
    beta.load_state_dict(vae.state_dict())
    x = batch()
    torch.manual_seed(5)
    a = vae.loss(x)
    torch.manual_seed(5)
    b = beta.loss(x)
    assert set(a) == set(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # beta weights the KL: the loss changes by (beta - 1) * KL for the same sample.
    beta4 = make("beta_vae", beta=4.0)
    beta4.load_state_dict(vae.state_dict())
    torch.manual_seed(5)
    c = beta4.loss(x)
    torch.testing.assert_close(c["loss"], a["loss"] + 3.0 * a["kl"])


def test_annealed_vae_capacity_schedule():
    model = make("annealed_vae", capacity_start=1.0, capacity_max=21.0, capacity_steps=1000,
                 gamma=10.0)
    assert model.capacity(0) == pytest.approx(1.0)
    assert model.capacity(500) == pytest.approx(11.0)
    assert model.capacity(1000) == pytest.approx(21.0)
    assert model.capacity(5000) == pytest.approx(21.0)  # held at the maximum
    assert model.capacity(-3) == pytest.approx(1.0)
    x = batch()
    torch.manual_seed(0)
    out = model.loss(x, LossContext(step=500))
    assert float(out["capacity"]) == pytest.approx(11.0)
    expected = out["recon"] + 10.0 * (out["kl"] - 11.0).abs()
    torch.testing.assert_close(out["loss"], expected)


@pytest.mark.parametrize("model_type", LIBRARY_MODELS)
def test_save_and_load_pretrained_gives_identical_outputs(model_type, tmp_path):
    model = make(model_type).eval()
    directory = model.save_pretrained(tmp_path / "ckpt")
    loaded = BaseVAE.from_pretrained(directory)
    assert type(loaded) is type(model) and loaded.config == model.config
    x, z = batch(), torch.randn(4, model.latent_dim)
    with torch.no_grad():
        assert torch.equal(model.encode(x).mean, loaded.encode(x).mean)
        assert torch.equal(model.encode(x).stddev, loaded.encode(x).stddev)
        assert torch.equal(model.decode(z).mean, loaded.decode(z).mean)
    assert type(model).from_pretrained(directory).config == model.config


@pytest.fixture
def saved(tmp_path):
    return make("vae").save_pretrained(tmp_path / "ckpt")


def test_corrupt_config_json(saved):
    (saved / "config.json").write_text('{"format": "vaekit-pretrained", "model_ty')
    with pytest.raises(CheckpointError, match="corrupt"):
        BaseVAE.from_pretrained(saved)


def test_foreign_config_json(saved):
    (saved / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    with pytest.raises(CheckpointError, match="not a vaekit checkpoint"):
        BaseVAE.from_pretrained(saved)


def test_config_naming_an_unknown_model_or_key(saved):
    meta = json.loads((saved / "config.json").read_text())
    meta["model_type"] = "no_such_model"
    (saved / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="no_such_model"):
        BaseVAE.from_pretrained(saved)
    meta["model_type"] = "vae"
    meta["config"]["latnt_dim"] = 3
    (saved / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="latnt_dim"):
        BaseVAE.from_pretrained(saved)


def test_truncated_safetensors(saved):
    weights = saved / "model.safetensors"
    data = weights.read_bytes()
    for size in (len(data) // 2, 4, 0):
        weights.write_bytes(data[:size])
        with pytest.raises(CheckpointError, match="corrupt"):
            BaseVAE.from_pretrained(saved)


def test_missing_pieces(tmp_path, saved):
    with pytest.raises(CheckpointError, match="not found"):
        BaseVAE.from_pretrained(tmp_path / "nowhere")
    (saved / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="model.safetensors"):
        BaseVAE.from_pretrained(saved)
    (saved / "config.json").unlink()
    with pytest.raises(CheckpointError, match="config.json"):
        BaseVAE.from_pretrained(saved)


@pytest.mark.parametrize(("other", "message"), [
    ({"latent_dim": 4}, "wrong shape"),  # same tensor names, other shapes
    ({"network_options": {"hidden": [16, 16]}}, "does not match"),  # other tensor names
])
def test_weights_of_another_model(saved, tmp_path, other, message):
    torch.manual_seed(0)
    foreign = build_model({**config("vae"), **other}).save_pretrained(tmp_path / "other")
    (saved / "model.safetensors").write_bytes((foreign / "model.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match=message):
        BaseVAE.from_pretrained(saved)


def test_loss_dict_terms_are_consistent():
    x = batch()
    out = make("vae").loss(x)
    torch.testing.assert_close(out["elbo"], -(out["recon"] + out["kl"]))
    torch.testing.assert_close(out["loss"], out["recon"] + out["kl"])
    iwae = make("iwae", num_samples=1)
    out = iwae.loss(x)
    # With K = 1 the bound is the single-sample ELBO.
    torch.testing.assert_close(out["iwae_bound"], out["elbo"])
    assert torch.isfinite(out["loss"])


def test_loading_into_the_wrong_class_is_an_error_naming_both(saved):
    iwae_cls = MODELS.get("iwae")
    with pytest.raises(VaekitError, match="VAE.*IWAE"):
        iwae_cls.from_pretrained(saved)
