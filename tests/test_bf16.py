"""bfloat16: conversions, GEMM and convolution kernels (every bf16 path this CPU has), autocast.

Truth: float64 NumPy on the bf16-rounded inputs. Products of two bf16 values
are exact in float32 (8 + 8 significant bits), so a bf16 GEMM's error is that
of float32 summation: |C - C64| <= gamma * (|alpha| |A||B| + |beta| |C0|) with
gamma = (k + 2 * blocks + 3) * 2^-24 (k additions, one alpha scaling and one
accumulate per k block of at least 128, beta and the last store), and for a
bf16 C one more rounding, 2^-8 |C64|.
"""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import dlcore
from dlcore import kernels as K
from dlcore import nn
from dlcore.ops.conv import conv2d_backward_data_ref, conv2d_backward_weights_ref, conv2d_forward_ref

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = dlcore.bfloat16
INFO = dlcore.backends()
U = 2.0 ** -24


def _bf16_paths():
    """Every backend with a bf16 GEMM, each a param; the ones this CPU lacks skip with the reason."""
    params = []
    for name in ("amx", "avx512_bf16", "avx512", "avx2", "ref"):
        info = INFO.get(name, {})
        marks = ()
        if not info.get("available", False):
            marks = pytest.mark.skip(reason=f"{name}: {info.get('reason', 'not available on this machine')} "
                                            f"(kernel compiled, not run here)")
        params.append(pytest.param(name, marks=marks, id=name))
    return params


BF16_PATHS = _bf16_paths()


def bf16(rng, *shape):
    """Random bf16 array in [-1, 1) (never zeros) and its exact float64 value."""
    x = (rng.uniform(-1, 1, shape).astype(np.float32) + np.float32(1e-3)).astype(BF16)
    return x, x.astype(np.float64)


# ---- dtype and conversions ------------------------------------------------------

def _special_floats(rng, n):
    bits = rng.integers(0, 2 ** 32, n, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32).copy()  # every bit pattern: normals, subnormals, inf, NaN with payloads
    ties = (rng.integers(0, 2 ** 16, n, dtype=np.uint32) << 16 | 0x8000).view(np.float32)  # exact halfway
    extra = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1.0, 1.00390625, 1.01171875,
                      3.3895314e38, 3.4028235e38, 1e-45, -1e-45, 1.1754942e-38], np.float32)
    return np.concatenate([x, ties, extra])


@pytest.mark.parametrize("backend", ["ref", "avx2"])
@pytest.mark.parametrize("n", [1, 7, 33, 1000])
def test_f32_to_bf16_equals_ml_dtypes_bit_for_bit(backend, n, rng):
    if not INFO[backend]["available"]:
        pytest.skip(f"{backend} not available here")
    x = _special_floats(rng, n)
    with np.errstate(invalid="ignore"):
        want = x.astype(BF16).view(np.uint16)
    got = K.cast_f32_to_bf16(x, backend=backend)
    assert got.dtype == BF16 and got.shape == x.shape
    np.testing.assert_array_equal(got.view(np.uint16), want)
    back = K.cast_bf16_to_f32(got, backend=backend)
    np.testing.assert_array_equal(back.view(np.uint32), got.astype(np.float32).view(np.uint32))
    assert np.isnan(back[np.isnan(x)]).all()


def test_cast_avx512_bf16_path():
    if not INFO["avx512_bf16"]["available"]:
        pytest.skip(f"avx512_bf16: {INFO['avx512_bf16'].get('reason', 'not available')} (vcvtne2ps2bf16 "
                    "kernel compiled, not run here)")
    rng = np.random.default_rng(1)
    x = rng.standard_normal(1037).astype(np.float32)  # normals only: the instruction flushes subnormals
    x[5] = np.nan
    got = K.cast_f32_to_bf16(x, backend="avx512_bf16")
    finite = np.isfinite(x)
    np.testing.assert_array_equal(got.view(np.uint16)[finite], x.astype(BF16).view(np.uint16)[finite])
    assert np.isnan(got.astype(np.float32)[5])


