"""The ``vaekit`` command line: train, evaluate, sample, reconstruct, traverse, serve, report,
list, demo.

Every config key can be overridden with a dotted flag (``--model.beta=4`` or
``--model.beta 4``). Errors in user input print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from vaekit.errors import ConfigError, ShapeError, VaekitError


def split_overrides(extra: list[str]) -> list[str]:
    """Turn leftover ``--a.b=1`` / ``--a.b 1`` / ``a.b=1`` arguments into ``a.b=1`` strings."""
    overrides, i = [], 0
    while i < len(extra):
        arg = extra[i]
        key = arg[2:] if arg.startswith("--") else arg
        if "=" in key:
            overrides.append(key)
        elif arg.startswith("--") and "." in key and i + 1 < len(extra):
            overrides.append(f"{key}={extra[i + 1]}")
            i += 1
        else:
            raise ConfigError(
                f"unrecognised argument '{arg}': config overrides look like --model.beta=4 "
                "(see vaekit train --help)"
            )
        i += 1
    return overrides


def quiet_lightning(args: argparse.Namespace) -> None:
    """Silence Lightning's start-up chatter (accelerators, tips) unless ``--verbose``.
    Lightning sets its logger's level when imported, so import it first."""
    if not getattr(args, "verbose", False):
        import lightning.pytorch  # noqa: F401

        logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)


def add_train_arguments(parser: argparse.ArgumentParser, run_dir_help: str) -> None:
    """The options of ``vaekit train`` and of the applications' ``... train`` commands."""
    parser.add_argument("--config", "-c", help="experiment YAML/JSON file (used as it is, "
                        "without an application's defaults)")
    parser.add_argument("--run-dir", help=run_dir_help)
    parser.add_argument("--resume", metavar="RUN_DIR",
                        help="continue a run from its last checkpoint")
    parser.add_argument("--overwrite", action="store_true",
                        help="start over in an existing run dir")


def train_with_defaults(args: argparse.Namespace, extra: list[str],
                        defaults: list[str] | tuple[str, ...]) -> int:
    """``vaekit train`` with an application's ``section.key=value`` defaults in front of the
    user's overrides (which therefore win); a ``--config`` file or a ``--resume``d run's saved
    config is used as it is."""
    if args.config is None and not args.resume:
        extra = [f"--{setting}" for setting in defaults] + list(extra)
    return cmd_train(args, extra)


# --------------------------------------------------------------------------------- commands
def cmd_train(args: argparse.Namespace, extra: list[str]) -> int:
    from vaekit.training import load_experiment, train
    from vaekit.training.run import MODEL_DIR

    quiet_lightning(args)
    overrides = split_overrides(extra)
    if args.run_dir:
        overrides.append(f"run_dir={args.run_dir}")
    if args.resume and args.config is None:
        saved = Path(args.resume) / "config.yaml"
        config = load_experiment(saved, [*overrides, f"run_dir={args.resume}"])
    else:
        config = load_experiment(args.config, overrides)
    result = train(config, resume=bool(args.resume), overwrite=args.overwrite)
    summary = {k: round(v, 4) for k, v in result.metrics.items() if k.startswith("val/")}
    print(f"trained {result.steps} steps in {result.seconds:.1f} s; {summary}")
    print(f"model: {Path(config.run_dir) / MODEL_DIR}")
    return 0


def _load_run(path: str):
    """(model, experiment config or None) from a run directory or a model directory."""
    from vaekit.checkpoint import load_pretrained
    from vaekit.training import load_experiment
    from vaekit.training.run import MODEL_DIR

    path = Path(path)
    model_dir = path / MODEL_DIR if (path / MODEL_DIR).is_dir() else path
    model = load_pretrained(model_dir)
    config_file = path / "config.yaml"
    config = load_experiment(config_file) if config_file.is_file() else None
    return model, config


def _eval_data(config, args: argparse.Namespace, extra: list[str]):
    from vaekit.config import apply_overrides, from_dict, to_dict
    from vaekit.training.config import DataConfig
    from vaekit.training.data import build_dataset, train_val_datasets

    if config is None and not extra:
        raise ConfigError("no data: this is a bare model directory; pass --data.name=NAME")
    base = to_dict(config.data) if config is not None else {}
    data_cfg = from_dict(DataConfig, apply_overrides({"data": base}, split_overrides(extra))
                         ["data"], "data")
    if getattr(args, "split", None):
        return build_dataset(data_cfg, args.split)
    seed = config.train.seed if config is not None else 0
    train_set, val_set = train_val_datasets(data_cfg, seed)
    return val_set if val_set is not None else train_set


