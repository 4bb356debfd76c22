"""Question: how good are vaekit's likelihoods? VAE vs IWAE (k=5) on binarized MNIST.

Protocol (printed and stored with the results):
- data: binarized MNIST, the fixed Larochelle binarization (``$VAEKIT_DATA/binarized_mnist``),
  train 50,000 / valid 10,000 / test 10,000;
- nets: the IWAE paper's one-stochastic-layer model (Burda et al. 2016): MLP 784-200-200-z,
  tanh, z = 50, Bernoulli likelihood; Adam (lr 1e-3), batch 100, the same seed for both;
- budget: ``--epochs`` passes over the training set (the paper trains for 3,280);
- metric: test NLL = -log p(x) estimated with the IWAE bound at K = ``--k-eval`` (5,000 by
  default) importance samples, over ``--eval-examples`` test images (all 10,000 by default, else
  a seeded random subset, the same for both models); active units (Cov > 0.01).

Run:  python benchmarks/likelihood.py            (about 30 min on 2 CPU cores)
      python benchmarks/likelihood.py --quick    (a smoke run, about a minute)
Writes benchmarks/results/likelihood.json; ``python benchmarks/update_readme.py`` puts the
table into the README.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from common import finished_run
from torch.utils.data import Subset

from vaekit.checkpoint import load_pretrained
from vaekit.evaluation import active_units, estimate_nll
from vaekit.training import load_experiment, train
from vaekit.training.data import build_dataset

RESULTS = Path(__file__).parent / "results"
ANCHORS = {"vae": 86.76, "iwae": 84.78}  # Burda et al. 2016, Table 1 (VAE k=1; IWAE k=50)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--k-eval", type=int, default=5000)
    p.add_argument("--eval-examples", type=int, default=10000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="1 epoch, K=100, 500 test images")
    p.add_argument("--reuse", action="store_true",
                   help="evaluate finished runs of the same protocol instead of retraining")
    p.add_argument("--out", default=str(RESULTS / "likelihood.json"))
    return p.parse_args()


def model_settings(name: str) -> list[str]:
    common = ["model.network=mlp", "model.latent_dim=50", "model.likelihood=bernoulli",
              "model.network_options={hidden: [200, 200], activation: tanh}"]
    if name == "iwae":
        return ["model.type=iwae", "model.num_samples=5", *common]
    return ["model.type=vae", *common]




def main() -> None:
    args = parse_args()
    if args.quick:
        args.epochs, args.k_eval, args.eval_examples = 1, 100, 500
    torch.set_num_threads(args.threads)
    steps = args.epochs * 50_000 // 100
    test = build_dataset(load_experiment(None, ["data.name=binarized_mnist"]).data, "test")
    if args.eval_examples < len(test):
        # A seeded random subset: the Larochelle test split is not in random order, so its
        # first N images are not representative (the first 2,000 score ~15 nats lower).
        order = np.random.default_rng(args.seed).permutation(len(test))[: args.eval_examples]
        test = Subset(test, np.sort(order).tolist())
    rows = []
    for name in ("vae", "iwae"):
        config = load_experiment(None, [
            *model_settings(name), "data.name=binarized_mnist", "data.val_split=valid",
            f"train.max_steps={steps}", "train.batch_size=100", "train.lr=1e-3",
            f"train.seed={args.seed}", f"train.threads={args.threads}", "train.val_every=5000",
            "train.val_batches=20", "train.checkpoint_every=5000", "train.progress_bar=false",
            "train.loggers=[csv]", f"run_dir={RESULTS / 'runs' / f'likelihood-{name}'}",
        ])
        run_dir = Path(config.run_dir)
        if args.reuse and finished_run(run_dir, steps):
            model = load_pretrained(run_dir / "model")
            train_seconds = json.loads((run_dir / "run.json").read_text())["train_seconds"]
        else:
            result = train(config, overwrite=True)
            model, train_seconds = result.model, result.seconds
        start = time.perf_counter()
        nll = estimate_nll(model, test, num_samples=args.k_eval,
                           max_examples=args.eval_examples, seed=args.seed)
        units = active_units(model, test, max_examples=args.eval_examples)
        rows.append({
            "model": name if name == "vae" else "iwae (k=5)",
            "test_nll_nats": round(nll["nll"], 2),
            "nll_stderr": round(nll["nll_stderr"], 3),
            "active_units": int(units.count),
            "train_minutes": round(train_seconds / 60, 1),
            "eval_minutes": round((time.perf_counter() - start) / 60, 1),
            "paper_nll_nats": ANCHORS[name],
        })
        print(rows[-1], flush=True)
    goal_met = rows[1]["test_nll_nats"] < rows[0]["test_nll_nats"]
    report = {
        "question": "test NLL of VAE vs IWAE (k=5) with the IWAE paper's MLP on binarized MNIST",
        "protocol": {
            "data": "binarized MNIST (Larochelle), train 50k, valid 10k, test 10k",
            "nets": "MLP 784-200-200-50 tanh, Bernoulli, Adam lr 1e-3, batch 100",
            "epochs": args.epochs, "steps": steps, "k_eval": args.k_eval,
            "eval_examples": min(args.eval_examples, 10_000), "seed": args.seed,
            "threads": args.threads,
            "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, "
                       f"torch {torch.__version__}",
            "anchors": "Burda et al. 2016 Table 1 (3,280 epochs): VAE 86.76, IWAE k=50 84.78",
        },
        "goal": "IWAE beats VAE", "goal_met": goal_met, "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(markdown_table(report))
    print(f"written: {args.out}")


def markdown_table(report: dict) -> str:
    lines = ["| model | test NLL (nats) | ± s.e. | active units | train (min) | eval (min) "
             "| paper NLL |", "|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        lines.append(f"| {r['model']} | {r['test_nll_nats']:.2f} | {r['nll_stderr']:.2f} | "
                     f"{r['active_units']} | {r['train_minutes']} | {r['eval_minutes']} | "
                     f"{r['paper_nll_nats']} |")
    p = report["protocol"]
    lines.append("")
    lines.append(f"Protocol: {p['data']}; {p['nets']}; {p['epochs']} epochs ({p['steps']} "
                 f"steps), seed {p['seed']}; NLL = IWAE bound with K={p['k_eval']} on "
                 f"{p['eval_examples']} test images (seeded random subset when < 10,000); "
                 f"{p['machine']}. Paper: {p['anchors']}. "
                 f"Goal ({report['goal']}): {'met' if report['goal_met'] else 'NOT met'}.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
