"""Exceptions that carry a message a user can act on.

Every error raised for bad input is a subclass of :class:`VaekitError`, so the CLI can print the
message on one line and exit non-zero instead of showing a traceback from deep inside the library.
"""

from __future__ import annotations


class VaekitError(Exception):
    """Base class for every user-facing error of vaekit."""


class ConfigError(VaekitError, ValueError):
    """A configuration value, key or file is invalid."""


class RegistryError(VaekitError, KeyError):
    """A name was looked up in a registry that does not hold it."""

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return str(self.args[0]) if self.args else ""


class DataError(VaekitError, ValueError):
    """A dataset path, file or array is missing or malformed."""


class ShapeError(VaekitError, ValueError):
    """A tensor or image has a shape the network or model cannot take."""


class CheckpointError(VaekitError, ValueError):
    """A checkpoint directory or file is missing, corrupt, foreign or of another model."""
