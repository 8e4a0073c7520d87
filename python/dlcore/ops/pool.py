"""2-D max and average pooling with PyTorch's output-size rules (incl. ceil_mode).

float32 runs on dlcore.kernels; float64 on the NumPy window formulas below (the reference).
"""
from __future__ import annotations

import numpy as np

from .. import _C
from .. import kernels as K
from .._backends import optional_module
from ..autograd import Function
from ._common import array_module, as_strided, contiguous, kernel_backend, pair, scatter_add, uses_kernels


def _geometry(x_shape, kernel_size, stride, padding, ceil_mode):
    """(k, s, p, (OH, OW)); the output size and every check come from _C.pool_geometry, the rule the
    kernels of every backend use (csrc/ops/pool/pool.h), not a copy of it."""
    out = _C.pool_geometry(tuple(int(d) for d in x_shape), kernel_size, stride, padding, bool(ceil_mode))
    kh, kw = pair(kernel_size, "kernel_size")
    sh, sw = pair(stride if stride is not None else (kh, kw), "stride")
    ph, pw = pair(padding, "padding")
    return (kh, kw), (sh, sw), (ph, pw), tuple(out)


def _padded_windows(x, k, s, p, out, fill):
    """(N, C, OH, OW, KH, KW) windows over x padded with `fill` (extra right/bottom for ceil_mode)."""
    xp = array_module(x)
    n, c, h, w = x.shape
    extra_h = max(0, (out[0] - 1) * s[0] + k[0] - (h + 2 * p[0]))
    extra_w = max(0, (out[1] - 1) * s[1] + k[1] - (w + 2 * p[1]))
    xpad = xp.pad(x, ((0, 0), (0, 0), (p[0], p[0] + extra_h), (p[1], p[1] + extra_w)), constant_values=fill)
    s0, s1, s2, s3 = xpad.strides
    return as_strided(xpad, (n, c, out[0], out[1], k[0], k[1]), (s0, s1, s2 * s[0], s3 * s[1], s2, s3))


class MaxPool2d(Function):
    """y[n,c,i,j] = max over the window; indices are flat h*W+w offsets in each plane (first max wins).

    float32 runs dlcore.kernels.max_pool2d_forward/_backward. Under the oneDNN
    backend the backward runs oneDNN's own max-pool backward, which takes the
    forward input rather than our indices (``max_pool2d_backward_from_input``
    of dlcore._onednn), so the forward input is kept instead.
    """

    def forward(self, x, kernel_size, stride=None, padding=0, ceil_mode=False):
        self.shape, self.kernels = x.shape, uses_kernels(x)
        if self.kernels:
            self.backend = kernel_backend("max_pool2d_forward")
            x = contiguous(x)
            y, self.indices = K.max_pool2d_forward(x, kernel_size, stride, padding, ceil_mode=ceil_mode,
                                                   backend=self.backend)
            if self.backend == "onednn":
                self.x, self.geometry = x, (kernel_size, stride, padding, ceil_mode)
            return y
        xp = array_module(x)
        k, s, p, out = _geometry(x.shape, kernel_size, stride, padding, ceil_mode)
        win = _padded_windows(x, k, s, p, out, -np.inf)
        n, c = x.shape[:2]
        flat = win.reshape(n, c, out[0], out[1], k[0] * k[1])
        arg = xp.argmax(flat, axis=-1)
        y = xp.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
        # window offset -> input coordinates
        ki, kj = arg // k[1], arg % k[1]
        rows = xp.arange(out[0]).reshape(1, 1, -1, 1) * s[0] - p[0] + ki
        cols = xp.arange(out[1]).reshape(1, 1, 1, -1) * s[1] - p[1] + kj
        self.indices = (rows * x.shape[3] + cols).astype(np.int32)
        return xp.ascontiguousarray(y)

    def backward(self, dy):
        if self.kernels and self.backend == "onednn":
            onednn = optional_module("onednn")
            kernel_size, stride, padding, ceil_mode = self.geometry
            return onednn.max_pool2d_backward_from_input(contiguous(dy), self.x, kernel_size, stride, padding,
                                                         ceil_mode, "onednn")
        if self.kernels:
            return K.max_pool2d_backward(contiguous(dy), self.indices, self.shape,
                                         backend=kernel_backend("max_pool2d_backward"))
        xp = array_module(dy)
        n, c, h, w = self.shape
        dx = xp.zeros((n * c, h * w), dtype=dy.dtype)
        planes = xp.arange(n * c).reshape(-1, 1)
        scatter_add(dx, (planes, self.indices.reshape(n * c, -1)), dy.reshape(n * c, -1))
        return dx.reshape(self.shape)


def _avg_divisors(xp, h, w, k, s, p, out, count_include_pad, dtype):
    """(OH, OW) divisor per window, PyTorch's rule: padding counts, the ceil_mode overhang does not."""
    def one_axis(size, kk, ss, pp, oo):
        start = np.arange(oo) * ss - pp
        end = np.minimum(start + kk, size + pp)
        if count_include_pad:
            return end - start
        return np.minimum(end, size) - np.maximum(start, 0)
    d = one_axis(h, k[0], s[0], p[0], out[0])[:, None] * one_axis(w, k[1], s[1], p[1], out[1])[None, :]
    return xp.asarray(d, dtype=dtype)


class AvgPool2d(Function):
    """Mean over each window; float32 runs dlcore.kernels.avg_pool2d_forward/_backward."""

    def forward(self, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        self.shape, self.kernels = x.shape, uses_kernels(x)
        self.call = (kernel_size, stride, padding, ceil_mode, count_include_pad)  # double backward re-applies it
        if self.kernels:
            self.args = (kernel_size, stride, padding)
            self.flags = dict(ceil_mode=ceil_mode, count_include_pad=count_include_pad)
            return K.avg_pool2d_forward(contiguous(x), *self.args, backend=kernel_backend("avg_pool2d_forward"),
                                        **self.flags)
        xp = array_module(x)
        k, s, p, out = _geometry(x.shape, kernel_size, stride, padding, ceil_mode)
        self.geometry = (k, s, p, out)
        self.divisor = _avg_divisors(xp, x.shape[2], x.shape[3], k, s, p, out, count_include_pad, x.dtype)
        win = _padded_windows(x, k, s, p, out, 0)
        return xp.ascontiguousarray(win.sum(axis=(-2, -1)) / self.divisor)

    def backward(self, dy):
        if self.kernels:
            return K.avg_pool2d_backward(contiguous(dy), self.shape, *self.args,
                                         backend=kernel_backend("avg_pool2d_backward"), **self.flags)
        xp = array_module(dy)
        (kh, kw), (sh, sw), (ph, pw), (oh, ow) = self.geometry
        n, c, h, w = self.shape
        g = dy / self.divisor
        hp = max(h + 2 * ph, (oh - 1) * sh + kh)
        wp = max(w + 2 * pw, (ow - 1) * sw + kw)
        dxpad = xp.zeros((n, c, hp, wp), dtype=dy.dtype)
        for i in range(kh):
            for j in range(kw):
                dxpad[:, :, i: i + sh * (oh - 1) + 1: sh, j: j + sw * (ow - 1) + 1: sw] += g
        return xp.ascontiguousarray(dxpad[:, :, ph: ph + h, pw: pw + w])
