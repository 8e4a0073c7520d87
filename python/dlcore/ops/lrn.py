"""Local response normalization across channels (AlexNet):

    y = x / (k + alpha/size * sum_{c' in window(c)} x[c']^2) ** beta

The window of channel c is [c - size//2, c + (size-1)//2] (PyTorch's
placement; symmetric for odd sizes). The float64 path takes the window and
the divisor of alpha from ``_C.lrn_geometry`` (the kernels' one check and
window rule, ``make_lrn_args``), not from a copy of the formula.
"""
from __future__ import annotations

from .. import _C
from .. import kernels as K
from ..autograd import Function
from ._common import array_module, contiguous, kernel_backend, uses_kernels


def _window_sum(a, lo, hi):
    """out[:, c] = sum of a[:, c-lo .. c+hi] along axis 1 (zero outside), via a cumulative sum."""
    xp = array_module(a)
    c = a.shape[1]
    padded = xp.pad(a, ((0, 0), (lo + 1, hi)) + ((0, 0),) * (a.ndim - 2))
    csum = xp.cumsum(padded, axis=1)
    return csum[:, lo + hi + 1: lo + hi + 1 + c] - csum[:, :c]


class LocalResponseNorm(Function):
    """float32 runs dlcore.kernels.lrn_forward/lrn_backward (region "across"); float64 the cumsum formula."""

    def forward(self, x, size, alpha=1e-4, beta=0.75, k=1.0):
        if x.ndim < 3:
            raise ValueError(f"local_response_norm expects (N, C, ...) input with 3+ dims, got {x.shape}")
        self.params = (size, alpha, beta, k)
        self.kernels = uses_kernels(x)
        if self.kernels:
            # the kernel takes (N, C, H, W); the window runs over channels only, so any
            # trailing dims fold into one spatial axis
            self.x = contiguous(x).reshape(x.shape[0], x.shape[1], -1, 1)
            y = K.lrn_forward(self.x, *self.params, backend=kernel_backend("lrn_forward"))
            return y.reshape(x.shape)
        # the kernels' checks and window (reaches capped at C - 1), on the same (N, C, H*W..., 1) view
        folded = (x.shape[0], x.shape[1], x.size // max(1, x.shape[0] * x.shape[1]), 1)
        self.front, self.back, self.n = _C.lrn_geometry(folded, size, alpha, beta, k)
        self.x = x
        self.scale = k + (alpha / self.n) * _window_sum(x * x, self.front, self.back)
        return x * self.scale ** -beta

    def backward(self, dy):
        if self.kernels:
            dx = K.lrn_backward(contiguous(dy).reshape(self.x.shape), self.x, *self.params,
                                backend=kernel_backend("lrn_backward"))
            return dx.reshape(dy.shape)
        _, alpha, beta, _ = self.params
        # dx_c = dy_c s_c^-b - 2 a b / n * x_c * sum_{c': c in window(c')} dy_c' x_c' s_c'^(-b-1)
        t = dy * self.x * self.scale ** (-beta - 1)
        mirrored = _window_sum(t, self.back, self.front)
        return dy * self.scale ** -beta - (2 * alpha * beta / self.n) * self.x * mirrored
