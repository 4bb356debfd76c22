"""Question: how fast does vaekit train, against a plain PyTorch loop, pythae, and the machine?

Protocol (printed and stored with the results):
- work: the 64x64 conv VAE of the disentanglement studies (vaekit's ``conv64`` nets, z = 10,
  Bernoulli likelihood) and beta-TCVAE on the same nets (beta 6, minibatch-stratified
  estimator), batch 64, Adam lr 5e-4, on the same pre-rendered procedural dSprites images (a
  seeded random sample of the grid held in memory, so no contender pays for rendering); plus
  vaekit on the procedural dataset itself, rendered batch by batch (its default data path);
- contenders, each in its own fresh process with the thread count pinned:
  ``vaekit``: ``vaekit.training.train`` (Lightning engine, defaults apart from no progress bar);
  ``plain``: a hand-written PyTorch loop on the same nets and images (a TensorDataset and
  DataLoader, the loss written out by hand: BCE + analytic KL, or the beta-TCVAE
  decomposition with the MSS weights of Chen et al. 2018);
  ``pythae``: the pythae library (its BaseTrainer, VAE / BetaTCVAE models with use_mss) with the
  same nets plugged in as custom encoder/decoder; installed by ``--setup-pythae`` into its own
  environment ``benchmarks/.venv-pythae``, never a dependency of vaekit;
- measurement: the time of every training step (batch start to next batch start) after
  ``--warmup`` steps; a contender's speed is 64 / median step time (images/s; the median
  resists the other jobs of a shared machine); ``--rounds`` rounds, the contenders in a rotated
  order each round, and the ratios are medians of per-round ratios;
- machine: the achieved GFLOP/s of a training step (FLOPs counted with
  ``torch.utils.flop_counter`` on one forward + backward) against the best dense matmul GFLOP/s
  (2048 x 2048, float32) measured in the same run with the same threads.

Run:  python benchmarks/throughput.py --setup-pythae      (once: the pythae environment)
      python benchmarks/throughput.py                     (about 15 min on an idle 2-core machine)
      python benchmarks/throughput.py --quick             (a smoke run)
Writes benchmarks/results/throughput.json; ``python benchmarks/update_readme.py`` puts the
table into the README.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
PYTHAE_ENV = HERE / ".venv-pythae"
BATCH = 64
LATENT = 10
LR = 5e-4
BETA = 6.0
CONTENDERS = ("vaekit", "plain", "pythae")
GOALS = {"pythae": 1.5, "plain": 1.2, "matmul_fraction": 0.40}


# ------------------------------------------------------------------------------- workers
def render_images(path: Path, n: int, seed: int) -> Path:
    """``n`` random dSprites frames (float32 (n, 1, 64, 64) in {0, 1}) saved as .npy."""
    import numpy as np

    from vaekit.registry import DATASETS

    dsprites = DATASETS.build("dsprites")
    order = np.random.default_rng(seed).integers(0, len(dsprites), n)
    images = np.stack([t.numpy() for t in dsprites.__getitems__(order.tolist())])
    np.save(path, images.astype(np.float32))
    return path


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _stamps_to_result(stamps: list[float], warmup: int, flops: float | None = None) -> dict:
    steps = [b - a for a, b in zip(stamps[warmup:], stamps[warmup + 1:])]
    median = statistics.median(steps)
    result = {"images_per_s": BATCH / median, "step_ms_median": 1000 * median,
              "steps_timed": len(steps), "peak_rss_mb": _peak_rss_mb()}
    if flops:
        result["gflops_per_step"] = flops / 1e9
        result["achieved_gflops"] = flops / median / 1e9
    return result


def worker_vaekit(args: argparse.Namespace) -> dict:
    import lightning as L

    from vaekit.training import load_experiment, train

    stamps: list[float] = []

    class Stamp(L.Callback):
        def on_train_batch_start(self, *unused) -> None:
            stamps.append(time.perf_counter())

    data = (["data.name=dsprites"] if args.images is None else
            ["data.name=array_file", f"data.options.path={args.images}",
             "data.options.test_fraction=0.0"])
    with tempfile.TemporaryDirectory() as run_dir:
        config = load_experiment(None, [
            f"model.type={args.model}", "model.network=conv64", f"model.latent_dim={LATENT}",
            *( [f"model.beta={BETA}"] if args.model == "beta_tcvae" else []),
            *data, "data.val_size=0", f"train.max_steps={args.steps + 1}",
            f"train.batch_size={BATCH}", f"train.lr={LR}", f"train.threads={args.threads}",
            "train.progress_bar=false", "train.checkpoint_every=1000000",
            "train.val_every=1000000", f"run_dir={run_dir}", *args.vaekit_overrides,
        ])
        result = train(config, callbacks=[Stamp()])
        flops = _count_flops(result.model)
    return _stamps_to_result(stamps, args.warmup, flops)


def _count_flops(model) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = (torch.rand(BATCH, 1, 64, 64) > 0.5).float()
    model.train()
    with FlopCounterMode(display=False) as counter:
        model.loss(x)["loss"].backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def _mss_log_weights(batch: int, dataset_size: int):
    """log of Chen et al.'s minibatch-stratified-sampling weight matrix (B, B)."""
    import torch

    m = batch - 1
    weights = torch.full((batch, batch), 1.0 / m)
    weights.view(-1)[:: m + 1] = 1.0 / dataset_size
    weights.view(-1)[1:: m + 1] = (dataset_size - m) / (dataset_size * m)
    weights[m - 1, 0] = (dataset_size - m) / (dataset_size * m)
    return weights.log()


