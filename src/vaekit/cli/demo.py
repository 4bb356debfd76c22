"""The embedded default job: a beta-VAE on procedural dSprites, then a report.

No download: dSprites is rendered on the fly. On a 2-core laptop CPU it takes a few minutes.
"""

from __future__ import annotations

import time
from pathlib import Path

from vaekit.training import load_experiment, train
from vaekit.training.data import train_val_datasets
from vaekit.training.run import LOG_DIR
from vaekit.viz.report import write_report

DEMO_CONFIG = {
    "model": {"type": "beta_vae", "beta": 4.0, "latent_dim": 10, "network": "conv64",
              "likelihood": "bernoulli"},
    "data": {"name": "dsprites", "val_size": 1000},
    "train": {"max_steps": 3000, "batch_size": 64, "lr": 5e-4, "seed": 0, "val_every": 500,
              "checkpoint_every": 500, "log_every": 25},
}


def run_demo(out: str | Path = "vaekit-demo", steps: int | None = None,
             overrides: list[str] | None = None) -> Path:
    out = Path(out)
    settings = [f"run_dir={out}", *(overrides or [])]
    if steps is not None:
        settings.append(f"train.max_steps={steps}")
    config = load_experiment(None, {**_flatten(DEMO_CONFIG), **dict(o.split("=", 1)
                                                                     for o in settings)})
    print(f"vaekit demo: training {config.model.config_type} (beta={config.model.beta}) on "
          f"procedural dSprites for {config.train.max_steps} steps; output in {out}/")
    start = time.perf_counter()
    result = train(config, overwrite=True)
    _, val_set = train_val_datasets(config.data, config.train.seed)
    metrics = write_report(result.model, val_set, out / "report",
                           metrics_csv=out / LOG_DIR / "metrics.csv",
                           num_importance_samples=100, max_examples=500,
                           extra={"train_seconds": round(result.seconds, 1),
                                  "train_steps": result.steps})
    print(f"vaekit demo: done in {time.perf_counter() - start:.0f} s. "
          f"ELBO {metrics['elbo']:.2f} nats, IWAE NLL {metrics['iwae_nll']:.2f} nats "
          f"(K={metrics.get('num_importance_samples', '?')}), "
          f"active units {metrics['active_units']}/{config.model.latent_dim}")
    print(f"vaekit demo: report in {out / 'report'}/ (report.md, traversal.png, "
          "reconstructions.png, samples.png, curves.png); model in "
          f"{out / 'model'}/")
    return out / "report"


def _flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, path + "."))
        else:
            flat[path] = value
    return flat
