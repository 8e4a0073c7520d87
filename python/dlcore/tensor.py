"""dlcore.Tensor: an array (NumPy, or CuPy on the CUDA path) plus the autograd tape.

A Tensor wraps its array without copying: ``dlcore.from_numpy(a)`` shares
memory with ``a`` and ``t.numpy()`` returns the array itself. Operations
dispatch through ``dlcore.ops`` Functions, which run dlcore.kernels on float32
and the NumPy reference formula on float64 (see ops/_common.py).

Devices (see _device.py): a tensor is on "cpu" (NumPy array) or "cuda" (CuPy
array); ``t.to("cuda")``, ``t.cuda()`` and ``t.cpu()`` copy it across, as an
autograd op. Every op runs where its inputs are, on the same code: the
kernels dispatch on the array type. Inputs on two devices raise.
"""
from __future__ import annotations

import numbers
from collections import namedtuple

import numpy as np

from ._device import array_like, array_to, check_same_device, device_of, is_array, module_for_device, parse_device
from .autograd import backward as _run_backward
from .autograd import is_grad_enabled, no_grad
from .ops import arith, reduce, shape
from .ops._common import array_module
from .ops.copy import ToCopy
from . import amp as _amp

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)
#: The dtype of tensors made from Python floats (as in PyTorch).
default_dtype = float32

MaxResult = namedtuple("MaxResult", ["values", "indices"])


_is_array = is_array


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
        if requires_grad and not _is_floating(data.dtype):
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
        """"cpu" (a NumPy array) or "cuda" (a CuPy array)."""
        return device_of(self.data)

    @property
    def is_cuda(self):
        return self.device == "cuda"

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
        if self.device == "cuda":
            extra += ", device='cuda:0'"
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"tensor({body}{extra}{grad})"

    # ---- conversion -------------------------------------------------------
    def numpy(self):
        """The array itself for NumPy-backed tensors (zero-copy); a host copy for CuPy (cuda) ones."""
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
        """Converted copy as a new leaf (no gradient flows back; ``to(dtype)`` is the differentiable one)."""
        return Tensor(self.data.astype(dtype), requires_grad=self.requires_grad and np.dtype(dtype).kind == "f")

    def to(self, *args, **kwargs):
        """This tensor on another device and/or with another dtype, PyTorch's ``Tensor.to``.

        Forms: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(other)``
        (other's device and dtype), with keywords ``device=``, ``dtype=``,
        ``copy=False`` and ``non_blocking`` (accepted, ignored: copies are
        synchronous). Devices are "cpu", "cuda" or "cuda:0".

        Returns ``self`` when nothing changes (unless ``copy=True``). Otherwise
        the copy is recorded on the tape: the gradient flows back to this
        tensor's device and dtype (not for integer/bool results, which cannot
        carry gradients). Moving to "cuda" without a usable GPU, CUDA backend
        or CuPy raises ``dlcore.BackendUnavailableError`` with the reason.

        Example:
            >>> w = dlcore.randn(3, requires_grad=True)
            >>> (w.to("cuda") * 2).sum().backward()   # w.grad is a CPU tensor of 2s
        """
        device, dtype, copy = _to_arguments(args, kwargs)
        device = self.device if device is None else parse_device(device)
        dtype = self.dtype if dtype is None else np.dtype(dtype)
        if device == self.device and dtype == self.dtype and not copy:
            return self
        if not _is_floating(dtype):  # integer/bool results leave the tape, as in PyTorch
            with no_grad():
                return ToCopy.apply(self, device, dtype)
        return ToCopy.apply(self, device, dtype)

    def cuda(self, device=None):
        """``to("cuda")``: self when already on the GPU."""
        return self.to("cuda" if device is None else device)

    def cpu(self):
        """``to("cpu")``: self when already on the CPU (NumPy)."""
        return self.to("cpu")

    def float(self):
        return self.to(float32)

    def double(self):
        return self.to(float64)

    def bfloat16(self):
        """``to(dlcore.bfloat16)``: a bfloat16 copy on the tape (its gradient flows back as this dtype)."""
        return self.to(_amp.require_bfloat16())

    def long(self):
        return self.to(int64)

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
            g = gradient.data if isinstance(gradient, Tensor) else array_like(gradient, self.data)
            check_same_device("backward: gradient and tensor", (self.data, g))
            if g.shape != self.shape:
                raise ValueError(f"gradient shape {g.shape} does not match tensor shape {self.shape}")
            g = g.astype(self.dtype, copy=False)
        _run_backward(self, g)

    # ---- in-place updates (outside the tape: parameter init and optimizers) ----
    def _check_inplace(self):
        if self.requires_grad and self.is_leaf and is_grad_enabled():
            raise RuntimeError("in-place change of a leaf tensor that requires grad; wrap it in dlcore.no_grad()")

    def copy_(self, other):
        """Writes `other`'s values into this tensor's array; copies across devices, as PyTorch does."""
        self._check_inplace()
        src = other.data if isinstance(other, Tensor) else other
        self.data[...] = array_to(src, self.device) if is_array(src) else src
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
        return _matmul(self, _as_tensor_like(other, self))

    def __rmatmul__(self, other):
        return _matmul(_as_tensor_like(other, self), self)

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
        check_same_device("comparison", (self.data, other))
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
        return shape.GetItem.apply(self, _unwrap_index(index, self.data))

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


