"""H x W x 3 float32 numpy images <-> 1 x 3 x H x W torch tensors (the one pair of converters)."""

from __future__ import annotations

import numpy as np
import torch


def to_tensor(array: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None].to(device)


def to_array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach()[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy().astype(np.float32)
