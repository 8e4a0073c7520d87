"""Pre-packed int8 weights and the quantize / requantize / dequantize kernels.

The packed GEMM is exact against int64 NumPy for every implementation this
CPU runs (the others skip with the reason); a buffer that is not what
gemm_u8s8s32_pack made for these weights and this machine is refused. The
quantization kernels equal the NumPy float32 formulas bit for bit (ties,
saturation, the fused-ReLU clip).
"""
import numpy as np
import pytest

from dlcore import _C
from dlcore.kernels import lowbit as K

ISA = _C.isa_info()


def impls(op):
    out = []
    for name, isa in K.lowbit_impls(op):
        info = ISA[isa]
        marks = [] if info["available"] else [pytest.mark.skip(reason=f"{name}: {info.get('reason', 'unavailable')}")]
        out.append(pytest.param(name, id=name, marks=marks))
    return out


def ref_gemm(a, b, zp):
    return (a.astype(np.int64) - zp) @ b.astype(np.int64).T


# K past the AVX2 blocks (madd16 KC=512, maddubs KC=1024), K and N not multiples of 4/16/64
PACKED_SIZES = [(1, 1, 1), (2, 7, 17), (3, 33, 129), (17, 65, 63), (5, 17, 1031), (33, 40, 600), (2, 129, 4)]


@pytest.mark.parametrize("impl", impls("gemm_u8s8s32"))
@pytest.mark.parametrize("m,n,k", PACKED_SIZES)
def test_packed_gemm_exact(impl, m, n, k, rng):
    a = rng.integers(0, 256, (m, k), dtype=np.uint8)
    b = rng.integers(-63, 64, (n, k), dtype=np.int8)  # 7-bit: every entry accepts
    zp = int(rng.integers(1, 256))
    pb = K.gemm_u8s8s32_pack(b, backend=impl)
    assert K.gemm_u8s8s32_packed_info(pb) == (n, k, impl, True)
    got = K.gemm_u8s8s32_packed(a, pb, zp)
    assert _C.last_dispatch() == f"gemm_u8s8s32:{impl}"
    assert got.dtype == np.int32 and np.array_equal(got, ref_gemm(a, b, zp))
    # the buffer is reused: a second activation matrix against the same packed weights
    a2 = rng.integers(0, 256, (m + 2, k), dtype=np.uint8)
    assert np.array_equal(K.gemm_u8s8s32_packed(a2, pb, 0, backend=impl), ref_gemm(a2, b, 0))


@pytest.mark.parametrize("threads", [1, 2])
def test_packed_gemm_large_threads(threads, rng):
    """A product big enough to split over threads (column panels of the packed B)."""
    import dlcore
    m, n, k = 9, 300, 1100
    a = rng.integers(0, 256, (m, k), dtype=np.uint8)
    b = rng.integers(-63, 64, (n, k), dtype=np.int8)
    old = dlcore.get_num_threads()
    dlcore.set_num_threads(threads)
    try:
        got = K.gemm_u8s8s32_packed(a, K.gemm_u8s8s32_pack(b), 7)
    finally:
        dlcore.set_num_threads(old)
    assert np.array_equal(got, ref_gemm(a, b, 7))


def test_packed_gemm_saturation_8bit():
    """255 x -128 over K = 4099: full int8 weights pack for an exact (non-maddubs) kernel."""
    k = 4099
    a = np.full((3, k), 255, np.uint8)
    b = np.full((5, k), -128, np.int8)
    b[1] = 127
    pb = K.gemm_u8s8s32_pack(b)
    assert "maddubs" not in K.gemm_u8s8s32_packed_info(pb)[2]
    assert K.gemm_u8s8s32_packed_info(pb)[3] is False
    assert np.array_equal(K.gemm_u8s8s32_packed(a, pb, 0), ref_gemm(a, b, 0))
    assert np.array_equal(K.gemm_u8s8s32_packed(a, pb, 255), np.zeros((3, 5), np.int64))