def test_cast_errors_and_out():
    with pytest.raises(TypeError, match="must be float32"):
        K.cast_f32_to_bf16(np.zeros(3, np.float64))
    with pytest.raises(TypeError, match="must be bfloat16"):
        K.cast_bf16_to_f32(np.zeros(3, np.float32))
    out = np.empty(4, BF16)
    assert K.cast_f32_to_bf16(np.ones(4, np.float32), out=out) is not None
    np.testing.assert_array_equal(out.astype(np.float32), np.ones(4))
    with pytest.raises(ValueError, match="shape"):
        K.cast_f32_to_bf16(np.ones(5, np.float32), out=out)


def test_tensor_to_bfloat16_and_back_keeps_the_tape():
    w = dlcore.tensor(np.array([1.00390625, -2.5, 3.0], np.float32), requires_grad=True)
    h = w.bfloat16()
    assert h.dtype == BF16 and h.requires_grad
    np.testing.assert_array_equal(h._data.astype(np.float32), [1.0, -2.5, 3.0])
    assert w.to(dlcore.bfloat16).dtype == BF16
    y = h.float()
    assert y.dtype == np.float32
    (y * dlcore.tensor(np.array([1.0, 2.0, 3.0], np.float32))).sum().backward()
    assert w.grad.dtype == np.float32
    np.testing.assert_array_equal(w.grad._data, [1.0, 2.0, 3.0])


