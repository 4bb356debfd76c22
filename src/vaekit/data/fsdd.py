"""Free Spoken Digit Dataset (FSDD; the FSDD contributors, GitHub
``Jakobovski/free-spoken-digit-dataset``, CC BY-SA 4.0): 3,000 recordings of the digits 0-9
spoken in English by 6 speakers, 50 times each; WAV, 8 kHz, mono, 16-bit,
``recordings/{digit}_{speaker}_{index}.wav``.

Official split (the dataset's README): index 0-4 is ``test`` (300 recordings), 5-49 ``train``
(2,700); ``all`` is both. Every recording goes through:

1. :func:`~vaekit.audio.read_wav` (resampled to ``sample_rate`` if a file differs);
2. loudness normalisation (``normalize``: ``"peak"`` to -1 dBFS, the default; ``"rms"`` to
   -20 dBFS with the peak held at -1 dBFS; ``"none"``), see :mod:`vaekit.audio.loudness`;
3. a fixed-length clip of ``clip_seconds`` (default 0.8 s = 6,400 samples): shorter recordings
   (most: the mean is 0.44 s) are zero-padded on both sides, the ~2 % longer ones cropped
   centrally (:func:`~vaekit.audio.fix_length`);
4. a log-mel image ``(1, n_mels, frames)`` in [0, 1]
   (:class:`~vaekit.audio.LogMelSpectrogram`: Hann STFT with ``n_fft``, ``hop_length``;
   ``n_mels`` Slaney-scale bands from 0 Hz to Nyquist; dB of mel power relative to a full-scale
   sine, mapped linearly from [``min_db``, ``max_db``] = [-80, 0] dB to [0, 1] and clamped).
   ``frames = clip samples // hop_length``: 64 with the defaults, so images are 64x64 and fit the
   ``conv64`` network (and ``resnet``).

Items are the images; ``.labels`` the digit, ``.speakers`` the speaker id (an index into
``.speaker_names``, the speakers of the whole folder in alphabetical order, so ids agree between
splits), ``.waveforms`` the clips, ``.transform`` the log-mel transform whose ``invert`` (or the
dataset's ``to_audio``) turns images back into audio. Order: by recording index, then speaker,
then digit, so ``limit=N`` keeps a mix of every digit and speaker. Nothing is cached on disk:
reading and transforming all 3,000 short files takes a few seconds.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from vaekit.audio.clips import clip_samples
from vaekit.audio.features import LogMelSpectrogram
from vaekit.audio.pipeline import NORMALIZATIONS, SpectrogramPipeline
from vaekit.data.base import ArrayImageDataset, is_count
from vaekit.data.paths import dataset_dir
from vaekit.errors import DataError
from vaekit.registry import DATASETS

SAMPLE_RATE = 8000
TEST_INDICES = range(0, 5)  # index 0-4 = test, 5-49 = train (upstream README)
SPLITS = ("train", "test", "all")
FILE_PATTERN = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")


class SpectrogramDataset(ArrayImageDataset):
    """Log-mel images ``(N, 1, n_mels, frames)`` plus their audio and metadata.

    ``labels``: the class of each recording (e.g. the spoken digit); ``speakers``: int speaker
    ids indexing ``speaker_names``; ``waveforms``: float32 ``(N, samples)`` clips at
    ``transform.sample_rate``; ``files``: where each came from.
    """

    def __init__(self, waveforms: torch.Tensor, labels: np.ndarray, speakers: np.ndarray,
                 speaker_names: tuple[str, ...], transform: LogMelSpectrogram,
                 files: list[str] | None = None, *, name: str = "spectrograms",
                 batch_size: int = 256) -> None:
        if waveforms.ndim != 2 or len(waveforms) == 0:
            raise DataError(f"{name}: expected waveforms (N, samples), got "
                            f"{tuple(waveforms.shape)}")
        images = torch.cat([transform(waveforms[i:i + batch_size])
                            for i in range(0, len(waveforms), batch_size)])
        super().__init__(images.unsqueeze(1).numpy(), np.asarray(labels, dtype=np.int64),
                         name=name)
        if len(speakers) != len(waveforms):
            raise DataError(f"{name}: {len(speakers)} speaker ids for {len(waveforms)} clips")
        self.waveforms = waveforms
        self.speakers = np.asarray(speakers, dtype=np.int64)
        self.speaker_names = tuple(speaker_names)
        self.transform = transform
        self.files = list(files) if files is not None else []

    @property
    def sample_rate(self) -> int:
        return self.transform.sample_rate

    def to_audio(self, images: torch.Tensor, num_iter: int = 64,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Waveforms ``(B, frames * hop_length)`` of images ``(B, 1, n_mels, frames)`` (or
        ``(B, n_mels, frames)``) in [0, 1], by the transform's inverse (Griffin-Lim phases)."""
        if images.dim() == 4:
            images = images[:, 0]
        return self.transform.invert(images.detach().cpu(), num_iter=num_iter,
                                     generator=generator)


