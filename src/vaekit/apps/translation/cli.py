"""``vaekit translate`` and ``vaekit style`` (added to the top-level parser by vaekit.cli.main).

``vaekit translate train [--style edges] [--model unit|munit] [--run-dir DIR]`` is
``vaekit train`` on restyled MNIST with :data:`TRANSLATE_DEFAULTS` in front of the command-line
overrides (any ``--section.key=value`` still wins; ``--config`` / ``--resume`` use their file
as it is). ``vaekit translate apply RUN --input a.png [b.png ...] --out grid.png`` translates
images (``--source a`` or ``b``; ``--draws K`` draws K styles per input from a content/style
model); ``vaekit translate evaluate RUN --out metrics.json`` scores a run on the paired test
split of its dataset (label preservation, pixel error against the ground truth and identity,
diversity).

``vaekit style --model RUN --content A.png --style B.png --out C.png`` renders the content of
``A`` in the style of ``B`` with a content/style (``munit``) model; ``--samples K`` adds K styles
drawn from the prior.
"""

from __future__ import annotations

import argparse

from vaekit.cli.main import add_train_arguments

TRANSLATE_DEFAULTS = (
    "model.type=unit",
    "data.name=restyled_mnist",
    "data.val_size=500",
    "train.max_steps=3000",
    "train.batch_size=64",
    "train.lr=1e-3",
    "run_dir=runs/translate",
)


def translate_train(args: argparse.Namespace, extra: list[str]) -> int:
    from vaekit.cli.main import train_with_defaults

    defaults = [*TRANSLATE_DEFAULTS, f"data.options={{style: {args.style}}}"]
    if args.model:
        defaults.append(f"model.type={args.model}")
    if args.style in ("colour", "random_colour"):
        defaults.append("model.channels_b=3")
    return train_with_defaults(args, extra, defaults)


def _load_images(paths: list[str], shape: tuple[int, ...]):
    from vaekit.apps.translation.style import load_images

    return load_images(paths, shape)


def _translation_model(path: str, kinds: tuple[str, ...] = ("unit", "munit")):
    from vaekit.cli.main import _load_run
    from vaekit.errors import ConfigError

    model, config = _load_run(path)
    if model.config.config_type not in kinds:
        raise ConfigError(f"'{path}' holds a {model.config.config_type} model; this command "
                          f"needs one of: {', '.join(kinds)} (train one with vaekit translate "
                          "train)")
    return model.eval(), config


def translate_apply(args: argparse.Namespace, extra: list[str]) -> int:
    import torch

    from vaekit.viz import save_image_grid

    model, _ = _translation_model(args.path)
    source = args.source
    x = _load_images(args.input, model.shapes[source])
    target_channels = model.shapes[model.other(source)][0]
    rows = [x.expand(-1, target_channels, -1, -1) if x.shape[1] == 1 else x]
    generator = torch.Generator().manual_seed(args.seed)
    if model.config.config_type == "munit":
        rows += [model.translate(x, source, generator=generator) for _ in range(args.draws)]
    else:
        rows.append(model.translate(x, source))
    if x.shape[1] != target_channels and x.shape[1] != 1:
        rows = rows[1:]
    path = save_image_grid(torch.cat(rows), args.out, nrow=len(x))
    print(f"written: {path} (rows: inputs, then translations)")
    return 0


def translate_evaluate(args: argparse.Namespace, extra: list[str]) -> int:
    import json
    from pathlib import Path

    from vaekit.apps.translation.evaluation import evaluate_run

    model, config = _translation_model(args.path)
    report = evaluate_run(model, config, args.num_test, extra)
    text = json.dumps(report, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
        print(f"written: {args.out}")
    print(text)
    return 0


def style_transfer(args: argparse.Namespace, extra: list[str]) -> int:
    import torch

    from vaekit.viz import save_image_grid

    model, _ = _translation_model(args.model, ("munit",))
    domain = args.domain
    content = _load_images(args.content, model.shapes[args.content_domain or domain])
    style = _load_images(args.style, model.shapes[domain])
    if len(style) not in (1, len(content)):
        from vaekit.errors import DataError

        raise DataError(f"give one --style image or one per --content image ({len(content)}), "
                        f"got {len(style)}")
    out = model.swap_style(content, style, domain, args.content_domain)
    rows = [out]
    if args.samples:
        generator = torch.Generator().manual_seed(args.seed)
        c = model.content(content, args.content_domain or domain)
        for _ in range(args.samples):
            s = model.sample_style(len(c), generator)
            rows.append(model.likelihoods[domain].mean_image(model.generate(c, s, domain)))
    path = save_image_grid(torch.cat(rows), args.out, nrow=len(content))
    print(f"written: {path} (first row: content in the given style; then prior styles)")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("translate", help="unpaired image-to-image translation (UNIT, "
                       "content/style model) on restyled digits")
    cmds = p.add_subparsers(dest="translate_command", required=True, metavar="TRANSLATE_COMMAND")
    t = cmds.add_parser("train", help="vaekit train with translation defaults (restyled MNIST, "
                        "UNIT); --section.key=value overrides")
    t.add_argument("--style", default="edges",
                   choices=["invert", "thicken", "slant", "edges", "colour", "random_colour"],
                   help="domain B: MNIST restyled this way (default edges)")
    t.add_argument("--model", choices=["unit", "munit"], help="model type (default unit)")
    add_train_arguments(t, "output directory (default runs/translate)")
    t.set_defaults(fn=translate_train)
    a = cmds.add_parser("apply", help="translate image files with a trained model")
    a.add_argument("path", help="run or model directory (unit or munit)")
    a.add_argument("--input", nargs="+", required=True, help="image files of the source domain")
    a.add_argument("--source", choices=["a", "b"], default="a", help="their domain (default a)")
    a.add_argument("--draws", type=int, default=3, help="styles drawn per input (munit)")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--out", default="translations.png", help="PNG grid to write")
    a.set_defaults(fn=translate_apply)
    e = cmds.add_parser("evaluate", help="label preservation, ground-truth pixel error and "
                        "diversity on the run's paired test split")
    e.add_argument("path", help="run directory (unit or munit)")
    e.add_argument("--num-test", type=int, default=2000, help="test pairs to score")
    e.add_argument("--out", help="write the metrics as JSON here")
    e.set_defaults(fn=translate_evaluate)

    s = sub.add_parser("style", help="render one image's content in another's style "
                       "(content/style model)")
    s.add_argument("--model", required=True, help="run or model directory of a munit model")
    s.add_argument("--content", nargs="+", required=True, help="content image file(s)")
    s.add_argument("--style", nargs="+", required=True, help="style image file(s): one, or one "
                   "per content image")
    s.add_argument("--domain", choices=["a", "b"], default="b",
                   help="domain of the style images and of the output (default b)")
    s.add_argument("--content-domain", choices=["a", "b"],
                   help="domain of the content images (default: --domain)")
    s.add_argument("--samples", type=int, default=0, help="also render K prior styles")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", default="style.png", help="PNG grid to write")
    s.set_defaults(fn=style_transfer)
