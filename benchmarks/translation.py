"""Question: do vaekit's translation models map real digits to a restyled domain they were never
shown paired with, keeping the digit -- and do they beat doing nothing and two VAEs that merely
share layers? And does the content/style model keep content when styles are swapped?

Protocol (printed and stored with the results):
- data: MNIST (``$VAEKIT_DATA/mnist``; the first 10,000 training images where only those are
  present). Domain A is the digits, domain B the same kind of digits restyled (``--styles``; see
  ``vaekit.apps.translation.domains``). Training is *unpaired*: the training images are shuffled
  (seed 0) and cut into two disjoint halves, A from one, restyled B from the other. Scoring uses
  the first ``--num-test`` MNIST *test* digits paired with their exact restyled versions.
- models, each trained ``--steps`` steps (Adam lr 1e-3, batch 64, seed 0, one thread):
  ``unit`` (Liu et al. 2017; shared deep layers, GAN weight ``--adversarial-weight``, cycle
  weight 1); ``coupled VAEs`` (the same networks and sharing with the GAN and cycle terms
  switched off: the plain-VAE baseline); ``identity`` (the input as its own translation).
  The content/style model (``munit``, Huang et al. 2018 with a variational style code) trains on
  MNIST -> digits painted in random colours (``random_colour``).
- metrics: label preservation = accuracy of a digit classifier trained on all restyled training
  digits with labels (vaekit's FeatureClassifier, ``--classifier-steps``) on the translations;
  pixel error = mean absolute per-pixel error against the ground-truth restyled digit;
  diversity = mean pairwise per-pixel L1 between 5 translations of each of 100 inputs (latent
  draws z ~ q(z|x) for UNIT, prior styles for munit). Style model: content preservation and
  pixel error of ``G_b(content(x), style(y))`` against x painted in y's colours, and the
  re-encoding error of drawn style codes. Qualitative: the style model given real photos
  (``$VAEKIT_DATA/sample_images``) as style images (``translation_photo_style.png``).
- goal: UNIT label preservation >= 0.95 on every style (anchor: UNIT reports 90.5% on SVHN ->
  MNIST, a harder pair); UNIT pixel error below identity and below the coupled VAEs.

Run:  python benchmarks/translation.py       (colour + the style model: ~13 min on the shared
                                            2-core machine, ~3 min more to train the two
                                            target-domain classifiers on first use)
      python benchmarks/translation.py --styles edges --no-style-model --append
                                           (adds the edge-map rows: ~12 min)
      python benchmarks/translation.py --quick   (a smoke run, a few minutes)
Writes benchmarks/results/translation.json and PNG grids benchmarks/results/translation_*.png.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from vaekit.apps.translation.domains import paint, random_colours
from vaekit.apps.translation.evaluation import (
    paired_test_data,
    style_report,
    target_classifier,
    unit_report,
)
from vaekit.apps.translation.style import DEMO_PHOTOS, photo_style_grid
from vaekit.data.paths import dataset_dir
from vaekit.errors import DataError
from vaekit.training import load_experiment, train
from vaekit.viz import save_image_grid

RESULTS = Path(__file__).parent / "results"
GOAL_LABELS = 0.95


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--styles", nargs="+", default=["colour"])
    p.add_argument("--steps", type=int, default=1200, help="training steps of each UNIT")
    p.add_argument("--baseline-steps", type=int, default=None, help="default: --steps")
    p.add_argument("--style-steps", type=int, default=800, help="steps of the style model")
    p.add_argument("--conv-channels", type=int, nargs=2, default=[16, 32])
    p.add_argument("--adversarial-weight", type=float, default=1.0)
    p.add_argument("--num-test", type=int, default=2000)
    p.add_argument("--classifier-steps", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-style-model", action="store_true")
    p.add_argument("--quick", action="store_true", help="a smoke run: few steps and test digits")
    p.add_argument("--append", action="store_true",
                   help="keep the rows of other styles (and the style model, with "
                        "--no-style-model) already in --out")
    p.add_argument("--out", default=str(RESULTS / "translation.json"))
    return p.parse_args()


def fit(args: argparse.Namespace, name: str, style: str, steps: int, *model: str):
    run_dir = RESULTS / "runs" / f"translation-{name}-{style}{'-quick' if args.quick else ''}"
    channels_b = ["model.channels_b=3"] if style in ("colour", "random_colour") else []
    config = load_experiment(None, [
        *model, *channels_b, f"model.conv_channels={list(args.conv_channels)}",
        "data.name=restyled_mnist", f"data.options={{style: {style}}}",
        "data.val_size=0", f"train.max_steps={steps}", "train.batch_size=64", "train.lr=1e-3",
        f"train.seed={args.seed}", f"train.threads={args.threads}",
        f"train.checkpoint_every={max(steps // 2, 1)}", "train.progress_bar=false",
        "train.loggers=[csv]", f"run_dir={run_dir}"])
    start = time.perf_counter()
    result = train(config, overwrite=True)
    return result.model.eval(), (time.perf_counter() - start) / 60


def main() -> None:
    args = parse_args()
    if args.quick:
        args.steps, args.style_steps, args.num_test, args.classifier_steps = 30, 30, 200, 100
    baseline_steps = args.baseline_steps or args.steps
    torch.set_num_threads(args.threads)
    began = time.perf_counter()
    rows, grids = [], {}
    unit_model = ["model.type=unit", f"model.adversarial_weight={args.adversarial_weight}"]
    for style in args.styles:
        classifier = target_classifier(style, args.classifier_steps, args.seed)
        x_a, x_b, _ = paired_test_data(style, 16)
        shown = [x_a.expand(-1, x_b.shape[1], -1, -1)]
        for label, settings, steps in (
                ("unit", unit_model, args.steps),
                ("coupled VAEs (no GAN, no cycle)",
                 ["model.type=unit", "model.adversarial_weight=0", "model.cycle_weight=0"],
                 baseline_steps)):
            tag = "unit" if label == "unit" else "vaes"
            model, minutes = fit(args, tag, style, steps, *settings)
            scores = unit_report(model, style, args.num_test, classifier)
            rows.append({"style": style, "model": label, "steps": steps,
                         "adversarial_weight": args.adversarial_weight if label == "unit"
                         else 0.0, "train_minutes": round(minutes, 1), **scores})
            shown.append(model.translate(x_a, "a"))
            print(rows[-1], flush=True)
        rows.append({"style": style, "model": "identity", "steps": 0, "train_minutes": 0.0,
                     "pixel_error": scores["identity_pixel_error"],
                     "label_preservation": scores["identity_label_preservation"],
                     "diversity": 0.0})
        rows.append({"style": style, "model": "ground truth (classifier ceiling)", "steps": 0,
                     "train_minutes": 0.0, "pixel_error": 0.0,
                     "label_preservation": scores["classifier_accuracy_on_ground_truth"],
                     "diversity": None})
        grid = RESULTS / f"translation_{style}{'_quick' if args.quick else ''}.png"
        save_image_grid(torch.cat([*shown, x_b]), grid, nrow=16)
        grids[style] = grid.name

    style_row = None
    if not args.no_style_model:
        classifier = target_classifier("random_colour", args.classifier_steps, args.seed)
        model, minutes = fit(args, "munit", "random_colour", args.style_steps,
                             "model.type=munit",
                             f"model.adversarial_weight={args.adversarial_weight}")
        style_row = {"model": "munit (content/style)", "steps": args.style_steps,
                     "adversarial_weight": args.adversarial_weight,
                     "train_minutes": round(minutes, 1),
                     **style_report(model, args.num_test, classifier, seed=args.seed)}
        print(style_row, flush=True)
        x_a, _, _ = paired_test_data("colour", 8)
        fg, bg = random_colours(8, 99)
        y_b = paint(torch.roll(x_a, 1, 0), fg, bg)
        swapped = model.swap_style(x_a, y_b, "b", "a")
        generator = torch.Generator().manual_seed(args.seed)
        drawn = [model.translate(x_a, "a", generator=generator) for _ in range(3)]
        grid = RESULTS / f"translation_style{'_quick' if args.quick else ''}.png"
        save_image_grid(torch.cat([x_a.expand(-1, 3, -1, -1), y_b, swapped, paint(x_a, fg, bg),
                                   *drawn]), grid, nrow=8)
        grids["style"] = grid.name
        try:
            photos = dataset_dir("sample_images", None)
        except DataError:
            photos = None
        if photos is not None:  # the qualitative demo: real photos as style images
            grid = RESULTS / f"translation_photo_style{'_quick' if args.quick else ''}.png"
            photo_style_grid(model, x_a, [photos / name for name in DEMO_PHOTOS], grid)
            grids["photo_style"] = grid.name

    previous = json.loads(Path(args.out).read_text()) if args.append and \
        Path(args.out).is_file() else None
    protocols = {style: protocol_of(args) for style in args.styles}
    if previous is not None:
        rows = [r for r in previous["rows"] if r["style"] not in args.styles] + rows
        protocols = {**previous.get("protocols", {}), **protocols}
        grids = {**previous.get("grids", {}), **grids}
        if style_row is None:
            style_row = previous.get("style_model")
    goals = {}
    for style in dict.fromkeys(r["style"] for r in rows):
        unit = next(r for r in rows if r["style"] == style and r["model"] == "unit")
        vaes = next(r for r in rows if r["style"] == style and r["model"].startswith("coupled"))
        goals[f"{style}: UNIT label preservation >= {GOAL_LABELS}"] = \
            unit["label_preservation"] >= GOAL_LABELS
        goals[f"{style}: UNIT pixel error below identity and coupled VAEs"] = \
            unit["pixel_error"] < min(unit["identity_pixel_error"], vaes["pixel_error"])
    report = {
        "question": "unpaired MNIST -> restyled MNIST translation scored against the known "
                    "ground truth; style swaps of a content/style model",
        "protocol": {**protocol_of(args), "wall_minutes": round(
            (time.perf_counter() - began) / 60
            + (previous["protocol"]["wall_minutes"] if previous is not None else 0.0), 1)},
        "protocols": protocols,
        "goals": goals, "goal_met": bool(goals) and all(goals.values()),
        "rows": rows, "style_model": style_row, "grids": grids,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(markdown_table(report))
    print(f"written: {args.out}")


def protocol_of(args: argparse.Namespace) -> dict:
    return {
        "data": "MNIST train (first 10,000 images where only those exist) split into two "
                "disjoint unpaired halves; first "
                f"{args.num_test} MNIST test digits paired with their restyled versions",
        "steps": args.steps, "baseline_steps": args.baseline_steps or args.steps,
        "style_steps": args.style_steps, "adversarial_weight": args.adversarial_weight,
        "conv_channels": list(args.conv_channels),
        "classifier_steps": args.classifier_steps, "seed": args.seed,
        "threads": args.threads, "quick": args.quick,
        "machine": f"{platform.machine()}, 2 CPU cores shared, {args.threads} thread(s), "
                   f"torch {torch.__version__}",
    }


def _fmt(value, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown_table(report: dict) -> str:
    p = report["protocol"]
    lines = ["| domain B | model | label preservation ↑ | pixel error ↓ | diversity | "
             "steps | train (min) |", "|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        model = r["model"]
        if model == "unit":
            model = f"unit (GAN weight {r.get('adversarial_weight', p['adversarial_weight']):g})"
        lines.append(f"| {r['style']} | {model} | {_fmt(r.get('label_preservation'))} | "
                     f"{_fmt(r['pixel_error'])} | {_fmt(r.get('diversity'))} | "
                     f"{r['steps'] or '—'} | {_fmt(r['train_minutes'], 1)} |")
    s = report.get("style_model")
    if s:
        lines += ["", f"| content/style model (random colours, {s['steps']} steps, GAN weight "
                      f"{s.get('adversarial_weight', p['adversarial_weight']):g}) | value |",
                  "|---|---|",
                  f"| label preservation, prior styles | {_fmt(s['label_preservation'])} |",
                  f"| diversity, prior styles | {_fmt(s['diversity'])} |",
                  f"| style swap: content preservation | "
                  f"{_fmt(s['swap_content_preservation'])} |",
                  f"| style swap: pixel error vs ground truth | {_fmt(s['swap_pixel_error'])} "
                  f"(other image's colours: {_fmt(s['swap_pixel_error_other_colours'])}) |",
                  f"| style recovery: re-encoding MSE (prior variance 1) | "
                  f"{_fmt(s['style_recovery_error'])} |"]
    goals = "; ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in report["goals"].items())
    lines.append("")
    lines.append(
        f"Protocol: {p['data']}; steps per row as listed (conv channels "
        f"{p['conv_channels']}), Adam lr 1e-3, batch 64, "
        f"seed {p['seed']}; target-domain digit classifiers {p['classifier_steps']} steps; "
        f"identity = the untranslated input; ground truth = the exact restyled test digits; "
        f"{p['machine']}; {p['wall_minutes']} wall-minutes"
        f"{' (QUICK smoke run)' if p['quick'] else ''}. Goals: {goals or 'none run'}.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
