"""Resampling ops that are linear maps along H and W: adaptive pooling, interpolation, padding.

Adaptive average pooling and nearest/bilinear interpolation are separable: each
is ``y = Mh @ x @ Mw^T`` over the last two axes for two small dense matrices
(OH, H) and (OW, W), so forward and backward are two matmuls each
(``dx = Mh^T @ dy @ Mw``), for every dtype and on NumPy or CuPy alike. When an
adaptive pool's windows tile the input evenly it runs the pooling kernels
instead (``ops/pool.py``; float32 on dlcore.kernels), as PyTorch's own
``adaptive_avg_pool2d`` does. Padding gathers with an index map per axis and
scatters the gradient back through the same map.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from . import pool
from ._common import array_module, scatter_add


# ---- the matrices -----------------------------------------------------------------
def adaptive_bounds(size, out):
    """PyTorch's adaptive windows: [floor(i*size/out), ceil((i+1)*size/out)) for i < out."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def adaptive_avg_matrix(size, out):
    """(out, size) with row i averaging adaptive window i."""
    start, end = adaptive_bounds(size, out)
    m = np.zeros((out, size))
    for i, (s, e) in enumerate(zip(start, end)):
        m[i, s:e] = 1.0 / (e - s)
    return m


def nearest_matrix(size, out, scale=None):
    """(out, size) picking src = floor(dst * scale), scale = size/out (or 1/scale_factor), as PyTorch's 'nearest'."""
    scale = size / out if scale is None else scale
    src = np.minimum(np.floor(np.arange(out) * scale).astype(np.int64), size - 1)
    m = np.zeros((out, size))
    m[np.arange(out), src] = 1.0
    return m


def linear_matrix(size, out, align_corners, scale=None):
    """(out, size) of 1-D linear interpolation weights with PyTorch's source-coordinate rule."""
    dst = np.arange(out, dtype=np.float64)
    if align_corners:
        src = dst * ((size - 1) / (out - 1)) if out > 1 else np.zeros(out)
    else:
        scale = size / out if scale is None else scale
        src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), size - 1)
    i1 = np.minimum(i0 + 1, size - 1)
    lam = src - i0
    m = np.zeros((out, size))
    np.add.at(m, (np.arange(out), i0), 1.0 - lam)
    np.add.at(m, (np.arange(out), i1), lam)
    return m


class _Separable2d(Function):
    """y = Mh @ x @ Mw^T over the last two axes of x (N, C, H, W); subclasses build Mh, Mw."""

    def _apply_matrices(self, x, mh, mw):
        xp = array_module(x)
        self.mh, self.mw = xp.asarray(mh, dtype=x.dtype), xp.asarray(mw, dtype=x.dtype)
        return xp.ascontiguousarray(self.mh @ (x @ self.mw.T))

    def backward(self, dy):
        return self.mh.T @ (dy @ self.mw)


def _check_4d(name, x):
    if x.ndim != 4:
        raise ValueError(f"{name} expects (N, C, H, W) input, got shape {x.shape}")


def adaptive_output_size(x_shape, output_size, spatial=2, name="adaptive pooling"):
    """int, a pair (a triple for 3-D) or with None entries (keep that input size) -> the output sizes, all >= 1."""
    if isinstance(output_size, (int, np.integer)):
        output_size = (output_size,) * spatial
    output_size = tuple(output_size)
    if len(output_size) != spatial:
        raise ValueError(f"{name}: output_size must be an int or a {'pair' if spatial == 2 else 'triple'}, got "
                         f"{output_size}")
    out = tuple(int(x_shape[2 + i]) if o is None else int(o) for i, o in enumerate(output_size))
    if min(out) < 1:
        raise ValueError(f"{name}: output_size must be positive, got {out}")
    return out