def _unwrap_index(index, data):
    """Tensor and list indices -> arrays on `data`'s device (a CPU index may select from a GPU tensor)."""
    def one(i):
        if isinstance(i, Tensor):
            i = i.data
        elif isinstance(i, list):
            i = np.asarray(i)
        return array_to(i, device_of(data)) if is_array(i) else i

    return tuple(one(i) for i in index) if isinstance(index, tuple) else one(index)


def _to_arguments(args, kwargs):
    """Tensor.to / Module.to arguments -> (device or None, dtype or None, copy)."""
    unknown = set(kwargs) - {"device", "dtype", "copy", "non_blocking"}
    if unknown:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(unknown)}")
    device, dtype = kwargs.get("device"), kwargs.get("dtype")
    for arg in args:
        if isinstance(arg, Tensor):
            device, dtype = arg.device, arg.dtype
        elif isinstance(arg, str):
            device = arg
        elif arg is not None:
            try:
                dtype = np.dtype(arg)
            except TypeError:
                raise TypeError(f"to() expects a device string, a dtype or a Tensor, got {arg!r}") from None
    return device, dtype, bool(kwargs.get("copy", False))


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
# Every creation function takes device= ("cpu" by default, like PyTorch). Random
# ones draw on the host from dlcore's generator and then copy, so a seed gives
# the same numbers on every device (CPU and GPU runs start from equal weights).
def _placed(array, device, requires_grad=False):
    """A tensor of `array` moved to `device` (None: where the array is)."""
    if device is not None:
        array = array_to(array, device)
    return Tensor(array, requires_grad=requires_grad)


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new tensor holding a copy of `data` (lists, scalars, arrays, tensors).

    Python floats give float32 (like PyTorch), Python ints int64; arrays keep
    their dtype unless `dtype` is given, and their device unless `device` is.
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
    return _placed(arr, device, requires_grad)


def from_numpy(array):
    """A tensor sharing memory with `array` (no copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def as_tensor(data, dtype=None, device=None):
    """A tensor sharing memory with `data` when it is an array of the right dtype and device; else a copy."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    same_device = device is None or device_of(data) == parse_device(device)
    if _is_array(data) and (dtype is None or data.dtype == dtype) and same_device:
        return Tensor(data)
    return tensor(data, dtype=dtype, device=device)


