"""Bad input through the command line: config files, datasets, checkpoints and misuse each end
with status 2 and one line that names the problem (never a traceback)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from reliability_helpers import TRAIN_OPTIONS, time_limit

from vaekit.cli.main import main
from vaekit.data.base import ArrayImageDataset
from vaekit.errors import DataError
from vaekit.models import build_model
from vaekit.registry import DATASETS
from vaekit.training import load_experiment

SMALL = {"type": "vae", "network": "mlp", "data_shape": [1, 8, 8], "latent_dim": 3,
         "network_options": {"hidden": [16]}}


def _nan_images(split: str = "train") -> ArrayImageDataset:
    images = np.full((64, 1, 8, 8), 0.5, np.float32)
    images[17, 0, 3, 4] = np.nan
    return ArrayImageDataset(images, name="reliability_nan")


def _no_images(split: str = "train") -> torch.utils.data.Dataset:
    return torch.utils.data.TensorDataset(torch.empty(0, 1, 8, 8))


@pytest.fixture
def bad_datasets(monkeypatch):
    """Two datasets registered for one test only."""
    DATASETS.names()  # load the built-ins first
    monkeypatch.setitem(DATASETS._entries, "reliability_nan", _nan_images)
    monkeypatch.setitem(DATASETS._entries, "reliability_empty", _no_images)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


# ------------------------------------------------------------------------------- config files
@pytest.mark.parametrize(("text", "suffix", "message"), [
    ("train:\n  lrr: 0.001\n", ".yaml", "unknown config key 'train.lrr'. Did you mean 'lr'?"),
    ("model:\n  type: beta_vae\n  betta: 4\n", ".yaml",
     "unknown config key 'model.betta'. Did you mean 'beta'?"),
    ('{"data": {"nmae": "mnist"}}', ".json", "unknown config key 'data.nmae'"),
    ("train:\n  batch_size: many\n", ".yaml", "train.batch_size: expected int, got str 'many'"),
    ("train:\n  skip_nonfinite: maybe\n", ".yaml", "train.skip_nonfinite: expected true or false"),
    ("train:\n  kl_schedule: sometimes\n", ".yaml", "train.kl_schedule: must be one of"),
    ("data:\n  options: [1, 2]\n", ".yaml", "data.options: expected a mapping"),
    ("train: 5\n", ".yaml", "train: expected a mapping, got 5"),
    ("train:\n  batch_size: 0\n", ".yaml", "train.batch_size must be positive, got 0"),
    ("train:\n  kl_cycle_ratio: 1.5\n", ".yaml", "train.kl_cycle_ratio must be in (0, 1]"),
    ("model:\n  type: vae\n  latent_dim: -3\n", ".yaml", "model.latent_dim must be positive"),
    ("data:\n  val_size: -1\n", ".yaml", "data.val_size must be >= 0, got -1"),
    ("train:\n  loggers: [csv, papyrus]\n", ".yaml", "unknown logger(s) ['papyrus']"),
    ("run_dir: !!binary aGVsbG8=\n", ".yaml", "run_dir: bytes values are not supported"),
    ("train: [1, 2\n", ".yaml", "is not valid YAML: while parsing a flow sequence"),
    ('{"train": ', ".json", "is not valid JSON"),
    ("- 1\n- 2\n", ".yaml", "must hold a mapping at the top level"),
])
def test_bad_config_file_is_status_2_and_one_line_naming_the_key(tmp_path, capsys, text,
                                                                  suffix, message):
    path = tmp_path / f"experiment{suffix}"
    path.write_text(text)
    assert main(["train", "--config", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    assert message in one_line_error(capsys)
    assert not (tmp_path / "run").exists()


def test_config_file_that_is_not_text(tmp_path, capsys):
    path = tmp_path / "experiment.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary")
    assert main(["train", "--config", str(path)]) == 2
    assert "is not a text file (expected YAML)" in one_line_error(capsys)


def test_yaml_alias_bomb_is_refused_quickly(tmp_path, capsys):
    """Nine lines whose aliases expand to 10**9 values: refused, not expanded."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    with time_limit(20):
        assert main(["train", "--config", str(path)]) == 2
    assert "config holds more than 100000 values" in one_line_error(capsys)


