"""MobileNet v1 (Howard et al. 2017): a 3x3 stem and 13 depthwise-separable blocks, width multiplier alpha."""
from __future__ import annotations

from .. import nn
from ._common import check_args, init_torchvision_style, scaled

#: (output channels, stride) of the 13 depthwise-separable blocks (Table 1 of the paper).
BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
          (512, 1), (1024, 2), (1024, 1)]


def _conv_bn(cin, cout, stride, groups=1, kernel=3):
    return [nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class MobileNetV1(nn.Module):
    """``features`` (stem + blocks; block i is features[i]: dw 3x3 conv-BN-ReLU, pw 1x1 conv-BN-ReLU),
    ``avgpool`` (global), ``classifier`` (dropout, fc). Inputs of 32x32 and up (total stride 32).
    """

    def __init__(self, num_classes=1000, in_channels=3, width_mult=1.0, dropout=0.0):
        super().__init__()
        check_args("mobilenet_v1", num_classes, in_channels, width_mult)
        c = scaled(32, width_mult)
        features = [nn.Sequential(*_conv_bn(in_channels, c, 2))]
        for out, stride in BLOCKS:
            out = scaled(out, width_mult)
            features.append(nn.Sequential(*_conv_bn(c, c, stride, groups=c), *_conv_bn(c, out, 1, kernel=1)))
            c = out
        self.features = nn.Sequential(*features)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(c, num_classes))
        init_torchvision_style(self)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def mobilenet_v1(num_classes=1000, in_channels=3, width_mult=1.0, dropout=0.0):
    return MobileNetV1(num_classes=num_classes, in_channels=in_channels, width_mult=width_mult, dropout=dropout)
