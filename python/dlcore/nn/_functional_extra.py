"""torch.nn.functional's remaining everyday names: affine_grid / grid_sample (spatial transformers, warping),
the in-place activations (``relu_`` ...: they change their input, on the tape as torch's in-place ops),
the ``*_with_indices`` pools, ``instance_norm`` and the deprecated ``upsample*`` spellings."""
from __future__ import annotations

import numpy as np

from ..autograd import is_grad_enabled, no_grad
from ..ops import grid_sample as grid_ops
from ..tensor import Tensor
from . import functional as F

__all__ = ["adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices", "affine_grid", "celu_", "elu_", "grid_sample", "hardtanh_",
           "instance_norm", "leaky_relu_", "max_pool1d_with_indices", "max_pool2d_with_indices",
           "max_pool3d_with_indices", "relu_", "rrelu_", "selu_", "threshold_", "upsample", "upsample_bilinear",
           "upsample_nearest"]


# ---- spatial transformers ---------------------------------------------------------------------------------
def _base_coordinates(size, align_corners):
    """The normalized pixel-center coordinates of an axis of `size` pixels."""
    if size == 1:
        return np.zeros(1)
    line = np.linspace(-1.0, 1.0, size)
    return line if align_corners else line * (size - 1) / size


def affine_grid(theta, size, align_corners=None):
    """The sampling grid of the affine maps `theta` (N, 2, 3) over an output of `size` (N, C, H, W):
    (N, H, W, 2) normalized (x, y) source coordinates, differentiable w.r.t. theta. 3-D: theta (N, 3, 4),
    size (N, C, D, H, W) -> (N, D, H, W, 3). ``align_corners`` defaults to False (torch's default)."""
    align_corners = bool(align_corners)
    size = tuple(int(s) for s in size)
    spatial = len(size) - 2
    if spatial not in (2, 3) or theta.ndim != 3 or theta.shape != (size[0], spatial, spatial + 1):
        raise ValueError(f"affine_grid: theta of shape {tuple(theta.shape)} does not fit size {size} (expected "
                         f"(N, 2, 3) with a 4-D size or (N, 3, 4) with a 5-D size)")
    axes = [_base_coordinates(s, align_corners) for s in size[2:]][::-1]  # x (W) first, as the grid's last axis
    mesh = np.meshgrid(*axes, indexing="ij")  # x, y(, z) each of shape (W, H(, D))
    base = np.stack([m.T for m in mesh] + [np.ones(size[2:])], axis=-1).reshape(-1, spatial + 1)
    base = Tensor(base.astype(theta.dtype))
    grid = base @ theta.transpose(1, 2)  # (N, H*W, 2)
    return grid.reshape((size[0],) + size[2:] + (spatial,))


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """input (N, C, H, W) sampled at grid (N, Ho, Wo, 2) (x, y in [-1, 1]) -> (N, C, Ho, Wo); modes
    'bilinear' / 'nearest', padding 'zeros' / 'border' / 'reflection' (torch's defaults and conventions)."""
    if mode not in ("bilinear", "nearest"):
        raise NotImplementedError(f"grid_sample: mode {mode!r} is not supported (bilinear, nearest)")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"grid_sample: padding_mode must be 'zeros', 'border' or 'reflection', got {padding_mode!r}")
    if input.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2 or grid.shape[0] != input.shape[0]:
        raise ValueError(f"grid_sample: expected input (N, C, H, W) and grid (N, Ho, Wo, 2), got {tuple(input.shape)} "
                         f"and {tuple(grid.shape)} (5-D volumes are not supported)")
    if input.dtype.kind != "f":
        raise TypeError(f"grid_sample: expected floating input and grid, got {input.dtype}")
    if input.dtype != grid.dtype:
        raise TypeError(f"grid_sample: input ({input.dtype}) and grid ({grid.dtype}) must have the same dtype")
    return grid_ops.GridSample.apply(input, grid, mode=mode, padding_mode=padding_mode,
                                     align_corners=bool(align_corners))


# ---- in-place activations ---------------------------------------------------------------------------------
class _AsFunction:
    """A functional seen by Tensor._record_inplace as a Function: ``apply`` runs it on the old value."""

    def __init__(self, functional, args, kwargs):
        self.functional, self.args, self.kwargs = functional, args, kwargs
        self.__name__ = functional.__name__

    def apply(self, old):
        return self.functional(old, *self.args, **self.kwargs)


def _in_place(functional, input, *args, **kwargs):
    """functional(input) written into input's storage: on the tape when input requires grad (the old
    value continues the graph), else a plain write; returns input."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{functional.__name__}_: expected a Tensor, got {type(input).__name__}")
    input._check_inplace()  # a leaf that requires grad refuses, as torch
    if is_grad_enabled() and input.requires_grad:
        return input._record_inplace(_AsFunction(functional, args, kwargs))
    with no_grad():
        out = functional(input, *args, **kwargs)
    input._data[...] = out._data
    input._version_counter()[0] += 1
    return input


def relu_(input):
    return _in_place(F.relu, input)


def leaky_relu_(input, negative_slope=0.01):
    return _in_place(F.leaky_relu, input, negative_slope)


def elu_(input, alpha=1.0):
    return _in_place(F.elu, input, alpha)


def celu_(input, alpha=1.0):
    return _in_place(F.celu, input, alpha)


def selu_(input):
    return _in_place(F.selu, input)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return _in_place(F.hardtanh, input, min_val, max_val)


def threshold_(input, threshold, value):
    return _in_place(F.threshold, input, threshold, value)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return _in_place(F.rrelu, input, lower, upper, training)


# ---- spellings ---------------------------------------------------------------------------------------------
def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return F.max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return F.max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return F.max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    return F.adaptive_max_pool3d(input, output_size, return_indices=True)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return F.adaptive_max_pool1d(input, output_size, return_indices=True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return F.adaptive_max_pool2d(input, output_size, return_indices=True)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Each sample's channels normalized over their own spatial extent (torch.nn.functional.instance_norm);
    running statistics are not supported (use_input_stats must be True, as InstanceNorm's default)."""
    if not use_input_stats or running_mean is not None or running_var is not None:
        raise NotImplementedError("instance_norm: running statistics are not supported (use_input_stats=True)")
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected (N, C, ...) input, got shape {tuple(input.shape)}")
    n, c = input.shape[:2]
    y = F.group_norm(input.reshape((1, n * c) + tuple(input.shape[2:])), n * c, eps=eps).reshape(input.shape)
    shape = (1, c) + (1,) * (input.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated spelling of interpolate (torch.nn.functional.upsample)."""
    return F.interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return F.interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Bilinear with align_corners=True, as torch's deprecated upsample_bilinear."""
    return F.interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
