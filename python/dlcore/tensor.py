"""dlcore.Tensor: an array (NumPy, or CuPy on the CUDA path) plus the autograd tape.

A Tensor wraps its array without copying: ``dlcore.from_numpy(a)`` shares
memory with ``a`` and ``t.numpy()`` returns the array itself. Operations
dispatch through ``dlcore.ops`` Functions, which run dlcore.kernels on float32
and the NumPy reference formula on float64 (see ops/_common.py).
"""
from __future__ import annotations

import numbers
from collections import namedtuple

import numpy as np

from .autograd import backward as _run_backward
from .autograd import is_grad_enabled
from .ops import arith, reduce, shape
from .ops._common import array_module

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)
#: The dtype of tensors made from Python floats (as in PyTorch).
default_dtype = float32

MaxResult = namedtuple("MaxResult", ["values", "indices"])


def _is_array(x):
    return isinstance(x, np.ndarray) or type(x).__module__.split(".")[0] == "cupy"


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    Attributes:
        data: the underlying NumPy (or CuPy) array, shared, never copied.
        requires_grad: whether ``backward`` computes a gradient for it.
        grad: a Tensor with the accumulated gradient after ``backward``, else None.
    """

    __array_priority__ = 1000  # so ndarray (op) Tensor defers to Tensor's reflected ops

    def __init__(self, data, requires_grad=False):
        if isinstance(data, Tensor):
            data = data.data
        if not _is_array(data):
            data = np.asarray(data)
        self.data = data
        self.grad = None
        self._node = None
        self._retains_grad = False
        if requires_grad and data.dtype.kind not in "fc":
            raise TypeError(f"only floating-point tensors can require grad, got {data.dtype}")
        self.requires_grad = bool(requires_grad)

    # ---- basic properties -------------------------------------------------
    @property
    def shape(self):
        return tuple(self.data.shape)

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def device(self):
        return "cpu" if isinstance(self.data, np.ndarray) else "cuda"

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self):
        return self.ndim

    def numel(self):
        return int(self.data.size)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        body = np.array2string(self.numpy(), separator=", ", precision=4, prefix="tensor(")
        extra = "" if self.dtype == float32 or self.dtype == int64 else f", dtype={self.dtype}"
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"tensor({body}{extra}{grad})"

    # ---- conversion -------------------------------------------------------
    def numpy(self):
        """The array itself for NumPy-backed tensors (zero-copy); a host copy for CuPy ones."""
        if isinstance(self.data, np.ndarray):
            return self.data
        return self.data.get()

    def item(self):
        return self.data.item()

    def tolist(self):
        return self.numpy().tolist()

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def __dlpack__(self, *args, **kwargs):
        return self.data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self.data.__dlpack_device__()

    def detach(self):
        """A tensor sharing this data, outside the tape."""
        return Tensor(self.data)

    def clone(self):
        return _unary(arith.Mul, self, 1) if self.requires_grad else Tensor(self.data.copy())

    def astype(self, dtype):
        """Converted copy (no gradient flows through a dtype change; use for leaf data)."""
        return Tensor(self.data.astype(dtype), requires_grad=self.requires_grad and np.dtype(dtype).kind == "f")

    to = astype

    def float(self):
        return self.astype(float32)

    def double(self):
        return self.astype(float64)

    def long(self):
        return self.astype(int64)

    def requires_grad_(self, flag=True):
        self.requires_grad = bool(flag)
        return self

    def retain_grad(self):
        """Keep .grad on this non-leaf tensor after backward."""
        self._retains_grad = True
        return self

    # ---- autograd ---------------------------------------------------------
    def backward(self, gradient=None):
        """Computes gradients of this tensor w.r.t. every leaf that requires grad.

        `gradient` defaults to 1 for a single-element tensor.
        """
        if not self.requires_grad:
            raise RuntimeError("backward on a tensor that does not require grad (no recorded graph)")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward needs a gradient for a non-scalar tensor of shape {self.shape}")
            g = array_module(self.data).ones(self.shape, dtype=self.dtype)
        else:
            g = gradient.data if isinstance(gradient, Tensor) else array_module(self.data).asarray(gradient)
            if g.shape != self.shape:
                raise ValueError(f"gradient shape {g.shape} does not match tensor shape {self.shape}")
            g = g.astype(self.dtype, copy=False)
        _run_backward(self, g)

    # ---- in-place updates (outside the tape: parameter init and optimizers) ----
    def _check_inplace(self):
        if self.requires_grad and self.is_leaf and is_grad_enabled():
            raise RuntimeError("in-place change of a leaf tensor that requires grad; wrap it in dlcore.no_grad()")

    def copy_(self, other):
        self._check_inplace()
        src = other.data if isinstance(other, Tensor) else other
        self.data[...] = src
        return self

    def fill_(self, value):
        self._check_inplace()
        self.data[...] = value
        return self

    def zero_(self):
        return self.fill_(0)

    # ---- arithmetic -------------------------------------------------------
    def __add__(self, other):
        return _binary(arith.Add, self, other)

    def __radd__(self, other):
        return _binary(arith.Add, other, self)

    def __sub__(self, other):
        return _binary(arith.Sub, self, other)

    def __rsub__(self, other):
        return _binary(arith.Sub, other, self)

    def __mul__(self, other):
        return _binary(arith.Mul, self, other)

    def __rmul__(self, other):
        return _binary(arith.Mul, other, self)

    def __truediv__(self, other):
        return _binary(arith.Div, self, other)

    def __rtruediv__(self, other):
        return _binary(arith.Div, other, self)

    def __matmul__(self, other):
        return arith.MatMul.apply(self, _as_tensor_like(other, self))

    def __rmatmul__(self, other):
        return arith.MatMul.apply(_as_tensor_like(other, self), self)

    def __pow__(self, other):
        return _binary(arith.Pow, self, other)

    def __rpow__(self, other):
        return _binary(arith.Pow, other, self)

    def __neg__(self):
        return arith.Neg.apply(self)

    def __pos__(self):
        return self

    def add(self, other):
        return self + other

    def sub(self, other):
        return self - other

    def mul(self, other):
        return self * other

    def div(self, other):
        return self / other

    def matmul(self, other):
        return self @ other

    def pow(self, other):
        return self ** other

    def neg(self):
        return -self

    def exp(self):
        return arith.Exp.apply(self)

    def log(self):
        return arith.Log.apply(self)

    def sqrt(self):
        return arith.Sqrt.apply(self)

    def abs(self):
        return arith.Abs.apply(self)

    __abs__ = abs

    # ---- comparisons (results are bool tensors, outside the tape) ----------
    def _compare(self, other, op):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor(op(self.data, other))

    def __eq__(self, other):
        return self._compare(other, lambda a, b: a == b)

    def __ne__(self, other):
        return self._compare(other, lambda a, b: a != b)

    def __lt__(self, other):
        return self._compare(other, lambda a, b: a < b)

    def __le__(self, other):
        return self._compare(other, lambda a, b: a <= b)

    def __gt__(self, other):
        return self._compare(other, lambda a, b: a > b)

    def __ge__(self, other):
        return self._compare(other, lambda a, b: a >= b)

    __hash__ = object.__hash__

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.data.size} elements is ambiguous")
        return bool(self.data)

    def eq(self, other):
        return self == other

    def argmax(self, dim=None, keepdim=False):
        xp = array_module(self.data)
        if dim is None:
            return Tensor(xp.argmax(self.data).astype(np.int64))
        out = xp.argmax(self.data, axis=dim).astype(np.int64)
        return Tensor(xp.expand_dims(out, dim) if keepdim else out)

    # ---- reductions -------------------------------------------------------
    def sum(self, dim=None, keepdim=False):
        return reduce.Sum.apply(self, dim=dim, keepdim=keepdim)

    def mean(self, dim=None, keepdim=False):
        return reduce.Mean.apply(self, dim=dim, keepdim=keepdim)

    def max(self, dim=None, keepdim=False):
        """Max of all elements, or ``(values, indices)`` along `dim` (like torch.max)."""
        if dim is None:
            return reduce.Max.apply(self)
        values, node = reduce.Max.apply_with_node(self, dim=dim, keepdim=keepdim)
        indices = node.indices if keepdim else node.indices.squeeze(node.dim)
        return MaxResult(values, Tensor(indices.astype(np.int64)))

    def min(self, dim=None, keepdim=False):
        if dim is None:
            return -(-self).max()
        values, indices = (-self).max(dim=dim, keepdim=keepdim)
        return MaxResult(-values, indices)

    # ---- shape ------------------------------------------------------------
    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape
        return shape_op(shape)(self)

    def view(self, *shape):
        """Same as reshape; dlcore does not distinguish views (reshape copies only when it must)."""
        return self.reshape(*shape)

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        start, end = start_dim % self.ndim, end_dim % self.ndim
        new = self.shape[:start] + (-1,) + self.shape[end + 1:]
        return self.reshape(new) if self.numel() else self.reshape(self.shape[:start] + (0,) + self.shape[end + 1:])

    def permute(self, *axes):
        axes = axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes
        if sorted(a % self.ndim for a in axes) != list(range(self.ndim)):
            raise ValueError(f"permute: {tuple(axes)} is not a permutation of {self.ndim} dims")
        return shape.Permute.apply(self, tuple(axes))

    def transpose(self, dim0, dim1):
        axes = list(range(self.ndim))
        axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
        return self.permute(axes)

    def t(self):
        return self.transpose(0, 1)

    def unsqueeze(self, dim):
        dim = dim % (self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        dim = dim % self.ndim
        if self.shape[dim] != 1:
            return self
        return self.reshape(self.shape[:dim] + self.shape[dim + 1:])

    def expand(self, *shape):
        shape = shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape
        shape = tuple(o if n == -1 else n for n, o in zip(shape, (None,) * (len(shape) - self.ndim) + self.shape))
        return shape_module.Expand.apply(self, shape)

    def contiguous(self):
        return self

    def __getitem__(self, index):
        return shape.GetItem.apply(self, _unwrap_index(index))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    # ---- activations as methods (PyTorch style) ----------------------------
    def relu(self):
        from .nn import functional as F

        return F.relu(self)

    def sigmoid(self):
        from .nn import functional as F

        return F.sigmoid(self)

    def tanh(self):
        from .nn import functional as F

        return F.tanh(self)

    def softmax(self, dim):
        from .nn import functional as F

        return F.softmax(self, dim=dim)

    def log_softmax(self, dim):
        from .nn import functional as F

        return F.log_softmax(self, dim=dim)


shape_module = shape


def shape_op(new_shape):
    new_shape = tuple(int(n) for n in new_shape)

    def apply(t):
        return shape.Reshape.apply(t, new_shape)

    return apply


def _unwrap_index(index):
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _as_tensor_like(value, like):
    """Python numbers and arrays become tensors of `like`'s dtype (so float32 stays float32)."""
    if isinstance(value, Tensor):
        return value
    xp = array_module(like.data)
    if isinstance(value, numbers.Number) or (_is_array(value) and value.dtype.kind != like.dtype.kind):
        return Tensor(xp.asarray(value, dtype=like.dtype))
    return Tensor(xp.asarray(value))


