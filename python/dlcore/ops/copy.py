"""Copy to another device and/or dtype (``Tensor.to``): an autograd op, like PyTorch's.

The gradient goes back to the source's device and dtype, so a parameter on
the CPU receives a CPU gradient from a loss computed on the GPU.
"""
from __future__ import annotations

from .._device import array_to, device_of
from ..autograd import Function


class ToCopy(Function):
    def forward(self, a, device, dtype=None):
        self.device, self.dtype = device_of(a), a.dtype
        out = array_to(a, device)
        if dtype is not None and out.dtype != dtype:
            out = out.astype(dtype)
        elif out is a:  # same device and dtype: to() returns self before it gets here; clone() does not
            out = a.copy()
        return out

    def backward(self, g):
        return array_to(g, self.device).astype(self.dtype, copy=False), None, None
