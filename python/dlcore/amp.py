"""bfloat16 on the CPU: the dtype, conversions, and mixed precision (autocast).

``dlcore.bfloat16`` is ``ml_dtypes.bfloat16`` as a NumPy dtype (the bfloat16
of JAX and TensorFlow). ``with dlcore.autocast("cpu", dtype=dlcore.bfloat16):``
runs the ops of ``LOWER_PRECISION_OPS`` with bfloat16 operands (float32
accumulation) on float32 master weights; the gradients that reach the
parameters are float32. It also works as a decorator, and ``enabled=False``
turns it off.

Op lists, following ``torch.autocast("cpu")`` (torch/csrc/autograd/autocast_mode.cpp):

* ``LOWER_PRECISION_OPS``: linear, matmul (2-D operands), conv2d - the ops of
  torch's CPU ``lower_precision_fp`` list that dlcore has.
* ``FLOAT32_OPS``: softmax, log_softmax, the losses, batch norm, LRN, pooling,
  reductions, activations, dropout: they keep float32 inputs and outputs.

Where dlcore differs from torch (by design, documented):

* The bf16 ops return **float32** (computed from bf16 operands with float32
  accumulation). torch returns bfloat16 tensors and lets the next ops run in
  bf16; dlcore's other kernels are float32, so everything after a bf16 op
  stays float32. The arithmetic of the bf16 op is the same (bf16 inputs,
  float32 sums); activations between layers are not rounded to bf16.
* torch's CPU list also has conv1d/conv3d, bmm/baddbmm/addmm, conv_transpose,
  prelu and attention: dlcore has no such ops (matmul of batched operands runs
  float32).
* torch's ``fp32`` list names ops that cast bf16 inputs up; since dlcore's
  bf16 ops already return float32, those ops never see bf16 inputs.
* Weight casts are cached within a region as torch does (the bf16 copy of a
  float32 leaf tensor that requires grad - a parameter - is made once per
  outermost autocast region and dropped on its exit; ``cache_enabled=False``
  turns that off). Unlike torch, a cached cast is also dropped when the
  weight changes in place (its version counter moves, as ``optimizer.step()``
  and in-place tensor ops do) or when its array is replaced, so an optimizer
  step inside the region never trains on a stale copy.
* float64 inputs are never cast (as in torch: autocast ignores float64).
"""
from __future__ import annotations

import functools
import sys
import threading
import weakref

import numpy as np

# The bfloat16 dtype (NumPy dtype of ml_dtypes.bfloat16), resolved on first use (``dlcore.bfloat16``,
# require_bfloat16): importing ml_dtypes registers its dtypes' ufunc loops with NumPy, 1.3 s of the
# 1.7 s `import dlcore` took (NumPy 2.4, ml_dtypes 0.7; 0.4 s without it), paid by every process
# (each MPI rank, each data-loader worker) whether it uses bfloat16 or not.
_bfloat16 = None

#: Ops autocast runs with bfloat16 operands (torch's CPU lower_precision_fp ops dlcore has).
LOWER_PRECISION_OPS = frozenset({"linear", "matmul", "conv2d"})
#: Ops that stay float32 under autocast (inputs and outputs).
FLOAT32_OPS = frozenset({
    "softmax", "log_softmax", "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy",
    "batch_norm", "local_response_norm", "max_pool2d", "avg_pool2d", "sum", "mean", "max",
    "relu", "sigmoid", "tanh", "elu", "dropout",
})

class _State(threading.local):
    dtype = None  # autocast's dtype in force on this thread (class defaults: see _backends._State)
    cache = None  # the outermost caching region's {id(weight): (ref, array, version, bf16 copy)}


_state = _State()


def require_bfloat16():
    """The bfloat16 dtype (importing ml_dtypes the first time), or ImportError saying what to install."""
    global _bfloat16
    if _bfloat16 is None:
        try:
            import ml_dtypes
        except ImportError as e:  # pragma: no cover - ml_dtypes is a dependency of dlcore
            raise ImportError("bfloat16 needs the ml_dtypes package: pip install ml_dtypes") from e
        _bfloat16 = np.dtype(ml_dtypes.bfloat16)
    return _bfloat16


def is_bfloat16(dtype) -> bool:
    # Nothing is bfloat16 before ml_dtypes is imported (by us or by whoever made the array), so NumPy's own
    # dtypes are answered without importing it; the name "bfloat16" is resolved.
    if _bfloat16 is None and "ml_dtypes" not in sys.modules and not (isinstance(dtype, str) and dtype == "bfloat16"):
        return False
    return np.dtype(dtype) == require_bfloat16()


def __getattr__(name):
    if name == "bfloat16":  # dlcore.amp.bfloat16, as dlcore.bfloat16
        return require_bfloat16()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {"bfloat16"})


