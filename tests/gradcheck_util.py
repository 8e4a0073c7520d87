"""Gradient-check helpers for the Python layer's tests.

``check_grad(fn, arrays)`` runs two checks on each op:
1. float64: autograd gradients vs central finite differences (the NumPy reference path);
2. float32 (the dlcore.kernels path): outputs and gradients vs the float64 run on the same
   inputs, so every kernel backward the layer calls is exercised through autograd.
   ``kernels=("conv2d_forward", ...)`` names the dlcore.kernels functions the float32 run
   must call (recorded by ``kernel_calls``), and the float64 run must call none.
"""
import contextlib

import numpy as np

import dlcore
import dlcore.kernels as K
from dlcore.autograd import gradcheck
from opcheck import assert_close

#: Every op of dlcore.kernels (the functions the layer may call).
KERNEL_OPS = [name for name in K.__all__ if name != "last_dispatch"]


@contextlib.contextmanager
def kernel_calls():
    """Records (op, backend) for every dlcore.kernels call made inside the block.

    The ops call ``dlcore.kernels.<op>`` through the module at call time, so
    wrapping the module attributes sees every call.
    """
    calls = []
    originals = {name: getattr(K, name) for name in KERNEL_OPS}

    def spy(name, fn):
        def recorded(*args, **kwargs):
            calls.append((name, kwargs.get("backend", "auto")))
            return fn(*args, **kwargs)
        return recorded
    for name, fn in originals.items():
        setattr(K, name, spy(name, fn))
    try:
        yield calls
    finally:
        for name, fn in originals.items():
            setattr(K, name, fn)


def noncontiguous(array):
    """The same values as a strided (non-C-contiguous) view."""
    wide = np.empty(array.shape[:-1] + (array.shape[-1] * 2,), dtype=array.dtype) if array.ndim else None
    if wide is None:
        return array
    wide[..., ::2] = array
    view = wide[..., ::2]
    assert not view.flags.c_contiguous or view.size <= 1
    return view


def _run(fn, arrays, dtype, weight_seed=1):
    inputs = [dlcore.Tensor(a.astype(dtype) if a.dtype.kind == "f" else a, requires_grad=a.dtype.kind == "f")
              for a in arrays]
    out = fn(*inputs)
    w = np.random.default_rng(weight_seed).standard_normal(out.shape).astype(dtype)
    out.backward(dlcore.Tensor(w))
    return out, [t.grad for t in inputs]


def check_grad(fn, *arrays, kernels=(), rtol32=2e-3, atol32=2e-4, eps=1e-6, atol=1e-6, rtol=1e-4, noncontig=True):
    """Checks fn on float64 (finite differences) and float32 (vs float64); also on strided inputs.

    `kernels`: dlcore.kernels ops the float32 forward+backward must run.
    """
    arrays = [np.asarray(a) for a in arrays]
    inputs64 = [dlcore.Tensor(a.astype(np.float64) if a.dtype.kind == "f" else a,
                              requires_grad=a.dtype.kind == "f") for a in arrays]
    gradcheck(fn, inputs64, eps=eps, atol=atol, rtol=rtol)
    with kernel_calls() as calls64:
        out64, grads64 = _run(fn, arrays, np.float64)
    assert not calls64, f"float64 ran kernels {calls64} (it must run the NumPy reference)"
    with kernel_calls() as calls32:
        out32, grads32 = _run(fn, arrays, np.float32)
    missing = set(kernels) - {name for name, _ in calls32}
    assert not missing, f"float32 did not run kernels {sorted(missing)} (ran {calls32})"
    assert out32.dtype == np.float32, f"float32 inputs gave a {out32.dtype} output"
    assert_close(out32.numpy(), out64.numpy(), rtol=rtol32, atol=atol32, what="float32 forward")
    for i, (g32, g64) in enumerate(zip(grads32, grads64)):
        if g64 is not None:
            assert g32 is not None and g32.dtype == np.float32
            assert_close(g32.numpy(), g64.numpy(), rtol=rtol32, atol=atol32, what=f"float32 grad of input {i}")
    if noncontig:
        strided = [noncontiguous(a) if a.dtype.kind == "f" and a.ndim else a for a in arrays]
        out_s, grads_s = _run(fn, strided, np.float32)
        assert_close(out_s.numpy(), out32.numpy(), rtol=1e-5, atol=1e-6, what="strided-input forward")
        for g_s, g32 in zip(grads_s, grads32):
            if g32 is not None:
                assert_close(g_s.numpy(), g32.numpy(), rtol=1e-5, atol=1e-6, what="strided-input grad")
    return out64
