"""torch.nn.functional names for volumetric (N, C, D, H, W) data, and max unpooling in 1, 2 and 3 dimensions.

Re-exported by ``dlcore.nn.functional``. The convolutions run on the conv2d kernels (``ops/conv3d.py``),
the pools on NumPy windows (``ops/pool3d.py``), adaptive pooling and 5-D ``interpolate`` on separable
matrices (``ops/resample3d.py``). Unbatched input (C, D, H, W) is accepted wherever torch accepts it.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..ops import conv3d as conv3d_ops
from ..ops import pool3d, resample3d
from ..random import next_seed
from ..tensor import Tensor

__all__ = [
    "adaptive_avg_pool3d", "adaptive_max_pool3d", "avg_pool3d", "conv3d", "conv_transpose3d", "dropout3d",
    "feature_alpha_dropout", "lp_pool3d", "max_pool3d", "max_unpool1d", "max_unpool2d", "max_unpool3d",
]


def _check_tensor(name, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: input must be a dlcore.Tensor, got {type(input).__name__}")


def _check_dtypes(name, input, *params):
    """Parameters must have the input's dtype (the kernels would otherwise see mixed float32/float64)."""
    for p in params:
        if p is not None and p.dtype != input.dtype:
            raise TypeError(f"{name}: input dtype {input.dtype} and parameter dtype {p.dtype} differ")


def _batched(name, input, spatial, run):
    """Runs `run` on (N, C, *spatial) input; an unbatched (C, *spatial) input round-trips through N = 1.
    `run` returns a Tensor or a tuple of Tensors."""
    _check_tensor(name, input)
    if input.ndim not in (spatial + 1, spatial + 2):
        dims = {1: "L", 2: "H, W", 3: "D, H, W"}[spatial]
        raise ValueError(f"{name} expects (N, C, {dims}) or (C, {dims}) input, got shape {input.shape}")
    if input.ndim == spatial + 2:
        return run(input)
    out = run(input.unsqueeze(0))
    return tuple(o.squeeze(0) for o in out) if isinstance(out, tuple) else out.squeeze(0)


# ---- convolutions -----------------------------------------------------------------------------------------------
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D cross-correlation: input (N, C, D, H, W), weight (O, C/groups, KD, KH, KW), bias (O,) ->
    (N, O, OD, OH, OW), OD = (D + 2*pad - dilation*(KD-1) - 1) // stride + 1 (likewise OH, OW).

    ``padding``: an int, a triple, "valid" or "same" (stride 1). float32 runs the conv2d kernels with the
    kernel's depth taps stacked as input channels (ops/conv3d.py).

    Example:
        >>> F.conv3d(dlcore.randn(2, 4, 5, 8, 8), dlcore.randn(6, 4, 3, 3, 3), padding=1).shape
        (2, 6, 5, 8, 8)
    """
    _check_tensor("conv3d", input)
    _check_tensor("conv3d", weight)
    _check_dtypes("conv3d", input, weight, bias)
    return _batched("conv3d", input, 3, lambda x: conv3d_ops.Conv3d.apply(
        x, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups))


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 3-D convolution (conv3d's data gradient): weight (C_in, C_out/groups, KD, KH, KW);
    OD = (D - 1)*stride - 2*padding + dilation*(KD - 1) + output_padding + 1. Argument order as torch's."""
    _check_tensor("conv_transpose3d", input)
    _check_tensor("conv_transpose3d", weight)
    _check_dtypes("conv_transpose3d", input, weight, bias)
    return _batched("conv_transpose3d", input, 3, lambda x: conv3d_ops.ConvTranspose3d.apply(
        x, weight, bias, stride=stride, padding=padding, output_padding=output_padding, dilation=dilation,
        groups=int(groups)))


