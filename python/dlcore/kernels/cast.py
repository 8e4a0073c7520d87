"""float32 <-> bfloat16 conversion kernels (round to nearest even, NaN kept NaN).

``bfloat16`` arrays are NumPy arrays of ``ml_dtypes.bfloat16`` (``dlcore.bfloat16``).
The results equal ``x.astype(ml_dtypes.bfloat16)`` / ``x.astype(numpy.float32)``
bit for bit, except on the ``avx512_bf16`` backend (vcvtne2ps2bf16), which
flushes float32 subnormals to zero and keeps NaN payloads.
"""
from __future__ import annotations

from ._dispatch import module_for


def cast_f32_to_bf16(x, *, out=None, backend="auto"):
    """x (float32, any shape, C-contiguous) -> bfloat16 of the same shape.

    Example:
        >>> import numpy as np, dlcore
        >>> dlcore.kernels.cast_f32_to_bf16(np.array([1.00390625], np.float32)).astype(np.float32)
        array([1.], dtype=float32)
    """
    return module_for(backend, "cast_f32_to_bf16", x).cast_f32_to_bf16(x, out, backend)


def cast_bf16_to_f32(x, *, out=None, backend="auto"):
    """x (bfloat16, any shape, C-contiguous) -> float32 of the same shape (exact)."""
    return module_for(backend, "cast_bf16_to_f32", x).cast_bf16_to_f32(x, out, backend)
