"""dlcore.nn.functional: forward against float64 loop references, gradients by finite differences,
float32 (kernel path) against float64, strided inputs."""
import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
from dlcore.ops import dropout as dropout_ops
from gradcheck_util import check_grad
from opcheck import assert_close, randn


def r64(rng, *shape):
    return randn(rng, *shape, dtype=np.float64)


# ---- float64 loop references (written independently of the ops' vectorized code) ----
def conv2d_loops(x, w, b, stride, padding, dilation, groups):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, o, oh, ow))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, g * cg:(g + 1) * cg, i * sh: i * sh + dh * (kh - 1) + 1: dh,
                           j * sw: j * sw + dw * (kw - 1) + 1: dw]
                y[:, oc, i, j] = (patch * w[oc]).sum(axis=(1, 2, 3)) + (b[oc] if b is not None else 0)
    return y


def pool_loops(x, k, s, p, ceil_mode, kind, count_include_pad=True):
    n, c, h, w = x.shape

    def out_size(size):
        span = size + 2 * p - k
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= size + p:
            o -= 1
        return o
    oh, ow = out_size(h), out_size(w)
    y = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            h0, w0 = i * s - p, j * s - p
            h1, w1 = min(h0 + k, h + p), min(w0 + k, w + p)
            hs, ws, he, we = max(h0, 0), max(w0, 0), min(h1, h), min(w1, w)
            window = x[:, :, hs:he, ws:we]
            if kind == "max":
                y[:, :, i, j] = window.max(axis=(2, 3))
            else:
                count = (h1 - h0) * (w1 - w0) if count_include_pad else (he - hs) * (we - ws)
                y[:, :, i, j] = window.sum(axis=(2, 3)) / count
    return y


def lrn_loops(x, size, alpha, beta, k):
    y = np.empty_like(x)
    c = x.shape[1]
    for ch in range(c):
        lo, hi = max(0, ch - size // 2), min(c, ch + (size - 1) // 2 + 1)
        y[:, ch] = x[:, ch] / (k + alpha / size * (x[:, lo:hi] ** 2).sum(axis=1)) ** beta
    return y


# ---- linear and conv ---------------------------------------------------------------------
@pytest.mark.parametrize("n,i,o", [(1, 1, 1), (7, 9, 5), (3, 17, 33)])
def test_linear(rng, n, i, o):
    x, w, b = r64(rng, n, i), r64(rng, o, i), r64(rng, o)
    out = check_grad(F.linear, x, w, b, kernels=["gemm"])
    np.testing.assert_allclose(out.numpy(), x @ w.T + b, rtol=1e-12)
    check_grad(lambda a, ww: F.linear(a, ww), x, w, kernels=["gemm"])


def test_linear_float32_runs_on_gemm_kernel(rng):
    x = dlcore.tensor(randn(rng, 5, 9), requires_grad=True)
    w = dlcore.tensor(randn(rng, 3, 9), requires_grad=True)
    F.linear(x, w).sum().backward()
    assert dlcore.kernels.last_dispatch().startswith("gemm:")


CONV_CASES = [
    dict(stride=1, padding=0, dilation=1, groups=1),
    dict(stride=2, padding=1, dilation=1, groups=1),
    dict(stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=1),
    dict(stride=1, padding=1, dilation=1, groups=2),
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d(rng, case):
    groups = case["groups"]
    x, w, b = r64(rng, 2, 2 * groups, 7, 9), r64(rng, 3 * groups, 2, 3, 3), r64(rng, 3 * groups)
    out = check_grad(lambda a, ww, bb: F.conv2d(a, ww, bb, **case), x, w, b,
                     kernels=["conv2d_forward", "conv2d_backward_data", "conv2d_backward_weights"])
    norm = {k: (v, v) if isinstance(v, int) and k != "groups" else v for k, v in case.items()}
    assert_close(out.numpy(), conv2d_loops(x, w, b, norm["stride"], norm["padding"], norm["dilation"], groups),
                 rtol=1e-10, atol=1e-12, what="conv2d forward")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])  # kernel checks / reference checks
