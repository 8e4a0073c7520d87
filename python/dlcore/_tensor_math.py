"""Tensor methods of torch's tensor math beyond the core (a mixin of dlcore.Tensor): elementwise functions,
rounding, tests for NaN/inf, flips and rolls, repeat, index_select, narrow/unbind/movedim, cumulative sums and
products, prod, amax/amin, tril/triu, mm/bmm/dot/outer, in-place random fills; nonzero/masked_select/take,
scatter/index_add/index_copy/index_fill (and their in-place forms), repeat_interleave, unique, bincount,
diagonals, diff, atan2/hypot/logaddexp/fmod/remainder/lerp, logical ops, addmm/baddbmm/kron/cross,
tensor_split, median/cummax/cummin, nan_to_num; norm (any p) with vector_norm and cdist, clamp with tensor
bounds.

Each method runs one autograd Function of ``ops/math_more.py`` or is composed from recorded ops, so gradients
flow through all of them. The same names exist as ``dlcore.<name>(tensor, ...)`` (functions.py).
"""
from __future__ import annotations

import numbers
import sys
from collections import namedtuple

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


ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])  # median, cummax, cummin (torch.return_types)


def _tensor_module():
    """dlcore.tensor (it imports this module, so not at the top)."""
    return sys.modules[__package__ + ".tensor"]


def _other(value, like):
    """`value` (a Tensor, array or number) as a Tensor of `like`'s dtype when it is a number."""
    return _tensor_module()._as_tensor_like(value, like)


def _int_array(index, name, ndim=None):
    """An integer index (Tensor, array or list) as an array; TypeError naming `name` otherwise."""
    idx = index._data if hasattr(index, "_data") else np.asarray(index)
    if idx.dtype.kind not in "iu" or (ndim is not None and idx.ndim != ndim):
        want = f"a {ndim}-D integer tensor" if ndim is not None else "an integer tensor"
        raise TypeError(f"{name}: index must be {want}, got {idx.dtype} of shape {idx.shape}")
    return idx


def _in_range(idx, n, name, what="index"):
    """idx with negatives wrapped; IndexError when an entry is outside [-n, n)."""
    if idx.size and (int(idx.min()) < -n or int(idx.max()) >= n):
        raise IndexError(f"{name}: {what} out of range for a dimension of size {n}")
    return idx % max(n, 1)


