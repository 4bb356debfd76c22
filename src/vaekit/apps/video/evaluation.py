"""Video prediction quality: PSNR and SSIM per future time step, and best-of-N over samples.

The protocol of Denton & Fergus (2018, section 4): for each test clip, condition on the first
``context`` frames, draw ``N`` futures of ``horizon`` frames, score each against the true future
frame by frame (PSNR in dB, SSIM of Wang et al. 2004 from
:mod:`vaekit.evaluation.generation.image_metrics`), keep the sample with the best score averaged
over the horizon and report that sample's per-step curve, averaged over clips.

Best-of-N here is the *expected* best of ``N`` samples drawn without replacement from the
``M >= N`` drawn ones (the order-statistic weights ``C(k-1, N-1) / C(M, N)`` on the sample of
rank ``k``), so it uses every sample, is not at the mercy of which ``N`` came first, and cannot
decrease with ``N``; ``N = M`` is the plain best of all ``M`` and ``N = 1`` the mean over samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from vaekit.errors import ShapeError
from vaekit.evaluation.generation.image_metrics import psnr, ssim


def frame_scores(pred: torch.Tensor, truth: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-frame PSNR and SSIM of predictions ``(..., T, C, H, W)`` against ``truth`` of the
    same shape (or broadcastable over leading sample dims); each result has shape ``(..., T)``.
    PSNR of a perfect frame is capped at 100 dB so averages stay finite."""
    truth = truth.expand_as(pred)
    lead = pred.shape[:-3]
    flat_p, flat_t = pred.reshape(-1, *pred.shape[-3:]), truth.reshape(-1, *truth.shape[-3:])
    return {"psnr": psnr(flat_p, flat_t).clamp(max=100.0).view(lead),
            "ssim": ssim(flat_p, flat_t).view(lead)}


def best_of_n_weights(num_drawn: int, n: int) -> torch.Tensor:
    """Weights ``(num_drawn,)`` on samples sorted by ascending score that give the expected
    maximum of ``n`` of them drawn without replacement: ``C(k-1, n-1) / C(M, n)`` for rank k."""
    if not 1 <= n <= num_drawn:
        raise ValueError(f"best-of-{n} needs 1 <= N <= {num_drawn} (the samples drawn)")
    total = math.comb(num_drawn, n)
    return torch.tensor([math.comb(k - 1, n - 1) / total for k in range(1, num_drawn + 1)],
                        dtype=torch.float64)


def best_of_n_curves(scores: torch.Tensor, ns: Sequence[int]) -> dict[int, torch.Tensor]:
    """Per-step curves ``(T,)`` of the expected best-of-N sample for scores ``(S, B, T)``
    (S samples, B clips, T steps), ranking samples per clip by their mean over the steps."""
    if scores.dim() != 3:
        raise ShapeError(f"scores must be (samples, clips, steps), got {tuple(scores.shape)}")
    s = scores.shape[0]
    order = scores.mean(2).argsort(dim=0)  # (S, B) ascending per clip
    ranked = scores.gather(0, order[..., None].expand_as(scores)).double()  # (S, B, T)
    return {n: torch.einsum("s,sbt->t", best_of_n_weights(s, n), ranked) / scores.shape[1]
            for n in ns}


@torch.no_grad()
def evaluate_predictions(model: Any, clips: torch.Tensor, *, context: int = 5,
                         horizon: int = 10, num_samples: int = 100,
                         ns: Sequence[int] = (1, 10, 100), chunk: int = 8,
                         seed: int = 0) -> dict[str, Any]:
    """Best-of-N per-step PSNR/SSIM of ``model.predict`` on clips ``(B, T, C, H, W)``.

    Uses frames ``0..context-1`` as context and scores frames ``context..context+horizon-1``.
    A deterministic model (``latent_dim == 0``) is rolled out once (its samples are all the
    same). Returns ``{"ssim": {N: [T values]}, "psnr": {...}, "ssim_mean": {N: mean}, ...}``
    with ``N`` as strings (JSON keys), plus the protocol (clips, samples, steps).
    """
    if clips.dim() != 5 or clips.shape[1] < context + horizon:
        raise ShapeError(f"clips {tuple(clips.shape)} must be (B, T, C, H, W) with "
                         f"T >= context + horizon = {context + horizon}")
    deterministic = model.latent_dim == 0
    samples = 1 if deterministic else num_samples
    ns = [1] if deterministic else sorted({int(n) for n in ns if n <= samples})
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    per_metric: dict[str, list[torch.Tensor]] = {"ssim": [], "psnr": []}
    try:
        for start in range(0, len(clips), chunk):
            part = clips[start:start + chunk]
            future = part[:, context:context + horizon]
            pred = model.predict(part[:, :context], horizon, num_samples=samples,
                                 generator=generator)  # (S, b, horizon, C, H, W)
            scores = frame_scores(pred, future[None])
            for key in per_metric:
                per_metric[key].append(scores[key])  # (S, b, horizon)
    finally:
        model.train(was_training)
    out: dict[str, Any] = {"num_clips": len(clips), "num_samples": samples, "context": context,
                           "horizon": horizon}
    for key, parts in per_metric.items():
        curves = best_of_n_curves(torch.cat(parts, dim=1), ns)
        out[key] = {str(n): [round(float(v), 4) for v in c] for n, c in curves.items()}
        out[f"{key}_mean"] = {str(n): round(float(c.mean()), 4) for n, c in curves.items()}
    return out
