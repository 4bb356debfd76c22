"""FSDD: the real recordings (official split, labels, speakers, image range) and small synthetic
folders for the options and the errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from vaekit.audio import write_wav
from vaekit.data.fsdd import fsdd
from vaekit.errors import ConfigError, DataError
from vaekit.registry import DATASETS

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")


@pytest.fixture(scope="module")
def fsdd_root(shared_data: Path) -> Path:
    folder = shared_data / "fsdd"
    if not folder.is_dir():
        pytest.skip(f"real data folder {folder} is absent")
    return folder


@pytest.fixture(scope="module")
def train_set(fsdd_root):
    return fsdd(split="train")  # found through VAEKIT_DATA (set by shared_data)


@pytest.fixture(scope="module")
def test_set(fsdd_root):
    return DATASETS.build("fsdd", root=str(fsdd_root), split="test")


def test_official_split_sizes_labels_and_speakers(train_set, test_set):
    assert len(train_set) == 2700 and len(test_set) == 300
    for data, per_class in ((train_set, 45), (test_set, 5)):
        assert data.speaker_names == SPEAKERS
        # 10 digits x 6 speakers, each pair equally often.
        pairs = np.bincount(data.labels * 6 + data.speakers, minlength=60)
        assert np.all(pairs == per_class)
    test_indices = {int(Path(f).stem.split("_")[2]) for f in test_set.files}
    train_indices = {int(Path(f).stem.split("_")[2]) for f in train_set.files}
    assert test_indices == set(range(5)) and train_indices == set(range(5, 50))
    name = Path(test_set.files[7]).stem.split("_")
    assert (int(name[0]), name[1]) == (test_set.labels[7], SPEAKERS[test_set.speakers[7]])


def test_images_shape_range_and_audio(train_set, test_set):
    assert train_set.data_shape == (1, 64, 64)
    x = train_set[0]
    assert x.dtype == torch.float32 and x.shape == (1, 64, 64)
    images = test_set.images
    assert images.min() >= 0 and images.max() <= 1
    assert 0.05 < float(images.mean()) < 0.6  # speech over a floor of silence, not saturated
    assert test_set.waveforms.shape == (300, 6400)
    assert test_set.waveforms.abs().amax(dim=1).max() <= 10 ** (-1 / 20) + 1e-4  # -1 dBFS peak
    # The images come back as audio whose spectrogram is close to them.
    wave = test_set.to_audio(images[:4], num_iter=16, generator=torch.Generator().manual_seed(0))
    assert wave.shape == (4, 6400)
    assert (test_set.transform(wave) - images[:4, 0]).abs().mean() < 0.03


def test_options_and_limit(fsdd_root):
    data = fsdd(root=str(fsdd_root), split="all", n_mels=32, hop_length=50, limit=70)
    assert len(data) == 70 and data.data_shape == (1, 32, 128)
    assert set(data.labels.tolist()) == set(range(10)) and len(set(data.speakers)) == 6


# ------------------------------------------------------------------- synthetic folders
def _tone(freq: float, seconds: float, rate: int) -> torch.Tensor:
    t = torch.arange(int(seconds * rate)) / rate
    return 0.3 * torch.sin(2 * math.pi * freq * t)


@pytest.fixture
def tiny_root(tmp_path) -> Path:
    rec = tmp_path / "fsdd" / "recordings"
    for digit in range(2):
        for speaker in ("ann", "bob"):
            for index in (0, 7):
                write_wav(rec / f"{digit}_{speaker}_{index}.wav",
                          _tone(300 + 200 * digit, 0.3 + 0.7 * index / 7, 8000), 8000)
    return tmp_path / "fsdd"


def test_a_tiny_folder_and_resampling(tiny_root):
    data = fsdd(root=str(tiny_root), split="train")
    assert len(data) == 4 and data.speaker_names == ("ann", "bob")
    assert data.data_shape == (1, 64, 64)
    test = fsdd(root=str(tiny_root), split="test", sample_rate=16000, n_fft=512, hop_length=200)
    assert len(test) == 4 and test.waveforms.shape == (4, 12800) and test.sample_rate == 16000
    assert fsdd(root=str(tiny_root), split="all", normalize="none").waveforms.abs().max() \
        == pytest.approx(0.3, abs=1e-3)


def test_errors(tiny_root, tmp_path):
    with pytest.raises(DataError, match="split"):
        fsdd(root=str(tiny_root), split="valid")
    with pytest.raises(DataError, match="normalize"):
        fsdd(root=str(tiny_root), normalize="loud")
    with pytest.raises(DataError, match="n_mels"):
        fsdd(root=str(tiny_root), n_mels=0)
    with pytest.raises(ConfigError, match="mel filters"):
        fsdd(root=str(tiny_root), n_mels=256)
    with pytest.raises(DataError, match="no WAV"):
        fsdd(root=str(tmp_path))
    (tiny_root / "recordings" / "hello.wav").write_bytes(b"x")
    with pytest.raises(DataError, match="hello.wav"):
        fsdd(root=str(tiny_root))
    (tiny_root / "recordings" / "hello.wav").unlink()
    (tiny_root / "recordings" / "1_ann_9.wav").write_bytes(b"not audio")
    with pytest.raises(DataError, match="1_ann_9.wav"):
        fsdd(root=str(tiny_root))
