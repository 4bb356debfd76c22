"""Question: do vaekit's text-conditional models draw what a caption says, also for attribute
combinations they never saw? A text-conditional VAE and a VQ-VAE with a caption-conditioned
transformer prior on captioned dSprites.

Protocol (printed and stored with the results):
- data: procedural dSprites (64x64, binary) with generated captions naming shape (3), size
  class (3) and horizontal / vertical position class (3 each), varied templates and synonyms
  (``vaekit.apps.text_to_image.captions``); 8 of the 81 attribute combinations (seeded) are
  held out: no training image has them. ``--train-size`` captioned training images.
- models: ``text_cvae`` (Sohn et al. 2015; conv64 net, 10 latents, Bernoulli likelihood,
  bidirectional GRU caption encoder, learned prior p(z|text)) and ``text_vq_vae`` (VQ-VAE,
  8x8 grid of 64 codes, + a 2-layer, width-64 caption-conditioned causal transformer prior, DALL-E
  style; the autoencoder freezes at ``--vq-freeze-step`` so the prior then fits fixed codes).
  Both through ``vaekit.training.train`` (Adam, batch 64, seed 0, one thread) with a
  wall-clock budget each.
- evaluation: an attribute classifier (one conv net, four heads) trained on fresh real images
  of every combination, held-out ones included; its accuracy on real images is the ceiling
  row. Each model generates one image per caption for ``--seen-per-combo`` fresh captions
  (random templates and synonyms, not the training sentences) of each of the 73 seen
  combinations and ``--heldout-per-combo`` captions of each held-out combination; the
  classifier scores every attribute. Diversity: mean pairwise absolute pixel difference of 32
  samples for one caption, next to 32 real images with its attributes.
- goals: >= 0.9 accuracy per attribute on seen combinations, >= 0.8 on held-out ones, for
  each model.

Run:  python benchmarks/text_to_image.py          (about 27 min on a loaded 2-core machine: the
                                                  classifier ~5, each model 10, the real-caption
                                                  demo ~1; the trained classifier is stored under
                                                  results/runs/ and reused by later runs)
      python benchmarks/text_to_image.py --quick  (a smoke run, a few minutes)
Writes benchmarks/results/text_to_image.json and PNG grids benchmarks/results/text_to_image_*.png;
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

from vaekit.apps.text_to_image.captions import CaptionedDataset, caption_set
from vaekit.apps.text_to_image.evaluation import (
    attribute_accuracy,
    load_or_train_attribute_classifier,
    model_generator,
    real_image_accuracy,
    sample_diversity,
)
from vaekit.training import load_experiment, train
from vaekit.viz.grid import save_image_grid

RESULTS = Path(__file__).parent / "results"
GOALS = {"seen": 0.9, "heldout": 0.8}
ATTRIBUTES = ("shape", "size", "horizontal", "vertical")
GRID_PROMPTS = ("a large ellipse at the bottom", "a small heart near the top left",
                "big square, lower-right corner", "a tiny oval on the left side")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cvae-minutes", type=float, default=10.0)
    p.add_argument("--vq-minutes", type=float, default=10.0)
    p.add_argument("--vq-freeze-step", type=int, default=250)
    p.add_argument("--classifier-steps", type=int, default=800)
    p.add_argument("--train-size", type=int, default=100_000)
    p.add_argument("--demo-steps", type=int, default=300, help="real-caption demo steps")
    p.add_argument("--seen-per-combo", type=int, default=4)
    p.add_argument("--heldout-per-combo", type=int, default=25)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", nargs="+", default=["text_cvae", "text_vq_vae"],
                   choices=["text_cvae", "text_vq_vae"])
    p.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run")
    p.add_argument("--out", default=str(RESULTS / "text_to_image.json"))
    return p.parse_args()


def model_settings(name: str, freeze_step: int) -> list[str]:
    if name == "text_cvae":
        return ["model.type=text_cvae", "model.network=conv64", "model.latent_dim=10",
                "model.likelihood=bernoulli", "train.lr=1e-3"]
    return ["model.type=text_vq_vae", "model.num_codes=64", "model.code_dim=16",
            "model.downsample=3", "model.hidden_channels=16", "model.residual_blocks=1",
            "model.residual_hidden=16", "model.prior_layers=2", "model.prior_width=64",
            f"model.freeze_autoencoder_step={freeze_step}", "train.lr=1e-3"]


def main() -> None:
    args = parse_args()
    if args.quick:
        args.cvae_minutes = args.vq_minutes = 0.5
        args.classifier_steps, args.seen_per_combo, args.heldout_per_combo = 60, 1, 2
        args.vq_freeze_step, args.train_size, args.demo_steps = 40, 5000, 5
    torch.set_num_threads(args.threads)
    tag = "quick" if args.quick else "full"
    captions = caption_set("dsprites")
    heldout_set = CaptionedDataset(captions, size=1, split="heldout")
    heldout = heldout_set.heldout
    seen = [c for c in captions.combinations() if c not in set(heldout)]
    wall = time.perf_counter()

    start = time.perf_counter()
    classifier = load_or_train_attribute_classifier(
        captions, RESULTS / "runs" / f"text_to_image-classifier-{tag}.safetensors",
        steps=args.classifier_steps, seed=args.seed)
    ceiling = real_image_accuracy(classifier, captions, n=2000, seed=args.seed + 1)
    rows = [{"model": "real images (classifier ceiling)", "seen": ceiling, "heldout": None,
             "diversity": None, "train_minutes": None, "steps": None}]
    print(f"attribute classifier in {time.perf_counter() - start:.0f} s; real-image "
          f"accuracy {ceiling}", flush=True)

    grids = {}
    for name in args.models:
        minutes = args.cvae_minutes if name == "text_cvae" else args.vq_minutes
        run_dir = RESULTS / "runs" / f"text_to_image-{name}-{tag}"
        config = load_experiment(None, [
            *model_settings(name, args.vq_freeze_step), "data.name=captioned_dsprites",
            f"data.options={{size: {args.train_size}, seed: {args.seed}}}",
            "data.val_size=0", "train.max_steps=1000000", f"train.max_minutes={minutes}",
            "train.batch_size=64", f"train.seed={args.seed}", f"train.threads={args.threads}",
            "train.checkpoint_every=100000", "train.progress_bar=false", "train.loggers=[csv]",
            f"run_dir={run_dir}",
        ])
        result = train(config, overwrite=True)
        model = result.model.eval()
        steps = json.loads((run_dir / "run.json").read_text()).get("steps")
        print(f"{name}: trained {steps} steps in {result.seconds / 60:.1f} min", flush=True)
        generate = model_generator(model)
        start = time.perf_counter()
        with torch.no_grad():
            seen_acc = attribute_accuracy(generate, classifier, captions, seen,
                                          args.seen_per_combo, seed=args.seed)
            held_acc = attribute_accuracy(generate, classifier, captions, heldout,
                                          args.heldout_per_combo, seed=args.seed)
            diversity = sample_diversity(generate, captions, heldout[0], n=32, seed=args.seed)
            prompts = [p for p in GRID_PROMPTS for _ in range(8)]
            held_prompts = [captions.caption(c, np.random.default_rng(i))
                            for i, c in enumerate(heldout) for _ in range(8)]
            images = generate(prompts + held_prompts, torch.Generator().manual_seed(args.seed))
        grid_path = RESULTS / f"text_to_image_{name}{'_quick' if args.quick else ''}.png"
        save_image_grid(images, grid_path, nrow=8)
        grids[name] = {"png": grid_path.name, "rows": prompts[::8] + held_prompts[::8]}
        rows.append({"model": name, "seen": seen_acc, "heldout": held_acc,
                     "diversity": diversity, "train_minutes": round(result.seconds / 60, 1),
                     "steps": steps,
                     "eval_minutes": round((time.perf_counter() - start) / 60, 1)})
        print(json.dumps(rows[-1]), flush=True)

    demo = real_caption_demo(args.demo_steps, args.seed, args.quick)
    print(f"real caption demo: {demo}", flush=True)

    checks = {}
    for r in rows[1:]:
        checks[f"{r['model']} seen >= {GOALS['seen']} per attribute"] = all(
            r["seen"][a] >= GOALS["seen"] for a in ATTRIBUTES)
        checks[f"{r['model']} held-out >= {GOALS['heldout']} per attribute"] = all(
            r["heldout"][a] >= GOALS["heldout"] for a in ATTRIBUTES)
    report = {
        "question": "text-to-image on captioned dSprites: per-attribute accuracy of generated "
                    "images on seen and held-out attribute combinations",
        "protocol": {
            "data": f"procedural dSprites 64x64 with generated captions, {args.train_size} "
                    f"training images of {len(seen)} seen combinations; {len(heldout)} "
                    "held-out combinations: " + "; ".join(captions.describe(c) for c in heldout),
            "models": {name: model_settings(name, args.vq_freeze_step) for name in args.models},
            "budget_minutes": {"text_cvae": args.cvae_minutes, "text_vq_vae": args.vq_minutes},
            "classifier_steps": args.classifier_steps, "seen_per_combo": args.seen_per_combo,
            "heldout_per_combo": args.heldout_per_combo, "seed": args.seed,
            "threads": args.threads, "quick": args.quick,
            "machine": f"{platform.machine()}, {args.threads} thread(s) on 2 CPU cores shared, "
                       f"torch {torch.__version__}",
            "wall_minutes": round((time.perf_counter() - wall) / 60, 1),
        },
        "goals": checks, "goal_met": bool(checks) and all(checks.values()), "rows": rows,
        "grids": grids, "real_caption_demo": demo,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(markdown_table(report))
    print(f"written: {args.out}")


def real_caption_demo(steps: int, seed: int, quick: bool) -> dict:
    """Fit a text_cvae to the 29 real (image, caption) pairs of sample_images (64x64 grey) and
    check, for each caption, whether the mean of 8 samples is nearer its own picture than any
    other (memorisation of 21 pictures: a test of the plumbing on real language, not of
    generalisation)."""
    from vaekit.apps.text_to_image.real_captions import load_caption_pairs
    from vaekit.apps.text_to_image.tokenizer import Tokenizer
    from vaekit.models import LossContext, build_model

    images, texts, files = load_caption_pairs()
    vocab = Tokenizer.from_texts(texts).words
    torch.manual_seed(seed)
    model = build_model({"type": "text_cvae", "data_shape": [1, 64, 64], "network": "conv64",
                         "latent_dim": 8, "vocab": vocab, "max_tokens": 16,
                         "captions": "sample_images"})
    tokens = model.tokenizer.encode_batch(texts)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(steps):
        out = model.loss((images, tokens), LossContext())
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    samples = model.sample(8 * len(texts), generator=generator,
                           text=[t for t in texts for _ in range(8)])
    means = samples.reshape(len(texts), 8, -1).mean(1)
    pictures = images.flatten(1)
    nearest = torch.cdist(means, pictures).argmin(1)
    own = [files[int(j)] == files[i] for i, j in enumerate(nearest)]
    rows = torch.cat([images[:, None], samples.reshape(len(texts), 8, 1, 64, 64)[:, :5]], 1)
    path = RESULTS / f"text_to_image_real_captions{'_quick' if quick else ''}.png"
    save_image_grid(rows[:12].flatten(0, 1), path, nrow=6)
    return {"pairs": len(texts), "pictures": len(set(files)), "steps": steps,
            "own_picture_nearest": int(sum(own)),
            "final_loss": round(float(out["loss"].detach()), 1),
            "minutes": round((time.perf_counter() - start) / 60, 1), "png": path.name,
            "grid_captions": texts[:12]}


def _fmt(value, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown_table(report: dict) -> str:
    lines = ["| model | combos | shape | size | horizontal | vertical | all four | diversity "
             "(real) | steps (min) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        for split in ("seen", "heldout"):
            acc = r[split]
            if acc is None:
                continue
            div = r["diversity"]
            div_text = (f"{div['samples']:.3f} ({div['real']:.3f})"
                        if div is not None and split == "seen" else "")
            train = (f"{r['steps']} ({r['train_minutes']})" if r["steps"] is not None
                     and split == "seen" else "")
            label = "all (real)" if r["steps"] is None else split
            lines.append(f"| {r['model']} | {label} | " + " | ".join(
                _fmt(acc[a]) for a in (*ATTRIBUTES, "all")) + f" | {div_text} | {train} |")
    p = report["protocol"]
    goals = "; ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in report["goals"].items())
    lines.append("")
    lines.append(
        f"Protocol: {p['data']}. Training budget (wall minutes): {p['budget_minutes']}, batch "
        f"64, seed {p['seed']}, through vaekit.training.train. Attribute classifier: "
        f"{p['classifier_steps']} steps on real images of every combination. Generated: one "
        f"image per fresh caption, {p['seen_per_combo']} captions per seen combination, "
        f"{p['heldout_per_combo']} per held-out one. Diversity: mean pairwise |pixel| "
        f"difference of 32 samples for one held-out caption (real images with its attributes "
        f"in brackets). {p['machine']}; total {p['wall_minutes']} min"
        f"{' (QUICK smoke run)' if p['quick'] else ''}. Goals (>= 0.9 per attribute seen, "
        f">= 0.8 held-out): {goals or 'none run'}.")
    demo = report.get("real_caption_demo")
    if demo:
        lines.append("")
        lines.append(
            f"Real captions (qualitative): a text_cvae fitted for {demo['steps']} steps to the "
            f"{demo['pairs']} captions of the {demo['pictures']} sample_images pictures (64x64 "
            f"grey) brings back the captioned picture (mean of 8 samples nearest to it) for "
            f"{demo['own_picture_nearest']} of {demo['pairs']} captions: memorisation, a check "
            f"of the path on real language, not generalisation.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
