"""Fractional max pooling (Graham 2014): FractionalMaxPool2d / 3d and their functional forms, as torch's.

Each plane pools over windows of kernel_size whose starts follow a pseudo-random increasing sequence, so the
output can be any size between input / kernel and input (``output_size`` or ``output_ratio``). The sequence is
torch's (ATen's generate_intervals, computed in the input's dtype): for a sample u in [0, 1),
alpha = (input - kernel) / (output - 1), start_i = int((i + u) alpha) - int(u alpha), the last window at the
end. The samples (N, C, spatial dims) come from dlcore's generator or ``_random_samples``; passing torch's gives
torch's result. The maximum is gathered on the tape (its gradient goes to the chosen element).
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import random as _random
from ..tensor import Tensor
from .module import Module

__all__ = ["FractionalMaxPool2d", "FractionalMaxPool3d", "fractional_max_pool2d", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d", "fractional_max_pool3d_with_indices"]


def _tuple(value, n, name):
    values = (value,) * n if isinstance(value, numbers.Number) else tuple(value)
    if len(values) != n:
        raise ValueError(f"fractional_max_pool: {name} must be an int or {n} values, got {value}")
    return values


def _starts(samples, size, out, kernel, dtype):
    """(N, C, out) window starts along one axis from the (N, C) samples."""
    starts = np.empty(samples.shape + (out,), dtype=np.int64)
    if out > 1:
        alpha = dtype.type(size - kernel) / dtype.type(out - 1)
        i = np.arange(out - 1, dtype=dtype)
        u = samples.astype(dtype)[..., None]
        starts[..., :-1] = ((i + u) * alpha).astype(np.int64) - (u * alpha).astype(np.int64)
    starts[..., -1] = size - kernel
    return starts


def _fractional(name, input, spatial, kernel_size, output_size, output_ratio, samples):
    if input.ndim not in (spatial + 1, spatial + 2):
        raise ValueError(f"{name}: expected a {spatial + 1}-D or {spatial + 2}-D input, got shape {tuple(input.shape)}")
    unbatched = input.ndim == spatial + 1
    x = input.unsqueeze(0) if unbatched else input
    n, c, sizes = x.shape[0], x.shape[1], tuple(x.shape[2:])
    kernel = _tuple(kernel_size, spatial, "kernel_size")
    if output_size is None and output_ratio is None:
        raise ValueError(f"{name} requires output_size or output_ratio")
    if output_size is not None:
        out = _tuple(output_size, spatial, "output_size")
    else:
        ratio = _tuple(output_ratio, spatial, "output_ratio")
        if not all(0 < r < 1 for r in ratio):
            raise ValueError(f"{name}: output_ratio must be in (0, 1), got {output_ratio}")
        out = tuple(int(s * r) for s, r in zip(sizes, ratio))
    for s, k, o in zip(sizes, kernel, out):
        if k < 1 or o < 1 or o + k - 1 > s:
            raise ValueError(f"{name}: output size {out} with kernel {kernel} does not fit the input {sizes}")
    dtype = np.dtype(x.dtype)
    if samples is None:
        samples = _random.default_generator().random((n, c, spatial)).astype(dtype)
    else:
        samples = np.asarray(samples.numpy() if isinstance(samples, Tensor) else samples, dtype=dtype)
        if samples.shape != (n, c, spatial):
            raise ValueError(f"{name}: _random_samples must have shape {(n, c, spatial)}, got {samples.shape}")
    # which sample drives which axis, as ATen: 2-D pairs sample 0 with W and 1 with H; 3-D goes T, H, W in order
    order = [1, 0] if spatial == 2 else list(range(spatial))
    starts = [_starts(samples[..., order[d]], sizes[d], out[d], kernel[d], dtype) for d in range(spatial)]
    data = x.numpy().reshape(n, c, -1)
    best_value, best_index = None, None
    axes = [starts[d].reshape((n, c) + tuple(out[d] if e == d else 1 for e in range(spatial)))
            for d in range(spatial)]  # each axis's window starts, broadcastable over the output
    for offset in np.ndindex(*kernel):  # every position inside the windows; the first maximum wins, NaN wins
        flat = np.zeros((n, c) + out, dtype=np.int64)
        for d in range(spatial):
            flat = flat * sizes[d] + (axes[d] + offset[d])
        values = np.take_along_axis(data, flat.reshape(n, c, -1), axis=2).reshape(flat.shape)
        if best_value is None:
            best_value, best_index = values, flat
            continue
        better = (values > best_value) | (np.isnan(values) & ~np.isnan(best_value))
        best_value, best_index = np.where(better, values, best_value), np.where(better, flat, best_index)
    planes = np.arange(n * c).reshape(n, c, *(1,) * spatial)
    y = x.reshape(n * c, -1)[Tensor(np.broadcast_to(planes, best_index.shape).copy()), Tensor(best_index)]
    indices = Tensor(best_index)
    if unbatched:
        y, indices = y.squeeze(0), indices.squeeze(0)
    return y, indices


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    return _fractional("fractional_max_pool2d", input, 2, kernel_size, output_size, output_ratio, _random_samples)


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    y, indices = fractional_max_pool2d_with_indices(input, kernel_size, output_size, output_ratio, True,
                                                    _random_samples)
    return (y, indices) if return_indices else y


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    return _fractional("fractional_max_pool3d", input, 3, kernel_size, output_size, output_ratio, _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    y, indices = fractional_max_pool3d_with_indices(input, kernel_size, output_size, output_ratio, True,
                                                    _random_samples)
    return (y, indices) if return_indices else y


class FractionalMaxPool2d(Module):
    _functional = staticmethod(fractional_max_pool2d)

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False, _random_samples=None):
        super().__init__()
        if output_size is None and output_ratio is None:
            raise ValueError(f"{type(self).__name__} requires specifying either an output size, or a pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        self.kernel_size, self.output_size, self.output_ratio = kernel_size, output_size, output_ratio
        self.return_indices, self._random_samples = return_indices, _random_samples

    def forward(self, input):
        return type(self)._functional(input, self.kernel_size, self.output_size, self.output_ratio,
                                      self.return_indices, self._random_samples)


class FractionalMaxPool3d(FractionalMaxPool2d):
    _functional = staticmethod(fractional_max_pool3d)