def test_conv2d_rejects_mismatched_channels(rng, dtype):
    with pytest.raises(ValueError, match=r"input \(1, 3, 5, 5\).*weight \(2, 2, 3, 3\)"):
        F.conv2d(dlcore.tensor(randn(rng, 1, 3, 5, 5, dtype=dtype)), dlcore.tensor(randn(rng, 2, 2, 3, 3, dtype=dtype)))


# ---- activations -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "sigmoid", "tanh"])
def test_activations(rng, name):
    x = r64(rng, 3, 17) * 3
    fn = {"relu": F.relu, "leaky_relu": lambda t: F.leaky_relu(t, 0.1), "elu": lambda t: F.elu(t, 1.3),
          "sigmoid": F.sigmoid, "tanh": F.tanh}[name]
    ref = {"relu": np.maximum(x, 0), "leaky_relu": np.where(x > 0, x, 0.1 * x),
           "elu": np.where(x > 0, x, 1.3 * np.expm1(x)), "sigmoid": 1 / (1 + np.exp(-x)), "tanh": np.tanh(x)}[name]
    op = {"relu": "relu", "leaky_relu": "relu"}.get(name, name)
    out = check_grad(fn, x, kernels=[op + "_forward", op + "_backward"])
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)


@pytest.mark.parametrize("channels", [1, 3])
def test_prelu(rng, channels):
    x, w = r64(rng, 2, 3, 5), np.abs(r64(rng, channels)) * 0.3
    out = check_grad(F.prelu, x, w, kernels=["prelu_forward", "prelu_backward"])
    np.testing.assert_allclose(out.numpy(), np.where(x > 0, x, x * w.reshape(1, -1, 1) if channels > 1 else x * w))


def test_maxout(rng):
    x = r64(rng, 2, 6, 3)
    out = check_grad(lambda t: F.maxout(t, 3), x, kernels=["maxout_forward", "maxout_backward"])
    np.testing.assert_array_equal(out.numpy(), x.reshape(2, 2, 3, 3).max(axis=2))
    with pytest.raises(ValueError, match="divisible"):
        F.maxout(dlcore.tensor(x), 4)


# ---- pooling, LRN, batch norm ---------------------------------------------------------------
@pytest.mark.parametrize("k,s,p,ceil", [(2, 2, 0, False), (3, 2, 1, False), (3, 2, 0, True), (3, 3, 1, True)])
def test_max_pool2d(rng, k, s, p, ceil):
    x = r64(rng, 2, 3, 9, 7)
    out = check_grad(lambda t: F.max_pool2d(t, k, s, p, ceil_mode=ceil), x,
                     kernels=["max_pool2d_forward", "max_pool2d_backward"])
    np.testing.assert_array_equal(out.numpy(), pool_loops(x, k, s, p, ceil, "max"))
    y, idx = F.max_pool2d(dlcore.tensor(x), k, s, p, ceil_mode=ceil, return_indices=True)
    flat = x.reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, idx.numpy().reshape(2, 3, -1).astype(np.int64), 2),
                                  y.numpy().reshape(2, 3, -1))


@pytest.mark.parametrize("k,s,p,ceil,cip", [(2, 2, 0, False, True), (3, 2, 1, False, True),
                                            (3, 2, 1, True, False), (3, 2, 1, True, True)])
def test_avg_pool2d(rng, k, s, p, ceil, cip):
    x = r64(rng, 2, 3, 9, 7)
    out = check_grad(lambda t: F.avg_pool2d(t, k, s, p, ceil_mode=ceil, count_include_pad=cip), x,
                     kernels=["avg_pool2d_forward", "avg_pool2d_backward"])
    assert_close(out.numpy(), pool_loops(x, k, s, p, ceil, "avg", cip), rtol=1e-12, atol=1e-14, what="avg")


