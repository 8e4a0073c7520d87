"""3-D max and average pooling (torch's output sizes, ceil_mode, dilation, divisor_override) and max unpooling.

There is no 3-D pooling kernel, and the 2-D ones have neither dilation nor divisor_override, so both
dtypes run NumPy formulations without a Python loop over outputs.

Max: a strided view (N, C, OD, OH, OW, KD, KH, KW) of the padded input reduced over its last three axes;
backward scatters through the saved indices, torch's flat offsets d*H*W + h*W + w within each (n, c) volume
(the first maximum in (d, h, w) order wins). Three separable 1-D window maxima carrying the chosen taps
were measured slower at k=2 s=2 and k=3 s=2 p=1 (35 vs 22 ms, 65 vs 35 ms forward+backward, N=2 C=32 D=8
H=W=28), faster only at k=3 s=1.

Average: the box sum as three 1-D window sums (strided slice additions along D, H, W: 3k additions, not
k^3; 216 -> 20 ms forward+backward at N=2 C=32 D=8 H=W=28 k=3 s=1 against summing the 3-D window view),
divided by torch's divisor; backward is the adjoint of the three sums.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ._common import array_module, as_strided, scatter_add
from .conv3d import triple


def pool_output_length(size, kernel, stride, pad, dilation, ceil_mode):
    """torch's pooling_output_shape: with ceil_mode the last window must start inside the input or its
    left padding."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


