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

import importlib
import numbers
import sys
from collections import namedtuple

import numpy as np

from . import amp as _amp
from ._device import array_like, array_to, check_same_device, device_of, is_array, module_for_device, parse_device
from ._tensor_math import TensorMathMethods
from ._tensor_more import TensorMoreMethods
from .autograd import is_grad_enabled, no_grad
from .autograd.function import backward as _run_backward
from .ops import arith, reduce, select, shape
from .ops._common import array_module
from .ops.copy import ToCopy
from .random import default_generator

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)
#: The dtype of tensors made from Python floats (as in PyTorch).
default_dtype = float32
#: How Tensor reprs print (dlcore.set_printoptions): NumPy's array2string arguments of the same names.
print_options = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}

MaxResult = namedtuple("MaxResult", ["values", "indices"])
SortResult = namedtuple("SortResult", ["values", "indices"])


_is_array = is_array


def _get_data(tensor):
    """``t.data``: a Tensor on the same storage, detached from the tape, with its own version counter (as in
    PyTorch: changes made through it are invisible to autograd). Library code uses ``t._data``, the array."""
    return Tensor(tensor._data)


def _set_data(tensor, value):
    """``t.data = value`` stores an array: a Tensor value gives its array (shared storage, as PyTorch's
    ``p.data = t``), other data goes through NumPy."""
    if isinstance(value, Tensor):
        value = value._data
    elif not _is_array(value):
        value = np.asarray(value)
    tensor._data = value


def _loaded(name):
    """dlcore module `name` (dlcore.nn.functional, dlcore.functions: they import this module, so not at the top).
    A function-level import statement would run the import machinery on every call: 3.3 us (Python 3.11)."""
    module = sys.modules.get(name)
    if module is None:  # pragma: no cover - `import dlcore` imports them
        module = importlib.import_module(name)
    return module


def _legacy_constructor_array(data, size):
    """The array of ``Tensor(data)`` / ``Tensor(*size)`` for data that is not an array, as torch.Tensor (the legacy
    float constructor): Python sequences and numbers give the default float dtype (torch.Tensor([1, 2]) is
    float32, unlike dlcore.tensor([1, 2])), ints alone are a shape (zeros here; torch leaves it uninitialized),
    no argument an empty (0,) tensor. NumPy scalars keep their dtype: the ops wrap their 0-d results this way.

    Arrays and Tensors never get here and keep their dtype (torch.Tensor(float64 array) gives float32): the
    library wraps its arrays with Tensor(array), zero-copy, masks and indices included."""
    if data is None and not size:
        return np.empty((0,), dtype=default_dtype)
    if isinstance(data, np.generic):
        if size:
            raise TypeError(f"Tensor(scalar, *size): sizes follow an int, not a {type(data).__name__}")
        return np.asarray(data)
    if _is_python_int(data) and all(_is_python_int(n) for n in size):
        shape = (data,) + size
        if min(shape) < 0:
            raise ValueError(f"Tensor(*size): negative dimension in {shape}")
        return np.zeros(shape, dtype=default_dtype)
    if size:
        raise TypeError(f"Tensor(*size) takes ints only, got {(data,) + size}")
    array = np.asarray(data)
    if array.dtype.kind not in "biuf" and not _amp.is_bfloat16(array.dtype):
        raise TypeError(f"Tensor: could not make a tensor of numbers from {type(data).__name__} data "
                        f"(NumPy dtype {array.dtype})")
    return array.astype(default_dtype) if array.dtype.kind in "biuf" else array


def _is_python_int(value):
    return isinstance(value, int) and not isinstance(value, (bool, np.generic))


#: The version of a tensor never modified in place; the first in-place op (or a view or detach that must
#: share the counter) gives the tensor its own list, so creating tensors costs nothing extra.
_NEVER_MODIFIED = (0,)


