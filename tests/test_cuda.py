"""dlcore._cuda kernels against float64 NumPy references, on CuPy arrays: what is GPU-specific.

Every op's values on the GPU are checked by the op table (tests/optable.py:
one float64 reference per op) run over the cuda backend in tests/test_ops.py,
which also checks refusals and error inputs there. This file keeps the
GPU-only things (streams, TF32, alignment fallbacks, kernel variants chosen
by size, the device Philox) and uses the op table's references.

Skipped as a whole unless the CUDA backend is usable here (built, a GPU of
compute capability 8.0+, a driver, CuPy). Sizes are odd on purpose: not
multiples of the 128x128 GEMM tile, the 8-deep K step, the warp or float4.
Each extension function is called exactly as dlcore.kernels' wrappers call
it: the KERNEL_API positional arguments, then the backend.
"""
import numpy as np
import pytest

import dlcore
from opcheck import numerical_grad, randn
from optable import (
    _pair,
    avg_pool_ref,
    batch_norm_ref,
    conv_backward_data_ref,
    conv_backward_weights_ref,
    conv_ref,
    gemm_ref,
    lrn_ref,
    max_pool_ref,
    softmax_ref,
)

_INFO = dlcore.backends()["cuda"]
if not _INFO["available"]:
    pytest.skip(f"CUDA backend not usable here: {_INFO['reason']}", allow_module_level=True)
cp = pytest.importorskip("cupy")
from dlcore import _cuda  # noqa: E402  (only importable-and-usable past the skip)

B = "cuda"


def gpu(a):
    return cp.asarray(a)


def host(a):
    return cp.asnumpy(a).astype(np.float64)


def check(got, expected, *, rtol=1e-5, atol=1e-6, scale=None, what=""):
    """|got - expected| <= atol + rtol * scale (default |expected|); NaN (unwritten) never passes."""
    got = host(got)
    expected = np.asarray(expected, np.float64)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    assert np.all(np.isfinite(got)), f"{what}: non-finite (unwritten?) elements"
    bound = atol + rtol * (np.abs(expected) if scale is None else scale)
    err = np.abs(got - expected)
    assert np.all(err <= bound), f"{what}: max err {err.max():.3g}, worst ratio {np.max(err / bound):.3g}"


# ---------------------------------------------------------------------------- GEMM
# the last three split K over slices (too few output tiles to fill the GPU)
GEMM_SIZES = [(1, 1, 1), (7, 9, 3), (33, 17, 65), (129, 131, 9), (130, 257, 100), (65, 300, 513), (64, 129, 3001),
              (17, 5, 2049)]


@pytest.mark.parametrize("m,n,k", GEMM_SIZES)
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (False, True), (True, False), (True, True)])
def test_gemm(rng, m, n, k, trans_a, trans_b):
    a = randn(rng, *((k, m) if trans_a else (m, k)))
    b = randn(rng, *((n, k) if trans_b else (k, n)))
    c0 = randn(rng, m, n)
    a64 = a.astype(np.float64).T if trans_a else a.astype(np.float64)
    b64 = b.astype(np.float64).T if trans_b else b.astype(np.float64)
    alpha, beta = 0.75, -1.25
    expected = gemm_ref(a, b, trans_a, trans_b, alpha, beta, c0)  # the op table's one reference
    out = gpu(c0)
    got = dlcore.kernels.gemm(gpu(a), gpu(b), trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta, out=out,
                              backend=B)
    assert got.data.ptr == out.data.ptr
    scale = abs(alpha) * (np.abs(a64) @ np.abs(b64)) + abs(beta) * np.abs(c0)
    check(got, expected, rtol=4e-6 * np.sqrt(k) + 1e-6, atol=1e-6, scale=scale,
          what="gemm")


def test_gemm_beta0_ignores_nan_out_and_auto_routes_cupy(rng):
    a, b = randn(rng, 37, 70), randn(rng, 70, 45)
    out = cp.full((37, 45), cp.nan, cp.float32)
    got = dlcore.kernels.gemm(gpu(a), gpu(b), out=out)  # "auto" + CuPy arrays -> CUDA
    check(got, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-5, what="gemm auto")