@pytest.mark.skipif(not ISA["avx2"]["available"], reason="no AVX2 on this CPU")
def test_packed_maddubs_refuses_8bit_weights():
    b = np.full((4, 8), -128, np.int8)
    with pytest.raises(_C.BackendUnavailableError, match="outside \\[-64, 63\\]"):
        K.gemm_u8s8s32_pack(b, backend="gemm_u8s8s32_avx2_maddubs_4x16")


def test_packed_matches_detects_stale_weights(rng):
    b = rng.integers(-63, 64, (9, 21), dtype=np.int8)
    pb = K.gemm_u8s8s32_pack(b)
    assert K.gemm_u8s8s32_packed_matches(pb, b)
    b2 = b.copy()
    b2[4, 7] += 1
    assert not K.gemm_u8s8s32_packed_matches(pb, b2)
    assert not K.gemm_u8s8s32_packed_matches(pb, b[:8])


def test_packed_bad_inputs(rng):
    b = rng.integers(-63, 64, (9, 21), dtype=np.int8)
    a = rng.integers(0, 256, (2, 21), dtype=np.uint8)
    pb = K.gemm_u8s8s32_pack(b)
    with pytest.raises(TypeError, match="packed_b"):
        K.gemm_u8s8s32_packed(a, pb.astype(np.int8), 0)
    with pytest.raises(TypeError, match="int8|b"):
        K.gemm_u8s8s32_pack(b.astype(np.float32))
    with pytest.raises(TypeError, match="a"):
        K.gemm_u8s8s32_packed(a.astype(np.float32), pb, 0)
    with pytest.raises(ValueError, match="magic"):
        K.gemm_u8s8s32_packed(a, np.zeros(pb.size, np.uint8), 0)
    with pytest.raises(ValueError, match="fewer than their header"):
        K.gemm_u8s8s32_packed(a, pb[:16].copy(), 0)
    with pytest.raises(ValueError, match="truncated"):
        K.gemm_u8s8s32_packed(a, pb[:-1].copy(), 0)
    bad = pb.copy()
    bad[16] ^= 1  # n in the header
    with pytest.raises(ValueError, match="corrupted"):
        K.gemm_u8s8s32_packed(a, bad, 0)
    with pytest.raises(ValueError, match="share K|K = 20"):
        K.gemm_u8s8s32_packed(a[:, :20].copy(), pb, 0)
    with pytest.raises(ValueError, match="a_zero_point"):
        K.gemm_u8s8s32_packed(a, pb, 256)
    with pytest.raises(_C.BackendUnavailableError, match="packed for"):
        K.gemm_u8s8s32_packed(a, K.gemm_u8s8s32_pack(b, backend="ref"), 0, backend="avx2")
    with pytest.raises(ValueError, match="non-empty"):
        K.gemm_u8s8s32_pack(np.zeros((0, 4), np.int8))


# ---- quantize / requantize / dequantize -----------------------------------------------------------
def np_quantize(x, scale, zp):
    q = np.rint(np.asarray(x, dtype=np.float32) / np.float32(scale)) + zp
    return np.clip(q, 0, 255).astype(np.uint8)


def np_requantize(acc, mult, off, lo):
    shape = (1, -1) + (1,) * (acc.ndim - 2)
    t = acc.astype(np.float32)
    t *= mult.reshape(shape)
    t += off.reshape(shape)
    np.rint(t, out=t)
    np.clip(t, lo, 255, out=t)
    return t.astype(np.uint8)


def np_dequantize(acc, mult, bias, relu):
    shape = (1, -1) + (1,) * (acc.ndim - 2)
    y = acc.astype(np.float32) * mult.reshape(shape) + bias.reshape(shape)
    return np.maximum(y, 0) if relu else y


@pytest.mark.parametrize("impl", impls("quantize_u8"))
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 17), (2, 3, 5, 7), (129,)])
def test_quantize_u8_exact(impl, shape, rng):
    scale, zp = np.float32(0.037), 113
    x = (rng.standard_normal(shape) * 6).astype(np.float32)
    flat = x.reshape(-1)
    flat[::3] = (np.round(flat[::3] / scale) + 0.5) * scale  # near ties (float32 division decides)
    if flat.size > 4:
        flat[1], flat[2], flat[3] = 1e9, -1e9, 2.5 * np.float32(1.0)  # saturation both ways
    got = K.quantize_u8(x, scale, zp, backend=impl)
    assert got.shape == x.shape and np.array_equal(got, np_quantize(x, scale, zp))


