"""Regression tests for issue 18's findings: crashes, overflowing geometry, allocation failure in
OpenMP regions, silent wrong answers (LRN overflow, ReLU(-inf)), and the shared geometry functions
that every backend now validates with."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import CPU_BACKENDS

import dlcore
from dlcore import _C, nn
from dlcore._backends import optional_module

_onednn = optional_module("onednn") if dlcore.backends()["onednn"]["available"] else None
#: Every CPU module that takes a backend= name: ours per ISA, and oneDNN when built.
ALL_CPU = [(_C, b) for b in CPU_BACKENDS] + ([(_onednn, "onednn")] if _onednn else [])
ids = [b for _, b in ALL_CPU]


# ---------------------------------------------------------------- crashes

@pytest.mark.parametrize("mod,backend", ALL_CPU, ids=ids)
def test_depthwise_conv_empty_batch(mod, backend, rng):
    """N = 0 used to divide by zero in depthwise_kernels.h for_each_plane (SIGFPE)."""
    x = np.zeros((0, 4, 8, 8), np.float32)
    w = rng.standard_normal((4, 1, 3, 3)).astype(np.float32)
    y = mod.conv2d_forward(x, w, None, 1, 1, 1, 4, backend)
    assert y.shape == (0, 4, 8, 8)
    dx = mod.conv2d_backward_data(np.zeros((0, 4, 8, 8), np.float32), w, (0, 4, 8, 8), 1, 1, 1, 4, backend)
    assert dx.shape == (0, 4, 8, 8)
    dw, db = mod.conv2d_backward_weights(x, np.zeros((0, 4, 8, 8), np.float32), (4, 1, 3, 3), 1, 1, 1, 4,
                                         True, backend)
    np.testing.assert_array_equal(dw, 0)
    np.testing.assert_array_equal(db, 0)


def test_depthwise_conv_layer_empty_batch():
    y = nn.Conv2d(4, 4, 3, groups=4)(dlcore.zeros(0, 4, 8, 8))
    assert y.shape == (0, 4, 6, 6)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_maxout_backward_pool_overflow(backend):
    """C/pool * pool overflowed int64 (2^61 + 1): dx too small, the kernel wrote past it."""
    dy = np.ones((1, 2, 3), np.float32)
    idx = np.zeros((1, 2, 3), np.int32)
    with pytest.raises(ValueError, match="maxout_backward"):
        _C.maxout_backward(dy, idx, 2**61 + 1, backend=backend)


HUGE = [2**31, 2**61, 2**62, 2**63 - 1]


@pytest.mark.parametrize("mod,backend", ALL_CPU, ids=ids)
@pytest.mark.parametrize("huge", HUGE)
def test_pool_huge_hyper_parameters(mod, backend, huge, rng):
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    for kwargs in (dict(kernel_size=huge, stride=1, padding=huge // 2), dict(kernel_size=3, stride=huge, padding=1),
                   dict(kernel_size=huge, stride=huge, padding=0)):
        for ceil_mode in (False, True):
            with pytest.raises(ValueError, match="avg_pool2d_forward"):
                mod.avg_pool2d_forward(x, kwargs["kernel_size"], kwargs["stride"], kwargs["padding"], ceil_mode,
                                       True, backend)
            with pytest.raises(ValueError, match="max_pool2d_forward"):
                mod.max_pool2d_forward(x, kwargs["kernel_size"], kwargs["stride"], kwargs["padding"], ceil_mode,
                                       backend)
        with pytest.raises(ValueError, match="pool_geometry"):
            _C.pool_geometry((1, 2, 5, 5), kwargs["kernel_size"], kwargs["stride"], kwargs["padding"])


@pytest.mark.parametrize("mod,backend", ALL_CPU, ids=ids)
@pytest.mark.parametrize("huge", HUGE)
def test_conv_huge_hyper_parameters(mod, backend, huge, rng):
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    for stride, padding, dilation in ((huge, 0, 1), (1, huge, 1), (1, (0, huge, 0, 0), 1), (1, 0, huge)):
        with pytest.raises(ValueError, match="conv2d_forward"):
            mod.conv2d_forward(x, w, None, stride, padding, dilation, 1, backend)
        with pytest.raises(ValueError, match="conv2d_backward_data"):
            mod.conv2d_backward_data(np.ones((1, 3, 3, 3), np.float32), w, (1, 2, 5, 5), stride, padding,
                                     dilation, 1, backend)


def test_conv_overflowing_weight_extent():
    """dilation * (kernel - 1) checked: a weight_shape with a huge kernel overflows with dilation 2^30."""
    x = np.ones((1, 1, 4, 4), np.float32)
    with pytest.raises(ValueError, match="conv2d_backward_weights"):
        _C.conv2d_backward_weights(x, np.ones((1, 1, 1, 1), np.float32), (1, 1, 2**40, 1), dilation=2**30)


def test_int_outside_int64_is_value_error():
    x = np.ones((1, 1, 4, 4), np.float32)
    with pytest.raises(ValueError, match="outside the int64 range"):
        _C.max_pool2d_forward(x, 2**64)
    with pytest.raises(ValueError, match="outside the int64 range"):
        _C.conv2d_forward(x, np.ones((1, 1, 1, 1), np.float32), padding=-(2**70))
    with pytest.raises(TypeError, match="stride must be"):
        _C.conv2d_forward(x, np.ones((1, 1, 1, 1), np.float32), stride=True)


@pytest.mark.parametrize("mod,backend", ALL_CPU, ids=ids)
@pytest.mark.parametrize("region", ["across", "within"])
def test_lrn_huge_size_is_fast_and_equals_capped_window(mod, backend, region, rng):
    """LRN-within with size 2^62 segfaulted or zero-filled a 2^61 reach for hours. A window wider than the
    data is clipped, so a huge size equals the widest useful window with alpha scaled by the same n."""
    x = rng.standard_normal((2, 3, 5, 4)).astype(np.float32)
    huge = 2**62 + 1
    wide = 11  # reaches 5 >= every extent - 1
    n_huge, n_wide = (huge, wide) if region == "across" else (huge * huge, wide * wide)
    y = mod.lrn_forward(x, huge, 1e-2, 0.75, 1.0, region, True, backend)
    y_ref = mod.lrn_forward(x, wide, 1e-2 * n_wide / n_huge, 0.75, 1.0, region, True, backend)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-7)


def _run_child(code):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)


def test_bad_alloc_in_parallel_region_is_memory_error():
    """A scratch allocation failing inside an OpenMP region aborted the process (std::terminate). Under an
    address-space limit that leaves room for dx but not for LRN-within's per-thread scratch (2 planes), the
    call must raise MemoryError and the process go on."""
    code = """
        import resource, numpy as np, dlcore
        from dlcore import _C
        dlcore.set_num_threads(1)
        x = np.ones((1, 1, 4096, 8192), np.float32)
        dy = np.ones_like(x)
        _C.relu_forward(np.ones(16, np.float32))
        def vm():
            for line in open("/proc/self/status"):
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
        limit = vm() + x.nbytes + (96 << 20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:
            _C.lrn_backward(dy, x, 3, region="within", backend="ref")
            print("NO ERROR")
        except MemoryError:
            print("MEMORYERROR")
        print("ALIVE")
    """
    r = _run_child(code)
    assert "ALIVE" in r.stdout, (r.returncode, r.stderr[-2000:])
    assert "MEMORYERROR" in r.stdout, r.stdout


# ---------------------------------------------------------------- silent wrong answers

def _lrn_ref(x, size, alpha, beta, k, region):
    x = x.astype(np.float64)
    n, c, h, w = x.shape
    sq = x * x
    front, back = size // 2, (size - 1) // 2
    s = np.zeros_like(x)
    if region == "across":
        for ch in range(c):
            s[:, ch] = sq[:, max(0, ch - front): ch + back + 1].sum(axis=1)
        a = alpha / size
    else:
        for i in range(h):
            for j in range(w):
                s[:, :, i, j] = sq[:, :, max(0, i - front): i + back + 1, max(0, j - front): j + back + 1].sum(axis=(2, 3))
        a = alpha / (size * size)
    return x * (k + a * s) ** -beta


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("region", ["across", "within"])
@pytest.mark.parametrize("beta", [0.75, 0.6])
def test_lrn_stable_when_square_overflows_float32(backend, region, beta, rng):
    """AlexNet's LRN (beta 0.75) returned garbage once x^2 overflowed float32 (x ~ 1e19+)."""
    x = rng.standard_normal((2, 7, 5, 3)).astype(np.float32)
    x[0, 3, 2, 1] = 3e20
    x[1, 0, 0, 0] = -1e25
    y = _C.lrn_forward(x, 5, 1e-4, beta, 2.0, region, True, backend)
    ref = _lrn_ref(x, 5, 1e-4, beta, 2.0, region)
    np.testing.assert_allclose(y, ref, rtol=3e-6, atol=1e-30)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("region", ["across", "within"])
def test_lrn_backward_stable_when_square_overflows_float32(backend, region, rng):
    x = rng.standard_normal((1, 6, 4, 3)).astype(np.float32)
    x[0, 2, 1, 1] = 2e21
    dy = rng.standard_normal(x.shape).astype(np.float32)
    dx = _C.lrn_backward(dy, x, 3, 1e-3, 0.75, 1.0, region, True, backend)
    # float64 central differences of sum(dy * lrn(x)) with the float64 reference
    x64 = x.astype(np.float64)
    for idx in [(0, 2, 1, 1), (0, 1, 1, 1), (0, 0, 0, 0), (0, 3, 2, 2)]:
        h = abs(x64[idx]) * 1e-6 + 1e-6
        xp, xm = x64.copy(), x64.copy()
        xp[idx] += h
        xm[idx] -= h
        num = ((_lrn_ref(xp, 3, 1e-3, 0.75, 1.0, region) - _lrn_ref(xm, 3, 1e-3, 0.75, 1.0, region)) * dy).sum() / (2 * h)
        assert np.isclose(dx[idx], num, rtol=1e-3, atol=1e-12), (idx, dx[idx], num)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_lrn_infinite_input(backend):
    """s = +inf: y = x * inf^-beta, 0 for finite x and NaN for the infinite one; NaN stays NaN."""
    x = np.ones((1, 3, 1, 2), np.float32)
    x[0, 1, 0, 0] = np.inf
    x[0, 1, 0, 1] = np.nan
    y = _C.lrn_forward(x, 3, 1e-4, 0.75, 1.0, backend=backend)
    assert np.isnan(y[0, 1, 0, 0]) and np.isnan(y[0, 1, 0, 1])
    assert y[0, 0, 0, 0] == 0 and y[0, 2, 0, 0] == 0
    assert np.isnan(y[0, 0, 0, 1]) and np.isnan(y[0, 2, 0, 1])


SPECIAL = np.array([-np.inf, -3.0, -0.0, 0.0, 2.0, np.inf, np.nan], np.float32)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_relu_special_values(backend):
    """ReLU(-inf) gave -inf * 0 = NaN."""
    y = _C.relu_forward(SPECIAL, backend=backend)
    np.testing.assert_array_equal(y, [0, 0, 0, 0, 2, np.inf, np.nan])
    leaky = _C.relu_forward(SPECIAL, 0.1, backend=backend)
    np.testing.assert_array_equal(leaky, np.where(SPECIAL > 0, SPECIAL, np.float32(0.1) * SPECIAL))
    dy = np.array([np.inf, np.nan, 1, 1, 1, 1, 1], np.float32)
    dx = _C.relu_backward(dy, SPECIAL, backend=backend)
    np.testing.assert_array_equal(dx, [0, 0, 0, 0, 1, 1, 0])


@pytest.mark.skipif(_onednn is None, reason="dlcore._onednn not built")
def test_relu_special_values_onednn_documented_difference():
    """docs/KERNEL_API.md: oneDNN's relu (slope 0) agrees on +-inf but maps NaN to 0, and its gradient at a
    NaN x is dy (ours: NaN and 0). Checked so that a oneDNN change shows up."""
    y = _onednn.relu_forward(SPECIAL)
    np.testing.assert_array_equal(y, [0, 0, 0, 0, 2, np.inf, 0])
    dx = _onednn.relu_backward(np.ones_like(SPECIAL), SPECIAL)
    np.testing.assert_array_equal(dx, [0, 0, 0, 0, 1, 1, 1])


# ---------------------------------------------------------------- one geometry for every backend

POOL_CASES = [((2, 3, 7, 7), 3, 2, 1, False), ((2, 3, 7, 7), 3, 2, 1, True), ((1, 1, 5, 6), (2, 3), (2, 2), 0, True),
              ((0, 2, 4, 4), 2, None, 0, False), ((1, 1, 3, 3), 3, 1, 1, True), ((3, 2, 9, 4), 4, 3, 2, True)]


@pytest.mark.parametrize("shape,k,s,p,ceil", POOL_CASES)
def test_pool_geometry_matches_every_backend(shape, k, s, p, ceil, rng):
    oh, ow = _C.pool_geometry(shape, k, s, p, ceil)
    x = rng.standard_normal(shape).astype(np.float32)
    for mod, backend in ALL_CPU:
        assert mod.avg_pool2d_forward(x, k, s, p, ceil, True, backend).shape == shape[:2] + (oh, ow), backend
        assert mod.max_pool2d_forward(x, k, s, p, ceil, backend)[0].shape == shape[:2] + (oh, ow), backend


POOL_ERRORS = [((1, 1, 4, 4), 5, 1, 0, "larger than the padded input"), ((1, 1, 4, 4), 2, 1, 2, "at most half"),
               ((1, 0, 4, 4), 2, 1, 0, "non-empty C, H and W"), ((1, 1, 4, 4), 0, 1, 0, "kernel_size must be positive"),
               ((1, 1, 4, 4), 2, 0, 0, "stride must be positive"), ((1, 1, 4, 4), 2, 1, -1, "non-negative")]


@pytest.mark.parametrize("shape,k,s,p,match", POOL_ERRORS)
def test_pool_errors_same_on_every_backend(shape, k, s, p, match):
    x = np.ones(shape, np.float32)
    with pytest.raises(ValueError, match=match):
        _C.pool_geometry(shape, k, s, p)
    for mod, backend in ALL_CPU:
        with pytest.raises(ValueError, match=match):
            mod.avg_pool2d_forward(x, k, s, p, False, True, backend)


CONV_ERRORS = [((1, 4, 5, 5), (2, 3, 3, 3), 1, 0, 1, 1, "input channels"), ((1, 4, 5, 5), (3, 2, 3, 3), 1, 0, 1, 2,
               "output channels 3"), ((1, 2, 2, 2), (1, 2, 3, 3), 1, 0, 1, 1, "larger than the padded input"),
               ((1, 2, 5, 5), (1, 2, 3, 3), 0, 0, 1, 1, "stride must be positive"),
               ((1, 2, 5, 5), (1, 2, 3, 3), 1, -1, 1, 1, "padding must be non-negative")]


@pytest.mark.parametrize("xs,ws,s,p,d,g,match", CONV_ERRORS)
def test_conv_errors_same_on_every_backend(xs, ws, s, p, d, g, match):
    with pytest.raises(ValueError, match=match):
        _C.conv_geometry(xs, ws, s, p, d, g)
    x, w = np.ones(xs, np.float32), np.ones(ws, np.float32)
    for mod, backend in ALL_CPU:
        with pytest.raises(ValueError, match=match):
            mod.conv2d_forward(x, w, None, s, p, d, g, backend)


@pytest.mark.parametrize("mod,backend", ALL_CPU, ids=ids)
def test_empty_inputs_accepted_on_every_backend(mod, backend):
    """The edge rule decided once (KERNEL_API): N = 0 is an empty result everywhere (oneDNN refused it)."""
    x = np.zeros((0, 3, 6, 6), np.float32)
    assert mod.max_pool2d_forward(x, 2, None, 0, False, backend)[0].shape == (0, 3, 3, 3)
    assert mod.avg_pool2d_backward(np.zeros((0, 3, 3, 3), np.float32), (0, 3, 6, 6), 2, None, 0, False, True,
                                   backend).shape == (0, 3, 6, 6)
    assert mod.lrn_forward(x, 3, 1e-4, 0.75, 1.0, "across", True, backend).shape == x.shape
    assert mod.conv2d_forward(x, np.ones((2, 3, 3, 3), np.float32), None, 1, 0, 1, 1, backend).shape == (0, 2, 4, 4)


# ---------------------------------------------------------------- NaN / Inf semantics (docs/KERNEL_API.md)

def _special_planes(rng):
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    x[0, 0, 0, 0] = np.nan
    x[0, 0, 2, 2] = np.inf
    x[0, 1, 1, 1] = -np.inf
    return x


@pytest.mark.parametrize("mod,backend", ALL_CPU, ids=ids)
def test_pool_nan_inf(mod, backend, rng):
    x = _special_planes(rng)
    y, idx = mod.max_pool2d_forward(x, 2, None, 0, False, backend)
    if backend == "onednn":  # documented: oneDNN's max ignores NaN
        assert y[0, 0, 0, 0] == np.nanmax(x[0, 0, :2, :2])
    else:
        assert np.isnan(y[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 0
    assert y[0, 0, 1, 1] == np.inf and y[0, 1, 0, 0] == x[0, 1, :2, :2].max()
    a = mod.avg_pool2d_forward(x, 2, None, 0, False, True, backend)
    assert np.isnan(a[0, 0, 0, 0]) and a[0, 0, 1, 1] == np.inf and a[0, 1, 0, 0] == -np.inf


ROWS = np.array([[1, np.nan, 2], [1, np.inf, 2], [-np.inf, 0, 1], [-np.inf, -np.inf, -np.inf]], np.float32)


@pytest.mark.parametrize("mod,backend", ALL_CPU, ids=ids)
def test_softmax_nan_inf(mod, backend):
    y = mod.softmax_forward(ROWS, -1, backend)
    if backend == "onednn":  # documented: NaN only at the NaN / +inf positions
        assert np.isnan(y[0, 1]) and y[0, 0] == 0 and np.isnan(y[1, 1]) and y[1, 0] == 0
    else:
        assert np.isnan(y[:2]).all()
    np.testing.assert_allclose(y[2], [0, 1 / (1 + np.e), np.e / (1 + np.e)], rtol=1e-6)
    assert np.isnan(y[3]).all()


@pytest.mark.parametrize("mod,backend", ALL_CPU, ids=ids)
def test_batch_norm_nan_inf_stays_in_its_channel(mod, backend, rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    x[1, 0] = np.nan
    x[2, 1] = np.inf
    y, mean, _ = mod.batch_norm_forward_training(x, None, None, None, None, 0.1, 1e-5, backend)
    assert np.isnan(y[:, :2]).all() and np.isfinite(y[:, 2]).all()
    assert np.isnan(mean[0]) and mean[1] == np.inf and np.isfinite(mean[2])


# ---------------------------------------------------------------- registries that list algorithms

ISA_BACKENDS = [b for b in CPU_BACKENDS if b != "ref"]
CONV_CASES = [  # (x shape, w shape, groups, stride, padding, expected forward algorithm)
    ((2, 8, 9, 9), (16, 8, 1, 1), 1, 1, 0, "gemm1x1"),
    ((2, 8, 9, 9), (8, 1, 3, 3), 8, 1, 1, "depthwise"),
    ((2, 3, 9, 9), (16, 3, 3, 3), 1, 2, 1, "narrow"),
    ((2, 17, 9, 9), (16, 17, 3, 3), 1, 1, 1, "blocked"),
    ((2, 17, 2, 2), (16, 17, 3, 3), 1, 1, 1, "fold"),
]


@pytest.mark.skipif(not ISA_BACKENDS, reason="no SIMD backend on this CPU")
@pytest.mark.parametrize("backend", ISA_BACKENDS)
@pytest.mark.parametrize("xs,ws,groups,stride,padding,algo", CONV_CASES)
def test_conv_algorithm_entries_and_decline_reasons(backend, xs, ws, groups, stride, padding, algo, rng):
    """Conv's algorithms are registry entries: last_dispatch names the one that ran, and detail=True says why
    the faster ones declined; explicit backend= runs the first entry of that ISA that accepts. The result
    matches the reference entry."""
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    y = dlcore.kernels.conv2d_forward(x, w, stride=stride, padding=padding, groups=groups, backend=backend)
    d = dlcore.kernels.last_dispatch(detail=True)
    assert d["op"] == "conv2d_forward" and d["implementation"] == f"conv2d_forward_{backend}_{algo}"
    order = ["gemm1x1", "depthwise", "fold", "narrow", "blocked"]
    declined = [name for name, _ in d["declined"]]
    assert declined == [f"conv2d_forward_{backend}_{a}" for a in order[:order.index(algo)]]
    assert all(reason for _, reason in d["declined"])
    if algo not in ("gemm1x1", "depthwise", "fold"):
        assert "more than 4 pixels" in dict(d["declined"])[f"conv2d_forward_{backend}_fold"]
    y_ref = dlcore.kernels.conv2d_forward(x, w, stride=stride, padding=padding, groups=groups, backend="ref")
    np.testing.assert_allclose(y, y_ref, rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(not ISA_BACKENDS, reason="no SIMD backend on this CPU")
def test_conv_backward_data_gather_declines_with_reason(rng):
    backend = ISA_BACKENDS[0]
    dy = rng.standard_normal((1, 16, 5, 5)).astype(np.float32)
    w = rng.standard_normal((16, 17, 3, 3)).astype(np.float32)
    dlcore.kernels.conv2d_backward_data(dy, w, (1, 17, 9, 9), stride=2, padding=1, backend=backend)
    d = dlcore.kernels.last_dispatch(detail=True)
    assert d["implementation"] == f"conv2d_backward_data_{backend}_scatter"
    reasons = dict(d["declined"])
    assert "stride 1" in reasons[f"conv2d_backward_data_{backend}_gather"]
    assert "not depthwise" in reasons[f"conv2d_backward_data_{backend}_depthwise"]


def test_verbose_names_algorithm_and_declines():
    code = """
        import numpy as np, dlcore
        dlcore.set_verbose(True)
        x = np.ones((1, 17, 6, 6), np.float32); w = np.ones((4, 17, 3, 3), np.float32)
        dlcore.kernels.conv2d_forward(x, w)
    """
    r = _run_child(code)
    assert r.returncode == 0, r.stderr
    if dlcore.backends()["auto"] == "ref":
        pytest.skip("auto is the reference here: nothing declines")
    line = [ln for ln in r.stderr.splitlines() if "conv2d_forward ->" in ln][-1]
    assert "_blocked" in line and "gemm1x1 declined: not a 1x1" in line and "depthwise declined" in line
