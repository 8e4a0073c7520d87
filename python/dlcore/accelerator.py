"""``dlcore.accelerator``: ``torch.accelerator``'s queries (the GPU, when the CUDA path can run)."""
from __future__ import annotations

from . import cuda


def is_available() -> bool:
    return cuda.is_available()


def current_accelerator():
    """``dlcore.device("cuda")`` when the GPU path can run, else None."""
    from .functions import device

    return device("cuda") if cuda.is_available() else None


def device_count() -> int:
    return cuda.device_count()