class Tensor(TensorMathMethods, TensorMoreMethods):
    """An n-dimensional array that records the operations applied to it.

    Attributes:
        data: a detached Tensor sharing this tensor's storage (``t._data`` is the NumPy or CuPy array).
        requires_grad: whether ``backward`` computes a gradient for it.
        grad: a Tensor with the accumulated gradient after ``backward``, else None.
    """

    __array_priority__ = 1000  # so ndarray (op) Tensor defers to Tensor's reflected ops
    data = property(_get_data, _set_data, doc="a detached Tensor sharing this storage (as PyTorch's .data)")
    _version = _NEVER_MODIFIED
    #: {handle id: fn} of register_hook (None until the first hook: no cost on the hot path)
    _hooks = None
    #: (base, view node) once this view of `base` has been changed in place on the tape (its own node is then
    #: the in-place op's): later in-place ops must reach the base too
    _view_of = None

    def __init__(self, data=None, *size, requires_grad=False):
        if isinstance(data, Tensor):
            data = data._data
        elif not _is_array(data):
            data = _legacy_constructor_array(data, size)
        elif size:
            raise TypeError(f"Tensor(array, *size): sizes follow an int, not an array ({size})")
        self._data = data
        self.grad = None
        self._node = None
        self._retains_grad = False
        if requires_grad and not _is_floating(data.dtype):
            raise TypeError(f"only floating-point tensors can require grad, got {data.dtype}")
        self.requires_grad = bool(requires_grad)

    # ---- basic properties -------------------------------------------------
    @property
    def shape(self):
        return tuple(self._data.shape)

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def ndim(self):
        return self._data.ndim

    def _version_counter(self):
        """This tensor's version counter (a one-element list, created on first need): in-place ops bump it,
        views and detach() share it, and autograd compares it with what each node recorded."""
        v = self._version
        if v is _NEVER_MODIFIED:
            v = self._version = [0]
        return v

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def device(self):
        """"cpu" (a NumPy array) or "cuda" (a CuPy array)."""
        return device_of(self._data)

    @property
    def is_cuda(self):
        return self.device == "cuda"

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self):
        return self.ndim

    def numel(self):
        return int(self._data.size)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        opts = print_options
        suppress = None if opts["sci_mode"] is None else not opts["sci_mode"]
        body = np.array2string(self.numpy(), separator=", ", precision=opts["precision"], prefix="tensor(",
                               threshold=opts["threshold"], edgeitems=opts["edgeitems"],
                               max_line_width=opts["linewidth"], suppress_small=suppress,
                               floatmode=None if opts["sci_mode"] is None else ("fixed" if suppress else "maxprec"))
        extra = "" if self.dtype == float32 or self.dtype == int64 else f", dtype={self.dtype}"
        if self.device == "cuda":
            extra += ", device='cuda:0'"
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"tensor({body}{extra}{grad})"

    # ---- conversion -------------------------------------------------------
    def numpy(self):
        """The array itself for NumPy-backed tensors (zero-copy); a host copy for CuPy (cuda) ones."""
        if isinstance(self._data, np.ndarray):
            return self._data
        return self._data.get()

    def item(self):
        return self._data.item()

    def tolist(self):
        return self.numpy().tolist()

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def __dlpack__(self, *args, **kwargs):
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def detach(self):
        """A tensor sharing this data (and its version counter), outside the tape."""
        t = Tensor(self._data)
        t._version = self._version_counter()
        return t

    def clone(self):
        return _unary(arith.Mul, self, 1) if self.requires_grad else Tensor(self._data.copy())

    def astype(self, dtype):
        """Converted copy as a new leaf (no gradient flows back; ``to(dtype)`` is the differentiable one)."""
        return Tensor(self._data.astype(dtype), requires_grad=self.requires_grad and np.dtype(dtype).kind == "f")

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
            >>> (w.to("cuda") * 2).sum().backward()  # doctest: +SKIP
            >>> # (needs a GPU) w.grad is then a CPU tensor of 2s
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
    def register_post_accumulate_grad_hook(self, hook):
        """Calls ``hook(self)`` after each backward pass has accumulated this leaf's gradient into ``.grad``.

        All of the pass's contributions are summed first, so the hook sees the
        final gradient (DistributedDataParallel starts its all-reduce here).
        Returns a handle whose ``remove()`` unregisters the hook.
        """
        from .autograd.hooks import register_post_accumulate_grad_hook

        return register_post_accumulate_grad_hook(self, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Computes gradients of this tensor w.r.t. every leaf that requires grad.

        `gradient` defaults to 1 for a single-element tensor. ``retain_graph``
        keeps the tape for another backward (default: ``create_graph``);
        ``create_graph`` records the backward pass, so the ``.grad`` it leaves
        can be differentiated again (see ``dlcore.autograd.grad``). ``inputs``
        (tensors): accumulate into their ``.grad`` only, as PyTorch.
        """
        if inputs is not None:
            from .autograd.api import backward as autograd_backward

            return autograd_backward(self, gradient, retain_graph, create_graph, inputs=inputs)
        if not self.requires_grad:
            raise RuntimeError("backward on a tensor that does not require grad (no recorded graph)")
        if gradient is None:
            if self._data.size != 1:
                raise RuntimeError(f"backward needs a gradient for a non-scalar tensor of shape {self.shape}")
            g = array_module(self._data).ones(self.shape, dtype=self.dtype)
        else:
            g = gradient._data if isinstance(gradient, Tensor) else array_like(gradient, self._data)
            check_same_device("backward: gradient and tensor", (self._data, g))
            if g.shape != self.shape:
                raise ValueError(f"gradient shape {g.shape} does not match tensor shape {self.shape}")
            g = g.astype(self.dtype, copy=False)
        if create_graph:
            g = gradient if isinstance(gradient, Tensor) else Tensor(g)
        _run_backward(self, g, retain_graph=create_graph if retain_graph is None else retain_graph,
                      create_graph=create_graph)

    def register_hook(self, hook):
        """Calls ``hook(grad)`` each time a gradient for this tensor is computed; a Tensor it returns
        replaces the gradient (for leaves before it reaches ``.grad``). Returns a handle with ``remove()``.

        Example:
            >>> x = dlcore.ones(3, requires_grad=True)
            >>> h = x.register_hook(lambda g: g * 2)   # doubles the gradient flowing through x
            >>> (x * 3).sum().backward()
            >>> x.grad.tolist()
            [6.0, 6.0, 6.0]
            >>> h.remove()
        """
        if not callable(hook):
            raise TypeError(f"register_hook expects a callable, got {type(hook).__name__}")
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self._hooks is None:
            self._hooks = {}
        return RemovableHandle(self._hooks, hook)

    # ---- in-place updates (outside the tape: parameter init and optimizers) ----
    def _check_inplace(self):
        if self.requires_grad and self.is_leaf and is_grad_enabled():
            raise RuntimeError("in-place change of a leaf tensor that requires grad; wrap it in dlcore.no_grad()")

    def copy_(self, other):
        """Writes `other`'s values into this tensor's array; copies across devices, as PyTorch does.

        Recorded on the tape when grad mode is on and either side requires grad (`other` then gets
        the gradient); on a leaf that requires grad it raises outside ``dlcore.no_grad()``.
        """
        self._check_inplace()
        if is_grad_enabled() and (self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)):
            src = other if isinstance(other, Tensor) else Tensor(np.asarray(other))
            if src.device != self.device:
                src = src.to(self.device)
            return self._record_inplace(select.CopyInto, src)
        src = other._data if isinstance(other, Tensor) else other
        self._data[...] = array_to(src, self.device) if is_array(src) else src
        self._version_counter()[0] += 1
        return self

    # In-place arithmetic. Outside the tape (no_grad, or nothing requires grad) the array is updated
    # by the ufunc with out= (NumPy's same_kind casting: int_tensor += 0.5 raises, as in PyTorch).
    # On the tape, the out-of-place Function runs on a stand-in for the old value and the result is
    # written back into this tensor's storage, which then continues the graph from that node.
    def _inplace(self, fn, ufunc, other):
        self._check_inplace()
        if is_grad_enabled() and (self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)):
            return self._record_inplace(fn, _as_tensor_like(other, self))
        xp = array_module(self._data)
        o = other._data if isinstance(other, Tensor) else other
        if _is_array(o):
            check_same_device(f"in-place {ufunc}", (self._data, o))
        elif isinstance(o, (list, tuple)):
            o = xp.asarray(o, dtype=self.dtype if np.asarray(o).dtype.kind == "f" else None)
        try:
            getattr(xp, ufunc)(self._data, o, out=self._data, casting="same_kind")
        except TypeError as e:  # numpy's UFuncTypeError (int tensor += float)
            raise RuntimeError(f"in-place {ufunc}: result type of {self.dtype} and "
                               f"{getattr(o, 'dtype', type(o).__name__)} can't be cast to {self.dtype}") from e
        self._version_counter()[0] += 1
        return self

    def _record_inplace(self, fn, *others, **kwargs):
        """Runs ``fn(old_self, *others)`` on the tape and writes the result into this tensor's storage."""
        old = Tensor(self._data if fn in _READS_NO_OLD_VALUE else self._data.copy(), requires_grad=self.requires_grad)
        old._node = self._node  # the old value continues the graph that produced this tensor
        base, view_node = _view_base(self)
        if base is not None and base.is_leaf and base.requires_grad:
            raise RuntimeError("a view of a leaf tensor that requires grad is being used in an in-place operation; "
                               "wrap it in dlcore.no_grad() or clone() the view")
        out = fn.apply(old, *others, **kwargs)
        if out.dtype != self.dtype and not np.can_cast(out.dtype, self.dtype, "same_kind"):
            raise RuntimeError(f"in-place {fn.__name__}: result type {out.dtype} can't be cast to {self.dtype}")
        self._data[...] = out._data
        self._version_counter()[0] += 1
        self._node, self.requires_grad = out._node, out.requires_grad
        if base is not None:
            _rebase_view_base(self, view_node, base)
            self._view_of = (base, view_node)  # still a view of base for the next in-place op
        return self

    def __iadd__(self, other):
        return self._inplace(arith.Add, "add", other)

    def __isub__(self, other):
        return self._inplace(arith.Sub, "subtract", other)

    def __imul__(self, other):
        return self._inplace(arith.Mul, "multiply", other)

    def __itruediv__(self, other):
        return self._inplace(arith.Div, "true_divide", other)

    def add_(self, other, alpha=1):
        return self._inplace(arith.Add, "add", other if alpha == 1 else other * alpha)

    def sub_(self, other, alpha=1):
        return self._inplace(arith.Sub, "subtract", other if alpha == 1 else other * alpha)

    def mul_(self, other):
        return self._inplace(arith.Mul, "multiply", other)

    def div_(self, other):
        return self._inplace(arith.Div, "true_divide", other)

    def clamp_(self, min=None, max=None):
        """Clamps in place (recorded on the tape like the other in-place ops)."""
        self._check_inplace()
        if is_grad_enabled() and self.requires_grad:
            return self._record_inplace(select.Clamp, min, max)
        array_module(self._data).clip(self._data, min, max, out=self._data)
        self._version_counter()[0] += 1
        return self

    clip_ = clamp_

    def __setitem__(self, index, value):
        """``t[index] = value``: writes the storage; on the tape, `value` gets the gradient of the slots."""
        self._check_inplace()
        index = _unwrap_index(index, self._data)
        if is_grad_enabled() and (self.requires_grad or (isinstance(value, Tensor) and value.requires_grad)):
            if _written_through_view(self, index, value):
                return
            self._record_inplace(select.SetItem, _as_tensor_like(value, self), index)
            return
        v = value._data if isinstance(value, Tensor) else value
        if _is_array(v):
            check_same_device("item assignment", (self._data, v))
        self._data[index] = v
        self._version_counter()[0] += 1

    # ---- Python number protocol (one-element tensors, as in PyTorch) ----------
    def _scalar(self, what):
        if self._data.size != 1:
            raise ValueError(f"only one-element tensors can be converted to Python scalars ({what} of a tensor "
                             f"of shape {self.shape})")
        return self._data.item() if self._data.ndim == 0 else self._data.reshape(()).item()

    def __float__(self):
        return float(self._scalar("float()"))

    def __int__(self):
        return int(self._scalar("int()"))

    def __index__(self):
        if self.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors of a single element can be converted to an index, "
                            f"got dtype {self.dtype}")
        return int(self._scalar("index"))

    def __format__(self, spec):
        if self._data.size == 1:
            return format(self._scalar("format"), spec)
        if spec:
            raise TypeError(f"unsupported format string {spec!r} for a tensor of shape {self.shape}")
        return str(self)

    def fill_(self, value):
        self._check_inplace()
        if is_grad_enabled() and self.requires_grad:  # a non-leaf in the graph: recorded as a copy
            return self._record_inplace(select.CopyInto, _as_tensor_like(value, self))
        self._data[...] = value._data if isinstance(value, Tensor) else value
        self._version_counter()[0] += 1
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
        other = other._data if isinstance(other, Tensor) else other
        check_same_device("comparison", (self._data, other))
        return Tensor(op(self._data, other))

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
        if self._data.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self._data.size} elements is ambiguous")
        return bool(self._data)

    def eq(self, other):
        return self == other

    def argmax(self, dim=None, keepdim=False):
        xp = array_module(self._data)
        if dim is None:
            return Tensor(xp.argmax(self._data).astype(np.int64))
        out = xp.argmax(self._data, axis=dim).astype(np.int64)
        return Tensor(xp.expand_dims(out, dim) if keepdim else out)

    # ---- reductions -------------------------------------------------------
    def sum(self, dim=None, keepdim=False):
        return reduce.Sum.apply(self, dim=dim, keepdim=keepdim)

    def mean(self, dim=None, keepdim=False):
        if not _is_floating(self.dtype):  # torch refuses rather than guess the result's dtype
            raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating "
                               f"point or complex dtype. Got: {self.dtype}")
        return reduce.Mean.apply(self, dim=dim, keepdim=keepdim)

    def max(self, dim=None, keepdim=False):
        """Max of all elements, or ``(values, indices)`` along `dim` (like torch.max)."""
        if dim is None:
            return reduce.Max.apply(self)
        dim = _wrap_dim(dim, self.ndim)
        values, node = reduce.Max.apply_with_node(self, dim=dim, keepdim=keepdim)
        indices = node.indices if keepdim else node.indices.squeeze(node.dim)
        return MaxResult(values, Tensor(indices.astype(np.int64)))

    def min(self, dim=None, keepdim=False):
        if not _is_floating(self.dtype):  # nothing to differentiate; negating would wrap uint8 (min of [0, 5])
            return self._min_integer(dim, keepdim)
        if dim is None:
            return -(-self).max()
        values, indices = (-self).max(dim=dim, keepdim=keepdim)
        return MaxResult(-values, indices)

    def _min_integer(self, dim, keepdim):
        if dim is None:
            return Tensor(self._data.min())
        values = Tensor(self._data.min(axis=dim, keepdims=keepdim))
        return MaxResult(values, self.argmin(dim=dim, keepdim=keepdim))

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
        start, end = _wrap_dim(start_dim, self.ndim), _wrap_dim(end_dim, self.ndim)
        merged = 1
        for n in self.shape[start:end + 1]:
            merged *= n
        return self.reshape(self.shape[:start] + (merged,) + self.shape[end + 1:])  # (0, 3, 4) -> (0, 12)

    def permute(self, *axes):
        axes = axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes
        if sorted(a % self.ndim for a in axes) != list(range(self.ndim)):
            raise ValueError(f"permute: {tuple(axes)} is not a permutation of {self.ndim} dims")
        return shape.Permute.apply(self, tuple(axes))

    def transpose(self, dim0, dim1):
        dim0, dim1 = _wrap_dim(dim0, self.ndim), _wrap_dim(dim1, self.ndim)
        axes = list(range(self.ndim))
        axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
        return self.permute(axes)

    def t(self):
        return self.transpose(0, 1)

    def unsqueeze(self, dim):
        dim = _wrap_dim(dim, self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        dim = _wrap_dim(dim, self.ndim)
        if self.ndim == 0 or self.shape[dim] != 1:
            return self
        return self.reshape(self.shape[:dim] + self.shape[dim + 1:])

    def expand(self, *shape):
        shape = shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape
        shape = tuple(o if n == -1 else n for n, o in zip(shape, (None,) * (len(shape) - self.ndim) + self.shape))
        return shape_module.Expand.apply(self, shape)

    def contiguous(self):
        """self when its array is C-contiguous, else a C-contiguous copy (on the tape), as PyTorch: a write
        into x.t().contiguous() must not reach x (it did when this returned the transposed view itself)."""
        if self._data.flags.c_contiguous:
            return self
        return ToCopy.apply(self, self.device)

    def __getitem__(self, index):
        return shape.GetItem.apply(self, _unwrap_index(index, self._data))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    # ---- activations as methods (PyTorch style) ----------------------------
    def relu(self):
        return _loaded("dlcore.nn.functional").relu(self)

    def sigmoid(self):
        return _loaded("dlcore.nn.functional").sigmoid(self)

    def tanh(self):
        return _loaded("dlcore.nn.functional").tanh(self)

    def softmax(self, dim, dtype=None):
        return _loaded("dlcore.nn.functional").softmax(self, dim=dim, dtype=dtype)

    def log_softmax(self, dim, dtype=None):
        return _loaded("dlcore.nn.functional").log_softmax(self, dim=dim, dtype=dtype)

    # ---- more of PyTorch's Tensor API (composed from the recorded ops above) ------------------
    @property
    def grad_fn(self):
        """The node that produced this tensor (None for leaves and tensors outside the tape)."""
        return self._node

    def view_as(self, other):
        return self.reshape(other.shape)

    reshape_as = view_as

    def expand_as(self, other):
        return self.expand(other.shape)

    def type_as(self, other):
        return self.to(other.dtype)

    def int(self):
        return self.to(int32)

    def bool(self):
        return self.to(bool_)

    def nelement(self):
        return self.numel()

    def element_size(self):
        return self.dtype.itemsize

    def is_floating_point(self):
        return self.dtype.kind == "f"

    def is_contiguous(self):
        return bool(self._data.flags.c_contiguous)

    def ne(self, other):
        return self != other

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other

    def all(self, dim=None):
        return Tensor(array_module(self._data).all(self._data, axis=dim))

    def any(self, dim=None):
        return Tensor(array_module(self._data).any(self._data, axis=dim))

    def __invert__(self):
        if self.dtype != bool_:
            return Tensor(~self._data)
        return Tensor(array_module(self._data).logical_not(self._data))

    def __and__(self, other):
        return self._compare(other, lambda a, b: a & b)

    def __or__(self, other):
        return self._compare(other, lambda a, b: a | b)

    def __floordiv__(self, other):
        return self._compare(other, lambda a, b: a // b)

    def __mod__(self, other):
        return self._compare(other, lambda a, b: a % b)

    def argmin(self, dim=None, keepdim=False):
        xp = array_module(self._data)  # not argmax of -self: negation wraps unsigned values
        if dim is None:
            return Tensor(xp.argmin(self._data).astype(np.int64))
        out = xp.argmin(self._data, axis=dim).astype(np.int64)
        return Tensor(xp.expand_dims(out, dim) if keepdim else out)

    def sign(self):
        return Tensor(array_module(self._data).sign(self._data))

    def square(self):
        return self * self

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        if isinstance(min, Tensor) or isinstance(max, Tensor):  # tensor bounds get their gradients too
            return self._clamp_by_tensors(min, max)
        return select.Clamp.apply(self, min, max)

    clip = clamp

    def maximum(self, other):
        return _loaded("dlcore.functions").maximum(self, other)

    def minimum(self, other):
        return _loaded("dlcore.functions").minimum(self, other)

    def masked_fill(self, mask, value):
        """`value` where `mask` (a bool tensor broadcastable to this one) is True."""
        m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
        if m.dtype != bool_:
            raise TypeError(f"masked_fill: mask must be a bool tensor, got {m.dtype}")
        return select.Where.apply(m, _as_tensor_like(value, self), self)

    def var(self, dim=None, unbiased=True, keepdim=False, correction=None):
        dims = reduce.normalize_dims(dim, self.ndim)
        count = 1
        for d in dims:
            count *= self.shape[d]
        correction = (1 if unbiased else 0) if correction is None else correction
        centred = self - self.mean(dim=dims, keepdim=True)
        return (centred * centred).sum(dim=dims, keepdim=keepdim) / float(max(count - correction, 0))

    def std(self, dim=None, unbiased=True, keepdim=False, correction=None):
        return self.var(dim, unbiased, keepdim, correction).sqrt()

    def gather(self, dim, index):
        """out[..., i, ...] = self[..., index[..., i, ...], ...] along `dim` (index: an integer tensor)."""
        idx = index._data if isinstance(index, Tensor) else np.asarray(index)
        if idx.dtype.kind not in "iu" or idx.ndim != self.ndim:
            raise ValueError(f"gather: index must be an integer tensor with {self.ndim} dims, got "
                             f"{idx.dtype} of shape {idx.shape}")
        xp = array_module(self._data)
        dim = dim % self.ndim
        grids = list(xp.ix_(*[xp.arange(n) for n in idx.shape]))
        grids[dim] = idx
        return self[tuple(grids)]

    def argsort(self, dim=-1, descending=False):
        xp = array_module(self._data)
        keys = -self._data if descending and self.dtype.kind != "b" else self._data
        order = xp.argsort(keys, axis=dim, kind="stable")
        return Tensor(order.astype(np.int64))

    def sort(self, dim=-1, descending=False):
        indices = self.argsort(dim=dim, descending=descending)
        return SortResult(self.gather(dim, indices), indices)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        if not 0 <= k <= self.shape[dim]:
            raise ValueError(f"topk: k={k} out of range for dim {dim} of size {self.shape[dim]}")
        indices = self.argsort(dim=dim, descending=largest)
        dim = dim % self.ndim
        indices = indices[(slice(None),) * dim + (slice(0, k),)]
        return SortResult(self.gather(dim, indices), indices)

    def chunk(self, chunks, dim=0):
        size = -(-self.shape[dim] // chunks)
        return self.split(size, dim)

    def split(self, split_size_or_sections, dim=0):
        n, dim = self.shape[dim], dim % self.ndim
        if isinstance(split_size_or_sections, int):
            sizes = [split_size_or_sections] * (n // split_size_or_sections)
            if n % split_size_or_sections:
                sizes.append(n % split_size_or_sections)
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n:
                raise ValueError(f"split: sections {sizes} do not add up to {n}")
        out, start = [], 0
        for s in sizes:
            out.append(self[(slice(None),) * dim + (slice(start, start + s),)])
            start += s
        return tuple(out)

    def new_zeros(self, *size, dtype=None):
        return zeros(*size, dtype=dtype or self.dtype, device=self.device)

    def new_ones(self, *size, dtype=None):
        return ones(*size, dtype=dtype or self.dtype, device=self.device)

    def new_full(self, size, fill_value, dtype=None):
        return full(size, fill_value, dtype=dtype or self.dtype, device=self.device)

    def new_tensor(self, data, dtype=None):
        return tensor(data, dtype=dtype or self.dtype, device=self.device)


shape_module = shape
#: In-place ops whose Function never reads the old value: the stand-in shares the storage (no copy).
_READS_NO_OLD_VALUE = (arith.Add, arith.Sub, select.CopyInto, select.SetItem, select.Clamp)


class RemovableHandle:
    """What register_hook returns: ``remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, table, hook):
        RemovableHandle._next_id += 1
        self.id, self._table = RemovableHandle._next_id, table
        table[self.id] = hook

    def remove(self):
        self._table.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _view_base(view):
    """(base, view node): the tensor on the tape whose storage an in-place change of `view` also changes,
    and the indexing/reshape/permute node that made `view` from it; (None, None) when there is none."""
    base, view_node = view._view_of or (None, view._node)  # _view_of: off the tape, or changed before
    if view_node is None or not view_node.output_is_view:
        return None, None
    base = view_node.parents[0] if base is None else base
    if base is None:
        return None, None
    if not array_module(base._data).may_share_memory(view._data, base._data):
        return None, None  # advanced indexing or a reshape that copied: the base does not change
    return base, view_node


def _written_through_view(base, index, value):
    """True for ``base[index] = value`` where `value` is the view base[index] itself, already changed in
    place on the tape (the last step of ``y[1:] *= 3``): the storage and base's graph already hold it."""
    if not isinstance(value, Tensor) or value._view_of is None or value._view_of[0] is not base:
        return False
    target = base._data[index]
    if not is_array(target) or target.shape != value.shape or target.strides != value._data.strides:
        return False
    if isinstance(target, np.ndarray):
        return target.__array_interface__["data"][0] == value._data.__array_interface__["data"][0]
    return target.data.ptr == value._data.data.ptr


def _rebase_view_base(view, view_node, base):
    """`view` was just changed in place on the tape, and with it its base's storage. The base now
    continues its graph from a node that takes those elements from the view (PyTorch's CopySlices);
    without it the base's gradient missed the change (``z = y[1:]; z.mul_(3); y.sum().backward()`` gave
    1 instead of 3 for those elements; ``buf[1:].copy_(x)`` left buf off the tape). Recursive for a view of
    a view."""
    value = Tensor(view._data, requires_grad=True)  # the view's new value; the view continues through an
    value._node = view._node                        # alias of it, so later in-place ops on it stay its own
    view._node = shape.Alias.apply(value)._node
    old = Tensor(base._data, requires_grad=base.requires_grad)  # the base before the change (its old graph)
    old._node = base._node
    if view._view_of is None:  # first change through this view: the view op reads the old base now (the
        view_node.parents = (old,) + tuple(view_node.parents[1:])  # base gets the new node: no cycle), whose
        view_node.versions = (0,) + tuple(view_node.versions[1:])  # counter is its own (the shared one moved)
    if isinstance(view_node, shape.GetItem):
        new = select.SetItem.apply(old, value, view_node.index)
    elif isinstance(view_node, shape.Reshape):
        new = shape.Reshape.apply(value, base.shape)
    elif isinstance(view_node, shape.Permute):
        new = shape.Permute.apply(value, tuple(int(i) for i in np.argsort(view_node.axes)))
    else:
        raise RuntimeError(f"in-place change of a view made by {type(view_node).__name__} of a tensor that "
                           f"requires grad is not supported; clone() it first")
    outer, outer_node = _view_base(base)  # before base takes its new node
    base._node, base.requires_grad = new._node, True  # a base off the tape joins it (PyTorch: CopySlices)
    if outer is not None:
        _rebase_view_base(base, outer_node, outer)
        base._view_of = (outer, outer_node)


def _wrap_dim(dim, ndim):
    """`dim` as an axis in [0, ndim) (a 0-d tensor takes -1 and 0); out of range raises IndexError, as in
    PyTorch: ``dim % ndim`` silently took another axis (max(dim=2) of a 2-D tensor reduced dim 0)."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def shape_op(new_shape):
    new_shape = tuple(int(n) for n in new_shape)

    def apply(t):
        return shape.Reshape.apply(t, new_shape)

    return apply


def _unwrap_index(index, data):
    """Tensor and list indices -> arrays on `data`'s device (a CPU index may select from a GPU tensor)."""
    def one(i):
        if isinstance(i, Tensor):
            i = i._data
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


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _as_tensor_like(value, like):
    """Python numbers and lists become tensors of `like`'s dtype (so float32 stays float32), unless they are
    of a higher category (a float with an integer tensor gives float32, as PyTorch's promotion does);
    arrays of another kind become `like`'s dtype."""
    if isinstance(value, Tensor):
        return value
    xp = array_module(like._data)
    if isinstance(value, (numbers.Number, list, tuple)):
        kind = np.asarray(value).dtype.kind
        if _CATEGORY.get(kind, 3) <= _CATEGORY.get(like.dtype.kind, 3):
            return Tensor(xp.asarray(value, dtype=like.dtype))
        return Tensor(xp.asarray(value, dtype=default_dtype if kind == "f" else None))
    if _is_array(value) and value.dtype.kind != like.dtype.kind:
        return Tensor(xp.asarray(value, dtype=like.dtype))
    return Tensor(xp.asarray(value))


def _promoted_dtype(a, b):
    """PyTorch's result dtype for two tensors of bool/int/float dtypes: the higher category (bool < int <
    float) wins; within one category a tensor with dims outranks a 0-d one, else the wider dtype. NumPy's
    rules differ (float32 * int64 mask is float64 there, and would then leak into float32 layers)."""
    ca, cb = _CATEGORY[a.dtype.kind], _CATEGORY[b.dtype.kind]
    if ca != cb:
        return a.dtype if ca > cb else b.dtype
    if (a.ndim == 0) != (b.ndim == 0):
        return b.dtype if a.ndim == 0 else a.dtype
    return np.promote_types(a.dtype, b.dtype)


def _binary(fn, a, b):
    if isinstance(a, Tensor):
        b = _as_tensor_like(b, a)
    else:
        a = _as_tensor_like(a, b)
    if a.dtype != b.dtype and a.dtype.kind in "biuf" and b.dtype.kind in "biuf":
        dtype = _promoted_dtype(a, b)
        a, b = a.to(dtype), b.to(dtype)
    if fn is arith.Div and a.dtype.kind in "biu":  # true division of integers gives the default float dtype
        a, b = a.to(default_dtype), b.to(default_dtype)
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
        data = data._data
    if _is_array(data):
        arr = data.astype(dtype) if dtype is not None else data.copy()
    else:
        arr = np.array(data)
        if arr.dtype.kind in "OUSV" and not _amp.is_bfloat16(arr.dtype):  # None, strings, objects
            raise TypeError(f"tensor: could not make a tensor of numbers from {type(data).__name__} data "
                            f"(NumPy dtype {arr.dtype})")
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


def _fill_dtype(fill_value):
    """The dtype PyTorch infers from a fill value: bool, int64 for ints, else the default float dtype."""
    if isinstance(fill_value, (bool, np.bool_)):
        return bool_
    if isinstance(fill_value, numbers.Integral):
        return int64
    return default_dtype


def full(shape, fill_value, dtype=None, requires_grad=False, device=None):
    """A tensor of `shape` filled with `fill_value`; its dtype follows the value (``full((3,), -100)`` is
    int64, usable as class labels), as in PyTorch."""
    xp = module_for_device("cpu" if device is None else device)
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    dtype = dtype or _fill_dtype(fill_value)
    return Tensor(xp.full(shape, fill_value, dtype=dtype), requires_grad=requires_grad)


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
    gen = generator or default_generator()
    data = gen.standard_normal(_shape_arg(shape)).astype(dtype or default_dtype)
    return _placed(data, device, requires_grad)


def rand(*shape, dtype=None, requires_grad=False, generator=None, device=None):
    """Uniform [0, 1) samples from `generator` (a numpy Generator) or dlcore's global one."""
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


def _same_dtype(tensors):
    """The tensors converted to their promoted dtype (int64 with float32 is float32, as PyTorch; NumPy's
    concatenate would give float64)."""
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) == 1 or not all(d.kind in "biuf" for d in dtypes):
        return tensors
    target = tensors[0]
    for t in tensors[1:]:
        target = t if _promoted_dtype(target, t) == t.dtype else target
    return [t.to(target.dtype) for t in tensors]


def cat(tensors, dim=0):
    """Concatenation along an existing dim."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    return shape.Cat.apply(*_same_dtype(tensors), dim=_wrap_dim(dim, tensors[0].ndim))


def stack(tensors, dim=0):
    """Stacking along a new dim."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    return shape.Stack.apply(*_same_dtype(tensors), dim=_wrap_dim(dim, tensors[0].ndim + 1))


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
    if a.ndim == 2 and b.ndim == 2 and _amp.autocast_applies("matmul", a._data, b._data):
        from .ops.amp import matmul as amp_matmul  # parameters' bf16 casts cached per autocast region

        return amp_matmul(a, b)
    return arith.MatMul.apply(a, b)


def _is_floating(dtype) -> bool:
    """float16/32/64, complex, and bfloat16 (ml_dtypes, NumPy kind 'V')."""
    return np.dtype(dtype).kind in "fc" or _amp.is_bfloat16(dtype)


def argmax(t, dim=None, keepdim=False):
    return t.argmax(dim=dim, keepdim=keepdim)