def cmd_disentanglement(args: argparse.Namespace, extra: list[str], model, config) -> int:
    from vaekit.config import apply_overrides, from_dict, to_dict
    from vaekit.evaluation.disentanglement.report import (
        SUITE,
        disentanglement_report,
        headline_scores,
    )
    from vaekit.training.config import DataConfig
    from vaekit.training.data import build_dataset

    base = to_dict(config.data) if config is not None else {}
    data_cfg = from_dict(DataConfig, apply_overrides({"data": base}, split_overrides(extra))
                         ["data"], "data")
    dataset = build_dataset(data_cfg)
    out = Path(args.report_dir or Path(args.path) / "disentanglement")
    # Chen et al.'s MIG over the whole dSprites grid takes ~25 min; 100k random points move it
    # by ~0.0005 (helper measurement, see mig_chen.py).
    options = QUICK_METRIC_OPTIONS if args.quick else {"mig_chen": {"max_points": 100_000}}
    results = disentanglement_report(model, dataset, out, metrics=args.metrics or SUITE,
                                     metric_options=options, seed=args.seed,
                                     num_points=2000 if args.quick else 10_000)
    for key, value in headline_scores(results).items():
        print(f"{key:>28}: {value:.4f}")
    print(f"report: {out / 'report.md'}")
    return 0


# Smaller samples for a fast look (--quick); the defaults are disentanglement_lib's.
QUICK_METRIC_OPTIONS = {
    "beta_vae_score": {"num_train": 500, "num_eval": 300},
    "factor_vae_score": {"num_train": 500, "num_eval": 300, "num_variance_estimate": 2000},
    "mig": {"num_train": 2000},
    "dci": {"num_train": 2000, "num_test": 1000},
    "sap": {"num_train": 2000, "num_test": 1000},
    "modularity_explicitness": {"num_train": 2000, "num_test": 1000},
    "irs": {"num_train": 2000},
    "mig_chen": {"max_points": 5000},
}


def cmd_evaluate(args: argparse.Namespace, extra: list[str]) -> int:
    from vaekit.evaluation import evaluate_model

    model, config = _load_run(args.path)
    if args.disentanglement:
        return cmd_disentanglement(args, extra, model, config)
    data = _eval_data(config, args, extra)
    metrics = evaluate_model(model, data, num_importance_samples=args.num_samples,
                             max_examples=args.max_examples, seed=args.seed)
    for key, value in metrics.items():
        if not isinstance(value, list):
            print(f"{key:>28}: {value:.4f}" if isinstance(value, float) else f"{key:>28}: {value}")
    if args.out:
        Path(args.out).write_text(json.dumps(metrics, indent=2) + "\n")
        print(f"written: {args.out}")
    return 0


def cmd_sample(args: argparse.Namespace, extra: list[str]) -> int:
    from vaekit.viz import save_samples

    split_overrides(extra)
    model, _ = _load_run(args.path)
    path = save_samples(model, args.n, args.out, seed=args.seed, temperature=args.temperature)
    print(f"written: {path}")
    return 0


def cmd_reconstruct(args: argparse.Namespace, extra: list[str]) -> int:
    from vaekit.viz import save_reconstructions
    from vaekit.viz.report import first_examples

    model, config = _load_run(args.path)
    x = first_examples(_eval_data(config, args, extra), args.n)
    model.check_input(x)
    print(f"written: {save_reconstructions(model, x, args.out)}")
    return 0


def cmd_traverse(args: argparse.Namespace, extra: list[str]) -> int:
    from vaekit.evaluation import kl_per_dimension
    from vaekit.viz import save_traversal
    from vaekit.viz.report import first_examples

    model, config = _load_run(args.path)
    data = _eval_data(config, args, extra)
    x = first_examples(data, 256)
    try:
        kl = kl_per_dimension(model, x)
    except ValueError as err:  # e.g. VQ-VAE: a discrete code grid has no dims to traverse
        raise ShapeError(f"cannot traverse this model's latents: {err}") from None
    gif = Path(args.out).with_suffix(".gif") if args.gif else None
    print(f"written: {save_traversal(model, x[args.index:args.index + 1], args.out, gif, kl)}")
    return 0


def cmd_list(args: argparse.Namespace, extra: list[str]) -> int:
    from vaekit import registry

    tables = {"models": registry.MODELS, "datasets": registry.DATASETS,
              "metrics": registry.METRICS, "networks": registry.NETWORKS,
              "likelihoods": registry.LIKELIHOODS, "priors": registry.PRIORS}
    for name, table in tables.items():
        if args.what in (None, name):
            print(f"{name}: {', '.join(table.names())}")
    return 0


def cmd_demo(args: argparse.Namespace, extra: list[str]) -> int:
    from vaekit.cli.demo import run_demo

    run_demo(args.out, steps=args.steps, overrides=split_overrides(extra))
    return 0


