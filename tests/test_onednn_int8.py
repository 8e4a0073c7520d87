"""The oneDNN int8 column (dlcore._onednn gemm_u8s8s32 / conv2d_u8s8) against the int64 NumPy references.

oneDNN guarantees exact results only where its int8 kernels cannot saturate: on a CPU without VNNI
(AVX2, AVX-512 core) it multiplies with vpmaddubsw, whose int16 pair sums saturate for large
u8 x s8 products, and its documentation asks for 7-bit weights there. So the exact tests use weights
in [-64, 63]; with full-range weights the exact tests run only where oneDNN reports a VNNI or AMX ISA,
and elsewhere the binding declines such weights (BackendUnavailableError) instead of returning what
oneDNN computes (measured here: off by up to 28342).
The same checks as _C (bindings/lowbit_call.h) raise the same messages.

A second limit, measured here (oneDNN 3.2, AVX2): oneDNN passes the int32 accumulator through float32
on its way to an s32 destination, so results above 2^24 in magnitude come back rounded to float32
(255 * 63 * 4099 = 65850435 returns 65850436). On AVX-512 VNNI (Zen 4, oneDNN ISA avx512_core_bf16) the
same call returns the exact 65850435. `assert_dnnl_result` checks the guarantee: exact up to 2^24; beyond, the exact
value or its float32 rounding, which of the two depending on oneDNN's kernel for the ISA.
"""
import numpy as np
import pytest
from test_lowbit import CONV_CASES, GEMM_SIZES, ref_conv, ref_gemm

import dlcore
from dlcore.kernels import lowbit as K

_INFO = dlcore.backends()["onednn"]
pytestmark = pytest.mark.skipif(not _INFO["available"], reason=f"oneDNN backend unavailable: {_INFO.get('reason')}")


def assert_dnnl_result(got, ref):
    """`got` is what oneDNN may return for the exact int64 result `ref`: itself up to 2^24; beyond, itself or
    its float32 rounding (AVX2 rounds, measured; AVX-512 VNNI on Zen 4 is exact, measured)."""
    rounded = ref.astype(np.float32).astype(np.int64)
    ok = (got == ref) | ((np.abs(ref) > 2**24) & (got == rounded))
    bad = ~ok
    assert ok.all(), f"{bad.sum()} elements neither exact nor rounded: got {got[bad][:5]}, exact {ref[bad][:5]}"


def _full_range_exact():
    """True where oneDNN's int8 ISA has vpdpbusd / AMX (no int16 intermediate): every ISA past the four
    without VNNI, as the binding's int8_pairs_saturate() says (avx512_core_bf16 on Zen 4 names no "vnni" but
    has it)."""
    from dlcore import _onednn
    return _onednn.describe()["isa"] not in ("sse41", "avx", "avx2", "avx512_core")


@pytest.mark.parametrize("m,n,k", GEMM_SIZES)
def test_onednn_gemm_u8s8s32_exact_7bit(m, n, k, rng):
    a = rng.integers(0, 256, (m, k), dtype=np.uint8)
    b = rng.integers(-64, 64, (n, k), dtype=np.int8)
    for zp in (0, 3, 128, 255):
        c = K.gemm_u8s8s32(a, b, zp, backend="onednn")
        assert c.dtype == np.int32 and c.shape == (m, n)
        np.testing.assert_array_equal(c, ref_gemm(a, b, zp))


def test_onednn_gemm_u8s8s32_saturation_7bit_extremes():
    """255 x -64 / 63: no int16 saturation with 7-bit weights; past 2^24 the float32 rounding of the sum."""
    for k in (1031, 4099):  # |C| up to 16.8 M (exact) and 66.9 M (rounded)
        a = np.full((5, k), 255, np.uint8)
        b = np.full((19, k), -64, np.int8)
        b[1::2] = 63
        for zp in (0, 1, 255):
            ref = ref_gemm(a, b, zp)
            got = K.gemm_u8s8s32(a, b, zp, backend="onednn")
            assert_dnnl_result(got, ref)
            if np.abs(ref).max() <= 2**24:
                np.testing.assert_array_equal(got, ref)


