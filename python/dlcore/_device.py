"""Devices: where a tensor's array lives ("cpu": NumPy, "cuda": CuPy) and moving arrays between them.

dlcore has two devices. A NumPy array is on "cpu"; a CuPy array is on "cuda"
(the GPU that CuPy has current, which dlcore calls ``cuda:0``: one GPU per
process). Moving to "cuda" needs the CUDA backend (``dlcore._cuda`` built, a
usable GPU) and CuPy; when either is missing it raises
``dlcore.BackendUnavailableError`` with the reason, never a silent CPU fallback.
CuPy is imported only on the first move to the GPU.
"""
from __future__ import annotations

import numpy as np

from ._backends import BackendUnavailableError, optional_module

DEVICES = ("cpu", "cuda")
_cupy = None  # the cupy module once the first move to "cuda" succeeded


def is_cuda_array(a) -> bool:
    """True for CuPy arrays (checked by type name: CuPy is never imported here).

    NumPy arrays answer first without the name split: kernels call this on every array (call overhead).
    """
    return type(a) is not np.ndarray and type(a).__module__.split(".")[0] == "cupy"


def is_array(a) -> bool:
    return isinstance(a, np.ndarray) or is_cuda_array(a)


def device_of(a) -> str:
    """"cuda" for a CuPy array, "cpu" for anything else (NumPy arrays, scalars)."""
    return "cuda" if is_cuda_array(a) else "cpu"


def parse_device(device) -> str:
    """"cpu", "cuda", "cuda:0" (or a Tensor, whose device is taken) -> "cpu" or "cuda"."""
    # torch's habit: to(other) means other's device. A Tensor (or Parameter) is recognised by its string
    # ``device`` attribute, not by importing dlcore.tensor, which imports this module (no import cycle).
    if not isinstance(device, str) and isinstance(getattr(device, "device", None), str):
        return parse_device(device.device)
    if not isinstance(device, str):
        raise TypeError(f"device must be a string like 'cpu' or 'cuda', got {type(device).__name__}")
    name, _, index = device.strip().lower().partition(":")
    if name not in DEVICES or (name == "cpu" and index not in ("", "0")):
        raise ValueError(f"unknown device {device!r} (expected 'cpu', 'cuda' or 'cuda:0')")
    if name == "cuda" and index not in ("", "0"):
        # CuPy's current GPU is the one the CUDA kernels run on; several GPUs are not supported
        raise ValueError(f"device {device!r}: dlcore runs on one GPU, 'cuda' (= 'cuda:0')")
    return name


def cupy_module():
    """The cupy module, after checking that the CUDA backend can run here; raises BackendUnavailableError.

    Both are needed: CuPy holds the arrays, dlcore._cuda runs the kernels on
    them. Checking the backend here (not at the first kernel call) makes
    ``tensor.to("cuda")`` fail where the user asked for the GPU.
    """
    global _cupy
    if _cupy is not None:
        return _cupy
    try:
        optional_module("cuda")
    except BackendUnavailableError as exc:
        raise BackendUnavailableError(f"cannot use device 'cuda': {exc}") from exc
    try:
        import cupy
    except ImportError as exc:
        raise BackendUnavailableError(
            f"cannot use device 'cuda': dlcore's GPU tensors are CuPy arrays and CuPy cannot be imported "
            f"({exc}); install the CuPy wheel matching your CUDA, e.g. pip install cupy-cuda12x") from exc
    _cupy = cupy
    return cupy


def module_for_device(device) -> object:
    """numpy for "cpu", cupy for "cuda" (checked: raises BackendUnavailableError when it cannot run)."""
    return np if parse_device(device) == "cpu" else cupy_module()


def array_to(a, device):
    """`a` on `device` ("cpu"/"cuda"): the array itself when already there, else a copy on that device."""
    device = parse_device(device)
    if device_of(a) == device:
        return a
    if device == "cpu":
        return a.get()
    return cupy_module().asarray(a)


def array_like(value, like, dtype=None):
    """`value` (a number, list or array of any device) as an array on `like`'s device.

    For arguments that are plain data rather than tensors (targets given as
    lists, class weights, checkpoint arrays).
    """
    if is_array(value):
        value = array_to(value, device_of(like))
    xp = np if device_of(like) == "cpu" else cupy_module()
    return xp.asarray(value, dtype=dtype)


def check_same_device(what, arrays):
    """Raises RuntimeError naming both devices when the arrays among `arrays` live on different devices."""
    first = None
    for a in arrays:
        if isinstance(a, np.ndarray):
            device = "cpu"
        elif is_cuda_array(a):
            device = "cuda"
        else:
            continue
        if first is None:
            first = device
        elif device != first:
            raise RuntimeError(f"{what}: expected all tensors to be on the same device, but found at least two "
                               f"devices, {first} and {device} (move them with .to(device) first)")
