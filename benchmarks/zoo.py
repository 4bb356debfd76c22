"""Question: how do the models of the zoo compare on one dataset under one CPU budget?

Protocol (printed and stored with the results):
- data: binarized MNIST, the fixed Larochelle binarization (``$VAEKIT_DATA/binarized_mnist``),
  train 50,000 / test 10,000;
- models: every model in the registry that trains on plain image batches (models for other
  data, e.g. video or paired domains, are listed as skipped with the reason). Shared settings:
  MLP 784-200-200-z with tanh (the IWAE paper's one-stochastic-layer net), z = 50, Bernoulli
  likelihood, Adam lr 1e-3, batch 100, seed 0, each model's own defaults otherwise (e.g. IWAE
  k=5, MIWAE/PIWAE (M, K) = (8, 8), CIWAE 64 samples); models that build their own networks
  (hierarchical VAE: groups 16/32/64 of width 256, KL warm-up over 1,000 steps; VQ-VAE: its
  conv nets and transformer prior) keep them;
- budget: the same CPU time for every model (``--cpu-minutes``, default 1.5, counted with
  ``time.process_time`` on one thread, so other jobs on a shared machine do not change it), so
  a model whose step costs more takes fewer steps (the table says how many);
- metrics: test NLL = -(IWAE bound) with K = ``--k-eval`` (1,000) importance samples on
  ``--eval-examples`` (1,000) test images, a seeded random subset, the same for every model;
  only for models trained on a likelihood bound (autoencoders, WAE, RAE and AAE have no
  likelihood worth reporting); Frechet distance between ``--num-samples`` prior samples (the
  means of p(x|z)) and as many test images, on the penultimate features of a digit classifier
  vaekit trains on MNIST (NOT Inception features; a reference row compares real binarized
  training images with the test images);
- anchors: the test NLL each model's paper reports on binarized MNIST after hundreds or
  thousands of epochs, for orientation only (their budgets are 100-1000x this one).

Run:  python benchmarks/zoo.py                 (about 80 min on one idle core: ~30 models)
      python benchmarks/zoo.py --quick         (a smoke run, a few minutes)
      python benchmarks/zoo.py --models vae iwae --reuse   (some models; keep other rows)
Rows are written to benchmarks/results/zoo.json as each model finishes, so an interrupted run
keeps what it finished; ``--reuse`` skips models already scored under the same protocol.
``python benchmarks/update_readme.py`` puts the table into the README.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import traceback
from pathlib import Path

import numpy as np
import torch
from common import RealImages
from lightning.pytorch.callbacks import Callback
from torch.utils.data import Subset

from vaekit.errors import VaekitError
from vaekit.evaluation import estimate_nll
from vaekit.registry import MODELS
from vaekit.training import load_experiment, train
from vaekit.training.data import build_dataset

HERE = Path(__file__).parent
RESULTS = HERE / "results"
RUNS = RESULTS / "runs" / "zoo"

MLP = ["model.network=mlp", "model.latent_dim=50",
       "model.network_options={hidden: [200, 200], activation: tanh}"]
# Models that build their own networks keep them (no `network` option).
OWN_NETWORKS = {
    "hierarchical_vae": ["model.group_dims=[16, 32, 64]", "model.hidden_dim=256",
                         "train.kl_schedule=linear", "train.kl_warmup_steps=1000",
                         "train.grad_clip=200", "train.skip_grad_norm=1000"],
    "vq_vae": [],
}
# Published test NLL (nats) on binarized MNIST, for orientation (not the same budget or nets).
ANCHORS = {
    "vae": (86.76, "Burda et al. 2016, Table 1 (1 layer, k=1)"),
    "iwae": (84.78, "Burda et al. 2016, Table 1 (1 layer, k=50)"),
    "vamp_vae": (85.57, "Tomczak & Welling 2018, Table 2 (VampPrior, 1 layer)"),
    "miwae": (84.97, "Rainforth et al. 2018, Table 1 (MIWAE (8, 8))"),
    "ciwae": (84.83, "Rainforth et al. 2018, Table 1 (CIWAE beta=0.5)"),
    "piwae": (84.52, "Rainforth et al. 2018, Table 1 (PIWAE (8, 8))"),
    "vae_iaf": (79.88, "Kingma et al. 2016, Table 2 (ResNet VAE + IAF, dynamic MNIST)"),
    "vae_linnf": (85.10, "Rezende & Mohamed 2015, Table 2 (80 planar flows)"),
    "hierarchical_vae": (78.01, "Vahdat & Kautz 2020, NVAE, Table 2"),
}
POINT_MASS_POSTERIOR = {"vq_vae"}
OTHER_DATA = {  # models of the applications, trained on other data than single images
    "svg": "video clips", "unit": "unpaired pairs of image domains",
    "munit": "unpaired pairs of image domains", "text_cvae": "captioned images",
    "text_vq_vae": "captioned images",
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cpu-minutes", type=float, default=1.5,
                   help="training CPU time per model (one thread)")
    p.add_argument("--k-eval", type=int, default=1000)
    p.add_argument("--eval-examples", type=int, default=1000)
    p.add_argument("--num-samples", type=int, default=2000, help="samples for the FD")
    p.add_argument("--classifier-steps", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", nargs="+", help="only these models (default: every model)")
    p.add_argument("--reuse", action="store_true",
                   help="keep rows of models already scored under the same protocol")
    p.add_argument("--quick", action="store_true", help="a smoke run: seconds per model")
    p.add_argument("--out", default=str(RESULTS / "zoo.json"))
    return p.parse_args()


def model_overrides(name: str) -> list[str]:
    base = [f"model.type={name}", "model.likelihood=bernoulli"]
    if name in OWN_NETWORKS:
        return [*base, *OWN_NETWORKS[name]]
    return [*base, *MLP]


def zoo_models(only: list[str] | None) -> list[str]:
    names = [n for n in MODELS.names() if not n.startswith("test_")]
    return [n for n in names if only is None or n in only]


def protocol(args: argparse.Namespace) -> dict:
    return {
        "data": "binarized MNIST (Larochelle), train 50k, test 10k",
        "nets": "MLP 784-200-200-50 tanh, Bernoulli (own nets for hierarchical_vae, vq_vae); "
                "Adam lr 1e-3, batch 100",
        "budget_cpu_minutes": args.cpu_minutes, "k_eval": args.k_eval,
        "eval_examples": args.eval_examples, "num_samples": args.num_samples,
        "classifier_steps": args.classifier_steps, "seed": args.seed, "threads": 1,
        "machine": f"{platform.machine()}, 1 thread per run (2 CPU cores shared with other "
                   f"jobs), torch {torch.__version__}",
    }


class CPUBudget(Callback):
    """Stop training once this process has used ``seconds`` of CPU time since training began
    (``time.process_time``: unlike wall-clock time, not stretched by other jobs)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start: float | None = None

    def on_train_start(self, trainer, module) -> None:
        self.start = time.process_time()

    def on_train_batch_end(self, trainer, *unused) -> None:
        if time.process_time() - self.start >= self.seconds:
            trainer.should_stop = True


