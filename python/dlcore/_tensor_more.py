"""More of torch.Tensor's public names (a mixin of dlcore.Tensor): metadata (nbytes, itemsize, is_signed, ...),
torch's aliases (multiply, greater, arccos, moveaxis, ...), math composed from recorded ops (addmv, addr, addcmul,
addcdiv, logaddexp2, copysign, xlogy, logit, sinc, fmax/fmin, nansum/nanmean, dist, float_power, rot90, ...),
selection (where, masked_scatter, take_along_dim, select, aminmax, hsplit/vsplit/dsplit), and the in-place
``name_`` forms of the elementwise methods.

Everything differentiable is composed from ops that are on the tape, so gradients flow with no new Function;
where torch defines a gradient at a point the composition would get wrong (0 * log 0, sinc at 0, copysign at
0) the formula routes around the point, as noted at each one.
"""
from __future__ import annotations

import math
import numbers
import sys
from collections import namedtuple

import numpy as np

from .ops import select
from .ops._common import array_module
from .ops.math_more import _binary_fn, _extremum_derivatives

# fmax/fmin: NaN-ignoring values, maximum's gradient rule (a tie shares it; where either side is NaN both sides
# get it): what torch 2.14 gives, checked element by element.
FMax = _binary_fn("FMax", lambda xp, a, b: xp.fmax(a, b), lambda xp, a, b, y: _extremum_derivatives(xp, a, b, True),
                  "max(a, b) ignoring NaN")
FMin = _binary_fn("FMin", lambda xp, a, b: xp.fmin(a, b), lambda xp, a, b, y: _extremum_derivatives(xp, a, b, False),
                  "min(a, b) ignoring NaN")


def _xlogy(xp, a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return xp.where(a == 0, 0.0, a * xp.log(b)).astype(a.dtype, copy=False)


def _xlogy_derivatives(xp, a, b, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        # torch 2.14's: log(other) for self even where self is 0, except 0 where both are 0
        return xp.where((a == 0) & (b == 0), 0.0, xp.log(b)), a / b


XLogY = _binary_fn("XLogY", _xlogy, _xlogy_derivatives, "a log(b), 0 where a is 0")


MinMax = namedtuple("MinMax", ["min", "max"])  # torch.return_types.aminmax
ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])  # kthvalue
SignLogAbs = namedtuple("SignLogAbs", ["sign", "logabsdet"])  # slogdet

#: torch's legacy type names (x.type()), for code that compares them
_TYPE_NAMES = {"float32": "torch.FloatTensor", "float64": "torch.DoubleTensor", "float16": "torch.HalfTensor",
               "int64": "torch.LongTensor", "int32": "torch.IntTensor", "int16": "torch.ShortTensor",
               "int8": "torch.CharTensor", "uint8": "torch.ByteTensor", "bool": "torch.BoolTensor",
               "bfloat16": "torch.BFloat16Tensor"}


def _tensor_module():
    """dlcore.tensor (it imports this module, so not at the top)."""
    return sys.modules[__package__ + ".tensor"]


def _functions():
    return sys.modules[__package__ + ".functions"]


def _constant(array, like):
    """A tape-free tensor of `like`'s dtype (masks and constants inside compositions)."""
    return _tensor_module().Tensor(array_module(like._data).asarray(array, dtype=like.dtype))


def _other(value, like):
    return _tensor_module()._as_tensor_like(value, like)


class _ViaMethod:
    """``t.name_(...)`` as ``t.name(...)`` written back into t's storage: Tensor._record_inplace runs it on a
    copy of the old value (so the backward of `name` sees the input it was given) and continues the graph."""

    def __init__(self, name):
        self.name, self.__name__ = name, name + "_"

    def apply(self, old, *args, **kwargs):
        return getattr(old, self.name)(*args, **kwargs)


def _inplace_form(name):
    adapter = _ViaMethod(name)

    def method(self, *args, **kwargs):
        self._check_inplace()
        return self._record_inplace(adapter, *args, **kwargs)

    method.__name__ = name + "_"
    method.__doc__ = f"In-place ``{name}``: writes the result into this tensor (recorded on the tape)."
    return method


def _alias(name, doc):
    def method(self, *args, **kwargs):
        return getattr(self, name)(*args, **kwargs)

    method.__doc__ = doc
    return method


