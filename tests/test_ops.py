"""Generic tests stamped out from the op table (tests/optable.py) over every
backend present: ref, avx2, avx512, onednn, cuda.

For each op x backend: every sample matches its float64 reference; a backend
the op does not run on refuses it with BackendUnavailableError; a
noncontiguous view (NaN in its gaps) and a float64 array are refused with a
message naming the argument; every error input raises its exception and
message; the result is bitwise the same on 1 and on all threads; and the
op's Python-layer function passes a float64 gradcheck with the backend
active. GEMM's ``out=`` is checked with canary guard regions around it.
"""
import numpy as np
import pytest

import dlcore
from gradcheck_util import check_grad
from opcheck import assert_close
from optable import ALL_BACKENDS, OPS, compare

_INFO = dlcore.backends()
PRESENT = [b for b in ALL_BACKENDS if _INFO[b]["available"]]
CPU_PRESENT = [b for b in PRESENT if b != "cuda"]


def _skip_unless_present(backend):
    if not _INFO[backend]["available"]:
        pytest.skip(f"backend {backend} unavailable here: {_INFO[backend].get('reason')}")


def _device(backend):
    """(to, back): array converters for a backend (CuPy for cuda, identity on the host)."""
    if backend != "cuda":
        return (lambda a: a), np.asarray
    import cupy as cp
    return (lambda a: cp.asarray(a) if isinstance(a, np.ndarray) else a), cp.asnumpy


def _call(spec, sample, backend, args=None):
    to, back = _device(backend)
    args = tuple(to(a) for a in (sample.args if args is None else args))
    kwargs = {k: to(v.copy()) if isinstance(v, np.ndarray) else v for k, v in sample.kwargs.items()}
    out = spec.kernel(*args, **kwargs, backend=backend)
    outs = out if isinstance(out, tuple) else (out,)
    return tuple(None if o is None else back(o) for o in outs)


IDS = [op.name for op in OPS]


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("spec", OPS, ids=IDS)
def test_matches_float64_reference(spec, backend, rng):
    _skip_unless_present(backend)
    if backend not in spec.backends:
        with pytest.raises(dlcore.BackendUnavailableError, match=spec.name):
            _call(spec, spec.samples(rng)[0], backend)
        return
    for i, sample in enumerate(spec.samples(rng)):
        compare(spec, sample, _call(spec, sample, backend), f"{spec.name}[{backend}] sample {i}")


def _nan_gapped(a, to=lambda a: a):
    """The values of `a` as a noncontiguous view whose gaps hold NaN (made on the backend's device: a copy
    to the GPU would make it contiguous)."""
    wide = np.full(a.shape[:-1] + (2 * a.shape[-1],), np.nan, a.dtype)
    wide[..., ::2] = a
    return to(wide)[..., ::2]


def _skip_unless_runs(spec, backend):
    _skip_unless_present(backend)
    if backend not in spec.backends:
        pytest.skip(f"{spec.name} does not run on {backend}")


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("spec", OPS, ids=IDS)
def test_noncontiguous_and_wrong_dtype_are_refused(spec, backend, rng):
    _skip_unless_runs(spec, backend)
    sample = spec.samples(rng)[-1]
    to, _ = _device(backend)
    for pos in spec.arrays:
        a = sample.args[pos]
        if not isinstance(a, np.ndarray) or a.ndim == 0 or a.shape[-1] < 2:
            continue
        args = list(sample.args)
        args[pos] = _nan_gapped(a, to)
        with pytest.raises(ValueError, match="C-contiguous"):
            _call(spec, sample, backend, tuple(args))
        for dtype in {"float64", "float16", "int32"} - set(spec.dtypes):
            with np.errstate(invalid="ignore", over="ignore"):  # 1e30 -> int32 is garbage, and refused
                args[pos] = a.astype(dtype)
            with pytest.raises(TypeError, match=dtype):
                _call(spec, sample, backend, tuple(args))
    # the arguments were not written through
    compare(spec, sample, _call(spec, sample, backend), f"{spec.name}[{backend}] after refusals")


