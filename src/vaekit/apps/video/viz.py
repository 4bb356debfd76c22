"""Pictures of video predictions: an animated GIF of the context and several sampled futures
beside the ground truth, and a still strip (rows: truth, samples; columns: time steps).

Frames are framed by a coloured border: green while they are context (true frames shown to the
model), red once they are predicted, so the two phases are told apart at a glance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vaekit.errors import ShapeError
from vaekit.viz.grid import save_array, save_gif, to_uint8

CONTEXT_COLOUR = (40, 170, 60)
PREDICTED_COLOUR = (200, 40, 40)
TRUTH_COLOUR = (120, 120, 120)


def _rgb(frame: torch.Tensor) -> np.ndarray:
    """``(C, H, W)`` in [0, 1] -> uint8 ``(H, W, 3)``."""
    array = to_uint8(frame.detach().float().cpu().numpy())
    if array.shape[0] == 1:
        array = np.repeat(array, 3, axis=0)
    return array.transpose(1, 2, 0)


def _bordered(frame: torch.Tensor, colour: tuple[int, int, int], width: int = 2) -> np.ndarray:
    image = _rgb(frame)
    h, w = image.shape[:2]
    out = np.empty((h + 2 * width, w + 2 * width, 3), dtype=np.uint8)
    out[:] = colour
    out[width:width + h, width:width + w] = image
    return out


def _row(tiles: list[np.ndarray], gap: int = 2) -> np.ndarray:
    h = tiles[0].shape[0]
    spacer = np.full((h, gap, 3), 255, dtype=np.uint8)
    parts = []
    for tile in tiles:
        parts += [tile, spacer]
    return np.concatenate(parts[:-1], axis=1)


def _check(context: torch.Tensor, truth: torch.Tensor, samples: torch.Tensor) -> None:
    if context.dim() != 4 or truth.dim() != 4 or samples.dim() != 5:
        raise ShapeError("expected context (Tc, C, H, W), truth (T, C, H, W) and samples "
                         f"(S, T, C, H, W); got {tuple(context.shape)}, {tuple(truth.shape)}, "
                         f"{tuple(samples.shape)}")
    if samples.shape[1:] != truth.shape or context.shape[1:] != truth.shape[1:]:
        raise ShapeError(f"samples {tuple(samples.shape)} do not match the true future "
                         f"{tuple(truth.shape)} / context {tuple(context.shape)}")


def prediction_frames(context: torch.Tensor, truth: torch.Tensor, samples: torch.Tensor
                      ) -> list[np.ndarray]:
    """GIF frames: each is one row ``[ground truth | sample 1 | ... | sample S]``; during the
    context every column shows the true frame (green border), then the truth (grey border) and
    each sampled future (red border)."""
    _check(context, truth, samples)
    frames = []
    for frame in context:
        tile = _bordered(frame, CONTEXT_COLOUR)
        frames.append(_row([tile] * (1 + len(samples))))
    for t in range(len(truth)):
        tiles = [_bordered(truth[t], TRUTH_COLOUR)]
        tiles += [_bordered(s[t], PREDICTED_COLOUR) for s in samples]
        frames.append(_row(tiles))
    return frames


def save_prediction_gif(context: torch.Tensor, truth: torch.Tensor, samples: torch.Tensor,
                        path: str | Path, duration_ms: int = 250) -> Path:
    """Animated GIF of the context then the true future beside ``S`` sampled futures."""
    return save_gif(prediction_frames(context, truth, samples), path, duration_ms)


def save_prediction_strip(context: torch.Tensor, truth: torch.Tensor, samples: torch.Tensor,
                          path: str | Path) -> Path:
    """PNG: row 0 the true clip (context then future), rows 1..S the context then each sample."""
    _check(context, truth, samples)
    ctx_tiles = [_bordered(f, CONTEXT_COLOUR) for f in context]
    rows = [_row(ctx_tiles + [_bordered(f, TRUTH_COLOUR) for f in truth])]
    for sample in samples:
        rows.append(_row(ctx_tiles + [_bordered(f, PREDICTED_COLOUR) for f in sample]))
    gap = np.full((2, rows[0].shape[1], 3), 255, dtype=np.uint8)
    stacked = []
    for row in rows:
        stacked += [row, gap]
    return save_array(np.concatenate(stacked[:-1], axis=0), path)
