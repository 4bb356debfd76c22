"""Stochastic Moving MNIST: digits stay inside the frame, clips are a function of the seed, and
bounces draw new speeds (the deterministic variant reverses them)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaekit.apps.video.moving_mnist import MovingDigits, bouncing_trajectory, moving_mnist
from vaekit.errors import DataError
from vaekit.registry import DATASETS


def _inner_speeds(corners: np.ndarray, limit: int, axis: int) -> set[int]:
    """Speeds along ``axis`` of the steps that neither start nor end on a wall (clamped
    steps into a wall are shorter in both recipes)."""
    pos = corners[:, axis]
    inside = (pos > 0) & (pos < limit)
    steps = np.abs(np.diff(pos))
    return {int(v) for v, a, b in zip(steps, inside[:-1], inside[1:]) if a and b}


@pytest.mark.parametrize("deterministic", [False, True])
def test_trajectories_stay_inside_and_bounce(deterministic):
    """Inside the frame always; bounces keep the speed in plain Moving MNIST and redraw it in
    the stochastic version (so one clip then moves at several speeds along an axis)."""
    rng = np.random.default_rng(0)
    several_speeds = 0
    for _ in range(200):
        corners = bouncing_trajectory(rng, 40, limit=32, max_speed=4,
                                      deterministic=deterministic)
        assert corners.min() >= 0 and corners.max() <= 32
        assert np.abs(np.diff(corners, axis=0)).max() <= 4
        several_speeds += sum(len(_inner_speeds(corners, 32, axis)) > 1 for axis in (0, 1))
    if deterministic:
        assert several_speeds == 0
    else:
        assert several_speeds > 50


def test_synthetic_digits_clip_keeps_every_digit_inside():
    glyphs = torch.rand(5, 8, 8)
    data = MovingDigits(glyphs, num_sequences=20, seq_len=12, num_digits=1, size=24, seed=3)
    for i in range(20):
        clip = data[i]
        assert clip.shape == (12, 1, 24, 24)
        which, corners = data._layout(i)
        # All of the digit's ink is in every frame: nothing was cut at a border.
        torch.testing.assert_close(clip.sum(dim=(1, 2, 3)),
                                   glyphs[which[0]].sum().expand(12))
        assert corners.min() >= 0 and corners.max() <= 24 - 8


def test_bad_options_are_data_errors():
    glyphs = torch.rand(3, 8, 8)
    with pytest.raises(DataError, match="seq_len"):
        MovingDigits(glyphs, num_sequences=4, seq_len=0)
    with pytest.raises(DataError, match="do not fit"):
        MovingDigits(glyphs, num_sequences=4, size=6)
    with pytest.raises(DataError, match="split"):
        moving_mnist(split="valid")


def test_sm_mnist_from_the_real_digits(shared_data):
    data = DATASETS.build("moving_mnist", split="test", num_sequences=50, num_digits=1, seed=0)
    assert data.data_shape == (1, 64, 64) and len(data) == 50
    for i in range(0, 50, 7):
        clip = data[i]
        assert clip.shape == (15, 1, 64, 64) and clip.min() >= 0 and clip.max() <= 1
        which, corners = data._layout(i)
        mass = data.digits[which[0]].sum()
        torch.testing.assert_close(clip.sum(dim=(1, 2, 3)), mass.expand(15))
        assert corners.min() >= 0 and corners.max() <= 64 - 32
    # Deterministic for a seed; another seed or index is another clip.
    again = DATASETS.build("moving_mnist", split="test", num_sequences=50, num_digits=1, seed=0)
    other = DATASETS.build("moving_mnist", split="test", num_sequences=50, num_digits=1, seed=1)
    assert torch.equal(data[3], again[3])
    assert not torch.equal(data[3], other[3]) and not torch.equal(data[3], data[4])
    two = DATASETS.build("moving_mnist", split="test", num_sequences=5)  # the paper's 2 digits
    assert two[0].max() <= 1 and two.num_digits == 2


@pytest.mark.filterwarnings("ignore:.*full training images not found.*")
def test_train_and_test_clips_use_their_own_digits(shared_data):
    train = moving_mnist(split="train", num_sequences=3, digit_limit=100)
    test = moving_mnist(split="test", num_sequences=3, digit_limit=100)
    assert not torch.equal(train.digits, test.digits)
    assert train.digits.shape == (100, 32, 32)


def test_moving_dsprites_factors_change_over_time_and_render_the_frames():
    data = DATASETS.build("moving_dsprites", num_sequences=30, seq_len=12)
    assert data.data_shape == (1, 64, 64)
    moved = turned = rescaled = 0
    for i in range(30):
        f = data.factors(i)
        assert f.shape == (12, 5) and (f >= 0).all() and (f < np.array(data.factor_sizes)).all()
        assert (f[:, 0] == f[0, 0]).all()  # the shape is kept
        turn = np.diff(f[:, 2]) % 40
        assert (turn == turn[0]).all()  # constant spin
        assert np.abs(np.diff(f[:, 1])).max() <= 1  # scale moves one step at a time
        assert np.abs(np.diff(f[:, 3:], axis=0)).max() <= 2
        moved += int(np.abs(np.diff(f[:, 3:], axis=0)).sum() > 0)
        turned += int(turn[0] != 0)
        rescaled += int(len(set(f[:, 1])) > 1)
    assert moved > 20 and turned > 10 and rescaled == 30
    clip = data[5]
    assert torch.equal(clip, data.renderer.render(data.factors(5)))
    again = DATASETS.build("moving_dsprites", num_sequences=30, seq_len=12)
    other = DATASETS.build("moving_dsprites", num_sequences=30, seq_len=12, split="test")
    assert np.array_equal(again.factors(7), data.factors(7))
    assert not np.array_equal(other.factors(7), data.factors(7))
    with pytest.raises(DataError, match="split"):
        DATASETS.build("moving_dsprites", split="valid")
