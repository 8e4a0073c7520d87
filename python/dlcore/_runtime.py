"""torch's top-level runtime switches, as a ported script calls them: ``compile``, matmul precision,
deterministic algorithms, ``inference_mode``, ``Generator``, ``finfo`` / ``iinfo``, seeds, the default dtype,
print options.

Each says what it does here: dlcore runs eagerly (``compile`` returns its argument), its float32 GEMM is full
float32 at every precision setting, and its kernels are deterministic already (results bitwise independent of the
thread count), so those settings are recorded and reported back without changing any result.
"""
from __future__ import annotations

import contextlib
import functools

import numpy as np

from . import random as _random
from .autograd import grad_mode

__all__ = ["Generator", "are_deterministic_algorithms_enabled", "compile", "finfo", "get_default_dtype",
           "get_float32_matmul_precision", "iinfo", "inference_mode", "initial_seed", "is_inference_mode_enabled",
           "seed", "set_default_dtype", "set_float32_matmul_precision", "set_printoptions",
           "use_deterministic_algorithms"]


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,
            disable=False):
    """torch.compile's signature; dlcore has no graph compiler, so the model (or function) comes back as it is,
    running eagerly (as torch.compile(backend="eager") would). Usable as a decorator, with or without
    arguments."""
    if model is None:
        return lambda fn: fn
    return model


_state = {"matmul_precision": "highest", "deterministic": False, "warn_only": False}


def set_float32_matmul_precision(precision):
    """'highest', 'high' or 'medium'. Recorded only: dlcore's float32 GEMM always accumulates in float32
    (no TF32 / bf16 shortcut exists in it to allow)."""
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"set_float32_matmul_precision: expected 'highest', 'high' or 'medium', got {precision!r}")
    _state["matmul_precision"] = precision


def get_float32_matmul_precision():
    return _state["matmul_precision"]


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Recorded only: every dlcore kernel is deterministic already (fixed reduction orders, results bitwise
    independent of the thread count; tests hold that), so there is no nondeterministic one to refuse."""
    _state["deterministic"], _state["warn_only"] = bool(mode), bool(warn_only)


def are_deterministic_algorithms_enabled():
    return _state["deterministic"]


def is_inference_mode_enabled():
    return _inference_depth[0] > 0


_inference_depth = [0]


class inference_mode(contextlib.ContextDecorator):
    """torch.inference_mode: no graph is recorded inside (dlcore's no_grad; torch additionally skips version
    counters, which cost dlcore nothing to keep). ``inference_mode(False)`` changes nothing."""

    def __init__(self, mode=True):
        self.mode = bool(mode)

    def __enter__(self):
        self._outer = grad_mode.is_grad_enabled()
        if self.mode:
            grad_mode.set_grad_enabled(False)
            _inference_depth[0] += 1
        return self

    def __exit__(self, *exc):
        if self.mode:
            _inference_depth[0] -= 1
        grad_mode.set_grad_enabled(self._outer)
        return False


class Generator(np.random.Generator):
    """torch.Generator: a NumPy Generator (so every ``generator=`` argument of dlcore takes it) with torch's
    ``manual_seed``, ``seed``, ``initial_seed``, ``get_state`` / ``set_state``."""

    def __init__(self, device="cpu"):
        initial = int(np.random.SeedSequence().entropy % (2 ** 63))
        super().__init__(np.random.PCG64(initial))
        self._initial_seed, self.device = initial, device

    def manual_seed(self, seed):
        self._initial_seed = int(seed)
        self.bit_generator.state = np.random.PCG64(self._initial_seed).state
        return self

    def seed(self):
        return self.manual_seed(int(np.random.SeedSequence().entropy % (2 ** 63))).initial_seed()

    def initial_seed(self):
        return self._initial_seed

    def get_state(self):
        return self.bit_generator.state

    def set_state(self, state):
        self.bit_generator.state = state
        return self


def seed():
    """Seeds dlcore's global generator nondeterministically; returns the seed (torch.seed)."""
    value = int(np.random.SeedSequence().entropy % (2 ** 63))
    _random.manual_seed(value)
    return value


def initial_seed():
    """The seed the global generator was last seeded with (None if it never was: NumPy's fresh entropy)."""
    return _random.last_seed()


@functools.cache
def _float_info(dtype):
    if dtype.name == "bfloat16":
        import ml_dtypes

        return ml_dtypes.finfo(dtype)
    return np.finfo(dtype)


def finfo(dtype=None):
    """Machine limits of a floating dtype (eps, max, tiny ...; torch.finfo), float32 by default."""
    return _float_info(np.dtype(np.float32 if dtype is None else dtype))


def iinfo(dtype):
    return np.iinfo(np.dtype(dtype))


def get_default_dtype():
    """float32: dlcore's layers and creation functions default to it."""
    return np.float32


def set_default_dtype(d):
    """Only float32 is supported as the default (layers take ``dtype=`` and ``model.double()`` converts)."""
    if np.dtype(d) != np.float32:
        raise NotImplementedError(f"set_default_dtype: dlcore's default dtype is fixed at float32 (got {d}); "
                                  f"pass dtype= to layers and creation functions, or call model.double()")


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """How tensors print (torch.set_printoptions): digits, summarizing threshold, edge items, line width, or
    a profile ('default', 'short', 'full'). Affects dlcore's reprs only, not NumPy's."""
    from .tensor import print_options

    profiles = {"default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
                "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
                "full": dict(precision=4, threshold=2 ** 63 - 1, edgeitems=3, linewidth=80)}
    if profile is not None:
        if profile not in profiles:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(profiles)}, got {profile!r}")
        print_options.update(profiles[profile])
    for key, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                       ("linewidth", linewidth)):
        if value is not None:
            print_options[key] = int(value)
    if sci_mode is not None:
        print_options["sci_mode"] = bool(sci_mode)
