"""dlcore's global random generator: randn/rand, init, dropout seeds, DataLoader shuffling."""
from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()
_last_seed = None


def manual_seed(seed: int):
    """Seeds dlcore's global generator (randn, nn.init, dropout masks, unseeded shuffles)."""
    global _generator, _last_seed
    _generator = np.random.default_rng(seed)
    _last_seed = int(seed)
    return _generator


def last_seed():
    """The seed of the last manual_seed (None before any)."""
    return _last_seed


def default_generator() -> np.random.Generator:
    return _generator


def next_seed() -> int:
    """A fresh 63-bit seed from the global generator (for the counter-based dropout RNG)."""
    return int(_generator.integers(0, 2**63 - 1))


def get_rng_state():
    """The global generator's state (a dict: NumPy's ``bit_generator.state``; torch returns a ByteTensor),
    for ``set_rng_state``: gradient checkpointing replays a segment's dropout masks with it."""
    return _generator.bit_generator.state


def set_rng_state(state):
    """Restores a state from ``get_rng_state`` (the generator continues exactly from there)."""
    if not isinstance(state, dict) or "bit_generator" not in state:
        raise TypeError(f"set_rng_state: expected a state from dlcore.get_rng_state(), got {type(state).__name__}")
    _generator.bit_generator.state = state