def test_onednn_full_range_weights_exact_with_vnni_else_declined(rng):
    a = np.full((3, 64), 255, np.uint8)
    b = np.full((4, 64), -128, np.int8)
    x = rng.integers(0, 256, (1, 3, 6, 6), dtype=np.uint8)
    w = rng.integers(-128, 128, (4, 3, 3, 3), dtype=np.int8)
    if _full_range_exact():
        np.testing.assert_array_equal(K.gemm_u8s8s32(a, b, 0, backend="onednn"), ref_gemm(a, b, 0))
        np.testing.assert_array_equal(K.conv2d_u8s8(x, w, 0, 1, 1, 1, 1, backend="onednn"),
                                      ref_conv(x, w, 0, (1, 1), (1, 1), (1, 1), 1))
        return
    with pytest.raises(dlcore.BackendUnavailableError, match=r"outside \[-64, 63\]"):
        K.gemm_u8s8s32(a, b, 0, backend="onednn")
    with pytest.raises(dlcore.BackendUnavailableError, match="7-bit"):
        K.conv2d_u8s8(x, w, 0, 1, 1, 1, 1, backend="onednn")
    seven_bit = np.full((4, 64), 63, np.int8)  # inside the range: runs, exactly
    np.testing.assert_array_equal(K.gemm_u8s8s32(a, seven_bit, 0, backend="onednn"), ref_gemm(a, seven_bit, 0))


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "x".join(map(str, c[:7])))
def test_onednn_conv2d_u8s8_exact_7bit(case, rng):
    n, c, h, w, oc, kh, kw, stride, pad, dil, groups = case
    x = rng.integers(0, 256, (n, c, h, w), dtype=np.uint8)
    wt = rng.integers(-64, 64, (oc, c // groups, kh, kw), dtype=np.int8)
    for zp in (0, 77, 255):
        y = K.conv2d_u8s8(x, wt, zp, stride, pad, dil, groups, backend="onednn")
        assert y.dtype == np.int32
        np.testing.assert_array_equal(y, ref_conv(x, wt, zp, stride, pad, dil, groups))


def test_onednn_int8_agrees_with_ours_on_lenet_shapes(rng):
    x = rng.integers(0, 256, (7, 1, 28, 28), dtype=np.uint8)
    w = rng.integers(-64, 64, (6, 1, 5, 5), dtype=np.int8)
    np.testing.assert_array_equal(K.conv2d_u8s8(x, w, 9, 1, 2, backend="onednn"), K.conv2d_u8s8(x, w, 9, 1, 2))


def test_onednn_int8_bad_input(rng):
    a = rng.integers(0, 256, (3, 5), dtype=np.uint8)
    b = rng.integers(-128, 128, (4, 5), dtype=np.int8)
    with pytest.raises(TypeError, match="a must be uint8, got float32"):
        K.gemm_u8s8s32(a.astype(np.float32), b, backend="onednn")
    with pytest.raises(TypeError, match="b must be int8, got uint8"):
        K.gemm_u8s8s32(a, b.view(np.uint8), backend="onednn")
    with pytest.raises(ValueError, match=r"a_zero_point must be in \[0, 255\]"):
        K.gemm_u8s8s32(a, b, 256, backend="onednn")
    with pytest.raises(ValueError, match="share K"):
        K.gemm_u8s8s32(a, b[:, :4].copy(), backend="onednn")
    x = rng.integers(0, 256, (1, 4, 5, 5), dtype=np.uint8)
    w = rng.integers(-5, 5, (2, 4, 3, 3), dtype=np.int8)
    with pytest.raises(TypeError, match="x must be uint8, got float32"):
        K.conv2d_u8s8(x.astype(np.float32), w, backend="onednn")
    with pytest.raises(ValueError, match="x_zero_point"):
        K.conv2d_u8s8(x, w, -1, backend="onednn")
    with pytest.raises(ValueError, match="input channels per group"):
        K.conv2d_u8s8(x, w[:, :3].copy(), backend="onednn")


def test_onednn_int8_empty():
    assert K.gemm_u8s8s32(np.zeros((0, 5), np.uint8), np.ones((3, 5), np.int8), backend="onednn").shape == (0, 3)
    c = K.gemm_u8s8s32(np.ones((2, 0), np.uint8), np.ones((3, 0), np.int8), backend="onednn")
    np.testing.assert_array_equal(c, np.zeros((2, 3), np.int32))
    y = K.conv2d_u8s8(np.zeros((0, 2, 5, 5), np.uint8), np.ones((3, 2, 3, 3), np.int8), backend="onednn")
    assert y.shape == (0, 3, 3, 3)