def test_gemm_k0_and_offset_views(rng):
    c0 = randn(rng, 5, 6)
    out = gpu(c0)
    _cuda.gemm(cp.empty((5, 0), cp.float32), cp.empty((0, 6), cp.float32), False, False, 1.0, 2.0, out, B)
    check(out, 2.0 * c0, what="K=0 gives beta*C")
    # A contiguous view that starts 4 bytes into its buffer: the 16-byte loads must fall back.
    flat = gpu(randn(rng, 1 + 9 * 11))
    a = flat[1:].reshape(9, 11)
    b = randn(rng, 11, 13)
    check(_cuda.gemm(a, gpu(b), False, False, 1.0, 0.0, None, B), host(a) @ b, rtol=1e-4, atol=1e-5)


def test_gemm_tf32_is_opt_in_and_labelled(rng):
    assert not _cuda.get_allow_tf32()
    assert "fp32" in _cuda.gemm_variant(False, False)
    a, b = randn(rng, 200, 300), randn(rng, 300, 150)
    _cuda.set_allow_tf32(True)
    try:
        assert "tf32" in _cuda.gemm_variant(False, True)
        got = host(_cuda.gemm(gpu(a), gpu(b), False, False, 1.0, 0.0, None, B))
    finally:
        _cuda.set_allow_tf32(False)
    ref = a.astype(np.float64) @ b
    rel = np.linalg.norm(got - ref) / np.linalg.norm(ref)
    assert 1e-6 < rel < 5e-3, rel  # TF32 rounding is visible, but bounded


def test_gemm_bad_inputs(rng):
    a = gpu(randn(rng, 4, 5))
    with pytest.raises(TypeError, match="CuPy"):
        _cuda.gemm(np.ones((4, 5), np.float32), a.T.copy(), False, False, 1.0, 0.0, None, B)
    with pytest.raises(TypeError, match="float32"):
        _cuda.gemm(a.astype(cp.float64), a, False, True, 1.0, 0.0, None, B)
    with pytest.raises(ValueError, match="C-contiguous"):
        _cuda.gemm(a.T, a, False, False, 1.0, 0.0, None, B)
    with pytest.raises(ValueError, match="inner dimensions"):
        _cuda.gemm(a, a, False, False, 1.0, 0.0, None, B)
    with pytest.raises(ValueError, match="beta"):
        _cuda.gemm(a, a, False, True, 1.0, 1.0, None, B)
    c = cp.zeros((4, 4), cp.float32)
    with pytest.raises(ValueError, match="shares memory"):
        _cuda.gemm(c, c, False, False, 1.0, 0.0, c, B)


# ---------------------------------------------------------------------- convolution
def conv_backward_ref(x, w, dy, stride, padding, dilation, groups):
    """float64 (dx, dw, db) from the op table's references."""
    dx = conv_backward_data_ref(dy, w, x.shape, stride, padding, dilation, groups)
    return (dx,) + tuple(conv_backward_weights_ref(x, dy, w.shape, stride, padding, dilation, groups))


# (x shape, weight shape, stride, padding, dilation, groups)
CONV_CASES = [
    ((2, 3, 9, 11), (5, 3, 3, 3), 1, 1, 1, 1),
    ((3, 4, 13, 7), (6, 2, 3, 2), 2, (1, 0, 2, 1), 1, 2),
    ((1, 6, 10, 10), (9, 2, 1, 1), 1, 0, 1, 3),
    ((2, 8, 17, 15), (130, 8, 5, 5), 2, 2, 2, 1),
    ((1, 3, 7, 9), (4, 3, 3, 3), (2, 3), (0, 1), (1, 2), 1),
    ((4, 16, 33, 31), (17, 16, 3, 3), 1, 1, 1, 1),  # long reduction: split-K in backward weights
    ((3, 12, 27, 27), (16, 6, 5, 5), 1, 2, 1, 2),  # AlexNet conv2 in small: groups, 729-pixel planes, split-K
]


