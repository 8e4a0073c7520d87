"""dlcore: deep-learning kernels of our own behind a PyTorch-like Python layer.

``dlcore.kernels`` holds the plain array-in/array-out kernels (each with a
``backend=`` argument); ``dlcore.backends()`` tells which backends this build
and this machine can run.
"""
from . import _C
from ._backends import (
    BackendUnavailableError,
    backends,
    get_num_threads,
    set_num_threads,
    set_verbose,
)
from . import kernels

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailableError",
    "backends",
    "get_num_threads",
    "kernels",
    "set_num_threads",
    "set_verbose",
]
