"""Whether operations record the tape: ``no_grad`` / ``enable_grad``."""
from __future__ import annotations

import contextlib
import threading


class _State(threading.local):
    enabled = True  # a class default: reading an unset thread-local attribute would raise (1.2 us; _backends.py)


_state = _State()


def is_grad_enabled() -> bool:
    """True while operations record what backward needs (the default)."""
    return _state.enabled


class set_grad_enabled:
    """Turns grad recording on or off: at once when called, and for a block as a context manager
    (``with dlcore.set_grad_enabled(phase == "train"):``, PyTorch's habit), restoring the previous mode
    when the block ends."""

    def __init__(self, mode: bool):
        self._previous = _state.enabled
        _state.enabled = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _state.enabled = self._previous
        return False


class _GradMode(contextlib.ContextDecorator):
    """Context manager (and decorator) that sets grad recording for its block."""

    _mode = True

    def __enter__(self):
        self._previous = is_grad_enabled()
        _state.enabled = self._mode
        return self

    def __exit__(self, *exc):
        _state.enabled = self._previous
        return False


class no_grad(_GradMode):
    """Block in which no operation records the tape (evaluation, parameter updates).

    Example:
        >>> model, x = dlcore.nn.Linear(3, 2), dlcore.randn(4, 3)
        >>> with dlcore.no_grad():
        ...     y = model(x)
        >>> y.requires_grad
        False
    """

    _mode = False


class enable_grad(_GradMode):
    """Block in which operations record the tape, even inside ``no_grad``."""

    _mode = True


__all__ = ["no_grad", "enable_grad", "is_grad_enabled", "set_grad_enabled"]