# ---- pooling ----------------------------------------------------------------------------------------------------
def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over kernel_size windows of (N, C, D, H, W) (stride defaults to kernel_size); torch's output sizes.

    ``return_indices=True`` also returns int64 flat offsets d*H*W + h*W + w per (n, c) volume
    (what max_unpool3d takes).
    """
    def run(x):
        out, node = pool3d.MaxPool3d.apply_with_node(x, kernel_size, stride, padding, dilation, ceil_mode)
        return (out, Tensor(node.indices)) if return_indices else out
    return _batched("max_pool3d", input, 3, run)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over kernel_size windows; ``count_include_pad`` counts zero padding in the divisor, and
    ``divisor_override`` (a nonzero int) replaces the divisor."""
    if divisor_override is not None and (not isinstance(divisor_override, numbers.Integral) or divisor_override == 0):
        raise ValueError(f"avg_pool3d: divisor_override must be a nonzero int, got {divisor_override!r}")
    return _batched("avg_pool3d", input, 3, lambda x: pool3d.AvgPool3d.apply(
        x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override))


def adaptive_avg_pool3d(input, output_size):
    """Mean over torch's adaptive windows: (N, C, D, H, W) -> (N, C, *output_size); window i along an axis
    of size S covers [floor(i*S/O), ceil((i+1)*S/O)). ``output_size``: int or triple (None keeps a size)."""
    def run(x):
        out = resample3d.adaptive_output_size_3d("adaptive_avg_pool3d", x.shape, output_size)
        return resample3d.Separable3d.apply(x, resample3d.adaptive_avg_matrices(x.shape, out))
    return _batched("adaptive_avg_pool3d", input, 3, run)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max over torch's adaptive windows; ``return_indices`` gives flat d*H*W + h*W + w offsets (int64)."""
    def run(x):
        out = resample3d.adaptive_output_size_3d("adaptive_max_pool3d", x.shape, output_size)
        y, node = resample3d.AdaptiveMaxPool3d.apply_with_node(x, out)
        return (y, Tensor(node.indices)) if return_indices else y
    return _batched("adaptive_max_pool3d", input, 3, run)


# ---- max unpooling ----------------------------------------------------------------------------------------------
def _unpool_size(name, in_spatial, kernel, stride, padding, output_size):
    """torch's default (in - 1)*stride - 2*padding + kernel per axis, or output_size (spatial, or with N, C)."""
    if output_size is not None:
        output_size = tuple(int(s) for s in output_size)[-len(in_spatial):]
        if len(output_size) != len(in_spatial):
            raise ValueError(f"{name}: output_size {output_size} must give {len(in_spatial)} spatial sizes")
        return output_size
    return tuple((i - 1) * s - 2 * p + k for i, k, s, p in zip(in_spatial, kernel, stride, padding))


def _ints(value, n, name):
    if isinstance(value, numbers.Integral):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ValueError(f"{name} must be an int or {n} ints, got {value}")
    return value