def to_bfloat16(a):
    """A float32 NumPy array as bfloat16 (our conversion kernel: RNE, NaN kept NaN); others via astype."""
    bfloat16 = require_bfloat16()
    if type(a) is np.ndarray and a.dtype == np.float32:
        from . import kernels

        return kernels.cast_f32_to_bf16(np.ascontiguousarray(a))
    return a.astype(bfloat16)


def to_float32(a):
    """A bfloat16 NumPy array as float32 (exact)."""
    if type(a) is np.ndarray and is_bfloat16(a.dtype):
        from . import kernels

        return kernels.cast_bf16_to_f32(np.ascontiguousarray(a))
    return a.astype(np.float32)


def is_autocast_enabled() -> bool:
    return _state.dtype is not None


def get_autocast_dtype():
    return _state.dtype


def autocast_applies(op: str, *arrays) -> bool:
    """True when autocast is on, `op` is in LOWER_PRECISION_OPS and every given array is float32 NumPy."""
    if not is_autocast_enabled() or op not in LOWER_PRECISION_OPS:
        return False
    return all(a is None or (type(a) is np.ndarray and a.dtype == np.float32) for a in arrays)


def cast_weight_bf16(t):
    """The bfloat16 array of float32 Tensor `t` for a bf16 op, cached within the current autocast region when
    `t` is a leaf that requires grad (a parameter: torch's rule). A cached copy is reused only while `t`
    holds the same array at the same version (in-place ops and optimizer steps bump it)."""
    cache = _state.cache
    arr = t._data
    if cache is None or not (t.requires_grad and t.is_leaf):
        return to_bfloat16(arr)
    version = t._version[0]
    hit = cache.get(id(t))
    if hit is not None and hit[0]() is t and hit[1] is arr and hit[2] == version:
        return hit[3]
    cast = to_bfloat16(arr)
    cache[id(t)] = (weakref.ref(t), arr, version, cast)
    return cast


def weight_cache_size() -> int:
    """How many bf16 weight casts the current autocast region holds (0 outside one; for tests)."""
    return len(_state.cache or ())


class autocast:
    """Mixed precision on the CPU: ``with dlcore.autocast("cpu", dtype=dlcore.bfloat16): ...``.

    Inside, linear / matmul / conv2d on float32 tensors compute with bfloat16
    operands and float32 accumulation and return float32; their backward
    passes use bf16 operands too and give float32 gradients. Everything else
    is unchanged (see the module docstring for the op lists and where this
    differs from ``torch.autocast``). Also a decorator:

        >>> @dlcore.autocast("cpu", dtype=dlcore.bfloat16)
        ... def step(x): return model(x)

    Args:
        device_type: "cpu" (the only one with bf16 kernels in dlcore).
        dtype: ``dlcore.bfloat16`` (default).
        enabled: False makes the region a no-op (autocast off inside it).
        cache_enabled: cache the bf16 casts of parameters within the region (default True; see the module
            docstring). The cache is cleared when the outermost region exits.
    """

    def __init__(self, device_type="cpu", dtype=None, enabled=True, cache_enabled=None):
        if device_type != "cpu":
            raise ValueError(f"dlcore.autocast: device_type must be 'cpu' (bf16 kernels run on the CPU), "
                             f"got {device_type!r}")
        dtype = require_bfloat16() if dtype is None else dtype
        try:
            ok = is_bfloat16(dtype)
        except TypeError:
            ok = False
        if not ok:
            raise TypeError(f"dlcore.autocast: dtype must be dlcore.bfloat16, got {dtype!r}")
        if not isinstance(enabled, bool):
            raise TypeError(f"dlcore.autocast: enabled must be a bool, got {type(enabled).__name__}")
        if cache_enabled is not None and not isinstance(cache_enabled, bool):
            raise TypeError(f"dlcore.autocast: cache_enabled must be a bool or None, got "
                            f"{type(cache_enabled).__name__}")
        self.device_type, self.dtype, self.enabled = device_type, require_bfloat16(), enabled
        self.cache_enabled = cache_enabled
        self._saved = []

    def __enter__(self):
        outer_cache = _state.cache
        self._saved.append((_state.dtype, outer_cache))
        _state.dtype = self.dtype if self.enabled else None
        if self.cache_enabled is False:
            _state.cache = None
        elif outer_cache is None and self.enabled:  # the outermost caching region owns the cache
            _state.cache = {}
        return self

    def __exit__(self, *exc):
        _state.dtype, _state.cache = self._saved.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self.device_type, self.dtype, self.enabled, self.cache_enabled):
                return fn(*args, **kwargs)

        return wrapper
