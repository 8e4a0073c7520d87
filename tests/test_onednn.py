"""The oneDNN backend (dlcore._onednn) against float64 NumPy references and our kernels.

For every family: oneDNN vs a float64 reference computed here, and vs our
fastest path (``dlcore.kernels.<op>``, backend="auto") on the same random
inputs when that kernel exists in this build; forward and backward, odd
shapes. The family tests skip when _onednn is not built; ``test_built_where
_expected`` fails when it should have been (x86-64 Linux with oneDNN's PyPI
runtime installed, as ``pip install .`` arranges, or DLCORE_REQUIRE_ONEDNN=1).
"""
import ctypes
import os
import platform
import subprocess
import sys
from importlib import metadata, util

import numpy as np
import pytest

import dlcore
from dlcore import _onednn_loader
from dlcore.kernels._dispatch import module_for
from opcheck import assert_close, randn

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.dirname(os.path.dirname(dlcore.__file__))
_INFO = dlcore.backends()["onednn"]
BUILT = util.find_spec("dlcore._onednn") is not None
AVAILABLE = _INFO["available"]

needs_onednn = pytest.mark.skipif(not AVAILABLE, reason=f"oneDNN backend unavailable: {_INFO.get('reason')}")


def _runtime_installed():
    try:
        metadata.distribution(_onednn_loader.DISTRIBUTION)
        return True
    except metadata.PackageNotFoundError:
        return False


def onednn_expected():
    """x86-64 Linux where oneDNN's runtime wheel is installed (pip install . pulls it) or forced."""
    if os.environ.get("DLCORE_REQUIRE_ONEDNN") == "1":
        return True
    return (platform.machine() in ("x86_64", "AMD64") and sys.platform.startswith("linux")
            and _runtime_installed())


def test_built_where_expected():
    if not onednn_expected():
        pytest.skip("oneDNN is not expected here (not x86-64 Linux, or onednn-cpu-gomp not installed)")
    assert BUILT, "dlcore._onednn should have been built (x86-64 Linux, oneDNN runtime installed) but was not"
    assert AVAILABLE, _INFO.get("reason")


# --------------------------------------------------------------------------- helpers
def onednn(op):
    return getattr(module_for("onednn", op), op)


def ours(op):
    """Our kernel op (backend auto) when this build has it, else None (comparison skipped)."""
    fn = getattr(dlcore.kernels, op, None)
    return None if fn is None else (lambda *a, **k: fn(*a, **k, backend="auto"))


def agree(op, got, expected, ours_args=None, ours_kwargs=None, *, rtol=1e-4, atol=1e-5, pick=None):
    """oneDNN output vs the float64 reference, and vs our kernel when it exists."""
    assert_close(got, expected, rtol=rtol, atol=atol, what=f"{op} onednn vs float64")
    fn = ours(op)
    if fn is not None and ours_args is not None:
        mine = fn(*ours_args, **(ours_kwargs or {}))
        if pick is not None:
            mine = mine[pick]
        assert_close(mine, expected, rtol=rtol, atol=atol, what=f"{op} ours vs float64")
        assert_close(got, np.asarray(mine, np.float64), rtol=2 * rtol, atol=2 * atol, what=f"{op} onednn vs ours")


# --------------------------------------------------------------------------- backend info / loader
@needs_onednn
def test_describe_reports_version_and_isa():
    info = dlcore.backends()["onednn"]
    assert info["version"].startswith("3.")
    assert info["isa"] in ("sse41", "avx", "avx2", "avx2_vnni", "avx2_vnni_2", "avx512_core", "avx512_core_vnni",
                           "avx512_core_bf16", "avx512_core_fp16", "avx512_core_amx", "avx512_core_amx_fp16")


@needs_onednn
def test_loader_uses_the_library_of_the_installed_distribution():
    if not _runtime_installed():
        pytest.skip("onednn-cpu-gomp is not installed as a distribution (library found another way)")
    path = _onednn_loader.find_library()
    assert path and os.path.basename(path).startswith("libdnnl.so.3") and os.path.exists(path)
    dist = metadata.distribution(_onednn_loader.DISTRIBUTION)
    listed = {os.path.realpath(str(dist.locate_file(f))) for f in dist.files}
    assert path in listed
    module_for("onednn", "gemm")
    with open("/proc/self/maps") as f:
        maps = f.read()
    assert path in maps, "the libdnnl in the process is not the one the distribution installed"


