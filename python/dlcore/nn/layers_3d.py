"""Volumetric (N, C, D, H, W) layers and max unpooling, with torch.nn's names, arguments, defaults and
parameter names/shapes (so state dicts load both ways). Each is a thin holder around ``nn/_functional_3d.py``;
BatchNorm3d and InstanceNorm3d reuse the 2-D layers' functions, which take any trailing dims.
"""
from __future__ import annotations

import math

import numpy as np

from ..ops.conv3d import triple
from ..tensor import default_dtype
from . import _functional_3d as F3
from . import init
from ._functional_layers import pad
from .layers_more import InstanceNorm2d, LPPool1d, _Pad2d
from .module import Module, Parameter
from .modules import _PAD_MODES, _BatchNorm, _place, conv_extra_repr


def _check_groups(name, in_channels, out_channels, groups):
    if groups < 1 or in_channels % groups or out_channels % groups:
        raise ValueError(f"{name}: channels ({in_channels}, {out_channels}) must be divisible by groups={groups}")


class _ConvNd3(Module):
    """Weight, bias and torch's default init shared by Conv3d and ConvTranspose3d."""

    def _make_parameters(self, weight_shape, out_channels, bias, dtype, device):
        dtype = dtype or default_dtype
        self.weight = Parameter(np.empty(weight_shape, dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        _place(self, device)

    def reset_parameters(self):
        # torch's fan_in is weight.shape[1] * KD*KH*KW for both layouts (C_out/groups for the transposed one)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.weight.shape[1] * int(np.prod(self.kernel_size)))
            init.uniform_(self.bias, -bound, bound)


class Conv3d(_ConvNd3):
    """weight (out_channels, in_channels/groups, KD, KH, KW), bias (out_channels,)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"Conv3d: padding_mode must be one of {sorted(_PAD_MODES)}, got {padding_mode!r}")
        _check_groups("Conv3d", in_channels, out_channels, groups)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = triple(kernel_size, "Conv3d: kernel_size")
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.padding_mode = padding_mode
        self._make_parameters((out_channels, in_channels // groups) + self.kernel_size, out_channels, bias, dtype,
                              device)

    def forward(self, input):
        if self.padding_mode == "zeros":
            return F3.conv3d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        return F3.conv3d(self._pad(input), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def _pad(self, input):
        """padding_mode 'reflect' / 'replicate' / 'circular': F.pad does the padding, the convolution none."""
        if self.padding == "valid":
            return input
        if self.padding == "same":
            totals = [d * (k - 1) for d, k in zip(triple(self.dilation, "dilation"), self.kernel_size)]
            lo_hi = [(t // 2, t - t // 2) for t in totals]
        else:
            lo_hi = [(p, p) for p in triple(self.padding, "Conv3d: padding")]
        (d0, d1), (h0, h1), (w0, w1) = lo_hi
        return pad(input, (w0, w1, h0, h1, d0, d1), mode=self.padding_mode)

    def extra_repr(self):
        return conv_extra_repr(self)


class ConvTranspose3d(_ConvNd3):
    """weight (in_channels, out_channels/groups, KD, KH, KW), bias (out_channels,)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        if padding_mode != "zeros":  # torch allows only 'zeros' here too
            raise ValueError(f"ConvTranspose3d: only padding_mode='zeros' is supported, got {padding_mode!r}")
        _check_groups("ConvTranspose3d", in_channels, out_channels, groups)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = triple(kernel_size, "ConvTranspose3d: kernel_size")
        self.stride, self.padding, self.output_padding = stride, padding, output_padding
        self.groups, self.dilation, self.padding_mode = groups, dilation, padding_mode
        self._make_parameters((in_channels, out_channels // groups) + self.kernel_size, out_channels, bias, dtype,
                              device)

    def forward(self, input, output_size=None):
        output_padding = self.output_padding if output_size is None else self._output_padding(input, output_size)
        return F3.conv_transpose3d(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                                   self.groups, self.dilation)

    def _output_padding(self, input, output_size):
        """The output_padding that gives output_size (its last three entries), as torch's layer computes it."""
        size = tuple(int(s) for s in output_size)[-3:]
        if len(size) != 3:
            raise ValueError(f"ConvTranspose3d: output_size must give 3 spatial sizes, got {output_size}")
        stride, padding = triple(self.stride, "stride"), triple(self.padding, "padding")
        dilation = triple(self.dilation, "dilation")
        smallest = [(i - 1) * s - 2 * p + d * (k - 1) + 1 for i, s, p, d, k in
                    zip(input.shape[-3:], stride, padding, dilation, self.kernel_size)]
        return tuple(o - m for o, m in zip(size, smallest))  # conv_transpose3d checks the range

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, output_padding={self.output_padding}, groups={self.groups}")


class MaxPool3d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        return F3.max_pool3d(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                             self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool3d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad, self.divisor_override = ceil_mode, count_include_pad, divisor_override

    def forward(self, input):
        return F3.avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                             self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool3d(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return F3.adaptive_avg_pool3d(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool3d(Module):
    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input):
        return F3.adaptive_max_pool3d(input, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class BatchNorm3d(_BatchNorm):
    """Over (N, C, D, H, W); statistics per channel over N, D, H, W."""

    _input_dims = (5,)


class InstanceNorm3d(InstanceNorm2d):
    """Each sample's channel normalized over its D x H x W: (N, C, D, H, W) or (C, D, H, W)."""

    def forward(self, input):
        if input.ndim not in (4, 5) or input.shape[-4] != self.num_features:
            raise ValueError(f"InstanceNorm3d({self.num_features}): expected (N, {self.num_features}, D, H, W) or "
                             f"({self.num_features}, D, H, W), got {input.shape}")
        # InstanceNorm2d's group norm with one channel per group takes any trailing dims: fold D into H
        folded = input.reshape(input.shape[:-3] + (input.shape[-3] * input.shape[-2], input.shape[-1]))
        return super().forward(folded).reshape(input.shape)


class Dropout3d(Module):
    """Zeroes whole channels with probability p in training; identity in eval."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input):
        return F3.dropout3d(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class FeatureAlphaDropout(Dropout3d):
    """AlphaDropout over whole channels (F.feature_alpha_dropout), for SELU networks on (N, C, *) input."""

    def forward(self, input):
        return F3.feature_alpha_dropout(input, self.p, self.training)


class _MaxUnpoolNd(Module):
    _spatial = 0

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, input, indices, output_size=None):
        fn = (F3.max_unpool1d, F3.max_unpool2d, F3.max_unpool3d)[self._spatial - 1]
        return fn(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    _spatial = 1


class MaxUnpool2d(_MaxUnpoolNd):
    _spatial = 2


class MaxUnpool3d(_MaxUnpoolNd):
    _spatial = 3


class _Pad3d(_Pad2d):
    """(left, right, top, bottom, front, back) on the last three axes; an int pads every side."""

    _sides = ("left", "right", "top", "bottom", "front", "back")


class ZeroPad3d(_Pad3d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ConstantPad3d(_Pad3d):
    pass


class ReflectionPad3d(_Pad3d):
    mode = "reflect"

    def __init__(self, padding):
        super().__init__(padding)


class ReplicationPad3d(_Pad3d):
    mode = "replicate"

    def __init__(self, padding):
        super().__init__(padding)


class CircularPad3d(_Pad3d):
    mode = "circular"

    def __init__(self, padding):
        super().__init__(padding)


class LPPool3d(LPPool1d):
    def forward(self, input):
        return F3.lp_pool3d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)
