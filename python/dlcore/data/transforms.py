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
        for i, (t, l) in enumerate(zip(tops, lefts)):
            out[i] = padded[i, :, t:t + th, l:l + tw]
        return out[0] if single else out
