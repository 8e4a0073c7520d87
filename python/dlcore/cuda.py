"""``dlcore.cuda``: whether the GPU path can run (``torch.cuda``'s query functions)."""
from __future__ import annotations


def is_available() -> bool:
    """True when a tensor can move to "cuda": a GPU, the CUDA backend (dlcore._cuda) and CuPy are usable."""
    from ._backends import BackendUnavailableError
    from ._device import module_for_device

    try:
        module_for_device("cuda")
    except (BackendUnavailableError, ImportError, RuntimeError):
        return False
    return True


def device_count() -> int:
    """1 when the GPU path is available (dlcore runs on one GPU), else 0."""
    return 1 if is_available() else 0


def manual_seed(seed: int) -> None:
    """Seeds dlcore's generator: random tensors are drawn on the host for every device."""
    from .random import manual_seed as seed_all

    seed_all(seed)


manual_seed_all = manual_seed


def synchronize() -> None:
    """Waits for the GPU's queued work (nothing to do without one)."""
    if is_available():
        from ._device import module_for_device

        module_for_device("cuda").cuda.Device().synchronize()
