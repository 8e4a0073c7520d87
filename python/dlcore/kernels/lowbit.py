"""int8 and binary (XNOR + popcount) kernels: integer arithmetic, exact.

Backends: ``"auto"``, an ISA name (``"ref"``, ``"avx2"``, ``"avx512_vnni"``,
``"avx_vnni"``, ``"avx512_vpopcnt"``), or one implementation's exact name as
listed by ``lowbit_impls(op)`` (e.g. ``"gemm_u8s8s32_avx2_madd16_6x16"``).
Inputs must already have their integer dtype; nothing is converted silently.
"""
from __future__ import annotations

from .. import _C
from ._dispatch import module_for

__all__ = ["gemm_u8s8s32", "conv2d_u8s8", "binary_pack", "binary_pack_nchw", "binary_gemm", "binary_conv2d",
           "lowbit_impls"]


def _module(backend, op, *arrays):
    if isinstance(backend, str) and backend.startswith(op + "_"):
        return _C  # an implementation name of ours
    return module_for(backend, op, *arrays)


def lowbit_impls(op):
    """[(implementation name, ISA backend name)] of `op`, fastest first."""
    return [tuple(t) for t in _C.lowbit_impls(op)]


def gemm_u8s8s32(a, b, a_zero_point=0, *, backend="auto"):
    """C = (A - a_zero_point) @ B.T exactly, in int32.

    Args:
        a: (M, K) uint8 activations; b: (N, K) int8 weights (a Linear weight's layout).
        a_zero_point: int in [0, 255].
    Returns: (M, N) int32.

    Example:
        >>> import numpy as np, dlcore
        >>> a = np.full((1, 3), 130, np.uint8); b = np.ones((2, 3), np.int8)
        >>> dlcore.kernels.gemm_u8s8s32(a, b, 128).tolist()
        [[6, 6]]
    """
    return _module(backend, "gemm_u8s8s32", a, b).gemm_u8s8s32(a, b, int(a_zero_point), backend)


def conv2d_u8s8(x, w, x_zero_point=0, stride=1, padding=0, dilation=1, groups=1, *, backend="auto"):
    """int32 convolution of uint8 NCHW `x` (zero point `x_zero_point`) with int8 OIHW `w`.

    Taps outside the image contribute 0 (zero padding of the real-valued input).
    """
    return _module(backend, "conv2d_u8s8", x, w).conv2d_u8s8(x, w, int(x_zero_point), stride, padding, dilation,
                                                             int(groups), backend)


def binary_pack(v):
    """(R, K) float32 -> (R, ceil(K/64)) uint64 sign bits (bit = v >= 0), zero past K."""
    return _C.binary_pack(v)


def binary_pack_nchw(x, groups=1):
    """(N, C, H, W) float32 -> (N, H, W, groups * ceil(C/groups/64)) uint64 sign bits along channels."""
    return _C.binary_pack_nchw(x, int(groups))


def binary_gemm(x_bits, w_bits, k, scale=None, bias=None, *, backend="auto"):
    """y[i, j] = scale[j] * (k - 2 popcount(x_i XOR w_j)) + bias[j]: the +-1 dot product, float32 (M, N)."""
    return _module(backend, "binary_gemm", x_bits, w_bits).binary_gemm(x_bits, w_bits, int(k), scale, bias, backend)


def binary_conv2d(x_bits, w_bits, in_channels, stride=1, padding=0, dilation=1, groups=1, scale=None, bias=None,
                  *, backend="auto"):
    """Sign convolution by XNOR + popcount, equal to a float conv of sign(x) and sign(w) with zero padding.

    Args:
        x_bits: (N, H, W, groups * ceil(C/groups/64)) uint64 from ``binary_pack_nchw``.
        w_bits: (OC, KH, KW, ceil(C/groups/64)) uint64 (``binary_pack`` of the weight moved to OHWI).
        in_channels: C. scale, bias: optional (OC,) float32 applied to the integer result.
    Returns: (N, OC, OH, OW) float32.
    """
    return _module(backend, "binary_conv2d", x_bits, w_bits).binary_conv2d(
        x_bits, w_bits, int(in_channels), stride, padding, dilation, int(groups), scale, bias, backend)