class AdaptiveAvgPool2d(_Separable2d):
    """Mean over PyTorch's adaptive windows; float32 with evenly tiling windows runs the avg-pool kernels."""

    def forward(self, x, output_size):
        _check_4d("adaptive_avg_pool2d", x)
        self.output_size = out = adaptive_output_size(x.shape, output_size)
        h, w = x.shape[2:]
        if h % out[0] == 0 and w % out[1] == 0 and h and w:
            self.inner = pool.AvgPool2d()
            k = (h // out[0], w // out[1])
            return self.inner.forward(x, k, k, 0, False, True)
        self.inner = None
        return self._apply_matrices(x, adaptive_avg_matrix(h, out[0]), adaptive_avg_matrix(w, out[1]))

    def backward(self, dy):
        return self.inner.backward(dy) if self.inner is not None else super().backward(dy)


class AdaptiveMaxPool2d(Function):
    """Max over PyTorch's adaptive windows; evenly tiling windows run the max-pool kernels (float32)."""

    def forward(self, x, output_size):
        _check_4d("adaptive_max_pool2d", x)
        self.output_size = out = adaptive_output_size(x.shape, output_size)
        n, c, h, w = x.shape
        self.shape = x.shape
        if h % out[0] == 0 and w % out[1] == 0 and h and w:
            self.inner = pool.MaxPool2d()
            k = (h // out[0], w // out[1])
            y = self.inner.forward(x, k, k, 0, False)
            self.indices = self.inner.indices
            return y
        self.inner = None
        xp = array_module(x)
        y = xp.empty((n, c) + out, dtype=x.dtype)
        self.indices = xp.empty((n, c) + out, dtype=np.int64)
        (hs, he), (ws, we) = adaptive_bounds(h, out[0]), adaptive_bounds(w, out[1])
        for i in range(out[0]):
            for j in range(out[1]):
                win = x[:, :, hs[i]:he[i], ws[j]:we[j]].reshape(n, c, -1)
                arg = xp.argmax(win, axis=-1)  # first maximum, as the kernels
                y[:, :, i, j] = xp.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
                ww = int(we[j] - ws[j])
                self.indices[:, :, i, j] = (hs[i] + arg // ww) * w + ws[j] + arg % ww
        return y

    def backward(self, dy):
        if self.inner is not None:
            return self.inner.backward(dy)
        xp = array_module(dy)
        n, c, h, w = self.shape
        dx = xp.zeros((n * c, h * w), dtype=dy.dtype)
        scatter_add(dx, (xp.arange(n * c).reshape(-1, 1), self.indices.reshape(n * c, -1)), dy.reshape(n * c, -1))
        return dx.reshape(self.shape)


# ---- interpolation ------------------------------------------------------------------------
class Interpolate(_Separable2d):
    """Nearest or bilinear resize of (N, C, H, W) to `size` (PyTorch's coordinate rules).

    `scales` is (sh, sw) = input/output per axis when the caller gave scale_factor
    (PyTorch then uses 1/scale_factor, not H/OH), else None.
    """

    def forward(self, x, size, mode="nearest", align_corners=None, scales=None):
        _check_4d("interpolate", x)
        self.size, self.mode, self.align_corners = tuple(size), mode, bool(align_corners)
        self.scales = scales
        h, w = x.shape[2:]
        sh, sw = (None, None) if scales is None else scales
        if mode == "nearest":
            mh, mw = nearest_matrix(h, size[0], sh), nearest_matrix(w, size[1], sw)
        elif mode == "bilinear":
            mh = linear_matrix(h, size[0], self.align_corners, sh)
            mw = linear_matrix(w, size[1], self.align_corners, sw)
        else:
            raise ValueError(f"interpolate: mode must be 'nearest' or 'bilinear', got {mode!r}")
        return self._apply_matrices(x, mh, mw)


# ---- padding -----------------------------------------------------------------------------
def pad_index(size, lo, hi, mode):
    """Source index along one axis for each padded position; -1 marks constant padding."""
    i = np.arange(-lo, size + hi)
    if mode == "constant":
        return np.where((i >= 0) & (i < size), i, -1)
    if mode == "reflect":
        if lo >= size or hi >= size:
            raise ValueError(f"pad: reflect padding ({lo}, {hi}) must be smaller than the dimension size {size}")
        i = np.abs(i)
        return np.where(i >= size, 2 * (size - 1) - i, i)
    if mode == "replicate":
        return np.clip(i, 0, size - 1)
    if mode == "circular":
        if lo > size or hi > size:
            raise ValueError(f"pad: circular padding ({lo}, {hi}) must be at most the dimension size {size}")
        return i % size
    raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")


class Pad(Function):
    """Pads the last len(pad)//2 axes; pad = (last_lo, last_hi, prev_lo, prev_hi, ...) as torch.nn.functional.pad."""

    def forward(self, x, pad, mode="constant", value=0.0):
        self.pad, self.mode, self.value, self.shape = tuple(pad), mode, value, x.shape
        xp = array_module(x)
        self.maps = []  # (axis, index map) for each padded axis
        for k in range(len(pad) // 2):
            axis = x.ndim - 1 - k
            self.maps.append((axis, pad_index(x.shape[axis], pad[2 * k], pad[2 * k + 1], mode)))
        y = x
        for axis, idx in self.maps:
            safe = xp.asarray(np.maximum(idx, 0))
            y = xp.take(y, safe, axis=axis)
            if mode == "constant" and (idx < 0).any():
                mask_shape = [1] * y.ndim
                mask_shape[axis] = -1
                y = xp.where(xp.asarray(idx < 0).reshape(mask_shape), xp.asarray(value, dtype=y.dtype), y)
        return xp.ascontiguousarray(y)

    def backward(self, dy):
        xp = array_module(dy)
        g = dy
        for axis, idx in reversed(self.maps):
            keep = idx >= 0
            moved = xp.moveaxis(g, axis, 0)[xp.asarray(keep)]
            out = xp.zeros((self.shape[axis],) + moved.shape[1:], dtype=dy.dtype)
            scatter_add(out, xp.asarray(idx[keep]), moved)
            g = xp.moveaxis(out, 0, axis)
        return xp.ascontiguousarray(g)
