"""Best-of-N scoring and the prediction pictures."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit.apps.video.evaluation import (
    best_of_n_curves,
    best_of_n_weights,
    evaluate_predictions,
    frame_scores,
)
from vaekit.apps.video.viz import prediction_frames, save_prediction_gif, save_prediction_strip
from vaekit.models import build_model


def test_best_of_n_is_the_expected_best_of_n_random_samples():
    scores = torch.rand(6, 3, 4, generator=torch.Generator().manual_seed(0))  # (S, B, T)
    curves = best_of_n_curves(scores, [1, 2, 3, 6])
    for n in (2, 3):  # brute force over every subset of n samples
        total = torch.zeros(4, dtype=torch.float64)
        subsets = list(itertools.combinations(range(6), n))
        for subset in subsets:
            pick = scores[list(subset)]
            best = pick.mean(2).argmax(0)  # per clip
            total += pick[best, torch.arange(3)].double().mean(0)
        torch.testing.assert_close(curves[n], total / len(subsets))
    torch.testing.assert_close(curves[1], scores.double().mean((0, 1)))
    best = scores.mean(2).argmax(0)
    torch.testing.assert_close(curves[6], scores[best, torch.arange(3)].double().mean(0))
    means = [float(curves[n].mean()) for n in (1, 2, 3, 6)]
    assert means == sorted(means) and means[0] < means[-1]


def test_weights_sum_to_one_and_reject_bad_n():
    for n in (1, 5, 10):
        w = best_of_n_weights(10, n)
        assert float(w.sum()) == pytest.approx(1.0) and (w >= 0).all()
    with pytest.raises(ValueError, match="best-of-11"):
        best_of_n_weights(10, 11)


def test_frame_scores_of_perfect_and_wrong_predictions():
    truth = torch.rand(2, 3, 1, 16, 16)
    perfect = frame_scores(truth, truth)
    assert perfect["ssim"].shape == (2, 3)
    torch.testing.assert_close(perfect["ssim"], torch.ones(2, 3))
    assert (perfect["psnr"] == 100).all()
    noisy = frame_scores((truth + 0.2 * torch.randn_like(truth)).clamp(0, 1), truth)
    assert (noisy["ssim"] < 0.99).all() and (noisy["psnr"] < 30).all()


@pytest.mark.parametrize("prior", ["learned", "deterministic"])
def test_evaluate_predictions_protocol(prior):
    torch.manual_seed(0)
    model = build_model({"type": "svg", "prior": prior, "data_shape": [1, 16, 16],
                         "channels": [4, 8], "g_dim": 8, "z_dim": 2, "predictor_hidden": 8,
                         "predictor_layers": 1, "posterior_hidden": 8, "prior_hidden": 8})
    clips = torch.rand(5, 6, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    out = evaluate_predictions(model, clips, context=2, horizon=4, num_samples=6, ns=(1, 3, 6),
                               chunk=2)
    expected_ns = ["1", "3", "6"] if prior == "learned" else ["1"]
    assert list(out["ssim"]) == expected_ns and list(out["psnr_mean"]) == expected_ns
    assert all(len(v) == 4 for v in out["ssim"].values())
    assert out["num_samples"] == (6 if prior == "learned" else 1)
    ssim = [out["ssim_mean"][n] for n in expected_ns]
    assert ssim == sorted(ssim)
    with pytest.raises(Exception, match="context \\+ horizon"):
        evaluate_predictions(model, clips, context=3, horizon=4)


def test_prediction_gif_and_strip(tmp_path):
    context, truth = torch.rand(3, 1, 8, 8), torch.rand(4, 1, 8, 8)
    samples = torch.rand(2, 4, 1, 8, 8)
    frames = prediction_frames(context, truth, samples)
    assert len(frames) == 3 + 4
    tile = 8 + 4  # 2-pixel coloured border
    assert frames[0].shape == (tile, 3 * tile + 2 * 2, 3)
    # The truth column of a future frame shows the true frame inside its border.
    inner = frames[3 + 1][2:10, 2:10, 0]
    np.testing.assert_array_equal(inner, np.rint(truth[1, 0].numpy() * 255).astype(np.uint8))
    gif = save_prediction_gif(context, truth, samples, tmp_path / "p.gif")
    with Image.open(gif) as image:
        assert image.n_frames >= 2
    png = save_prediction_strip(context, truth, samples, tmp_path / "p.png")
    with Image.open(png) as image:
        assert image.size == (7 * tile + 6 * 2, 3 * tile + 2 * 2)
    with pytest.raises(Exception, match="do not match"):
        prediction_frames(context, truth, torch.rand(2, 3, 1, 8, 8))
