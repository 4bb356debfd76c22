"""``vaekit evaluate --disentanglement`` writes the interpretation report."""

from __future__ import annotations

import json

from vaekit.cli.main import main


def test_disentanglement_report_from_a_dsprites_run(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--run-dir", str(run), "--model.type=beta_vae", "--model.latent_dim=4",
                 "--model.network=mlp", "--model.network_options={hidden: [32]}",
                 "--data.name=dsprites", "--data.val_size=64", "--train.max_steps=5",
                 "--train.progress_bar=false", "--train.loggers=[csv]"]) == 0
    assert main(["evaluate", str(run), "--disentanglement", "--quick",
                 "--metrics", "mig", "sap", "irs"]) == 0
    out = run / "disentanglement"
    for name in ("report.md", "metrics.json", "mi_heatmap.png", "traversal.png",
                 "latent_scatter.png"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["factor_names"] == ["shape", "scale", "orientation", "posX", "posY"]
    assert len(metrics["dim_labels"]) == 4 and len(metrics["mutual_info"]) == 4
    assert 0.0 <= metrics["mig"]["discrete_mig"] <= 1.0
    assert "mig" in capsys.readouterr().out


def test_disentanglement_needs_ground_truth_factors(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--run-dir", str(run), "--model.type=vae", "--model.latent_dim=2",
                 "--model.network=mlp", "--model.network_options={hidden: [8]}",
                 "--data.name=test_blobs", "--data.val_size=32", "--train.max_steps=2",
                 "--train.progress_bar=false", "--train.loggers=[csv]"]) == 0
    assert main(["evaluate", str(run), "--disentanglement", "--quick"]) == 2
    assert "no ground-truth factors" in capsys.readouterr().err
