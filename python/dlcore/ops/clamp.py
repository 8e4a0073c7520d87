"""log with a floor (binary_cross_entropy's PyTorch convention)."""
from __future__ import annotations

from ..autograd import Function
from ._common import array_module


class ClampedLog(Function):
    """max(log(x), floor); the gradient is 1/x where the log is above the floor, else 0."""

    def forward(self, x, floor):
        xp = array_module(x)
        self.x = x
        with_errstate = getattr(xp, "errstate", None)
        if with_errstate is not None:
            with xp.errstate(divide="ignore"):
                logx = xp.log(x)
        else:  # pragma: no cover
            logx = xp.log(x)
        self.active = logx > floor
        return xp.where(self.active, logx, x.dtype.type(floor))

    def backward(self, dy):
        xp = array_module(dy)
        safe = xp.where(self.active, self.x, 1)
        return xp.where(self.active, dy / safe, 0).astype(dy.dtype, copy=False), None