def score(name: str, args: argparse.Namespace, test_subset, test_set, classifier) -> dict:
    from vaekit.evaluation.generation import sample_quality

    config = load_experiment(None, [
        *model_overrides(name), "data.name=binarized_mnist", "data.val_split=valid",
        "train.max_steps=1000000", f"train.max_minutes={10 * args.cpu_minutes}",
        "train.batch_size=100",
        "train.lr=1e-3", f"train.seed={args.seed}", "train.threads=1",
        "train.val_every=1000000", "train.checkpoint_every=1000000", "train.progress_bar=false",
        "train.loggers=[csv]", f"run_dir={RUNS / name}",
    ])
    result = train(config, overwrite=True, callbacks=[CPUBudget(60 * args.cpu_minutes)])
    model = result.model.eval()
    row = {"model": name, "steps": int(result.steps),
           "train_minutes": round(result.seconds / 60, 2)}
    start = time.perf_counter()
    if type(model).defines_likelihood:
        # A point-mass posterior (VQ-VAE) gives K identical importance weights: K = 1 is the
        # same bound at 1/K of the cost.
        k_eval = 1 if name in POINT_MASS_POSTERIOR else args.k_eval
        nll = estimate_nll(model, test_subset, num_samples=k_eval,
                           max_examples=args.eval_examples, seed=args.seed)
        row["test_nll_nats"] = round(nll["nll"], 2)
        row["nll_stderr"] = round(nll["nll_stderr"], 3)
    quality = sample_quality(model, test_set, classifier, num_samples=args.num_samples,
                             seed=args.seed, kid_subsets=10, kid_subset_size=500)
    row["frechet_distance"] = round(float(quality["frechet_distance"]), 2)
    row["recall"] = round(float(quality["recall"]), 3)
    row["eval_minutes"] = round((time.perf_counter() - start) / 60, 2)
    if name in ANCHORS:
        row["paper_nll_nats"], row["paper"] = ANCHORS[name]
    return row


