"""The vaekit command line, driven in-process (the test dataset is registered by conftest)."""

from __future__ import annotations

import json

import pytest

from vaekit.cli.main import main

TRAIN = ["--model.type=vae", "--model.network=mlp", "--model.latent_dim=3",
         "--model.network_options={hidden: [16]}", "--data.name=test_blobs",
         "--data.val_size=32", "--train.max_steps=6", "--train.batch_size=16",
         "--train.progress_bar=false", "--train.loggers=[csv]", "--train.val_every=3"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "--run-dir", str(path), *TRAIN]) == 0
    return path


def test_train_writes_a_loadable_run(run_dir):
    assert (run_dir / "model" / "model.safetensors").is_file()
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["steps"] == 6 and meta["seed"] == 0 and "torch_version" in meta


def test_evaluate_sample_reconstruct_traverse(run_dir, tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["evaluate", str(run_dir), "--num-samples", "20", "--max-examples", "32",
                 "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["iwae_nll"] <= -metrics["elbo"] + 1e-3  # the K-sample bound is tighter
    for command, name in [("sample", "s.png"), ("reconstruct", "r.png"), ("traverse", "t.png")]:
        assert main([command, str(run_dir), "--out", str(tmp_path / name)]) == 0
        assert (tmp_path / name).stat().st_size > 100


def test_resume_continues_to_more_steps(run_dir, tmp_path):
    assert main(["train", "--resume", str(run_dir), "--train.max_steps=9"]) == 0
    assert json.loads((run_dir / "run.json").read_text())["steps"] == 9


def test_list_names_registered_things(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "beta_vae" in out and "iwae" in out and "conv64" in out and "test_blobs" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--model.type=nope"], "unknown model 'nope'"),
        (["train", "--train.lr=fast"], "train.lr: expected float"),
        (["train", "--model.latent_dim=-1"], "latent_dim must be positive"),
        (["train", "stray"], "unrecognised argument 'stray'"),
        (["train", "--config", "/no/such.yaml"], "config file not found"),
        (["evaluate", "/no/such/run"], "checkpoint directory not found"),
        (["train", "--data.name=mnist", "--data.root=/no/such/dir"], "dataset folder not found"),
    ],
)
def test_bad_input_is_one_line_and_status_2(argv, message, capsys, tmp_path):
    assert main([*argv, f"--run_dir={tmp_path / 'r'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("command", ["train", "evaluate", "sample", "reconstruct", "traverse",
                                     "list", "demo"])
def test_help_everywhere(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: vaekit" in capsys.readouterr().out


def test_sample_temperature(run_dir, tmp_path, capsys):
    # A plain VAE has no temperature: a one-line error, not a silently ignored flag.
    assert main(["sample", str(run_dir), "--temperature", "0.5",
                 "--out", str(tmp_path / "s.png")]) == 2
    assert "without a temperature" in capsys.readouterr().err
    hvae = tmp_path / "hvae"
    data_and_train = [arg for arg in TRAIN if not arg.startswith("--model.")]
    assert main(["train", "--run-dir", str(hvae), *data_and_train,
                 "--model.type=hierarchical_vae", "--model.hidden_dim=16",
                 "--model.group_dims=[2, 2]"]) == 0
    cold, warm = tmp_path / "cold.png", tmp_path / "warm.png"
    assert main(["sample", str(hvae), "--n", "4", "--temperature", "0", "--out", str(cold)]) == 0
    assert main(["sample", str(hvae), "--n", "4", "--out", str(warm)]) == 0
    assert cold.read_bytes() != warm.read_bytes()  # temperature 0: every sample the same mean