def _binary(fn, a, b):
    if isinstance(a, Tensor):
        b = _as_tensor_like(b, a)
    else:
        a = _as_tensor_like(a, b)
    return fn.apply(a, b)


def _unary(fn, a, b):
    return _binary(fn, a, b)


# ---- construction -----------------------------------------------------------
def tensor(data, dtype=None, requires_grad=False):
    """A new tensor holding a copy of `data` (lists, scalars, arrays, tensors).

    Python floats give float32 (like PyTorch), Python ints int64; arrays keep
    their dtype unless `dtype` is given.
    """
    if isinstance(data, Tensor):
        data = data.data
    if _is_array(data):
        arr = data.astype(dtype) if dtype is not None else data.copy()
    else:
        arr = np.array(data)
        if dtype is not None:
            arr = arr.astype(dtype)
        elif arr.dtype == np.float64:
            arr = arr.astype(default_dtype)
    return Tensor(arr, requires_grad=requires_grad)


def from_numpy(array):
    """A tensor sharing memory with `array` (no copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def as_tensor(data, dtype=None):
    """A tensor sharing memory with `data` when it is an array of the right dtype; else a copy."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == dtype):
        return data
    if _is_array(data) and (dtype is None or data.dtype == dtype):
        return Tensor(data)
    return tensor(data, dtype=dtype)


