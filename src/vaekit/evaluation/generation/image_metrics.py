"""Per-image reconstruction quality: PSNR and SSIM, batched in torch.

* PSNR: ``10 log10(data_range^2 / MSE)`` per image (MSE over all channels and pixels); ``inf``
  for identical images.
* SSIM: Wang, Bovik, Sheikh & Simoncelli (2004), "Image Quality Assessment: From Error
  Visibility to Structural Similarity", IEEE TIP 13(4): local means, variances and covariance
  under an 11x11 Gaussian window (sigma 1.5), ``K1 = 0.01``, ``K2 = 0.03``, computed per channel
  over the valid part of the image (no padding, as in the authors' MATLAB code) and averaged
  over channels and positions. Images smaller than 11 pixels on a side use the largest odd
  window that fits (same sigma), so tiny test images get a value rather than an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from vaekit.evaluation.likelihood import DataLike, evaluating, iter_batches, model_device
from vaekit.losses.ms_ssim import ssim_and_cs

if TYPE_CHECKING:
    from vaekit.models.base import BaseVAE


def _pair(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if x.shape != y.shape:
        raise ValueError(f"images must have the same shape, got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")
    if x.dim() == 3:  # one (C, H, W) image
        x, y = x.unsqueeze(0), y.unsqueeze(0)
    if x.dim() != 4:
        raise ValueError(f"expected images (N, C, H, W) or (C, H, W), got {tuple(x.shape)}")
    dtype = torch.promote_types(torch.promote_types(x.dtype, y.dtype), torch.float32)
    return x.to(dtype), y.to(dtype)


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio (dB) of each image pair, shape ``(N,)``; ``inf`` if equal."""
    x, y = _pair(x, y)
    mse = (x - y).pow(2).flatten(1).mean(dim=1)
    return 10.0 * torch.log10(data_range**2 / mse)


def ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    data_range: float = 1.0,
    *,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """Mean structural similarity (Wang et al. 2004) of each image pair, shape ``(N,)``.

    1 for identical images, symmetric in ``x`` and ``y``, at most 1.
    """
    x, y = _pair(x, y)
    per_channel, _ = ssim_and_cs(x, y, data_range, window_size=window_size, sigma=sigma,
                                 k1=k1, k2=k2)  # (N, C)
    return per_channel.mean(dim=1)


def reconstruction_quality(
    model: BaseVAE,
    data: DataLike,
    *,
    max_examples: int | None = None,
    batch_size: int = 256,
    data_range: float = 1.0,
) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of ``model.reconstruct(x)`` against ``x`` over the data.

    Returns ``{"psnr": ..., "ssim": ..., "num_examples": ...}``. The mean PSNR is ``inf`` if any
    reconstruction is perfect. ``data``: a tensor/array, a Dataset or an iterable of batches
    (see :func:`~vaekit.evaluation.likelihood.iter_batches`).
    """
    psnr_sum, ssim_sum, count = 0.0, 0.0, 0
    with evaluating(model):
        for x in iter_batches(data, batch_size, max_examples, model_device(model),
                              model.data_shape):
            model.check_input(x)
            recon = model.reconstruct(x)
            psnr_sum += float(psnr(recon, x, data_range).double().sum())
            ssim_sum += float(ssim(recon, x, data_range).double().sum())
            count += len(x)
    if count == 0:
        raise ValueError("no data to reconstruct")
    return {"psnr": psnr_sum / count, "ssim": ssim_sum / count, "num_examples": count}
