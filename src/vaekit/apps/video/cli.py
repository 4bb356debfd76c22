"""``vaekit video train`` and ``vaekit video predict`` (wired up by :mod:`vaekit.cli.main`).

``vaekit video train [--variant lp|fp|deterministic] [...]`` is ``vaekit train`` with
:data:`VIDEO_TRAIN_DEFAULTS` in front of the command-line overrides (any ``--section.key=value``
still wins): SVG-LP on Stochastic Moving MNIST (64x64, 2 digits), 5 context frames, 15-frame
clips. With ``--config`` or ``--resume`` the file / the run's saved config is used as it is.

``vaekit video predict RUN_DIR --context 5 --horizon 10 --samples 20`` conditions the run's
model on the first ``context`` frames of ``--clips`` test clips of the run's dataset (or of
``--video FILE``), draws ``samples`` futures, writes one GIF per clip (context, then the truth
beside several sampled futures) and a PNG strip, and prints per-step SSIM / PSNR of the best of
the samples and of one sample, also written to ``metrics.json`` in ``--out``.
"""

from __future__ import annotations

import argparse

from vaekit.cli.main import add_train_arguments

VIDEO_TRAIN_DEFAULTS = (
    "model.type=svg",
    "model.context=5",
    "data.name=moving_mnist",
    "data.val_size=64",
    "data.options={seq_len: 15}",
    "train.lr=2e-3",
    "train.batch_size=16",
    "train.max_steps=20000",
    "run_dir=runs/video",
)
VARIANTS = {"lp": "learned", "fp": "fixed", "deterministic": "deterministic"}


def video_train(args: argparse.Namespace, extra: list[str]) -> int:
    """``vaekit train`` with the video defaults (see the module docstring)."""
    from vaekit.cli.main import train_with_defaults

    if (args.config is not None or args.resume) and args.variant != "lp":
        from vaekit.errors import ConfigError

        raise ConfigError("--variant applies to new runs; with --config or --resume set "
                          "--model.prior instead")
    defaults = [*VIDEO_TRAIN_DEFAULTS, f"model.prior={VARIANTS[args.variant]}"]
    return train_with_defaults(args, extra, defaults)


