"""Local response normalization across channels (AlexNet):

    y = x / (k + alpha/size * sum_{c' in window(c)} x[c']^2) ** beta

The window of channel c is [c - size//2, c + (size-1)//2] (PyTorch's
placement; symmetric for odd sizes).
"""
from __future__ import annotations

from ..autograd import Function
from ._common import array_module


def _window_sum(a, lo, hi):
    """out[:, c] = sum of a[:, c-lo .. c+hi] along axis 1 (zero outside), via a cumulative sum."""
    xp = array_module(a)
    c = a.shape[1]
    padded = xp.pad(a, ((0, 0), (lo + 1, hi)) + ((0, 0),) * (a.ndim - 2))
    csum = xp.cumsum(padded, axis=1)
    return csum[:, lo + hi + 1: lo + hi + 1 + c] - csum[:, :c]


class LocalResponseNorm(Function):
    def forward(self, x, size, alpha=1e-4, beta=0.75, k=1.0):
        if x.ndim < 3:
            raise ValueError(f"local_response_norm expects (N, C, ...) input with 3+ dims, got {x.shape}")
        self.params = (size, alpha, beta, k)
        # TODO(kernel): switch float32 to dlcore.kernels.lrn_forward when it lands
        self.x = x
        self.scale = k + (alpha / size) * _window_sum(x * x, size // 2, (size - 1) // 2)
        return x * self.scale ** -beta

    def backward(self, dy):
        size, alpha, beta, _ = self.params
        # TODO(kernel): switch float32 to dlcore.kernels.lrn_backward when it lands
        # dx_c = dy_c s_c^-b - 2 a b / n * x_c * sum_{c': c in window(c')} dy_c' x_c' s_c'^(-b-1)
        t = dy * self.x * self.scale ** (-beta - 1)
        back = _window_sum(t, (size - 1) // 2, size // 2)
        return dy * self.scale ** -beta - (2 * alpha * beta / size) * self.x * back
