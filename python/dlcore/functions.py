"""The ``torch.*`` functions a ported script calls, over dlcore Tensors (``dlcore.flatten``, ``dlcore.max``...).

Each is the Tensor method or the nn.functional op of the same name, or is
composed from recorded ops, so gradients flow through all of them. Creation
functions (``eye``, ``linspace``, ``randint``, ``randperm``) take ``dtype=``
and ``device=`` like the other dlcore constructors. Also ``dlcore.device``
(a str subclass with ``.type``/``.index``, so it goes anywhere a device
string does).
"""
from __future__ import annotations

import numpy as np

from ._device import module_for_device, parse_device
from .ops import math_more, select
from .tensor import Tensor, _as_tensor_like, _binary, _placed, default_dtype


class device(str):
    """``dlcore.device("cuda" if dlcore.cuda.is_available() else "cpu")``: a device name usable wherever a
    device string is ("cpu", "cuda", "cuda:0"), with PyTorch's ``.type`` and ``.index``."""

    def __new__(cls, type, index=None):
        name = str(type) if index is None else f"{type}:{index}"
        parse_device(name)  # checks the name
        self = super().__new__(cls, name)
        self.type, _, idx = name.partition(":")
        self.index = int(idx) if idx else index
        return self

    def __repr__(self):
        return f"device(type='{self.type}'" + (f", index={self.index})" if self.index is not None else ")")


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(t):
    return t.numel()


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


# ---- reductions and selection --------------------------------------------------------------
def max(input, dim=None, keepdim=False):
    """max of all elements; ``(values, indices)`` along `dim`; or the elementwise maximum with a Tensor."""
    input = _t(input)  # a NumPy array works too
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    return input.max(dim=dim, keepdim=keepdim)


def min(input, dim=None, keepdim=False):
    input = _t(input)
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    return input.min(dim=dim, keepdim=keepdim)


def sum(input, dim=None, keepdim=False):
    return input.sum(dim=dim, keepdim=keepdim)


def mean(input, dim=None, keepdim=False):
    return input.mean(dim=dim, keepdim=keepdim)


def std(input, dim=None, unbiased=True, keepdim=False, correction=None):
    return input.std(dim=dim, unbiased=unbiased, keepdim=keepdim, correction=correction)


def var(input, dim=None, unbiased=True, keepdim=False, correction=None):
    return input.var(dim=dim, unbiased=unbiased, keepdim=keepdim, correction=correction)


def argmin(input, dim=None, keepdim=False):
    return input.argmin(dim=dim, keepdim=keepdim)


def where(condition, input=None, other=None):
    """`input` where `condition` else `other` (broadcast; numbers take the tensor's dtype). With only a
    condition: the indices of its true elements, as ``torch.where(cond)``."""
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if input is None and other is None:
        return tuple(Tensor(i.astype(np.int64)) for i in module_for_device(_device_of(cond)).nonzero(cond))
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got {cond.dtype}")
    like = input if isinstance(input, Tensor) else other
    if not isinstance(like, Tensor):
        like = Tensor(np.asarray(input, dtype=default_dtype))
    a, b = _as_tensor_like(input, like), _as_tensor_like(other, like)
    return select.Where.apply(cond, a, b)


def _device_of(array):
    from ._device import device_of

    return device_of(array)


def maximum(input, other):
    """Elementwise max; a NaN on either side gives NaN. Gradients as torch's: a tie shares the gradient half
    and half (torch.maximum(x, x) passes 0.5 to each side), a NaN passes it to both."""
    return _binary(math_more.Maximum, input, other)


def minimum(input, other):
    """Elementwise min, with maximum's tie and NaN rules."""
    return _binary(math_more.Minimum, input, other)


def clamp(input, min=None, max=None):
    return input.clamp(min, max)


clip = clamp


def topk(input, k, dim=-1, largest=True, sorted=True):
    return input.topk(k, dim=dim, largest=largest, sorted=sorted)


def sort(input, dim=-1, descending=False, stable=False):
    return input.sort(dim=dim, descending=descending)


def argsort(input, dim=-1, descending=False, stable=False):
    return input.argsort(dim=dim, descending=descending)


def gather(input, dim, index):
    return input.gather(dim, index)


def masked_fill(input, mask, value):
    return input.masked_fill(mask, value)


def allclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False):
    return bool(np.allclose(np.asarray(input), np.asarray(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False):
    return Tensor(np.isclose(np.asarray(input), np.asarray(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input, other):
    return input.shape == other.shape and bool((input.numpy() == other.numpy()).all())


# ---- shape ---------------------------------------------------------------------------------
def flatten(input, start_dim=0, end_dim=-1):
    return input.flatten(start_dim, end_dim)


def reshape(input, shape):
    return input.reshape(shape)


def squeeze(input, dim=None):
    return input.squeeze(dim)


def unsqueeze(input, dim):
    return input.unsqueeze(dim)


def transpose(input, dim0, dim1):
    return input.transpose(dim0, dim1)


def permute(input, dims):
    return input.permute(dims)


def t(input):
    return input.t()


def chunk(input, chunks, dim=0):
    return input.chunk(chunks, dim)


def split(input, split_size_or_sections, dim=0):
    return input.split(split_size_or_sections, dim)


# ---- elementwise -----------------------------------------------------------------------------
def abs(input):
    return input.abs()


def sign(input):
    return input.sign()


def square(input):
    return input * input


def pow(input, exponent):
    return input ** exponent if isinstance(input, Tensor) else _as_tensor_like(input, exponent) ** exponent


def add(input, other, alpha=1):
    return input + (other if alpha == 1 else other * alpha)


def sub(input, other, alpha=1):
    return input - (other if alpha == 1 else other * alpha)


def mul(input, other):
    return input * other


def div(input, other):
    return input / other


def neg(input):
    return -input


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def relu(input):
    return input.relu()


def softmax(input, dim, dtype=None):
    return input.softmax(dim, dtype=dtype)


def log_softmax(input, dim, dtype=None):
    return input.log_softmax(dim, dtype=dtype)


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(input))) over `dim` (an int or a tuple), without overflow; all -inf gives -inf."""
    xp = module_for_device(input.device)
    dims = tuple(d % input.ndim for d in ((dim,) if isinstance(dim, int) else dim))
    m = input._data.max(axis=dims, keepdims=True)
    m = xp.where(xp.isinf(m), 0, m).astype(input.dtype)  # an infinite shift would give inf - inf = nan
    m = Tensor(m)  # a constant shift: exact gradient, no overflow
    with np.errstate(divide="ignore"):  # log(0) of an all -inf slice is -inf, as in PyTorch: not a warning
        out = (input - m).exp().sum(dim=dims, keepdim=True).log() + m
    if keepdim:
        return out
    return out.reshape(tuple(n for i, n in enumerate(out.shape) if i not in dims))


# ---- creation --------------------------------------------------------------------------------
def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    return _placed(np.eye(n, m, dtype=dtype or default_dtype), device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    return _placed(np.linspace(start, end, int(steps), dtype=dtype or default_dtype), device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    """A new tensor of the shape (zero-filled: dlcore hands out no uninitialised memory)."""
    from .tensor import zeros

    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(input, dtype=None, device=None):
    from .tensor import zeros_like

    return zeros_like(input, dtype=dtype, device=device)


def randint(low, high=None, size=None, dtype=None, generator=None, device=None):
    """Integers uniform in [low, high) (``randint(high, size)`` too) from `generator` or dlcore's global one."""
    from .random import default_generator

    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    if high is None or size is None:
        raise TypeError("randint(low=0, high, size) needs high and size")
    gen = generator or default_generator()
    size = (size,) if isinstance(size, int) else tuple(size)
    return _placed(gen.integers(low, high, size=size).astype(dtype or np.int64), device)


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False):
    """base ** linspace(start, end, steps)."""
    values = np.float64(base) ** np.linspace(start, end, int(steps))
    return _placed(values.astype(dtype or default_dtype), device, requires_grad)


def randint_like(input, low=0, high=None, dtype=None, generator=None, device=None):
    """randint with input's shape (``randint_like(x, high)`` too)."""
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=dtype or input.dtype, generator=generator,
                   device=device or input.device)


def poisson(input, generator=None):
    """Samples Poisson(rate) elementwise for the rates in `input` (no gradient, as torch)."""
    from .random import default_generator

    rates = input.numpy() if hasattr(input, "numpy") else np.asarray(input)
    if (rates < 0).any():
        raise ValueError("poisson: rates must be non-negative")
    return _placed((generator or default_generator()).poisson(rates).astype(rates.dtype), input.device)


def randperm(n, dtype=None, generator=None, device=None):
    from .random import default_generator

    return _placed((generator or default_generator()).permutation(int(n)).astype(dtype or np.int64), device)


def normal(mean, std, size, generator=None, dtype=None, device=None):
    from .random import default_generator

    gen = generator or default_generator()
    return _placed(gen.normal(mean, std, size=tuple(size)).astype(dtype or default_dtype), device)


