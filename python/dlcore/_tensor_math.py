"""Tensor methods of torch's tensor math beyond the core (a mixin of dlcore.Tensor): elementwise functions,
rounding, tests for NaN/inf, flips and rolls, repeat, index_select, narrow/unbind/movedim, cumulative sums and
products, prod, amax/amin, tril/triu, mm/bmm/dot/outer, in-place random fills.

Each method runs one autograd Function of ``ops/math_more.py`` or is composed from recorded ops, so gradients
flow through all of them. The same names exist as ``dlcore.<name>(tensor, ...)`` (functions.py).
"""
from __future__ import annotations

import numbers

import numpy as np

from .ops import math_more as mm_ops
from .ops._common import array_module


def _dims(dim, ndim, name):
    """dim (int, tuple or None) as a sorted tuple of non-negative axes (None stays None)."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    out = []
    for d in dims:
        if not -ndim <= d < max(ndim, 1):
            raise IndexError(f"{name}: dimension {d} out of range for a {ndim}-d tensor")
        out.append(int(d) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: dimension repeated in {dims}")
    return tuple(sorted(out))


def _dim(dim, ndim, name):
    return _dims(dim, ndim, name)[0]


class TensorMathMethods:
    """Mixed into dlcore.Tensor (tensor.py); ``self`` is a Tensor."""

    # ---- elementwise ----------------------------------------------------------------------------------------
    def sin(self):
        return mm_ops.Sin.apply(self)

    def cos(self):
        return mm_ops.Cos.apply(self)

    def tan(self):
        return mm_ops.Tan.apply(self)

    def asin(self):
        return mm_ops.Asin.apply(self)

    def acos(self):
        return mm_ops.Acos.apply(self)

    def atan(self):
        return mm_ops.Atan.apply(self)

    def sinh(self):
        return mm_ops.Sinh.apply(self)

    def cosh(self):
        return mm_ops.Cosh.apply(self)

    def log1p(self):
        return mm_ops.Log1p.apply(self)

    def expm1(self):
        return mm_ops.Expm1.apply(self)

    def log2(self):
        return mm_ops.Log2.apply(self)

    def log10(self):
        return mm_ops.Log10.apply(self)

    def exp2(self):
        return mm_ops.Exp2.apply(self)

    def rsqrt(self):
        return mm_ops.Rsqrt.apply(self)

    def reciprocal(self):
        return mm_ops.Reciprocal.apply(self)

    def erf(self):
        return mm_ops.Erf.apply(self)

    def floor(self):
        return self._rounded("floor")

    def ceil(self):
        return self._rounded("ceil")

    def trunc(self):
        return self._rounded("trunc")

    def round(self, decimals=0):
        return self._rounded("round", int(decimals))

    def _rounded(self, how, decimals=0):
        if self.dtype.kind != "f":  # integers are already whole: a copy, as torch
            return type(self)(self._data.copy())
        return mm_ops.Rounded.apply(self, how, decimals)

    def frac(self):
        return self - self.trunc()

    def isnan(self):
        return type(self)(array_module(self._data).isnan(self._data))

    def isinf(self):
        return type(self)(array_module(self._data).isinf(self._data))

    def isfinite(self):
        return type(self)(array_module(self._data).isfinite(self._data))

    def clamp_min(self, min):
        return self.clamp(min=min)

    def clamp_max(self, max):
        return self.clamp(max=max)

    # ---- rearrangements -------------------------------------------------------------------------------------
    def flip(self, *dims):
        dims = dims[0] if len(dims) == 1 and not isinstance(dims[0], numbers.Integral) else dims
        return mm_ops.Flip.apply(self, dims=_dims(dims, self.ndim, "flip"))

    def roll(self, shifts, dims=None):
        if dims is None:  # torch: flattened, rolled, reshaped
            return mm_ops.Roll.apply(self.reshape(-1), shifts=int(shifts)).reshape(self.shape)
        if isinstance(shifts, numbers.Integral) != isinstance(dims, numbers.Integral):
            raise ValueError("roll: shifts and dims must both be ints or both be sequences of one length")
        if isinstance(dims, numbers.Integral):
            return mm_ops.Roll.apply(self, shifts=int(shifts), dims=_dim(dims, self.ndim, "roll"))
        if len(shifts) != len(dims):
            raise ValueError(f"roll: {len(shifts)} shifts for {len(dims)} dims")
        axes = tuple(int(d) % self.ndim for d in dims)
        return mm_ops.Roll.apply(self, shifts=tuple(int(s) for s in shifts), dims=axes)

    def repeat(self, *sizes):
        sizes = tuple(sizes[0]) if len(sizes) == 1 and not isinstance(sizes[0], numbers.Integral) else sizes
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: {len(sizes)} repeat counts for a {self.ndim}-d tensor (at least one per dim)")
        if any(int(s) < 0 for s in sizes):
            raise ValueError(f"repeat: counts must be >= 0, got {sizes}")
        return mm_ops.Repeat.apply(self, reps=tuple(int(s) for s in sizes))

    def tile(self, *dims):
        dims = tuple(dims[0]) if len(dims) == 1 and not isinstance(dims[0], numbers.Integral) else dims
        return self.repeat((1,) * (self.ndim - len(dims)) + tuple(dims))

    def index_select(self, dim, index):
        idx = index._data if hasattr(index, "_data") else np.asarray(index)
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise TypeError(f"index_select: index must be a 1-D integer tensor, got {idx.dtype} of shape "
                            f"{idx.shape}")
        dim = _dim(dim, self.ndim, "index_select")
        n = self.shape[dim]
        if idx.size and (int(idx.min()) < -n or int(idx.max()) >= n):
            raise IndexError(f"index_select: index out of range for dimension {dim} of size {n}")
        return mm_ops.IndexSelect.apply(self, dim=dim, index=idx % max(n, 1))

    def narrow(self, dim, start, length):
        dim = _dim(dim, self.ndim, "narrow")
        n = self.shape[dim]
        start = int(start) + (n if int(start) < 0 else 0)
        if not 0 <= start <= n or length < 0 or start + length > n:
            raise IndexError(f"narrow: start {start} and length {length} exceed dimension {dim} of size {n}")
        return self[(slice(None),) * dim + (slice(start, start + int(length)),)]

    def unbind(self, dim=0):
        dim = _dim(dim, self.ndim, "unbind")
        return tuple(self[(slice(None),) * dim + (i,)] for i in range(self.shape[dim]))

    def movedim(self, source, destination):
        src = [source] if isinstance(source, numbers.Integral) else list(source)
        dst = [destination] if isinstance(destination, numbers.Integral) else list(destination)
        if len(src) != len(dst):
            raise ValueError(f"movedim: {len(src)} source dims for {len(dst)} destinations")
        src = [_dim(s, self.ndim, "movedim") for s in src]
        dst = [_dim(d, self.ndim, "movedim") for d in dst]
        order = [n for n in range(self.ndim) if n not in src]
        for d, s in sorted(zip(dst, src)):  # NumPy's moveaxis: the moved axes land at their destinations
            order.insert(d, s)
        return self.permute(*order)

    def swapaxes(self, axis0, axis1):
        return self.transpose(axis0, axis1)

    swapdims = swapaxes

    # ---- along an axis --------------------------------------------------------------------------------------
    def cumsum(self, dim):
        return mm_ops.Cumsum.apply(self, dim=_dim(dim, self.ndim, "cumsum"))

    def cumprod(self, dim):
        return mm_ops.Cumprod.apply(self, dim=_dim(dim, self.ndim, "cumprod"))

    def prod(self, dim=None, keepdim=False):
        dim = None if dim is None else _dim(dim, self.ndim, "prod")
        return mm_ops.Prod.apply(self, dim=dim, keepdim=keepdim)

    def amax(self, dim=(), keepdim=False):
        return self._extreme(dim, keepdim, False)

    def amin(self, dim=(), keepdim=False):
        return self._extreme(dim, keepdim, True)

    def _extreme(self, dim, keepdim, minimum):
        dims = None if dim == () or dim is None else _dims(dim, self.ndim, "amin" if minimum else "amax")
        return mm_ops.AMax.apply(self, dims=dims, keepdim=keepdim, minimum=minimum)

    def tril(self, diagonal=0):
        return self._triangle(False, diagonal)

    def triu(self, diagonal=0):
        return self._triangle(True, diagonal)

    def _triangle(self, upper, diagonal):
        if self.ndim < 2:
            raise ValueError(f"{'triu' if upper else 'tril'}: needs a tensor of at least 2 dims, got {self.shape}")
        return mm_ops.Triangle.apply(self, upper=upper, diagonal=int(diagonal))

    # ---- products -------------------------------------------------------------------------------------------
    def mm(self, mat2):
        if self.ndim != 2 or mat2.ndim != 2:
            raise ValueError(f"mm: expects two 2-D tensors, got {self.shape} and {tuple(mat2.shape)}")
        return self @ mat2

    def bmm(self, mat2):
        if self.ndim != 3 or mat2.ndim != 3 or self.shape[0] != mat2.shape[0]:
            raise ValueError(f"bmm: expects (b, n, m) and (b, m, p), got {self.shape} and {tuple(mat2.shape)}")
        return self @ mat2

    def dot(self, other):
        if self.ndim != 1 or other.ndim != 1 or self.shape != tuple(other.shape):
            raise ValueError(f"dot: expects two 1-D tensors of one size, got {self.shape} and {tuple(other.shape)}")
        return (self * other).sum()

    inner = dot

    def outer(self, vec2):
        if self.ndim != 1 or vec2.ndim != 1:
            raise ValueError(f"outer: expects two 1-D tensors, got {self.shape} and {tuple(vec2.shape)}")
        return self.reshape(-1, 1) * vec2.reshape(1, -1)

    ger = outer

    # ---- in place (no gradient) -----------------------------------------------------------------------------
    def uniform_(self, a=0.0, b=1.0):
        from . import nn

        return nn.init.uniform_(self, a, b)

    def normal_(self, mean=0.0, std=1.0):
        from . import nn

        return nn.init.normal_(self, mean, std)

    def detach_(self):
        self._node, self.requires_grad = None, False
        return self
