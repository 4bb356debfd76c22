"""Uploaded images in, PNG data URIs out.

An upload is only ever decoded from memory: its file name is ignored, so nothing a request
sends reaches the file system.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from vaekit.explorer.validation import RequestError
from vaekit.viz.grid import make_grid, to_uint8

MAX_UPLOAD_BYTES = 5 * 2**20
# Pillow reads the size from the header before decoding; a small file can still claim a huge
# canvas (a "decompression bomb"), so the pixel count is checked before anything is decoded.
MAX_PIXELS = 40_000_000


def describe_bytes(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.0f} KB"


def check_upload_size(data: bytes, limit: int = MAX_UPLOAD_BYTES) -> None:
    """413 for an upload over ``limit`` bytes, 400 for an empty one."""
    if len(data) > limit:
        raise RequestError(f"the upload is {len(data):,} bytes, over the "
                           f"{describe_bytes(limit)} ({limit:,} bytes) limit", status=413)
    if not data:
        raise RequestError("the upload is empty")


def load_image(data: bytes, data_shape: tuple[int, ...]) -> tuple[torch.Tensor, list[str]]:
    """Decode an uploaded image into a ``data_shape`` tensor in [0, 1], and notes on what was
    changed to fit the model (centre-crop and resize, colour conversion)."""
    channels, height, width = data_shape
    if channels not in (1, 3):
        raise RequestError(f"this model takes {channels}-channel data; uploads need a model of "
                           "grey (1) or RGB (3) images")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise RequestError(f"the image is {image.width}x{image.height} pixels, more "
                                   f"than the {MAX_PIXELS:,} allowed")
            image.load()  # decode now, so a truncated file fails here with a message
            return _fit(image, channels, height, width)
    except RequestError:
        raise
    except UnidentifiedImageError:
        raise RequestError("the upload is not an image: Pillow cannot identify its format "
                           "(send PNG, JPEG, GIF, BMP, WebP, ...)") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise RequestError(f"the upload is a damaged or unsupported image: {err}") from None


def _fit(image: Image.Image, channels: int, height: int, width: int
         ) -> tuple[torch.Tensor, list[str]]:
    notes = []
    mode = "L" if channels == 1 else "RGB"
    if image.mode != mode:
        notes.append(f"converted from {image.mode} to {mode}")
    image = image.convert(mode)
    if image.size != (width, height):
        notes.append(f"resized from {image.width}x{image.height} to {width}x{height} "
                     "(centre crop to the model's aspect ratio, then resize)")
        image = ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS)
    array = np.asarray(image, dtype=np.float32) / 255.0
    array = array[None] if channels == 1 else array.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array)), notes


def png_bytes(image: torch.Tensor) -> bytes:
    """One image ``(C, H, W)`` in [0, 1] as PNG (grey stays grey; other than 1 or 3 channels,
    the first channel is shown)."""
    if image.shape[0] not in (1, 3):
        image = image[:1]
    array = to_uint8(image.detach().float().cpu().numpy())
    pil = Image.fromarray(array[0]) if array.shape[0] == 1 else Image.fromarray(
        array.transpose(1, 2, 0))
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG")
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def strip_png(frames: torch.Tensor) -> bytes:
    """Frames ``(N, C, H, W)`` side by side in one PNG, 1 pixel of white between them."""
    if frames.shape[1] not in (1, 3):
        frames = frames[:, :1]
    buffer = io.BytesIO()
    Image.fromarray(make_grid(frames, nrow=len(frames), padding=1)).save(buffer, format="PNG")
    return buffer.getvalue()
