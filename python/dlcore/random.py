"""dlcore's global random generator: randn/rand, init, dropout seeds, DataLoader shuffling."""
from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int):
    """Seeds dlcore's global generator (randn, nn.init, dropout masks, unseeded shuffles)."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def default_generator() -> np.random.Generator:
    return _generator


def next_seed() -> int:
    """A fresh 63-bit seed from the global generator (for the counter-based dropout RNG)."""
    return int(_generator.integers(0, 2**63 - 1))
