"""Question: do vaekit's spectrogram VAEs model speech? A VAE and a digit-conditioned CVAE on the
Free Spoken Digit Dataset: reconstruction quality, whether digits and speakers survive, whether
conditional samples say the digit asked for, and how disentangled digit and speaker are.

Protocol (printed and stored with the results):
- data: FSDD (``$VAEKIT_DATA/fsdd``), official split: recordings 5-49 train (2,700), 0-4 test
  (300); peak-normalised to -1 dBFS, 0.8 s clips (zero-padded / centrally cropped), 64-band
  log-mel images (n_fft 256, hop 100 at 8 kHz -> 64x64, [-80, 0] dB -> [0, 1]);
- models: ``vae`` and ``cvae`` (Sohn et al. 2015, conditioned on the digit), both the conv64 net
  (Higgins et al. 2017), 16 latents, Gaussian likelihood with one learned variance (sigma-VAE,
  Rybkin et al. 2021: the images are continuous, and a shared variance calibrates the
  reconstruction/KL balance without a hand-tuned beta); Adam lr 1e-3, batch 64, the same seed,
  ``--steps`` steps on one thread, no validation (the test split is only used at the end);
- metrics on the 300 test recordings: reconstructions inverted to audio (NNLS mel -> linear,
  Griffin-Lim, 32 iterations, seeded) and compared with the original clips: multi-scale
  spectral distance (DDSP/RAVE, FFT 2048...64) and log-spectral distance (dB); digit and speaker
  accuracy of two small conv classifiers trained on the real training spectrograms, applied to
  the reconstructions (the cvae is given the true digit) and, for the cvae, to
  ``--samples-per-class`` samples of each digit; with digit and speaker as the factors, MIG
  (Chen et al. 2018, 20-bin histograms) of the posterior means of the 2,700 training
  recordings, and DCI disentanglement (Eastwood & Williams 2018) and SAP (Kumar et al. 2018)
  fit on the training codes and scored on the test codes. The
  "real audio" row scores the test images themselves (the pipeline's floor: mel + Griffin-Lim
  losses only, and the classifiers' test accuracy).
- goals: digit accuracy on reconstructions >= 0.9 (the vae; the cvae gets the digit as input);
  digit accuracy on digit-conditioned cvae samples >= 0.8.

Run:  python benchmarks/audio.py            (about 15 min on one idle CPU core: 5,000 steps,
                                             ~6 CPU-minutes, per model)
      python benchmarks/audio.py --quick    (a smoke run, about a minute)
Writes benchmarks/results/audio.json and WAV/PNG examples under
benchmarks/results/runs/audio-*/examples/; ``python benchmarks/update_readme.py`` puts the
table into the README.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from common import finished_run

import vaekit.models.cvae  # noqa: F401  (registers "cvae")
from vaekit.audio.evaluation import (
    evaluate_audio_model,
    pipeline_reference,
    train_audio_classifiers,
)
from vaekit.audio.examples import save_audio_examples
from vaekit.checkpoint import load_pretrained
from vaekit.registry import DATASETS
from vaekit.training import load_experiment, train

RESULTS = Path(__file__).parent / "results"
GOALS = {"digit_acc_recon": 0.9, "digit_acc_samples": 0.8}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=5000, help="training steps per model")
    p.add_argument("--classifier-steps", type=int, default=1500)
    p.add_argument("--samples-per-class", type=int, default=100)
    p.add_argument("--griffin-lim-iter", type=int, default=32)
    p.add_argument("--latent-dim", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", nargs="+", default=["vae", "cvae"], choices=["vae", "cvae"])
    p.add_argument("--quick", action="store_true",
                   help="60 steps, 100 classifier steps, 10 samples per digit, 8 GL iterations")
    p.add_argument("--reuse", action="store_true",
                   help="evaluate finished runs of the same protocol instead of retraining")
    p.add_argument("--out", default=str(RESULTS / "audio.json"))
    return p.parse_args()


def model_settings(name: str, latent_dim: int) -> list[str]:
    common = ["model.network=conv64", f"model.latent_dim={latent_dim}",
              "model.likelihood=gaussian_learned",
              "model.likelihood_options={variance: shared}"]
    if name == "cvae":
        return ["model.type=cvae", "model.num_classes=10", *common]
    return ["model.type=vae", *common]




def main() -> None:
    args = parse_args()
    if args.quick:
        args.steps, args.classifier_steps = 60, 100
        args.samples_per_class, args.griffin_lim_iter = 10, 8
    torch.set_num_threads(args.threads)
    tag = "quick" if args.quick else "full"
    train_set = DATASETS.build("fsdd", split="train")
    test_set = DATASETS.build("fsdd", split="test")

    start = time.perf_counter()
    classifiers = train_audio_classifiers(train_set, steps=args.classifier_steps, seed=args.seed)
    reference = pipeline_reference(test_set, classifiers, args.griffin_lim_iter, args.seed)
    rows = [{"model": "real audio (reference)", **reference, "image_l1": 0.0,
             **dict.fromkeys(["digit_acc_samples", "mig", "mig_digit", "mig_speaker",
                              "dci_disentanglement", "dci_completeness", "dci_informativeness",
                              "sap", "train_minutes", "train_cpu_minutes"])}]
    print(f"classifiers + reference in {time.perf_counter() - start:.0f} s: {rows[0]}",
          flush=True)

    for name in args.models:
        run_dir = RESULTS / "runs" / f"audio-{name}-{tag}"
        config = load_experiment(None, [
            *model_settings(name, args.latent_dim), "data.name=fsdd", "data.val_size=0",
            f"train.max_steps={args.steps}", "train.batch_size=64", "train.lr=1e-3",
            f"train.seed={args.seed}", f"train.threads={args.threads}",
            f"train.checkpoint_every={max(args.steps // 4, 1)}", "train.progress_bar=false",
            "train.loggers=[csv]", f"run_dir={run_dir}",
        ])
        if args.reuse and finished_run(run_dir, args.steps):
            model = load_pretrained(run_dir / "model")
            meta = json.loads((run_dir / "run.json").read_text())
            seconds, cpu_seconds = meta["train_seconds"], None
        else:
            cpu_start = time.process_time()
            result = train(config, overwrite=True)
            model, seconds = result.model, result.seconds
            cpu_seconds = time.process_time() - cpu_start
        model.eval()
        start = time.perf_counter()
        scores = evaluate_audio_model(model, test_set, classifiers, mig_set=train_set,
                                      samples_per_class=args.samples_per_class,
                                      griffin_lim_iter=args.griffin_lim_iter, seed=args.seed)
        save_audio_examples(model, test_set, run_dir / "examples", seed=args.seed)
        rows.append({
            "model": name if name == "vae" else "cvae (digit)", **scores,
            "train_minutes": round(seconds / 60, 1),
            "train_cpu_minutes": None if cpu_seconds is None else round(cpu_seconds / 60, 1),
            "eval_minutes": round((time.perf_counter() - start) / 60, 1),
        })
        print(rows[-1], flush=True)

    by_model = {r["model"]: r for r in rows}
    checks = {}
    if "vae" in by_model:
        checks["vae digit accuracy on reconstructions >= 0.9"] = \
            by_model["vae"]["digit_acc_recon"] >= GOALS["digit_acc_recon"]
    if "cvae (digit)" in by_model:
        checks["cvae digit accuracy on digit-conditioned samples >= 0.8"] = \
            by_model["cvae (digit)"]["digit_acc_samples"] >= GOALS["digit_acc_samples"]
    report = {
        "question": "spectrogram VAE and digit-conditioned CVAE on FSDD: spectral distances, "
                    "digit/speaker accuracy of reconstructions and samples, MIG",
        "protocol": {
            "data": "FSDD official split (train 2,700 / test 300), 0.8 s clips, peak -1 dBFS, "
                    "64x64 log-mel [-80, 0] dB",
            "nets": f"conv64, {args.latent_dim} latents, Gaussian with a shared learned "
                    "variance; Adam lr 1e-3, batch 64",
            "steps": args.steps, "classifier_steps": args.classifier_steps,
            "samples_per_class": args.samples_per_class,
            "griffin_lim_iter": args.griffin_lim_iter, "seed": args.seed,
            "threads": args.threads, "quick": args.quick,
            "machine": f"{platform.machine()}, {args.threads} thread(s), "
                       f"torch {torch.__version__}",
        },
        "goals": checks, "goal_met": bool(checks) and all(checks.values()), "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(markdown_table(report))
    print(f"written: {args.out}")


def _fmt(value, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown_table(report: dict) -> str:
    lines = ["| model | MSD ↓ | LSD (dB) ↓ | digit acc. (recon) | speaker acc. (recon) "
             "| digit acc. (cond. samples) | MIG | MIG digit | MIG speaker | DCI D | SAP "
             "| train (min) |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        lines.append(
            f"| {r['model']} | {_fmt(r['msd'])} | {_fmt(r['lsd_db'], 2)} | "
            f"{_fmt(r['digit_acc_recon'])} | {_fmt(r['speaker_acc_recon'])} | "
            f"{_fmt(r['digit_acc_samples'])} | {_fmt(r['mig'])} | {_fmt(r['mig_digit'])} | "
            f"{_fmt(r['mig_speaker'])} | {_fmt(r['dci_disentanglement'])} | {_fmt(r['sap'])} | "
            f"{_fmt(r['train_minutes'], 1)} |")
    p = report["protocol"]
    goals = "; ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in report["goals"].items())
    lines.append("")
    lines.append(
        f"Protocol: {p['data']}; {p['nets']}; {p['steps']} steps, seed {p['seed']}; test "
        f"reconstructions inverted with Griffin-Lim ({p['griffin_lim_iter']} iterations); "
        f"classifiers ({p['classifier_steps']} steps) trained on the real training "
        f"spectrograms; {p['samples_per_class']} cvae samples per digit; MIG on the training "
        f"codes, DCI and SAP fit on the training codes and scored on the test codes; "
        f"{p['machine']}{' (QUICK smoke run)' if p['quick'] else ''}. "
        f"The cvae reconstructs with the true digit as input. Goals: {goals or 'none run'}.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
