"""What this build and this machine can run, and the switches that steer it."""
from __future__ import annotations

import importlib
import importlib.util

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
#: Run before importing an optional module: puts its shared-library runtime in
#: the process; returns None, or why it could not (added to the error if the
#: import then fails).
def _load_onednn_runtime():
    loader = importlib.import_module("dlcore._onednn_loader")
    loader.load()
    return loader.why_not()


_RUNTIME_LOADERS = {"onednn": _load_onednn_runtime}


def set_num_threads(n: int) -> None:
    """Number of threads every CPU kernel uses (default: the machine's cores)."""
    _C.set_num_threads(int(n))


def get_num_threads() -> int:
    return _C.get_num_threads()


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
    # dlcore.backend(backend) (they raise with strict=True); see dlcore/ops/_common.py.
    from .ops._common import CUDA_GAPS, SUBSTITUTED_OPS

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
