"""MobileNet v3 small and large (Howard et al. 2019): inverted residuals with SE and hard-swish; torchvision's
names (``features``, ``avgpool``, ``classifier``; blocks' ``block``) and BN eps 1e-3, momentum 0.01."""
from __future__ import annotations

from functools import partial

from .. import nn
from ._common import Conv2dNormActivation, check_args, init_torchvision_style, make_divisible
from .se import SqueezeExcitation

#: per block: input channels, kernel, expanded channels, output channels, SE, activation (RE/HS), stride
LARGE = [(16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2), (24, 3, 72, 24, False, "RE", 1),
         (24, 5, 72, 40, True, "RE", 2), (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
         (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
         (80, 3, 184, 80, False, "HS", 1), (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
         (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1), (160, 5, 960, 160, True, "HS", 1)]
SMALL = [(16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2), (24, 3, 88, 24, False, "RE", 1),
         (24, 5, 96, 40, True, "HS", 2), (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
         (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1), (48, 5, 288, 96, True, "HS", 2),
         (96, 5, 576, 96, True, "HS", 1), (96, 5, 576, 96, True, "HS", 1)]
#: the classifier's hidden width (before width_mult)
LAST_CHANNEL = {"large": 1280, "small": 1024}

BatchNorm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)


class InvertedResidual(nn.Module):
    """``block``: [1x1 expand conv-BN-act], kxk depthwise conv-BN-act, [SE with hard-sigmoid scale],
    1x1 projection conv-BN; the input is added back when stride is 1 and the channel count is unchanged."""

    def __init__(self, inp, kernel, expanded, out, use_se, activation, stride):
        super().__init__()
        act = nn.Hardswish if activation == "HS" else nn.ReLU
        self.use_res_connect = stride == 1 and inp == out
        layers = []
        if expanded != inp:
            layers.append(Conv2dNormActivation(inp, expanded, 1, norm_layer=BatchNorm, activation_layer=act))
        layers.append(Conv2dNormActivation(expanded, expanded, kernel, stride=stride, groups=expanded,
                                           norm_layer=BatchNorm, activation_layer=act))
        if use_se:
            layers.append(SqueezeExcitation(expanded, make_divisible(expanded // 4, 8),
                                            scale_activation=nn.Hardsigmoid))
        layers.append(Conv2dNormActivation(expanded, out, 1, norm_layer=BatchNorm, activation_layer=None))
        self.block = nn.Sequential(*layers)
        self.out_channels = out

    def forward(self, x):
        return x + self.block(x) if self.use_res_connect else self.block(x)


class MobileNetV3(nn.Module):
    """``arch`` "large" or "small". Channel counts: width_mult times the paper's, rounded to multiples of 8."""

    def __init__(self, arch="large", num_classes=1000, width_mult=1.0, dropout=0.2, in_channels=3):
        super().__init__()
        check_args(f"mobilenet_v3_{arch}", num_classes, in_channels, width_mult)
        if arch not in LAST_CHANNEL:
            raise ValueError(f"mobilenet_v3: arch must be 'large' or 'small', got {arch!r}")
        setting = LARGE if arch == "large" else SMALL
        adjust = lambda c: make_divisible(c * width_mult, 8)  # noqa: E731
        first = adjust(setting[0][0])
        layers = [Conv2dNormActivation(in_channels, first, stride=2, norm_layer=BatchNorm,
                                       activation_layer=nn.Hardswish)]
        for inp, kernel, expanded, out, use_se, act, stride in setting:
            layers.append(InvertedResidual(adjust(inp), kernel, adjust(expanded), adjust(out), use_se, act, stride))
        last_in = adjust(setting[-1][3])
        last_conv = 6 * last_in
        last_channel = adjust(LAST_CHANNEL[arch])
        layers.append(Conv2dNormActivation(last_in, last_conv, 1, norm_layer=BatchNorm,
                                           activation_layer=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(last_conv, last_channel), nn.Hardswish(), nn.Dropout(dropout),
                                        nn.Linear(last_channel, num_classes))
        init_torchvision_style(self, linear_std=0.01)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def mobilenet_v3_large(num_classes=1000, width_mult=1.0, dropout=0.2, in_channels=3):
    return MobileNetV3("large", num_classes=num_classes, width_mult=width_mult, dropout=dropout,
                       in_channels=in_channels)


def mobilenet_v3_small(num_classes=1000, width_mult=1.0, dropout=0.2, in_channels=3):
    return MobileNetV3("small", num_classes=num_classes, width_mult=width_mult, dropout=dropout,
                       in_channels=in_channels)
