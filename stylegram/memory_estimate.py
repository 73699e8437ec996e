"""Up-front memory estimate for a stylization, so oversized requests are refused before they start."""

from __future__ import annotations

from pathlib import Path

from .errors import InputError
from .layers import deepest_layer, output_shape, vgg19_layers

BYTES_PER_VALUE = 4
# forward activations kept for the backward pass, their gradients, and oneDNN/allocator slack
ACTIVATION_COPIES = 3.5
FIXED_BYTES = 600 * 2**20  # torch, weights (80 MiB decoded), ONNX Runtime session, Python


def estimate_bytes(height: int, width: int, layers) -> int:
    """Peak memory of one L-BFGS iteration at ``height`` x ``width`` (an estimate, not a bound)."""
    last = deepest_layer(layers).position
    values = 3 * height * width * 100  # L-BFGS history (100 pairs of image-sized vectors)
    for layer in vgg19_layers():
        if layer.position > last:
            break
        c, h, w = output_shape(layer.name, height, width)
        values += ACTIVATION_COPIES * c * h * w
    return int(values * BYTES_PER_VALUE + FIXED_BYTES)


def available_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_fits(content: Path, size: int, layers, *, max_pixels: int | None) -> None:
    """Refuse a size whose estimate exceeds available memory, or ``max_pixels`` when that is given."""
    from PIL import Image

    from .images import scaled_size

    try:
        with Image.open(content) as image:
            width, height = scaled_size(*image.size, size)
    except Exception:  # unreadable files are reported by the image loader, with its own message
        return
    if max_pixels is not None:
        if width * height > max_pixels:
            raise InputError(f"--size {size}: output {width}x{height} = {width * height} px exceeds "
                             f"--max-pixels {max_pixels}")
        return
    needed, available = estimate_bytes(height, width, layers), available_bytes()
    if available is not None and needed > available:
        raise InputError(f"--size {size}: a {width}x{height} stylization needs about {needed / 2**30:.1f} GiB, "
                         f"only {available / 2**30:.1f} GiB is available; use a smaller --size "
                         "(or --max-pixels to override the estimate)")
