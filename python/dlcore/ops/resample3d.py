"""3-D adaptive pooling and 5-D interpolation (nearest, trilinear), as ops/resample.py does them in 2-D.

Adaptive average pooling and nearest/trilinear interpolation are separable: one small dense matrix per
spatial axis (ops/resample.py builds them with torch's window and coordinate rules), applied as a
matmul along D, H and W in turn; the backward applies the transposed matrices. Adaptive max pooling
loops over the output cells (vectorized over N and C), as the 2-D version does for uneven windows.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ._common import array_module
from .resample import adaptive_avg_matrix, adaptive_bounds, adaptive_output_size, linear_matrix, nearest_matrix


def _along(x, m, axis):
    """m (O, S) applied along `axis` of x (size S there -> O)."""
    xp = array_module(x)
    return xp.moveaxis(xp.matmul(m, xp.moveaxis(x, axis, -2)), -2, axis)


class Separable3d(Function):
    """y = x transformed along D, H, W by one matrix each: forward(x, (Md, Mh, Mw))."""

    def forward(self, x, matrices):
        xp = array_module(x)
        self.matrices = [xp.asarray(m, dtype=x.dtype) for m in matrices]
        for axis, m in zip((2, 3, 4), self.matrices):
            x = _along(x, m, axis)
        return xp.ascontiguousarray(x)

    def backward(self, dy):
        for axis, m in zip((2, 3, 4), self.matrices):
            dy = _along(dy, m.T, axis)
        return array_module(dy).ascontiguousarray(dy), None


def check_5d(name, x_shape):
    if len(x_shape) != 5:
        raise ValueError(f"{name} expects (N, C, D, H, W) input, got shape {tuple(x_shape)}")


def adaptive_output_size_3d(name, x_shape, output_size):
    """int, triple, or a triple with None entries (keep that input size) -> (od, oh, ow), all >= 1."""
    return adaptive_output_size(x_shape, output_size, 3, name)


def adaptive_avg_matrices(x_shape, out):
    return [adaptive_avg_matrix(size, o) for size, o in zip(x_shape[2:], out)]


def interpolation_matrices(x_shape, size, mode, align_corners, scales):
    """Md, Mh, Mw of "nearest" or "trilinear"; scales (input/output per axis) when scale_factor was given."""
    scales = (None,) * 3 if scales is None else scales
    if mode == "nearest":
        return [nearest_matrix(n, o, s) for n, o, s in zip(x_shape[2:], size, scales)]
    return [linear_matrix(n, o, bool(align_corners), s) for n, o, s in zip(x_shape[2:], size, scales)]


class AdaptiveMaxPool3d(Function):
    """Max over torch's adaptive windows; indices are flat d*H*W + h*W + w offsets per (n, c) volume."""

    def forward(self, x, out):
        xp = array_module(x)
        n, c, d, h, w = self.shape = x.shape
        y = xp.empty((n, c) + out, dtype=x.dtype)
        self.indices = xp.empty((n, c) + out, dtype=np.int64)
        bounds = [adaptive_bounds(size, o) for size, o in zip((d, h, w), out)]
        for cell in np.ndindex(*out):
            (d0, d1), (h0, h1), (w0, w1) = [(b[0][i], b[1][i]) for b, i in zip(bounds, cell)]
            win = x[:, :, d0:d1, h0:h1, w0:w1].reshape(n, c, -1)
            arg = xp.argmax(win, axis=-1)  # the first maximum in (d, h, w) order
            y[(slice(None), slice(None)) + cell] = xp.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
            zd, zh, zw = xp.unravel_index(arg, (d1 - d0, h1 - h0, w1 - w0))
            self.indices[(slice(None), slice(None)) + cell] = ((d0 + zd) * h + h0 + zh) * w + w0 + zw
        return y

    def backward(self, dy):
        from .pool3d import max_unpool_scatter

        return max_unpool_scatter(dy, self.indices, self.shape)