@pytest.mark.parametrize("impl", impls("quantize_u8"))
def test_quantize_u8_exact_ties(impl):
    x = np.arange(-20, 21, dtype=np.float32) * np.float32(0.5)  # x / 1.0: exact .5 ties, rint -> even
    assert np.array_equal(K.quantize_u8(x, 1.0, 10, backend=impl), np_quantize(x, 1.0, 10))
    assert K.quantize_u8(np.array([np.nan] * 9, np.float32), 1.0, 10, backend=impl).tolist() == [0] * 9


@pytest.mark.parametrize("impl", impls("requantize_u8"))
@pytest.mark.parametrize("shape", [(1, 1), (3, 17), (5, 33), (2, 7, 3, 5), (1, 3, 1, 17)])
@pytest.mark.parametrize("lo", [0, 97])
def test_requantize_u8_exact(impl, shape, lo, rng):
    acc = rng.integers(-200000, 200000, shape, dtype=np.int32)
    c = shape[1]
    mult = (rng.random(c) * 1e-3 + 1e-5).astype(np.float32)
    off = (rng.standard_normal(c) * 50 + 100).astype(np.float32)
    acc.reshape(-1)[::5] = 2**31 - 1
    got = K.requantize_u8(acc, mult, off, lo, backend=impl)
    assert np.array_equal(got, np_requantize(acc, mult, off, lo))


@pytest.mark.parametrize("impl", impls("requantize_u8"))
def test_requantize_u8_ties(impl):
    acc = np.arange(-30, 31, dtype=np.int32).reshape(1, -1).repeat(2, 0).T.copy()  # (61, 2)
    mult = np.array([0.5, 0.25], np.float32)
    off = np.array([100.0, 100.5], np.float32)
    assert np.array_equal(K.requantize_u8(acc, mult, off, 0, backend=impl), np_requantize(acc, mult, off, 0))


@pytest.mark.parametrize("impl", impls("dequantize_s32"))
@pytest.mark.parametrize("shape", [(1, 1), (3, 17), (2, 7, 3, 5)])
@pytest.mark.parametrize("relu", [False, True])
def test_dequantize_s32_exact(impl, shape, relu, rng):
    acc = rng.integers(-2**30, 2**30, shape, dtype=np.int32)
    c = shape[1]
    mult = (rng.random(c) * 1e-4).astype(np.float32)
    bias = rng.standard_normal(c).astype(np.float32)
    got = K.dequantize_s32(acc, mult, bias, relu, backend=impl)
    assert got.dtype == np.float32 and np.array_equal(got, np_dequantize(acc, mult, bias, relu))


def test_quantize_kernels_bad_inputs():
    x = np.ones((2, 3), np.float32)
    acc = np.ones((2, 3), np.int32)
    m = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="scale"):
        K.quantize_u8(x, 0.0, 1)
    with pytest.raises(ValueError, match="scale"):
        K.quantize_u8(x, float("nan"), 1)
    with pytest.raises(ValueError, match="zero_point"):
        K.quantize_u8(x, 1.0, 256)
    with pytest.raises(TypeError, match="x"):
        K.quantize_u8(x.astype(np.float64), 1.0, 1)
    with pytest.raises(TypeError, match="acc"):
        K.requantize_u8(acc.astype(np.float32), m, m, 0)
    with pytest.raises(ValueError, match="one value per channel"):
        K.requantize_u8(acc, m[:2].copy(), m, 0)
    with pytest.raises(ValueError, match="lo"):
        K.requantize_u8(acc, m, m, -1)
    with pytest.raises(ValueError, match="acc must be"):
        K.dequantize_s32(np.ones(3, np.int32), m, m)
