"""Multi-scale structural similarity (MS-SSIM), differentiable, batched in torch.

Wang, Simoncelli & Bovik (2003), "Multiscale Structural Similarity for Image Quality
Assessment", Asilomar Conference on Signals, Systems and Computers, eq. 7::

    MS-SSIM(x, y) = l_M(x, y)^alpha_M * prod_{j=1..M} cs_j(x, y)^beta_j

Scale 1 is the image itself; each further scale low-pass filters and downsamples by 2 (a 2 x 2
average, as in the authors' MATLAB code). ``cs_j`` is the mean contrast-structure term of
SSIM (Wang et al. 2004) at scale j and, at the coarsest scale M, the luminance term is folded in
by using the mean SSIM there (again as the authors' code does), so with one scale MS-SSIM *is*
SSIM. Local statistics use the 11 x 11 Gaussian window (sigma 1.5) with ``K1 = 0.01``,
``K2 = 0.03`` over the valid part of the image, matching
:func:`vaekit.evaluation.generation.image_metrics.ssim` (including its rule for images smaller than
the window: the largest odd window that fits).

Scales and weights: the paper's five scales weigh ``(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)``
(alpha_M = beta_M = 0.1333). Five scales need the coarsest image to hold the window, i.e. sides of
at least 11 * 16 = 176 pixels. For smaller images this module uses as many scales as fit
(the largest M <= 5 with ``min(H, W) / 2^(M-1) >= window_size``, at least one) and renormalises
the first M weights to sum to 1 (five scales keep the published weights), so the value stays a
weighted geometric mean of similarities in [0, 1]: e.g. 64 x 64 images get 3 scales, 28 x 28
get 2, 8 x 8 get 1 (plain SSIM).

Each scale's term is clamped at 0 before the fractional power (negative structure correlation
would make it undefined); MS-SSIM is computed per channel and averaged over channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. (2003), calibrated weights


def num_scales(height: int, width: int, window_size: int = 11,
               max_scales: int = len(MS_SSIM_WEIGHTS)) -> int:
    """How many scales fit: the largest M <= ``max_scales`` whose coarsest image,
    ``min(H, W) / 2^(M-1)``, still holds the window; at least 1."""
    scales = 1
    while scales < max_scales and min(height, width) / 2**scales >= window_size:
        scales += 1
    return scales


def scale_weights(scales: int) -> tuple[float, ...]:
    """The first ``scales`` standard weights, renormalised to sum to 1; all five are the
    published ones as they are (they sum to 1.0001 by rounding)."""
    if not 1 <= scales <= len(MS_SSIM_WEIGHTS):
        raise ValueError(f"MS-SSIM has 1 to {len(MS_SSIM_WEIGHTS)} scales, got {scales}")
    if scales == len(MS_SSIM_WEIGHTS):
        return MS_SSIM_WEIGHTS
    kept = MS_SSIM_WEIGHTS[:scales]
    return tuple(w / sum(kept) for w in kept)


def gaussian_window(size: int, sigma: float, dtype: torch.dtype, device: torch.device
                    ) -> torch.Tensor:
    """A normalised ``size x size`` Gaussian window."""
    coords = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim_and_cs(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, *,
                window_size: int = 11, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean SSIM, mean contrast-structure term), each per image and channel ``(N, C)``, of
    images ``(N, C, H, W)``; the window shrinks to the largest odd size that fits."""
    channels, height, width = x.shape[1:]
    size = min(window_size, height, width)
    size -= 1 - size % 2  # odd
    weight = gaussian_window(size, sigma, x.dtype, x.device).expand(channels, 1, size, size)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, weight, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    sigma_xx = blur(x * x) - mu_x * mu_x
    sigma_yy = blur(y * y) - mu_y * mu_y
    sigma_xy = blur(x * y) - mu_x * mu_y
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    cs_map = (2 * sigma_xy + c2) / (sigma_xx + sigma_yy + c2)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    return (luminance * cs_map).flatten(2).mean(-1), cs_map.flatten(2).mean(-1)


def ms_ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, *,
            scales: int | None = None, window_size: int = 11, sigma: float = 1.5,
            k1: float = 0.01, k2: float = 0.03) -> torch.Tensor:
    """MS-SSIM of each image pair, shape ``(N,)``, for images ``(N, C, H, W)`` with values in
    a range of width ``data_range``. ``scales=None``: as many as fit (see the module doc).

    1 for identical images, symmetric in x and y, in [0, 1]; differentiable (the clamp at 0
    has zero gradient below it).
    """
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"expected two image batches (N, C, H, W) of one shape, got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    if scales is None:
        scales = num_scales(x.shape[-2], x.shape[-1], window_size)
    weights = scale_weights(scales)
    options = {"window_size": window_size, "sigma": sigma, "k1": k1, "k2": k2}
    value = x.new_ones(x.shape[:2])
    for j, weight in enumerate(weights):
        ssim_j, cs_j = ssim_and_cs(x, y, data_range, **options)
        term = ssim_j if j == scales - 1 else cs_j
        value = value * term.clamp_min(0.0) ** weight
        if j < scales - 1:
            # 2 x 2 average then keep every other pixel; ceil_mode keeps an odd edge row.
            x, y = F.avg_pool2d(x, 2, ceil_mode=True), F.avg_pool2d(y, 2, ceil_mode=True)
    return value.mean(dim=1)