def _explorer_kl(model, config, args: argparse.Namespace, extra: list[str]):
    """KL per latent dim on up to 256 examples of the run's data, or None (every dim gets a
    slider) for a bare model directory, --all-dims, or run data that cannot be loaded."""
    from vaekit.evaluation import kl_per_dimension
    from vaekit.viz.report import first_examples

    if args.all_dims or (config is None and not extra):
        return None
    try:
        x = first_examples(_eval_data(config, args, extra), 256)
    except VaekitError as err:
        if extra:  # data the user asked for: a problem with it is theirs to fix
            raise
        print(f"vaekit serve: note: a slider for every dim (the run's data is not available: "
              f"{err})", file=sys.stderr)
        return None
    try:
        return kl_per_dimension(model, x)
    except ValueError as err:  # e.g. a VQ-VAE has no per-dimension KL
        print(f"vaekit serve: note: a slider for every dim ({err})", file=sys.stderr)
        return None


def cmd_serve(args: argparse.Namespace, extra: list[str]) -> int:
    from vaekit.explorer import create_app, read_dimension_labels, serve

    model, config = _load_run(args.path)
    kl = _explorer_kl(model, config, args, extra)
    labels = read_dimension_labels(args.path, model.latent_dim)
    options = {} if args.kl_threshold is None else {"kl_threshold": args.kl_threshold}
    app = create_app(model, labels=labels, kl_per_dim=kl, **options)
    serve(app, args.host, args.port, log_requests=args.verbose)
    return 0


def cmd_report(args: argparse.Namespace, extra: list[str]) -> int:
    from vaekit.training import load_experiment
    from vaekit.viz.html_report import build_html_report, check_run_dir

    run_dir = check_run_dir(args.path)
    # Data overrides (--data.root=...) pick the data; otherwise the report uses the run's own.
    config = load_experiment(run_dir / "config.yaml")
    data = _eval_data(config, args, extra) if extra or args.split else None
    print(f"written: {build_html_report(run_dir, args.out, data=data, seed=args.seed)}")
    return 0


def cmd_audio(args: argparse.Namespace, extra: list[str]) -> int:
    from vaekit.audio.cli import run_audio_command

    return run_audio_command(args, extra)


