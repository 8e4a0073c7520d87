"""Shape ops: reshape, permute, indexing, cat/stack. Gradients route elements back."""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ._common import array_module, scatter_add, unbroadcast


class Reshape(Function):
    output_is_view = True  # shares the input's version counter, as PyTorch views do

    def forward(self, a, shape):
        self.shape = a.shape
        return a.reshape(shape)

    def backward(self, g):
        return g.reshape(self.shape)


class Permute(Function):
    output_is_view = True  # shares the input's version counter, as PyTorch views do

    def forward(self, a, axes):
        self.axes = tuple(ax % a.ndim for ax in axes)
        return a.transpose(self.axes)

    def backward(self, g):
        return g.transpose(tuple(int(i) for i in np.argsort(self.axes)))


class Expand(Function):
    output_is_view = True  # shares the input's version counter, as PyTorch views do

    def forward(self, a, shape):
        self.shape = a.shape
        return array_module(a).broadcast_to(a, shape)

    def backward(self, g):
        return unbroadcast(g, self.shape)


class GetItem(Function):
    """a[index] for basic slicing and advanced (integer/boolean array) indexing."""

    output_is_view = True  # (basic slicing); sharing the counter with a copy only makes checks stricter

    def forward(self, a, index):
        self.shape, self.dtype, self.index = a.shape, a.dtype, index
        out = a[index]
        if isinstance(out, np.generic):  # one element: NumPy returns a copy; a[i, ...] is a 0-d view of it,
            out = a[(index if isinstance(index, tuple) else (index,)) + (Ellipsis,)]  # so x[0].fill_(5) writes x
        return out

    def backward(self, g):
        grad = array_module(g).zeros(self.shape, dtype=g.dtype)
        if _is_basic(self.index):  # slices, ints, None, ...: each element at most once, a plain write
            grad[self.index] = g
        else:
            scatter_add(grad, self.index, g)  # advanced indices may repeat: they accumulate
        return grad


def _is_basic(index):
    """True for NumPy basic indexing (ints, slices, None, Ellipsis), which never selects an element twice.
    np.add.at (the accumulating write advanced indices need) is ~20x slower than assignment: an LSTM layer's
    backward spent 4 of its 35 ms there on slices of its packed output."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice)) and not isinstance(i, bool)
               for i in items)


class Alias(Function):
    """The same array under a new node: a view changed in place continues from its stand-in through it
    (tensor.py _rebase_view_base), so each node keeps one owning tensor."""

    def forward(self, a):
        return a

    def backward(self, g):
        return g


class Cat(Function):
    def forward(self, *arrays, dim=0):
        xp = array_module(*arrays)
        self.dim = dim % arrays[0].ndim
        self.sizes = [a.shape[self.dim] for a in arrays]
        return xp.concatenate(arrays, axis=self.dim)

    def backward(self, g):
        splits = [int(i) for i in np.cumsum(self.sizes)[:-1]]
        parts = array_module(g).split(g, splits, axis=self.dim)
        return tuple(p if need else None for p, need in zip(parts, self.needs_input_grad))


class Stack(Function):
    def forward(self, *arrays, dim=0):
        xp = array_module(*arrays)
        self.dim = dim % (arrays[0].ndim + 1)
        return xp.stack(arrays, axis=self.dim)

    def backward(self, g):
        xp = array_module(g)
        return tuple(xp.take(g, i, axis=self.dim) if need else None
                     for i, need in enumerate(self.needs_input_grad))
