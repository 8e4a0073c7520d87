"""Fused bias + ReLU epilogues (issue 17): conv2d_forward(activation="relu"), linear_forward, the fused
autograd Functions and nn.Sequential's Conv2d/Linear + ReLU fusion.

Bitwise claims: on every float32 path the fused kernel computes the same pre-activation values, with the
same arithmetic, as the unfused call (conv2d_forward with bias; gemm then ``y += bias``), and applies the
same ReLU formula as relu_forward to them, so fused == relu_forward(unfused) exactly. The float64 path uses
the same NumPy formulas fused and unfused, so it is exact too. Gradients: the mask y > 0 equals x > 0 for
y = relu(x), so fused gradients equal the unfused ones bitwise.
"""
import numpy as np
import pytest
from test_conv import CASES, assert_conv_close, case_id, run_poisoned

import dlcore
import dlcore.kernels as K
from dlcore import _C, nn
from dlcore.autograd import gradcheck
from dlcore.nn import functional as F
from dlcore.nn import fusion
from opcheck import randn
from optable import conv_ref


def poison_cache(shape):
    """Hands the host cache a NaN block of `shape` (float32): the next kernel output of that size reuses it
    (outputs of >= 64 KiB come from the cache), so an element the kernel does not write stays NaN."""
    block = _C.relu_forward(np.ones(shape, np.float32), 0.0, "auto")
    block.fill(np.nan)
    del block