def _run(code, env_extra=None, pythonpath=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(pythonpath or [PYTHON_DIR, HERE])
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not BUILT, reason="dlcore._onednn not built")
def test_missing_libdnnl_gives_backend_unavailable_not_a_broken_import():
    # No libdnnl anywhere: the loader finds none, and importing _onednn fails the
    # way the dynamic linker makes it fail (simulated, since this build's RPATH
    # would otherwise find the real one).
    code = (
        "import sys, importlib.abc, importlib.machinery\n"
        "import dlcore._onednn_loader as L\n"
        "L.find_library = lambda: None\n"
        "L.SONAME = 'libdnnl_definitely_missing.so.3'\n"
        "class NoLib(importlib.abc.MetaPathFinder, importlib.abc.Loader):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'dlcore._onednn':\n"
        "            return importlib.machinery.ModuleSpec(name, self)\n"
        "    def create_module(self, spec):\n"
        "        raise ImportError('libdnnl.so.3: cannot open shared object file: No such file or directory')\n"
        "    def exec_module(self, module):\n"
        "        pass\n"
        "import dlcore, numpy as np\n"
        "sys.meta_path.insert(0, NoLib())\n"
        "info = dlcore.backends()['onednn']\n"
        "assert info['built'] and not info['available'], info\n"
        "assert 'libdnnl.so.3' in info['reason'] and 'pip install onednn-cpu-gomp' in info['reason'], info\n"
        "try:\n"
        "    dlcore.kernels.gemm(np.ones((2, 2), np.float32), np.ones((2, 2), np.float32), backend='onednn')\n"
        "except dlcore.BackendUnavailableError as e:\n"
        "    print('declined:', e)\n"
        "else:\n"
        "    raise SystemExit('no error')\n"
        "print(dlcore.kernels.gemm(np.ones((2, 2), np.float32), np.ones((2, 2), np.float32))[0, 0])\n")
    r = _run(code)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "declined:" in r.stdout and "2.0" in r.stdout


WHEELS = os.environ.get("DLCORE_ONEDNN_WHEELS", "")


needs_wheels = pytest.mark.skipif(
    not (BUILT and WHEELS and os.path.isdir(WHEELS)),
    reason="needs dlcore._onednn built and DLCORE_ONEDNN_WHEELS = a folder holding the onednn-cpu-gomp wheel")


def _pip_install(*args):
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                        "--find-links", WHEELS, *args, "onednn-cpu-gomp==2023.2.0"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


_USE_ONEDNN = (
    "import dlcore, dlcore._onednn_loader as L, numpy as np\n"
    "p = L.find_library(); print('found', p)\n"
    "assert p and p.startswith(EXPECTED_PREFIX), p\n"
    "y = dlcore.kernels.gemm(np.ones((3, 4), np.float32), np.ones((4, 5), np.float32), backend='onednn')\n"
    "assert float(y[0, 0]) == 4.0\n"
    "assert p in open('/proc/self/maps').read()\n")


@needs_wheels
def test_pip_user_install_is_found(tmp_path):
    """pip install --user puts libdnnl in <userbase>/lib; the loader finds it from RECORD."""
    userbase = tmp_path / "userbase"
    env = {"PYTHONUSERBASE": str(userbase), "PYTHONNOUSERSITE": ""}
    os.environ.update(env)
    try:
        _pip_install("--user", "--ignore-installed")
    finally:
        del os.environ["PYTHONUSERBASE"]
    code = f"EXPECTED_PREFIX = {str(userbase)!r}\n" + _USE_ONEDNN
    r = _run(code, env_extra=env, pythonpath=[PYTHON_DIR])
    assert r.returncode == 0, r.stdout + r.stderr


@needs_wheels
def test_pip_target_install_fails_clearly(tmp_path):
    """pip install --target keeps the dist-info but drops the wheel's lib/ data files
    (pip's behaviour), so there is no libdnnl to find: the backend must say so, not crash."""
    target = tmp_path / "target"
    _pip_install("--target", str(target))
    code = (
        "import dlcore, dlcore._onednn_loader as L, numpy as np, os\n"
        f"lib = os.path.join({str(target)!r}, 'lib', 'libdnnl.so.3')\n"
        "if os.path.exists(lib):\n"
        f"    EXPECTED_PREFIX = {str(target)!r}\n"
        "    exec(" + repr(_USE_ONEDNN) + ")\n"
        "else:\n"
        "    # nothing to find from RECORD: either declined with the reason, or this\n"
        "    # module's RPATH found another libdnnl (a build tree); never a crash\n"
        "    assert L.find_library() is None\n"
        "    info = dlcore.backends()['onednn']\n"
        "    assert info['available'] or 'libdnnl' in info['reason'], info\n"
        "    print(info)\n")
    r = _run(code, pythonpath=[str(target), PYTHON_DIR], env_extra={"LD_LIBRARY_PATH": ""})
    assert r.returncode == 0, r.stdout + r.stderr


# --------------------------------------------------------------------------- GEMM
@needs_onednn
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm(rng, trans_a, trans_b):
    for m, n, k in [(1, 1, 1), (17, 33, 65), (7, 129, 3), (65, 9, 31)]:
        a = randn(rng, *((k, m) if trans_a else (m, k)))
        b = randn(rng, *((n, k) if trans_b else (k, n)))
        a64 = a.astype(np.float64).T if trans_a else a.astype(np.float64)
        b64 = b.astype(np.float64).T if trans_b else b.astype(np.float64)
        c0 = randn(rng, m, n)
        for alpha, beta in [(1.0, 0.0), (-1.5, 0.5)]:
            out = c0.copy() if beta else np.full((m, n), np.nan, np.float32)
            got = dlcore.kernels.gemm(a, b, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta, out=out,
                                      backend="onednn")
            expected = alpha * a64 @ b64 + beta * c0
            assert_close(got, expected, rtol=1e-4, atol=1e-4 * k ** 0.5, what="gemm onednn")
            mine = dlcore.kernels.gemm(a, b, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta,
                                       out=c0.copy() if beta else None)
            assert_close(got, mine.astype(np.float64), rtol=2e-4, atol=2e-4 * k ** 0.5, what="gemm onednn vs ours")