@pytest.mark.parametrize("xs,ws,stride,padding,dilation,groups", CONV_CASES)
def test_conv2d(rng, xs, ws, stride, padding, dilation, groups):
    x, w, b = randn(rng, *xs), randn(rng, *ws), randn(rng, ws[0])
    y = _cuda.conv2d_forward(gpu(x), gpu(w), gpu(b), stride, padding, dilation, groups, B)
    taps = ws[1] * ws[2] * ws[3]
    scale = conv_ref(np.abs(x), np.abs(w), np.abs(b), stride, padding, dilation, groups)
    check(y, conv_ref(x, w, b, stride, padding, dilation, groups), rtol=4e-6 * np.sqrt(taps) + 1e-6, scale=scale,
          what="conv2d_forward")

    dy = randn(rng, *y.shape)
    dx_ref, dw_ref, db_ref = conv_backward_ref(x, w, dy, stride, padding, dilation, groups)
    dx = _cuda.conv2d_backward_data(gpu(dy), gpu(w), xs, stride, padding, dilation, groups, B)
    dx_scale = conv_backward_ref(x, np.abs(w), np.abs(dy), stride, padding, dilation, groups)[0]
    check(dx, dx_ref, rtol=1e-5 * np.sqrt(ws[0] * ws[2] * ws[3]) + 1e-6, scale=dx_scale, what="conv2d_backward_data")

    dw, db = _cuda.conv2d_backward_weights(gpu(x), gpu(dy), ws, stride, padding, dilation, groups, True, B)
    dw_scale = conv_backward_ref(np.abs(x), w, np.abs(dy), stride, padding, dilation, groups)[1]
    n_red = y.shape[0] * y.shape[2] * y.shape[3]
    check(dw, dw_ref, rtol=1e-5 * np.sqrt(n_red) + 1e-6, scale=dw_scale, what="conv2d_backward_weights dw")
    check(db, db_ref, rtol=1e-5 * np.sqrt(n_red), scale=np.abs(dy).sum(axis=(0, 2, 3)), what="db")
    dw2, none = _cuda.conv2d_backward_weights(gpu(x), gpu(dy), ws, stride, padding, dilation, groups, False, B)
    assert none is None
    assert cp.array_equal(dw, dw2), "backward weights must be deterministic"


def test_conv2d_bad_inputs(rng):
    x, w = gpu(randn(rng, 1, 4, 5, 5)), gpu(randn(rng, 6, 4, 3, 3))
    with pytest.raises(ValueError, match="groups"):
        _cuda.conv2d_forward(x, w, None, 1, 0, 1, 3, B)
    with pytest.raises(ValueError, match="smaller than"):
        _cuda.conv2d_forward(x, gpu(randn(rng, 6, 4, 7, 7)), None, 1, 0, 1, 1, B)
    with pytest.raises(ValueError, match="bias"):
        _cuda.conv2d_forward(x, w, gpu(randn(rng, 5)), 1, 0, 1, 1, B)
    with pytest.raises(ValueError, match="dy has shape"):
        _cuda.conv2d_backward_data(gpu(randn(rng, 1, 6, 4, 4)), w, (1, 4, 5, 5), 1, 0, 1, 1, B)
    with pytest.raises(ValueError, match="stride"):
        _cuda.conv2d_forward(x, w, None, 0, 0, 1, 1, B)


# ----------------------------------------------------------------------- activations
# Values of every activation and PReLU on the GPU: the op table (tests/optable.py, one float64 reference
# per op) run over the cuda backend by tests/test_ops.py. Here only what is GPU-specific.