def _clips(args: argparse.Namespace, config, frames: int):
    """Clips ``(N, frames, C, H, W)`` to predict and a label for each."""
    import torch

    from vaekit.errors import ConfigError, DataError

    if args.video is not None:
        from vaekit.apps.video.video_files import VideoClips, read_video

        shape = args.model_shape
        video = read_video(args.video, size=shape[1], grayscale=shape[0] == 1)
        if shape[1] != shape[2]:
            raise DataError(f"--video needs a model of square frames, this one takes {shape}")
        dataset = VideoClips([torch.round(video * 255).to(torch.uint8)], [str(args.video)],
                             frames, clip_stride=max(1, (len(video) - frames) // args.clips or 1))
    else:
        if config is None:
            raise ConfigError("this is a bare model directory: pass --video FILE (no dataset "
                              "is recorded with it)")
        import inspect

        from vaekit.config import from_dict, to_dict
        from vaekit.registry import DATASETS
        from vaekit.training.config import DataConfig
        from vaekit.training.data import build_dataset

        data = to_dict(config.data)
        params = inspect.signature(DATASETS.get(data["name"])).parameters
        options = dict(data.get("options") or {})
        if "seq_len" in params:
            options["seq_len"] = frames
        if "num_sequences" in params:
            options["num_sequences"] = args.clips
        data["options"] = options
        dataset = build_dataset(from_dict(DataConfig, data), split=args.split)
    if len(dataset) == 0:
        raise DataError("no clips to predict")
    n = min(args.clips, len(dataset))
    clips = torch.stack([dataset[i] for i in range(n)])
    if clips.shape[1] < frames:
        raise DataError(f"the clips have {clips.shape[1]} frames, fewer than --context + "
                        f"--horizon = {frames}")
    return clips[:, :frames]


def video_predict(args: argparse.Namespace, extra: list[str]) -> int:
    import json
    from pathlib import Path

    import torch

    from vaekit.apps.video.evaluation import evaluate_predictions
    from vaekit.apps.video.svg import SVG
    from vaekit.apps.video.viz import save_prediction_gif, save_prediction_strip
    from vaekit.cli.main import _load_run, split_overrides
    from vaekit.errors import ConfigError

    if split_overrides(extra):
        raise ConfigError(f"vaekit video predict takes no overrides, got {' '.join(extra)}")
    for name in ("context", "horizon", "samples", "clips", "show"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name} must be at least 1, got {getattr(args, name)}")
    model, config = _load_run(args.path)
    if not isinstance(model, SVG):
        raise ConfigError(f"'{args.path}' holds a {type(model).__name__}, not a video model "
                          "(train one with vaekit video train)")
    model.eval()
    args.model_shape = model.data_shape
    frames = args.context + args.horizon
    clips = _clips(args, config, frames)
    model.check_input(clips)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(args.seed)
    futures = model.predict(clips[:, :args.context], args.horizon, num_samples=args.samples,
                            generator=generator)  # (S, N, horizon, C, H, W)
    shown = min(args.show, futures.shape[0])
    for i in range(len(clips)):
        context, truth = clips[i, :args.context], clips[i, args.context:]
        save_prediction_gif(context, truth, futures[:shown, i], out / f"clip{i}.gif")
        save_prediction_strip(context, truth, futures[:shown, i], out / f"clip{i}.png")
    ns = sorted({1, args.samples})
    scores = evaluate_predictions(model, clips, context=args.context, horizon=args.horizon,
                                  num_samples=args.samples, ns=ns, seed=args.seed)
    (out / "metrics.json").write_text(json.dumps(scores, indent=2) + "\n")
    print(f"{len(clips)} clip(s): {args.context} context frames, {args.horizon} predicted, "
          f"{scores['num_samples']} sampled future(s) each")
    print("step  " + "  ".join(f"SSIM@{n:<4} PSNR@{n:<4}" for n in scores["ssim"]))
    for t in range(args.horizon):
        cells = "  ".join(f"{scores['ssim'][n][t]:<9.3f} {scores['psnr'][n][t]:<9.2f}"
                          for n in scores["ssim"])
        print(f"{args.context + t + 1:<5} {cells}")
    means = ", ".join(f"best of {n}: SSIM {scores['ssim_mean'][n]:.3f}, PSNR "
                      f"{scores['psnr_mean'][n]:.2f} dB" for n in scores["ssim"])
    print(f"mean over the predicted frames: {means}")
    print(f"written: {out}/clip*.gif, clip*.png (truth | {shown} samples), metrics.json")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``vaekit video train`` and ``vaekit video predict`` to the top-level sub-parsers."""
    p = sub.add_parser("video", help="video prediction: stochastic video generation with a "
                       "learned prior (SVG-LP, Denton & Fergus 2018)")
    video = p.add_subparsers(dest="video_command", required=True, metavar="VIDEO_COMMAND")
    a = video.add_parser("train", help="vaekit train with video defaults (SVG-LP on Stochastic "
                         "Moving MNIST); any --section.key=value overrides them")
    a.add_argument("--variant", choices=sorted(VARIANTS), default="lp",
                   help="lp: learned prior (default); fp: fixed N(0, I) prior; deterministic: "
                        "no latents (the baseline)")
    add_train_arguments(a, "output directory (default runs/video)")
    a.set_defaults(fn=video_train)
    a = video.add_parser("predict", help="sample futures of test clips (GIFs, per-step "
                         "SSIM/PSNR)")
    a.add_argument("path", help="run directory (or model directory with --video)")
    a.add_argument("--context", type=int, default=5, help="conditioning frames (default 5)")
    a.add_argument("--horizon", type=int, default=10, help="frames to predict (default 10)")
    a.add_argument("--samples", type=int, default=20, help="futures per clip (default 20)")
    a.add_argument("--clips", type=int, default=4, help="clips to predict (default 4)")
    a.add_argument("--split", default="test", help="dataset split (default test)")
    a.add_argument("--video", help="predict clips of this video file instead (needs PyAV)")
    a.add_argument("--show", type=int, default=5, help="samples drawn in each GIF (default 5)")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--out", default="video-predictions", help="output folder")
    a.set_defaults(fn=video_predict)