@pytest.mark.parametrize("size", [1, 3, 5, 4])
def test_local_response_norm(rng, size):
    x = r64(rng, 2, 7, 3, 3) * 2
    out = check_grad(lambda t: F.local_response_norm(t, size, alpha=0.5, beta=0.75, k=2.0), x,
                     kernels=["lrn_forward", "lrn_backward"])
    assert_close(out.numpy(), lrn_loops(x, size, 0.5, 0.75, 2.0), rtol=1e-12, atol=1e-14, what="lrn")


@pytest.mark.parametrize("shape", [(9, 3), (4, 3, 5, 7)])
def test_batch_norm_training(rng, shape):
    x, w, b = r64(rng, *shape), r64(rng, shape[1]), r64(rng, shape[1])
    out = check_grad(lambda t, ww, bb: F.batch_norm(t, None, None, ww, bb, training=True, eps=1e-3), x, w, b,
                     kernels=["batch_norm_forward_training", "batch_norm_backward"])
    axes = (0,) + tuple(range(2, len(shape)))
    cs = (1, -1) + (1,) * (len(shape) - 2)
    ref = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + 1e-3) * w.reshape(cs) + b.reshape(cs)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10, atol=1e-12)


def test_batch_norm_running_stats_and_inference(rng):
    x = r64(rng, 6, 3, 2, 2)
    rm, rv = np.zeros(3), np.ones(3)
    F.batch_norm(dlcore.tensor(x), rm, rv, training=True, momentum=0.1)
    np.testing.assert_allclose(rm, 0.1 * x.mean((0, 2, 3)))
    np.testing.assert_allclose(rv, 0.9 + 0.1 * x.var((0, 2, 3), ddof=1))
    w, b = r64(rng, 3), r64(rng, 3)
    out = check_grad(lambda t, ww, bb: F.batch_norm(t, rm.astype(t.dtype), rv.astype(t.dtype), ww, bb, training=False),
                     x, w, b,
                     kernels=["batch_norm_forward_inference"])
    ref = (x - rm.reshape(1, 3, 1, 1)) / np.sqrt(rv.reshape(1, 3, 1, 1) + 1e-5) * w.reshape(1, 3, 1, 1) \
        + b.reshape(1, 3, 1, 1)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)


def test_dropout(rng):
    x = r64(rng, 7, 9)
    out = check_grad(lambda t: dropout_ops.Dropout.apply(t, 0.3, 1234), x,
                     kernels=["dropout_forward", "dropout_backward"])
    kept = out.numpy() != 0
    np.testing.assert_allclose(out.numpy()[kept], x[kept] / 0.7)
    assert 0.4 < kept.mean() < 0.95
    t = dlcore.tensor(x)
    assert F.dropout(t, 0.5, training=False) is t
    with pytest.raises(ValueError, match="probability"):
        F.dropout(t, 1.0)


# ---- softmax and losses ---------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_log_softmax(rng, dim):
    x = r64(rng, 3, 7, 2) * 3
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    ref = e / e.sum(axis=dim, keepdims=True)
    sm_kernels = ["softmax_forward", "softmax_backward"]
    np.testing.assert_allclose(check_grad(lambda t: F.softmax(t, dim), x, kernels=sm_kernels).numpy(), ref, rtol=1e-10)
    lsm_kernels = ["log_softmax_forward", "log_softmax_backward"]
    np.testing.assert_allclose(check_grad(lambda t: F.log_softmax(t, dim), x, kernels=lsm_kernels).numpy(), np.log(ref),
                               rtol=1e-10)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy(rng, smoothing, reduction):
    x, t = r64(rng, 9, 5) * 2, rng.integers(0, 5, 9)
    out = check_grad(lambda a: F.cross_entropy(a, t, reduction=reduction, label_smoothing=smoothing), x,
                     kernels=["cross_entropy_forward", "cross_entropy_backward"])
    logp = x - x.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    q = np.full((9, 5), smoothing / 5)
    q[np.arange(9), t] += 1 - smoothing
    per = -(q * logp).sum(1)
    ref = {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)