@needs_onednn
def test_gemm_k0_and_checks(rng):
    a, b = randn(rng, 3, 0), randn(rng, 0, 4)
    assert np.array_equal(dlcore.kernels.gemm(a, b, backend="onednn"), np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="inner dimensions"):
        dlcore.kernels.gemm(randn(rng, 3, 4), randn(rng, 5, 6), backend="onednn")
    with pytest.raises(TypeError, match="float32"):
        dlcore.kernels.gemm(np.ones((2, 2)), np.ones((2, 2), np.float32), backend="onednn")
    with pytest.raises(ValueError, match="C-contiguous"):
        dlcore.kernels.gemm(randn(rng, 4, 4).T, randn(rng, 4, 4), backend="onednn")


# --------------------------------------------------------------------------- convolution
def _pad4(padding):
    if isinstance(padding, int):
        return (padding,) * 4
    if len(padding) == 2:
        return (padding[0], padding[0], padding[1], padding[1])
    return tuple(padding)


def _conv_geometry(xs, ws, stride, padding, dilation):
    t, b, l, r = _pad4(padding)
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    kh, kw = ws[2], ws[3]
    oh = (xs[2] + t + b - (kh - 1) * dh - 1) // sh + 1
    ow = (xs[3] + l + r - (kw - 1) * dw - 1) // sw + 1
    return (t, b, l, r), (sh, sw), (dh, dw), oh, ow


def _windows(xs, ws, stride, padding, dilation):
    """For each kernel tap (i, j): the slices of the padded input it reads."""
    (t, b, l, r), (sh, sw), (dh, dw), oh, ow = _conv_geometry(xs, ws, stride, padding, dilation)
    for i in range(ws[2]):
        for j in range(ws[3]):
            yield i, j, (slice(i * dh, i * dh + sh * (oh - 1) + 1, sh), slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))


def conv_ref(x, w, bias, stride, padding, dilation, groups):
    x, w = x.astype(np.float64), w.astype(np.float64)
    (t, b, l, r), _, _, oh, ow = _conv_geometry(x.shape, w.shape, stride, padding, dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)))
    n, o = x.shape[0], w.shape[0]
    cg, og = x.shape[1] // groups, o // groups
    y = np.zeros((n, o, oh, ow))
    for i, j, (hs, ws_) in _windows(x.shape, w.shape, stride, padding, dilation):
        patch = xp[:, :, hs, ws_]
        for g in range(groups):
            y[:, g * og:(g + 1) * og] += np.einsum("oc,nchw->nohw", w[g * og:(g + 1) * og, :, i, j],
                                                   patch[:, g * cg:(g + 1) * cg])
    if bias is not None:
        y += bias.astype(np.float64)[None, :, None, None]
    return y