def list_recordings(folder: Path) -> list[tuple[int, str, int, Path]]:
    """``(digit, speaker, index, path)`` of every WAV in ``folder/recordings`` (or ``folder``
    itself), sorted by (index, speaker, digit); a WAV with another name is a DataError."""
    recordings = folder / "recordings" if (folder / "recordings").is_dir() else folder
    entries = []
    for path in recordings.glob("*.wav"):
        match = FILE_PATTERN.match(path.name)
        if match is None:
            raise DataError(f"fsdd: '{path}' is not named {{digit}}_{{speaker}}_{{index}}.wav")
        entries.append((int(match[1]), match[2], int(match[3]), path))
    if not entries:
        raise DataError(f"fsdd: no WAV files in '{recordings}'; expected the FSDD "
                        "'recordings/' folder ({digit}_{speaker}_{index}.wav)")
    return sorted(entries, key=lambda e: (e[2], e[1], e[0]))


def in_split(index: int, split: str) -> bool:
    return split == "all" or (index in TEST_INDICES) == (split == "test")


def fsdd_pipeline(n_mels: int = 64, clip_seconds: float = 0.8, hop_length: int = 100,
                  n_fft: int = 256, sample_rate: int = SAMPLE_RATE, normalize: str = "peak"
                  ) -> SpectrogramPipeline:
    """The preprocessing of :func:`fsdd` for these options (checked; see the module docstring),
    e.g. to feed a model trained on FSDD with another recording."""
    if normalize not in NORMALIZATIONS:
        raise DataError(f"fsdd: normalize must be one of {', '.join(NORMALIZATIONS)}, got "
                        f"{normalize!r}")
    for option, value in (("n_mels", n_mels), ("hop_length", hop_length), ("n_fft", n_fft),
                          ("sample_rate", sample_rate)):
        if not is_count(value):
            raise DataError(f"fsdd: {option} must be a positive integer, got {value!r}")
    if isinstance(clip_seconds, bool) or not isinstance(clip_seconds, (int, float)) \
            or not clip_seconds > 0:
        raise DataError(f"fsdd: clip_seconds must be a positive number, got {clip_seconds!r}")
    num_samples = clip_samples(clip_seconds, sample_rate)
    if num_samples < hop_length:
        raise DataError(f"fsdd: a clip of {clip_seconds} s is shorter than one hop "
                        f"({hop_length} samples)")
    transform = LogMelSpectrogram(sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length,
                                  n_mels=n_mels)
    return SpectrogramPipeline(transform, num_samples, normalize)


@DATASETS.register("fsdd")
def fsdd(root: str | None = None, split: str = "train", n_mels: int = 64,
         clip_seconds: float = 0.8, hop_length: int = 100, n_fft: int = 256,
         sample_rate: int = SAMPLE_RATE, normalize: str = "peak",
         limit: int | None = None) -> SpectrogramDataset:
    """FSDD log-mel images ``(N, 1, n_mels, frames)`` in [0, 1]; labels = digit; see the module
    docstring. ``root`` defaults to ``$VAEKIT_DATA/fsdd``; ``limit`` keeps the first N."""
    if split not in SPLITS:
        raise DataError(f"fsdd: unknown split '{split}'; valid splits: {', '.join(SPLITS)}")
    if limit is not None and not is_count(limit):
        raise DataError(f"fsdd: limit must be a positive integer, got {limit!r}")
    pipeline = fsdd_pipeline(n_mels, clip_seconds, hop_length, n_fft, sample_rate, normalize)
    folder = dataset_dir("fsdd", root)
    entries = list_recordings(folder)
    speaker_names = tuple(sorted({speaker for _, speaker, _, _ in entries}))
    chosen = [e for e in entries if in_split(e[2], split)][:limit]
    if not chosen:
        raise DataError(f"fsdd: split '{split}' of '{folder}' is empty")
    return SpectrogramDataset(
        torch.stack([pipeline.load(path) for _, _, _, path in chosen]),
        labels=np.array([digit for digit, _, _, _ in chosen]),
        speakers=np.array([speaker_names.index(s) for _, s, _, _ in chosen]),
        speaker_names=speaker_names, transform=pipeline.transform,
        files=[str(path) for _, _, _, path in chosen], name=f"fsdd-{split}")
