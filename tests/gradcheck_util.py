"""Gradient-check helpers for the Python layer's tests.

``check_grad(fn, arrays)`` runs two checks on each op:
1. float64: autograd gradients vs central finite differences (the NumPy reference path);
2. float32 (the dlcore.kernels path): outputs and gradients vs the float64 run on the same
   inputs, so every kernel backward the layer calls is exercised through autograd.
"""
import numpy as np

import dlcore
from dlcore.autograd import gradcheck
from opcheck import assert_close


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


def check_grad(fn, *arrays, rtol32=2e-3, atol32=2e-4, eps=1e-6, atol=1e-6, rtol=1e-4, noncontig=True):
    """Checks fn on float64 (finite differences) and float32 (vs float64); also on strided inputs."""
    arrays = [np.asarray(a) for a in arrays]
    inputs64 = [dlcore.Tensor(a.astype(np.float64) if a.dtype.kind == "f" else a,
                              requires_grad=a.dtype.kind == "f") for a in arrays]
    gradcheck(fn, inputs64, eps=eps, atol=atol, rtol=rtol)
    out64, grads64 = _run(fn, arrays, np.float64)
    out32, grads32 = _run(fn, arrays, np.float32)
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
