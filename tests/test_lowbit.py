"""int8 GEMM / convolution and binary (XNOR + popcount) kernels: exact against int64 NumPy references.

Every implementation of each op is run by its exact name; the ones this CPU
cannot execute skip with the reason (AVX512-VNNI, AVX-VNNI, VPOPCNTDQ on a Zen 3).
"""
import numpy as np
import pytest

import dlcore
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


# ---- references (int64) ---------------------------------------------------------------------------
def ref_gemm(a, b, zp):
    return (a.astype(np.int64) - zp) @ b.astype(np.int64).T


def ref_conv(x, w, zp, stride, pad, dil, groups, pad_value=None):
    """int64 direct convolution; padded taps are `pad_value` (default: contribute 0)."""
    n, c, h, wd = x.shape
    oc, icg, kh, kw = w.shape
    xs = x.astype(np.int64) - zp
    xp = np.zeros((n, c, h + 2 * pad[0], wd + 2 * pad[1]), np.int64)
    if pad_value is not None:
        xp[...] = pad_value
    xp[:, :, pad[0]:pad[0] + h, pad[1]:pad[1] + wd] = xs
    oh = (h + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((n, oc, oh, ow), np.int64)
    ocg = oc // groups
    for g in range(groups):
        xg = xp[:, g * icg:(g + 1) * icg]
        wg = w[g * ocg:(g + 1) * ocg].astype(np.int64)
        for i in range(kh):
            for j in range(kw):
                patch = xg[:, :, i * dil[0]:i * dil[0] + stride[0] * (oh - 1) + 1:stride[0],
                           j * dil[1]:j * dil[1] + stride[1] * (ow - 1) + 1:stride[1]]
                y[:, g * ocg:(g + 1) * ocg] += np.einsum("nchw,oc->nohw", patch, wg[:, :, i, j])
    return y


# ---- int8 GEMM ------------------------------------------------------------------------------------
GEMM_SIZES = [(1, 1, 1), (3, 7, 17), (17, 33, 129), (7, 65, 63), (33, 17, 259), (65, 9, 1031), (2, 129, 4)]


@pytest.mark.parametrize("impl", impls("gemm_u8s8s32"))
@pytest.mark.parametrize("m,n,k", GEMM_SIZES)
def test_gemm_u8s8s32_exact(impl, m, n, k, rng):
    seven_bit = "maddubs" in impl
    a = rng.integers(0, 256, (m, k), dtype=np.uint8)
    b = rng.integers(-64 if seven_bit else -128, 64 if seven_bit else 128, (n, k), dtype=np.int8)
    for zp in (0, 3, 128, 255):
        c = K.gemm_u8s8s32(a, b, zp, backend=impl)
        assert c.dtype == np.int32 and c.shape == (m, n)
        np.testing.assert_array_equal(c, ref_gemm(a, b, zp))
        assert _C.last_dispatch() == f"gemm_u8s8s32:{impl}"


@pytest.mark.parametrize("impl", impls("gemm_u8s8s32"))
def test_gemm_u8s8s32_saturation_cases(impl):
    """255 x -128 over a long K: where vpmaddubsw would saturate, the maddubs entry declines instead."""
    k = 4099
    a = np.full((5, k), 255, np.uint8)
    b = np.full((19, k), -128, np.int8)
    b[1::2] = 127
    if "maddubs" in impl:
        with pytest.raises(dlcore.BackendUnavailableError, match=r"\[-64, 63\]"):
            K.gemm_u8s8s32(a, b, 0, backend=impl)
        b = np.where(b < 0, -64, 63).astype(np.int8)  # its widest exact weights
    for zp in (0, 255):
        np.testing.assert_array_equal(K.gemm_u8s8s32(a, b, zp, backend=impl), ref_gemm(a, b, zp))


def test_gemm_u8s8s32_auto_takes_the_exact_path_for_8bit_weights(rng):
    a = rng.integers(0, 256, (9, 300), dtype=np.uint8)
    b = np.full((5, 300), -128, np.int8)
    np.testing.assert_array_equal(K.gemm_u8s8s32(a, b, 7), ref_gemm(a, b, 7))
    if ISA["avx2"]["available"] and not ISA["avx_vnni"]["available"] and not ISA["avx512_vnni"]["available"]:
        assert "madd16" in _C.last_dispatch()
        K.gemm_u8s8s32(a, (b // 2).astype(np.int8))
        assert "maddubs" in _C.last_dispatch()


def test_gemm_u8s8s32_threads_invariant(rng):
    a = rng.integers(0, 256, (131, 517), dtype=np.uint8)
    b = rng.integers(-128, 128, (97, 517), dtype=np.int8)
    old = dlcore.get_num_threads()
    try:
        outs = []
        for t in (1, 2, 3):
            dlcore.set_num_threads(t)
            outs.append(K.gemm_u8s8s32(a, b, 17))
    finally:
        dlcore.set_num_threads(old)
    for o in outs:
        np.testing.assert_array_equal(o, ref_gemm(a, b, 17))


def test_gemm_u8s8s32_bad_input(rng):
    a = rng.integers(0, 256, (3, 5), dtype=np.uint8)
    b = rng.integers(-128, 128, (4, 5), dtype=np.int8)
    with pytest.raises(TypeError, match="a must be uint8, got float32"):
        K.gemm_u8s8s32(a.astype(np.float32), b)
    with pytest.raises(TypeError, match="b must be int8, got uint8"):
        K.gemm_u8s8s32(a, b.view(np.uint8))
    with pytest.raises(ValueError, match=r"a_zero_point must be in \[0, 255\]"):
        K.gemm_u8s8s32(a, b, 256)
    with pytest.raises(ValueError, match=r"a_zero_point must be in \[0, 255\]"):
        K.gemm_u8s8s32(a, b, -1)
    with pytest.raises(ValueError, match="share K"):
        K.gemm_u8s8s32(a, b[:, :4].copy())
    with pytest.raises(ValueError, match="C-contiguous"):
        K.gemm_u8s8s32(np.asfortranarray(rng.integers(0, 256, (3, 6), dtype=np.uint8)), b[:, :1].repeat(6, 1))
    with pytest.raises(dlcore.BackendUnavailableError):
        K.gemm_u8s8s32(a, b, backend="avx512")
    with pytest.raises(ValueError, match="unknown backend"):
        K.gemm_u8s8s32(a, b, backend="avx3")


def test_gemm_u8s8s32_empty():
    a = np.zeros((0, 5), np.uint8)
    assert K.gemm_u8s8s32(a, np.ones((3, 5), np.int8)).shape == (0, 3)
    c = K.gemm_u8s8s32(np.ones((2, 0), np.uint8), np.ones((3, 0), np.int8))
    np.testing.assert_array_equal(c, np.zeros((2, 3), np.int32))


# ---- int8 convolution -----------------------------------------------------------------------------
CONV_CASES = [  # n, c, h, w, oc, kh, kw, stride, pad, dilation, groups
    (2, 3, 9, 11, 5, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (1, 7, 13, 8, 9, 5, 3, (2, 1), (2, 0), (1, 1), 1),
    (3, 6, 7, 7, 4, 3, 3, (1, 2), (1, 2), (2, 1), 2),
    (1, 17, 6, 5, 33, 1, 1, (1, 1), (0, 0), (1, 1), 1),
    (2, 66, 5, 5, 6, 3, 3, (2, 2), (1, 1), (1, 1), 3),
    (5, 1, 12, 11, 6, 5, 5, (1, 1), (2, 2), (1, 1), 1),  # LeNet conv1-like: 8-byte row moves, images in parallel
    (1, 2, 6, 12, 3, 2, 9, (1, 1), (0, 3), (1, 1), 1),   # rows longer than 8 taps
    (2, 3, 9, 9, 4, 3, 3, (1, 1), (2, 2), (1, 2), 1),    # dilated columns
]


def direct_declines(case):
    """Why conv2d_u8s8_direct_avx2 declines `case` (conv_u8s8.cpp direct_declines), else None."""
    n, c, h, w, oc, kh, kw, stride, pad, dil, groups = case
    if stride[1] != 1:
        return "stride along the width"
    if oc // groups > 32:
        return "output channels per group"
    return None


@pytest.mark.parametrize("impl", impls("conv2d_u8s8"))
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "x".join(map(str, c[:7])))
def test_conv2d_u8s8_exact(impl, case, rng):
    n, c, h, w, oc, kh, kw, stride, pad, dil, groups = case
    x = rng.integers(0, 256, (n, c, h, w), dtype=np.uint8)
    lim = 64 if "maddubs" in impl else 128
    wt = rng.integers(-lim, lim, (oc, c // groups, kh, kw), dtype=np.int8)
    if "direct" in impl and direct_declines(case):
        with pytest.raises(dlcore.BackendUnavailableError, match=direct_declines(case)):
            K.conv2d_u8s8(x, wt, 3, stride, pad, dil, groups, backend=impl)
        return
    for zp in (0, 77, 255):
        y = K.conv2d_u8s8(x, wt, zp, stride, pad, dil, groups, backend=impl)
        assert y.dtype == np.int32
        np.testing.assert_array_equal(y, ref_conv(x, wt, zp, stride, pad, dil, groups))


# The direct kernel (few output channels): 16-column blocks with partial last blocks, odd KW (a tap
# paired with a zero weight), output-channel blocks of 6 with every remainder, full int8 weights.
DIRECT_CASES = [  # n, c, h, w, oc, kh, kw, stride, pad, dilation, groups
    (3, 1, 28, 28, 6, 5, 5, (1, 1), (2, 2), (1, 1), 1),   # LeNet-5 conv1
    (2, 6, 14, 14, 16, 5, 5, (1, 1), (0, 0), (1, 1), 1),  # LeNet-5 conv2
    (1, 3, 9, 37, 13, 3, 7, (2, 1), (1, 3), (1, 1), 1),   # OW 37 = 16 + 16 + 5; row stride 2
    (2, 4, 8, 17, 7, 1, 1, (1, 1), (0, 0), (1, 1), 1),    # 1x1
    (1, 6, 11, 19, 9, 3, 3, (1, 1), (2, 2), (2, 3), 3),   # dilation, groups (ocg 3)
    (1, 2, 5, 3, 1, 2, 3, (3, 1), (1, 1), (1, 1), 1),     # OW < 16, one output channel
    (2, 5, 7, 33, 16, 3, 2, (1, 1), (1, 0), (1, 1), 1),   # even KW
    (1, 3, 6, 18, 32, 3, 3, (1, 1), (1, 1), (1, 1), 1),   # 32 output channels: blocks 6 x 5 + 2
]


@pytest.mark.skipif(not ISA["avx2"]["available"], reason="conv2d_u8s8_direct_avx2 needs AVX2")
@pytest.mark.parametrize("case", DIRECT_CASES, ids=lambda c: "x".join(map(str, c[:7])))
def test_conv2d_u8s8_direct_exact(case, rng):
    n, c, h, w, oc, kh, kw, stride, pad, dil, groups = case
    x = rng.integers(0, 256, (n, c, h, w), dtype=np.uint8)
    wt = rng.integers(-128, 128, (oc, c // groups, kh, kw), dtype=np.int8)
    wt.reshape(-1)[:3] = (-128, 127, -128)
    ref = None
    for zp in (0, 3, 255):
        y = K.conv2d_u8s8(x, wt, zp, stride, pad, dil, groups, backend="conv2d_u8s8_direct_avx2")
        ref = ref_conv(x, wt, zp, stride, pad, dil, groups)
        np.testing.assert_array_equal(y, ref)
    # saturation: 255 (zp 0) against -128 and 127 over the whole window, exact in int32
    xs = np.full_like(x, 255)
    ws = np.where(rng.random(wt.shape) < 0.5, -128, 127).astype(np.int8)
    np.testing.assert_array_equal(K.conv2d_u8s8(xs, ws, 0, stride, pad, dil, groups,
                                                backend="conv2d_u8s8_direct_avx2"),
                                  ref_conv(xs, ws, 0, stride, pad, dil, groups))


@pytest.mark.skipif(not ISA["avx2"]["available"], reason="conv2d_u8s8_direct_avx2 needs AVX2")
def test_conv2d_u8s8_direct_chosen_for_lenet_and_thread_invariant(rng):
    x = rng.integers(0, 256, (9, 1, 28, 28), dtype=np.uint8)
    w = rng.integers(-128, 128, (6, 1, 5, 5), dtype=np.int8)
    old = dlcore.get_num_threads()
    try:
        # AMX and AVX512-VNNI rank above the direct AVX2 loop in the registry (not measured
        # against it on those CPUs), so the dispatch is checked only where AVX2 is the top tier.
        higher_tier = ISA["amx"]["available"] or ISA["avx512_vnni"]["available"]
        outs = []
        for t in (1, 2, 3):
            dlcore.set_num_threads(t)
            if not higher_tier:
                outs.append(K.conv2d_u8s8(x, w, 11, 1, 2))
                assert dlcore.kernels.last_dispatch() == "conv2d_u8s8:conv2d_u8s8_direct_avx2"
            outs.append(K.conv2d_u8s8(x, w, 11, 1, 2, backend="conv2d_u8s8_direct_avx2"))
    finally:
        dlcore.set_num_threads(old)
    ref = ref_conv(x, w, 11, (1, 1), (2, 2), (1, 1), 1)
    for o in outs:
        np.testing.assert_array_equal(o, ref)


def test_conv2d_u8s8_bad_input(rng):
    x = rng.integers(0, 256, (1, 4, 5, 5), dtype=np.uint8)
    w = rng.integers(-5, 5, (2, 4, 3, 3), dtype=np.int8)
    with pytest.raises(TypeError, match="x must be uint8, got float32"):
        K.conv2d_u8s8(x.astype(np.float32), w)
    with pytest.raises(TypeError, match="w must be int8, got float32"):
        K.conv2d_u8s8(x, w.astype(np.float32))
    with pytest.raises(ValueError, match="x_zero_point"):
        K.conv2d_u8s8(x, w, 300)
    with pytest.raises(ValueError, match="input channels per group"):
        K.conv2d_u8s8(x, w[:, :3].copy())
    with pytest.raises(ValueError, match="larger than the padded input"):
        K.conv2d_u8s8(x[:, :, :2, :2].copy(), w)


# ---- binary kernels -------------------------------------------------------------------------------
def sign(v):
    return np.where(v >= 0, 1, -1).astype(np.int64)


@pytest.mark.parametrize("impl", impls("binary_pack"))
@pytest.mark.parametrize("k", [1, 7, 63, 64, 65, 129, 200, 1000])
def test_binary_pack_layout(impl, k, rng):
    v = rng.standard_normal((3, k)).astype(np.float32)
    v[0, 0] = 0.0  # sign(0) = +1
    bits = K.binary_pack(v, backend=impl)
    assert bits.dtype == np.uint64 and bits.shape == (3, (k + 63) // 64)
    unpacked = np.unpackbits(bits.view(np.uint8), axis=1, bitorder="little")[:, :k]
    np.testing.assert_array_equal(unpacked, (v >= 0).astype(np.uint8))
    assert not np.unpackbits(bits.view(np.uint8), axis=1, bitorder="little")[:, k:].any()


@pytest.mark.parametrize("impl", impls("binary_pack"))
@pytest.mark.parametrize("n,c,h,w,groups", [(2, 3, 4, 5, 1), (1, 70, 3, 9, 1), (2, 130, 2, 17, 2), (1, 96, 3, 8, 3),
                                            (1, 8, 1, 16, 1), (1, 200, 2, 7, 1)])
def test_binary_pack_nchw_layout(impl, n, c, h, w, groups, rng):
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    x[0, 0, 0, 0] = 0.0
    bits = K.binary_pack_nchw(x, groups, backend=impl)
    cg, wcg = c // groups, (c // groups + 63) // 64
    assert bits.dtype == np.uint64 and bits.shape == (n, h, w, groups * wcg)
    unpacked = np.unpackbits(bits.reshape(n, h, w, groups, wcg).view(np.uint8), axis=-1, bitorder="little")
    expect = np.zeros((n, h, w, groups, wcg * 64), np.uint8)
    expect[..., :cg] = (x >= 0).transpose(0, 2, 3, 1).reshape(n, h, w, groups, cg)
    np.testing.assert_array_equal(unpacked, expect)


@pytest.mark.parametrize("impl", impls("binary_gemm"))
@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (3, 5, 63), (7, 9, 64), (17, 13, 65), (5, 33, 257), (9, 6, 1000),
                                   (4, 7, 2048)])
def test_binary_gemm_exact(impl, m, n, k, rng):
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float32)
    ref = sign(x) @ sign(w).T
    y = K.binary_gemm(K.binary_pack(x), K.binary_pack(w), k, backend=impl)
    np.testing.assert_array_equal(y, ref.astype(np.float32))
    scale = rng.random(n).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    y = K.binary_gemm(K.binary_pack(x), K.binary_pack(w), k, scale, bias, backend=impl)
    # the float epilogue may be fused (one rounding instead of two)
    np.testing.assert_allclose(y, scale * ref + bias, rtol=1e-6, atol=1e-6 * np.abs(ref).max())


def pack_weight(w):
    oc, icg, kh, kw = w.shape
    return K.binary_pack(np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(-1, icg)).reshape(oc, kh, kw, -1)


BCONV_CASES = [  # n, c, h, w, oc, kh, kw, stride, pad, dilation, groups
    (2, 3, 9, 11, 5, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (1, 65, 7, 6, 9, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (1, 130, 8, 9, 7, 5, 3, (2, 1), (2, 1), (1, 1), 1),
    (2, 34, 7, 7, 6, 3, 3, (1, 2), (1, 2), (2, 1), 2),
    (1, 200, 5, 5, 17, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (1, 96, 9, 9, 8, 5, 5, (1, 1), (2, 2), (1, 1), 2),
    (1, 17, 4, 4, 3, 1, 1, (1, 1), (0, 0), (1, 1), 1),
    (2, 195, 6, 7, 6, 3, 3, (1, 1), (1, 1), (1, 1), 3),  # regrouped input, 2 words per group (65 channels)
    (1, 34, 7, 9, 4, 3, 3, (1, 1), (1, 1), (1, 2), 2),   # grouped with dilated columns: per-tap spans
]


@pytest.mark.parametrize("impl", impls("binary_conv2d"))
@pytest.mark.parametrize("case", BCONV_CASES, ids=lambda c: "x".join(map(str, c[:7])))
def test_binary_conv2d_equals_float_sign_conv_with_zero_padding(impl, case, rng):
    n, c, h, w, oc, kh, kw, stride, pad, dil, groups = case
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = rng.standard_normal((oc, c // groups, kh, kw)).astype(np.float32)
    # sign(x) padded with 0 (not -1): the float sign-convolution with zero padding, in int64.
    ref = ref_conv(sign(x), sign(wt), 0, stride, pad, dil, groups)
    if "nibble" in impl and ref.shape[2] * ref.shape[3] < 512:  # small images: test_lowbit_binary_conv.py
        with pytest.raises(dlcore.BackendUnavailableError, match="output pixels per image"):
            K.binary_conv2d(K.binary_pack_nchw(x, groups), pack_weight(wt), c, stride, pad, dil, groups, backend=impl)
        return
    y = K.binary_conv2d(K.binary_pack_nchw(x, groups), pack_weight(wt), c, stride, pad, dil, groups, backend=impl)
    np.testing.assert_array_equal(y, ref.astype(np.float32))
    scale = rng.random(oc).astype(np.float32)
    y = K.binary_conv2d(K.binary_pack_nchw(x, groups), pack_weight(wt), c, stride, pad, dil, groups, scale,
                        backend=impl)
    np.testing.assert_allclose(y, scale.reshape(1, -1, 1, 1) * ref, rtol=1e-6)


def test_binary_bad_input(rng):
    x = rng.standard_normal((1, 70, 5, 5)).astype(np.float32)
    w = rng.standard_normal((4, 70, 3, 3)).astype(np.float32)
    xb, wb = K.binary_pack_nchw(x), pack_weight(w)
    with pytest.raises(TypeError, match="w_bits must be uint64, got float32"):
        K.binary_conv2d(xb, w, 70)  # unpacked weights
    with pytest.raises(ValueError, match="words per tap"):
        K.binary_conv2d(xb, wb[..., :1].copy(), 70)
    bad = wb.copy()
    bad[0, 0, 0, 1] |= np.uint64(1) << np.uint64(63)  # a bit past channel 70
    with pytest.raises(ValueError, match="bits set past"):
        K.binary_conv2d(xb, bad, 70)
    with pytest.raises(ValueError, match="needs 2 words"):
        K.binary_gemm(K.binary_pack(x.reshape(1, -1)[:, :100].copy()), K.binary_pack(w.reshape(4, -1)[:, :60].copy()), 100)
    with pytest.raises(TypeError, match="v must be float32"):
        K.binary_pack(np.ones((2, 3)))


@pytest.mark.skipif(not ISA["avx2"]["available"], reason="the AVX2 peak probes need AVX2")
@pytest.mark.parametrize("kind", ["avx2_maddubs", "avx2_madd16", "avx2_popcnt", "avx2_nibble"])
def test_lowbit_peak_probes_run(kind):
    # Speed is the benchmark's business; here: every AVX2 loop runs, on 1 and 2 threads, and bad
    # arguments are refused with a clear error.
    assert _C.lowbit_peak_gops(kind, 1, 1000) > 0 and _C.lowbit_peak_gops(kind, 2, 1000) > 0


def test_lowbit_peak_probe_bad_arguments():
    with pytest.raises(ValueError, match="unknown loop 'nope'"):
        _C.lowbit_peak_gops("nope", 1, 10)
    if ISA["avx2"]["available"]:
        with pytest.raises(ValueError, match="threads and iterations must be >= 1"):
            _C.lowbit_peak_gops("avx2_popcnt", 0, 10)
