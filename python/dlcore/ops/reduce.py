"""Reductions: sum, mean, max (over all elements or given dims, with keepdim)."""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ._common import _FLOAT32, _FLOAT64, array_module, put_along_axis


def normalize_dims(dim, ndim):
    """None -> all axes; int or sequence -> a sorted tuple of non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        if not -ndim <= d < max(ndim, 1):
            raise IndexError(f"dimension {d} out of range for a tensor with {ndim} dims")
        out.append(d % max(ndim, 1))
    return tuple(sorted(set(out)))


def _expand_back(g, shape, dims, keepdim):
    """A reduced gradient broadcast back to the input shape, as a new array. (An assignment broadcasts in C;
    broadcast_to(...).copy() went through NumPy's Python-level stride tricks: ~10 us on every loss.)"""
    xp = array_module(g)
    if not keepdim:
        g = g.reshape([1 if i in dims else n for i, n in enumerate(shape)])
    out = xp.empty(shape, dtype=g.dtype)
    out[...] = g
    return out


class Sum(Function):
    def forward(self, a, dim=None, keepdim=False):
        self.shape, self.dims, self.keepdim = a.shape, normalize_dims(dim, a.ndim), keepdim
        return a.sum(axis=self.dims, keepdims=keepdim)

    def backward(self, g):
        return _expand_back(g, self.shape, self.dims, self.keepdim)


class Mean(Function):
    def forward(self, a, dim=None, keepdim=False):
        self.shape, self.dims, self.keepdim = a.shape, normalize_dims(dim, a.ndim), keepdim
        self.count = 1
        for d in self.dims:
            self.count *= a.shape[d]
        if type(a) is np.ndarray and (a.dtype == _FLOAT32 or a.dtype == _FLOAT64) and self.count:
            # NumPy's own _mean for these dtypes, step for step (so bitwise the same): the sum in the input's
            # precision, then true_divide by an intp count into it; without its Python-level checks, 11.6
            # -> 3 us a call (every loss ends in one). float16 (float32 sums), integers (float64), empty
            # reductions (a warning) and CuPy keep a.mean().
            total = np.add.reduce(a, axis=self.dims, keepdims=keepdim)
            if isinstance(total, np.ndarray):
                return np.true_divide(total, np.intp(self.count), out=total, casting="unsafe")
            # A scalar: NumPy divides it by the intp count in float64 and rounds to the input's type;
            # Python's float division is that float64 division, without NumPy's scalar math (2.8 us here).
            return total.dtype.type(float(total) / self.count)
        return a.mean(axis=self.dims, keepdims=keepdim)

    def backward(self, g):
        return _expand_back(g / self.count, self.shape, self.dims, self.keepdim)


class Max(Function):
    """Max over `dim` (one axis): the gradient goes to the index returned, or over everything: the gradient is
    shared evenly by the tied maxima (torch's rules for max(dim) and max())."""

    def forward(self, a, dim=None, keepdim=False):
        xp = array_module(a)
        self.shape, self.keepdim, self.dim = a.shape, keepdim, dim
        if dim is None:
            flat = a.reshape(-1)
            y = flat[xp.argmax(flat)]
            self.ties = (flat == y) if y == y else (flat != flat)  # a NaN maximum: the NaNs share it
            return y.reshape((1,) * a.ndim) if keepdim else y
        self.dim = dim % a.ndim
        self.indices = xp.expand_dims(xp.argmax(a, axis=self.dim), self.dim)
        y = xp.take_along_axis(a, self.indices, axis=self.dim)
        return y if keepdim else y.squeeze(self.dim)

    def backward(self, g):
        xp = array_module(g)
        grad = xp.zeros(self.shape, dtype=g.dtype)
        if self.dim is None:
            return (self.ties * (g.reshape(()) / self.ties.sum())).astype(g.dtype, copy=False).reshape(self.shape)
        if not self.keepdim:
            g = xp.expand_dims(g, self.dim)
        put_along_axis(grad, self.indices, g, axis=self.dim)
        return grad
