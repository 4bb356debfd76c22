"""``vaekit report``: one self-contained HTML file from a (tiny, real) training run."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from vaekit.cli.main import main
from vaekit.errors import CheckpointError
from vaekit.viz.html_report import build_html_report

TRAIN = ["--model.type=vae", "--model.network=mlp", "--model.latent_dim=3",
         "--model.network_options={hidden: [16]}", "--data.name=test_blobs",
         "--data.val_size=32", "--train.max_steps=6", "--train.batch_size=16",
         "--train.progress_bar=false", "--train.loggers=[csv]", "--train.val_every=3"]
PNG = "data:image/png;base64,"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "run"
    assert main(["train", "--run-dir", str(path), *TRAIN]) == 0
    (path / "eval.json").write_text(json.dumps({"iwae_nll": 44.25, "active_units": 2}))
    folder = path / "disentanglement"
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps({
        "model_type": "vae", "mig": {"discrete_mig": 0.125}, "sap": {"SAP_score": 0.0625},
        "kl_per_dim": [0.5, 0.25, 0.0], "dim_labels": ["shape", "posX", "inactive"],
    }))
    return path


def test_report_is_one_self_contained_file(run_dir, tmp_path):
    out = build_html_report(run_dir, tmp_path / "share" / "report.html")
    assert [p.name for p in (tmp_path / "share").iterdir()] == ["report.html"]
    text = out.read_text()
    # Figures: curves, traversal, samples, reconstructions, interpolation; all embedded.
    assert text.count(PNG) >= 5
    assert not re.search(r"""(src|href)=["']?(https?:|file:|//)""", text)
    assert "<script" not in text


def test_report_holds_config_metrics_and_dimension_labels(run_dir, tmp_path):
    text = build_html_report(run_dir, tmp_path / "r.html").read_text()
    assert "name: test_blobs" in text and "latent_dim: 3" in text  # config.yaml
    assert "val/elbo" in text and "train/loss" in text  # run.json final metrics
    assert "iwae_nll" in text and "44.25" in text  # eval.json
    assert "0.125" in text and "SAP_score" not in text  # headline score of the suite
    assert "<td>posX</td>" in text  # what each latent dimension captures
    for section in ("Summary", "Config", "Training curves", "Metrics", "Disentanglement",
                    "Latent traversal", "Samples", "Reconstructions", "Interpolation"):
        assert f">{section}</h" in text


def test_report_without_the_runs_data_still_builds(run_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    config = copy / "config.yaml"
    config.write_text(config.read_text().replace("name: test_blobs", "name: not_registered"))
    text = build_html_report(copy, tmp_path / "r.html").read_text()
    assert "data is not available" in text and "decoded prior sample" in text
    assert ">Samples</h3>" in text and ">Reconstructions</h3>" not in text


def test_not_a_run_is_a_clear_error(tmp_path, run_dir):
    with pytest.raises(CheckpointError, match="is not a vaekit run directory"):
        build_html_report(tmp_path)
    with pytest.raises(CheckpointError, match="is not a vaekit run directory"):
        build_html_report(run_dir / "model")  # a model directory is not a run
    with pytest.raises(CheckpointError, match="run directory not found"):
        build_html_report(tmp_path / "missing")


def test_report_cli(run_dir, tmp_path, capsys):
    out = tmp_path / "cli.html"
    assert main(["report", str(run_dir), "--out", str(out)]) == 0
    assert out.is_file() and f"written: {out}" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "nothing"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "run directory not found" in err and len(err.splitlines()) == 1
