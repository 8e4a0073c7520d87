"""Philox-4x32 in NumPy: the dropout mask of the kernels, for the float64 path.

The kernels draw element i = 128 g + 16 k + j (k < 8, j < 16) from the
16-bit half k % 2 (0 = low) of word k // 2 of Philox(counter = 16 g + j,
key = seed) with DROPOUT_ROUNDS = 8 rounds (csrc/ops/dropout/dropout.h says
why not Random123's 10) and keep it when that u16 >= ceil(p * 2^16) (see
csrc/ops/dropout/dropout.h). This is the same
mapping in uint64 NumPy arithmetic, so float64 dropout (the gradient-check
reference) uses exactly the float32 kernel's mask for a given seed.
"""
from __future__ import annotations

import numpy as np

_M0, _M1, _W0, _W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85
_MASK32 = np.uint64(0xFFFFFFFF)


DROPOUT_ROUNDS = 8


def philox4x32(counter, seed: int, rounds: int = 10):
    """The four output words for 64-bit counters (counter words 2 and 3 are zero)."""
    c = [counter & _MASK32, counter >> np.uint64(32), np.zeros_like(counter), np.zeros_like(counter)]
    k0, k1 = seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF
    for _ in range(rounds):
        p0 = np.uint64(_M0) * c[0]
        p1 = np.uint64(_M1) * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ np.uint64(k0), p1 & _MASK32,
             (p0 >> np.uint64(32)) ^ c[3] ^ np.uint64(k1), p0 & _MASK32]
        k0, k1 = (k0 + _W0) & 0xFFFFFFFF, (k1 + _W1) & 0xFFFFFFFF
    return c


def dropout_mask(n: int, p: float, seed: int) -> np.ndarray:
    """uint8 keep-mask of n elements, identical to dlcore.kernels.dropout_forward's."""
    groups = -(-n // 128)
    # Each call once (it feeds 8 elements), as words[call, word].
    words = np.stack(philox4x32(np.arange(16 * groups, dtype=np.uint64), seed, DROPOUT_ROUNDS), axis=1)
    i = np.arange(n, dtype=np.int64)
    k = (i % 128) // 16
    word = words[16 * (i // 128) + i % 16, k // 2]
    u16 = np.where(k % 2 == 1, word >> np.uint64(16), word & np.uint64(0xFFFF))
    threshold = int(np.ceil(float(np.float32(p)) * 65536.0))
    return (u16 >= threshold).astype(np.uint8)
