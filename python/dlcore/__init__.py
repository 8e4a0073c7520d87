"""dlcore: deep-learning kernels of our own behind a PyTorch-like Python layer.

``dlcore.Tensor`` with autograd, ``dlcore.nn`` (layers, ``functional``),
``dlcore.optim``, ``dlcore.data`` and ``dlcore.save``/``load`` form the Python
layer; ops on float32 tensors run on ``dlcore.kernels``. Tensors and models
move to the GPU with ``.to("cuda")`` (CuPy arrays, dlcore's CUDA kernels).
``dlcore.kernels`` holds the plain array-in/array-out kernels (each with a
``backend=`` argument); ``dlcore.backends()`` tells which backends this build
and this machine can run.
"""
import os as _os

# OpenMP's wait policy is read once, when _C loads libgomp: by default an idle
# worker spins ~300k iterations, burning a core a busy machine does not have.
# bench/contention.py, 3x3 conv 64ch 56x56 batch 2, 2 threads, load ~10 on 2
# CPUs, medians: default 85 ms, GOMP_SPINCOUNT=10000 27 ms, passive 25 ms.
# Bounded spinning keeps back-to-back kernels responsive; a user's own setting
# wins. (Also seen by child processes and by an OpenMP runtime loaded later.)
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
    _os.environ["GOMP_SPINCOUNT"] = "10000"
from . import _C
from ._backends import (
    BackendUnavailableError,
    backends,
    get_num_threads,
    set_num_threads,
    set_verbose,
    thread_limit,
)
from ._host_cache import empty_host_cache, host_cache_info, set_host_cache_limit
from . import kernels
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from ._backends import backend, current_backend
from .random import get_rng_state, manual_seed, set_rng_state
from . import amp
from .amp import autocast
from .tensor import (
    Tensor, arange, argmax, as_tensor, cat, exp, float32, float64, from_dlpack, from_numpy, full, full_like, int32,
    int64, log, matmul, ones, ones_like, rand, rand_like, randn, randn_like, sqrt, stack, tensor, uint8, zeros,
    zeros_like,
)
from . import nn, optim, data
from . import distributed  # imports no MPI: mpi4py is loaded by dlcore.distributed.init()
from . import models, onnx  # noqa: E402  (the zoo; ONNX export, which needs the onnx extra only when called)
from .serialization import CheckpointError, load, save
# PyTorch's top-level names for ported scripts (docs/PORTING.md)
import builtins as _builtins
from . import accelerator, autograd, cuda, utils
from . import linalg
from .functions import *  # noqa: F401,F403
from .functions import __all__ as _function_names
from .tensor import bool_
float = float32  # noqa: A001 - torch.float / torch.long ... as dtypes
double = float64
long = int64
int = int32  # noqa: A001
bool = bool_  # noqa: A001
from . import quantization

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailableError",
    "backends",
    "empty_host_cache",
    "host_cache_info",
    "get_num_threads",
    "kernels",
    "set_host_cache_limit",
    "set_num_threads",
    "set_verbose",
    "thread_limit",
    # Python layer: tensors, autograd, nn, optim, data, checkpoints
    "CheckpointError", "Tensor", "arange", "argmax", "as_tensor", "backend", "cat", "current_backend", "data",
    "enable_grad", "exp", "float32", "float64", "from_dlpack", "from_numpy", "full", "full_like", "int32", "int64",
    "get_rng_state", "is_grad_enabled", "load", "log", "manual_seed", "matmul", "nn", "no_grad", "ones",
    "ones_like", "optim", "set_rng_state",
    "rand", "rand_like", "randn", "randn_like", "save", "set_grad_enabled", "sqrt", "stack", "tensor", "uint8",
    "zeros", "zeros_like",
    "accelerator", "autograd", "cuda", "double", "long", "utils",
    # bfloat16 and mixed precision (dlcore.amp)
    "autocast", "bfloat16",  # noqa: F405 - bfloat16 comes from __getattr__ below
] + [n for n in _function_names if not hasattr(_builtins, n)]
# (max, sum, abs, float, int, bool ... are attributes only: ``from dlcore import *`` must not shadow builtins)

from . import attacks, func, special, testing  # noqa: E402  (fgsm; torch.func, torch.special, torch.testing)
from ._runtime import (  # noqa: E402  (torch's runtime switches: compile, inference_mode, Generator ...)
    Generator, are_deterministic_algorithms_enabled, compile, finfo, get_default_dtype, get_float32_matmul_precision,
    iinfo, inference_mode, initial_seed, is_inference_mode_enabled, seed, set_default_dtype,
    set_float32_matmul_precision, set_printoptions, use_deterministic_algorithms,
)
from ._runtime import __all__ as _runtime_names  # noqa: E402

__all__ += [n for n in _runtime_names if n != "compile"]  # compile: an attribute, not star-imported (a builtin)
from . import distributions  # noqa: E402  (torch.distributions: dlcore.distributions.Normal ...)


def __getattr__(name):
    # dlcore.explain is imported on first use, so `python -m dlcore.explain` does not find it
    # already imported; the module is callable: dlcore.explain(model, example_input).
    if name == "explain":
        import importlib

        return importlib.import_module(".explain", __name__)
    if name == "bfloat16":  # ml_dtypes is imported on first use: it alone took 1.3 s of `import dlcore` (amp.py)
        return amp.require_bfloat16()
    raise AttributeError(f"module 'dlcore' has no attribute {name!r}")


def __dir__():  # the names __getattr__ serves too (tab completion), without resolving them
    return sorted(set(globals()) | {"bfloat16", "explain"})

# PyMySQL-style: ``dlcore.install_as_torch()`` registers dlcore under PyTorch's module names (docs/PORTING.md)
from ._torch_alias import install_as_torch  # noqa: E402

__all__ += ["install_as_torch"]
