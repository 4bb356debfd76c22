"""Config round trips through JSON/YAML and strict dotted overrides."""

from __future__ import annotations

import pytest

from vaekit.config import apply_overrides, from_dict, load_file, save_file, to_dict
from vaekit.errors import ConfigError
from vaekit.models import build_model
from vaekit.models.base import model_config_from_dict
from vaekit.registry import MODELS

# The library's models (tests register throwaway models named test_*; leave those out).
LIBRARY_MODELS = [name for name in MODELS.names() if not name.startswith("test_")]

BASE = {"type": "annealed_vae", "network": "mlp", "data_shape": [1, 8, 8], "latent_dim": 4,
        "network_options": {"hidden": [16, 8], "activation": "relu"}, "gamma": 50.0,
        "capacity_max": 12.5, "capacity_steps": 300}


def annealed_config():
    return model_config_from_dict(BASE)


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml"])
def test_round_trip_through_files(tmp_path, suffix):
    cfg = annealed_config()
    path = tmp_path / f"model{suffix}"
    save_file(cfg, path)
    data = load_file(path)
    assert data["type"] == "annealed_vae"
    back = model_config_from_dict(data)
    assert back == cfg and type(back) is type(cfg)
    assert isinstance(back.data_shape, tuple) and back.data_shape == (1, 8, 8)
    assert to_dict(back) == to_dict(cfg)
    assert build_model(data).config == cfg


@pytest.mark.parametrize("model_type", LIBRARY_MODELS)
def test_every_model_config_round_trips(tmp_path, model_type):
    cfg = model_config_from_dict({"type": model_type, "data_shape": [3, 4, 4]})
    save_file(cfg, tmp_path / "c.yaml")
    assert model_config_from_dict(load_file(tmp_path / "c.yaml")) == cfg


def test_overrides_apply_nested_values_and_parse_like_yaml():
    data = apply_overrides(BASE, ["latent_dim=7", "network_options.hidden=[32]", "gamma=5",
                                  "--capacity_start=0.5"])
    cfg = model_config_from_dict(data)
    assert cfg.latent_dim == 7 and cfg.network_options["hidden"] == [32]
    assert cfg.gamma == 5.0 and isinstance(cfg.gamma, float)
    assert cfg.capacity_start == 0.5
    assert BASE["latent_dim"] == 4  # the input dict is not modified
    assert apply_overrides(BASE, {"latent_dim": 9})["latent_dim"] == 9


def test_unknown_key_is_an_error_naming_it():
    with pytest.raises(ConfigError, match="latnt_dim") as info:
        model_config_from_dict(apply_overrides(BASE, ["latnt_dim=3"]))
    assert "latent_dim" in str(info.value)  # the suggestion


@pytest.mark.parametrize(("override", "key"), [
    ("latent_dim=many", "latent_dim"),
    ("gamma=true", "gamma"),
    ("data_shape=[1, 8, x]", "data_shape"),
    ("network=[mlp]", "network"),
    ("network_options=3", "network_options"),
])
def test_wrong_type_is_an_error_naming_the_key(override, key):
    with pytest.raises(ConfigError, match=key):
        model_config_from_dict(apply_overrides(BASE, [override]))


def test_invalid_values_and_override_syntax():
    with pytest.raises(ConfigError, match="latent_dim"):
        model_config_from_dict(apply_overrides(BASE, ["latent_dim=0"]))
    with pytest.raises(ConfigError, match="must look like"):
        apply_overrides(BASE, ["latent_dim"])
    with pytest.raises(ConfigError, match="latent_dim"):
        apply_overrides(BASE, ["latent_dim.x=1"])  # not a section
    with pytest.raises(ConfigError, match="capacity"):
        model_config_from_dict(apply_overrides(BASE, ["capacity_start=20"]))  # > capacity_max


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_file(tmp_path / "missing.yaml")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_file(tmp_path / "bad.json")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_file(tmp_path / "list.yaml")
    (tmp_path / "empty.yaml").write_text("")
    assert load_file(tmp_path / "empty.yaml") == {}
    # An empty file gives the defaults of the dataclass.
    cls = type(annealed_config())
    assert from_dict(cls, load_file(tmp_path / "empty.yaml")) == cls()


def test_exponent_floats_without_a_dot_in_overrides():
    # YAML 1.1 (PyYAML) reads "1e3" as a string; an override means the number.
    cfg = model_config_from_dict(apply_overrides(BASE, ["gamma=1e3", "capacity_max=2.5E1"]))
    assert cfg.gamma == 1000.0 and cfg.capacity_max == 25.0


def test_exponent_floats_without_a_dot_in_yaml_files(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text("type: annealed_vae\ngamma: 1e3\ndata_shape: [1, 8, 8]\n")
    assert model_config_from_dict(load_file(path)).gamma == 1000.0


@pytest.mark.parametrize("betas", [(0.5,), (0.5, 1.0), ("a", 0.9), 3])
def test_adam_betas_are_checked_with_the_key_named(betas):
    from vaekit.config import check_betas

    with pytest.raises(ConfigError, match="model.discriminator_betas"):
        check_betas("model.discriminator_betas", betas)
    assert check_betas("k", [0.5, "0.9"]) == (0.5, 0.9)
