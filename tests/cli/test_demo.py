"""The embedded default job runs offline end to end and writes its report."""

from __future__ import annotations

import json

from vaekit.cli.main import main


def test_demo_writes_report(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--steps", "4", "--train.progress_bar=false",
                 "--train.val_every=2", "--data.val_size=64"]) == 0
    report = out / "report"
    for name in ("report.md", "metrics.json", "traversal.png", "traversal.gif",
                 "reconstructions.png", "samples.png", "interpolation.gif", "curves.png"):
        assert (report / name).stat().st_size > 0, name
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["model_type"] == "beta_vae" and metrics["train_steps"] == 4
    assert metrics["iwae_nll"] > 0 and len(metrics["kl_per_dim"]) == 10
    printed = capsys.readouterr().out
    assert str(report) in printed and "ELBO" in printed
