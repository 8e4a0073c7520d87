"""MobileNet v2 (Sandler et al. 2018): inverted residuals with linear bottlenecks; torchvision's names."""
from __future__ import annotations

from .. import nn
from ._common import Conv2dNormActivation, check_args, init_torchvision_style, make_divisible

#: (expansion t, output channels c, repeats n, first stride s): Table 2 of the paper.
INVERTED_RESIDUAL_SETTING = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1],
                             [6, 160, 3, 2], [6, 320, 1, 1]]


class InvertedResidual(nn.Module):
    """``conv``: [1x1 expand conv-BN-ReLU6 when t > 1], 3x3 depthwise conv-BN-ReLU6, 1x1 linear projection
    conv + BN; the input is added back when stride is 1 and the channel count is unchanged."""

    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride must be 1 or 2, got {stride}")
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden, kernel_size=1, activation_layer=nn.ReLU6))
        layers += [Conv2dNormActivation(hidden, hidden, stride=stride, groups=hidden, activation_layer=nn.ReLU6),
                   nn.Conv2d(hidden, oup, 1, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    """``features`` (stem conv 3x3/2, 17 inverted residuals, 1x1 conv to 1280), global average pool,
    ``classifier`` (dropout, fc). Channel counts are width_mult times the paper's, rounded to multiples of 8."""

    def __init__(self, num_classes=1000, width_mult=1.0, round_nearest=8, dropout=0.2, in_channels=3):
        super().__init__()
        check_args("mobilenet_v2", num_classes, in_channels, width_mult)
        channels = make_divisible(32 * width_mult, round_nearest)
        self.last_channel = make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features = [Conv2dNormActivation(in_channels, channels, stride=2, activation_layer=nn.ReLU6)]
        for t, c, n, s in INVERTED_RESIDUAL_SETTING:
            out = make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(InvertedResidual(channels, out, s if i == 0 else 1, expand_ratio=t))
                channels = out
        features.append(Conv2dNormActivation(channels, self.last_channel, kernel_size=1,
                                             activation_layer=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.avgpool = nn.AdaptiveAvgPool2d(1)  # torchvision calls F.adaptive_avg_pool2d: no parameters either way
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.last_channel, num_classes))
        init_torchvision_style(self, linear_std=0.01)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def mobilenet_v2(num_classes=1000, width_mult=1.0, dropout=0.2, in_channels=3):
    return MobileNetV2(num_classes=num_classes, width_mult=width_mult, dropout=dropout, in_channels=in_channels)
