"""The one exception hierarchy of the library.

Library code raises these; only ``stylegram.cli`` turns them into exit codes:
``InputError`` (and its subclasses) means the user gave something wrong (exit 2),
any other ``StylegramError`` is a failure while running (exit 1).
"""

from __future__ import annotations


class StylegramError(Exception):
    """Base class of every error the library raises on purpose."""


class InputError(StylegramError):
    """A file, option or value given by the user is unusable."""


class ImageError(InputError):
    """An image file cannot be read or is unsuitable."""


class WeightsError(InputError):
    """The VGG19 weights are missing, corrupted or of an unknown format."""


class ModelFileError(InputError):
    """An exported ONNX model is missing, invalid or built for other settings."""


class ProviderError(InputError):
    """An ONNX Runtime execution provider was asked for but cannot run."""


class OptimizationError(StylegramError):
    """The optimization failed while running (for example the loss became NaN)."""


class ExportError(StylegramError):
    """The ONNX export or its verification failed."""


class CacheError(StylegramError):
    """A cache entry cannot be written or read."""


class Interrupted(StylegramError):
    """The run was stopped by a signal (SIGINT/SIGTERM); ``signal_number`` says which."""

    def __init__(self, message: str, signal_number: int):
        super().__init__(message)
        self.signal_number = signal_number
