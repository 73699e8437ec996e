"""stylegram: neural style transfer (Gatys et al.) with an ONNX/ONNX Runtime feature pipeline.

Importing the package does no work: submodules are loaded when used.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
