"""Selection and writing ops: where, clamp, item assignment, copy into, scatter of a gathered gradient.

These back the PyTorch habits of dlcore.Tensor (``x[i] = v``, ``copy_``,
``clamp_``, ``dlcore.where``) on the tape: each Function returns a new array
(the in-place Tensor methods write it back into the tensor's storage, see
tensor.py), and its backward routes the gradient to what was selected.
All run on NumPy or CuPy arrays alike (no kernel exists for them).
"""
from __future__ import annotations

from ..autograd import Function
from ._common import array_module, scatter_add, unbroadcast


class Where(Function):
    """cond ? a : b with broadcasting; cond is a bool array (not differentiable)."""

    def forward(self, cond, a, b):
        xp = array_module(a, b)
        self.cond, self.shapes = cond, (a.shape, b.shape)
        return xp.where(cond, a, b)

    def backward(self, g):
        xp = array_module(g)
        sa, sb = self.shapes
        da = unbroadcast(xp.where(self.cond, g, 0), sa) if self.needs_input_grad[1] else None
        db = unbroadcast(xp.where(self.cond, 0, g), sb) if self.needs_input_grad[2] else None
        return None, da, db


class Clamp(Function):
    """min(max(x, lo), hi) (either bound may be None); the gradient passes where x is strictly inside the bounds:
    torch 2.x gives 0 at x == lo or x == hi (x.clamp(min=0) at 0, as relu) and at NaN."""

    def forward(self, x, lo=None, hi=None):
        xp = array_module(x)
        self.inside = xp.ones(x.shape, dtype=bool)
        y = x
        if lo is not None:
            self.inside &= x > lo
            y = xp.maximum(y, x.dtype.type(lo))
        if hi is not None:
            self.inside &= x < hi
            y = xp.minimum(y, x.dtype.type(hi))
        return y if y is not x else x.copy()

    def backward(self, g):
        return array_module(g).where(self.inside, g, 0).astype(g.dtype, copy=False)


class SetItem(Function):
    """A copy of `a` with a[index] = value: the gradient of a is zero at index, value gets g[index]."""

    def forward(self, a, value, index):
        self.index, self.value_shape = index, value.shape
        out = a.copy()
        out[index] = value
        return out

    def backward(self, g):
        da = dv = None
        if self.needs_input_grad[0]:
            da = g.copy()
            da[self.index] = 0
        if self.needs_input_grad[1]:
            picked = g[self.index]
            dv = unbroadcast(picked, self.value_shape) if picked.shape != self.value_shape else picked.copy()
        return da, dv


class CopyInto(Function):
    """`src` broadcast to `a`'s shape and dtype (``a.copy_(src)``): a's old value gets no gradient."""

    def forward(self, a, src):
        self.src_shape, self.src_dtype = src.shape, src.dtype
        out = array_module(a).empty_like(a)
        out[...] = src
        return out

    def backward(self, g):
        ds = unbroadcast(g, self.src_shape).astype(self.src_dtype, copy=False) if self.needs_input_grad[1] else None
        return None, ds


class IndexAdd(Function):
    """zeros(shape) with g added at index (repeated indices accumulate): GetItem's backward as an op.

    Used by double backward (create_graph=True) through indexing; its own
    backward is indexing again.
    """

    def forward(self, g, shape, index):
        self.index = index
        out = array_module(g).zeros(shape, dtype=g.dtype)
        scatter_add(out, index, g)
        return out

    def backward(self, gg):
        return gg[self.index]
