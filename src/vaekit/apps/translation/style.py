"""Style transfer with a content/style model: image files in, the content of one image rendered
in the style of another out, and a qualitative demo with real photos as style images.

The photo demo takes a model trained on MNIST -> randomly coloured digits (its style code
learned to hold a digit's foreground and background colours) and gives it photos from
``$VAEKIT_DATA/sample_images`` as *style* images, shrunk to the model's 28x28: each digit is
redrawn in colours the style encoder reads off the photo. There is no ground truth for a photo's
"digit colours", so this is a picture to look at; the measured style-swap scores are in
:func:`vaekit.apps.translation.evaluation.style_report`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from vaekit.errors import DataError

DEMO_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "flower.jpg",
               "china.jpg")


def load_images(paths: Sequence[str | Path], shape: tuple[int, ...]) -> torch.Tensor:
    """Image files as a float batch ``(N, C, H, W)`` in [0, 1] of ``shape = (C, H, W)``:
    converted to grey (C = 1) or RGB (C = 3), centre-cropped to the aspect ratio and resized."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    channels, height, width = shape
    if channels not in (1, 3):
        raise DataError(f"image files load as 1 or 3 channels; this domain has {channels}")
    images = []
    for path in paths:
        try:
            with Image.open(path) as image:
                image = image.convert("L" if channels == 1 else "RGB")
                image = ImageOps.fit(image, (width, height), method=Image.Resampling.LANCZOS)
                array = np.asarray(image, dtype=np.float32) / 255.0
        except FileNotFoundError:
            raise DataError(f"image '{path}' not found") from None
        except (UnidentifiedImageError, OSError) as err:
            raise DataError(f"'{path}' is not a readable image ({err})") from None
        images.append(torch.from_numpy(array).reshape(height, width, channels).permute(2, 0, 1))
    if not images:
        raise DataError("no image files given")
    return torch.stack(images)


@torch.no_grad()
def photo_style_grid(model: object, digits: torch.Tensor, photo_paths: Sequence[str | Path],
                     out: str | Path) -> Path:
    """A PNG grid: one row per photo -- the photo (shrunk to the model's image size), then each
    domain-A digit rendered in domain B with the photo's style code."""
    from vaekit.viz import save_image_grid

    photos = load_images(photo_paths, model.shapes["b"])
    rows = []
    for photo in photos:
        styled = model.swap_style(digits, photo[None], "b", "a")
        rows.append(torch.cat([photo[None], styled]))
    return save_image_grid(torch.cat(rows), out, nrow=len(digits) + 1)