def conv_backward_ref(x, w, dy, stride, padding, dilation, groups):
    x, w, dy = x.astype(np.float64), w.astype(np.float64), dy.astype(np.float64)
    (t, b, l, r), _, _, _, _ = _conv_geometry(x.shape, w.shape, stride, padding, dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    cg, og = x.shape[1] // groups, w.shape[0] // groups
    for i, j, (hs, ws_) in _windows(x.shape, w.shape, stride, padding, dilation):
        for g in range(groups):
            co, cc = slice(g * og, (g + 1) * og), slice(g * cg, (g + 1) * cg)
            dxp[:, cc, hs, ws_] += np.einsum("oc,nohw->nchw", w[co, :, i, j], dy[:, co])
            dw[co, :, i, j] += np.einsum("nohw,nchw->oc", dy[:, co], xp[:, cc, hs, ws_])
    dx = dxp[:, :, t:t + x.shape[2], l:l + x.shape[3]]
    return dx, dw, dy.sum(axis=(0, 2, 3))


CONV_CASES = [
    # (N, C, H, W), (O, KH, KW), stride, padding, dilation, groups
    ((2, 3, 9, 7), (5, 3, 3), 1, 1, 1, 1),
    ((1, 4, 17, 15), (6, 3, 2), (2, 1), (1, 0, 2, 1), (1, 2), 2),
    ((3, 6, 8, 9), (6, 3, 3), 2, (1, 2), 2, 6),          # depthwise, dilated, strided
    ((1, 1, 33, 31), (7, 5, 5), 3, 2, 1, 1),
    ((2, 16, 7, 7), (8, 1, 1), 1, 0, 1, 1),              # 1x1
]


@needs_onednn
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c[0]}-{c[1]}-g{c[5]}")
def test_conv2d_forward_and_backward(rng, case):
    xs, (o, kh, kw), stride, padding, dilation, groups = case
    x = randn(rng, *xs)
    w = randn(rng, o, xs[1] // groups, kh, kw)
    bias = randn(rng, o)
    kw_args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    y = onednn("conv2d_forward")(x, w, bias, stride, padding, dilation, groups, "onednn")
    tol = dict(rtol=1e-4, atol=1e-4 * (xs[1] * kh * kw) ** 0.5)
    agree("conv2d_forward", y, conv_ref(x, w, bias, stride, padding, dilation, groups),
          (x, w, bias), kw_args, **tol)
    y0 = onednn("conv2d_forward")(x, w, None, stride, padding, dilation, groups, "onednn")
    assert_close(y0, conv_ref(x, w, None, stride, padding, dilation, groups), **tol, what="conv no bias")

    dy = randn(rng, *y.shape)
    dx_ref, dw_ref, db_ref = conv_backward_ref(x, w, dy, stride, padding, dilation, groups)
    dx = onednn("conv2d_backward_data")(dy, w, x.shape, stride, padding, dilation, groups, "onednn")
    agree("conv2d_backward_data", dx, dx_ref, (dy, w, x.shape), kw_args, **tol)
    dw, db = onednn("conv2d_backward_weights")(x, dy, w.shape, stride, padding, dilation, groups, True, "onednn")
    wtol = dict(rtol=1e-4, atol=1e-4 * (y.size / o) ** 0.5)
    agree("conv2d_backward_weights", dw, dw_ref, (x, dy, w.shape), dict(kw_args, bias=True), pick=0, **wtol)
    assert_close(db, db_ref, **wtol, what="conv db")
    dw2, db2 = onednn("conv2d_backward_weights")(x, dy, w.shape, stride, padding, dilation, groups, False,
                                                 "onednn")
    assert db2 is None
    assert_close(dw2, dw_ref, **wtol, what="conv dw (no bias)")


@needs_onednn
def test_conv2d_bad_inputs(rng):
    f = onednn("conv2d_forward")
    x, w = randn(rng, 1, 4, 5, 5), randn(rng, 2, 4, 3, 3)
    with pytest.raises(ValueError, match="input channels"):
        f(x, randn(rng, 2, 3, 3, 3), None, 1, 0, 1, 1, "onednn")
    with pytest.raises(ValueError, match="divisible by groups"):
        f(x, w, None, 1, 0, 1, 3, "onednn")
    with pytest.raises(ValueError, match="stride"):
        f(x, w, None, 0, 0, 1, 1, "onednn")
    with pytest.raises(ValueError, match="larger than the padded input"):
        f(x, randn(rng, 2, 4, 7, 7), None, 1, 0, 1, 1, "onednn")
    with pytest.raises(ValueError, match="bias"):
        f(x, w, randn(rng, 3), 1, 0, 1, 1, "onednn")
    with pytest.raises(TypeError):
        f(x.astype(np.float64), w, None, 1, 0, 1, 1, "onednn")
    with pytest.raises(ValueError, match="dy has shape"):
        onednn("conv2d_backward_data")(randn(rng, 1, 2, 4, 4), w, x.shape, 1, 0, 1, 1, "onednn")


# --------------------------------------------------------------------------- activations
ELTWISE_SHAPES = [(1,), (7,), (3, 17), (2, 3, 5, 9), (129,)]


def _elt_refs():
    sig = lambda x: 1 / (1 + np.exp(-x))
    return {
        # op: (forward kwargs, forward(x), backward(dy, x, y), backward takes "x" or "y")
        "relu": ({"negative_slope": 0.0}, lambda x: np.maximum(x, 0), lambda dy, x, y: dy * (x > 0), "x"),
        "leaky_relu": ({"negative_slope": 0.1}, lambda x: np.where(x > 0, x, 0.1 * x),
                       lambda dy, x, y: dy * np.where(x > 0, 1, 0.1), "x"),
        "sigmoid": ({}, sig, lambda dy, x, y: dy * y * (1 - y), "y"),
        "tanh": ({}, np.tanh, lambda dy, x, y: dy * (1 - y * y), "y"),
        "elu": ({"alpha": 0.7}, lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)),
                lambda dy, x, y: dy * np.where(x > 0, 1, 0.7 * np.exp(x)), "x"),
        "abs": ({}, np.abs, lambda dy, x, y: dy * np.sign(x), "x"),
    }


@needs_onednn
@pytest.mark.parametrize("name", list(_elt_refs()))
def test_eltwise_forward_backward(rng, name):
    kwargs, fwd, bwd, data = _elt_refs()[name]
    op = "relu" if name == "leaky_relu" else name
    for shape in ELTWISE_SHAPES:
        x = randn(rng, *shape, scale=2.0)
        x.flat[0] = 0.0  # the gradient at 0 is part of the contract (abs: 0, relu: 0)
        x64 = x.astype(np.float64)
        y = onednn(f"{op}_forward")(x, *kwargs.values(), "onednn")
        agree(f"{op}_forward", y, fwd(x64), (x,), kwargs, rtol=1e-5, atol=1e-6)
        dy = randn(rng, *shape)
        y64 = fwd(x64)
        arg = x if data == "x" else y
        dx = onednn(f"{op}_backward")(dy, arg, *kwargs.values(), "onednn")
        expected = bwd(dy.astype(np.float64), x64, y.astype(np.float64) if data == "y" else y64)
        agree(f"{op}_backward", dx, expected, (dy, arg), kwargs, rtol=1e-5, atol=1e-6)