def worker_plain(args: argparse.Namespace) -> dict:
    """A hand-written loop: what a user writes without a library."""
    import math

    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset

    from vaekit.nn.conv64 import Conv64

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images = torch.from_numpy(np.load(args.images))
    encoder = Conv64.encoder((1, 64, 64), 2 * LATENT)
    decoder = Conv64.decoder(LATENT, (1, 64, 64), 1)
    params = [*encoder.parameters(), *decoder.parameters()]
    optimizer = torch.optim.Adam(params, lr=LR)
    loader = DataLoader(TensorDataset(images), batch_size=BATCH, shuffle=True, drop_last=True)
    log_w = _mss_log_weights(BATCH, len(images))
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    stamps: list[float] = []
    step = 0
    while step <= args.steps:
        for (x,) in loader:
            stamps.append(time.perf_counter())
            mu, pre_std = encoder(x).chunk(2, dim=-1)
            std = F.softplus(pre_std) + 1e-4
            z = mu + std * torch.randn_like(std)
            logits = decoder(z)
            recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
            recon = recon.flatten(1).sum(1)
            if args.model == "vae":
                kl = 0.5 * (mu ** 2 + std ** 2 - 1 - 2 * std.log()).sum(1)
                loss = (recon + kl).mean()
            else:
                # log q(z_i | x_j) for every pair, per dimension: (B, B, D)
                log_q = (-0.5 * ((z[:, None] - mu[None]) / std[None]) ** 2 - std[None].log()
                         - half_log_2pi)
                log_qz_prod = torch.logsumexp(log_w[..., None] + log_q, dim=1).sum(1)
                log_qz = torch.logsumexp(log_w + log_q.sum(2), dim=1)
                log_qz_x = (-0.5 * ((z - mu) / std) ** 2 - std.log() - half_log_2pi).sum(1)
                log_pz = (-0.5 * z ** 2 - half_log_2pi).sum(1)
                penalty = ((log_qz_x - log_qz) + BETA * (log_qz - log_qz_prod)
                           + (log_qz_prod - log_pz))
                loss = (recon + penalty).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            if step > args.steps:
                break
    return _stamps_to_result(stamps, args.warmup)