def main() -> None:
    from vaekit.evaluation.generation import load_or_train_classifier, sample_quality

    args = parse_args()
    if args.quick:
        args.cpu_minutes, args.k_eval, args.eval_examples = 0.05, 20, 100
        args.num_samples, args.classifier_steps = 300, 50
    torch.set_num_threads(1)
    out = Path(args.out)
    proto = protocol(args)
    previous = json.loads(out.read_text()) if out.is_file() else {}
    kept = {r["model"]: r for r in previous.get("rows", [])
            if args.reuse and previous.get("protocol") == proto}
    test_set = build_dataset(load_experiment(None, ["data.name=binarized_mnist"]).data, "test")
    train_set = build_dataset(load_experiment(None, ["data.name=binarized_mnist"]).data, "train")
    order = np.random.default_rng(args.seed).permutation(len(test_set))[: args.eval_examples]
    test_subset = Subset(test_set, np.sort(order).tolist())
    classifier = load_or_train_classifier("mnist", steps=args.classifier_steps, seed=args.seed)
    reference = sample_quality(RealImages(train_set, args.num_samples, args.seed), test_set,
                               classifier, num_samples=args.num_samples, seed=args.seed,
                               kid_subsets=10, kid_subset_size=500)
    report = {
        "question": "every model of the zoo on binarized MNIST under one CPU budget",
        "protocol": proto,
        "classifier": {"trained_on": "MNIST train (first 10k images)",
                       "steps": args.classifier_steps,
                       "test_accuracy": round(float(classifier.accuracy(
                           build_dataset(load_experiment(None, ["data.name=mnist"]).data,
                                         "test"))), 4)},
        "reference": {"frechet_distance": round(float(reference["frechet_distance"]), 2),
                      "recall": round(float(reference["recall"]), 3)},
        "rows": [],
    }
    for name in zoo_models(args.models):
        if name in kept:
            row = kept[name]
        elif name in OTHER_DATA:
            row = {"model": name, "skipped": f"trains on {OTHER_DATA[name]}"}
        else:
            try:
                row = score(name, args, test_subset, test_set, classifier)
            except (VaekitError, RuntimeError, ValueError, TypeError) as err:
                traceback.print_exc()
                row = {"model": name, "skipped": f"{type(err).__name__}: {err}"[:200]}
        report["rows"].append(row)
        print(row, flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown_table(report))
    print(f"written: {out}")


def _cell(row: dict, key: str, fmt: str = "{}") -> str:
    return fmt.format(row[key]) if key in row else "–"


def markdown_table(report: dict) -> str:
    lines = ["| model | test NLL (nats) | ± s.e. | paper NLL | sample FD | recall | steps "
             "| train (min) |", "|---|---|---|---|---|---|---|---|"]
    ref = report["reference"]
    lines.append(f"| *real training images (reference)* | – | – | – | "
                 f"{ref['frechet_distance']:.2f} | {ref['recall']:.3f} | – | – |")
    skipped = []
    for r in sorted(report["rows"], key=lambda r: r.get("test_nll_nats", float("inf"))):
        if "skipped" in r:
            skipped.append(f"`{r['model']}` ({r['skipped']})")
            continue
        lines.append(
            f"| {r['model']} | {_cell(r, 'test_nll_nats', '{:.2f}')} | "
            f"{_cell(r, 'nll_stderr', '{:.2f}')} | {_cell(r, 'paper_nll_nats')} | "
            f"{r['frechet_distance']:.2f} | {r['recall']:.3f} | {r['steps']} | "
            f"{r['train_minutes']} |")
    p, c = report["protocol"], report["classifier"]
    lines.append("")
    lines.append(
        f"Protocol: {p['data']}; {p['nets']}; {p['budget_cpu_minutes']} CPU-minutes of "
        f"training per model (one thread), seed {p['seed']}; NLL = IWAE bound with "
        f"K={p['k_eval']} (K=1 for VQ-VAE's point-mass posterior, the same bound) on "
        f"{p['eval_examples']} test images (seeded subset), only for models trained on a "
        f"likelihood bound; FD between {p['num_samples']} prior samples and as many test images "
        f"on the features of a classifier vaekit trains on MNIST ({c['steps']} steps, test "
        f"accuracy {c['test_accuracy']:.3f}; not Inception FID); {p['machine']}. Paper NLLs "
        "come from far longer training (hundreds to thousands of epochs) and are for "
        "orientation only.")
    if skipped:
        lines.append("")
        lines.append("Not in this table: " + "; ".join(skipped) + ".")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