def test_import_dlcore_leaves_ml_dtypes_for_first_use():
    # `import dlcore` does not pay for ml_dtypes (1.3 s of ufunc-loop registration in NumPy 2.4);
    # dlcore.bfloat16, autocast and Tensor.bfloat16 import it; an array the user made with ml_dtypes
    # is seen as bfloat16 before dlcore has resolved the dtype itself.
    code = textwrap.dedent("""
        import sys
        import numpy as np
        import dlcore, dlcore.nn, dlcore.optim, dlcore.kernels
        assert "ml_dtypes" not in sys.modules
        assert "bfloat16" in dir(dlcore) and "bfloat16" in dir(dlcore.amp) and "explain" in dir(dlcore)
        assert "ml_dtypes" not in sys.modules and "dlcore.explain" not in sys.modules
        t = dlcore.tensor(np.ones(3, np.float32), requires_grad=True)
        assert not dlcore.amp.is_bfloat16(np.float32) and not dlcore.amp.is_bfloat16("float64")
        (t * 2).sum().backward()
        assert "ml_dtypes" not in sys.modules
        import ml_dtypes
        user = np.array([1.5, -2.0], ml_dtypes.bfloat16)
        assert dlcore.amp._bfloat16 is None and dlcore.amp.is_bfloat16(user.dtype)
        assert dlcore.tensor(user).dtype == dlcore.bfloat16 == np.dtype(ml_dtypes.bfloat16)
        assert dlcore.amp.is_bfloat16("bfloat16")
        from dlcore import bfloat16
        assert bfloat16 == dlcore.amp.bfloat16
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_backends_list_the_bf16_paths():
    for name in ("amx", "avx512_bf16"):
        assert name in INFO and "available" in INFO[name]
        if not INFO[name]["available"]:
            assert INFO[name].get("reason")


# ---- GEMM -----------------------------------------------------------------------

def _gemm_bound(a64, b64, c0, alpha, beta, k, out_bf16):
    blocks = k // 128 + 1
    gamma = (k + 2 * blocks + 3) * U
    mag = abs(alpha) * (np.abs(a64) @ np.abs(b64)) + abs(beta) * np.abs(c0)
    return gamma * mag * 1.01 + 1e-30


def _check_gemm(backend, rng, m, n, k, trans_a, trans_b, alpha=1.0, beta=0.0, out_dtype=np.float32):
    a, a64 = bf16(rng, *((k, m) if trans_a else (m, k)))
    b, b64 = bf16(rng, *((n, k) if trans_b else (k, n)))
    opa, opb = (a64.T if trans_a else a64), (b64.T if trans_b else b64)
    out_bf16 = out_dtype == BF16
    if beta != 0.0:
        c0 = rng.uniform(-1, 1, (m, n)).astype(np.float32).astype(out_dtype)
        out = c0.copy()
    else:
        c0 = np.zeros((m, n), np.float32)
        out = np.full((m, n), np.nan, np.float32).astype(out_dtype)  # poison: beta == 0 must not read it
    c064 = c0.astype(np.float64)
    ref = alpha * (opa @ opb) + beta * c064
    got = K.gemm(a, b, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta, out=out, backend=backend)
    assert got.dtype == out_dtype and got.shape == (m, n)
    assert "bf16" in K.last_dispatch(), K.last_dispatch()
    bound = _gemm_bound(opa, opb, c064, alpha, beta, k, out_bf16)
    err = np.abs(got.astype(np.float64) - ref)
    if out_bf16:
        bound = bound + 2.0 ** -8 * np.abs(ref)
    assert np.all(err <= bound), (backend, m, n, k, trans_a, trans_b, float(np.max(err - bound)))


SIZES = [1, 3, 15, 17, 31, 33, 63, 65, 129]
# Each size in each of M, N and K (a Latin rotation), plus K past every KC (256, 384, 512).
SHAPES = [(SIZES[i], SIZES[(i + 3) % 9], SIZES[(i + 6) % 9]) for i in range(9)] + [(17, 33, 600), (40, 70, 300)]


@pytest.mark.parametrize("backend", BF16_PATHS)
@pytest.mark.parametrize("m,n,k", SHAPES)
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (False, True), (True, False), (True, True)])
def test_gemm_bf16_against_float64(backend, m, n, k, trans_a, trans_b, rng):
    _check_gemm(backend, rng, m, n, k, trans_a, trans_b)


@pytest.mark.parametrize("backend", BF16_PATHS)
@pytest.mark.parametrize("alpha,beta", [(0.5, 0.0), (-1.5, 1.0), (2.0, -0.75)])
@pytest.mark.parametrize("out_dtype", [np.float32, BF16], ids=["f32out", "bf16out"])
def test_gemm_bf16_alpha_beta_and_bf16_output(backend, alpha, beta, out_dtype, rng):
    _check_gemm(backend, rng, 37, 45, 70, False, True, alpha, beta, out_dtype)
    _check_gemm(backend, rng, 6, 129, 31, True, False, alpha, beta, out_dtype)


def test_gemm_bf16_out_dtype_without_out(rng):
    a, _ = bf16(rng, 5, 7)
    b, _ = bf16(rng, 7, 3)
    c = K.gemm(a, b, out_dtype=BF16)
    assert c.dtype == BF16 and c.shape == (5, 3)
    c = K.gemm(a, b, out_dtype="float32")
    assert c.dtype == np.float32


def test_gemm_dtype_column_dispatch(rng):
    a = rng.standard_normal((8, 8)).astype(np.float32)
    K.gemm(a, a, backend="ref")
    assert K.last_dispatch() == "gemm:gemm_ref_4x8"
    K.gemm(a.astype(BF16), a.astype(BF16), backend="ref")
    assert K.last_dispatch() == "gemm:gemm_bf16cvt_ref_4x8"
    K.gemm(a.astype(BF16), a.astype(BF16))
    assert "bf16" in K.last_dispatch()
    K.gemm(a, a)
    assert "bf16" not in K.last_dispatch()


def test_gemm_bf16_bad_input(rng):
    a32 = rng.standard_normal((4, 4)).astype(np.float32)
    a16 = a32.astype(BF16)
    with pytest.raises(TypeError, match="same dtype"):
        K.gemm(a16, a32)
    with pytest.raises(TypeError, match="same dtype"):
        K.gemm(a32, a16)
    with pytest.raises(TypeError, match="out is float32 but out_dtype is bfloat16"):
        K.gemm(a16, a16, out=np.empty((4, 4), np.float32), out_dtype=BF16)
    with pytest.raises(TypeError, match="bfloat16 output needs bfloat16 a and b"):
        K.gemm(a32, a32, out=np.empty((4, 4), BF16))
    with pytest.raises(TypeError, match="bfloat16 output needs bfloat16 a and b"):
        K.gemm(a32, a32, out_dtype=BF16)
    with pytest.raises(TypeError, match="out_dtype must be float32 or bfloat16"):
        K.gemm(a16, a16, out_dtype="float16")
    with pytest.raises(ValueError, match="inner dimensions"):
        K.gemm(a16, a16[:3].copy())
    with pytest.raises(ValueError, match="C-contiguous"):
        K.gemm(a16.T, a16)
    with pytest.raises(ValueError, match="shares memory"):
        out = np.empty((4, 4), BF16)
        K.gemm(out, a16, out=out)
    # A float32 input on a bf16-only backend: the reason, not a fallback.
    for name in ("amx", "avx512_bf16"):
        with pytest.raises(dlcore.BackendUnavailableError, match="not available|declines"):
            K.gemm(a32, a32, backend=name)
    if not INFO["amx"]["available"]:
        with pytest.raises(dlcore.BackendUnavailableError, match="not available"):
            K.gemm(a16, a16, backend="amx")


# ---- convolution ----------------------------------------------------------------

# (N, C, H, W), (O, C/g, KH, KW), stride, padding (t, b, l, r), dilation, groups; channels not multiples of 16.
CONV_GEOMS = [
    ((2, 3, 9, 11), (5, 3, 3, 3), (2, 1), (1, 0, 2, 1), (1, 1), 1),
    ((1, 6, 8, 7), (10, 3, 3, 2), (1, 1), (1, 1, 0, 1), (2, 1), 2),
    ((3, 17, 5, 6), (33, 17, 1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1),   # pointwise: no im2col
    ((2, 33, 7, 7), (15, 33, 1, 1), (2, 2), (0, 0, 0, 0), (1, 1), 1),
    ((1, 31, 12, 10), (17, 31, 5, 5), (1, 1), (2, 2, 2, 2), (1, 1), 1),
]


def _conv_err_ok(got, ref, mag, terms):
    bound = (terms + 8) * U * mag * 1.01 + 1e-30
    err = np.abs(got.astype(np.float64) - ref)
    return np.all(err <= bound), float(np.max(err - bound))


@pytest.mark.parametrize("backend", BF16_PATHS)
@pytest.mark.parametrize("geom", CONV_GEOMS, ids=lambda g: "x".join(map(str, g[0] + g[1])))
@pytest.mark.parametrize("chunk_bytes", [None, 1], ids=["one_chunk", "image_per_chunk"])
def test_conv2d_bf16_three_passes_against_float64(backend, geom, chunk_bytes, rng):
    previous = dlcore._C._conv_bf16_set_chunk_bytes(chunk_bytes) if chunk_bytes else None
    try:
        _check_conv_bf16(backend, geom, rng)
    finally:
        if previous is not None:
            dlcore._C._conv_bf16_set_chunk_bytes(previous)


def _check_conv_bf16(backend, geom, rng):
    xs, ws, stride, padding, dilation, groups = geom
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    x, x64 = bf16(rng, *xs)
    w, w64 = bf16(rng, *ws)
    bias = rng.uniform(-1, 1, ws[0]).astype(np.float32)
    dlcore._C._conv_poison_scratch()
    y = K.conv2d_forward(x, w, bias, backend=backend, **kw)
    assert y.dtype == np.float32 and "bf16" in K.last_dispatch()
    k = ws[1] * ws[2] * ws[3]
    ref = conv2d_forward_ref(x64, w64, bias.astype(np.float64), stride, padding, dilation, groups)
    mag = conv2d_forward_ref(np.abs(x64), np.abs(w64), np.abs(bias.astype(np.float64)), stride, padding,
                             dilation, groups)
    ok, worst = _conv_err_ok(y, ref, mag, k + 1)
    assert ok, ("forward", worst)

    dy, dy64 = bf16(rng, *y.shape)
    dx = K.conv2d_backward_data(dy, w, xs, backend=backend, **kw)
    assert dx.dtype == np.float32 and dx.shape == xs
    ref = conv2d_backward_data_ref(dy64, w64, xs, stride, padding, dilation, groups)
    mag = conv2d_backward_data_ref(np.abs(dy64), np.abs(w64), xs, stride, padding, dilation, groups)
    ok, worst = _conv_err_ok(dx, ref, mag, ws[0] // groups + ws[2] * ws[3])
    assert ok, ("backward data", worst)

    dw, db = K.conv2d_backward_weights(x, dy, ws, backend=backend, **kw)
    assert dw.dtype == np.float32 and db.dtype == np.float32
    ref, db_ref = conv2d_backward_weights_ref(x64, dy64, ws, stride, padding, dilation, groups, True)
    mag, db_mag = conv2d_backward_weights_ref(np.abs(x64), np.abs(dy64), ws, stride, padding, dilation, groups,
                                              True)
    terms = y.shape[0] * y.shape[2] * y.shape[3]
    ok, worst = _conv_err_ok(dw, ref, mag, terms + 2 * y.shape[0])
    assert ok, ("backward weights", worst)
    ok, worst = _conv_err_ok(db, db_ref, db_mag, terms)
    assert ok, ("bias", worst)


def test_conv2d_bf16_bad_input(rng):
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    with pytest.raises(TypeError, match="same dtype"):
        K.conv2d_forward(x.astype(BF16), w)
    with pytest.raises(TypeError, match="same dtype"):
        K.conv2d_backward_data(np.zeros((1, 3, 3, 3), BF16), w, x.shape)
    with pytest.raises(ValueError, match="input channels"):
        K.conv2d_forward(x.astype(BF16), w[:, :1].copy().astype(BF16))
    with pytest.raises(TypeError, match="bias"):
        K.conv2d_forward(x.astype(BF16), w.astype(BF16), np.zeros(3, BF16))
    if not INFO["amx"]["available"]:
        with pytest.raises(dlcore.BackendUnavailableError, match="not available"):
            K.conv2d_forward(x.astype(BF16), w.astype(BF16), backend="amx")


# ---- autocast -------------------------------------------------------------------

def test_autocast_op_lists():
    from dlcore import amp

    assert {"linear", "matmul", "conv2d"} <= amp.LOWER_PRECISION_OPS
    assert {"softmax", "cross_entropy", "batch_norm", "sum"} <= amp.FLOAT32_OPS
    assert not amp.LOWER_PRECISION_OPS & amp.FLOAT32_OPS
    F = nn.functional
    rng = np.random.default_rng(0)
    x = dlcore.tensor(rng.standard_normal((4, 6)).astype(np.float32))
    w = dlcore.tensor(rng.standard_normal((5, 6)).astype(np.float32))
    img = dlcore.tensor(rng.standard_normal((2, 3, 6, 6)).astype(np.float32))
    cw = dlcore.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    with dlcore.autocast("cpu", dtype=dlcore.bfloat16):
        assert dlcore.amp.is_autocast_enabled()
        for y, op in ((F.linear(x, w), "gemm"), (x @ w.T, "gemm"), (F.conv2d(img, cw, padding=1), "conv2d")):
            assert y.dtype == np.float32 and op in K.last_dispatch() and "bf16" in K.last_dispatch()
        s = F.softmax(x, dim=1)
        assert s.dtype == np.float32 and "bf16" not in K.last_dispatch()
        loss = F.cross_entropy(F.linear(x, w), np.array([0, 1, 2, 3]))
        assert loss.dtype == np.float32
        xd = dlcore.tensor(rng.standard_normal((4, 6)))  # float64 is never cast
        assert F.linear(xd, w.double()).dtype == np.float64
        with dlcore.autocast("cpu", enabled=False):
            F.linear(x, w)
            assert "bf16" not in K.last_dispatch()
        assert dlcore.amp.is_autocast_enabled()
    assert not dlcore.amp.is_autocast_enabled()
    F.linear(x, w)
    assert "bf16" not in K.last_dispatch()


def test_autocast_decorator_and_bad_arguments():
    @dlcore.autocast("cpu", dtype=dlcore.bfloat16)
    def inside():
        return dlcore.amp.is_autocast_enabled()

    assert inside() and not dlcore.amp.is_autocast_enabled()
    with pytest.raises(ValueError, match="device_type"):
        dlcore.autocast("cuda")
    with pytest.raises(TypeError, match="dtype must be dlcore.bfloat16"):
        dlcore.autocast("cpu", dtype=np.float16)


def test_autocast_gradients_are_float32_and_match_bf16_math(rng):
    x = rng.standard_normal((7, 9)).astype(np.float32)
    w = rng.standard_normal((5, 9)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    g = rng.standard_normal((7, 5)).astype(np.float32)
    xt, wt, bt = (dlcore.tensor(v, requires_grad=True) for v in (x, w, b))
    with dlcore.autocast("cpu"):
        y = nn.functional.linear(xt, wt, bt)
    (y * dlcore.tensor(g)).sum().backward()
    r = lambda v: v.astype(BF16).astype(np.float64)  # noqa: E731
    for t, want in ((xt, r(g) @ r(w)), (wt, r(g).T @ r(x)), (bt, g.astype(np.float64).sum(0))):
        assert t.grad.dtype == np.float32
        np.testing.assert_allclose(t.grad._data, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y._data, r(x) @ r(w).T + b, rtol=1e-5, atol=1e-5)


def test_autocast_caches_parameter_casts_per_region(rng, monkeypatch):
    from dlcore import amp

    casts = []
    real = amp.to_bfloat16
    monkeypatch.setattr(amp, "to_bfloat16", lambda a: casts.append(a.shape) or real(a))
    x = dlcore.tensor(rng.standard_normal((3, 9)).astype(np.float32))
    w = dlcore.tensor(rng.standard_normal((5, 9)).astype(np.float32), requires_grad=True)
    c = dlcore.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    img = dlcore.tensor(rng.standard_normal((2, 3, 5, 5)).astype(np.float32))
    r = lambda v: v.astype(BF16).astype(np.float64)  # noqa: E731
    F = nn.functional
    with dlcore.autocast("cpu"):
        y1, y2 = F.linear(x, w), F.linear(x, w)
        z = x @ w.T  # w.T is not a leaf: cast per call, not cached
        F.conv2d(img, c)
        F.conv2d(img, c)
        with dlcore.autocast("cpu"):  # a nested region shares the outer cache
            F.linear(x, w)
        assert amp.weight_cache_size() == 2 and casts.count((5, 9)) == 1 and casts.count((4, 3, 3, 3)) == 1
        np.testing.assert_array_equal(y1._data, y2._data)
        np.testing.assert_allclose(z._data, r(x._data) @ r(w._data).T, rtol=1e-5, atol=1e-5)
        with dlcore.no_grad():
            w += 1.0  # in place: the version moves, the cached cast is stale
        y3 = F.linear(x, w)
        np.testing.assert_allclose(y3._data, r(x._data) @ r(w._data).T, rtol=1e-5, atol=1e-5)
        assert casts.count((5, 9)) == 2
        w.data = dlcore.tensor(rng.standard_normal((5, 9)).astype(np.float32))  # new storage: not the cached one
        np.testing.assert_allclose(F.linear(x, w)._data, r(x._data) @ r(w._data).T, rtol=1e-5, atol=1e-5)
        assert casts.count((5, 9)) == 3
    assert amp.weight_cache_size() == 0  # dropped on exit
    with dlcore.autocast("cpu", cache_enabled=False):
        F.linear(x, w)
        F.linear(x, w)
        assert amp.weight_cache_size() == 0 and casts.count((5, 9)) == 5
    frozen = dlcore.tensor(w._data.copy())  # no grad: not a parameter, never cached
    with dlcore.autocast("cpu"):
        F.linear(x, frozen)
        assert amp.weight_cache_size() == 0
    with pytest.raises(TypeError, match="cache_enabled"):
        dlcore.autocast("cpu", cache_enabled=1)


def test_autocast_cache_sees_optimizer_steps_inside_the_region(rng):
    """A whole training step inside one region: each forward uses the weights the last step wrote."""
    x = rng.standard_normal((6, 4)).astype(np.float32)
    lin = nn.Linear(4, 3)
    opt = dlcore.optim.SGD(lin.parameters(), lr=0.5)
    r = lambda v: v.astype(BF16).astype(np.float64)  # noqa: E731
    with dlcore.autocast("cpu"):
        for _ in range(3):
            y = lin(dlcore.tensor(x))
            want = r(x) @ r(lin.weight.data).T + lin.bias.data
            np.testing.assert_allclose(y.data, want, rtol=1e-5, atol=1e-5)
            opt.zero_grad()
            (y * y).sum().backward()
            opt.step()


def _digits28(train):
    """The built-in 8x8 digits upsampled x3 and padded to LeNet-5's 28x28."""
    ds = dlcore.data.Digits(train=train)
    imgs = np.kron(ds.images, np.ones((1, 1, 3, 3), np.float32))
    imgs = np.pad(imgs, ((0, 0), (0, 0), (2, 2), (2, 2)))
    return imgs.astype(np.float32), ds.labels.astype(np.int64)


def test_autocast_lenet5_on_digits_matches_float32_accuracy():
    pytest.importorskip("sklearn")
    xtr, ytr = _digits28(True)
    xte, yte = _digits28(False)
    before = dlcore.get_num_threads()
    dlcore.set_num_threads(1)  # tiny layers: a second thread only adds fork/join (20x slower on a loaded host)
    try:
        runs = [_train_lenet_both(xtr, ytr, xte, yte, seed) for seed in SEEDS]
    finally:
        dlcore.set_num_threads(before)
    accs = {amp: float(np.mean([r[amp] for r in runs])) for amp in (False, True)}
    assert accs[False] > 0.9, runs
    # bf16 may not lose more than 0.5 pt on the mean over seeds; doing better is no failure. One seed is
    # too coarse a measure: the test set has 359 images (0.28 pt each), and on the emulated AVX512-BF16
    # path a single seed came out 2 images behind float32 (96.66 vs 96.10) and, on the emulated AMX
    # path, 2 images ahead, both from rounding alone.
    assert accs[True] >= accs[False] - 0.005 - 1e-9, runs


SEEDS = (0, 1, 2)


def _train_lenet_both(xtr, ytr, xte, yte, seed):
    from dlcore import optim
    from dlcore.train import lenet5

    accs = {}
    for amp in (False, True):
        dlcore.manual_seed(seed)
        model = lenet5()
        opt = optim.Adam(model.parameters(), lr=2e-3)
        order = np.random.default_rng(seed)
        for _ in range(5):  # float32 and bf16 both reach 96.7% here
            idx = order.permutation(len(xtr))
            for s in range(0, len(idx), 32):
                j = idx[s:s + 32]
                opt.zero_grad()
                with dlcore.autocast("cpu", enabled=amp):
                    loss = nn.functional.cross_entropy(model(dlcore.tensor(xtr[j])), ytr[j])
                loss.backward()
                assert all(p.grad.dtype == np.float32 for p in model.parameters())
                opt.step()
        assert all(p.dtype == np.float32 for p in model.parameters())
        with dlcore.no_grad(), dlcore.autocast("cpu", enabled=amp):
            pred = model(dlcore.tensor(xte))._data.argmax(1)
        accs[amp] = float((pred == yte).mean())
    return accs


def test_onednn_bf16_gemm_runs_or_declines_with_the_reason(rng):
    if not INFO["onednn"]["available"]:
        pytest.skip("oneDNN not built here")
    a, a64 = bf16(rng, 33, 17)
    b, b64 = bf16(rng, 17, 9)
    try:
        c = K.gemm(a, b, backend="onednn")
    except dlcore.BackendUnavailableError as exc:  # e.g. oneDNN 2023 on a CPU without AVX512-BF16
        assert "oneDNN has no bf16 matmul" in str(exc)
        return
    assert c.dtype == np.float32
    assert np.all(np.abs(c - a64 @ b64) <= _gemm_bound(a64, b64, 0.0, 1.0, 0.0, 17, False) * 4)
    with pytest.raises(TypeError, match="same dtype"):
        K.gemm(a, b.astype(np.float32), backend="onednn")


def test_onednn_bf16_conv_runs_or_declines_with_the_reason(rng):
    if not INFO["onednn"]["available"]:
        pytest.skip("oneDNN not built here")
    x, x64 = bf16(rng, 2, 3, 7, 6)
    w, w64 = bf16(rng, 5, 3, 3, 3)
    with pytest.raises(TypeError, match="same dtype"):
        K.conv2d_forward(x, w.astype(np.float32), backend="onednn")
    try:
        y = K.conv2d_forward(x, w, padding=1, backend="onednn")
    except dlcore.BackendUnavailableError as exc:  # e.g. oneDNN 2023 on a CPU without AVX512-BF16
        assert "oneDNN has no bf16 convolution" in str(exc)
        return
    ref = conv2d_forward_ref(x64, w64, None, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    mag = conv2d_forward_ref(np.abs(x64), np.abs(w64), None, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    assert y.dtype == np.float32 and _conv_err_ok(y, ref, mag, 27)[0]


def test_train_amp_bf16_command_saves_float32_weights(tmp_path, capsys):
    pytest.importorskip("sklearn")
    from dlcore.train import main

    path = tmp_path / "amp.npz"
    acc = main(["--epochs", "1", "--amp", "bf16", "--no-progress", "--save", str(path)])
    assert acc > 0.7 and "test accuracy" in capsys.readouterr().out
    state = dlcore.load(str(path))
    assert state and all(np.asarray(v).dtype == np.float32 for v in state.values())