class PoolGeometry:
    """kernel, stride (default: kernel), padding, dilation per spatial axis, checked; ``out`` the output size."""

    def __init__(self, name, x_shape, kernel_size, stride, padding, dilation, ceil_mode):
        if len(x_shape) != 5:
            raise ValueError(f"{name} expects (N, C, D, H, W) input, got shape {tuple(x_shape)}")
        self.kernel = triple(kernel_size, f"{name}: kernel_size")
        self.stride = self.kernel if stride is None or stride == () else triple(stride, f"{name}: stride")
        self.padding, self.dilation = triple(padding, f"{name}: padding"), triple(dilation, f"{name}: dilation")
        if min(self.kernel) < 1 or min(self.stride) < 1 or min(self.dilation) < 1:
            raise ValueError(f"{name}: kernel_size {self.kernel}, stride {self.stride} and dilation "
                             f"{self.dilation} must be >= 1")
        if any(p < 0 or p > k // 2 for p, k in zip(self.padding, self.kernel)):
            raise ValueError(f"{name}: padding {self.padding} must be >= 0 and at most half the kernel size "
                             f"{self.kernel}")
        self.out = tuple(pool_output_length(*a, ceil_mode) for a in
                         zip(x_shape[2:], self.kernel, self.stride, self.padding, self.dilation))
        if min(self.out) < 1:
            raise ValueError(f"{name}: input {tuple(x_shape)} is too small for kernel {self.kernel} (dilation "
                             f"{self.dilation}, padding {self.padding}); output size {self.out}")

    def padded_extent(self, size, axis):
        """Length of the padded axis the windows need (ceil_mode may reach past the right padding)."""
        k, s, p, d, o = (v[axis] for v in (self.kernel, self.stride, self.padding, self.dilation, self.out))
        return max(size + 2 * p, (o - 1) * s + d * (k - 1) + 1)

    def windows(self, x, fill):
        """Read-only view (N, C, OD, OH, OW, KD, KH, KW) of x padded with `fill`."""
        xp = array_module(x)
        pads = [(0, 0), (0, 0)] + [(p, self.padded_extent(n, i) - n - p)
                                   for i, (n, p) in enumerate(zip(x.shape[2:], self.padding))]
        xpad = xp.pad(x, pads, constant_values=fill)
        st = xpad.strides
        steps = tuple(st[2 + i] * self.stride[i] for i in range(3))
        taps = tuple(st[2 + i] * self.dilation[i] for i in range(3))
        return as_strided(xpad, x.shape[:2] + self.out + self.kernel, st[:2] + steps + taps)


class MaxPool3d(Function):
    """y[n, c, i, j, k] = max over the window; ``indices`` (int64) as torch's."""

    def forward(self, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        g = PoolGeometry("max_pool3d", x.shape, kernel_size, stride, padding, dilation, ceil_mode)
        xp = array_module(x)
        n, c, d, h, w = self.shape = x.shape
        flat = g.windows(x, -np.inf).reshape(n, c, *g.out, -1)
        arg = xp.argmax(flat, axis=-1)  # the first maximum (NaN counts as the maximum, as torch)
        y = xp.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
        self.indices = self._input_offsets(xp, g, arg)
        return xp.ascontiguousarray(y)

    def _input_offsets(self, xp, g, arg):
        """Window offset (KD*KH*KW flat) -> flat input offset d*H*W + h*W + w."""
        taps = xp.unravel_index(arg, g.kernel)
        coords = []
        for axis in range(3):
            start = xp.arange(g.out[axis]).reshape([-1 if i == axis else 1 for i in range(3)]) * g.stride[axis]
            coords.append(start - g.padding[axis] + taps[axis] * g.dilation[axis])
        d, h, w = self.shape[2:]
        return ((coords[0] * h + coords[1]) * w + coords[2]).astype(np.int64)

    def backward(self, dy):
        return max_unpool_scatter(dy, self.indices, self.shape)


def max_unpool_scatter(values, indices, out_shape):
    """out (N, C, *spatial) zero but for out[n, c].flat[indices[n, c]] += values[n, c]."""
    xp = array_module(values)
    n, c = out_shape[:2]
    out = xp.zeros((n * c, int(np.prod(out_shape[2:]))), dtype=values.dtype)
    scatter_add(out, (xp.arange(n * c).reshape(-1, 1), indices.reshape(n * c, -1)), values.reshape(n * c, -1))
    return out.reshape(out_shape)


def avg_divisor(size, kernel, stride, pad, out, count_include_pad):
    """(out,) window sizes along one axis, torch's rule: padding counts, the ceil_mode overhang does not."""
    start = np.arange(out) * stride - pad
    end = np.minimum(start + kernel, size + pad)
    if count_include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


class AvgPool3d(Function):
    """Mean over each window: sum / divisor (window size per torch's rule, or divisor_override)."""

    def forward(self, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                divisor_override=None):
        self.geometry = g = PoolGeometry("avg_pool3d", x.shape, kernel_size, stride, padding, 1, ceil_mode)
        xp = array_module(x)
        self.shape = x.shape
        if divisor_override is not None:
            divisor = np.full(g.out, float(divisor_override))
        else:
            per_axis = [avg_divisor(*a, count_include_pad) for a in
                        zip(x.shape[2:], g.kernel, g.stride, g.padding, g.out)]
            divisor = per_axis[0][:, None, None] * per_axis[1][None, :, None] * per_axis[2][None, None, :]
        self.divisor = xp.asarray(divisor, dtype=x.dtype)
        pads = [(0, 0), (0, 0)] + [(p, g.padded_extent(size, i) - size - p)
                                   for i, (size, p) in enumerate(zip(x.shape[2:], g.padding))]
        total = xp.pad(x, pads)
        for axis in range(3):  # a box sum is three 1-D window sums: 3k slice additions instead of k^3
            total = _window_sum(total, 2 + axis, g.kernel[axis], g.stride[axis], g.out[axis])
        return xp.ascontiguousarray(total / self.divisor)

    def backward(self, dy):
        g, xp = self.geometry, array_module(dy)
        dxpad = dy / self.divisor
        for axis in range(3):
            extent = g.padded_extent(self.shape[2 + axis], axis)
            dxpad = _window_sum_adjoint(dxpad, 2 + axis, g.kernel[axis], g.stride[axis], extent)
        (pd, ph, pw), (d, h, w) = g.padding, self.shape[2:]
        return xp.ascontiguousarray(dxpad[:, :, pd: pd + d, ph: ph + h, pw: pw + w])


def _tap(axis, ndim, start, stride, count):
    """Index selecting positions start, start + stride, ... (count of them) along `axis`."""
    return (slice(None),) * axis + (slice(start, start + stride * (count - 1) + 1, stride),) + (slice(None),) * (
        ndim - axis - 1)


def _window_sum(x, axis, kernel, stride, out):
    """y[..., i, ...] = sum over t < kernel of x[..., i*stride + t, ...] along `axis`."""
    total = x[_tap(axis, x.ndim, 0, stride, out)].copy()
    for t in range(1, kernel):
        total += x[_tap(axis, x.ndim, t, stride, out)]
    return total


def _window_sum_adjoint(dy, axis, kernel, stride, extent):
    """The adjoint of _window_sum: each output's gradient added to the `kernel` positions it summed."""
    shape = dy.shape[:axis] + (extent,) + dy.shape[axis + 1:]
    dx = array_module(dy).zeros(shape, dtype=dy.dtype)
    for t in range(kernel):
        dx[_tap(axis, dy.ndim, t, stride, dy.shape[axis])] += dy
    return dx


class MaxUnpool(Function):
    """x (N, C, *in) and indices of the same shape -> (N, C, *out), x placed at the flat offsets indices."""

    def forward(self, x, indices, out_shape):
        xp = array_module(x)
        self.indices = indices
        n, c = out_shape[:2]
        out = xp.zeros((n * c, int(np.prod(out_shape[2:]))), dtype=x.dtype)
        # assignment, not accumulation: a repeated index keeps one value, as torch's max_unpool does
        out[xp.arange(n * c).reshape(-1, 1), indices.reshape(n * c, -1)] = x.reshape(n * c, -1)
        return out.reshape(out_shape)

    def backward(self, dy):
        xp = array_module(dy)
        n, c = dy.shape[:2]
        rows = xp.arange(n * c).reshape(-1, 1)
        return dy.reshape(n * c, -1)[rows, self.indices.reshape(n * c, -1)].reshape(self.indices.shape), None