def from_dlpack(obj):
    """A tensor sharing memory with any DLPack producer (NumPy, CuPy, PyTorch, another dlcore tensor).

    CPU producers give NumPy-backed tensors, CUDA producers CuPy-backed ones.
    """
    device_type = obj.__dlpack_device__()[0] if hasattr(obj, "__dlpack_device__") else 1
    if int(device_type) == 1:  # kDLCPU
        return Tensor(np.from_dlpack(obj))
    import cupy

    return Tensor(cupy.from_dlpack(obj))


def _shape_arg(shape):
    return tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else tuple(shape)


def zeros(*shape, dtype=None, requires_grad=False):
    return Tensor(np.zeros(_shape_arg(shape), dtype=dtype or default_dtype), requires_grad=requires_grad)


def ones(*shape, dtype=None, requires_grad=False):
    return Tensor(np.ones(_shape_arg(shape), dtype=dtype or default_dtype), requires_grad=requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False):
    return Tensor(np.full(tuple(shape), fill_value, dtype=dtype or default_dtype), requires_grad=requires_grad)


def zeros_like(t, dtype=None):
    return Tensor(array_module(t.data).zeros(t.shape, dtype=dtype or t.dtype))


def ones_like(t, dtype=None):
    return Tensor(array_module(t.data).ones(t.shape, dtype=dtype or t.dtype))


def randn(*shape, dtype=None, requires_grad=False, generator=None):
    """Standard-normal samples from `generator` (a numpy Generator) or dlcore's global one."""
    from .random import default_generator

    gen = generator or default_generator()
    data = gen.standard_normal(_shape_arg(shape)).astype(dtype or default_dtype)
    return Tensor(data, requires_grad=requires_grad)


def rand(*shape, dtype=None, requires_grad=False, generator=None):
    from .random import default_generator

    gen = generator or default_generator()
    return Tensor(gen.random(_shape_arg(shape)).astype(dtype or default_dtype), requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None):
    if end is None:
        start, end = 0, start
    floats = any(isinstance(v, float) for v in (start, end, step))
    arr = np.arange(start, end, step, dtype=dtype or (default_dtype if floats else np.int64))
    return Tensor(arr)


def cat(tensors, dim=0):
    """Concatenation along an existing dim."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    return shape.Cat.apply(*tensors, dim=dim)


def stack(tensors, dim=0):
    """Stacking along a new dim."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    return shape.Stack.apply(*tensors, dim=dim)


def exp(t):
    return t.exp()


def log(t):
    return t.log()


def sqrt(t):
    return t.sqrt()


def matmul(a, b):
    return a @ b


def argmax(t, dim=None, keepdim=False):
    return t.argmax(dim=dim, keepdim=keepdim)
