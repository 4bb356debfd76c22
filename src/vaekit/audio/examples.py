"""Listening material for a spectrogram VAE: WAV files and spectrogram pictures of
reconstructions, samples, an interpolation and latent traversals.

Spectrograms are drawn as grey images with low frequencies at the bottom (the images themselves
store mel band 0 in row 0). Audio comes from the dataset's inverse transform (Griffin-Lim, seeded),
and a sequence of clips (an interpolation, a traversal) is one WAV with 0.1 s of silence between
the clips. A conditional model (cvae) is given the true label for reconstructions and a fixed
digit for the interpolation and traversals; its samples are one row per class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaekit.audio.evaluation import encode_means, is_conditional, reconstruct_images
from vaekit.audio.io import write_wav
from vaekit.evaluation.likelihood import evaluating
from vaekit.models.base import BaseVAE
from vaekit.viz.grid import save_image_grid

GAP_SECONDS = 0.1


def save_spectrograms(images: torch.Tensor, path: str | Path, nrow: int = 8) -> Path:
    """A grid of spectrogram images ``(N, 1, n_mels, frames)``, low frequencies at the bottom."""
    return save_image_grid(images.flip(-2), path, nrow=nrow)


def save_clip_sequence(dataset: Any, images: torch.Tensor, path: str | Path,
                       seed: int = 0) -> Path:
    """The audio of ``images`` one after another (0.1 s of silence between) as one WAV."""
    audio = dataset.to_audio(images, generator=torch.Generator().manual_seed(seed))
    gap = torch.zeros(audio.shape[0], int(GAP_SECONDS * dataset.sample_rate))
    return write_wav(path, torch.cat([audio, gap], dim=1).reshape(-1), dataset.sample_rate)


@torch.no_grad()
def _decode(model: BaseVAE, z: torch.Tensor, label: int | None) -> torch.Tensor:
    with evaluating(model):
        px = model.decode(z, label) if is_conditional(model) else model.decode(z)
        return model.likelihood.mean_image(px).cpu()


def save_audio_examples(model: BaseVAE, dataset: Any, out_dir: str | Path, *, n: int = 8,
                        num_dims: int = 4, seed: int = 0) -> list[Path]:
    """Write, under ``out_dir``: ``reconstructions.png`` (originals over reconstructions of the
    first ``n`` clips) with ``reconstructions.wav`` / ``originals.wav``; ``samples.png`` and
    ``samples.wav`` (for a cvae one row per class, else ``n`` prior samples);
    ``interpolation.png/.wav`` (8 steps between the codes of clips 0 and 1); and
    ``traversal.png`` with ``traversal_dim{d}.wav`` for the ``num_dims`` latent dims of largest
    variance of the posterior means (each from -2.5 to 2.5 around clip 0's code)."""
    out = Path(out_dir)
    written: list[Path] = []
    images, labels = dataset.images[:n], np.asarray(dataset.labels[:n])
    recon = reconstruct_images(model, images, labels)
    written.append(save_spectrograms(torch.cat([images, recon]), out / "reconstructions.png", n))
    written.append(save_clip_sequence(dataset, images, out / "originals.wav", seed))
    written.append(save_clip_sequence(dataset, recon, out / "reconstructions.wav", seed))

    generator = torch.Generator().manual_seed(seed)
    with evaluating(model):
        if is_conditional(model):
            per_class = max(1, n // 2)
            labels_s = torch.arange(model.num_classes).repeat_interleave(per_class)
            samples = model.sample(len(labels_s), generator, labels=labels_s).cpu()
            nrow = per_class
        else:
            samples, nrow = model.sample(n, generator).cpu(), n
    written.append(save_spectrograms(samples, out / "samples.png", nrow))
    written.append(save_clip_sequence(dataset, samples, out / "samples.wav", seed))

    codes = torch.from_numpy(encode_means(model, dataset.images[:2], dataset.labels[:2]))
    label = int(dataset.labels[0]) if is_conditional(model) else None
    t = torch.linspace(0, 1, 8)[:, None]
    path_images = _decode(model, (1 - t) * codes[0] + t * codes[1], label)
    written.append(save_spectrograms(path_images, out / "interpolation.png", 8))
    written.append(save_clip_sequence(dataset, path_images, out / "interpolation.wav", seed))

    spread = encode_means(model, dataset.images[:256], dataset.labels[:256]).var(axis=0)
    dims = np.argsort(-spread)[:num_dims].tolist()
    values = torch.linspace(-2.5, 2.5, 7)
    rows = []
    for d in dims:
        z = codes[0].expand(len(values), -1).clone()
        z[:, d] = values
        rows.append(_decode(model, z, label))
        written.append(save_clip_sequence(dataset, rows[-1], out / f"traversal_dim{d}.wav",
                                          seed))
    written.append(save_spectrograms(torch.cat(rows), out / "traversal.png", len(values)))
    return written
