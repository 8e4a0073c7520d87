"""The oneDNN backend (dlcore._onednn): loading, packaging, and what only oneDNN has.

Every op's correctness on oneDNN (vs the one float64 reference), its error
inputs and refusals, and the ops it declines are the op table's generic tests
(tests/test_ops.py with backend "onednn"); our kernels pass the same tests, so
the two agree within the table's tolerances. Here: the loader and pip
layouts, oneDNN's own max-pool backward, running statistics, the primitive
cache and thread count. The tests skip when _onednn is not built;
``test_built_where_expected`` fails when it should have been (x86-64 Linux
with oneDNN's PyPI runtime installed, as ``pip install .`` arranges, or
DLCORE_REQUIRE_ONEDNN=1).
"""
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
from optable import POOL_CASES, batch_norm_ref, max_pool_backward_ref, max_pool_ref

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


# --------------------------------------------------------------------------- op families
# Correctness against the float64 references, error inputs, noncontiguous and dtype refusals, and the
# ops oneDNN does not serve are the op table's generic tests (tests/test_ops.py, backend "onednn").
# What is left here is oneDNN's own: its extra entry points and the state it keeps.
@needs_onednn
def test_gemm_k0(rng):
    a, b = randn(rng, 3, 0), randn(rng, 0, 4)
    assert np.array_equal(dlcore.kernels.gemm(a, b, backend="onednn"), np.zeros((3, 4), np.float32))


@needs_onednn
def test_lrn_even_size_is_declined(rng):
    x = randn(rng, 1, 3, 4, 4)
    with pytest.raises(dlcore.BackendUnavailableError, match="even size"):
        onednn("lrn_forward")(x, 4, 1e-4, 0.75, 1.0, "across", True, "onednn")


@needs_onednn
@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: f"{c[0]}-k{c[1]}s{c[2]}p{c[3]}-ceil{c[4]}")
def test_max_pool_backward_from_input(rng, case):
    """oneDNN's own max-pool backward (workspace from a training-mode forward), vs the scatter reference."""
    shape, k, s, p, ceil_mode = case
    x = randn(rng, *shape)
    y_ref, idx_ref = max_pool_ref(x, k, s, p, ceil_mode)
    dy = randn(rng, *y_ref.shape)
    dx = onednn("max_pool2d_backward_from_input")(dy, x, k, s, p, ceil_mode, "onednn")
    assert_close(dx, max_pool_backward_ref(dy, idx_ref, shape), rtol=1e-5, atol=1e-6, what="max pool backward onednn")


@needs_onednn
@pytest.mark.parametrize("shape", [(7, 5), (3, 17, 5, 3), (2, 3, 9, 1)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_updates_running_stats(rng, shape, affine):
    eps, momentum = 1e-5, 0.1
    c = shape[1]
    x = randn(rng, *shape, scale=2.0) + 0.5
    w = randn(rng, c) if affine else None
    b = randn(rng, c) if affine else None
    rm, rv = randn(rng, c), np.abs(randn(rng, c)) + 0.5
    rm0, rv0 = rm.copy(), rv.copy()
    ref = batch_norm_ref(x, w, b, np.zeros(shape), eps)
    y, mean, invstd = onednn("batch_norm_forward_training")(x, w, b, rm, rv, momentum, eps, "onednn")
    assert_close(y, ref["y"], rtol=1e-4, atol=1e-4, what="bn y")
    m = x.size // c
    assert_close(rm, (1 - momentum) * rm0 + momentum * ref["mean"], rtol=1e-5, atol=1e-5, what="running_mean")
    assert_close(rv, (1 - momentum) * rv0 + momentum * ref["var"] * m / (m - 1), rtol=1e-4, atol=1e-5,
                 what="running_var")


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
# 0.6 s of CPU time on this thread, not of wall clock: on a loaded machine a
# wall-clock budget left too few ticks to tell (the test was flaky there).
start, wall_limit = time.thread_time(), time.perf_counter() + 60
while time.thread_time() - start < 0.6 and time.perf_counter() < wall_limit:
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
    assert busiest >= 20, out.stdout  # 0.6 s of CPU time on the calling thread (ticks of 10 ms)
    assert second <= 3, f"a second thread worked while dlcore.set_num_threads(1): {out.stdout}"
