"""Question: how good are vaekit's generative models, in likelihood and in sample quality?

Part ``nll`` (binarized MNIST, the fixed Larochelle binarization, train 50k / valid 10k / test):
- VAE and IWAE (k=5): the IWAE paper's MLP 784-200-200-50, 30 epochs; the runs of
  ``benchmarks/likelihood.py`` are reused when present (same protocol), else trained here;
- hierarchical VAE: 3 latent groups (16, 32, 64; top first), residual MLP cells of width 256,
  top-down inference, KL warm-up over 10k steps with KL balancing, gradient clipping 200 and
  update skipping above norm 1000, ``--hvae-steps`` steps of batch 100 (Adam lr 1e-3);
- metric: test NLL = -(IWAE bound) with K = ``--k-eval`` (5,000) importance samples on
  ``--eval-examples`` test images (a seeded random subset: K = 5,000 on the whole test set
  costs hours on a CPU), the same images for every model; per-group KL on the same images.
- anchors: IWAE paper 2-layer IWAE 82.90 nats (Burda et al. 2016, Table 1), NVAE 78.01 nats
  (Vahdat & Kautz 2020, Table 2); both train for days on GPUs.

Part ``quality`` (Fashion-MNIST, real data, train 60k / test 10k):
- models: VAE (conv28 net, z=32), hierarchical VAE (as above), VQ-VAE (128 codes of 16 dims)
  with its learned autoregressive prior (a causal transformer) over the 7x7 code grid, trained
  jointly for the first half of its steps and alone on the frozen codes for the second half;
  Bernoulli likelihood on grey levels for all; ``--quality-steps`` steps of batch 128 for VAE
  and hierarchical VAE, ``--vq-steps`` for VQ-VAE (a step costs about 5x as much on a CPU);
- metrics: Frechet distance, kernel distance (KID) and precision/recall (k=3) between 5,000
  samples and 5,000 test images, on the penultimate features of a classifier that vaekit trains
  on the Fashion-MNIST training set (NOT Inception features: numbers are not comparable to
  published FID); reconstruction PSNR and SSIM on 2,000 test images; for VAE and hierarchical
  VAE also samples from a 10-component Gaussian mixture fitted to the aggregate posterior of
  10,000 training images (Ghosh et al. 2020), to show what a better sampler changes.

Part ``rgb`` (natural photographs: 32x32 RGB patches cut from the colour images in
``$VAEKIT_DATA/sample_images``, test patches from photographs held out of training):
- VAE (conv28 net, z=64) with a discretized logistic likelihood (one component per sub-pixel)
  and with a PixelCNN++-style mixture of 5 discretized logistics; ``--rgb-steps`` steps of
  batch 64 each; test bits per dimension from the IWAE bound with K=100 on 1,000 test patches,
  and reconstruction PSNR.

Every run uses one thread; training minutes are wall-clock and depend on machine load.

Run:  python benchmarks/generation.py                 (both parts; about 2 h on 2 cores)
      python benchmarks/generation.py --part nll      (or --part quality; can run side by side)
      python benchmarks/generation.py --quick         (a smoke run)
Writes benchmarks/results/generation.json (each part updates its own key);
``python benchmarks/update_readme.py`` puts the tables into the README.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from common import RealImages, finished_run
from torch.utils.data import Subset

from vaekit.checkpoint import load_pretrained
from vaekit.evaluation import estimate_nll
from vaekit.training import load_experiment, train
from vaekit.training.data import build_dataset

HERE = Path(__file__).parent
RESULTS = HERE / "results"
RUNS = RESULTS / "runs"
ANCHORS = {"IWAE paper, 2-layer IWAE k=50": 82.90, "NVAE": 78.01}
GOAL_NLL = 82.0  # nats, hierarchical VAE, about one CPU hour of training

COMMON = ["train.progress_bar=false", "train.loggers=[csv]", "train.threads=1"]
HVAE = ["model.type=hierarchical_vae", "model.group_dims=[16, 32, 64]", "model.hidden_dim=256",
        "model.blocks_per_group=1", "train.kl_schedule=linear", "train.kl_warmup_steps=10000",
        "train.grad_clip=200", "train.skip_grad_norm=1000", "train.lr=1e-3"]
QUALITY_MODELS = {
    "vae": ["model.type=vae", "model.network=conv28", "model.latent_dim=32", "train.lr=1e-3"],
    "hierarchical_vae": HVAE,
    "vq_vae": ["model.type=vq_vae", "train.lr=1e-3"],
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--part", choices=["nll", "quality", "rgb", "all"], default="all")
    p.add_argument("--hvae-steps", type=int, default=60000)
    p.add_argument("--k-eval", type=int, default=5000)
    p.add_argument("--eval-examples", type=int, default=500)
    p.add_argument("--quality-steps", type=int, default=6000)
    p.add_argument("--vq-steps", type=int, default=2000,
                   help="VQ-VAE steps (about 5x the cost of a VAE step on a CPU)")
    p.add_argument("--num-samples", type=int, default=5000)
    p.add_argument("--classifier-steps", type=int, default=2000)
    p.add_argument("--rgb-steps", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="tiny budgets, for a smoke run")
    p.add_argument("--reuse", action="store_true",
                   help="evaluate finished runs of the same protocol instead of retraining")
    p.add_argument("--out", default=str(RESULTS / "generation.json"))
    return p.parse_args()




def train_or_reuse(overrides: list[str], run_dir: Path, steps: int, reuse: bool):
    """(model, train minutes, run.json) of a finished run, training it if needed."""
    config = load_experiment(None, [*overrides, f"train.max_steps={steps}", *COMMON,
                                    f"run_dir={run_dir}"])
    if not (reuse and finished_run(run_dir, steps)):
        train(config, overwrite=True)
    meta = json.loads((run_dir / "run.json").read_text())
    return load_pretrained(run_dir / "model"), round(meta["train_seconds"] / 60, 1), meta


def _likelihood_benchmark():
    spec = importlib.util.spec_from_file_location("bench_likelihood", HERE / "likelihood.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- part: nll
def part_nll(args: argparse.Namespace) -> dict:
    data = ["data.name=binarized_mnist", "data.val_split=valid", "train.batch_size=100",
            "train.val_every=5000", "train.val_batches=20", "train.checkpoint_every=5000",
            f"train.seed={args.seed}"]
    test = build_dataset(load_experiment(None, ["data.name=binarized_mnist"]).data, "test")
    # A seeded random subset (the Larochelle test split is not in random order).
    order = np.random.default_rng(args.seed).permutation(len(test))[: args.eval_examples]
    test = Subset(test, np.sort(order).tolist())
    likelihood = _likelihood_benchmark()
    iwae_steps = 1 if args.quick else 30 * 500  # 30 epochs, as benchmarks/likelihood.py
    runs_dir = RUNS / "quick" if args.quick else RUNS
    # (overrides, run dir, steps, setup, reuse): the VAE and IWAE runs are those of
    # benchmarks/likelihood.py (same protocol), reused whenever they are there.
    runs = {
        "vae": (likelihood.model_settings("vae"), runs_dir / "likelihood-vae", iwae_steps,
                "MLP 784-200-200-50, 30 epochs", True),
        "iwae (k=5)": (likelihood.model_settings("iwae"), runs_dir / "likelihood-iwae",
                       iwae_steps, "MLP 784-200-200-50, 30 epochs", True),
        "hierarchical_vae": (HVAE, runs_dir / "generation-bmnist-hvae", args.hvae_steps,
                             f"3 groups (16,32,64), width 256, {args.hvae_steps // 500} epochs",
                             args.reuse),
    }
    rows = []
    for name, (overrides, run_dir, steps, setup, reuse) in runs.items():
        extra = ["train.lr=1e-3"] if "hierarchical" not in name else []
        model, train_minutes, meta = train_or_reuse([*overrides, *data, *extra], run_dir, steps,
                                                    reuse)
        start = time.perf_counter()
        nll = estimate_nll(model, test, num_samples=args.k_eval, seed=args.seed)
        row = {"model": name, "setup": setup, "test_nll_nats": round(nll["nll"], 2),
               "nll_stderr": round(nll["nll_stderr"], 2), "train_minutes": train_minutes,
               "eval_minutes": round((time.perf_counter() - start) / 60, 1),
               "steps": meta["steps"]}
        if hasattr(model, "kl_per_group"):
            x = torch.stack([test[i] for i in range(min(len(test), 500))])
            row["kl_per_group"] = [round(float(v), 2) for v in model.kl_per_group(x).mean(0)]
            row["skipped_updates"] = meta.get("skipped_updates", 0)
        rows.append(row)
        print(row, flush=True)
    hvae = rows[-1]["test_nll_nats"]
    return {
        "protocol": {
            "data": "binarized MNIST (Larochelle), train 50k, valid 10k, test 10k",
            "k_eval": args.k_eval, "eval_examples": args.eval_examples, "seed": args.seed,
            "batch": 100, "threads": 1, "machine": machine(),
        },
        "anchors": ANCHORS, "goal": f"hierarchical VAE <= {GOAL_NLL} nats",
        "goal_met": hvae <= GOAL_NLL, "rows": rows,
    }


# ------------------------------------------------------------------------- part: quality
def part_quality(args: argparse.Namespace) -> dict:
    from vaekit.evaluation.generation import (
        load_or_train_classifier,
        reconstruction_quality,
        sample_quality,
    )
    from vaekit.samplers import GaussianMixtureSampler

    data = ["data.name=fashion_mnist", "data.val_size=1000", "train.batch_size=128",
            "train.val_every=2000", "train.checkpoint_every=2000", f"train.seed={args.seed}"]
    train_set = build_dataset(load_experiment(None, ["data.name=fashion_mnist"]).data, "train")
    test_set = build_dataset(load_experiment(None, ["data.name=fashion_mnist"]).data, "test")
    start = time.perf_counter()
    classifier = load_or_train_classifier("fashion_mnist", steps=args.classifier_steps,
                                          seed=args.seed)
    classifier_info = {"steps": args.classifier_steps,
                       "test_accuracy": round(float(classifier.accuracy(test_set)), 4),
                       "minutes": round((time.perf_counter() - start) / 60, 1)}
    reference = sample_quality(RealImages(train_set, args.num_samples, args.seed), test_set,
                               classifier, num_samples=args.num_samples, seed=args.seed)
    rows = [{"model": "training images (reference)", **_rounded(reference)}]
    for name, overrides in QUALITY_MODELS.items():
        runs_dir = RUNS / "quick" if args.quick else RUNS
        steps = args.quality_steps
        if name == "vq_vae":  # the paper's second stage: the prior alone on frozen codes
            steps = args.vq_steps
            overrides = [*overrides, f"model.freeze_autoencoder_step={steps // 2}"]
        model, train_minutes, _ = train_or_reuse(
            [*overrides, *data], runs_dir / f"generation-fmnist-{name}", steps, args.reuse)
        recon = reconstruction_quality(model, test_set, max_examples=2000)
        samplers = {"prior": model}
        if name != "vq_vae":
            samplers["GMM-10 on q(z|x)"] = GaussianMixtureSampler(
                model, num_components=10, seed=args.seed).fit(train_set, max_examples=10000)
        for sampler_name, sampler in samplers.items():
            scores = sample_quality(sampler, test_set, classifier,
                                    num_samples=args.num_samples, seed=args.seed)
            rows.append({"model": name, "sampler": sampler_name,
                         "train_minutes": train_minutes, **_rounded(scores),
                         "psnr": round(float(recon["psnr"]), 2),
                         "ssim": round(float(recon["ssim"]), 4)})
            print(rows[-1], flush=True)
    return {
        "protocol": {
            "data": "Fashion-MNIST, train 60k (1k held out for validation), test 10k",
            "steps": args.quality_steps, "vq_steps": args.vq_steps, "batch": 128,
            "num_samples": args.num_samples,
            "features": "penultimate layer of a classifier vaekit trains on the Fashion-MNIST "
                        "training set (not Inception; not comparable to published FID)",
            "classifier": classifier_info, "seed": args.seed, "threads": 1,
            "machine": machine(),
        },
        "rows": rows,
    }


# ----------------------------------------------------------------------------- part: rgb
RGB_LIKELIHOODS = {
    "discretized logistic": ["model.likelihood=discretized_logistic"],
    "mixture of 5 discretized logistics": ["model.likelihood=discretized_logistic_mixture",
                                           "model.likelihood_options={num_mixtures: 5}"],
}


def part_rgb(args: argparse.Namespace) -> dict:
    from vaekit.evaluation.generation import reconstruction_quality

    data = ["data.name=image_patches", "data.val_size=1000", "train.batch_size=64",
            "train.val_every=2000", "train.checkpoint_every=2000", f"train.seed={args.seed}"]
    test = build_dataset(load_experiment(None, ["data.name=image_patches"]).data, "test")
    order = np.random.default_rng(args.seed).permutation(len(test))[:1000]
    test = Subset(test, np.sort(order).tolist())
    rows = []
    for name, likelihood in RGB_LIKELIHOODS.items():
        runs_dir = RUNS / "quick" if args.quick else RUNS
        slug = likelihood[0].split("=")[1]
        model, train_minutes, _ = train_or_reuse(
            ["model.type=vae", "model.network=conv28", "model.latent_dim=64", "train.lr=5e-4",
             *likelihood, *data], runs_dir / f"generation-rgb-{slug}", args.rgb_steps,
            args.reuse)
        nll = estimate_nll(model, test, num_samples=100 if not args.quick else 5, seed=args.seed)
        recon = reconstruction_quality(model, test)
        rows.append({"likelihood": name, "test_bits_per_dim": round(nll["bits_per_dim"], 3),
                     "test_nll_nats": round(nll["nll"], 1),
                     "psnr": round(float(recon["psnr"]), 2), "train_minutes": train_minutes})
        print(rows[-1], flush=True)
    return {
        "protocol": {
            "data": "32x32 RGB patches of the colour photographs in sample_images (2,000 per "
                    "photo; every 4th photo held out for test), 1,000 test patches",
            "model": "VAE, conv28 net, z=64, Adam lr 5e-4, batch 64",
            "steps": args.rgb_steps, "k_eval": 100, "seed": args.seed, "machine": machine(),
        },
        "rows": rows,
    }


def _rounded(scores: dict) -> dict:
    return {k: round(float(v), 4) for k, v in scores.items() if isinstance(v, (int, float))}


def machine() -> str:
    return f"{platform.machine()}, 1 thread per run, torch {torch.__version__}"


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    if args.quick:
        args.hvae_steps, args.k_eval, args.eval_examples = 50, 20, 50
        args.quality_steps, args.num_samples, args.classifier_steps = 30, 300, 50
        args.vq_steps = 30
        args.rgb_steps = 20
    out = Path(args.out)
    report = json.loads(out.read_text()) if out.is_file() else {}
    report["question"] = ("likelihood (binarized MNIST) and sample quality (Fashion-MNIST) of "
                          "VAE, IWAE, hierarchical VAE and VQ-VAE")
    parts = {"nll": part_nll, "quality": part_quality, "rgb": part_rgb}
    for name in (parts if args.part == "all" else [args.part]):
        result = parts[name](args)
        report = json.loads(out.read_text()) if out.is_file() else report  # a side-by-side run
        report[name] = result
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown_table(report))
    print(f"written: {out}")


def markdown_table(report: dict) -> str:
    lines: list[str] = []
    if "nll" in report:
        part = report["nll"]
        p = part["protocol"]
        lines += ["| model | setup | test NLL (nats) | ± s.e. | KL per group | train (min) |",
                  "|---|---|---|---|---|---|"]
        for r in part["rows"]:
            groups = ", ".join(f"{v:.1f}" for v in r.get("kl_per_group", [])) or "–"
            lines.append(f"| {r['model']} | {r['setup']} | {r['test_nll_nats']:.2f} | "
                         f"{r['nll_stderr']:.2f} | {groups} | {r['train_minutes']} |")
        for anchor, value in part["anchors"].items():
            lines.append(f"| *{anchor}* | published, GPU days | {value} | | | |")
        lines += ["", f"Protocol: {p['data']}; NLL = IWAE bound with K={p['k_eval']} on "
                  f"{p['eval_examples']} test images (seeded random subset), seed {p['seed']}; "
                  f"batch {p['batch']}; {p['machine']}. Goal ({part['goal']}): "
                  f"{'met' if part['goal_met'] else 'NOT met'}.", ""]
    if "quality" in report:
        part = report["quality"]
        p = part["protocol"]
        lines += ["| model | sampler | Frechet dist. | KID | precision | recall | PSNR (dB) "
                  "| SSIM | train (min) |", "|---|---|---|---|---|---|---|---|---|"]
        for r in part["rows"]:
            kid = f"{r['kid_mean']:.2f}" if "kid_mean" in r else "–"
            lines.append(
                f"| {r['model']} | {r.get('sampler', '–')} | {r['frechet_distance']:.2f} | "
                f"{kid} | {r.get('precision', 0):.3f} | {r.get('recall', 0):.3f} | "
                f"{r['psnr']:.2f} | {r['ssim']:.3f} | {r['train_minutes']} |"
                if "psnr" in r else
                f"| {r['model']} | – | {r['frechet_distance']:.2f} | {kid} | "
                f"{r.get('precision', 0):.3f} | {r.get('recall', 0):.3f} | – | – | – |")
        c = p["classifier"]
        lines += ["", f"Protocol: {p['data']}; {p['steps']} steps of batch {p['batch']} per "
                  f"model ({p.get('vq_steps', p['steps'])} for VQ-VAE), seed {p['seed']}; "
                  f"{p['num_samples']} samples against as many test "
                  f"images; features: {p['features']} ({c['steps']} steps, test accuracy "
                  f"{c['test_accuracy']:.3f}); PSNR/SSIM of reconstructions of 2,000 test "
                  f"images; {p['machine']}."]
    if "rgb" in report:
        part = report["rgb"]
        p = part["protocol"]
        lines += ["", "| likelihood (RGB photo patches) | test bits/dim | test NLL (nats) | "
                  "PSNR (dB) | train (min) |", "|---|---|---|---|---|"]
        for r in part["rows"]:
            lines.append(f"| {r['likelihood']} | {r['test_bits_per_dim']:.3f} | "
                         f"{r['test_nll_nats']:.1f} | {r['psnr']:.2f} | {r['train_minutes']} |")
        lines += ["", f"Protocol: {p['data']}; {p['model']}; {p['steps']} steps, seed "
                  f"{p['seed']}; bits/dim from the IWAE bound with K={p['k_eval']}; "
                  f"{p['machine']}."]
    return "\n".join(lines).rstrip()


if __name__ == "__main__":
    main()