def test_cross_entropy_rejects_bad_targets(rng):
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        F.cross_entropy(dlcore.tensor(randn(rng, 3, 5)), np.array([0, 5, 1]))


def test_nll_loss_with_weights_and_ignore_index(rng):
    x, t = r64(rng, 8, 4), rng.integers(0, 4, 8)
    t[2] = -100
    w = np.abs(r64(rng, 4)) + 0.1
    out = check_grad(lambda a: F.nll_loss(a, t, weight=w), x)
    valid = t != -100
    ref = -(x[valid, t[valid]] * w[t[valid]]).sum() / w[t[valid]].sum()
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)
    out = check_grad(lambda a: F.cross_entropy(a, t, weight=w), x,
                     kernels=["log_softmax_forward", "log_softmax_backward"])



def _smoothed_ce_reference(x, t, w, smoothing, reduction, ignore_index=-100):
    """PyTorch's class-index cross-entropy with weights, ignore_index and label smoothing (float64)."""
    logp = x - x.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    nll = -logp[np.arange(len(t)), safe] * w[safe] * valid
    smooth = -(logp * w).sum(1) * valid
    if reduction == "mean":
        nll, smooth = nll.sum() / w[t[valid]].sum(), smooth.sum() / w[t[valid]].sum()
    elif reduction == "sum":
        nll, smooth = nll.sum(), smooth.sum()
    return (1 - smoothing) * nll + smoothing / x.shape[1] * smooth


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_label_smoothing_with_weights_and_ignore_index(rng, reduction, weighted):
    # raised NotImplementedError (CrossEntropyLoss(label_smoothing=0.1) on padded labels or class weights)
    x, t = r64(rng, 9, 5) * 2, rng.integers(0, 5, 9)
    t[3] = -100
    w = np.abs(r64(rng, 5)) + 0.1 if weighted else np.ones(5)
    fn = lambda a: F.cross_entropy(a, t, weight=w if weighted else None, reduction=reduction,  # noqa: E731
                                   label_smoothing=0.2)
    out = check_grad(fn, x, kernels=["log_softmax_forward", "log_softmax_backward"])
    np.testing.assert_allclose(out.numpy(), _smoothed_ce_reference(x, t, w, 0.2, reduction), rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_class_losses_take_n_c_d_and_unbatched_input(rng, reduction):
    # (N, C, H, W) logits with (N, H, W) targets (segmentation) and (C,) logits raised "expects logits (N, C)"
    x, t = r64(rng, 2, 5, 3, 4), rng.integers(0, 5, (2, 3, 4))
    t[0, 1, 2] = -100
    w = np.abs(r64(rng, 5)) + 0.1
    rows, trows = x.transpose(0, 2, 3, 1).reshape(-1, 5), t.reshape(-1)
    ref = _smoothed_ce_reference(rows, trows, w, 0.1, reduction)
    out = check_grad(lambda a: F.cross_entropy(a, t, weight=w, reduction=reduction, label_smoothing=0.1), x,
                     kernels=["log_softmax_forward", "log_softmax_backward"])
    np.testing.assert_allclose(out.numpy(), ref if reduction != "none" else ref.reshape(2, 3, 4), rtol=1e-12)
    out = F.nll_loss(F.log_softmax(dlcore.tensor(x), 1), t, weight=w, reduction=reduction)
    ref = _smoothed_ce_reference(rows, trows, w, 0.0, reduction)
    np.testing.assert_allclose(out.numpy(), ref if reduction != "none" else ref.reshape(2, 3, 4), rtol=1e-12)
    q = rng.random((2, 5, 3, 4))
    q /= q.sum(1, keepdims=True)  # class probabilities move with the class dim
    out = F.cross_entropy(dlcore.tensor(x), dlcore.tensor(q), reduction=reduction)
    per = -(q * (x - np.log(np.exp(x).sum(1, keepdims=True)))).sum(1)
    np.testing.assert_allclose(out.numpy(), {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction],
                               rtol=1e-12)
    out = F.cross_entropy(dlcore.tensor(x[0, :, 0, 0]), dlcore.tensor(np.int64(2)), reduction=reduction)
    assert out.shape == ()
    np.testing.assert_allclose(out.numpy(), _smoothed_ce_reference(x[:1, :, 0, 0], np.array([2]), np.ones(5), 0.0,
                                                                   "sum"), rtol=1e-12)
    x32 = dlcore.tensor(x.astype(np.float32))  # the float32 kernels
    np.testing.assert_allclose(F.cross_entropy(x32, t, reduction=reduction).numpy(),
                               F.cross_entropy(dlcore.tensor(x), t, reduction=reduction).numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match=r"expected \(2, 3, 4\)"):
        F.cross_entropy(dlcore.tensor(x), t[:, :2])

def test_binary_cross_entropy_refuses_values_outside_0_1():
    # logits passed by mistake gave a finite, meaningless loss (1.5 -> -0.41); PyTorch raises
    for bad in ([1.5, 0.5], [-0.2, 0.5], [float("nan"), 0.5]):
        with pytest.raises(ValueError, match="between 0 and 1"):
            F.binary_cross_entropy(dlcore.tensor(bad), dlcore.tensor([1.0, 0.0]))
    assert F.binary_cross_entropy(dlcore.tensor([1.0, 0.0]), dlcore.tensor([1.0, 0.0])).item() == 0.0

@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_regression_and_binary_losses(rng, name):
    x = r64(rng, 5, 7)
    target = rng.random((5, 7))
    if name == "binary_cross_entropy":
        x = 1 / (1 + np.exp(-x))
        ref = -(target * np.log(x) + (1 - target) * np.log(1 - x)).mean()
    elif name == "binary_cross_entropy_with_logits":
        p = 1 / (1 + np.exp(-x))
        ref = -(target * np.log(p) + (1 - target) * np.log(1 - p)).mean()
    elif name == "mse_loss":
        ref = ((x - target) ** 2).mean()
    else:
        ref = np.abs(x - target).mean()
    fn = getattr(F, name)
    out = check_grad(lambda a, tt: fn(a, tt), x, target)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10)