# ----------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vaekit", description="Variational autoencoders on PyTorch.",
        epilog="Config overrides: any --section.key=value, e.g. --model.beta=4 --train.lr=1e-3",
    )
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="show PyTorch Lightning's informational messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a model from a YAML/JSON config and/or overrides",
                       description="Train a model. Overrides: --model.type=beta_vae "
                       "--model.beta=4 --data.name=dsprites --train.max_steps=3000 ...")
    add_train_arguments(p, "output directory (same as --run_dir=...)")
    p.set_defaults(fn=cmd_train)

    p = sub.add_parser("evaluate", help="ELBO, IWAE NLL, active units, KL per dim of a model")
    p.add_argument("path", help="run directory or model directory")
    p.add_argument("--split", help="dataset split to evaluate (default: the run's validation)")
    p.add_argument("--num-samples", type=int, default=1000, help="importance samples K")
    p.add_argument("--max-examples", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write the metrics as JSON here")
    p.add_argument("--disentanglement", action="store_true",
                   help="score the disentanglement metric suite on the run's ground-truth-factor "
                   "dataset and write a report (MI heatmap, labelled traversal, latent scatter)")
    p.add_argument("--metrics", nargs="+", help="with --disentanglement: which metrics")
    p.add_argument("--report-dir", help="with --disentanglement: output folder "
                   "(default RUN_DIR/disentanglement)")
    p.add_argument("--quick", action="store_true",
                   help="with --disentanglement: smaller samples than disentanglement_lib's")
    p.set_defaults(fn=cmd_evaluate)

    p = sub.add_parser("sample", help="decode prior samples into an image grid")
    p.add_argument("path", help="run directory or model directory")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="samples.png")
    p.add_argument("--temperature", type=float, default=None,
                   help="prior temperature for models that take one (hierarchical_vae, vq_vae)")
    p.set_defaults(fn=cmd_sample)

    p = sub.add_parser("reconstruct", help="originals over reconstructions")
    p.add_argument("path", help="run directory or model directory")
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--split")
    p.add_argument("--out", default="reconstructions.png")
    p.set_defaults(fn=cmd_reconstruct)

    p = sub.add_parser("traverse", help="latent traversal, one row per dimension ordered by KL")
    p.add_argument("path", help="run directory or model directory")
    p.add_argument("--index", type=int, default=0, help="which example to traverse from")
    p.add_argument("--split")
    p.add_argument("--gif", action="store_true", help="also write an animated GIF")
    p.add_argument("--out", default="traversal.png")
    p.set_defaults(fn=cmd_traverse)

    p = sub.add_parser("serve", help="explore the latent space in the browser (local web app)",
                       description="Serve a page with a slider per active latent dimension, "
                       "live decoding, random samples, encoding an uploaded image and "
                       "interpolation. Binds to 127.0.0.1 unless --host says otherwise.")
    p.add_argument("path", help="run directory or model directory")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (0.0.0.0: every interface; no authentication)")
    p.add_argument("--port", type=int, default=8000, help="port (0: any free port)")
    p.add_argument("--split")
    p.add_argument("--all-dims", action="store_true",
                   help="a slider for every latent dimension, not only the active ones")
    p.add_argument("--kl-threshold", type=float, default=None,
                   help="nats of KL above which a dimension is active (default 0.05)")
    p.set_defaults(fn=cmd_serve)

    p = sub.add_parser("report", help="one self-contained HTML file about a run: config, "
                       "curves, metrics, traversal, samples, reconstructions")
    p.add_argument("path", help="run directory (written by vaekit train)")
    p.add_argument("--out", default="report.html", help="output HTML file")
    p.add_argument("--split")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(fn=cmd_report)

    p = sub.add_parser("list", help="registered models, datasets, metrics, networks, ...")
    p.add_argument("what", nargs="?", choices=["models", "datasets", "metrics", "networks",
                                               "likelihoods", "priors"])
    p.set_defaults(fn=cmd_list)

    p = sub.add_parser("demo", help="train a beta-VAE on procedural dSprites and write a report "
                       "(no download; a few minutes on a laptop CPU)")
    p.add_argument("--out", default="vaekit-demo", help="output folder")
    p.add_argument("--steps", type=int, default=None, help="training steps (default 3000)")
    p.set_defaults(fn=cmd_demo)

    p = sub.add_parser("audio", help="spectrogram VAEs on audio: train on spoken digits (FSDD), "
                       "reconstruct a WAV file")
    audio = p.add_subparsers(dest="audio_command", required=True, metavar="AUDIO_COMMAND")
    a = audio.add_parser("train", help="vaekit train with audio defaults (FSDD log-mel, conv64, "
                         "learned-variance Gaussian); --model.type=cvae for the digit-conditioned "
                         "VAE; any --section.key=value overrides them")
    add_train_arguments(a, "output directory (default runs/audio)")
    a = audio.add_parser("reconstruct", help="reconstruct one WAV through a spectrogram model")
    a.add_argument("path", help="run directory or model directory")
    a.add_argument("input", help="WAV file to reconstruct")
    a.add_argument("output", help="WAV file to write")
    a.add_argument("--label", type=int, default=None,
                   help="cvae: the condition (default: the label of highest conditional ELBO)")
    a.add_argument("--griffin-lim-iter", type=int, default=64, help="phase iterations")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--spectrogram", metavar="PNG", help="also draw input | reconstruction")
    a = audio.add_parser("examples", help="WAVs and spectrogram pictures of reconstructions, "
                         "samples, an interpolation and latent traversals")
    a.add_argument("path", help="run directory (trained on audio)")
    a.add_argument("--split", default="test", help="dataset split (default test)")
    a.add_argument("--n", type=int, default=8, help="clips to reconstruct")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--out", default="audio-examples", help="output folder")
    p.set_defaults(fn=cmd_audio)
    _add_app_commands(sub)
    return parser


# Applications (video prediction, text-to-image, translation and style) add their own commands:
# each module defines ``add_commands(sub)``, which adds sub-parsers whose ``fn(args, extra)``
# returns the exit status. Their modules import only argparse at the top, so building the parser
# stays fast; the heavy imports happen when a command runs.
APP_CLI_MODULES = (
    "vaekit.apps.video.cli",
    "vaekit.apps.text_to_image.cli",
    "vaekit.apps.translation.cli",
)


def _add_app_commands(sub: argparse._SubParsersAction) -> None:
    import importlib

    for name in APP_CLI_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name is not None and name.startswith(err.name):
                continue  # that application is not part of this install
            raise
        module.add_commands(sub)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "demo":
        quiet_lightning(args)
    try:
        return args.fn(args, extra)
    except VaekitError as err:
        message = " ".join(line.strip() for line in str(err).splitlines())  # always one line
        print(f"vaekit {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        # Ctrl-C: training saves a checkpoint between two steps and says how to resume
        # (vaekit.training.run.TrainingInterrupted); elsewhere nothing is half-written.
        message = " ".join(str(err).split()) or (
            "interrupted; the last checkpoint is kept" if args.command == "train"
            else "interrupted")
        print(f"vaekit {args.command}: {message}", file=sys.stderr)
        return 130
    except (OSError, ValueError) as err:
        # Bad paths and values that surface as Python errors (an output file that cannot be
        # written, --n 0, ...): one line; --verbose shows the traceback.
        if args.verbose:
            raise
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"vaekit {args.command}: error: {message} (--verbose shows the traceback)",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
