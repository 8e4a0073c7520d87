"""VGG-11 and VGG-16 (Simonyan & Zisserman 2014), with and without batch norm; torchvision's names."""
from __future__ import annotations

from .. import nn
from ._common import check_args, init_torchvision_style, scaled

CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


class VGG(nn.Module):
    """``features`` (3x3 convs, max pools), ``avgpool`` (adaptive to 7x7), ``classifier`` (fc4096 x2 + fc).

    Any input of at least 32x32 works (the adaptive pool brings the features to 7x7).
    """

    def __init__(self, config, num_classes=1000, in_channels=3, batch_norm=False, dropout=0.5, width_mult=1.0):
        super().__init__()
        check_args("vgg", num_classes, in_channels, width_mult)
        layers, c = [], in_channels
        for v in config:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            v = scaled(v, width_mult)
            layers.append(nn.Conv2d(c, v, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))
            c = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        hidden = scaled(4096, width_mult)
        self.classifier = nn.Sequential(
            nn.Linear(c * 7 * 7, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes))
        init_torchvision_style(self, linear_std=0.01)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def _vgg(name, batch_norm, num_classes, in_channels, dropout, width_mult):
    return VGG(CONFIGS[name], num_classes, in_channels, batch_norm, dropout, width_mult)


def vgg11(num_classes=1000, in_channels=3, batch_norm=False, dropout=0.5, width_mult=1.0):
    return _vgg("vgg11", batch_norm, num_classes, in_channels, dropout, width_mult)


def vgg11_bn(num_classes=1000, in_channels=3, dropout=0.5, width_mult=1.0):
    return _vgg("vgg11", True, num_classes, in_channels, dropout, width_mult)


def vgg16(num_classes=1000, in_channels=3, batch_norm=False, dropout=0.5, width_mult=1.0):
    return _vgg("vgg16", batch_norm, num_classes, in_channels, dropout, width_mult)


def vgg16_bn(num_classes=1000, in_channels=3, dropout=0.5, width_mult=1.0):
    return _vgg("vgg16", True, num_classes, in_channels, dropout, width_mult)
