"""int8 and binary (XNOR + popcount) kernels: integer arithmetic, exact.

Backends: ``"auto"``, an ISA name (``"ref"``, ``"avx2"``, ``"avx512_vnni"``,
``"avx_vnni"``, ``"avx512_vpopcnt"``), or one implementation's exact name as
listed by ``lowbit_impls(op)`` (e.g. ``"gemm_u8s8s32_avx2_madd16_6x16"``).
Inputs must already have their integer dtype; nothing is converted silently.
"""
from __future__ import annotations

from .. import _C
from ._dispatch import bool_arg, float_arg, int_arg, module_for

__all__ = ["gemm_u8s8s32", "gemm_u8s8s32_pack", "gemm_u8s8s32_packed", "gemm_u8s8s32_packed_info",
           "gemm_u8s8s32_packed_matches", "quantize_u8", "requantize_u8", "dequantize_s32", "conv2d_u8s8",
           "binary_pack", "binary_pack_nchw", "binary_gemm", "binary_conv2d", "lowbit_impls"]


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
    return _module(backend, "gemm_u8s8s32", a, b).gemm_u8s8s32(
        a, b, int_arg(a_zero_point, "gemm_u8s8s32", "a_zero_point"), backend)


def gemm_u8s8s32_pack(b, *, backend="auto"):
    """Packs (N, K) int8 weights once for the int8 GEMM kernel `backend` selects for them.

    The result (a 1-D uint8 array: header naming the kernel, the shape and a hash of
    the weights, the column sums of the zero-point compensation, the micro-panels) is
    what ``gemm_u8s8s32_packed`` multiplies by; quantized Linear layers pack at convert time.
    """
    return _module(backend, "gemm_u8s8s32", b).gemm_u8s8s32_pack(b, backend)


def gemm_u8s8s32_packed(a, packed_b, a_zero_point=0, *, backend="auto"):
    """C = (A - a_zero_point) @ B.T exactly, in int32, B from ``gemm_u8s8s32_pack``.

    A buffer that is not a packed B, is truncated or corrupted, or was packed for a
    kernel this machine cannot run raises (ValueError / BackendUnavailableError) saying so.

    Example:
        >>> import numpy as np, dlcore
        >>> pb = dlcore.kernels.gemm_u8s8s32_pack(np.ones((2, 3), np.int8))
        >>> dlcore.kernels.gemm_u8s8s32_packed(np.full((1, 3), 130, np.uint8), pb, 128).tolist()
        [[6, 6]]
    """
    return _module(backend, "gemm_u8s8s32", a).gemm_u8s8s32_packed(
        a, packed_b, int_arg(a_zero_point, "gemm_u8s8s32_packed", "a_zero_point"), backend)


def gemm_u8s8s32_packed_info(packed_b):
    """(N, K, implementation name, weights all 7-bit) of a packed B, after checking its header."""
    return tuple(_C.gemm_u8s8s32_packed_info(packed_b))


def gemm_u8s8s32_packed_matches(packed_b, b):
    """True when `packed_b` was packed from exactly the weights `b` (a hash compare): the staleness check."""
    return bool(_C.gemm_u8s8s32_packed_matches(packed_b, b))


def quantize_u8(x, scale, zero_point, *, backend="auto"):
    """float32 -> uint8: clip(rint(x / scale) + zero_point, 0, 255), exactly NumPy's float32 formula (NaN -> 0).

    Example:
        >>> import numpy as np, dlcore
        >>> dlcore.kernels.quantize_u8(np.array([-1.0, 0.25, 0.75, 1000.0], np.float32), 0.5, 10).tolist()
        [8, 10, 12, 255]
    """
    return _module(backend, "quantize_u8", x).quantize_u8(
        x, float_arg(scale, "quantize_u8", "scale"), int_arg(zero_point, "quantize_u8", "zero_point"), backend)


def requantize_u8(acc, mult, offset, lo=0, *, backend="auto"):
    """int32 -> uint8: clip(rint(float32(acc) * mult[c] + offset[c]), lo, 255), c = axis 1 of `acc`.

    The product is rounded before the sum (no FMA), as NumPy computes it; ``lo`` = the
    output zero point fuses a ReLU.
    """
    return _module(backend, "requantize_u8", acc).requantize_u8(
        acc, mult, offset, int_arg(lo, "requantize_u8", "lo"), backend)


def dequantize_s32(acc, mult, bias, relu=False, *, backend="auto"):
    """int32 -> float32: float32(acc) * mult[c] + bias[c] (then max(., 0) if `relu`), c = axis 1 of `acc`."""
    return _module(backend, "dequantize_s32", acc).dequantize_s32(
        acc, mult, bias, bool_arg(relu, "dequantize_s32", "relu"), backend)


def conv2d_u8s8(x, w, x_zero_point=0, stride=1, padding=0, dilation=1, groups=1, *, backend="auto"):
    """int32 convolution of uint8 NCHW `x` (zero point `x_zero_point`) with int8 OIHW `w`.

    Taps outside the image contribute 0 (zero padding of the real-valued input).
    """
    return _module(backend, "conv2d_u8s8", x, w).conv2d_u8s8(
        x, w, int_arg(x_zero_point, "conv2d_u8s8", "x_zero_point"), stride, padding, dilation,
        int_arg(groups, "conv2d_u8s8", "groups"), backend)


def binary_pack(v, *, backend="auto"):
    """(R, K) float32 -> (R, ceil(K/64)) uint64 sign bits (bit = v >= 0), zero past K."""
    return _module(backend, "binary_pack", v).binary_pack(v, backend)


def binary_pack_nchw(x, groups=1, *, backend="auto"):
    """(N, C, H, W) float32 -> (N, H, W, groups * ceil(C/groups/64)) uint64 sign bits along channels."""
    return _module(backend, "binary_pack", x).binary_pack_nchw(
        x, int_arg(groups, "binary_pack_nchw", "groups"), backend)


def binary_gemm(x_bits, w_bits, k, scale=None, bias=None, *, backend="auto"):
    """y[i, j] = scale[j] * (k - 2 popcount(x_i XOR w_j)) + bias[j]: the +-1 dot product, float32 (M, N)."""
    return _module(backend, "binary_gemm", x_bits, w_bits).binary_gemm(
        x_bits, w_bits, int_arg(k, "binary_gemm", "k"), scale, bias, backend)


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
        x_bits, w_bits, int_arg(in_channels, "binary_conv2d", "in_channels"), stride, padding, dilation,
        int_arg(groups, "binary_conv2d", "groups"), scale, bias, backend)