@pytest.mark.parametrize("source", ["file", "override"])
def test_dates_stay_strings(tmp_path, source):
    """YAML 1.1 turns 2024-01-31 into a date (and 2024-13-01 into a crash); configs keep both
    as the strings they are, so a run directory can be named after a day."""
    if source == "file":
        path = tmp_path / "experiment.yaml"
        path.write_text("run_dir: 2024-01-31\ndata:\n  split: 2024-13-01\n")
        config = load_experiment(path)
    else:
        config = load_experiment(None, ["run_dir=2024-01-31", "data.split=2024-13-01"])
    assert config.run_dir == "2024-01-31" and config.data.split == "2024-13-01"


# ----------------------------------------------------------------------------------- datasets
def _folder(tmp_path, images: dict[str, np.ndarray]):
    for name, pixels in images.items():
        Image.fromarray(pixels).save(tmp_path / name)
    return tmp_path


@pytest.mark.parametrize(("make", "options", "message"), [
    (lambda d: d, [], "no image files in"),
    (lambda d: _folder(d, {"a.png": np.zeros((8, 8), np.uint8),
                           "b.png": np.zeros((8, 10), np.uint8)}),
     [], "b.png' is 10x8 but"),
    (lambda d: _folder(d, {"a.png": np.zeros((8, 8), np.uint8),
                           "b.png": np.zeros((8, 8, 3), np.uint8)}),
     [], "b.png' is colour but"),
    (lambda d: _folder(d, {"a.png": np.zeros((8, 8), np.uint8)}),
     ["--data.options.limit=abc"], "limit must be a positive integer, got 'abc'"),
], ids=["empty", "mixed-sizes", "mixed-channels", "limit-not-a-number"])
def test_bad_image_folder_is_status_2_and_one_line(tmp_path, capsys, make, options, message):
    (tmp_path / "images").mkdir()
    root = make(tmp_path / "images")
    argv = ["train", *(f"--{o}" for o in TRAIN_OPTIONS), f"--data.root={root}",
            f"--run_dir={tmp_path / 'run'}", *options]
    assert main(argv) == 2
    assert message in one_line_error(capsys)


def test_unreadable_images_are_skipped_with_a_warning_while_training(tmp_path, capsys):
    root = tmp_path / "images"
    root.mkdir()
    for i in range(40):
        Image.fromarray(np.eye(8, dtype=np.uint8) * (i * 5)).save(root / f"{i:02d}.png")
    (root / "zz-broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    argv = ["train", *(f"--{o}" for o in TRAIN_OPTIONS), f"--data.root={root}",
            f"--run_dir={tmp_path / 'run'}", "--train.max_steps=2"]
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable file\(s\).*zz-broken\.png"):
        assert main(argv) == 0


@pytest.mark.parametrize(("name", "message"), [
    ("reliability_nan", "reliability_nan: images contain NaN or Inf values"),
    ("reliability_empty", "dataset 'reliability_empty' (split train) is empty"),
])
def test_nan_or_empty_dataset_is_status_2_and_one_line(tmp_path, capsys, bad_datasets, name,
                                                       message):
    argv = ["train", *(f"--{o}" for o in TRAIN_OPTIONS), f"--data.name={name}",
            f"--run_dir={tmp_path / 'run'}"]
    assert main(argv) == 2
    assert message in one_line_error(capsys)


def test_nan_loss_from_the_cli_stops_with_one_line_or_is_skipped_on_request(
        image_root, tmp_path, capsys, monkeypatch):
    from vaekit.models.vae import VAE

    original = VAE.loss

    def exploding(self, x, ctx=None, group="model"):
        terms = original(self, x, ctx, group)
        if ctx.step in (12, 13):
            terms["loss"] = terms["loss"] * float("nan")
        return terms

    monkeypatch.setattr(VAE, "loss", exploding)
    argv = ["train", *(f"--{o}" for o in TRAIN_OPTIONS), f"--data.root={image_root}",
            "--train.max_steps=20"]
    assert main([*argv, f"--run_dir={tmp_path / 'stop'}"]) == 2
    err = one_line_error(capsys)
    assert "loss of group 'model' is nan at step 12" in err and "skip_nonfinite=true" in err
    assert main([*argv, f"--run_dir={tmp_path / 'skip'}", "--train.skip_nonfinite=true"]) == 0
    meta = json.loads((tmp_path / "skip" / "run.json").read_text())
    assert meta["steps"] == 20 and meta["skipped_nonfinite_steps"] == 2


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_arrays_with_nan_or_inf_are_refused(bad):
    images = np.zeros((4, 1, 2, 2), np.float64)
    images[2, 0, 1, 1] = bad
    with pytest.raises(DataError, match="NaN or Inf"):
        ArrayImageDataset(images, name="arrays")


