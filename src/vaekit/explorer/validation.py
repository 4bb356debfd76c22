"""Checks on what a request sends: latent vectors and small integers.

Every problem is a :class:`RequestError` carrying the HTTP status and a message that names the
problem, so the app can answer with JSON instead of a traceback and keep serving.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from vaekit.errors import VaekitError


class RequestError(VaekitError, ValueError):
    """A request the explorer cannot serve; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _short(value: Any, limit: int = 40) -> str:
    """``repr`` cut to ``limit`` characters: messages echo what was sent, but not all of it."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_latent(value: Any, latent_dim: int, limit: float, name: str = "z") -> torch.Tensor:
    """``value`` (decoded JSON) as a float tensor ``(latent_dim,)``.

    It must be a list of exactly ``latent_dim`` finite numbers with ``|z_d| <= limit``;
    booleans and strings are refused even though Python would convert them.
    """
    if not isinstance(value, list):
        raise RequestError(f"'{name}' must be a list of {latent_dim} numbers, got "
                           f"{type(value).__name__}")
    if len(value) != latent_dim:
        raise RequestError(f"'{name}' has {len(value)} values; this model has {latent_dim} "
                           "latent dimensions")
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise RequestError(f"{name}[{i}] is not a number: {_short(v)}")
        if isinstance(v, float) and not math.isfinite(v):
            raise RequestError(f"{name}[{i}] is not finite ({v})")
        if abs(v) > limit:
            raise RequestError(f"{name}[{i}] = {_short(v)} is out of range: latent values must "
                               f"lie within [-{limit:g}, {limit:g}]")
    return torch.tensor([float(v) for v in value], dtype=torch.float32)


def parse_int(value: Any, name: str, low: int, high: int, default: int | None = None) -> int:
    """An integer in ``[low, high]`` (``default`` when ``value`` is None)."""
    if value is None and default is not None:
        return default
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)  # form fields arrive as text
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"'{name}' must be an integer, got {_short(value)}")
    if not low <= value <= high:
        raise RequestError(f"'{name}' = {value} is out of range [{low}, {high}]")
    return value
