"""Single-precision matrix multiplication."""
from __future__ import annotations

from ._dispatch import module_for


def gemm(a, b, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, out=None, backend="auto"):
    """C = alpha * op(A) @ op(B) + beta * C, in float32.

    ``op(X)`` is ``X.T`` when the matching ``trans_*`` flag is set, so a
    transposed operand is passed as the original contiguous array (no copy).

    Args:
        a: (M, K) float32, or (K, M) with ``trans_a=True``; C-contiguous.
        b: (K, N) float32, or (N, K) with ``trans_b=True``; C-contiguous.
        alpha, beta: scalars. ``beta != 0`` needs ``out`` (it holds C);
            ``beta == 0`` never reads ``out``, so NaN in it is overwritten.
        out: optional (M, N) float32 C-contiguous array written in place; it
            must not share memory with ``a`` or ``b``.
        backend: "auto", "ref", "avx2", "avx512" (or "onednn"/"cuda" when built).

    Returns:
        The (M, N) result (``out`` itself when given). K == 0 gives beta * C.

    Example:
        >>> import numpy as np, dlcore
        >>> a = np.ones((2, 3), np.float32); b = np.ones((3, 4), np.float32)
        >>> float(dlcore.kernels.gemm(a, b)[0, 0])
        3.0
    """
    module = module_for(backend, "gemm", a, b)
    return module.gemm(a, b, bool(trans_a), bool(trans_b), float(alpha), float(beta), out, backend)