@needs_onednn
@pytest.mark.parametrize("shape,wshape", [((3, 5, 7), (5,)), ((2, 4, 3, 3), (1,)), ((9, 17), (17,))])
def test_prelu(rng, shape, wshape):
    x, w, dy = randn(rng, *shape), randn(rng, *wshape) * 0.3, randn(rng, *shape)
    wb = w.astype(np.float64).reshape((1, -1) + (1,) * (len(shape) - 2)) if wshape[0] > 1 else float(w[0])
    x64 = x.astype(np.float64)
    y = onednn("prelu_forward")(x, w, "onednn")
    agree("prelu_forward", y, np.where(x64 > 0, x64, wb * x64), (x, w), rtol=1e-5, atol=1e-6)
    dx, dw = onednn("prelu_backward")(dy, x, w, "onednn")
    dy64 = dy.astype(np.float64)
    agree("prelu_backward", dx, dy64 * np.where(x64 > 0, 1.0, wb), (dy, x, w), pick=0, rtol=1e-5, atol=1e-6)
    contrib = dy64 * np.where(x64 > 0, 0.0, x64)
    dw_ref = contrib.sum(axis=tuple(i for i in range(len(shape)) if i != 1)) if wshape[0] > 1 else [contrib.sum()]
    assert_close(dw, np.asarray(dw_ref), rtol=1e-4, atol=1e-4, what="prelu dweight")


@needs_onednn
def test_eltwise_shape_mismatch_and_unsupported_ops(rng):
    with pytest.raises(ValueError, match="dy has shape"):
        onednn("relu_backward")(randn(rng, 3), randn(rng, 4), 0.0, "onednn")
    for op in ("maxout_forward", "dropout_forward", "cross_entropy_forward", "max_pool2d_backward"):
        with pytest.raises(dlcore.BackendUnavailableError, match="does not implement"):
            module_for("onednn", op)


# --------------------------------------------------------------------------- LRN
def _shift_sum(v, offsets, axis):
    """sum over d in offsets of v shifted along axis: out[i] = sum v[i + d], zeros outside."""
    out = np.zeros_like(v)
    n = v.shape[axis]
    for d in offsets:
        src = [slice(None)] * v.ndim
        dst = [slice(None)] * v.ndim
        src[axis] = slice(max(d, 0), n + min(d, 0))
        dst[axis] = slice(max(-d, 0), n - max(d, 0))
        out[tuple(dst)] += v[tuple(src)]
    return out


def _window(v, size, region, transpose=False):
    lo, hi = (size - 1) // 2, size // 2
    offsets = range(-hi, lo + 1) if transpose else range(-lo, hi + 1)
    if region == "across":
        return _shift_sum(v, offsets, 1)
    return _shift_sum(_shift_sum(v, offsets, 2), offsets, 3)


def lrn_ref(x, dy, size, alpha, beta, k, region, alpha_over_size):
    x, dy = x.astype(np.float64), dy.astype(np.float64)
    n = size if region == "across" else size * size
    a = alpha / n if alpha_over_size else alpha
    s = k + a * _window(x * x, size, region)
    y = x * s ** -beta
    dx = dy * s ** -beta - 2 * a * beta * x * _window(dy * x * s ** (-beta - 1), size, region, transpose=True)
    return y, dx


LRN_CASES = [((2, 7, 5, 3), 5, "across", True), ((1, 17, 3, 9), 7, "across", True),
             ((2, 3, 9, 8), 3, "within", True), ((1, 2, 7, 7), 5, "within", False),
             ((3, 9, 2, 2), 3, "across", False)]


@needs_onednn
@pytest.mark.parametrize("case", LRN_CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}")
def test_lrn(rng, case):
    shape, size, region, aos = case
    alpha, beta, k = 0.5, 0.75, 1.5
    x, dy = randn(rng, *shape), randn(rng, *shape)
    y_ref, dx_ref = lrn_ref(x, dy, size, alpha, beta, k, region, aos)
    kw = dict(region=region, alpha_over_size=aos)
    y = onednn("lrn_forward")(x, size, alpha, beta, k, region, aos, "onednn")
    agree("lrn_forward", y, y_ref, (x, size, alpha, beta, k), kw, rtol=1e-4, atol=1e-5)
    dx = onednn("lrn_backward")(dy, x, size, alpha, beta, k, region, aos, "onednn")
    agree("lrn_backward", dx, dx_ref, (dy, x, size, alpha, beta, k), kw, rtol=1e-4, atol=1e-5)


@needs_onednn
def test_lrn_bad_inputs(rng):
    x = randn(rng, 1, 3, 4, 4)
    with pytest.raises(ValueError, match="size"):
        onednn("lrn_forward")(x, 0, 1e-4, 0.75, 1.0, "across", True, "onednn")
    with pytest.raises(ValueError, match="region"):
        onednn("lrn_forward")(x, 3, 1e-4, 0.75, 1.0, "diagonal", True, "onednn")
    with pytest.raises(dlcore.BackendUnavailableError, match="even size"):
        onednn("lrn_forward")(x, 4, 1e-4, 0.75, 1.0, "across", True, "onednn")
    with pytest.raises(ValueError, match="dimensions"):
        onednn("lrn_forward")(randn(rng, 3, 4), 3, 1e-4, 0.75, 1.0, "across", True, "onednn")


