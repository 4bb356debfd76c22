"""WAV I/O: round trips, resampling, and clear errors for missing, corrupt or non-WAV files."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile
import torch

from vaekit.audio import read_wav, resample, write_wav
from vaekit.errors import DataError

RATE = 8000


def tone(freq: float = 440.0, seconds: float = 0.25, rate: int = RATE, amp: float = 0.5
         ) -> torch.Tensor:
    t = torch.arange(int(seconds * rate)) / rate
    return amp * torch.sin(2 * math.pi * freq * t)


def test_pcm16_round_trip_is_within_one_quantisation_step(tmp_path):
    wave = tone()
    path = write_wav(tmp_path / "sub" / "a.wav", wave, RATE)
    back, rate = read_wav(path)
    assert rate == RATE and back.dtype == torch.float32 and back.shape == wave.shape
    assert (back - wave).abs().max() <= 1 / 32768 + 1e-7
    info = soundfile.info(str(path))
    assert info.format == "WAV" and info.subtype == "PCM_16"


def test_float_round_trip_is_exact_and_pcm_clips(tmp_path):
    wave = tone(amp=1.5)
    back, _ = read_wav(write_wav(tmp_path / "f.wav", wave, RATE, subtype="FLOAT"))
    assert torch.equal(back, wave)  # float32 WAV keeps values outside [-1, 1]
    clipped, _ = read_wav(write_wav(tmp_path / "p.wav", wave, RATE))
    assert clipped.abs().max() <= 1.0 and clipped.abs().max() > 0.99


def test_stereo_is_averaged_to_mono_or_kept(tmp_path):
    left, right = tone(440), tone(660, amp=0.25)
    path = write_wav(tmp_path / "s.wav", torch.stack([left, right]), RATE, subtype="FLOAT")
    mono, _ = read_wav(path)
    torch.testing.assert_close(mono, (left + right) / 2)
    both, _ = read_wav(path, mono=False)
    assert both.shape == (2, len(left))


def test_resampling_keeps_the_tone_and_the_duration(tmp_path):
    path = write_wav(tmp_path / "a.wav", tone(440, seconds=0.5), RATE, subtype="FLOAT")
    up, rate = read_wav(path, sample_rate=16000)
    assert rate == 16000 and len(up) == 8000
    spectrum = np.abs(np.fft.rfft(up.numpy()))
    assert abs(np.argmax(spectrum) * 16000 / len(up) - 440) <= 2
    down = resample(tone(440, seconds=0.5).numpy(), RATE, 4000)
    assert isinstance(down, np.ndarray) and len(down) == 2000


@pytest.mark.parametrize("content", [
    b"",  # empty
    b"hello, I am a text file\n" * 20,  # not audio at all
    b"RIFF\x24\x00\x00\x00WAVEfmt garbage garbage garbage",  # a broken WAV header
])
def test_corrupt_files_are_data_errors_naming_the_file(tmp_path, content):
    path = tmp_path / "broken.wav"
    path.write_bytes(content)
    with pytest.raises(DataError, match="broken.wav"):
        read_wav(path)


def test_truncated_wav_is_an_error(tmp_path):
    path = write_wav(tmp_path / "t.wav", tone(), RATE)
    path.write_bytes(path.read_bytes()[:30])  # the header cut in the middle
    with pytest.raises(DataError, match="t.wav"):
        read_wav(path)


def test_non_wav_audio_is_refused(tmp_path):
    path = tmp_path / "a.flac"
    soundfile.write(str(path), tone().numpy(), RATE, format="FLAC")
    with pytest.raises(DataError, match="FLAC.*not WAV"):
        read_wav(path)


def test_missing_file_and_bad_output(tmp_path):
    with pytest.raises(DataError, match="not found.*nope.wav"):
        read_wav(tmp_path / "nope.wav")
    with pytest.raises(DataError, match="NaN"):
        write_wav(tmp_path / "n.wav", torch.tensor([0.0, float("nan")]), RATE)
    with pytest.raises(DataError, match="shape"):
        write_wav(tmp_path / "n.wav", torch.zeros(1, 2, 3), RATE)
