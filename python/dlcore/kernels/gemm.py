"""Matrix multiplication: float32, or bfloat16 operands with float32 accumulation."""
from __future__ import annotations

from ._dispatch import bool_arg, float_arg, module_for


def gemm(a, b, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, out=None, backend="auto", out_dtype=None):
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
        backend: "auto", "ref", "avx2", "avx512" (or "onednn"/"cuda" when built);
            for bfloat16 also "amx" and "avx512_bf16" where the CPU has them.
        out_dtype: bfloat16 operands only: float32 (default) or
            ``dlcore.bfloat16`` for C (a bf16 ``out`` implies it). Float32
            accumulation either way; a bf16 C is rounded once at the end.

    bfloat16: ``a`` and ``b`` both ``dlcore.bfloat16`` (``ml_dtypes.bfloat16``)
    arrays. Products of two bf16 values are exact in float32, and sums are
    float32, so the error is that of a float32 dot product on the bf16 values.
    Implementations, fastest first: AMX tiles (``amx``), vdpbf16ps
    (``avx512_bf16``), then bf16 -> float32 while packing on ``avx512`` /
    ``avx2`` / ``ref`` (the float32 micro-kernels; memory savings only).

    Returns:
        The (M, N) result (``out`` itself when given). K == 0 gives beta * C.

    Example:
        >>> import numpy as np, dlcore
        >>> a = np.ones((2, 3), np.float32); b = np.ones((3, 4), np.float32)
        >>> float(dlcore.kernels.gemm(a, b)[0, 0])
        3.0
    """
    trans_a = bool_arg(trans_a, "gemm", "trans_a")
    trans_b = bool_arg(trans_b, "gemm", "trans_b")
    alpha = float_arg(alpha, "gemm", "alpha")
    beta = float_arg(beta, "gemm", "beta")
    module = module_for(backend, "gemm", a, b)
    if out_dtype is None:
        return module.gemm(a, b, bool(trans_a), bool(trans_b), float(alpha), float(beta), out, backend)
    return module.gemm(a, b, bool(trans_a), bool(trans_b), float(alpha), float(beta), out, backend,
                       out_dtype=out_dtype)


def linear_forward(x, w, bias=None, *, activation=None, backend="auto"):
    """y = activation(x @ w.T + bias): a linear layer's forward as one float32 GEMM.

    The bias and the activation are applied to each tile of y by the thread that computed it, right after
    its last k block (the GEMM's epilogue), instead of a GEMM, a ``y += bias`` and a relu pass over y.
    The arithmetic is that of those three steps, so the result is bitwise the same.

    A fused form of :func:`gemm` on our CPU backends ("auto", "ref", "avx2", "avx512"), not an op of the
    kernel API that oneDNN and CUDA mirror: under those backends the layer runs gemm, the bias add and
    relu_forward instead (``backend="onednn"`` here raises BackendUnavailableError).

    Args:
        x: (N, in) float32, C-contiguous.
        w: (out, in) float32 (the stored weight; no transpose is made).
        bias: (out,) float32 or None.
        activation: None, "none" or "relu".

    Returns:
        y: (N, out) float32.

    Example:
        >>> import numpy as np, dlcore
        >>> x = np.ones((2, 3), np.float32); w = np.ones((2, 3), np.float32)
        >>> dlcore.kernels.linear_forward(x, w, np.array([-5.0, 1.0], np.float32), activation="relu")
        array([[0., 4.],
               [0., 4.]], dtype=float32)
    """
    module = module_for(backend, "linear_forward", x, w)
    return module.linear_forward(x, w, bias, activation, backend)