# --------------------------------------------------------------------------- pooling
def _pool_out(n, k, s, p, ceil_mode):
    span = n + 2 * p - k
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def pool_ref(x, k, s, p, ceil_mode, mode, count_include_pad=True):
    """float64 pooling with PyTorch's rules; returns y (and indices for max)."""
    n, c, h, w = x.shape
    oh, ow = _pool_out(h, k, s, p, ceil_mode), _pool_out(w, k, s, p, ceil_mode)
    x = x.astype(np.float64)
    y = np.zeros((n, c, oh, ow))
    idx = np.zeros((n, c, oh, ow), np.int64)
    for i in range(oh):
        h0, h1 = i * s - p, min(i * s - p + k, h + p)
        hs, he = max(h0, 0), min(h1, h)
        for j in range(ow):
            w0, w1 = j * s - p, min(j * s - p + k, w + p)
            ws, we = max(w0, 0), min(w1, w)
            win = x[:, :, hs:he, ws:we].reshape(n, c, -1)
            if mode == "max":
                a = win.argmax(axis=2)  # first max on ties
                y[:, :, i, j] = win.max(axis=2)
                idx[:, :, i, j] = (hs + a // (we - ws)) * w + ws + a % (we - ws)
            else:
                div = (h1 - h0) * (w1 - w0) if count_include_pad else (he - hs) * (we - ws)
                y[:, :, i, j] = win.sum(axis=2) / div
    return y, idx


def pool_backward_ref(x_shape, dy, k, s, p, ceil_mode, count_include_pad):
    """Adjoint of average pooling, by pushing each output's gradient through its window."""
    n, c, h, w = x_shape
    dx = np.zeros(x_shape)
    dy = dy.astype(np.float64)
    for i in range(dy.shape[2]):
        h0, h1 = i * s - p, min(i * s - p + k, h + p)
        hs, he = max(h0, 0), min(h1, h)
        for j in range(dy.shape[3]):
            w0, w1 = j * s - p, min(j * s - p + k, w + p)
            ws, we = max(w0, 0), min(w1, w)
            div = (h1 - h0) * (w1 - w0) if count_include_pad else (he - hs) * (we - ws)
            dx[:, :, hs:he, ws:we] += dy[:, :, i:i + 1, j:j + 1] / div
    return dx


POOL_CASES = [((2, 3, 9, 7), 3, 2, 1, False), ((1, 2, 10, 11), 3, 2, 0, True), ((2, 5, 8, 8), 2, 2, 0, False),
              ((1, 3, 17, 15), 3, 3, 1, True), ((1, 1, 7, 9), 4, 1, 2, True)]


@needs_onednn
@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: f"{c[0]}-k{c[1]}s{c[2]}p{c[3]}-ceil{c[4]}")
def test_max_pool(rng, case):
    shape, k, s, p, ceil_mode = case
    x = randn(rng, *shape)
    x[0, 0, 0, :2] = 5.0  # a tie: the first index must win
    y_ref, idx_ref = pool_ref(x, k, s, p, ceil_mode, "max")
    y, idx = onednn("max_pool2d_forward")(x, k, s, p, ceil_mode, "onednn")
    assert idx.dtype == np.int32
    assert_close(y, y_ref, rtol=0, atol=0, what="max_pool2d_forward onednn")
    assert np.array_equal(idx, idx_ref)
    fn = ours("max_pool2d_forward")
    if fn is not None:
        my_y, my_idx = fn(x, k, s, p, ceil_mode=ceil_mode)
        assert np.array_equal(my_y, y) and np.array_equal(my_idx, idx)
    # oneDNN's own max-pool backward (workspace from a training-mode forward).
    dy = randn(rng, *y.shape)
    dx = onednn("max_pool2d_backward_from_input")(dy, x, k, s, p, ceil_mode, "onednn")
    dx_ref = np.zeros(x.size)
    flat = (np.arange(x.shape[0] * x.shape[1])[:, None] * x.shape[2] * x.shape[3]
            + idx_ref.reshape(x.shape[0] * x.shape[1], -1))
    np.add.at(dx_ref, flat.ravel(), dy.astype(np.float64).ravel())
    assert_close(dx, dx_ref.reshape(x.shape), rtol=1e-5, atol=1e-6, what="max pool backward onednn")
    fn = ours("max_pool2d_backward")
    if fn is not None:
        assert_close(fn(dy, idx, x.shape), dx_ref.reshape(x.shape), rtol=1e-5, atol=1e-6, what="ours max bwd")


