"""The model behind the explorer: decode, encode, sample and interpolate, one request at a time.

Web servers answer requests from several threads; the model is shared, so every call into it
holds one lock (concurrent forward passes would also just fight over the same CPU cores).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from vaekit.evaluation.likelihood import model_device
from vaekit.explorer.dims import Slider, make_sliders
from vaekit.explorer.validation import RequestError

if TYPE_CHECKING:
    from vaekit.models.base import BaseVAE

Z_LIMIT = 10.0  # |z_d| accepted from requests: far outside any prior's mass, still finite
SLIDER_RANGE = 3.0  # the sliders span +-3 standard deviations of an N(0, I) prior


class Explorer:
    """Thread-safe access to ``model`` for the web app."""

    def __init__(self, model: BaseVAE, sliders: Sequence[Slider] | None = None, *,
                 z_limit: float = Z_LIMIT, slider_range: float = SLIDER_RANGE) -> None:
        self.model = model.eval()
        self.sliders = list(sliders) if sliders is not None else make_sliders(model.latent_dim)
        self.z_limit = float(z_limit)
        self.slider_range = float(slider_range)
        self._device = model_device(model)
        self._lock = threading.Lock()

    @property
    def latent_dim(self) -> int:
        return int(self.model.latent_dim)

    @property
    def modality(self) -> str:
        """``"image"`` for ``(C, H, W)`` data, ``"audio"`` for ``(C, T)`` waveforms."""
        return "audio" if len(self.model.data_shape) == 2 else "image"

    def info(self) -> dict[str, Any]:
        """What the page needs to draw itself (``GET /api/info``)."""
        return {
            "model_type": getattr(self.model.config, "config_type", type(self.model).__name__),
            "latent_dim": self.latent_dim,
            "data_shape": list(self.model.data_shape),
            "modality": self.modality,
            "sliders": [{"dim": s.dim, "label": s.label, "kl": s.kl} for s in self.sliders],
            "initial_z": self.initial_latent().tolist(),
            "z_limit": self.z_limit,
            "slider_range": self.slider_range,
        }

    def initial_latent(self) -> torch.Tensor:
        """The prior mean where the prior has a usable one, else zeros."""
        try:
            with self._lock, torch.no_grad():
                mean = self.model.prior().mean.detach().float().cpu().reshape(-1)
        except (NotImplementedError, AttributeError, RuntimeError):
            mean = None
        ok = (mean is not None and mean.shape == (self.latent_dim,)
              and bool(torch.isfinite(mean).all()) and float(mean.abs().max()) <= self.z_limit)
        return mean if ok else torch.zeros(self.latent_dim)

    def require_images(self) -> None:
        """501 unless the model is an image model.

        The hook for audio models: the page shows a play button for them, but decoding to
        sound (and encoding uploaded sound) is not built yet."""
        if self.modality != "image":
            raise RequestError("decoding audio models is not supported by the explorer yet",
                               status=501)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Mean images ``(N, C, H, W)`` in [0, 1] (on the CPU) of latents ``(N, D)``."""
        self.require_images()
        with self._lock, torch.no_grad():
            px_z = self.model.decode(z.to(self._device))
            return self.model.likelihood.mean_image(px_z).float().cpu()

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[str]]:
        """Posterior mean ``(D,)`` of one example ``x``, clipped to ``z_limit`` so that the page
        can send it back; notes say when clipping happened."""
        self.require_images()
        with self._lock, torch.no_grad():
            mu = self.model.encode(x[None].to(self._device)).mean[0].float().cpu()
        notes = []
        if float(mu.abs().max()) > self.z_limit:
            notes.append(f"latent values clipped to +-{self.z_limit:g}")
            mu = mu.clamp(-self.z_limit, self.z_limit)
        return mu, notes

    def sample(self, seed: int) -> torch.Tensor:
        """A latent ``(D,)`` drawn from the prior with ``seed``, clipped to ``z_limit``."""
        generator = torch.Generator(device=self._device).manual_seed(seed)
        with self._lock, torch.no_grad():
            z = self.model.sample_prior(1, generator=generator)[0].float().cpu()
        return z.clamp(-self.z_limit, self.z_limit)

    def interpolate(self, z_a: torch.Tensor, z_b: torch.Tensor, steps: int) -> torch.Tensor:
        """Decoded images ``(steps, C, H, W)`` along ``(1 - t) z_a + t z_b``, t in [0, 1]."""
        t = torch.linspace(0.0, 1.0, steps)[:, None]
        return self.decode((1 - t) * z_a[None] + t * z_b[None])