# ---- torch.<name>(tensor, ...) for the Tensor methods of _tensor_math.py ----------------------------
def _as_function(name):
    def function(input, *args, **kwargs):
        return getattr(_t(input), name)(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"``dlcore.{name}(t, ...)`` is ``t.{name}(...)``."
    return function


_METHOD_FUNCTIONS = [
    "acos", "amax", "amin", "asin", "atan", "bmm", "ceil", "clamp_max", "clamp_min", "cos", "cosh", "cumprod",
    "cumsum", "dot", "erf", "exp2", "expm1", "flip", "floor", "frac", "index_select", "inner", "isfinite", "isinf",
    "isnan", "log10", "log1p", "log2", "mm", "movedim", "narrow", "outer", "prod", "reciprocal", "roll", "round",
    "rsqrt", "sin", "sinh", "swapaxes", "tan", "tile", "tril", "triu", "trunc", "unbind",
    # selection, scatter, counting, diagonals, norms, binary elementwise, products, order statistics
    "addmm", "arctan2", "argwhere", "atan2", "baddbmm", "bincount", "count_nonzero", "cross", "cummax", "cummin",
    "diag", "diag_embed", "diagonal", "diff", "fmod", "hypot", "index_add", "index_copy", "index_fill", "kron",
    "lerp", "logaddexp", "logical_and", "logical_not", "logical_or", "logical_xor", "masked_select", "median",
    "nan_to_num", "nonzero", "norm", "remainder", "scatter", "scatter_add", "take", "tensor_split", "trace",
    "unique",
    # the methods of _tensor_more.py that torch also has as torch.<name>
    "absolute", "acosh", "addcdiv", "addcmul", "addmv", "addr", "aminmax", "arccos", "arccosh", "arcsin", "arcsinh",
    "arctan", "arctanh", "asinh", "atanh", "broadcast_to", "copysign", "deg2rad", "dist", "divide", "dsplit", "erfc",
    "fix", "fliplr", "flipud", "float_power", "fmax", "fmin", "greater", "greater_equal", "hsplit", "less",
    "less_equal", "logaddexp2", "logit", "masked_scatter", "moveaxis", "msort", "multiply", "mv", "nanmean",
    "nansum", "negative", "not_equal", "positive", "rad2deg", "ravel", "rot90", "sgn", "sinc", "subtract",
    "take_along_dim", "true_divide", "unflatten", "vsplit", "xlogy",
    "bernoulli", "corrcoef", "cov", "det", "histc", "inverse", "kthvalue", "logdet", "matrix_exp", "matrix_power",
    "multinomial", "quantile", "renorm", "slogdet",
    "bitwise_and", "bitwise_left_shift", "bitwise_not", "bitwise_or", "bitwise_right_shift", "bitwise_xor", "gcd",
    "heaviside", "index_put", "isneginf", "isposinf", "isreal", "lcm", "ldexp", "logcumsumexp", "nanmedian",
    "narrow_copy", "nextafter", "signbit", "split_with_sizes",
    "addbmm", "adjoint", "conj", "conj_physical", "diagflat", "diagonal_scatter", "floor_divide", "frexp",
    "histogram", "is_conj", "is_neg", "mode", "resolve_conj", "resolve_neg", "select_scatter", "slice_scatter",
    "unique_consecutive", "vdot", "digamma", "erfinv", "lgamma",
]
for _name in _METHOD_FUNCTIONS:
    globals()[_name] = _as_function(_name)
del _name


def repeat_interleave(input, repeats=None, dim=None, output_size=None):
    """``t.repeat_interleave(repeats, dim)``; with one integer tensor of counts, ``repeat_interleave(counts)``
    is ``arange(len(counts)).repeat_interleave(counts)`` (torch's)."""
    input = _t(input)
    if repeats is None:
        from .tensor import arange

        return arange(input.shape[0], device=input.device).repeat_interleave(input, 0)
    return input.repeat_interleave(repeats, dim, output_size)


def vector_norm(x, ord=2, dim=None, keepdim=False, dtype=None):
    """``torch.linalg.vector_norm``: the ord-norm over `dim` (int, tuple or None: all); ord may be inf, -inf, 0."""
    from ._tensor_math import vector_norm as norm_of

    return norm_of(_t(x), ord, dim, keepdim, dtype=dtype)


def cdist(x1, x2, p=2.0):
    """Pairwise p-norm distances between the rows of x1 (.., P, M) and x2 (.., R, M): (.., P, R).
    Differentiable; the gradient at a zero distance is 0, as torch's."""
    from ._tensor_math import cdist as distances

    return distances(_t(x1), _t(x2), p)


def einsum(equation, *operands):
    """Einstein summation over Tensors (``'...'``, implicit output), differentiable in every operand.

    Example:
        >>> a, b = dlcore.randn(2, 3, 4), dlcore.randn(2, 4, 5)
        >>> dlcore.einsum("bij,bjk->bik", a, b).shape
        (2, 3, 5)
    """
    from .ops.math_more import Einsum

    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: at least one operand is needed")
    return Einsum.apply(*[_t(o) for o in operands], equation=str(equation))


__all__ = ["cdist", "einsum", "repeat_interleave", "vector_norm"] + _METHOD_FUNCTIONS + [
    "abs", "add", "allclose", "argmin", "argsort", "chunk", "clamp", "clip", "device", "div", "empty",
    "empty_like", "equal", "eye", "flatten", "gather", "is_tensor", "isclose", "linspace", "log_softmax",
    "logspace", "poisson", "randint_like",
    "logsumexp", "masked_fill", "max", "maximum", "mean", "min", "minimum", "mul", "neg", "normal", "numel",
    "permute", "pow", "randint", "randperm", "relu", "reshape", "sigmoid", "sign", "softmax", "sort", "split",
    "square", "squeeze", "std", "sub", "sum", "t", "tanh", "topk", "transpose", "unsqueeze", "var", "where",
]