# ---- conv2d_forward(activation="relu") -------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_conv_relu_fused_is_bitwise_relu_of_unfused(cpu_backend, rng, case):
    n, c, h, wd, o, kh, kw, stride, padding, dilation, groups = case
    x = randn(rng, n, c, h, wd)
    w = randn(rng, o, c // groups, kh, kw)
    b = randn(rng, o) if sum(case[:5]) % 2 else None  # about half the cases without bias
    hp = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    unfused = K.conv2d_forward(x, w, b, **hp, backend=cpu_backend)
    want = K.relu_forward(unfused, 0.0)
    poison_cache(unfused.shape)
    got = run_poisoned(lambda: K.conv2d_forward(x, w, b, **hp, backend=cpu_backend, activation="relu"))
    assert np.array_equal(got, want), f"{np.sum(got != want)} of {got.size} elements differ"
    assert (got > 0).any() and (got == 0).any()  # both sides of the ReLU were exercised
    # and against the float64 truth
    y_ref = conv_ref(x, w, b, stride, padding, dilation, groups)
    scale = conv_ref(np.abs(x), np.abs(w), None if b is None else np.abs(b), stride, padding, dilation, groups)
    assert_conv_close(got, np.maximum(y_ref, 0.0), scale, (c // groups) * kh * kw, "fused conv + relu")


# Each float32 forward entry of the registry fuses: one case per algorithm, checked to have run it.
ENTRY_CASES = [
    ("gemm1x1", (2, 6, 5, 7, 9, 1, 1, 2, 0, 1, 3)),
    ("depthwise", (2, 17, 10, 9, 17, 3, 3, 1, 1, 1, 17)),
    ("narrow", (2, 3, 13, 11, 17, 5, 5, 2, 2, 1, 1)),
    ("blocked", (2, 40, 9, 15, 41, 3, 3, 1, (1, 0, 2, 1), 1, 1)),  # ic chunks 2+2+1: ReLU on the last only
]


@pytest.mark.parametrize("entry,case", ENTRY_CASES, ids=[e for e, _ in ENTRY_CASES])
def test_every_forward_entry_fuses(cpu_backend, rng, entry, case):
    n, c, h, wd, o, kh, kw, stride, padding, dilation, groups = case
    x, w, b = randn(rng, n, c, h, wd), randn(rng, o, c // groups, kh, kw), randn(rng, o)
    hp = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    want = K.relu_forward(K.conv2d_forward(x, w, b, **hp, backend=cpu_backend), 0.0)
    got = run_poisoned(lambda: K.conv2d_forward(x, w, b, **hp, backend=cpu_backend, activation="relu"))
    impl = _C.last_dispatch()
    if cpu_backend != "ref":
        assert impl == f"conv2d_forward:conv2d_forward_{cpu_backend}_{entry}"
    assert np.array_equal(got, want)


def test_conv_relu_keeps_nan_and_zeroes_negative_infinity(cpu_backend):
    x = np.ones((1, 1, 3, 3), np.float32)
    w = np.ones((4, 1, 1, 1), np.float32)
    b = np.array([np.nan, -np.inf, -1.0, 2.0], np.float32)
    y = K.conv2d_forward(x, w, b, activation="relu", backend=cpu_backend)  # the 1x1 GEMM entry's epilogue
    assert np.isnan(y[0, 0]).all() and (y[0, 1] == 0).all() and (y[0, 2] == 0).all() and (y[0, 3] == 3).all()
    assert not np.signbit(y[0, 2]).any()  # +0, as relu_forward gives


@pytest.mark.parametrize("bad,exc", [("gelu", ValueError), (3, TypeError), ("RELU", ValueError)])
def test_bad_activation_is_refused(bad, exc):
    x, w = np.ones((1, 2, 4, 4), np.float32), np.ones((3, 2, 3, 3), np.float32)
    with pytest.raises(exc, match="activation"):
        K.conv2d_forward(x, w, activation=bad)
    with pytest.raises(exc, match="activation"):
        K.linear_forward(np.ones((2, 3), np.float32), np.ones((4, 3), np.float32), activation=bad)
    with pytest.raises(ValueError, match="activation"):
        F.conv2d(dlcore.tensor(x), dlcore.tensor(w), activation="tanh")
    with pytest.raises(ValueError, match="activation"):
        F.linear(dlcore.randn(2, 3), dlcore.randn(4, 3), activation="tanh")


# ---- linear_forward ---------------------------------------------------------------------------------
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (3, 7, 17), (17, 33, 9), (33, 129, 65), (7, 300, 31),
                                   (64, 400, 120), (5, 0, 3), (0, 4, 6)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("activation", [None, "relu"])
def test_linear_forward_is_bitwise_gemm_plus_bias_then_relu(cpu_backend, rng, m, k, n, bias, activation):
    x, w = randn(rng, m, k), randn(rng, n, k)
    b = randn(rng, n) if bias else None
    want = K.gemm(x, w, trans_b=True, backend=cpu_backend)
    if b is not None:
        want += b
    if activation:
        want = K.relu_forward(want, 0.0)
    poison_cache(want.shape)
    got = K.linear_forward(x, w, b, activation=activation, backend=cpu_backend)
    assert got.shape == (m, n) and got.dtype == np.float32
    assert np.array_equal(got, want)
    ref = x.astype(np.float64) @ w.T.astype(np.float64) + (0 if b is None else b)
    if activation:
        ref = np.maximum(ref, 0)
    assert np.allclose(got, ref, rtol=1e-4, atol=1e-4 * max(1, k) ** 0.5)


def test_linear_forward_checks_shapes():
    x, w = np.ones((2, 3), np.float32), np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"in_features"):
        K.linear_forward(x, np.ones((4, 5), np.float32))
    with pytest.raises(ValueError, match=r"bias has shape \(3,\)"):
        K.linear_forward(x, w, np.ones(3, np.float32))
    with pytest.raises(ValueError, match="2-D|dimension|ndim"):
        K.linear_forward(np.ones(3, np.float32), w)
    with pytest.raises(TypeError):
        K.linear_forward(x.astype(np.float64), w)


# ---- the fused autograd Functions -------------------------------------------------------------------
def _conv_pair(rng, dtype, bias=True):
    x = dlcore.tensor(randn(rng, 2, 5, 7, 6, dtype=dtype), requires_grad=True)
    w = dlcore.tensor(randn(rng, 6, 5, 3, 2, dtype=dtype, scale=0.3), requires_grad=True)
    b = dlcore.tensor(randn(rng, 6, dtype=dtype), requires_grad=True) if bias else None
    return x, w, b


CONV_HP = dict(stride=(2, 1), padding=(1, 0, 1, 1), dilation=(1, 2), groups=1)


@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_relu_gradcheck_float64(rng, bias):
    x, w, b = _conv_pair(rng, np.float64, bias)
    inputs = (x, w, b) if bias else (x, w)
    assert gradcheck(lambda *t: F.conv2d(t[0], t[1], t[2] if bias else None, activation="relu", **CONV_HP), inputs)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_relu_gradcheck_float64(rng, bias):
    x = dlcore.tensor(randn(rng, 5, 7, dtype=np.float64), requires_grad=True)
    w = dlcore.tensor(randn(rng, 9, 7, dtype=np.float64), requires_grad=True)
    b = dlcore.tensor(randn(rng, 9, dtype=np.float64), requires_grad=True)
    inputs = (x, w, b) if bias else (x, w)
    assert gradcheck(lambda *t: F.linear(t[0], t[1], t[2] if bias else None, activation="relu"), inputs)


def _grads(fn, tensors):
    for t in tensors:
        t.grad = None
    out = fn()
    (out * dlcore.tensor(np.linspace(-1, 1, out.numel()).reshape(out.shape).astype(out.dtype))).sum().backward()
    return out.numpy().copy(), [t.grad.numpy().copy() for t in tensors]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_functions_match_unfused_bitwise(rng, dtype, bias):
    x, w, b = _conv_pair(rng, dtype, bias)
    ts = [t for t in (x, w, b) if t is not None]
    y1, g1 = _grads(lambda: F.conv2d(x, w, b, activation="relu", **CONV_HP), ts)
    y2, g2 = _grads(lambda: F.relu(F.conv2d(x, w, b, **CONV_HP)), ts)
    assert np.array_equal(y1, y2) and all(np.array_equal(a, c) for a, c in zip(g1, g2))
    xl = dlcore.tensor(randn(rng, 6, 13, dtype=dtype), requires_grad=True)
    wl = dlcore.tensor(randn(rng, 11, 13, dtype=dtype), requires_grad=True)
    bl = dlcore.tensor(randn(rng, 11, dtype=dtype), requires_grad=True) if bias else None
    ts = [t for t in (xl, wl, bl) if t is not None]
    y1, g1 = _grads(lambda: F.linear(xl, wl, bl, activation="relu"), ts)
    y2, g2 = _grads(lambda: F.relu(F.linear(xl, wl, bl)), ts)
    assert np.array_equal(y1, y2) and all(np.array_equal(a, c) for a, c in zip(g1, g2))


def test_fused_linear_keeps_leading_dimensions(rng):
    x = dlcore.tensor(randn(rng, 2, 3, 5))
    y = F.linear(x, dlcore.tensor(randn(rng, 4, 5)), activation="relu")
    assert y.shape == (2, 3, 4) and (y.numpy() >= 0).all()


# ---- nn.Sequential ----------------------------------------------------------------------------------
def _lenet():
    dlcore.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


@pytest.fixture
def fused_calls(monkeypatch):
    calls = []
    original = fusion.forward_relu

    def counted(layer, input):
        calls.append(type(layer).__name__)
        return original(layer, input)

    monkeypatch.setattr(fusion, "forward_relu", counted)
    return calls


def _step(model, x):
    for p in model.parameters():
        p.grad = None
    out = model(x)
    out.sum().backward()
    return out.numpy().copy(), [p.grad.numpy().copy() for p in model.parameters()]


def test_sequential_fuses_conv_and_linear_relu_pairs_bitwise(rng, fused_calls):
    model, x = _lenet(), dlcore.tensor(randn(rng, 3, 1, 28, 28))
    out, grads = _step(model, x)
    assert fused_calls == ["Conv2d", "Conv2d", "Linear", "Linear"]
    with fusion.fusion_disabled():
        out2, grads2 = _step(model, x)
    assert len(fused_calls) == 4  # nothing fused inside the block
    assert np.array_equal(out, out2) and all(np.array_equal(a, b) for a, b in zip(grads, grads2))


def test_hooks_and_replaced_forwards_disable_the_fusion(rng, fused_calls):
    model, x = _lenet(), dlcore.tensor(randn(rng, 2, 1, 28, 28))
    seen = []
    handle = model[0].register_forward_hook(lambda m, args, out: seen.append(out.numpy().copy()))
    model(x)
    assert fused_calls == ["Conv2d", "Linear", "Linear"]  # the hooked conv1 runs alone
    assert (seen[0] < 0).any()  # the hook saw conv1's own output, before the ReLU
    handle.remove()
    fused_calls.clear()
    handle = model[4].register_forward_pre_hook(lambda m, args: None)  # on a ReLU
    model(x)
    assert fused_calls == ["Conv2d", "Linear", "Linear"]
    handle.remove()
    fused_calls.clear()
    model[7].forward = lambda inp: F.linear(inp, model[7].weight, model[7].bias)  # e.g. a tracer's wrapper
    model(x)
    assert fused_calls == ["Conv2d", "Conv2d", "Linear"]


def test_subclasses_are_not_fused(rng, fused_calls):
    class MyConv(nn.Conv2d):
        def forward(self, input):
            return super().forward(input) * 2

    model = nn.Sequential(MyConv(1, 2, 3), nn.ReLU())
    y = model(dlcore.tensor(randn(rng, 1, 1, 5, 5)))
    assert fused_calls == [] and y.shape == (1, 2, 3, 3)


def test_onnx_export_sees_the_unfused_graph(tmp_path):
    pytest.importorskip("onnx")
    import onnx

    import dlcore.onnx

    model = _lenet()
    path = tmp_path / "lenet.onnx"
    dlcore.onnx.export(model, dlcore.randn(1, 1, 28, 28), str(path))
    ops = [node.op_type for node in onnx.load(str(path)).graph.node]
    assert ops.count("Relu") == 4 and ops.count("Conv") == 2


def test_onnx_export_of_a_direct_fused_call(tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import dlcore.onnx

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.fc = nn.Conv2d(2, 4, 3), nn.Linear(4 * 3 * 3, 5)

        def forward(self, x):
            h = F.conv2d(x, self.conv.weight, self.conv.bias, activation="relu")
            return F.linear(h.flatten(1), self.fc.weight, self.fc.bias, activation="relu")

    model, x = Net(), dlcore.randn(2, 2, 5, 5)
    path = tmp_path / "fused.onnx"
    dlcore.onnx.export(model, x, str(path))
    got = ort.InferenceSession(str(path)).run(None, {"input": x.numpy()})[0]
    assert np.allclose(got, model(x).numpy(), rtol=1e-5, atol=1e-5)


def test_fused_results_do_not_depend_on_the_thread_count(rng):
    """The epilogue runs per tile on the thread that computed it: 1, 2 and 3 threads agree bitwise."""
    x, w, b = randn(rng, 4, 40, 17, 15), randn(rng, 41, 40, 3, 3), randn(rng, 41)
    xl, wl, bl = randn(rng, 70, 300), randn(rng, 130, 300), randn(rng, 130)
    x1, w1, b1 = randn(rng, 3, 64, 9, 9), randn(rng, 48, 64, 1, 1), randn(rng, 48)
    before = dlcore.get_num_threads()
    runs = []
    try:
        for t in (1, 2, 3):
            dlcore.set_num_threads(t)
            runs.append((K.conv2d_forward(x, w, b, padding=1, activation="relu"),
                         K.conv2d_forward(x1, w1, b1, activation="relu"),
                         K.linear_forward(xl, wl, bl, activation="relu")))
    finally:
        dlcore.set_num_threads(before)
    for other in runs[1:]:
        assert all(np.array_equal(a, c) for a, c in zip(runs[0], other))
