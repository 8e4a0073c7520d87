"""Image augmentations on NumPy arrays shaped (C, H, W) or batches (N, C, H, W).

Random transforms draw one decision per sample from their own generator
(seed it for reproducible augmentation).
"""
from __future__ import annotations

import numpy as np


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x


def _as_batch(x):
    x = np.asarray(x)
    if x.ndim not in (3, 4):
        raise ValueError(f"image transforms expect (C, H, W) or (N, C, H, W), got shape {x.shape}")
    return (x[None], True) if x.ndim == 3 else (x, False)


class Normalize:
    """(x - mean[c]) / std[c] per channel, in float32."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
        if np.any(self.std == 0):
            raise ValueError("Normalize: std must be non-zero")

    def __call__(self, x):
        return ((np.asarray(x, dtype=np.float32) - self.mean) / self.std).astype(np.float32)


class RandomHorizontalFlip:
    def __init__(self, p=0.5, seed=None):
        self.p, self.rng = p, np.random.default_rng(seed)

    def __call__(self, x):
        batch, single = _as_batch(x)
        flip = self.rng.random(len(batch)) < self.p
        out = batch.copy()
        out[flip] = batch[flip][..., ::-1]
        return out[0] if single else out


class RandomCrop:
    """Zero-pads by `padding` on each side, then crops a random size x size window per sample."""

    def __init__(self, size, padding=0, seed=None):
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding, self.rng = padding, np.random.default_rng(seed)

    def __call__(self, x):
        batch, single = _as_batch(x)
        p = self.padding
        padded = np.pad(batch, ((0, 0), (0, 0), (p, p), (p, p))) if p else batch
        th, tw = self.size
        h, w = padded.shape[2:]
        if th > h or tw > w:
            raise ValueError(f"RandomCrop: crop {self.size} larger than padded image {(h, w)}")
        tops = self.rng.integers(0, h - th + 1, len(batch))
        lefts = self.rng.integers(0, w - tw + 1, len(batch))
        out = np.empty(batch.shape[:2] + (th, tw), dtype=batch.dtype)
        for i, (top, left) in enumerate(zip(tops, lefts)):
            out[i] = padded[i, :, top:top + th, left:left + tw]
        return out[0] if single else out


class ToTensor:
    """torchvision's ToTensor for dlcore's datasets: uint8 images (H, W) or (H, W, C) become float32 (C, H, W)
    in [0, 1]; float images (C, H, W) or batches (N, C, H, W), which dlcore's datasets already deliver
    scaled to [0, 1], pass through as float32. (The result stays an array: the DataLoader makes the Tensor.)"""

    def __call__(self, x):
        x = x.numpy() if hasattr(x, "numpy") else np.asarray(x)
        if x.dtype == np.uint8:
            if x.ndim == 2:
                x = x[None]
            elif x.ndim == 3:
                x = x.transpose(2, 0, 1)
            else:
                raise ValueError(f"ToTensor: uint8 images must be (H, W) or (H, W, C), got shape {x.shape}")
            return np.ascontiguousarray(x, dtype=np.float32) / np.float32(255)
        if x.dtype.kind != "f" or x.ndim not in (3, 4):
            raise ValueError(f"ToTensor: expected uint8 (H, W[, C]) or float (C, H, W) images, got {x.dtype} "
                             f"of shape {x.shape}")
        return x.astype(np.float32, copy=False)