def test_binary_cross_entropy_with_logits_is_stable_for_large_logits():
    x = dlcore.tensor(np.array([-200.0, 200.0]), requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, np.array([0.0, 1.0]))
    loss.backward()
    assert np.isfinite(loss.item()) and loss.item() < 1e-30
    assert np.all(np.isfinite(x.grad.numpy()))


def test_backend_context_switches_the_kernel_backend(rng):
    x = dlcore.tensor(randn(rng, 4, 9))
    w = dlcore.tensor(randn(rng, 3, 9))
    with dlcore.backend("ref"):
        assert dlcore.current_backend() == "ref"
        y_ref = F.linear(x, w)
        assert "ref" in dlcore.kernels.last_dispatch()
    assert dlcore.current_backend() == "auto"
    assert_close(F.linear(x, w).numpy(), y_ref.numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="unknown backend"):
        with dlcore.backend("nonesuch"):
            F.linear(x, w)
    if not dlcore.backends()["onednn"]["available"]:
        with pytest.raises(dlcore.BackendUnavailableError):
            with dlcore.backend("onednn"):
                F.linear(x, w)


# ---- backends: the current backend routes the kernels, gaps are explicit --------------------
def _lenet_like_loss(x, w1, w2, target):
    """conv -> relu -> max pool -> avg pool -> linear -> cross-entropy: ops of every routing kind."""
    h = F.max_pool2d(F.relu(F.conv2d(x, w1, padding=1)), 2)
    h = F.avg_pool2d(F.tanh(h), 2)
    return F.cross_entropy(F.linear(h.reshape(h.shape[0], -1), w2), target)


def _lenet_like_inputs(rng):
    arrays = [randn(rng, 3, 2, 8, 8), randn(rng, 4, 2, 3, 3), randn(rng, 5, 16)]
    return arrays, rng.integers(0, 5, 3)