class TensorMoreMethods:
    # ---- metadata -------------------------------------------------------------------------------------------
    @property
    def itemsize(self):
        return self.dtype.itemsize

    @property
    def nbytes(self):
        return int(self._data.nbytes)

    @property
    def is_cpu(self):
        return self.device == "cpu"

    @property
    def retains_grad(self):
        return bool(self._retains_grad)

    def ndimension(self):
        return self.ndim

    def is_complex(self):
        return self.dtype.kind == "c"

    def is_signed(self):
        return self.dtype.kind in "ifc"

    def is_nonzero(self):
        if self.numel() != 1:
            raise RuntimeError(f"is_nonzero: a tensor with {self.numel()} elements has no single truth value")
        return bool(self._data.reshape(()).item())

    def is_same_size(self, other):
        return self.shape == other.shape

    def get_device(self):
        """-1 on the CPU (torch's answer), the GPU ordinal (0) on CUDA."""
        return -1 if self.device == "cpu" else 0

    def data_ptr(self):
        a = self._data
        return int(a.__array_interface__["data"][0]) if isinstance(a, np.ndarray) else int(a.data.ptr)

    def pin_memory(self):
        """No pinned host memory here: the tensor itself (copies to the GPU are synchronous)."""
        return self

    def is_pinned(self):
        return False

    def share_memory_(self):
        """NumPy storage is already shareable by fork: the tensor itself."""
        return self

    # ---- torch's aliases --------------------------------------------------------------------------------------
    subtract = _alias("sub", "Alias of sub.")
    multiply = _alias("mul", "Alias of mul.")
    true_divide = _alias("div", "Alias of div.")
    negative = _alias("neg", "Alias of neg.")
    absolute = _alias("abs", "Alias of abs.")
    greater = _alias("gt", "Alias of gt.")
    greater_equal = _alias("ge", "Alias of ge.")
    less = _alias("lt", "Alias of lt.")
    less_equal = _alias("le", "Alias of le.")
    not_equal = _alias("ne", "Alias of ne.")
    arcsin = _alias("asin", "Alias of asin.")
    arccos = _alias("acos", "Alias of acos.")
    arctan = _alias("atan", "Alias of atan.")
    arctan2 = _alias("atan2", "Alias of atan2.")
    arcsinh = _alias("asinh", "Alias of asinh.")
    arccosh = _alias("acosh", "Alias of acosh.")
    arctanh = _alias("atanh", "Alias of atanh.")
    moveaxis = _alias("movedim", "Alias of movedim.")
    fix = _alias("trunc", "Alias of trunc.")
    sgn = _alias("sign", "sign (torch's sgn differs from sign only for complex tensors).")
    broadcast_to = _alias("expand", "Alias of expand.")

    def positive(self):
        return self

    def divide(self, other, rounding_mode=None):
        """self / other; ``rounding_mode="trunc"`` or ``"floor"`` rounds the quotient (no gradient through the
        rounding, as torch: it is piecewise constant)."""
        if rounding_mode is None:
            return self / other
        if rounding_mode not in ("trunc", "floor"):
            raise ValueError(f"divide: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
        quotient = self / other
        rounded = quotient.trunc() if rounding_mode == "trunc" else quotient.floor()
        return rounded.to(self.dtype) if self.dtype.kind in "iu" else rounded

    def ravel(self):
        return self.reshape(-1)

    def unflatten(self, dim, sizes):
        dim = dim % self.ndim
        sizes = tuple(sizes)
        if -1 in sizes:
            known = math.prod(s for s in sizes if s != -1)
            sizes = tuple(self.shape[dim] // known if s == -1 else s for s in sizes)
        if math.prod(sizes) != self.shape[dim]:
            raise RuntimeError(f"unflatten: sizes {sizes} do not multiply to dimension {dim}'s {self.shape[dim]}")
        return self.reshape(self.shape[:dim] + sizes + self.shape[dim + 1:])

    def new_empty(self, *size, dtype=None):
        """A new tensor of this tensor's dtype and device (zeros; torch leaves it uninitialized)."""
        return self.new_zeros(*size, dtype=dtype)

    def new(self, *args):
        """torch's legacy ``x.new(...)``: like ``Tensor(...)`` (a shape or data), in this tensor's dtype."""
        if not args:
            return self.new_zeros(0)
        if all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args):
            return self.new_zeros(*args)
        return self.new_tensor(args[0])

    # ---- math composed from recorded ops ----------------------------------------------------------------------
    def asinh(self):
        """s log(s x + sqrt(x^2 + 1)) with s = +-1 the constant sign of x: the odd form keeps large negative x
        accurate, and a constant s (not sign(), whose gradient at 0 would zero the product) keeps d/dx = 1 at 0."""
        s = _constant(array_module(self._data).where(self._data < 0, -1.0, 1.0), self)
        a = self * s
        return s * (a + (self * self + 1).sqrt()).log()

    def acosh(self):
        return (self + (self * self - 1).sqrt()).log()

    def atanh(self):
        return 0.5 * (self.log1p() - (-self).log1p())

    def erfc(self):
        return 1 - self.erf()

    def deg2rad(self):
        return self * (math.pi / 180)

    def rad2deg(self):
        return self * (180 / math.pi)

    def logaddexp2(self, other):
        ln2 = math.log(2)
        return (self * ln2).logaddexp(_other(other, self) * ln2) / ln2

    def copysign(self, other):
        """|self| with other's sign bit (-0.0 counts as negative). The gradient is self's sign ratio, 0 where self
        is 0 (torch's rule); other gets none."""
        o = other._data if hasattr(other, "_data") else np.asarray(other)
        sign = array_module(self._data).where(array_module(self._data).signbit(o), -1.0, 1.0)
        return self.abs() * _constant(sign, self)

    def xlogy(self, other):
        """self * log(other), 0 where self is 0 (even for other = 0); gradients as torch's."""
        return _tensor_module()._binary(XLogY, self, other)

    def logit(self, eps=None):
        x = self if eps is None else self.clamp(eps, 1 - eps)
        return x.log() - (-x).log1p()

    def sinc(self):
        """sin(pi x) / (pi x), 1 at x = 0 (with gradient 0 there: the formula reads x = 1 at those points)."""
        where = _functions().where
        zero = self == 0
        safe = where(zero, 1.0, self) * math.pi
        return where(zero, 1.0, safe.sin() / safe)

    def fmax(self, other):
        """Elementwise max ignoring NaN (NaN only where both are NaN)."""
        return _tensor_module()._binary(FMax, self, other)

    def fmin(self, other):
        return _tensor_module()._binary(FMin, self, other)

    def float_power(self, exponent):
        """self ** exponent in float64 (torch's float_power)."""
        exponent = exponent.double() if hasattr(exponent, "_data") else float(exponent)
        return self.double() ** exponent

    def dist(self, other, p=2):
        return (self - _other(other, self)).norm(p)

    def nansum(self, dim=None, keepdim=False):
        return _functions().where(self.isnan(), 0.0, self).sum(dim=dim, keepdim=keepdim)

    def nanmean(self, dim=None, keepdim=False):
        counted = _constant(~array_module(self._data).isnan(self._data), self)
        return self.nansum(dim=dim, keepdim=keepdim) / counted.sum(dim=dim, keepdim=keepdim)

    def addcmul(self, tensor1, tensor2, value=1):
        return self + value * tensor1 * tensor2

    def addcdiv(self, tensor1, tensor2, value=1):
        return self + value * tensor1 / tensor2

    def mv(self, vec):
        if self.ndim != 2 or vec.ndim != 1:
            raise RuntimeError(f"mv: expected a matrix and a vector, got shapes {self.shape} and {vec.shape}")
        return self @ vec

    def addmv(self, mat, vec, *, beta=1, alpha=1):
        return self * beta + mat.mv(vec) * alpha

    def addr(self, vec1, vec2, *, beta=1, alpha=1):
        return self * beta + vec1.outer(vec2) * alpha

    def where(self, condition, other):
        """``torch.where(condition, self, other)``."""
        return _functions().where(condition, self, other)

    def logsumexp(self, dim, keepdim=False):
        return _functions().logsumexp(self, dim, keepdim=keepdim)

    # ---- comparisons ------------------------------------------------------------------------------------------
    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        o = other._data if hasattr(other, "_data") else other
        return _tensor_module().Tensor(array_module(self._data).isclose(self._data, o, rtol=rtol, atol=atol,
                                                                        equal_nan=equal_nan))

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return bool(self.isclose(other, rtol, atol, equal_nan)._data.all())

    def equal(self, other):
        """True when both have the same shape and elements (NaN is never equal)."""
        return self.shape == other.shape and bool((self._data == other._data).all())

    # ---- selection and shape ----------------------------------------------------------------------------------
    def aminmax(self, *, dim=None, keepdim=False):
        return MinMax(self.amin(dim=dim, keepdim=keepdim) if dim is not None else self.min(),
                      self.amax(dim=dim, keepdim=keepdim) if dim is not None else self.max())

    def msort(self):
        return self.sort(dim=0).values

    def select(self, dim, index):
        dim = dim % self.ndim
        if not -self.shape[dim] <= index < self.shape[dim]:
            raise IndexError(f"select: index {index} out of range for dimension {dim} of size {self.shape[dim]}")
        return self[(slice(None),) * dim + (index,)]

    def rot90(self, k=1, dims=(0, 1)):
        """Rotation by 90 degrees k times from dims[0] towards dims[1] (torch's flips and transposes)."""
        d0, d1 = (d % self.ndim for d in dims)
        if d0 == d1 or len(dims) != 2:
            raise ValueError(f"rot90: dims must be two different dimensions, got {dims}")
        k %= 4
        if k == 1:
            return self.flip(d1).transpose(d0, d1)
        if k == 2:
            return self.flip((d0, d1))
        if k == 3:
            return self.flip(d0).transpose(d0, d1)
        return self.clone()

    def fliplr(self):
        if self.ndim < 2:
            raise RuntimeError("fliplr: the tensor must have at least 2 dimensions")
        return self.flip(1)

    def flipud(self):
        if self.ndim < 1:
            raise RuntimeError("flipud: the tensor must have at least 1 dimension")
        return self.flip(0)

    def take_along_dim(self, indices, dim=None):
        """gather with torch's broadcasting of `indices` against self (dim None: over the flattened tensor)."""
        idx = indices._data if hasattr(indices, "_data") else np.asarray(indices)
        if dim is None:
            return self.reshape(-1).gather(0, _tensor_module().Tensor(idx.reshape(-1)))
        dim = dim % self.ndim
        lead = list(np.broadcast_shapes(tuple(1 if i == dim else n for i, n in enumerate(self.shape)),
                                        tuple(1 if i == dim else n for i, n in enumerate(idx.shape))))
        source = self.expand(*[self.shape[dim] if i == dim else n for i, n in enumerate(lead)])
        lead[dim] = idx.shape[dim]
        xp = array_module(idx)
        return source.gather(dim, _tensor_module().Tensor(xp.ascontiguousarray(xp.broadcast_to(idx, lead))))

    def masked_scatter(self, mask, source):
        """A copy with the positions where `mask` (broadcast to self) is True filled, in order, by `source`'s
        first elements; self gets the gradient elsewhere, source's first elements the gradient there."""
        xp = array_module(self._data)
        m = mask._data if hasattr(mask, "_data") else xp.asarray(mask)
        if m.dtype != np.bool_:
            raise TypeError(f"masked_scatter: mask must be a bool tensor, got {m.dtype}")
        positions = xp.nonzero(xp.broadcast_to(m, self.shape).reshape(-1))[0]
        if positions.size > source.numel():
            raise RuntimeError(f"masked_scatter: {positions.size} masked positions but source has only "
                               f"{source.numel()} elements")
        flat = select.SetItem.apply(self.reshape(-1), source.reshape(-1)[:positions.size], positions)
        return flat.reshape(self.shape)

    # ---- dtypes -----------------------------------------------------------------------------------------------
    def byte(self):
        return self.to(np.uint8)

    def char(self):
        return self.to(np.int8)

    def short(self):
        return self.to(np.int16)

    def type(self, dtype=None):
        """Without an argument torch's type name ('torch.FloatTensor' for float32); with a dtype, ``to(dtype)``."""
        if dtype is None:
            return _TYPE_NAMES.get(str(self.dtype), f"torch.{self.dtype}")
        if isinstance(dtype, str):
            names = {v: k for k, v in _TYPE_NAMES.items()}
            if dtype not in names:
                raise ValueError(f"type: unknown type name {dtype!r}")
            dtype = names[dtype]
        return self.to(np.dtype(dtype))

    # ---- linear algebra ---------------------------------------------------------------------------------------
    def _check_square(self, name):
        if self.ndim < 2 or self.shape[-1] != self.shape[-2]:
            raise RuntimeError(f"{name}: expected square matrices in the last two dimensions, got {self.shape}")

    def inverse(self):
        from .ops.linalg import Inverse

        self._check_square("inverse")
        return Inverse.apply(self)

    def slogdet(self):
        from .ops.linalg import LogAbsDet

        self._check_square("slogdet")
        logabs, node = LogAbsDet.apply_with_node(self)
        return SignLogAbs(_tensor_module().Tensor(node.sign), logabs)

    def logdet(self):
        """log det A: NaN where det < 0, -inf where it is 0 (torch's)."""
        sign, logabs = self.slogdet()
        xp = array_module(self._data)
        fix = xp.where(sign._data > 0, 0.0, xp.where(sign._data == 0, -np.inf, np.nan)).astype(self.dtype)
        return logabs + _constant(fix, logabs)

    def det(self):
        """sign * exp(log|det|): the gradient det A^-T through slogdet (a singular matrix gives no gradient)."""
        sign, logabs = self.slogdet()
        return logabs.exp() * sign.to(self.dtype)

    def matrix_exp(self):
        """exp(A) of each square matrix (linalg.matrix_exp)."""
        from .ops.linalg import MatrixExp

        self._check_square("matrix_exp")
        if not np.issubdtype(self.dtype, np.floating):
            raise TypeError(f"matrix_exp: expected a floating-point tensor, got {self.dtype}")
        return MatrixExp.apply(self)

    def matrix_power(self, n):
        """A^n by repeated squaring (recorded matmuls); n < 0 inverts first, n = 0 gives the identity."""
        self._check_square("matrix_power")
        if n < 0:
            return self.inverse().matrix_power(-n)
        eye = array_module(self._data).broadcast_to(array_module(self._data).eye(self.shape[-1], dtype=self.dtype),
                                                    self.shape)
        result, base = None, self
        while n:
            if n & 1:
                result = base if result is None else result @ base
            n >>= 1
            if n:
                base = base @ base
        return _constant(eye.copy(), self) if result is None else result

    def cholesky(self, upper=False):
        from . import linalg

        return linalg.cholesky(self, upper=upper)

    def cholesky_solve(self, input2, upper=False):
        """X with A X = self, A = L L^T given by its Cholesky factor input2 (torch.cholesky_solve)."""
        from . import linalg

        lower = input2.transpose(-1, -2) if upper else input2
        y = linalg.solve_triangular(lower, self, upper=False)
        return linalg.solve_triangular(lower.transpose(-1, -2), y, upper=True)

    def cholesky_inverse(self, upper=False):
        """A^-1 from A's Cholesky factor (self)."""
        from .functions import eye

        n = self.shape[-1]
        return eye(n, dtype=self.dtype).expand(self.shape).cholesky_solve(self, upper=upper)

    def qr(self, some=True):
        from . import linalg

        if not some:
            raise NotImplementedError("qr: some=False (the complete factorization) is not supported")
        return linalg.qr(self)

    def svd(self, some=True, compute_uv=True):
        """The deprecated torch.svd: (U, S, V) - V, not V^T - thin (``some=True``)."""
        from collections import namedtuple

        from . import linalg

        u, s, vh = linalg.svd(self, full_matrices=not some)
        if not compute_uv:
            return namedtuple("SVD", ["U", "S", "V"])(u * 0, s, vh.transpose(-1, -2) * 0)
        return namedtuple("SVD", ["U", "S", "V"])(u, s, vh.transpose(-1, -2))

    def pinverse(self, rcond=1e-15):
        from . import linalg

        return linalg.pinv(self, rtol=rcond)

    def mvlgamma(self, p):
        from . import special

        return special.multigammaln(self, p)

    def polygamma(self, n):
        from . import special

        return special.polygamma(n, self)

    def igamma(self, other):
        from . import special

        return special.gammainc(self, other)

    def igammac(self, other):
        from . import special

        return special.gammaincc(self, other)

    def angle(self):
        """The argument of a real number: 0 for x >= 0, pi for x < 0 (NaN stays NaN); no gradient, as torch."""
        xp = array_module(self._data)
        data = self._data.astype(self.dtype if self.dtype.kind == "f" else np.float32)
        return _tensor_module().Tensor(xp.where(data < 0, np.pi, xp.where(xp.isnan(data), data, 0.0)).astype(
            data.dtype))

    # ---- in-place shape changes (torch's t_, transpose_, squeeze_, unsqueeze_, resize_) ------------------------
    def _reshaped_in_place(self, change):
        """This tensor becomes change(itself) (a new shape over the same values): on the tape when it requires
        grad (its graph continues through the shape op), as torch's in-place view ops."""
        from .autograd import is_grad_enabled, no_grad

        self._check_inplace()
        Tensor = _tensor_module().Tensor
        if is_grad_enabled() and self.requires_grad:
            old = Tensor(self._data, requires_grad=True)
            old._node = self._node
            out = change(old)
            self._node = out._node
        else:
            with no_grad():
                out = change(self)
        self._data = out._data
        self._version_counter()[0] += 1
        return self

    def t_(self):
        return self._reshaped_in_place(lambda t: t.t())

    def transpose_(self, dim0, dim1):
        return self._reshaped_in_place(lambda t: t.transpose(dim0, dim1))

    swapaxes_ = swapdims_ = transpose_

    def squeeze_(self, dim=None):
        return self._reshaped_in_place(lambda t: t.squeeze() if dim is None else t.squeeze(dim))

    def unsqueeze_(self, dim):
        return self._reshaped_in_place(lambda t: t.unsqueeze(dim))

    def resize_(self, *sizes):
        """A new shape: the same elements in order when the count matches; otherwise the first elements kept
        and new ones zero (torch leaves them uninitialized). Not for tensors that require grad, as torch."""
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        if self.requires_grad:
            raise RuntimeError("resize_: cannot resize a tensor that requires grad")
        xp = array_module(self._data)
        flat = self._data.reshape(-1)
        total = int(np.prod(sizes)) if sizes else 1
        data = flat[:total] if total <= flat.size else xp.concatenate([flat, xp.zeros(total - flat.size, flat.dtype)])
        self._data = xp.ascontiguousarray(data).reshape(sizes)
        self._version_counter()[0] += 1
        return self

    def resize_as_(self, other):
        return self.resize_(tuple(other.shape))

    # ---- statistics -------------------------------------------------------------------------------------------
    def kthvalue(self, k, dim=-1, keepdim=False):
        """The k-th smallest value along `dim` (1-based) and its index; the gradient goes to that element."""
        dim = dim % max(self.ndim, 1)
        if not 1 <= k <= (self.shape[dim] if self.ndim else 1):
            raise RuntimeError(f"kthvalue: k = {k} out of range for dimension {dim} of size {self.shape[dim]}")
        order = self.argsort(dim=dim)
        index = order.narrow(dim, k - 1, 1)
        values = self.gather(dim, index)
        if not keepdim:
            values, index = values.squeeze(dim), index.squeeze(dim)
        return ValuesIndices(values, index)

    def quantile(self, q, dim=None, keepdim=False, interpolation="linear"):
        """torch.quantile: the q-quantiles (a number or a 1-D tensor of them) along `dim` (None: all elements),
        interpolating between the sorted neighbours ('linear', 'lower', 'higher', 'midpoint', 'nearest');
        the gradient flows to the neighbours."""
        if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
            raise ValueError(f"quantile: unknown interpolation {interpolation!r}")
        qs = np.atleast_1d(np.asarray(q._data if hasattr(q, "_data") else q, dtype=np.float64))
        if qs.ndim != 1 or ((qs < 0) | (qs > 1)).any():
            raise ValueError(f"quantile: q must be a number or 1-D tensor of values in [0, 1], got {q}")
        x = self.reshape(-1) if dim is None else self
        axis = 0 if dim is None else dim % self.ndim
        ordered = x.sort(dim=axis).values
        position = qs * (x.shape[axis] - 1)
        below, above = np.floor(position).astype(np.int64), np.ceil(position).astype(np.int64)
        frac = position - below
        if interpolation == "lower":
            above = below
        elif interpolation == "higher":
            below = above
        elif interpolation == "nearest":
            below = above = np.round(position).astype(np.int64)  # half to even, as torch
        elif interpolation == "midpoint":
            frac = np.where(above > below, 0.5, 0.0)
        lo, hi = ordered.index_select(axis, below), ordered.index_select(axis, above)
        shape = [1] * ordered.ndim
        shape[axis] = len(qs)
        weight = _constant(frac.reshape(shape), ordered)
        out = lo + (hi - lo) * weight  # (..., len(q), ...) along axis
        out = out.movedim(axis, 0)
        if keepdim:
            out = out.unsqueeze(axis + 1) if dim is not None else out.reshape((len(qs),) + (1,) * self.ndim)
        return out.squeeze(0) if np.ndim(q._data if hasattr(q, "_data") else q) == 0 else out

    def cov(self, *, correction=1):
        """Covariance of the rows (variables) over the columns (observations), torch.cov without weights."""
        if self.ndim > 2:
            raise RuntimeError(f"cov: expected a 1-D or 2-D tensor, got {self.ndim} dimensions")
        x = self if self.ndim == 2 else self.unsqueeze(0)
        centered = x - x.mean(dim=1, keepdim=True)
        c = centered @ centered.T / max(x.shape[1] - correction, 0)
        return c if self.ndim == 2 else c.reshape(())

    def corrcoef(self):
        """Pearson correlation of the rows, clipped to [-1, 1] as torch does."""
        c = self.cov()
        if c.ndim == 0:
            return c / c
        d = c.diagonal().sqrt()
        return (c / d.unsqueeze(1) / d.unsqueeze(0)).clamp(-1, 1)

    def renorm(self, p, dim, maxnorm):
        """Each slice along `dim` whose p-norm exceeds maxnorm scaled down to it (by maxnorm / (norm + 1e-7), as
        torch.renorm); the gradient flows through the norm too, as torch's renorm backward."""
        dim = dim % self.ndim
        others = tuple(d for d in range(self.ndim) if d != dim)
        norms = (self.abs() ** p).sum(dim=others, keepdim=True) ** (1.0 / p)
        scale = _functions().where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)
        return self * scale

    def histc(self, bins=100, min=0, max=0):
        """Counts in `bins` equal bins over [min, max] (the data's range when both are 0); values outside are
        ignored; a float tensor, no gradient (torch's)."""
        data = array_module(self._data).asarray(self._data, dtype=np.float64).reshape(-1)
        lo, hi = float(min), float(max)
        if lo == hi == 0 and data.size:
            lo, hi = float(data.min()), float(data.max())
        if lo == hi:
            lo, hi = lo - 1, hi + 1
        if lo > hi:
            raise RuntimeError(f"histc: max ({hi}) must be larger than min ({lo})")
        counts, _ = array_module(data).histogram(data, bins=bins, range=(lo, hi))
        return _tensor_module().Tensor(counts.astype(self.dtype if self.dtype.kind == "f" else np.float32))

    # ---- random draws -----------------------------------------------------------------------------------------
    def bernoulli(self, p=None, generator=None):
        """0/1 draws with this tensor's values (or `p`) as the probabilities, in this dtype; no gradient."""
        from .random import default_generator

        probs = self._data if p is None else np.broadcast_to(np.asarray(p, dtype=np.float64), self.shape)
        draws = (generator or default_generator()).random(self.shape) < np.asarray(probs)
        return _tensor_module().Tensor(draws.astype(self.dtype))

    def multinomial(self, num_samples, replacement=False, generator=None):
        """Indices drawn from the rows' (unnormalized, non-negative) weights: (n,) from (C,), (N, n) from (N, C)."""
        from .random import default_generator

        weights = np.asarray(self.numpy(), dtype=np.float64)
        rows = weights.reshape(-1, weights.shape[-1])
        if (rows < 0).any() or not np.isfinite(rows).all() or (rows.sum(1) <= 0).any():
            raise RuntimeError("multinomial: weights must be finite, non-negative, with a positive sum per row")
        if not replacement and num_samples > (rows > 0).sum(1).min():
            raise RuntimeError(f"multinomial: cannot draw {num_samples} samples without replacement from "
                               f"{int((rows > 0).sum(1).min())} non-zero weights")
        rng = generator or default_generator()
        out = np.stack([rng.choice(rows.shape[1], num_samples, replace=replacement, p=r / r.sum()) for r in rows])
        return _tensor_module().Tensor(out.reshape(weights.shape[:-1] + (num_samples,)).astype(np.int64))

    # ---- integer and bit-level elementwise (no gradient) ----------------------------------------------------------
    def _bitwise(self, name, other=None):
        if self.dtype.kind not in "biu":
            raise RuntimeError(f"{name}: only integer and bool tensors, got {self.dtype}")
        xp = array_module(self._data)
        args = (self._data,) if other is None else (self._data, other._data if hasattr(other, "_data") else other)
        return _tensor_module().Tensor(getattr(xp, name)(*args))

    def bitwise_and(self, other):
        return self._bitwise("bitwise_and", other)

    def bitwise_or(self, other):
        return self._bitwise("bitwise_or", other)

    def bitwise_xor(self, other):
        return self._bitwise("bitwise_xor", other)

    def bitwise_not(self):
        return self._bitwise("invert")

    def bitwise_left_shift(self, other):
        return self._bitwise("left_shift", other)

    def bitwise_right_shift(self, other):
        return self._bitwise("right_shift", other)

    def gcd(self, other):
        return self._bitwise("gcd", other)

    def lcm(self, other):
        return self._bitwise("lcm", other)

    def _test(self, fn):
        return _tensor_module().Tensor(fn(array_module(self._data), self._data))

    def signbit(self):
        return self._test(lambda xp, a: xp.signbit(a))

    def isneginf(self):
        return self._test(lambda xp, a: xp.isneginf(a) if a.dtype.kind == "f" else xp.zeros(a.shape, bool))

    def isposinf(self):
        return self._test(lambda xp, a: xp.isposinf(a) if a.dtype.kind == "f" else xp.zeros(a.shape, bool))

    def isreal(self):
        return self._test(lambda xp, a: xp.isreal(a))

    def heaviside(self, values):
        """1 above 0, `values` at 0, else 0 (torch.heaviside: NaN gives 0, where numpy.heaviside gives NaN); no
        gradient."""
        xp = array_module(self._data)
        v = values._data if hasattr(values, "_data") else values
        step = xp.where(self._data == 0, v, self._data > 0)
        return _tensor_module().Tensor(step.astype(self.dtype, copy=False))

    def nextafter(self, other):
        o = other._data if hasattr(other, "_data") else other
        return _tensor_module().Tensor(array_module(self._data).nextafter(self._data, o).astype(self.dtype))

    def ldexp(self, other):
        """self * 2 ** other (differentiable in self)."""
        o = other._data if hasattr(other, "_data") else np.asarray(other)
        dtype = self.dtype if self.dtype.kind == "f" else np.dtype(np.float32)
        return self.to(dtype) * _constant(np.exp2(o), self.to(dtype))

    # ---- reductions and splits --------------------------------------------------------------------------------
    def sum_to_size(self, *size):
        """The sum over the dimensions that `size` broadcasts (the gradient of an expand)."""
        size = tuple(size[0]) if len(size) == 1 and not isinstance(size[0], numbers.Integral) else size
        if np.broadcast_shapes(size, self.shape) != self.shape:
            raise RuntimeError(f"sum_to_size: size {size} is not expandable to {self.shape}")
        lead = self.ndim - len(size)
        dims = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(size) if n == 1 and self.shape[lead + i] != 1)
        out = self.sum(dim=dims, keepdim=True) if dims else self
        return out.reshape(size)

    def split_with_sizes(self, split_sizes, dim=0):
        return self.split(list(split_sizes), dim)

    unsafe_chunk = _alias("chunk", "Alias of chunk (no views here, so nothing unsafe).")
    unsafe_split = _alias("split", "Alias of split.")

    def narrow_copy(self, dim, start, length):
        return self.narrow(dim, start, length).clone()

    def logcumsumexp(self, dim):
        """log(cumsum(exp(x))) along dim, shifted by the slice's max (a constant) against overflow."""
        dim = dim % max(self.ndim, 1)
        peak = array_module(self._data).max(self._data, axis=dim, keepdims=True)
        peak = _constant(array_module(peak).where(array_module(peak).isfinite(peak), peak, 0), self)
        return (self - peak).exp().cumsum(dim).log() + peak

    def nanmedian(self, dim=None, keepdim=False):
        """The lower median ignoring NaN (NaN only where a slice is all NaN); with dim, (values, indices)."""
        xp = array_module(self._data)
        x = self.reshape(-1) if dim is None else self
        axis = 0 if dim is None else dim % self.ndim
        order = x.argsort(dim=axis)  # NaN sorts last
        count = (~xp.isnan(x._data)).sum(axis=axis, keepdims=True)
        pick = _tensor_module().Tensor(xp.take_along_axis(order._data, xp.maximum(count - 1, 0) // 2, axis=axis))
        values = x.gather(axis, pick)
        if dim is None:
            return values.reshape(())
        if not keepdim:
            values, pick = values.squeeze(axis), pick.squeeze(axis)
        return ValuesIndices(values, pick)

    # ---- writes at indices ------------------------------------------------------------------------------------
    def index_put(self, indices, values, accumulate=False):
        """A copy with self[indices] = values (or += with accumulate, duplicates summed); indices is a tuple of
        integer tensors, one per leading dimension, broadcast together. values gets the gradient of its slots."""
        from .ops.math_more import IndexPut

        xp = array_module(self._data)
        idx = [xp.asarray(i._data if hasattr(i, "_data") else i) for i in indices]
        if any(i.dtype.kind not in "iu" for i in idx) or len(idx) > self.ndim:
            raise TypeError("index_put: indices must be integer tensors, at most one per dimension")
        lead, rest = self.shape[:len(idx)], self.shape[len(idx):]
        idx = xp.broadcast_arrays(*idx)
        flat = xp.ravel_multi_index([i % n for i, n in zip(idx, lead)], lead).reshape(-1)
        values = _other(values, self)
        values = values.expand(*(idx[0].shape + rest)).reshape((flat.size,) + rest)
        rows = self.reshape((math.prod(lead),) + rest)
        return IndexPut.apply(rows, values, dim=0, index=flat, accumulate=accumulate).reshape(self.shape)

    def put(self, index, source, accumulate=False):
        """index_put on the flattened tensor: self.flatten()[index] = source."""
        idx = index._data if hasattr(index, "_data") else np.asarray(index)
        return self.reshape(-1).index_put((idx.reshape(-1),), _other(source, self).reshape(-1),
                                          accumulate).reshape(self.shape)

    def _diagonal_filled(self, fill_value, wrap=False):
        xp = array_module(self._data)
        mask = xp.zeros(self.shape, dtype=bool)
        xp.fill_diagonal(mask, True, wrap=wrap)
        return _functions().where(_tensor_module().Tensor(mask), fill_value, self)

    def fill_diagonal_(self, fill_value, wrap=False):
        """Writes fill_value on the main diagonal (all dims equal steps, numpy.fill_diagonal's rule)."""
        self._check_inplace()
        return self._record_inplace(_ViaMethod("_diagonal_filled"), fill_value, wrap=wrap)

    # ---- in-place random fills (outside the tape) -------------------------------------------------------------
    def _fill_random(self, draw, generator=None):
        from .random import default_generator

        self._check_inplace()
        values = draw(generator or default_generator(), self.shape)
        self._data[...] = array_module(self._data).asarray(values).astype(self.dtype)
        self._version_counter()[0] += 1
        return self

    def random_(self, from_=0, to=None, *, generator=None):
        """Integers uniform in [from_, to) (to None: [0, from_) when from_ is given alone, as torch)."""
        low, high = (0, from_) if to is None and from_ else (from_, to if to is not None else 2 ** 24)
        return self._fill_random(lambda g, shape: g.integers(low, high, shape), generator)

    def exponential_(self, lambd=1.0, *, generator=None):
        return self._fill_random(lambda g, shape: g.exponential(1.0 / lambd, shape), generator)

    def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
        return self._fill_random(lambda g, shape: median + sigma * g.standard_cauchy(shape), generator)

    def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
        return self._fill_random(lambda g, shape: g.lognormal(mean, std, shape), generator)

    def geometric_(self, p, *, generator=None):
        return self._fill_random(lambda g, shape: g.geometric(p, shape), generator)

    def bernoulli_(self, p=0.5, *, generator=None):
        probs = p._data if hasattr(p, "_data") else p
        return self._fill_random(lambda g, shape: g.random(shape) < probs, generator)

    # ---- real-valued views of complex-number API --------------------------------------------------------------
    @property
    def mT(self):
        """The last two dimensions transposed (batched matrix transpose)."""
        return self.transpose(-2, -1)

    mH = mT  # the conjugate transpose: the same for real tensors

    @property
    def H(self):
        if self.ndim != 2:
            raise RuntimeError(f"H: only for matrices, got {self.ndim} dimensions (use mH for batches)")
        return self.transpose(0, 1)

    def adjoint(self):
        return self.mH

    def conj(self):
        """Real tensors are their own conjugates: the tensor itself (as torch, without a copy)."""
        return self

    resolve_conj = resolve_neg = conj

    def conj_physical(self):
        return self.clone()

    def is_conj(self):
        return False

    def is_neg(self):
        return False

    def is_inference(self):
        return False

    @property
    def real(self):
        return self

    @property
    def is_sparse(self):
        return False

    @property
    def is_quantized(self):
        return False

    @property
    def is_meta(self):
        return False

    # ---- more products and divisions -----------------------------------------------------------------------------
    def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
        """beta self + alpha sum_b batch1[b] @ batch2[b]."""
        return self * beta + batch1.bmm(batch2).sum(dim=0) * alpha

    def vdot(self, other):
        return self.dot(other)

    def floor_divide(self, other):
        return self.divide(other, rounding_mode="floor")

    def diagflat(self, offset=0):
        return self.reshape(-1).diag(offset)

    def prelu(self, weight):
        from .nn import functional

        return functional.prelu(self, weight)

    def hardshrink(self, lambd=0.5):
        from .nn import functional

        return functional.hardshrink(self, lambd)

    # ---- windows, scatters into slices, runs -------------------------------------------------------------------
    def unfold(self, dimension, size, step):
        """Every window of `size` elements along `dimension`, `step` apart, as a new last dimension (torch's
        Tensor.unfold); gathered through index_select, so the gradient sums over overlapping windows."""
        dim = dimension % max(self.ndim, 1)
        length = self.shape[dim] if self.ndim else 1
        if size > length or step < 1:
            raise RuntimeError(f"unfold: size {size} larger than dimension {dim} ({length}) or step {step} < 1")
        count = (length - size) // step + 1
        index = (np.arange(count)[:, None] * step + np.arange(size)[None, :]).reshape(-1)
        picked = self.index_select(dim, _tensor_module().Tensor(index))  # (..., count * size, ...)
        shape = self.shape[:dim] + (count, size) + self.shape[dim + 1:]
        return picked.reshape(shape).movedim(dim + 1, -1)

    def _scatter_into(self, src, index):
        """A copy of self with self[index] = src (src gets the gradient of those slots)."""
        return select.SetItem.apply(self, _other(src, self), index)

    def select_scatter(self, src, dim, index):
        return self._scatter_into(src, (slice(None),) * (dim % self.ndim) + (index,))

    def slice_scatter(self, src, dim=0, start=None, end=None, step=1):
        return self._scatter_into(src, (slice(None),) * (dim % self.ndim) + (slice(start, end, step),))

    def diagonal_scatter(self, src, offset=0, dim1=0, dim2=1):
        """A copy with the diagonal (as ``diagonal(offset, dim1, dim2)`` reads it) replaced by src."""
        d1, d2 = dim1 % self.ndim, dim2 % self.ndim
        n = len(range(max(0, -offset), min(self.shape[d1], self.shape[d2] - offset)))
        rows = np.arange(n) + max(0, -offset)
        index = [slice(None)] * self.ndim
        index[d1], index[d2] = rows, rows + offset
        # advanced indices on two axes put the diagonal first; diagonal() puts it last: move src's to the front
        return self._scatter_into(_other(src, self).movedim(-1, 0), tuple(index))

    def unique_consecutive(self, return_inverse=False, return_counts=False, dim=None):
        """Collapses runs of equal values (of the flattened tensor; dim is not supported); no gradient."""
        if dim is not None:
            raise NotImplementedError("unique_consecutive: only dim=None (the flattened tensor)")
        flat = np.asarray(self.numpy()).reshape(-1)
        starts = np.concatenate([[True], flat[1:] != flat[:-1]]) if flat.size else np.zeros(0, bool)
        tensor = _tensor_module().Tensor
        out = [tensor(flat[starts])]
        if return_inverse:
            out.append(tensor((np.cumsum(starts) - 1).reshape(self.shape).astype(np.int64)))
        if return_counts:
            out.append(tensor(np.diff(np.append(np.flatnonzero(starts), flat.size)).astype(np.int64)))
        return out[0] if len(out) == 1 else tuple(out)

    def mode(self, dim=-1, keepdim=False):
        """The most frequent value along dim (the smallest among equally frequent ones) and an index of it
        (the last, as torch's CPU kernel); the gradient goes to that element."""
        dim = dim % max(self.ndim, 1)
        x = np.moveaxis(np.asarray(self.numpy()), dim, -1)
        rows = x.reshape(-1, x.shape[-1])
        best = np.empty(len(rows), dtype=x.dtype)
        for i, row in enumerate(rows):  # np.unique sorts: argmax's first maximum is the smallest mode
            values, counts = np.unique(row, return_counts=True)
            best[i] = values[np.argmax(counts)]
        best = best.reshape(x.shape[:-1] + (1,))
        last = x.shape[-1] - 1 - np.argmax((x == best)[..., ::-1], axis=-1)
        index = np.expand_dims(last, dim)
        values = self.gather(dim, _tensor_module().Tensor(index.astype(np.int64)))
        indices = _tensor_module().Tensor(index.astype(np.int64))
        if not keepdim:
            values, indices = values.squeeze(dim), indices.squeeze(dim)
        return ValuesIndices(values, indices)

    def frexp(self):
        """(mantissa, exponent) with self = mantissa * 2 ** exponent, 0.5 <= |mantissa| < 1; no gradient."""
        mantissa, exponent = array_module(self._data).frexp(self._data)
        tensor = _tensor_module().Tensor
        return tensor(mantissa), tensor(exponent.astype(np.int32))

    def histogram(self, bins=100, *, range=None, weight=None, density=False):
        """(hist, bin_edges) as numpy.histogram, in this dtype; no gradient."""
        w = None if weight is None else np.asarray(weight.numpy() if hasattr(weight, "numpy") else weight)
        b = bins.numpy() if hasattr(bins, "numpy") else bins
        hist, edges = np.histogram(np.asarray(self.numpy()).reshape(-1), bins=b, range=range, weights=w,
                                   density=density)
        tensor = _tensor_module().Tensor
        return tensor(hist.astype(self.dtype)), tensor(edges.astype(self.dtype))

    # ---- special functions (ops/special.py) -------------------------------------------------------------------
    def _special(self, fn):
        x = self if self.dtype.kind == "f" else self.to(np.float32)  # integers give floats, as torch
        return fn.apply(x)

    def lgamma(self):
        from .ops.special import Lgamma

        return self._special(Lgamma)

    def digamma(self):
        from .ops.special import Digamma

        return self._special(Digamma)

    def erfinv(self):
        from .ops.special import Erfinv

        return self._special(Erfinv)

    def _split_along(self, name, sections, dim, min_ndim):
        if self.ndim < min_ndim:
            raise RuntimeError(f"{name}: the tensor must have at least {min_ndim} dimensions, got {self.ndim}")
        if isinstance(sections, numbers.Integral) and self.shape[dim] % sections:
            raise RuntimeError(f"{name}: dimension {dim} of size {self.shape[dim]} is not divisible by {sections}")
        return self.tensor_split(sections, dim=dim)

    def hsplit(self, sections):
        return self._split_along("hsplit", sections, 1 if self.ndim > 1 else 0, 1)

    def vsplit(self, sections):
        return self._split_along("vsplit", sections, 0, 2)

    def dsplit(self, sections):
        return self._split_along("dsplit", sections, 2, 3)


_INPLACE = ("abs neg exp log sqrt rsqrt sigmoid tanh relu floor ceil round trunc frac sin cos tan sinh cosh asin acos "
            "atan asinh acosh atanh log1p log2 log10 expm1 exp2 reciprocal sign sgn square erf erfc pow fmod remainder "
            "lerp clamp_min clamp_max masked_fill masked_scatter addcmul addcdiv nan_to_num deg2rad rad2deg logit "
            "xlogy copysign hypot atan2 logaddexp fix negative absolute arcsin arccos arctan multiply renorm "
            "logical_and logical_or logical_xor logical_not eq ne lt le gt ge tril triu cumsum cumprod index_put put "
            "bitwise_and bitwise_or bitwise_xor bitwise_not bitwise_left_shift bitwise_right_shift gcd lcm heaviside "
            "nextafter ldexp addmm addmv addr baddbmm addbmm greater greater_equal less less_equal not_equal "
            "floor_divide arccosh arcsinh arctanh arctan2 lgamma digamma erfinv "
            "divide subtract true_divide sinc").split()

for _name in _INPLACE:
    if not hasattr(TensorMoreMethods, _name + "_"):
        setattr(TensorMoreMethods, _name + "_", _inplace_form(_name))
del _name