def _bool_array(t):
    data = t._data if hasattr(t, "_data") else np.asarray(t)
    return data if data.dtype == np.bool_ else data != 0


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

    def _clamp_by_tensors(self, min, max):
        """clamp with tensor bounds: max(min(x, lo), hi) with torch's maximum/minimum gradients (ties share,
        the bounds get theirs). Tensor.clamp calls it."""
        binary = _tensor_module()._binary
        out = self if min is None else binary(mm_ops.Maximum, self, min)
        return out if max is None else binary(mm_ops.Minimum, out, max)

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

    def half(self):
        return self.to(np.float16)

    def stride(self, dim=None):
        """Strides in elements (NumPy's are in bytes), as torch's Tensor.stride."""
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[_dim(dim, self.ndim, "stride")]

    # ---- selection by value -----------------------------------------------------------------------------
    def nonzero(self, as_tuple=False):
        """The indices of the nonzero elements: an int64 (count, ndim) tensor, or one 1-D tensor per dim."""
        xp = array_module(self._data)
        data = self._data
        if data.ndim == 0:  # torch: a 0-d tensor is one element; as_tuple treats it as 1-d
            hits = xp.nonzero(data.reshape(1))[0].astype(np.int64)
            if as_tuple:
                return (type(self)(hits),)
            return type(self)(xp.zeros((hits.size, 0), dtype=np.int64))
        hits = [i.astype(np.int64) for i in xp.nonzero(data)]
        if as_tuple:
            return tuple(type(self)(i) for i in hits)
        return type(self)(xp.stack(hits, axis=1))

    def argwhere(self):
        return self.nonzero()

    def count_nonzero(self, dim=None):
        dims = _dims(dim, self.ndim, "count_nonzero")
        xp = array_module(self._data)
        return type(self)(xp.count_nonzero(self._data, axis=dims).astype(np.int64))

    def masked_select(self, mask):
        """The elements where `mask` (bool, broadcast with this tensor) is True, as a 1-D tensor."""
        m = mask._data if hasattr(mask, "_data") else np.asarray(mask)
        if m.dtype != np.bool_:
            raise TypeError(f"masked_select: mask must be a bool tensor, got {m.dtype}")
        try:
            shape = np.broadcast_shapes(self.shape, m.shape)
        except ValueError:
            raise ValueError(f"masked_select: mask of shape {m.shape} does not broadcast with {self.shape}") from None
        x = self if self.shape == shape else self.expand(shape)
        return x[array_module(m).broadcast_to(m, shape)]

    def take(self, index):
        """Elements of the flattened tensor at `index` (any shape: the result has index's shape)."""
        idx = _in_range(_int_array(index, "take"), self.numel(), "take")
        return self.reshape(-1)[idx]

    # ---- writes along an axis (scatter, index_add...) ----------------------------------------------------
    def scatter(self, dim, index, src=None, value=None, reduce=None):
        """A copy with ``out[index[i][j]][j] = src[i][j]`` (dim 0; likewise for other dims); `src` may be a
        number (or pass ``value=``). Repeated indices: one of the writes wins, as in torch."""
        if reduce is not None:
            raise ValueError(f"scatter: reduce={reduce!r} is not supported (use scatter_add for 'add')")
        dim, idx, src = self._scatter_args("scatter", dim, index, src if value is None else value)
        return mm_ops.Scatter.apply(self, src, dim=dim, index=idx)

    def scatter_add(self, dim, index, src):
        """A copy with ``out[index[i][j]][j] += src[i][j]`` (dim 0); repeated indices accumulate."""
        dim, idx, src = self._scatter_args("scatter_add", dim, index, src, number_ok=False)
        return mm_ops.Scatter.apply(self, src, dim=dim, index=idx, reduce="add")

    def scatter_(self, dim, index, src=None, value=None, reduce=None):
        if reduce is not None:
            raise ValueError(f"scatter_: reduce={reduce!r} is not supported (use scatter_add_ for 'add')")
        dim, idx, src = self._scatter_args("scatter_", dim, index, src if value is None else value)
        return self._written(mm_ops.Scatter, src, dim=dim, index=idx)

    def scatter_add_(self, dim, index, src):
        dim, idx, src = self._scatter_args("scatter_add_", dim, index, src, number_ok=False)
        return self._written(mm_ops.Scatter, src, dim=dim, index=idx, reduce="add")

    def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
        """Each slot combines the src values sent to it by `index` along `dim`: reduce 'sum', 'prod', 'mean',
        'amax' or 'amin', with its own value unless ``include_self=False`` (torch.Tensor.scatter_reduce)."""
        if reduce not in mm_ops.ScatterReduce._ufuncs:
            raise ValueError(f"scatter_reduce: reduce must be 'sum', 'prod', 'mean', 'amax' or 'amin', got {reduce!r}")
        dim, idx, src = self._scatter_args("scatter_reduce", dim, index, src, number_ok=False)
        return mm_ops.ScatterReduce.apply(self, src, dim=dim, index=idx, reduce=reduce,
                                          include_self=bool(include_self))

    def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
        dim, idx, src = self._scatter_args("scatter_reduce_", dim, index, src, number_ok=False)
        return self._written(mm_ops.ScatterReduce, src, dim=dim, index=idx, reduce=reduce,
                             include_self=bool(include_self))

    def _scatter_args(self, name, dim, index, src, number_ok=True):
        """Checked (dim, index array, src Tensor or number) for scatter/scatter_add (torch's shape rules)."""
        dim = _dim(dim, self.ndim, name)
        idx = _int_array(index, name, ndim=self.ndim)
        if isinstance(src, numbers.Number) and number_ok:
            src = self.dtype.type(src)
        elif hasattr(src, "_data"):
            if src.dtype != self.dtype:
                raise TypeError(f"{name}: src dtype {src.dtype} differs from the tensor's {self.dtype}")
            if src.ndim != idx.ndim or any(i > s for i, s in zip(idx.shape, src.shape)):
                raise ValueError(f"{name}: index of shape {idx.shape} is larger than src of shape {src.shape}")
        else:
            raise TypeError(f"{name}: src must be a Tensor{' or a number' if number_ok else ''}, got "
                            f"{type(src).__name__}")
        if any(i > s for d, (i, s) in enumerate(zip(idx.shape, self.shape)) if d != dim):
            raise ValueError(f"{name}: index of shape {idx.shape} is larger than the tensor's {self.shape} "
                             f"outside dim {dim}")
        return dim, _in_range(idx, self.shape[dim] if self.ndim else 1, name), src

    def index_add(self, dim, index, source, alpha=1):
        """A copy with ``source`` (times alpha) added at ``index`` along `dim` (repeats accumulate)."""
        dim, idx = self._index_args("index_add", dim, index, source)
        return mm_ops.IndexPut.apply(self, source, dim=dim, index=idx, alpha=alpha)

    def index_copy(self, dim, index, source):
        dim, idx = self._index_args("index_copy", dim, index, source)
        return mm_ops.IndexPut.apply(self, source, dim=dim, index=idx, accumulate=False)

    def index_add_(self, dim, index, source, alpha=1):
        dim, idx = self._index_args("index_add_", dim, index, source)
        return self._written(mm_ops.IndexPut, source, dim=dim, index=idx, alpha=alpha)

    def index_copy_(self, dim, index, source):
        dim, idx = self._index_args("index_copy_", dim, index, source)
        return self._written(mm_ops.IndexPut, source, dim=dim, index=idx, accumulate=False)

    def index_fill(self, dim, index, value):
        """A copy with `value` in the slices at ``index`` along `dim` (gradient only where not filled)."""
        dim, idx = self._index_args("index_fill", dim, index)
        value = self._fill_value("index_fill", value)
        return mm_ops.FillWhere.apply(self, _other(value, self), mask=self._index_mask(dim, idx))

    def index_fill_(self, dim, index, value):
        dim, idx = self._index_args("index_fill_", dim, index)
        return self._written(mm_ops.FillWhere, self._fill_value("index_fill_", value), mask=self._index_mask(dim, idx))

    def _fill_value(self, name, value):
        value = _other(value, self)
        if value.ndim != 0:
            raise ValueError(f"{name}: value must be a number or a 0-d tensor, got shape {value.shape}")
        return value

    def _index_mask(self, dim, idx):
        xp = array_module(self._data)
        mask = xp.zeros(self.shape[dim], dtype=bool)
        mask[idx] = True
        return mask.reshape((-1,) + (1,) * (self.ndim - dim - 1))

    def _index_args(self, name, dim, index, source=None):
        """Checked (dim, 1-D index array) for index_add/index_copy/index_fill; source's shape must be this
        tensor's with dim's size replaced by len(index)."""
        dim = _dim(dim, self.ndim, name)
        idx = _int_array(index, name)
        if idx.ndim > 1:
            raise TypeError(f"{name}: index must be 1-D, got shape {idx.shape}")
        idx = idx.reshape(-1)
        if source is not None:
            want = self.shape[:dim] + (idx.size,) + self.shape[dim + 1:]
            if tuple(source.shape) != want:
                raise ValueError(f"{name}: source of shape {tuple(source.shape)}, expected {want}")
            if source.dtype != self.dtype:
                raise TypeError(f"{name}: source dtype {source.dtype} differs from the tensor's {self.dtype}")
        return dim, _in_range(idx, self.shape[dim], name)

    def _written(self, fn, *others, **kwargs):
        """In place: ``fn(self, *others)`` written into this tensor (on the tape when anything needs grad)."""
        from .autograd import is_grad_enabled, no_grad

        self._check_inplace()
        Tensor = type(self)
        if is_grad_enabled() and (self.requires_grad or any(isinstance(o, Tensor) and o.requires_grad
                                                             for o in others)):
            return self._record_inplace(fn, *others, **kwargs)
        with no_grad():
            out = fn.apply(self, *others, **kwargs)
        self._data[...] = out._data
        self._version_counter()[0] += 1
        return self

    def repeat_interleave(self, repeats, dim=None, output_size=None):
        """Each element (slice along `dim`; None: of the flattened tensor) `repeats` times in a row; repeats
        is an int or a tensor of one count per element."""
        if dim is None:
            return self.reshape(-1).repeat_interleave(repeats, 0)
        dim = _dim(dim, self.ndim, "repeat_interleave")
        n = self.shape[dim]
        xp = array_module(self._data)
        reps = repeats._data if hasattr(repeats, "_data") else xp.asarray(repeats)
        if reps.dtype.kind not in "iu" or reps.ndim > 1 or (reps.ndim == 1 and reps.shape[0] not in (1, n)):
            raise ValueError(f"repeat_interleave: repeats must be an int or a 1-D integer tensor of {n} counts, "
                             f"got {reps.dtype} of shape {reps.shape}")
        if reps.size and int(reps.min()) < 0:
            raise ValueError("repeat_interleave: repeats must be >= 0")
        order = xp.repeat(xp.arange(n), reps.reshape(-1) if reps.size != 1 else int(reps.reshape(-1)[0]))
        return self.index_select(dim, order)

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        """The distinct values (sorted), or distinct slices along `dim`; with their inverse (where each
        element went: this tensor's shape, or (size of dim,)) and counts, both int64. No gradient."""
        xp = array_module(self._data)
        data = self._data
        axis = None if dim is None else _dim(dim, self.ndim, "unique")
        values, inverse, counts = xp.unique(data if axis is not None else data.reshape(-1), return_inverse=True,
                                            return_counts=True, axis=axis)
        out = [type(self)(values)]
        if return_inverse:
            shape = self.shape if axis is None else (self.shape[axis],)
            out.append(type(self)(inverse.reshape(shape).astype(np.int64)))
        if return_counts:
            out.append(type(self)(counts.astype(np.int64)))
        return out[0] if len(out) == 1 else tuple(out)

    def bincount(self, weights=None, minlength=0):
        """Counts of each value 0..max of this 1-D non-negative integer tensor (int64), or the sums of
        `weights` per value (weights' dtype)."""
        if self.dtype.kind not in "iub" or self.ndim != 1:
            raise TypeError(f"bincount: expects a 1-D integer tensor, got {self.dtype} of shape {self.shape}")
        if self.numel() and int(self._data.min()) < 0:
            raise ValueError("bincount: values must be non-negative")
        if minlength < 0:
            raise ValueError(f"bincount: minlength must be >= 0, got {minlength}")
        xp = array_module(self._data)
        if weights is None:
            return type(self)(xp.bincount(self._data, minlength=minlength).astype(np.int64))
        w = weights._data if hasattr(weights, "_data") else xp.asarray(weights)
        if w.shape != self.shape:
            raise ValueError(f"bincount: weights of shape {w.shape} for input of shape {self.shape}")
        dtype = w.dtype if w.dtype.kind == "f" else np.float64
        return type(self)(xp.bincount(self._data, weights=w, minlength=minlength).astype(dtype))

    # ---- diagonals ----------------------------------------------------------------------------------------
    def diagonal(self, offset=0, dim1=0, dim2=1):
        """The `offset` diagonal of the (dim1, dim2) planes as the last axis (a copy: writes do not reach
        this tensor)."""
        dim1, dim2 = _dim(dim1, self.ndim, "diagonal"), _dim(dim2, self.ndim, "diagonal")
        if dim1 == dim2:
            raise ValueError(f"diagonal: dim1 and dim2 must differ, both are {dim1}")
        return mm_ops.Diagonal.apply(self, offset=int(offset), dim1=dim1, dim2=dim2)

    def diag_embed(self, offset=0, dim1=-2, dim2=-1):
        """The last axis laid on the `offset` diagonal of new (dim1, dim2) planes (dims of the result)."""
        if self.ndim == 0:
            raise ValueError("diag_embed: needs a tensor of at least 1 dim")
        dim1, dim2 = _dim(dim1, self.ndim + 1, "diag_embed"), _dim(dim2, self.ndim + 1, "diag_embed")
        if dim1 == dim2:
            raise ValueError(f"diag_embed: dim1 and dim2 must differ, both are {dim1}")
        return mm_ops.DiagEmbed.apply(self, offset=int(offset), dim1=dim1, dim2=dim2)

    def diag(self, diagonal=0):
        """1-D: the square matrix with this on its `diagonal`; 2-D: that diagonal, as a 1-D tensor."""
        if self.ndim == 1:
            return self.diag_embed(diagonal)
        if self.ndim == 2:
            return self.diagonal(diagonal)
        raise ValueError(f"diag: expects a 1-D or 2-D tensor, got shape {self.shape}")

    def trace(self):
        if self.ndim != 2:
            raise ValueError(f"trace: expects a 2-D tensor, got shape {self.shape}")
        return self.diagonal().sum()

    # ---- norms and differences ----------------------------------------------------------------------------
    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        """torch.norm: the vector p-norm over `dim` (all elements by default); p = "fro" is 2, any real p
        (inf, -inf and 0 included) works. The gradient is 0 where the norm is 0."""
        if isinstance(p, str):
            if p != "fro":
                raise ValueError(f"norm: p={p!r} is not supported (matrix norms other than 'fro')")
            p = 2
        return vector_norm(self, p, dim, keepdim, dtype=dtype)

    def diff(self, n=1, dim=-1, prepend=None, append=None):
        """The n-th forward difference along `dim` (after concatenating `prepend` and `append`)."""
        dim = _dim(dim, self.ndim, "diff")
        if n < 0:
            raise ValueError(f"diff: order n must be >= 0, got {n}")
        x = self
        if prepend is not None or append is not None:
            parts = [self._along(p, dim) for p in (prepend,) if p is not None] + [self]
            parts += [self._along(a, dim) for a in (append,) if a is not None]
            x = _tensor_module().cat(parts, dim)
        for _ in range(n):
            m = x.shape[dim]
            if m == 0:
                break
            later, earlier = x.narrow(dim, 1, m - 1), x.narrow(dim, 0, m - 1)
            x = later.logical_xor(earlier) if x.dtype == np.bool_ else later - earlier  # torch: bools differ by xor
        return x

    def _along(self, value, dim):
        """prepend/append of diff: a number becomes a size-1 slice along dim."""
        t = _other(value, self)
        if t.ndim == 0:
            t = t.reshape((1,) * self.ndim).expand(self.shape[:dim] + (1,) + self.shape[dim + 1:])
        return t

    # ---- binary elementwise -------------------------------------------------------------------------------
    def atan2(self, other):
        return _float_binary(mm_ops.Atan2, self, other)

    arctan2 = atan2

    def hypot(self, other):
        return _float_binary(mm_ops.Hypot, self, other)

    def logaddexp(self, other):
        return _float_binary(mm_ops.LogAddExp, self, other)

    def fmod(self, other):
        """C's fmod: the remainder of a / b with the sign of a (integers stay integers)."""
        return _tensor_module()._binary(mm_ops.Fmod, self, other)

    def remainder(self, other):
        """Python's %: the remainder of a / b with the sign of b (integers stay integers)."""
        return _tensor_module()._binary(mm_ops.Remainder, self, other)

    def lerp(self, end, weight):
        """self + weight * (end - self); weight a number or a tensor (both differentiable)."""
        return self + weight * (end - self)

    def logical_and(self, other):
        return type(self)(_bool_array(self) & _bool_array(_other(other, self)))

    def logical_or(self, other):
        return type(self)(_bool_array(self) | _bool_array(_other(other, self)))

    def logical_xor(self, other):
        return type(self)(_bool_array(self) ^ _bool_array(_other(other, self)))

    def logical_not(self):
        return type(self)(~_bool_array(self))

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        """NaN, +inf and -inf replaced (by 0 and the dtype's largest and lowest finite values by default);
        the gradient passes only where the input was finite (torch's)."""
        if self.dtype.kind != "f":
            return type(self)(self._data.copy())
        xp = array_module(self._data)
        info = np.finfo(self.dtype)
        filled = xp.nan_to_num(self._data, nan=nan, posinf=info.max if posinf is None else posinf,
                               neginf=info.min if neginf is None else neginf)
        return _where(xp.isfinite(self._data), self, type(self)(filled))

    # ---- products -----------------------------------------------------------------------------------------
    def addmm(self, mat1, mat2, beta=1, alpha=1):
        """beta * self + alpha * (mat1 @ mat2); self broadcasts to the product's (n, p)."""
        if mat1.ndim != 2 or mat2.ndim != 2 or mat1.shape[1] != mat2.shape[0]:
            raise ValueError(f"addmm: expects (n, m) and (m, p) matrices, got {tuple(mat1.shape)} and "
                             f"{tuple(mat2.shape)}")
        return _scaled_sum("addmm", self, mat1 @ mat2, beta, alpha)

    def baddbmm(self, batch1, batch2, beta=1, alpha=1):
        """beta * self + alpha * (batch1 @ batch2) for (b, n, m) and (b, m, p) batches."""
        if batch1.ndim != 3 or batch2.ndim != 3 or batch1.shape[0] != batch2.shape[0] or \
                batch1.shape[2] != batch2.shape[1]:
            raise ValueError(f"baddbmm: expects (b, n, m) and (b, m, p) batches, got {tuple(batch1.shape)} and "
                             f"{tuple(batch2.shape)}")
        return _scaled_sum("baddbmm", self, batch1 @ batch2, beta, alpha)

    def kron(self, other):
        """The Kronecker product (any dims: the shorter shape is padded with leading 1s)."""
        n = max(self.ndim, other.ndim)
        a_shape, b_shape = (1,) * (n - self.ndim) + self.shape, (1,) * (n - other.ndim) + tuple(other.shape)
        a = self.reshape([s for k in a_shape for s in (k, 1)])  # (a0, 1, a1, 1, ...)
        b = other.reshape([s for k in b_shape for s in (1, k)])  # (1, b0, 1, b1, ...)
        return (a * b).reshape([i * j for i, j in zip(a_shape, b_shape)])

    def cross(self, other, dim=None):
        """The cross product of 3-vectors along `dim` (None: the first dim of size 3), broadcasting."""
        try:
            shape = np.broadcast_shapes(self.shape, tuple(other.shape))
        except ValueError:
            raise ValueError(f"cross: shapes {self.shape} and {tuple(other.shape)} do not broadcast") from None
        if dim is None:
            dim = next((d for d, s in enumerate(shape) if s == 3), None)
            if dim is None:
                raise ValueError(f"cross: no dimension of size 3 in {shape}")
        dim = _dim(dim, len(shape), "cross")
        if shape[dim] != 3:
            raise ValueError(f"cross: dimension {dim} has size {shape[dim]}, expected 3")
        a, b = self.expand(shape), other.expand(shape)
        # c_i = a_{i+1} b_{i+2} - a_{i+2} b_{i+1}: roll(-k) puts entry i + k at i
        return a.roll(-1, dim) * b.roll(-2, dim) - a.roll(-2, dim) * b.roll(-1, dim)

    # ---- splits -------------------------------------------------------------------------------------------
    def tensor_split(self, indices_or_sections, dim=0):
        """Views split along `dim`: into n parts (the first size % n one longer), or at the given indices."""
        dim = _dim(dim, self.ndim, "tensor_split")
        size = self.shape[dim]
        sections = indices_or_sections
        if hasattr(sections, "_data"):
            sections = sections.tolist()
        if isinstance(sections, numbers.Integral):
            if sections <= 0:
                raise ValueError(f"tensor_split: number of sections must be > 0, got {sections}")
            small, extra = divmod(size, int(sections))
            bounds = [0]
            for k in range(int(sections)):
                bounds.append(bounds[-1] + small + (k < extra))
            slices = list(zip(bounds[:-1], bounds[1:]))
        else:
            cuts = [int(i) for i in sections]
            slices = list(zip([None] + cuts, cuts + [None]))
        return tuple(self[(slice(None),) * dim + (slice(lo, hi),)] for lo, hi in slices)

    # ---- order statistics ---------------------------------------------------------------------------------
    def median(self, dim=None, keepdim=False):
        """The lower median (torch's: no averaging of the two middle values) of all elements, or
        ``(values, indices)`` along `dim`; NaN if the slice has one. The gradient goes to the chosen element."""
        if dim is None:
            flat = self.reshape(-1)
            if flat.numel() == 0:
                return type(self)(np.asarray(np.nan, dtype=self.dtype))
            return flat.median(0).values
        dim = _dim(dim, self.ndim, "median")
        if self.shape[dim] == 0:
            raise IndexError(f"median: dimension {dim} is empty")
        xp = array_module(self._data)
        order = xp.argsort(self._data, axis=dim, kind="stable")
        picked = xp.take(order, [(self.shape[dim] - 1) // 2], axis=dim)
        if self.dtype.kind == "f":  # torch: a NaN anywhere in the slice is the median
            nans = xp.isnan(self._data)
            first_nan = xp.expand_dims(xp.argmax(nans, axis=dim), dim)
            picked = xp.where(nans.any(axis=dim, keepdims=True), first_nan, picked)
        return self._picked(dim, picked.astype(np.int64), keepdim)

    def _picked(self, dim, indices, keepdim):
        """(values, indices) of the entries at `indices` along dim (values through gather: differentiable)."""
        Tensor = type(self)
        values = self.gather(dim, Tensor(indices))
        if not keepdim and indices.shape[dim] == 1 and indices.ndim == self.ndim:
            values, indices = values.squeeze(dim), indices.squeeze(dim)
        return ValuesIndices(values, Tensor(indices))

    def cummax(self, dim):
        return self._cumulative_extreme(dim, "cummax")

    def cummin(self, dim):
        return self._cumulative_extreme(dim, "cummin")

    def _cumulative_extreme(self, dim, name):
        """(running max/min, index of it) along dim; ties take the later index, as torch."""
        dim = _dim(dim, self.ndim, name)
        xp = array_module(self._data)
        moved = xp.moveaxis(self._data, dim, -1)
        indices = xp.zeros(moved.shape, dtype=np.int64)
        if moved.shape[-1]:
            best = moved[..., 0]
            for i in range(1, moved.shape[-1]):
                new = moved[..., i]
                take = (new >= best) if name == "cummax" else (new <= best)
                if self.dtype.kind == "f":  # a NaN is kept once seen (torch)
                    take = (take | xp.isnan(new)) & ~xp.isnan(best)
                best = xp.where(take, new, best)
                indices[..., i] = xp.where(take, i, indices[..., i - 1])
        indices = xp.moveaxis(indices, -1, dim)
        return ValuesIndices(self.gather(dim, type(self)(indices)), type(self)(indices))


def _where(cond, a, b):
    from .ops import select

    return select.Where.apply(cond, a, b)


def _float_binary(fn, a, b):
    """fn on a and b promoted as torch does, integers becoming the default float dtype (atan2, hypot...)."""
    tm = _tensor_module()
    b = tm._as_tensor_like(b, a)
    if a.dtype != b.dtype:
        dtype = tm._promoted_dtype(a, b)
        a, b = a.to(dtype), b.to(dtype)
    if a.dtype.kind != "f":
        a, b = a.to(tm.default_dtype), b.to(tm.default_dtype)
    return fn.apply(a, b)


def _scaled_sum(name, input, product, beta, alpha):
    """beta * input + alpha * product (addmm, baddbmm); beta = 0 ignores input, NaNs included (torch)."""
    if np.broadcast_shapes(input.shape, product.shape) != product.shape:
        raise ValueError(f"{name}: input of shape {input.shape} does not broadcast to {product.shape}")
    out = product if alpha == 1 else product * alpha
    if beta == 0:
        return out
    return out + (input if beta == 1 else input * beta)


def vector_norm(x, ord=2, dim=None, keepdim=False, dtype=None):
    """torch.linalg.vector_norm: (sum |x|^ord)^(1/ord) over `dim` (an int, a tuple, or None: all); ord may be
    inf, -inf or 0. Floating tensors only; the gradient is 0 where the norm is 0."""
    if x.dtype.kind != "f":
        raise TypeError(f"vector_norm: expects a floating-point tensor, got {x.dtype}")
    if dtype is not None:
        x = x.to(dtype)
    dims = _dims(dim, x.ndim, "vector_norm") if dim is not None else None
    if isinstance(ord, str) or not isinstance(ord, numbers.Real):
        raise TypeError(f"vector_norm: ord must be a real number, got {ord!r}")
    return mm_ops.VectorNorm.apply(x, p=float(ord), dims=dims, keepdim=keepdim)


def cdist(x1, x2, p=2.0):
    """Pairwise p-norm distances between the rows of x1 (.., P, M) and x2 (.., R, M): (.., P, R)."""
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise ValueError(f"cdist: expects (.., P, M) and (.., R, M) tensors, got {tuple(x1.shape)} and "
                         f"{tuple(x2.shape)}")
    if p < 0:
        raise ValueError(f"cdist: p must be >= 0, got {p}")
    return vector_norm(x1.unsqueeze(-2) - x2.unsqueeze(-3), p, dim=-1)
