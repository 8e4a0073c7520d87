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