@needs_onednn
@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: f"{c[0]}-k{c[1]}s{c[2]}p{c[3]}-ceil{c[4]}")
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool(rng, case, count_include_pad):
    shape, k, s, p, ceil_mode = case
    x = randn(rng, *shape)
    kw = dict(ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    y = onednn("avg_pool2d_forward")(x, k, s, p, ceil_mode, count_include_pad, "onednn")
    agree("avg_pool2d_forward", y, pool_ref(x, k, s, p, ceil_mode, "avg", count_include_pad)[0],
          (x, k, s, p), kw, rtol=1e-5, atol=1e-6)
    dy = randn(rng, *y.shape)
    dx = onednn("avg_pool2d_backward")(dy, x.shape, k, s, p, ceil_mode, count_include_pad, "onednn")
    agree("avg_pool2d_backward", dx, pool_backward_ref(x.shape, dy, k, s, p, ceil_mode, count_include_pad),
          (dy, x.shape, k, s, p), kw, rtol=1e-5, atol=1e-6)


@needs_onednn
def test_pool_bad_inputs(rng):
    x = randn(rng, 1, 2, 5, 5)
    with pytest.raises(ValueError, match="padding"):
        onednn("max_pool2d_forward")(x, 2, 1, 2, False, "onednn")
    with pytest.raises(ValueError, match="kernel_size"):
        onednn("avg_pool2d_forward")(x, 0, 1, 0, False, True, "onednn")
    with pytest.raises(ValueError, match="dy has shape"):
        onednn("avg_pool2d_backward")(randn(rng, 1, 2, 3, 3), x.shape, 2, 2, 0, False, True, "onednn")


# --------------------------------------------------------------------------- batch norm
def bn_ref(x, w, b, eps):
    x = x.astype(np.float64)
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    bshape = (1, -1) + (1,) * (x.ndim - 2)
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    invstd = 1 / np.sqrt(var + eps)
    xhat = (x - mean.reshape(bshape)) * invstd.reshape(bshape)
    y = xhat * (1 if w is None else w.astype(np.float64).reshape(bshape)) + (0 if b is None else b.reshape(bshape))
    return y, mean, invstd, var, xhat, axes, bshape


@needs_onednn
@pytest.mark.parametrize("shape", [(7, 5), (3, 17, 5, 3), (2, 3, 9, 1)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm(rng, shape, affine):
    eps, momentum = 1e-5, 0.1
    c = shape[1]
    x = randn(rng, *shape, scale=2.0) + 0.5
    w = randn(rng, c) if affine else None
    b = randn(rng, c) if affine else None
    rm, rv = randn(rng, c), np.abs(randn(rng, c)) + 0.5
    rm0, rv0 = rm.copy(), rv.copy()
    y_ref, mean_ref, invstd_ref, var, xhat, axes, bshape = bn_ref(x, w, b, eps)
    y, mean, invstd = onednn("batch_norm_forward_training")(x, w, b, rm, rv, momentum, eps, "onednn")
    agree("batch_norm_forward_training", y, y_ref, (x, w, b, rm0.copy(), rv0.copy()),
          dict(momentum=momentum, eps=eps), pick=0, rtol=1e-4, atol=1e-4)
    assert_close(mean, mean_ref, rtol=1e-5, atol=1e-5, what="bn mean")
    assert_close(invstd, invstd_ref, rtol=1e-4, atol=1e-5, what="bn invstd")
    m = x.size // c
    assert_close(rm, (1 - momentum) * rm0 + momentum * mean_ref, rtol=1e-5, atol=1e-5, what="running_mean")
    assert_close(rv, (1 - momentum) * rv0 + momentum * var * m / (m - 1), rtol=1e-4, atol=1e-5, what="running_var")

    yi = onednn("batch_norm_forward_inference")(x, w, b, rm0, rv0, eps, "onednn")
    xhat_i = (x - rm0.reshape(bshape)) / np.sqrt(rv0.astype(np.float64).reshape(bshape) + eps)
    yi_ref = xhat_i * (1 if w is None else w.reshape(bshape)) + (0 if b is None else b.reshape(bshape))
    agree("batch_norm_forward_inference", yi, yi_ref, (x, w, b, rm0, rv0), dict(eps=eps), rtol=1e-4, atol=1e-5)

    dy = randn(rng, *shape)
    dy64 = dy.astype(np.float64)
    g = 1 if w is None else w.astype(np.float64).reshape(bshape)
    db_ref = dy64.sum(axis=axes)
    dw_ref = (dy64 * xhat).sum(axis=axes)
    dx_ref = g * invstd_ref.reshape(bshape) * (dy64 - db_ref.reshape(bshape) / m - xhat * dw_ref.reshape(bshape) / m)
    dx, dw, db = onednn("batch_norm_backward")(dy, x, w, mean, invstd, "onednn")
    agree("batch_norm_backward", dx, dx_ref, (dy, x, w, mean, invstd), pick=0, rtol=1e-3, atol=1e-4)
    if affine:
        assert_close(dw, dw_ref, rtol=1e-4, atol=1e-4, what="bn dweight")
        assert_close(db, db_ref, rtol=1e-4, atol=1e-4, what="bn dbias")
    else:
        assert dw is None and db is None


@needs_onednn
def test_batch_norm_bad_inputs(rng):
    f = onednn("batch_norm_forward_training")
    with pytest.raises(ValueError, match="shape"):
        f(randn(rng, 2, 3, 4), None, None, None, None, 0.1, 1e-5, "onednn")
    with pytest.raises(ValueError, match="weight"):
        f(randn(rng, 2, 3), randn(rng, 4), None, None, None, 0.1, 1e-5, "onednn")
    with pytest.raises(ValueError, match="more than one value"):
        f(randn(rng, 1, 3), None, None, None, randn(rng, 3), 0.1, 1e-5, "onednn")


# --------------------------------------------------------------------------- softmax
@needs_onednn
@pytest.mark.parametrize("shape,axis", [((7,), -1), ((3, 17), -1), ((2, 33, 5), 1), ((4, 3, 2, 9), 0),
                                        ((2, 65), 0)])
@pytest.mark.parametrize("log", [False, True])
def test_softmax(rng, shape, axis, log):
    x, dy = randn(rng, *shape, scale=3.0), randn(rng, *shape)
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(axis=axis, keepdims=True))
    p = e / e.sum(axis=axis, keepdims=True)
    name = "log_softmax" if log else "softmax"
    y = onednn(f"{name}_forward")(x, axis, "onednn")
    # log-probabilities carry an absolute error ~ eps * |x| (the max is subtracted in float32).
    agree(f"{name}_forward", y, np.log(p) if log else p, (x,), dict(axis=axis), rtol=1e-5,
          atol=2e-5 if log else 1e-6)
    dy64 = dy.astype(np.float64)
    if log:
        dx_ref = dy64 - p * dy64.sum(axis=axis, keepdims=True)
    else:
        dx_ref = p * (dy64 - (dy64 * p).sum(axis=axis, keepdims=True))
    dx = onednn(f"{name}_backward")(dy, y, axis, "onednn")
    agree(f"{name}_backward", dx, dx_ref, (dy, y), dict(axis=axis), rtol=1e-4, atol=1e-5)


@needs_onednn
def test_softmax_bad_axis(rng):
    with pytest.raises(ValueError, match="axis"):
        onednn("softmax_forward")(randn(rng, 3, 4), 2, "onednn")


# --------------------------------------------------------------------------- cache and threads
@needs_onednn
def test_primitives_are_cached_and_threads_follow_dlcore(rng):
    mod = module_for("onednn", "conv2d_forward")
    x, w = randn(rng, 1, 3, 11, 11), randn(rng, 4, 3, 3, 3)
    mod.conv2d_forward(x, w, None, 1, 1, 1, 1, "onednn")
    before = mod.cache_info()
    y1 = mod.conv2d_forward(x, w, None, 1, 1, 1, 1, "onednn")
    after = mod.cache_info()
    assert after["misses"] == before["misses"] and after["hits"] > before["hits"]
    threads = dlcore.get_num_threads()
    try:
        dlcore.set_num_threads(1)
        y2 = mod.conv2d_forward(x, w, None, 1, 1, 1, 1, "onednn")
        assert mod.cache_info()["misses"] == after["misses"] + 1  # thread count is part of the key
    finally:
        dlcore.set_num_threads(threads)
    assert_close(y2, y1.astype(np.float64), rtol=1e-5, atol=1e-5, what="1 thread vs all")
    info = mod.last_call_info()
    assert info["primitive_seconds"] > 0 and info["impl"]


_THREADS_PROBE = r"""
import os, time, numpy as np, dlcore
from dlcore import kernels as K

def cpu_ticks():
    ticks = {}
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks[tid] = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks

rng = np.random.default_rng(0)
x = rng.standard_normal((2, 64, 40, 40), dtype=np.float32)
w = rng.standard_normal((64, 64, 3, 3), dtype=np.float32)
dlcore.set_num_threads(2)
K.conv2d_forward(x, w, padding=1, backend="onednn")  # the OpenMP pool exists now
dlcore.set_num_threads(1)
K.conv2d_forward(x, w, padding=1, backend="onednn")  # a new plan, made under 1 thread
time.sleep(0.2)
before = cpu_ticks()
deadline = time.perf_counter() + 0.6
while time.perf_counter() < deadline:
    K.conv2d_forward(x, w, padding=1, backend="onednn")
after = cpu_ticks()
busy = sorted(after[t] - before.get(t, 0) for t in after)
print(busy[-1], busy[-2] if len(busy) > 1 else 0)
"""


@needs_onednn
@pytest.mark.skipif(not os.path.isdir("/proc/self/task") or (os.cpu_count() or 1) < 2,
                    reason="needs Linux /proc and two cores")
def test_set_num_threads_limits_onednn():
    # oneDNN fixes a primitive's thread count at creation; dlcore must create
    # (and run) it under dlcore's count. Counted in CPU ticks per thread, in a
    # subprocess whose idle OpenMP threads sleep (no spinning to count).
    path = os.pathsep.join(p for p in (PYTHON_DIR, os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, OMP_WAIT_POLICY="passive", PYTHONPATH=path)
    out = subprocess.run([sys.executable, "-c", _THREADS_PROBE], env=env, capture_output=True, text=True,
                         check=True, timeout=120)
    busiest, second = map(int, out.stdout.split())
    assert busiest >= 20, out.stdout  # 0.6 s of work on the calling thread (ticks of 10 ms)
    assert second <= 3, f"a second thread worked while dlcore.set_num_threads(1): {out.stdout}"