ERROR_CASES = [(spec, i) for spec in OPS for i in range(len(spec.errors))]


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("spec,i", ERROR_CASES, ids=[f"{s.name}-{i}" for s, i in ERROR_CASES])
def test_error_inputs(spec, i, backend):
    """One check per family (the same C++ geometry functions in _C, _onednn and _cuda): the same refusal and
    message on every backend, the arrays on that backend's device."""
    _skip_unless_runs(spec, backend)
    args, kwargs, exc, match = spec.errors[i]
    to, _ = _device(backend)
    args = tuple(to(a) for a in args)
    kwargs = {k: to(v) for k, v in kwargs.items()}
    with pytest.raises(exc, match=match):
        spec.kernel(*args, **kwargs, backend=backend)


@pytest.mark.parametrize("backend", [b for b in CPU_PRESENT if b != "onednn"])
@pytest.mark.parametrize("spec", OPS, ids=IDS)
def test_thread_count_invariance(spec, backend, rng):
    """Our kernels split work so that every sum has one fixed order: bitwise equal on 1 and n threads."""
    samples = spec.samples(rng)
    before = dlcore.get_num_threads()
    try:
        dlcore.set_num_threads(1)
        one = [_call(spec, s, backend) for s in samples]
        dlcore.set_num_threads(max(2, before))
        many = [_call(spec, s, backend) for s in samples]
    finally:
        dlcore.set_num_threads(before)
    for a, b in zip(one, many):
        for x, y in zip(a, b):
            if x is not None:
                np.testing.assert_array_equal(x, y, err_msg=f"{spec.name}[{backend}] 1 vs n threads")


@pytest.mark.parametrize("backend", CPU_PRESENT)
def test_gemm_out_writes_inside_its_guard_regions(backend, rng):
    """out= is a window of a larger buffer: the kernel writes all of it (it was NaN) and nothing around it."""
    m, n, k, guard = 17, 33, 9, 64
    a, b, c0 = (rng.standard_normal(s).astype(np.float32) for s in ((m, k), (k, n), (m, n)))
    for beta in (0.0, 0.5):
        buf = np.full(m * n + 2 * guard, 7.25, np.float32)
        out = buf[guard:guard + m * n].reshape(m, n)
        out[...] = c0 if beta else np.nan
        got = dlcore.kernels.gemm(a, b, beta=beta, out=out, backend=backend)
        assert np.shares_memory(got, out)
        assert np.all(buf[:guard] == 7.25) and np.all(buf[guard + m * n:] == 7.25), "wrote outside out="
        exp = a.astype(np.float64) @ b + beta * c0
        assert_close(out, exp, rtol=1e-5, atol=1e-5, what=f"gemm out= beta={beta}")
    with pytest.raises(ValueError):
        dlcore.kernels.gemm(a, b, out=np.zeros((m, n + 1), np.float32), backend=backend)
    with pytest.raises(ValueError, match="C-contiguous"):
        dlcore.kernels.gemm(a, b, out=np.zeros((m, 2 * n), np.float32)[:, ::2], backend=backend)


LAYER_OPS = [op for op in OPS if op.layer is not None]


@pytest.mark.parametrize("backend", CPU_PRESENT)
@pytest.mark.parametrize("spec", LAYER_OPS, ids=[op.name for op in LAYER_OPS])
def test_layer_gradcheck(spec, backend):
    """float64 finite differences through dlcore.nn.functional; float32 (this backend's kernels) vs float64."""
    if backend not in spec.backends:
        pytest.skip(f"{spec.name} does not run on {backend}")
    fn, arrays = spec.layer[:2]
    with dlcore.backend(backend):
        check_grad(fn, *arrays, kernels=(spec.name,), noncontig=False)
