"""torch.nn.functional names for the layers added for ported programs and the model zoo.

Re-exported by ``dlcore.nn.functional``; each runs one autograd Function
(``ops/resample.py``, ``ops/conv_transpose.py``, ``ops/layer_norm.py``,
``ops/activation_more.py``) or composes existing ones.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._device import array_like
from ..ops import activation_more, conv_transpose, resample
from ..ops import layer_norm as ln
from ..ops._common import array_module
from ..random import next_seed
from ..tensor import Tensor

__all__ = [
    "adaptive_avg_pool2d", "adaptive_max_pool2d", "conv_transpose2d", "dropout2d", "gelu", "group_norm",
    "interpolate", "layer_norm", "one_hot", "pad", "silu",
]


def _check_tensor(name, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: input must be a dlcore.Tensor, got {type(input).__name__}")


def adaptive_avg_pool2d(input, output_size):
    """Mean over PyTorch's adaptive windows: (N, C, H, W) -> (N, C, *output_size).

    Window i along an axis of size S covers [floor(i*S/O), ceil((i+1)*S/O)).
    ``output_size`` is an int, a pair, or a pair with None (keep that size).

    Example:
        >>> F.adaptive_avg_pool2d(dlcore.randn(2, 8, 7, 7), 1).shape
        (2, 8, 1, 1)
    """
    _check_tensor("adaptive_avg_pool2d", input)
    return resample.AdaptiveAvgPool2d.apply(input, output_size)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over PyTorch's adaptive windows; ``return_indices`` gives flat h*W+w offsets per plane."""
    _check_tensor("adaptive_max_pool2d", input)
    out, node = resample.AdaptiveMaxPool2d.apply_with_node(input, output_size)
    return (out, Tensor(node.indices.astype(np.int64))) if return_indices else out


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution (the data gradient of conv2d): weight (C_in, C_out/groups, KH, KW).

    OH = (H - 1)*stride - 2*padding + dilation*(KH - 1) + output_padding + 1. Argument order as PyTorch's.
    """
    _check_tensor("conv_transpose2d", input)
    return conv_transpose.ConvTranspose2d.apply(input, weight, bias, stride=stride, padding=padding,
                                                output_padding=output_padding, dilation=dilation, groups=groups)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels (N, C, H, W) with probability p, scales the rest by 1/(1-p); identity in eval."""
    _check_tensor("dropout2d", input)
    if not 0 <= p <= 1:
        raise ValueError(f"dropout2d: probability must be in [0, 1], got {p}")
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d expects (N, C, H, W) or (C, H, W) input, got shape {input.shape}")
    if not training or p == 0:
        return input
    lead = input.shape[:-2]
    keep = np.random.default_rng(next_seed()).random(lead) >= p
    scale = np.zeros(lead) if p == 1 else keep / (1 - p)
    mask = array_like(scale.astype(input.dtype).reshape(lead + (1, 1)), input._data)
    return input * Tensor(mask)


def gelu(input, approximate="none"):
    """x * Phi(x) (Phi: the standard normal CDF); ``approximate="tanh"`` uses the tanh formula."""
    _check_tensor("gelu", input)
    return activation_more.GELU.apply(input, approximate)


def silu(input, inplace=False):
    """x * sigmoid(x) (a.k.a. swish)."""
    _check_tensor("silu", input)
    return activation_more.SiLU.apply(input)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last len(normalized_shape) axes (biased var)."""
    _check_tensor("layer_norm", input)
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    return ln.LayerNorm.apply(input, weight, bias, tuple(int(n) for n in normalized_shape), float(eps))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalizes each sample's channels in `num_groups` groups, then weight[c] * . + bias[c]."""
    _check_tensor("group_norm", input)
    return ln.GroupNorm.apply(input, int(num_groups), weight, bias, float(eps))


def pad(input, pad, mode="constant", value=0.0):
    """Pads the last len(pad)//2 axes: pad = (left, right, top, bottom, ...) as torch.nn.functional.pad.

    Modes "constant" (with `value`), "reflect", "replicate", "circular"; pads must be >= 0.
    """
    _check_tensor("pad", input)
    pad = tuple(pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: length {len(pad)} must be even and at most 2 * input.ndim ({2 * input.ndim})")
    if any(not isinstance(p, numbers.Integral) or p < 0 for p in pad):
        raise ValueError(f"pad: padding sizes must be non-negative ints, got {pad}")
    if mode != "constant" and value not in (0, 0.0, None):
        raise ValueError(f"pad: value applies to mode='constant' only (mode={mode!r})")
    return resample.Pad.apply(input, tuple(int(p) for p in pad), mode, 0.0 if value is None else float(value))


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resizes (N, C, H, W) with mode "nearest" or "bilinear", or (N, C, D, H, W) with "nearest" or
    "trilinear" (PyTorch's coordinate rules).

    Give ``size`` (int or pair / triple) or ``scale_factor`` (number or pair / triple; OH = floor(H * s)).
    ``align_corners`` applies to "bilinear" and "trilinear" only.
    """
    _check_tensor("interpolate", input)
    if antialias:
        raise ValueError("interpolate: antialias=True is not supported")
    if input.ndim == 5:
        from ._functional_3d import interpolate_5d

        return interpolate_5d(input, size, scale_factor, mode, align_corners, recompute_scale_factor)
    if input.ndim != 4:
        raise ValueError(f"interpolate supports 4-D (N, C, H, W) and 5-D (N, C, D, H, W) input, got shape "
                         f"{input.shape}")
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"interpolate: mode must be 'nearest' or 'bilinear', got {mode!r}")
    if antialias:
        raise ValueError("interpolate: antialias=True is not supported")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("interpolate: align_corners only applies to mode='bilinear'")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    h, w = input.shape[2:]
    scales = None
    if size is not None:
        size = (size, size) if isinstance(size, numbers.Integral) else tuple(size)
        if len(size) != 2:
            raise ValueError(f"interpolate: size must be an int or a pair, got {size}")
    else:
        sf = (scale_factor, scale_factor) if isinstance(scale_factor, numbers.Real) else tuple(scale_factor)
        if len(sf) != 2 or min(sf) <= 0:
            raise ValueError(f"interpolate: scale_factor must be a positive number or pair, got {scale_factor}")
        size = (int(np.floor(h * sf[0])), int(np.floor(w * sf[1])))
        if not recompute_scale_factor:
            scales = (1.0 / sf[0], 1.0 / sf[1])
    size = tuple(int(s) for s in size)
    if min(size) < 1:
        raise ValueError(f"interpolate: output size {size} must be positive")
    return resample.Interpolate.apply(input, size, mode, align_corners, scales)


def one_hot(tensor, num_classes=-1):
    """Integer class indices (*) -> int64 (*, num_classes) with a 1 at each index (num_classes=-1: max + 1)."""
    data = tensor._data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if data.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expects an integer tensor of class indices, got dtype {data.dtype}")
    xp = array_module(data)
    if num_classes == -1:
        if data.size == 0:
            raise ValueError("one_hot: can not infer num_classes from an empty tensor")
        num_classes = int(data.max()) + 1
    if data.size and (int(data.min()) < 0 or int(data.max()) >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got [{int(data.min())}, "
                         f"{int(data.max())}]")
    return Tensor((data[..., None] == xp.arange(num_classes)).astype(np.int64))
