"""``vaekit audio train`` and ``vaekit audio reconstruct`` (wired up in :mod:`vaekit.cli.main`).

``vaekit audio train [...]`` is ``vaekit train`` with :data:`AUDIO_TRAIN_DEFAULTS` in front of
the command-line overrides (so any ``--section.key=value`` still wins): FSDD log-mel images, the
conv64 network, 16 latents, a Gaussian likelihood with one learned variance. With ``--config``
or ``--resume`` the file / the run's saved config is used as it is, without these defaults.
``--model.type=cvae`` trains the digit-conditioned VAE.

``vaekit audio reconstruct RUN_DIR in.wav out.wav`` feeds one recording through the run's
preprocessing (the FSDD options it was trained with: loudness, clip length, log-mel settings),
reconstructs the spectrogram, and writes the audio of the reconstruction (Griffin-Lim). A cvae
needs the label: ``--label`` or, by default, the label of highest conditional ELBO.

``vaekit audio examples RUN_DIR --split test --out DIR`` writes WAVs and spectrogram pictures
of reconstructions, samples, an interpolation and latent traversals
(:func:`vaekit.audio.examples.save_audio_examples`).
"""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path

import torch

from vaekit.errors import ConfigError

AUDIO_TRAIN_DEFAULTS = (
    "data.name=fsdd",
    "data.val_size=200",
    "model.network=conv64",
    "model.latent_dim=16",
    "model.likelihood=gaussian_learned",
    "model.likelihood_options={variance: shared}",
    "train.lr=1e-3",
    "train.max_steps=5000",
    "run_dir=runs/audio",
)


def audio_train(args: argparse.Namespace, extra: list[str]) -> int:
    """``vaekit train`` with the audio defaults (see the module docstring)."""
    import vaekit.models.cvae  # noqa: F401  (registers "cvae")
    from vaekit.cli.main import train_with_defaults

    return train_with_defaults(args, extra, AUDIO_TRAIN_DEFAULTS)


def run_pipeline(config):
    """The :class:`~vaekit.audio.pipeline.SpectrogramPipeline` a run was trained with (FSDD
    defaults for a bare model directory)."""
    from vaekit.data.fsdd import fsdd_pipeline

    if config is None:
        return fsdd_pipeline()
    if config.data.name != "fsdd":
        raise ConfigError(f"this run was trained on dataset '{config.data.name}', not on audio "
                          "(fsdd); vaekit audio reconstruct needs a spectrogram model")
    accepted = inspect.signature(fsdd_pipeline).parameters
    return fsdd_pipeline(**{k: v for k, v in config.data.options.items() if k in accepted})


def audio_reconstruct(args: argparse.Namespace, extra: list[str]) -> int:
    import vaekit.models.cvae  # noqa: F401  (registers "cvae")
    from vaekit.audio.examples import save_spectrograms
    from vaekit.audio.io import write_wav
    from vaekit.audio.metrics import log_spectral_distance, multiscale_spectral_distance
    from vaekit.cli.main import _load_run, split_overrides
    from vaekit.models.cvae import CVAE

    split_overrides(extra)  # nothing to override here, but refuse stray arguments clearly
    if extra:
        raise ConfigError(f"vaekit audio reconstruct takes no overrides, got {' '.join(extra)}")
    model, config = _load_run(args.path)
    model.eval()
    pipeline = run_pipeline(config)
    clip = pipeline.load(args.input)
    x = pipeline.image(clip)[None]
    model.check_input(x)
    note = ""
    with torch.no_grad():
        if isinstance(model, CVAE):
            if args.label is None:
                label = int(model.infer_labels(x)[0])
                note = f"; label {label} (highest conditional ELBO)"
            else:
                label = args.label
                note = f"; label {label}"
            recon = model.reconstruct(x, torch.tensor([label]))
        else:
            if args.label is not None:
                raise ConfigError("--label is for conditional models (cvae); this run holds a "
                                  f"{type(model).__name__}")
            recon = model.reconstruct(x)
    generator = torch.Generator().manual_seed(args.seed)
    wave = pipeline.transform.invert(recon[0, 0], num_iter=args.griffin_lim_iter,
                                     generator=generator)
    out = write_wav(args.output, wave, pipeline.sample_rate)
    msd = float(multiscale_spectral_distance(wave, clip[: len(wave)]))
    lsd = float(log_spectral_distance(wave, clip[: len(wave)]))
    print(f"written: {out} ({len(wave) / pipeline.sample_rate:.2f} s at {pipeline.sample_rate} "
          f"Hz{note}); multi-scale spectral distance {msd:.3f}, LSD {lsd:.2f} dB")
    if args.spectrogram:
        path = save_spectrograms(torch.cat([x, recon]), Path(args.spectrogram), nrow=2)
        print(f"written: {path} (input | reconstruction)")
    return 0


def audio_examples(args: argparse.Namespace, extra: list[str]) -> int:
    """WAV files and spectrogram pictures of a run's reconstructions, samples, interpolation
    and traversals on one split of its (audio) dataset."""
    import vaekit.models.cvae  # noqa: F401  (registers "cvae")
    from vaekit.audio.examples import save_audio_examples
    from vaekit.cli.main import _eval_data, _load_run

    model, config = _load_run(args.path)
    run_pipeline(config)  # refuses runs that were not trained on audio
    data = _eval_data(config, args, extra)
    if not hasattr(data, "to_audio"):
        raise ConfigError("the run's data is not a spectrogram dataset with audio (fsdd); pass "
                          "the whole split with --split (not a random validation subset)")
    written = save_audio_examples(model.eval(), data, args.out, n=args.n, seed=args.seed)
    print(f"written: {len(written)} files in {args.out}")
    return 0


COMMANDS = {"train": audio_train, "reconstruct": audio_reconstruct,
            "examples": audio_examples}


def run_audio_command(args: argparse.Namespace, extra: list[str]) -> int:
    return COMMANDS[args.audio_command](args, extra)