def test_activation_unaligned_view_uses_scalar_path(rng):
    flat = randn(rng, 1 + 4 * 33)
    x = gpu(flat)[1:].reshape(4, 33)  # contiguous, 4 bytes past a 16-byte boundary
    check(_cuda.tanh_forward(x, B), np.tanh(flat[1:].astype(np.float64)).reshape(4, 33), rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("call", [
    "K.elu_forward(A(np.ones(5, np.float32)), alpha=float('nan'), backend=B)",
    "K.relu_backward(A(np.ones(5, np.float32)), A(np.ones(5, np.float32)), float('inf'), backend=B)",
    "K.prelu_forward(A(np.ones((0, 3), np.float32)), A(np.ones(5, np.float32)), backend=B)",
    "K.sigmoid_backward(A(np.ones(4, np.float32)), A(np.ones(5, np.float32)), backend=B)",
    "K.softmax_forward(A(np.ones((3, 0), np.float32)), 1, backend=B)",
    "K.softmax_backward(A(np.ones((2, 5), np.float32)), A(np.ones((3, 5), np.float32)), backend=B)",
])
def test_refuses_what_the_cpu_refuses_with_the_same_error(call):
    # the eltwise and softmax checks are the families' functions (ops/eltwise/eltwise.h, ops/softmax/softmax.h):
    # a NaN/inf ELU alpha or ReLU slope, an empty softmax axis, a PReLU weight not matching an empty x ran here
    import dlcore.kernels as K
    outcomes = []
    for backend, to_array in (("ref", np.asarray), (B, gpu)):
        try:
            eval(call, {"np": np, "K": K, "A": to_array, "B": backend})
        except Exception as exc:  # noqa: BLE001 - the outcome itself is compared
            outcomes.append((type(exc).__name__, str(exc)))
        else:
            outcomes.append(("ok", ""))
    assert outcomes[0][0] == "ValueError" and outcomes[1] == outcomes[0], outcomes


# --------------------------------------------------------------------------- softmax
# contiguous rows hit every register-resident variant (lanes per row 1..32,
# columns per lane 1..32) and the block-per-row path (c > 1024)
SHORT_ROW_COLS = [1, 2, 3, 5, 9, 17, 32, 33, 100, 129, 300, 500, 700, 1000, 1024]


@pytest.mark.parametrize("shape,axis", [((7, 33), -1), ((5, 2000), 1), ((3, 17, 5, 4), 1), ((1, 1), -1),
                                        ((9, 3, 65), 0)] + [((37, c), 1) for c in SHORT_ROW_COLS])
@pytest.mark.parametrize("log", [False, True])
def test_softmax(rng, shape, axis, log):
    x, dy = randn(rng, *shape, scale=3.0), randn(rng, *shape)
    p = softmax_ref(x.astype(np.float64), axis)
    name = "log_softmax" if log else "softmax"
    y = getattr(_cuda, f"{name}_forward")(gpu(x), axis, B)
    check(y, np.log(p) if log else p, rtol=1e-5, atol=1e-6, what=f"{name}_forward")
    y64 = host(y)
    dy64 = dy.astype(np.float64)
    if log:
        dx_ref = dy64 - np.exp(y64) * dy64.sum(axis=axis, keepdims=True)
    else:
        dx_ref = y64 * (dy64 - (dy64 * y64).sum(axis=axis, keepdims=True))
    dx = getattr(_cuda, f"{name}_backward")(gpu(dy), y, axis, B)
    check(dx, dx_ref, rtol=1e-5, atol=1e-6, what=f"{name}_backward")


@pytest.mark.parametrize("n,c", [(9, 13), (3, 1500), (1, 1)])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy(rng, n, c, smoothing):
    logits = randn(rng, n, c, scale=2.0)
    target = rng.integers(0, c, n).astype(np.int64)
    logp = np.log(softmax_ref(logits.astype(np.float64), 1))
    loss_ref = -((1 - smoothing) * logp[np.arange(n), target] + smoothing * logp.mean(axis=1))
    loss, log_probs = _cuda.cross_entropy_forward(gpu(logits), gpu(target), smoothing, B)
    check(loss, loss_ref, rtol=1e-5, atol=1e-6, what="loss")
    check(log_probs, logp, rtol=1e-5, atol=1e-6, what="log_probs")
    dloss = randn(rng, n)
    onehot = np.eye(c)[target]
    dref = dloss[:, None].astype(np.float64) * (np.exp(logp) - ((1 - smoothing) * onehot + smoothing / c))
    check(_cuda.cross_entropy_backward(gpu(dloss), log_probs, gpu(target), smoothing, B), dref, rtol=1e-5, atol=1e-6)


def test_cross_entropy_rejects_bad_targets(rng):
    logits = gpu(randn(rng, 4, 5))
    with pytest.raises(ValueError, match="outside"):
        _cuda.cross_entropy_forward(logits, cp.asarray([0, 5, 1, 2], cp.int64), 0.0, B)
    with pytest.raises(TypeError, match="int64"):
        _cuda.cross_entropy_forward(logits, cp.asarray([0, 1, 1, 2], cp.int32), 0.0, B)


# --------------------------------------------------------------------------- dropout
def test_dropout_matches_host_philox_and_scales(rng):
    from dlcore.ops._philox import dropout_mask

    x, dy = randn(rng, 3, 7, 11), randn(rng, 3, 7, 11)
    p, seed = 0.3, 1234567890123
    y, mask = _cuda.dropout_forward(gpu(x), p, seed, B)
    keep = np.array([_cuda.dropout_keep_host(seed, i, p) for i in range(x.size)]).reshape(x.shape)
    assert np.array_equal(cp.asnumpy(mask).astype(bool), keep), "mask differs from the host Philox rule"
    # ... which is the CPU kernels' rule: the same seed drops the same elements on every device.
    assert np.array_equal(keep, dropout_mask(x.size, p, seed).reshape(x.shape).astype(bool))
    check(y, np.where(keep, x / (1 - p), 0.0), rtol=1e-6, what="dropout y")
    check(_cuda.dropout_backward(gpu(dy), mask, p, B), np.where(keep, dy / (1 - p), 0.0), rtol=1e-6)


def test_dropout_statistics_and_edges(rng):
    x = cp.ones(1_000_003, cp.float32)
    _, mask = _cuda.dropout_forward(x, 0.25, 7, B)
    kept = float(mask.mean())
    assert abs(kept - 0.75) < 0.005, kept
    _, other = _cuda.dropout_forward(x, 0.25, 8, B)
    assert not cp.array_equal(mask, other), "different seeds must give different masks"
    y0, m0 = _cuda.dropout_forward(x[:1001], 0.0, 7, B)
    assert bool(m0.all()) and cp.array_equal(y0, x[:1001])
    y1, m1 = _cuda.dropout_forward(x[:1001], 1.0, 7, B)
    assert not bool(m1.any()) and not bool(y1.any())
    with pytest.raises(ValueError, match="p must be"):
        _cuda.dropout_forward(x, 1.5, 7, B)


# ----------------------------------------------------------------------- batch norm
@pytest.mark.parametrize("shape", [(17, 5), (3, 7, 5, 9), (2, 1, 33, 31)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm(rng, shape, affine):
    c = shape[1]
    bshape = (1, c) + (1,) * (len(shape) - 2)
    x, dy = randn(rng, *shape, scale=2.0) + 0.5, randn(rng, *shape)
    w = randn(rng, c) if affine else None
    b = randn(rng, c) if affine else None
    rm0, rv0 = randn(rng, c), np.abs(randn(rng, c)) + 0.5
    rm, rv = gpu(rm0), gpu(rv0)
    x64 = x.astype(np.float64)
    ref = batch_norm_ref(x, w, b, dy)
    mean, var, invstd, y_ref = ref["mean"], ref["var"], ref["invstd"], ref["y"]
    w64 = np.ones(c) if w is None else w.astype(np.float64)
    b64 = np.zeros(c) if b is None else b.astype(np.float64)
    y, m_got, is_got = _cuda.batch_norm_forward_training(gpu(x), None if w is None else gpu(w),
                                                          None if b is None else gpu(b), rm, rv, 0.1, 1e-5, B)
    check(y, y_ref, rtol=1e-5, atol=1e-5, what="y")
    check(m_got, mean, rtol=1e-5, atol=1e-6, what="mean")
    check(is_got, invstd, rtol=1e-5, what="invstd")
    count = x.size // c
    check(rm, 0.9 * rm0 + 0.1 * mean, rtol=1e-5, atol=1e-6, what="running_mean")
    check(rv, 0.9 * rv0 + 0.1 * var * count / (count - 1), rtol=1e-5, atol=1e-6, what="running_var")

    y_inf = _cuda.batch_norm_forward_inference(gpu(x), None if w is None else gpu(w), None if b is None else gpu(b),
                                               gpu(rm0), gpu(rv0), 1e-5, B)
    ref_inf = (x64 - rm0.reshape(bshape)) / np.sqrt(rv0.reshape(bshape) + 1e-5) * w64.reshape(bshape) + \
        b64.reshape(bshape)
    check(y_inf, ref_inf, rtol=1e-5, atol=1e-5, what="inference")

    dx_ref, dweight, dbias = ref["dx"], ref["dw"], ref["db"]
    dx, dw, db = _cuda.batch_norm_backward(gpu(dy), gpu(x), None if w is None else gpu(w), m_got, is_got, B)
    check(dx, dx_ref, rtol=1e-4, atol=1e-5, what="dx")
    if affine:
        check(dw, dweight, rtol=1e-4, atol=1e-4, what="dweight")
        check(db, dbias, rtol=1e-4, atol=1e-4, what="dbias")
    else:
        assert dw is None and db is None


# --------------------------------------------------------------------------- pooling
def pool_ref(x, k, s, p, ceil_mode, count_include_pad):
    """float64 (max values, first-max flat indices, average) from the op table's references."""
    return max_pool_ref(x, k, s, p, ceil_mode) + (avg_pool_ref(x, k, s, p, ceil_mode, count_include_pad),)


POOL_CASES = [((2, 3, 9, 11), 3, 2, 1, False), ((1, 2, 13, 7), (3, 2), (2, 1), (1, 0), True),
              ((2, 5, 8, 8), 2, None, 0, False), ((1, 3, 10, 17), 5, 3, 2, True)]


@pytest.mark.parametrize("shape,k,s,p,ceil_mode", POOL_CASES)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_pooling(rng, shape, k, s, p, ceil_mode, count_include_pad):
    x = randn(rng, *shape)
    k2, p2 = _pair(k), _pair(p)
    s2 = k2 if s is None else _pair(s)
    ymax, idx, yavg = pool_ref(x.astype(np.float64), k2, s2, p2, ceil_mode, count_include_pad)
    y, ind = _cuda.max_pool2d_forward(gpu(x), k, s, p, ceil_mode, B)
    check(y, ymax, rtol=0, atol=0, what="max values")
    assert ind.dtype == cp.int32 and np.array_equal(cp.asnumpy(ind), idx), "max indices"
    dy = randn(rng, *ymax.shape)
    dx_ref = np.zeros(x.shape).reshape(shape[0] * shape[1], -1)
    np.add.at(dx_ref, (np.arange(dx_ref.shape[0])[:, None], idx.reshape(dx_ref.shape[0], -1)),
              dy.reshape(dx_ref.shape[0], -1))
    check(_cuda.max_pool2d_backward(gpu(dy), ind, shape, B), dx_ref.reshape(shape), rtol=1e-6, atol=1e-7,
          what="max backward")

    ya = _cuda.avg_pool2d_forward(gpu(x), k, s, p, ceil_mode, count_include_pad, B)
    check(ya, yavg, rtol=1e-5, atol=1e-6, what="avg forward")
    # Backward against finite differences of sum(avg_pool(x) * dy) (linear, so exact up to rounding).
    x64 = x.astype(np.float64)
    grad = numerical_grad(lambda: float((pool_ref(x64, k2, s2, p2, ceil_mode, count_include_pad)[2] * dy).sum()),
                          x64, eps=1e-3)
    check(_cuda.avg_pool2d_backward(gpu(dy), shape, k, s, p, ceil_mode, count_include_pad, B), grad, rtol=1e-4,
          atol=1e-5, what="avg backward")


def test_pooling_bad_inputs(rng):
    x = gpu(randn(rng, 1, 2, 5, 5))
    with pytest.raises(ValueError, match="padding"):
        _cuda.max_pool2d_forward(x, 2, 1, 2, False, B)
    with pytest.raises(ValueError, match="smaller than the kernel"):
        _cuda.avg_pool2d_forward(x, 7, 1, 0, False, True, B)
    with pytest.raises(ValueError, match="dimensions"):
        _cuda.max_pool2d_forward(x[0], 2, 1, 0, False, B)


# ------------------------------------------------------------------------------- LRN
@pytest.mark.parametrize("region", ["across", "within"])
@pytest.mark.parametrize("size,alpha_over_size", [(5, True), (3, False), (4, True)])
def test_lrn(rng, region, size, alpha_over_size):
    shape = (2, 7, 5, 6)
    x, dy = randn(rng, *shape), randn(rng, *shape)
    alpha, beta, k = 0.3, 0.75, 1.5  # large alpha: the normalization term matters
    args = (size, alpha, beta, k, region, alpha_over_size, B)
    x64 = x.astype(np.float64)
    check(_cuda.lrn_forward(gpu(x), *args), lrn_ref(x64, size, alpha, beta, k, region, alpha_over_size),
          rtol=1e-5, atol=1e-6, what="lrn forward")
    grad = numerical_grad(lambda: float((lrn_ref(x64, size, alpha, beta, k, region, alpha_over_size) * dy).sum()),
                          x64)
    check(_cuda.lrn_backward(gpu(dy), gpu(x), *args), grad, rtol=1e-4, atol=1e-5, what="lrn backward")


# ---------------------------------------------------------------------- module glue
def test_backends_reports_the_gpu():
    info = dlcore.backends()["cuda"]
    assert info["available"] and info["device"]
    major, minor = info["compute_capability"].split(".")
    assert int(major) >= 8 and minor.isdigit()


def test_kernels_run_on_cupys_current_stream(rng):
    a, b = randn(rng, 300, 200), randn(rng, 200, 100)
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        c = _cuda.gemm(gpu(a), gpu(b), False, False, 1.0, 0.0, None, B)
        y = _cuda.relu_forward(c, 0.0, B)
    stream.synchronize()
    check(y, np.maximum(a.astype(np.float64) @ b, 0), rtol=1e-4, atol=1e-4)


def test_unknown_backend_and_host_arrays():
    with pytest.raises(ValueError, match="unknown backend"):
        dlcore.kernels.gemm(cp.ones((2, 2), cp.float32), cp.ones((2, 2), cp.float32), backend="gpu")
    with pytest.raises(TypeError, match="CuPy"):
        _cuda.relu_forward(np.ones(3, np.float32), 0.0, B)