# -------------------------------------------------------------------------------- checkpoints
@pytest.fixture
def model_dir(tmp_path):
    torch.manual_seed(0)
    return build_model(SMALL).save_pretrained(tmp_path / "model")


def _edit_config(directory, edit):
    meta = json.loads((directory / "config.json").read_text())
    edit(meta)
    (directory / "config.json").write_text(json.dumps(meta))


def _edit_weights(directory, edit):
    from safetensors.torch import load_file, save_file

    state = load_file(directory / "model.safetensors")
    edit(state)
    save_file(state, directory / "model.safetensors")


@pytest.mark.parametrize(("damage", "message"), [
    (lambda d: _edit_config(d, lambda m: m.update(config=[1, 2])),
     "is corrupt: it needs a \"model_type\" string and a \"config\" mapping"),
    (lambda d: _edit_config(d, lambda m: m.update(model_type=None)),
     "is corrupt: it needs a \"model_type\" string"),
    # Passes the config checks, fails inside the network's constructor.
    (lambda d: _edit_config(d, lambda m: m["config"]["network_options"].update(hidden=[-1])),
     "cannot rebuild the model from its config: RuntimeError"),
    (lambda d: _edit_weights(d, lambda s: s["decoder.0.bias"].fill_(float("nan"))),
     "tensor 'decoder.0.bias' holds NaN or Inf values"),
    (lambda d: _edit_weights(d, lambda s: s.update({k: v.long() for k, v in s.items()})),
     "is torch.int64, the model holds torch.float32 there"),
], ids=["config-not-a-mapping", "no-model-type", "unbuildable-config", "nan-weights",
        "integer-weights"])
def test_damaged_model_directory_is_status_2_and_one_line(model_dir, tmp_path, capsys,
                                                          damage, message):
    damage(model_dir)
    assert main(["sample", str(model_dir), "--out", str(tmp_path / "s.png")]) == 2
    assert message in one_line_error(capsys)


# ------------------------------------------------------------------------------------- misuse
@pytest.mark.parametrize(("argv", "reason"), [
    ([], "vaekit: error: the following arguments are required: COMMAND"),
    (["bogus"], "argument COMMAND: invalid choice: 'bogus'"),
    (["evaluate"], "vaekit evaluate: error: the following arguments are required: path"),
    (["sample", "run", "--n", "abc"], "argument --n: invalid int value: 'abc'"),
    (["train", "--resume"], "argument --resume: expected one argument"),
])
def test_argument_errors_end_with_a_one_line_reason(capsys, argv, reason):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert reason in err.strip().splitlines()[-1]


def test_wrong_paths_and_values_are_status_2_and_one_line(model_dir, tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a run")
    no_checkpoint = tmp_path / "fresh"
    no_checkpoint.mkdir()
    (no_checkpoint / "config.yaml").write_text(f"run_dir: {no_checkpoint}\n")
    cases = [
        (["train", "--resume", str(tmp_path / "nowhere")], "config file not found"),
        (["train", "--resume", str(no_checkpoint)], "--resume: no checkpoint in"),
        (["train", "--config", str(tmp_path)], "config file not found"),
        (["sample", str(tmp_path / "nowhere")], "checkpoint directory not found"),
        (["sample", str(a_file)], "checkpoint directory not found"),
        (["evaluate", str(model_dir)], "no data: this is a bare model directory"),
        (["sample", str(model_dir), "--n", "0"], "n must be >= 1, got 0"),
        (["sample", str(model_dir), "--out", str(a_file / "s.png")], "(--verbose shows the"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in one_line_error(capsys), argv


def test_verbose_shows_the_traceback_of_an_unexpected_error(model_dir):
    with pytest.raises(ValueError, match="n must be >= 1"):
        main(["--verbose", "sample", str(model_dir), "--n", "0"])
