"""stylegram: neural style transfer (Gatys et al.) with an ONNX/ONNX Runtime feature pipeline.

The public surface, loaded when first used (importing the package does no work)::

    from stylegram import stylize, StylizeSettings
    result = stylize("photo.jpg", "painting.jpg", size=256)
    result.save("out.png"); result.image, result.recipe, result.losses, result.stopped

- ``stylize``: paths or PIL images, settings as keyword arguments, a progress callback (``api.py``);
- ``Result``, ``Progress``, ``Stop``: what a run returns, reports and how it ended;
- ``StylizeSettings``: every knob, validated (the CLI's defaults);
- ``GramCache``, ``style_targets``, ``build_session``, ``SessionConfig``: style Gram targets from an
  exported model, and their cache (no torch).
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "stylize": "stylegram.api",
    "Result": "stylegram.engine",
    "Progress": "stylegram.loop",
    "Stop": "stylegram.loop",
    "StylizeSettings": "stylegram.settings",
    "StylegramError": "stylegram.errors",
    "InputError": "stylegram.errors",
    "GramCache": "stylegram.runtime.cache",
    "style_targets": "stylegram.runtime.targets",
    "build_session": "stylegram.runtime.sessions",
    "SessionConfig": "stylegram.runtime.sessions",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'stylegram' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