def _max_unpool(name, spatial, input, indices, kernel_size, stride, padding, output_size):
    _check_tensor(name, indices)
    if indices.shape != input.shape:
        raise ValueError(f"{name}: indices shape {indices.shape} differs from input shape {input.shape}")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be integers, got dtype {indices.dtype}")
    kernel = _ints(kernel_size, spatial, f"{name}: kernel_size")
    stride = kernel if stride is None else _ints(stride, spatial, f"{name}: stride")
    padding = _ints(padding, spatial, f"{name}: padding")

    def run(x, idx):
        out = _unpool_size(name, x.shape[2:], kernel, stride, padding, output_size)
        if min(out) < 1:
            raise ValueError(f"{name}: output size {out} must be positive")
        volume, raw = int(np.prod(out)), idx._data
        if raw.size and (int(raw.min()) < 0 or int(raw.max()) >= volume):
            raise IndexError(f"{name}: indices must be in [0, {volume}) for output size {out}, got values in "
                             f"[{int(raw.min())}, {int(raw.max())}]")
        return pool3d.MaxUnpool.apply(x, raw, x.shape[:2] + out)

    _batched(name, input, spatial, lambda x: x)  # the rank check, with the layer's message
    if input.ndim == spatial + 2:
        return run(input, indices)
    return run(input.unsqueeze(0), indices.unsqueeze(0)).squeeze(0)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool1d: input placed at `indices` (positions along L), zeros elsewhere."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool2d: input placed at `indices` (flat h*W + w), zeros elsewhere."""
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool3d: input placed at `indices` (flat d*H*W + h*W + w), zeros elsewhere."""
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)


# ---- dropout and interpolation ----------------------------------------------------------------------------------
def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of (N, C, D, H, W) or (C, D, H, W) with probability p, scales the rest by
    1/(1-p); identity in eval."""
    from .._device import array_like

    _check_tensor("dropout3d", input)
    if not 0 <= p <= 1:
        raise ValueError(f"dropout3d: probability must be in [0, 1], got {p}")
    if input.ndim not in (4, 5):
        raise ValueError(f"dropout3d expects (N, C, D, H, W) or (C, D, H, W) input, got shape {input.shape}")
    if not training or p == 0:
        return input
    lead = input.shape[:-3]
    keep = np.random.default_rng(next_seed()).random(lead) >= p
    scale = np.zeros(lead) if p == 1 else keep / (1 - p)
    return input * Tensor(array_like(scale.astype(input.dtype).reshape(lead + (1, 1, 1)), input._data))


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """alpha_dropout over whole channels of (N, C, *): a dropped channel is set to SELU's saturation value,
    then the affine map that keeps zero mean and unit variance (torch's FeatureAlphaDropout); identity in eval."""
    from .._device import array_like
    from ._functional_more import _ALPHA_PRIME

    _check_tensor("feature_alpha_dropout", input)
    if not 0 <= p <= 1:
        raise ValueError(f"feature_alpha_dropout: probability must be in [0, 1], got {p}")
    if input.ndim < 2:
        raise ValueError(f"feature_alpha_dropout expects (N, C, *) input, got shape {input.shape}")
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0.0
    mask_shape = input.shape[:2] + (1,) * (input.ndim - 2)
    keep = (np.random.default_rng(next_seed()).random(input.shape[:2]) >= p).reshape(mask_shape)
    a = ((1 - p) * (1 + p * _ALPHA_PRIME ** 2)) ** -0.5
    shift = np.where(keep, 0.0, a * _ALPHA_PRIME) - a * _ALPHA_PRIME * p

    def constant(values):
        return Tensor(array_like(values.astype(input.dtype), input._data))
    return input * constant(keep * a) + constant(shift)


def interpolate_5d(input, size, scale_factor, mode, align_corners, recompute_scale_factor):
    """F.interpolate on (N, C, D, H, W): mode "nearest" or "trilinear" (torch's coordinate rules)."""
    if mode not in ("nearest", "trilinear"):
        raise ValueError(f"interpolate: 5-D input supports mode 'nearest' or 'trilinear', got {mode!r}")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("interpolate: align_corners only applies to mode='trilinear'")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    scales = None
    if size is not None:
        size = _ints(size, 3, "interpolate: size")
    else:
        sf = (scale_factor,) * 3 if isinstance(scale_factor, numbers.Real) else tuple(scale_factor)
        if len(sf) != 3 or min(sf) <= 0:
            raise ValueError(f"interpolate: scale_factor must be a positive number or triple, got {scale_factor}")
        size = tuple(int(np.floor(n * s)) for n, s in zip(input.shape[2:], sf))
        if not recompute_scale_factor:  # torch then maps coordinates with 1/scale_factor, not D/OD
            scales = tuple(1.0 / s for s in sf)
    if min(size) < 1:
        raise ValueError(f"interpolate: output size {size} must be positive")
    matrices = resample3d.interpolation_matrices(input.shape, size, mode, align_corners, scales)
    return resample3d.Separable3d.apply(input, matrices)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum of x^p over each kernel_size window)^(1/p) over (D, H, W) (torch's: no padding)."""
    kd, kh, kw = _ints(kernel_size, 3, "lp_pool3d: kernel_size")
    out = avg_pool3d(input ** norm_type, (kd, kh, kw), stride, 0, ceil_mode) * (kd * kh * kw)
    return out ** (1.0 / norm_type)
