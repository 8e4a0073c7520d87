"""The one backends module: what this build and this machine can run, and the switches that steer it.

It owns, in one place, everything about kernel backends:

* **state** - the backend ops run on (``dlcore.backend(...)``, thread-local,
  with its ``strict`` flag), threads and verbosity;
* **gap tables** - the kernel-API ops an optional backend lacks
  (``ONEDNN_GAPS``, ``CUDA_GAPS``) and what runs instead;
* **module loading** - importing the optional extension modules (``_onednn``,
  ``_cuda``) after their runtime, with a ``BackendUnavailableError`` that says
  why when they cannot run.

It imports nothing of dlcore but ``_C`` (and, lazily, the leaf
``_onednn_loader``): ``ops/_common.py``, ``_device.py``, ``kernels`` and
``autograd`` import from here, never the other way round
(tests/test_backends_module.py checks the import graph).

**Backend gaps.** oneDNN has no primitive for a few ops of the kernel API
(``ONEDNN_GAPS``). Inside ``dlcore.backend("onednn")`` those ops run on our
CPU kernels (``"auto"``); this is listed in the docs and in
``dlcore.backends()["onednn"]["runs_on_ours"]``, and ``DLCORE_VERBOSE=1``
prints the implementation every call ran. ``dlcore.backend("onednn",
strict=True)`` raises ``BackendUnavailableError`` for them instead.
Max-pool backward is not a gap: under oneDNN the layer keeps the forward
input and runs oneDNN's own backward (``max_pool2d_backward_from_input``).

**CUDA gaps.** dlcore._cuda has no kernel for a few ops (``CUDA_GAPS``). On
CuPy arrays those ops run their array formula (the one float64 uses) with
CuPy, on the GPU; ``dlcore.backends()["cuda"]["runs_on_cupy"]`` lists them
and ``dlcore.backend(..., strict=True)`` raises for them instead.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import operator
import threading

from . import _C

BackendUnavailableError = _C.BackendUnavailableError

#: Backends served by our CPU module, in the order ``auto`` prefers them.
CPU_BACKENDS = ("avx512", "avx2", "ref")
#: Low-precision ISA extensions of our CPU module (bf16, int8, binary kernels):
#: each a backend name that selects exactly that implementation. They never
#: serve float32, so ``auto`` for float32 is still one of CPU_BACKENDS.
CPU_EXTENSION_BACKENDS = ("amx", "avx512_bf16", "avx512_vnni", "avx_vnni", "avx512_vpopcnt")
#: Optional extension modules and the backend name each one serves.
OPTIONAL_MODULES = {"onednn": "dlcore._onednn", "cuda": "dlcore._cuda"}

#: Kernel-API ops that dlcore._onednn does not define (no oneDNN primitive).
#: tests/test_functional.py checks this list against the built module.
ONEDNN_GAPS = frozenset({
    "maxout_forward", "maxout_backward",
    "cross_entropy_forward", "cross_entropy_backward",
    "dropout_forward", "dropout_backward",
})
#: Backend -> ops of that backend's gaps the functional layer runs on our kernels.
SUBSTITUTED_OPS = {"onednn": ONEDNN_GAPS}
#: Kernel-API ops that dlcore._cuda does not define: on CuPy arrays their CuPy formula runs.
#: tests/test_cuda_python.py checks this list against the built module.
CUDA_GAPS = frozenset({"maxout_forward", "maxout_backward"})


# ---------------------------------------------------------------------------
# State: the backend in force on this thread
# ---------------------------------------------------------------------------

class _State(threading.local):
    # Class defaults: getattr(local, name, default) on an attribute a thread never set raises and catches an
    # AttributeError, 1.2 us a read (Python 3.11), several reads per op; a class attribute is found in 0.1 us.
    backend = "auto"
    strict = False


_state = _State()


def current_backend() -> str:
    """The kernel backend ops run on: "auto" unless inside ``dlcore.backend(...)``."""
    return _state.backend


def backend_state() -> tuple:
    """(backend name, strict) in force; autograd runs each backward under the pair its forward saw."""
    return _state.backend, _state.strict


class backend(contextlib.ContextDecorator):
    """Run every op in the block on kernel backend `name` ("auto", "ref", "avx2", "avx512", "onednn", "cuda").

    Example:
        >>> model, x = dlcore.nn.Linear(3, 2), dlcore.randn(4, 3)
        >>> with dlcore.backend("ref"):   # or "avx2", "onednn", ...: dlcore.backends() lists them
        ...     y = model(x)

    An unavailable backend raises ``dlcore.BackendUnavailableError`` at the
    first kernel call. Ops that `name` has no implementation of (for
    "onednn": maxout, cross-entropy, dropout; see
    ``dlcore.backends()["onednn"]["runs_on_ours"]``) run on dlcore's own CPU
    kernels; with ``strict=True`` they raise ``BackendUnavailableError``.
    """

    # A class, not a @contextmanager generator: autograd enters one around every node's backward, and the
    # generator's creation, next() and close cost ~2 us more a block.
    def __init__(self, name: str, *, strict: bool = False):
        if not isinstance(name, str):
            raise TypeError(f"backend must be a string, got {type(name).__name__}")
        self.name, self.strict, self._saved = name, bool(strict), []

    def __enter__(self):
        self._saved.append((_state.backend, _state.strict))
        _state.backend, _state.strict = self.name, self.strict
        return self.name

    def __exit__(self, *exc):
        _state.backend, _state.strict = self._saved.pop()
        return False


def kernel_backend(op: str) -> str:
    """The backend= that op `op` (a dlcore.kernels name) runs on under the current ``dlcore.backend``.

    The current backend, except for an op in that backend's documented gaps
    (``SUBSTITUTED_OPS``), which runs on our CPU kernels ("auto") - or raises
    ``BackendUnavailableError`` inside ``dlcore.backend(name, strict=True)``.
    """
    name = current_backend()
    if op in SUBSTITUTED_OPS.get(name, ()):
        if _state.strict:
            raise BackendUnavailableError(
                f"{op}: backend '{name}' does not implement this op (dlcore.backend('{name}', strict=True); "
                f"without strict=True it runs on dlcore's own CPU kernels)")
        return "auto"
    return name


def cuda_gap(op: str, *arrays) -> bool:
    """True when `op` has no CUDA kernel (``CUDA_GAPS``) and `arrays` are on the GPU: run the CuPy formula.

    Inside ``dlcore.backend(name, strict=True)`` it raises BackendUnavailableError instead.
    """
    # CuPy arrays recognised by type name: CuPy is never imported here
    if op not in CUDA_GAPS or not any(type(a).__module__.split(".")[0] == "cupy" for a in arrays):
        return False
    if _state.strict:
        raise BackendUnavailableError(f"{op}: dlcore._cuda has no kernel for this op (strict=True; without it "
                                      f"the op runs its CuPy array formula on the GPU)")
    return True


# ---------------------------------------------------------------------------
# Module loading
# ---------------------------------------------------------------------------

#: Run before importing an optional module: puts its shared-library runtime in
#: the process; returns None, or why it could not (added to the error if the
#: import then fails).
def _load_onednn_runtime():
    loader = importlib.import_module("dlcore._onednn_loader")
    loader.load()
    return loader.why_not()


_RUNTIME_LOADERS = {"onednn": _load_onednn_runtime}


def _thread_count(n, op: str) -> int:
    """`n` as a thread count: an int (anything with __index__ but bool) in [1, 2**31), else TypeError/ValueError."""
    if isinstance(n, bool) or not hasattr(type(n), "__index__"):
        raise TypeError(f"{op}: n must be an int, got {type(n).__name__}")
    n = operator.index(n)
    if not 1 <= n < 2**31:
        raise ValueError(f"{op}: n must be >= 1 (and < 2**31), got {n}")
    return n


def set_num_threads(n: int, blas: bool = False) -> None:
    """Number of threads every CPU kernel uses (default: the machine's cores).

    ``blas=True`` also limits NumPy's BLAS pool (OpenBLAS, MKL, BLIS, read through threadpoolctl) to `n`, so
    that NumPy's matmul between dlcore calls does not spin threads on the cores our kernels need (issue 17: a
    dlcore GEMM right after a NumPy one ran at half speed while OpenBLAS's threads spun). It stays until changed;
    :func:`thread_limit` does the same for a block and restores both afterwards.
    """
    n = _thread_count(n, "set_num_threads")
    if blas:
        _blas_limiter(n)  # first: without threadpoolctl nothing changes
    _C.set_num_threads(n)


def get_num_threads() -> int:
    return _C.get_num_threads()


def _blas_limiter(n):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise ImportError("aligning NumPy's BLAS threads (blas=True) needs threadpoolctl: "
                          "pip install threadpoolctl (or dlcore[threads])") from None
    if n < 1:
        raise ValueError(f"number of threads must be >= 1, got {n}")
    return threadpool_limits(limits=n, user_api="blas")


@contextlib.contextmanager
def thread_limit(n: int, blas: bool = True):
    """Within the block, dlcore's kernels and (``blas=True``) NumPy's BLAS pool use `n` threads; both restored.

    >>> import dlcore
    >>> with dlcore.thread_limit(1, blas=False):
    ...     dlcore.get_num_threads()
    1
    """
    n = _thread_count(n, "thread_limit")
    before = _C.get_num_threads()
    limiter = _blas_limiter(n) if blas else None
    try:
        _C.set_num_threads(n)
        yield
    finally:
        _C.set_num_threads(before)
        if limiter is not None:
            limiter.restore_original_limits()


def set_verbose(on: bool = True) -> None:
    """Print each kernel call's chosen implementation to stderr (also DLCORE_VERBOSE=1)."""
    _C.set_verbose(bool(on))


def optional_module(backend: str):
    """Imports the extension module serving `backend`, or raises BackendUnavailableError."""
    name = OPTIONAL_MODULES[backend]
    if importlib.util.find_spec(name) is None:
        raise BackendUnavailableError(
            f"backend '{backend}' is not built into this installation of dlcore "
            f"(module {name} is missing; see README 'Building')")
    loader = _RUNTIME_LOADERS.get(backend)
    runtime_problem = loader() if loader is not None else None
    try:
        module = importlib.import_module(name)
    except ImportError as exc:  # built, but its runtime (libdnnl, CUDA driver) is missing
        detail = f"; {runtime_problem}" if runtime_problem else ""
        raise BackendUnavailableError(f"backend '{backend}' is built but cannot load: {exc}{detail}") from exc
    probe = getattr(module, "probe", None)
    if probe is not None:
        reason = probe()  # "" when usable, else why not (e.g. no GPU)
        if reason:
            raise BackendUnavailableError(f"backend '{backend}' is not usable here: {reason}")
    return module


def _optional_info(backend: str) -> dict:
    name = OPTIONAL_MODULES[backend]
    if importlib.util.find_spec(name) is None:
        return {"built": False, "available": False, "reason": f"{name} was not built"}
    try:
        module = optional_module(backend)
    except BackendUnavailableError as exc:
        return {"built": True, "available": False, "reason": str(exc)}
    info = {"built": True, "available": True}
    describe = getattr(module, "describe", None)
    if describe is not None:
        info.update(describe())
    # Ops this backend lacks that dlcore.nn.functional runs on our CPU kernels inside
    # dlcore.backend(backend) (they raise with strict=True): the gap tables above.
    info["runs_on_ours"] = sorted(SUBSTITUTED_OPS.get(backend, ()))
    if backend == "cuda":  # ops without a CUDA kernel: their CuPy array formula runs on the GPU
        info["runs_on_cupy"] = sorted(CUDA_GAPS)
    return info


def backends() -> dict:
    """Which backends are built and usable here, and what ``backend="auto"`` picks.

    Returns a dict with one entry per backend (``ref``, ``avx2``, ``avx512``,
    ``onednn``, ``cuda``), each ``{"built": bool, "available": bool}`` plus a
    ``"reason"`` when unavailable and details (versions, device) when
    available, including ``"runs_on_ours"``: the ops that backend lacks,
    which ``dlcore.nn.functional`` runs on dlcore's own CPU kernels inside
    ``dlcore.backend(name)``, and for ``cuda`` ``"runs_on_cupy"``: the ops
    without a CUDA kernel, run as CuPy array formulas on the GPU; ``"auto"``
    names the backend that NumPy arrays run on by default; in the ISA emulation test build
    (CMake ``DLCORE_ISA_EMULATION=ON``) the tiers above AVX2 carry ``"emulated": True`` and say so in
    ``"reason"``; ``"cpu"`` is the
    processor's brand string and ``"threads"`` the current thread count.
    """
    result = {name: dict(info) for name, info in _C.isa_info().items()}
    for backend in OPTIONAL_MODULES:
        result[backend] = _optional_info(backend)
    result["auto"] = _C.best_isa()
    result["cpu"] = _C.cpu_brand()
    result["threads"] = _C.get_num_threads()
    return result
