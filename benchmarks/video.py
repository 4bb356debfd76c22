"""Video prediction on Stochastic Moving MNIST: SVG-LP against the deterministic baseline.

Both models (vaekit.apps.video.svg, same networks; the baseline has no latents) are trained with
vaekit's engine (`vaekit.training.train`) on SM-MNIST clips generated from the real MNIST
training digits, then scored on fixed clips made from the MNIST *test* digits: 5 context frames,
10 predicted, per-step SSIM and PSNR of the expected best of N in {1, 10, 100} sampled futures
(Denton & Fergus 2018, section 4; see vaekit.apps.video.evaluation).

    python benchmarks/video.py            (1000 steps per model: about 20 minutes on 1 thread
                                           of a loaded 2-core box, 6-7 of them scoring 100 x 100
                                           sampled futures)
    python benchmarks/video.py --quick    (a smoke run, a few minutes)

Writes benchmarks/results/video.json, video_curves.png (per-step SSIM/PSNR) and
video_samples.png (context + sampled futures beside the truth); the GIF goes to
benchmarks/results/runs/video-svg_lp-*/prediction.gif.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from vaekit.apps.video.evaluation import evaluate_predictions  # noqa: E402
from vaekit.apps.video.viz import save_prediction_gif, save_prediction_strip  # noqa: E402
from vaekit.registry import DATASETS  # noqa: E402
from vaekit.training import load_experiment, train  # noqa: E402

RESULTS = Path(__file__).parent / "results"
CONTEXT, HORIZON = 5, 10
MODELS = {"svg_lp": "learned", "deterministic": "deterministic"}
LABELS = {"svg_lp": "SVG-LP", "deterministic": "deterministic (z = 0)"}
NETS = {"channels": [8, 16, 32, 64], "g_dim": 64, "z_dim": 10, "predictor_hidden": 128,
        "predictor_layers": 2, "posterior_hidden": 64, "prior_hidden": 64}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=1000, help="training steps per model")
    p.add_argument("--minutes", type=float, default=None,
                   help="optional wall-time cap per model (the step counts may then differ)")
    p.add_argument("--num-digits", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--test-clips", type=int, default=100)
    p.add_argument("--samples", type=int, default=100, help="futures drawn per test clip")
    p.add_argument("--beta", type=float, default=1.0)
    p.add_argument("--free-bits", type=float, default=0.1,
                   help="nats per latent dim and step (train.free_bits)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="30 steps per model, 8 clips, 10 samples")
    p.add_argument("--out", default=str(RESULTS / "video.json"))
    return p.parse_args()


def train_model(name: str, args: argparse.Namespace, tag: str):
    run_dir = RESULTS / "runs" / f"video-{name}-{tag}"
    nets = {f"model.{k}": v for k, v in NETS.items()}
    config = load_experiment(None, {
        "model.type": "svg", "model.prior": MODELS[name], "model.beta": args.beta,
        "model.context": CONTEXT, **nets,
        "data.name": "moving_mnist", "data.val_size": 0,
        "data.options": {"num_digits": args.num_digits, "seq_len": CONTEXT + HORIZON,
                         "seed": args.seed},
        "train.max_steps": args.steps, "train.max_minutes": args.minutes,
        "train.batch_size": args.batch_size, "train.lr": 2e-3, "train.seed": args.seed,
        "train.free_bits": args.free_bits,
        "train.threads": args.threads, "train.checkpoint_every": 1000,
        "train.progress_bar": False, "train.loggers": ["csv"], "train.log_every": 50,
        "run_dir": str(run_dir),
    })
    result = train(config, overwrite=True)
    return result, run_dir


def plot_curves(report: dict, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    steps = list(range(CONTEXT + 1, CONTEXT + HORIZON + 1))
    for ax, metric in zip(axes, ("ssim", "psnr")):
        for row in report["rows"]:
            curves = row["scores"][metric]
            for n, values in curves.items():
                label = (f"{LABELS[row['model']]}, best of {n}" if row["model"] == "svg_lp"
                         else LABELS[row["model"]])
                style = "--" if row["model"] == "deterministic" else "-"
                ax.plot(steps, values, style, marker="o", ms=3, label=label)
        ax.set_xlabel("frame (1-5 are context)")
        ax.set_ylabel(metric.upper() + (" (dB)" if metric == "psnr" else ""))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("SM-MNIST test clips: per-step quality of predicted frames")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    args = parse_args()
    if args.quick:
        args.steps, args.test_clips, args.samples = 30, 8, 10
    torch.set_num_threads(args.threads)
    tag = "quick" if args.quick else "full"
    ns = [n for n in (1, 10, 100) if n <= args.samples]
    test_set = DATASETS.build("moving_mnist", split="test", num_sequences=args.test_clips,
                              num_digits=args.num_digits, seq_len=CONTEXT + HORIZON,
                              seed=args.seed)
    clips = torch.stack([test_set[i] for i in range(len(test_set))])
    rows, models = [], {}
    for name in MODELS:
        start_cpu = time.process_time()
        result, run_dir = train_model(name, args, tag)
        cpu = time.process_time() - start_cpu
        model = result.model.eval()
        models[name] = (model, run_dir)
        start = time.perf_counter()
        scores = evaluate_predictions(model, clips, context=CONTEXT, horizon=HORIZON,
                                      num_samples=args.samples, ns=ns, seed=args.seed)
        rows.append({"model": name, "steps": result.steps,
                     "train_minutes": round(result.seconds / 60, 1),
                     "train_cpu_minutes": round(cpu / 60, 1),
                     "final_train_loss": result.metrics.get("train/loss"),
                     "final_train_kl": result.metrics.get("train/kl"),
                     "eval_minutes": round((time.perf_counter() - start) / 60, 1),
                     "scores": scores})
        print({k: v for k, v in rows[-1].items() if k != "scores"},
              {k: scores[k] for k in ("ssim_mean", "psnr_mean")}, flush=True)

    svg, det = rows[0]["scores"], rows[1]["scores"]
    ssim_by_n = [svg["ssim_mean"][str(n)] for n in ns]
    top = str(ns[-1])
    checks = {
        f"SVG-LP best-of-N SSIM rises with N ({', '.join(map(str, ns))})":
            all(a < b for a, b in zip(ssim_by_n, ssim_by_n[1:])),
        f"SVG-LP best-of-{top} SSIM beats the deterministic baseline":
            svg["ssim_mean"][top] > det["ssim_mean"]["1"],
        f"SVG-LP best-of-{top} PSNR beats the deterministic baseline":
            svg["psnr_mean"][top] > det["psnr_mean"]["1"],
    }
    report = {
        "question": "SVG-LP vs deterministic baseline on SM-MNIST: per-step SSIM/PSNR of "
                    "best-of-N sampled futures (5 context frames, 10 predicted)",
        "protocol": {
            "data": f"SM-MNIST 64x64, {args.num_digits} digit(s) of 32 px, speed <= 4 px/frame,"
                    " random bounces; training clips from the first 10,000 MNIST training "
                    f"digits (generated on the fly), {args.test_clips} fixed test clips from "
                    f"the MNIST test digits (seed {args.seed})",
            "nets": f"{NETS}; Bernoulli likelihood, beta {args.beta}, free bits "
                    f"{args.free_bits} nats/dim/step; Adam lr 2e-3, batch {args.batch_size}, "
                    "15-frame clips, teacher forcing",
            "budget": f"{args.steps} training steps per model" + (
                f" (capped at {args.minutes} wall minutes)" if args.minutes else ""),
            "samples": args.samples, "ns": ns, "seed": args.seed, "threads": args.threads,
            "quick": args.quick,
            "machine": f"{platform.machine()}, 2 CPU cores shared, {args.threads} thread(s), "
                       f"torch {torch.__version__}",
        },
        "goals": checks, "goal_met": all(checks.values()), "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = "" if not args.quick else "_quick"
    plot_curves(report, out.parent / f"video_curves{suffix}.png")
    model, run_dir = models["svg_lp"]
    det_model = models["deterministic"][0]
    with torch.no_grad():
        first = clips[:1]
        generator = torch.Generator().manual_seed(args.seed)
        samples = model.predict(first[:, :CONTEXT], HORIZON, num_samples=5,
                                generator=generator)[:, 0]
        det_pred = det_model.predict(first[:, :CONTEXT], HORIZON)[:, 0]
    shown = torch.cat([det_pred, samples])  # row 1: deterministic, rows 2-6: SVG-LP samples
    save_prediction_strip(first[0, :CONTEXT], first[0, CONTEXT:], shown,
                          out.parent / f"video_samples{suffix}.png")
    save_prediction_gif(first[0, :CONTEXT], first[0, CONTEXT:], shown,
                        run_dir / "prediction.gif")
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown_table(report))


def _fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown_table(report: dict) -> str:
    ns = report["protocol"]["ns"]
    head = " | ".join(f"SSIM best of {n}" for n in ns)
    phead = " | ".join(f"PSNR best of {n}" for n in ns)
    lines = [f"| model | {head} | {phead} | steps | train (min) |",
             "|---|" + "---|" * (2 * len(ns) + 2)]
    for r in report["rows"]:
        s = r["scores"]
        cells = [s["ssim_mean"].get(str(n)) for n in ns] + [s["psnr_mean"].get(str(n))
                                                            for n in ns]
        if r["model"] == "deterministic":  # one future: every N is the same
            cells = [s["ssim_mean"]["1"]] * len(ns) + [s["psnr_mean"]["1"]] * len(ns)
        text = " | ".join(_fmt(c, 3 if i < len(ns) else 2) for i, c in enumerate(cells))
        lines.append(f"| {LABELS[r['model']]} | {text} | {r['steps']} | "
                     f"{_fmt(r['train_minutes'], 1)} |")
    p = report["protocol"]
    goals = "; ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in report["goals"].items())
    lines.append("")
    lines.append(
        f"Protocol: {p['data']}; 5 context frames, 10 predicted, scores averaged over the 10 "
        f"predicted frames and the test clips; best of N = expected best (by mean SSIM, resp. "
        f"PSNR, over the 10 frames) of N of {p['samples']} sampled futures; nets {p['nets']}; "
        f"{p['budget']}, seed {p['seed']}; {p['machine']}"
        f"{' (QUICK smoke run)' if p['quick'] else ''}. Paper anchor (SVG-LP, 2-digit SM-MNIST,"
        f" full-size nets, GPU training): best-of-100 SSIM ~0.71, PSNR ~14.5 dB; this CPU run "
        f"is not comparable to it. Goals: {goals}.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