def from_dlpack(obj):
    """A tensor sharing memory with any DLPack producer (NumPy, CuPy, PyTorch, another dlcore tensor).

    CPU producers give NumPy-backed tensors, CUDA producers CuPy-backed ones.
    """
    device_type = obj.__dlpack_device__()[0] if hasattr(obj, "__dlpack_device__") else 1
    if int(device_type) == 1:  # kDLCPU
        return Tensor(np.from_dlpack(obj))
    return Tensor(module_for_device("cuda").from_dlpack(obj))


def _shape_arg(shape):
    return tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else tuple(shape)


def zeros(*shape, dtype=None, requires_grad=False, device=None):
    xp = module_for_device("cpu" if device is None else device)
    return Tensor(xp.zeros(_shape_arg(shape), dtype=dtype or default_dtype), requires_grad=requires_grad)


def ones(*shape, dtype=None, requires_grad=False, device=None):
    xp = module_for_device("cpu" if device is None else device)
    return Tensor(xp.ones(_shape_arg(shape), dtype=dtype or default_dtype), requires_grad=requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False, device=None):
    xp = module_for_device("cpu" if device is None else device)
    return Tensor(xp.full(tuple(shape), fill_value, dtype=dtype or default_dtype), requires_grad=requires_grad)


def _like(t, device):
    """The array module for a tensor made like `t` (on `t`'s device unless `device` is given)."""
    return module_for_device(device or t.device)


def zeros_like(t, dtype=None, device=None):
    return Tensor(_like(t, device).zeros(t.shape, dtype=dtype or t.dtype))


def ones_like(t, dtype=None, device=None):
    return Tensor(_like(t, device).ones(t.shape, dtype=dtype or t.dtype))


def full_like(t, fill_value, dtype=None, device=None):
    return Tensor(_like(t, device).full(t.shape, fill_value, dtype=dtype or t.dtype))


def randn(*shape, dtype=None, requires_grad=False, generator=None, device=None):
    """Standard-normal samples from `generator` (a numpy Generator) or dlcore's global one."""
    from .random import default_generator

    gen = generator or default_generator()
    data = gen.standard_normal(_shape_arg(shape)).astype(dtype or default_dtype)
    return _placed(data, device, requires_grad)


def rand(*shape, dtype=None, requires_grad=False, generator=None, device=None):
    """Uniform [0, 1) samples from `generator` (a numpy Generator) or dlcore's global one."""
    from .random import default_generator

    gen = generator or default_generator()
    return _placed(gen.random(_shape_arg(shape)).astype(dtype or default_dtype), device, requires_grad)


def randn_like(t, dtype=None, generator=None, device=None):
    """randn of `t`'s shape, dtype and device (the numbers drawn on the host, as randn's)."""
    return randn(t.shape, dtype=dtype or t.dtype, generator=generator, device=device or t.device)


def rand_like(t, dtype=None, generator=None, device=None):
    return rand(t.shape, dtype=dtype or t.dtype, generator=generator, device=device or t.device)


def arange(start, end=None, step=1, dtype=None, device=None):
    if end is None:
        start, end = 0, start
    floats = any(isinstance(v, float) for v in (start, end, step))
    xp = module_for_device("cpu" if device is None else device)
    return Tensor(xp.arange(start, end, step, dtype=dtype or (default_dtype if floats else np.int64)))


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


def _matmul(a, b):
    """a @ b on the tape; 2-D float32 operands under dlcore.autocast run in bfloat16."""
    if a.ndim == 2 and b.ndim == 2 and _amp.autocast_applies("matmul", a.data, b.data):
        from .ops.amp import MatMulBf16

        return MatMulBf16.apply(a, b)
    return arith.MatMul.apply(a, b)


def _is_floating(dtype) -> bool:
    """float16/32/64, complex, and bfloat16 (ml_dtypes, NumPy kind 'V')."""
    return np.dtype(dtype).kind in "fc" or _amp.is_bfloat16(dtype)


def argmax(t, dim=None, keepdim=False):
    return t.argmax(dim=dim, keepdim=keepdim)
