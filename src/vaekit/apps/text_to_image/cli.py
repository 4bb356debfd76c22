"""``vaekit generate`` and ``vaekit text2image train`` (added by :func:`add_commands`).

``vaekit generate "a large ellipse at the bottom" --n 16 --out grid.png [--run RUN_DIR]``
draws ``n`` images for the prompt from a trained ``text_cvae`` or ``text_vq_vae`` run (default
run directory: ``runs/text2image``, where ``vaekit text2image train`` writes) and saves them as
one grid. Words the model's vocabulary lacks become ``<unk>`` and are listed; an empty or
over-long prompt is a one-line error. The same ``--seed`` gives the same images.

``vaekit text2image train [...]`` is ``vaekit train`` with :data:`TEXT2IMAGE_TRAIN_DEFAULTS`
(captioned dSprites, the text_cvae on the conv64 net) in front of the command-line overrides,
so any ``--section.key=value`` still wins (``--model.type=text_vq_vae`` for the discrete path).
With ``--config`` or ``--resume`` the file / the run's saved config is used as it is.

Only argparse is imported here at module level; the commands import torch when they run.
"""

from __future__ import annotations

import argparse
import math

from vaekit.cli.main import add_train_arguments

DEFAULT_RUN = "runs/text2image"
TEXT2IMAGE_TRAIN_DEFAULTS = (
    "model.type=text_cvae",
    "model.network=conv64",
    "model.latent_dim=10",
    "model.likelihood=bernoulli",
    "data.name=captioned_dsprites",
    "data.val_size=1000",
    "train.lr=1e-3",
    "train.max_steps=5000",
    f"run_dir={DEFAULT_RUN}",
)


def text2image_train(args: argparse.Namespace, extra: list[str]) -> int:
    """``vaekit train`` with the text-to-image defaults (see the module docstring)."""
    from vaekit.cli.main import train_with_defaults

    return train_with_defaults(args, extra, TEXT2IMAGE_TRAIN_DEFAULTS)


def generate(args: argparse.Namespace, extra: list[str]) -> int:
    """Write a grid of ``--n`` images generated for the prompt."""
    from pathlib import Path

    import torch

    from vaekit.apps.text_to_image.models import TextCVAE, TextVQVAE
    from vaekit.cli.main import _load_run
    from vaekit.errors import ConfigError
    from vaekit.viz.grid import save_image_grid

    if extra:
        raise ConfigError(f"vaekit generate takes no overrides, got {' '.join(extra)}")
    if args.n < 1:
        raise ConfigError(f"--n must be >= 1, got {args.n}")
    if args.temperature <= 0:
        raise ConfigError(f"--temperature must be positive, got {args.temperature}")
    run = Path(args.run)
    if not run.exists():
        raise ConfigError(f"no trained text-to-image model at '{run}'; train one with "
                          "`vaekit text2image train` or pass --run RUN_DIR")
    model, _ = _load_run(str(run))
    if not isinstance(model, (TextCVAE, TextVQVAE)):
        raise ConfigError(f"'{run}' holds a {type(model).__name__}, not a text-conditioned "
                          "model (text_cvae or text_vq_vae)")
    model.eval()
    model.tokenizer.encode(args.prompt)  # empty / too long: one clear error before any work
    unknown = model.tokenizer.unknown_words(args.prompt)
    generator = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        images = model.sample(args.n, generator=generator, text=args.prompt,
                              temperature=args.temperature)
    nrow = args.nrow or max(1, math.ceil(math.sqrt(args.n)))
    out = save_image_grid(images, args.out, nrow=nrow)
    note = f"; unknown words read as <unk>: {', '.join(unknown)}" if unknown else ""
    print(f"written: {out} ({args.n} images for {args.prompt!r}, seed {args.seed}{note})")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``generate`` and ``text2image train`` to the vaekit command line."""
    p = sub.add_parser("generate", help="images for a text prompt from a text-to-image run",
                       description="Generate images that match a caption, e.g. vaekit "
                       "generate \"a large ellipse at the bottom\" --n 16 --out grid.png")
    p.add_argument("prompt", help="the description, in the words of the training captions")
    p.add_argument("--n", type=int, default=16, help="number of images")
    p.add_argument("--out", default="grid.png", help="output image grid (PNG)")
    p.add_argument("--run", default=DEFAULT_RUN,
                   help=f"run or model directory of a text_cvae / text_vq_vae (default "
                        f"{DEFAULT_RUN})")
    p.add_argument("--seed", type=int, default=0, help="same seed, same images")
    p.add_argument("--temperature", type=float, default=1.0,
                   help="scales the prior noise (text_cvae) or the code logits (text_vq_vae)")
    p.add_argument("--nrow", type=int, default=None, help="images per grid row")
    p.set_defaults(fn=generate)

    t = sub.add_parser("text2image", help="text-to-image training with its defaults")
    tsub = t.add_subparsers(dest="text2image_command", required=True)
    a = tsub.add_parser("train", help="vaekit train with text-to-image defaults (captioned "
                        "dSprites, text_cvae, conv64); --model.type=text_vq_vae for the "
                        "discrete path; any --section.key=value overrides them")
    add_train_arguments(a, f"output directory (default {DEFAULT_RUN})")
    a.set_defaults(fn=text2image_train)
