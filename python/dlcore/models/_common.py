"""Argument checks and initialization shared by the zoo's builders."""
from __future__ import annotations

import numbers

from .. import nn


def check_args(name, num_classes, in_channels, width_mult=1.0):
    for arg, value in (("num_classes", num_classes), ("in_channels", in_channels)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}: {arg} must be a positive int, got {value!r}")
    if not isinstance(width_mult, numbers.Real) or width_mult <= 0:
        raise ValueError(f"{name}: width_mult must be a positive number, got {width_mult!r}")


def scaled(channels, width_mult):
    """Channel count scaled by width_mult, at least 1."""
    return max(1, int(round(channels * width_mult)))


def init_torchvision_style(model, linear_std=None):
    """Kaiming-normal (fan_out) convs, BN/GN weight 1 bias 0, Linear normal(0, std) or default: torchvision's init."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and linear_std is not None:
            nn.init.normal_(m.weight, 0, linear_std)
            nn.init.zeros_(m.bias)


def make_divisible(value, divisor=8, min_value=None):
    """torchvision's _make_divisible: the nearest multiple of `divisor` (at least min_value, default divisor),
    bumped up one step when rounding lost more than 10% (the MobileNet/EfficientNet channel rule)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class Conv2dNormActivation(nn.Sequential):
    """torchvision.ops.Conv2dNormActivation: conv (no bias when normalized), norm, activation as items 0, 1, 2,
    so the state-dict names are torchvision's. ``padding=None`` keeps the spatial size at stride 1;
    ``norm_layer`` / ``activation_layer`` are classes (or partials) or None to leave that item out."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=None, groups=1,
                 norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU, dilation=1, bias=None):
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        if bias is None:
            bias = norm_layer is None
        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                            dilation=dilation, groups=groups, bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            layers.append(activation_layer())
        super().__init__(*layers)
        self.out_channels = out_channels


def stochastic_depth(input, p, mode, training=True):
    """torchvision.ops.stochastic_depth (Huang et al. 2016): in training, zeroes the whole input with
    probability p, per sample (``mode="row"``) or for the whole batch (``"batch"``), and scales what survives
    by 1/(1-p); the input itself in eval or with p = 0."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"stochastic_depth: drop probability must be in [0, 1], got {p}")
    if mode not in ("row", "batch"):
        raise ValueError(f"stochastic_depth: mode must be 'row' or 'batch', got {mode!r}")
    if not training or p == 0.0:
        return input
    from .._device import array_like
    from ..random import default_generator
    from ..tensor import Tensor

    survival = 1.0 - p
    shape = (input.shape[0],) + (1,) * (input.ndim - 1) if mode == "row" else (1,) * input.ndim
    keep = (default_generator().random(shape) < survival).astype(input.dtype)
    if survival > 0.0:
        keep /= survival
    return input * Tensor(array_like(keep, input._data))  # on the input's device


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth: :func:`stochastic_depth` as a layer (identity in eval)."""

    def __init__(self, p, mode="row"):
        super().__init__()
        stochastic_depth(None, p, mode, training=False)  # the argument checks, at construction
        self.p, self.mode = float(p), mode

    def forward(self, input):
        return stochastic_depth(input, self.p, self.mode, self.training)

    def extra_repr(self):
        return f"p={self.p}, mode={self.mode}"