def _loss_and_grads(arrays, target):
    tensors = [dlcore.tensor(a, requires_grad=True) for a in arrays]
    loss = _lenet_like_loss(*tensors, target)
    loss.backward()
    return loss.item(), [t.grad.numpy() for t in tensors]


def test_backward_runs_on_the_backend_its_forward_ran_on(rng):
    from gradcheck_util import kernel_calls

    arrays, target = _lenet_like_inputs(rng)
    tensors = [dlcore.tensor(a, requires_grad=True) for a in arrays]
    with kernel_calls() as calls:
        with dlcore.backend("ref"):
            loss = _lenet_like_loss(*tensors, target)
        loss.backward()  # outside the block: still "ref"
    backward_calls = [(op, b) for op, b in calls if op.endswith("_backward") or op.startswith("conv2d_backward")]
    assert backward_calls and all(b == "ref" for _, b in calls), calls


def _onednn_module():
    if not dlcore.backends()["onednn"]["available"]:
        pytest.skip("oneDNN backend not available in this build")
    from dlcore import _onednn

    return _onednn


def test_onednn_gap_list_is_exactly_what_the_module_lacks():
    from dlcore.ops._common import ONEDNN_GAPS

    onednn = _onednn_module()
    # The low-precision kernels (int8, binary, bf16 casts) are not routed by dlcore.backend(): the quantized
    # and binarized layers carry their own backend= (dlcore.quantization), and the casts are _C only.
    low_precision = set(dlcore.kernels.lowbit.__all__) | {"cast_f32_to_bf16", "cast_bf16_to_f32"}
    api_ops = set(dlcore.kernels.__all__) - {"last_dispatch", "vexp", "vlog", "vtanh"} - low_precision
    # max_pool2d_backward is served by oneDNN's own backward from the forward input (ops/pool.py)
    lacking = {op for op in api_ops if not hasattr(onednn, op)} - {"max_pool2d_backward"}
    assert lacking == ONEDNN_GAPS & api_ops
    assert hasattr(onednn, "max_pool2d_backward_from_input")
    assert dlcore.backends()["onednn"]["runs_on_ours"] == sorted(ONEDNN_GAPS)


def test_onednn_backend_routes_the_layer_to_onednn_and_gaps_to_ours(rng):
    from gradcheck_util import kernel_calls

    _onednn_module()
    arrays, target = _lenet_like_inputs(rng)
    loss_ours, grads_ours = _loss_and_grads(arrays, target)
    with kernel_calls() as calls:
        with dlcore.backend("onednn"):
            loss_dnnl, grads_dnnl = _loss_and_grads(arrays, target)
    routed = dict(calls)
    for op in ("conv2d_forward", "conv2d_backward_data", "conv2d_backward_weights", "relu_forward",
               "relu_backward", "max_pool2d_forward", "avg_pool2d_forward", "avg_pool2d_backward", "tanh_forward",
               "tanh_backward", "gemm"):
        assert routed[op] == "onednn", (op, calls)
    assert routed["cross_entropy_forward"] == routed["cross_entropy_backward"] == "auto"
    assert "max_pool2d_backward" not in routed  # oneDNN's own backward from the forward input ran instead
    assert abs(loss_dnnl - loss_ours) <= 1e-4 * (1 + abs(loss_ours))
    for g_dnnl, g_ours in zip(grads_dnnl, grads_ours):
        assert_close(g_dnnl, g_ours, rtol=1e-3, atol=1e-4, what="oneDNN vs ours gradient")


def test_onednn_strict_raises_for_ops_onednn_lacks(rng):
    _onednn_module()
    arrays, target = _lenet_like_inputs(rng)
    with dlcore.backend("onednn", strict=True):
        with pytest.raises(dlcore.BackendUnavailableError, match="cross_entropy_forward.*does not implement"):
            _loss_and_grads(arrays, target)
        with pytest.raises(dlcore.BackendUnavailableError, match="maxout_forward"):
            F.maxout(dlcore.tensor(randn(rng, 2, 4)), 2)