def worker_pythae(args: argparse.Namespace) -> dict:
    import numpy as np
    import torch
    from pythae.data.datasets import BaseDataset
    from pythae.models import VAE, BetaTCVAE, BetaTCVAEConfig, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.trainers import BaseTrainer, BaseTrainerConfig

    from vaekit.nn.conv64 import Conv64

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    class Encoder(BaseEncoder):
        def __init__(self) -> None:
            super().__init__()
            self.net = Conv64.encoder((1, 64, 64), 2 * LATENT)

        def forward(self, x):
            mu, log_var = self.net(x).chunk(2, dim=-1)
            return ModelOutput(embedding=mu, log_covariance=log_var)

    class Decoder(BaseDecoder):
        def __init__(self) -> None:
            super().__init__()
            self.net = Conv64.decoder(LATENT, (1, 64, 64), 1)

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.net(z)))

    images = torch.from_numpy(np.load(args.images))
    common = {"input_dim": (1, 64, 64), "latent_dim": LATENT, "reconstruction_loss": "bce"}
    if args.model == "vae":
        model = VAE(VAEConfig(**common), encoder=Encoder(), decoder=Decoder())
    else:
        model = BetaTCVAE(BetaTCVAEConfig(**common, beta=BETA, use_mss=True),
                          encoder=Encoder(), decoder=Decoder())
    stamps: list[float] = []
    forward = model.forward

    def timed_forward(*a, **k):
        stamps.append(time.perf_counter())
        return forward(*a, **k)

    model.forward = timed_forward
    per_epoch = len(images) // BATCH
    with tempfile.TemporaryDirectory() as out:
        config = BaseTrainerConfig(output_dir=out, num_epochs=-(-(args.steps + 1) // per_epoch),
                                   per_device_train_batch_size=BATCH, learning_rate=LR,
                                   optimizer_cls="Adam", no_cuda=True)
        dataset = BaseDataset(images, torch.zeros(len(images)))
        BaseTrainer(model, dataset, training_config=config).train()
    # stamps[0] is the trainer's sanity-check forward pass before training.
    return _stamps_to_result(stamps[1: args.steps + 2], args.warmup)


def worker_evaluate(args: argparse.Namespace) -> dict:
    """Peak memory of ``vaekit evaluate``'s computation (ELBO, IWAE bound with K = 1000, active
    units, KL per dim) for the conv64 VAE on procedural dSprites. The data is streamed and the
    importance samples are chunked to a fixed budget, so the peak does not grow with the number
    of examples; a few examples keep the run short."""
    import torch
    from torch.utils.data import Subset

    from vaekit.evaluation import evaluate_model
    from vaekit.models import build_model
    from vaekit.registry import DATASETS

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_model({"type": args.model, "network": "conv64", "latent_dim": LATENT,
                         "data_shape": [1, 64, 64]})
    data = Subset(DATASETS.build("dsprites"), range(0, 737_280, 737_280 // 32))
    start = time.perf_counter()
    evaluate_model(model, data, num_importance_samples=1000, max_examples=32)
    return {"peak_rss_mb": _peak_rss_mb(), "seconds": time.perf_counter() - start,
            "examples": 32, "importance_samples": 1000}


WORKERS = {"vaekit": worker_vaekit, "plain": worker_plain, "pythae": worker_pythae,
           "evaluate": worker_evaluate}


# ---------------------------------------------------------------------------- orchestrator
def matmul_gflops(threads: int, size: int = 2048, repeats: int = 5) -> float:
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best / 1e9


def run_worker(contender: str, model: str, args: argparse.Namespace, images: Path | None,
               extra: list[str] | None = None) -> dict:
    python = str(PYTHAE_ENV / "bin" / "python") if contender == "pythae" else sys.executable
    command = [python, str(Path(__file__).resolve()), "--worker", contender, "--model", model,
               "--threads", str(args.threads), "--steps", str(args.steps),
               "--warmup", str(args.warmup)]
    if images is not None:
        command += ["--images", str(images)]
    for override in extra or []:
        command += ["--vaekit-override", override]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads),
           "PYTHONPATH": str(ROOT / "src"), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{contender}/{model} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def setup_pythae() -> None:
    subprocess.run([sys.executable, "-m", "venv", str(PYTHAE_ENV)], check=True)
    pip = [str(PYTHAE_ENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    # The CPU build of torch first (a wheel on this machine's disk), so pythae's requirement
    # on torch cannot pull another build; vaekit without its dependencies, for its nets only.
    subprocess.run([*pip, "torch==2.13.0"], check=True)
    subprocess.run([*pip, "pythae==0.1.2"], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
    print(f"pythae environment ready: {PYTHAE_ENV}")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=40, help="timed steps per contender and round")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--models", nargs="+", default=["vae", "beta_tcvae"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="1 round of 8 steps")
    p.add_argument("--setup-pythae", action="store_true")
    p.add_argument("--evaluation-only", action="store_true",
                   help="only measure evaluation memory; add it to the existing JSON")
    p.add_argument("--out", default=str(RESULTS / "throughput.json"))
    p.add_argument("--worker", choices=list(WORKERS), help=argparse.SUPPRESS)
    p.add_argument("--model", default="vae", help=argparse.SUPPRESS)
    p.add_argument("--images", help=argparse.SUPPRESS)
    p.add_argument("--vaekit-override", dest="vaekit_overrides", action="append", default=[],
                   help=argparse.SUPPRESS)
    return p.parse_args()


def main() -> None:
    args = parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args)))
        return
    if args.setup_pythae:
        setup_pythae()
        return
    if args.evaluation_only:
        out = Path(args.out)
        report = json.loads(out.read_text())
        report["evaluation"] = run_worker("evaluate", "vae", args, None)
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(markdown_table(report))
        return
    if args.quick:
        args.rounds, args.steps, args.warmup = 1, 8, 2
    if not (PYTHAE_ENV / "bin" / "python").is_file():
        sys.exit(f"no pythae environment at {PYTHAE_ENV}: run with --setup-pythae first")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        images = render_images(Path(tmp) / "dsprites.npy", BATCH * (args.steps + 2), args.seed)
        peak = matmul_gflops(args.threads)
        for model in args.models:
            runs: dict[str, list[dict]] = {
                c: [] for c in (*CONTENDERS, "vaekit_procedural", "vaekit_bf16")}
            for r in range(args.rounds):
                order = CONTENDERS[r % 3:] + CONTENDERS[: r % 3]
                for contender in order:
                    runs[contender].append(run_worker(contender, model, args, images))
                    print(model, contender, r, runs[contender][-1], flush=True)
                runs["vaekit_procedural"].append(run_worker("vaekit", model, args, None))
                runs["vaekit_bf16"].append(run_worker("vaekit", model, args, images,
                                                      ["train.precision=bf16-mixed"]))
                peak = max(peak, matmul_gflops(args.threads))
            rows.append(summarise(model, runs, args.rounds))
            print(rows[-1], flush=True)
    report = {
        "question": "training images/s: vaekit vs a plain PyTorch loop vs pythae, and vs the "
                    "machine's matmul GFLOP/s",
        "protocol": {
            "work": f"conv64 nets, z={LATENT}, Bernoulli, batch {BATCH}, Adam lr {LR}; "
                    f"beta-TCVAE beta {BETA} (MSS); dSprites frames in memory",
            "steps": args.steps, "warmup": args.warmup, "rounds": args.rounds,
            "threads": args.threads, "matmul_gflops": round(peak, 1),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores (shared with other "
                       f"jobs), torch {__import__('torch').__version__}, pythae 0.1.2",
        },
        "goals": GOALS, "rows": rows,
        "evaluation": run_worker("evaluate", "vae", args, None),
    }
    for row in rows:
        row["matmul_fraction"] = round(row["achieved_gflops"] / peak, 3)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(markdown_table(report))
    print(f"written: {args.out}")


def summarise(model: str, runs: dict[str, list[dict]], rounds: int) -> dict:
    def median(contender: str, key: str = "images_per_s") -> float:
        return statistics.median(run[key] for run in runs[contender])

    def ratio(other: str) -> float:
        return statistics.median(runs["vaekit"][r]["images_per_s"]
                                 / runs[other][r]["images_per_s"] for r in range(rounds))

    return {
        "model": model,
        "vaekit_images_per_s": round(median("vaekit"), 1),
        "vaekit_procedural_images_per_s": round(median("vaekit_procedural"), 1),
        "vaekit_bf16_images_per_s": round(median("vaekit_bf16"), 1),
        "bf16_vs_pythae": round(statistics.median(
            runs["vaekit_bf16"][r]["images_per_s"] / runs["pythae"][r]["images_per_s"]
            for r in range(rounds)), 3),
        "peak_rss_mb": {c: round(median(c, "peak_rss_mb")) for c in runs},
        "plain_images_per_s": round(median("plain"), 1),
        "pythae_images_per_s": round(median("pythae"), 1),
        "vs_plain": round(ratio("plain"), 3),
        "vs_pythae": round(ratio("pythae"), 3),
        "gflops_per_step": round(runs["vaekit"][0]["gflops_per_step"], 2),
        "achieved_gflops": round(median("vaekit", "achieved_gflops"), 1),
    }


def _verdict(value: float, goal: float) -> str:
    return f"{value:.2f}x ({'met' if value >= goal else 'NOT met'}, goal {goal}x)"


def markdown_table(report: dict) -> str:
    p, goals = report["protocol"], report["goals"]
    lines = ["| model | vaekit (img/s) | plain loop | pythae | vaekit / plain | vaekit / pythae "
             "| GFLOP/s (share of matmul) | vaekit, procedural data | vaekit, bf16-mixed "
             "(bf16 / pythae) | peak RSS MB (vaekit / plain / pythae) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        share = r["matmul_fraction"]
        rss = r["peak_rss_mb"]
        lines.append(
            f"| {r['model']} | {r['vaekit_images_per_s']} | {r['plain_images_per_s']} | "
            f"{r['pythae_images_per_s']} | {_verdict(r['vs_plain'], goals['plain'])} | "
            f"{_verdict(r['vs_pythae'], goals['pythae'])} | {r['achieved_gflops']} "
            f"({100 * share:.0f}%: {'met' if share >= goals['matmul_fraction'] else 'NOT met'}"
            f", goal {100 * goals['matmul_fraction']:.0f}%) | "
            f"{r['vaekit_procedural_images_per_s']} | {r['vaekit_bf16_images_per_s']} "
            f"({r['bf16_vs_pythae']:.2f}x) | {rss['vaekit']} / {rss['plain']} / "
            f"{rss['pythae']} |")
    lines.append("")
    lines.append(
        f"Protocol: {p['work']}; {p['threads']} threads pinned; images/s = 64 / median step time "
        f"over {p['steps']} steps after {p['warmup']} warm-up steps, {p['rounds']} rounds with "
        f"the contenders in rotated order, each in a fresh process; ratios are medians of "
        f"per-round ratios; dense matmul peak {p['matmul_gflops']} GFLOP/s (2048x2048 float32, "
        f"same threads, best of the run); the goals compare float32 runs; the bf16-mixed column "
        f"is vaekit with train.precision=bf16-mixed (bfloat16 autocast, other arithmetic: "
        f"shown, not counted for the goals); {p['machine']}.")
    evaluation = report.get("evaluation")
    if evaluation:
        lines.append("")
        lines.append(
            f"Evaluation memory: `vaekit evaluate`'s computation (ELBO, IWAE bound with K="
            f"{evaluation['importance_samples']}, active units, KL per dimension) on the conv64 "
            f"VAE peaks at {evaluation['peak_rss_mb']:.0f} MB resident (the data streamed, the "
            f"importance samples chunked to a fixed budget, so the peak does not grow with the "
            f"number of examples; measured on {evaluation['examples']}).")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
