"""SqueezeNet 1.0 and 1.1 (Iandola et al. 2016): Fire modules, no fully connected layer; torchvision's names."""
from __future__ import annotations

from .. import nn
from ..tensor import cat
from ._common import check_args

#: Fire(squeeze, expand1x1, expand3x3) channel triples and "M" (3x3/2 max pool, ceil mode) after the stem
FIRES = {
    "1_0": [(16, 64, 64), (16, 64, 64), (32, 128, 128), "M", (32, 128, 128), (48, 192, 192), (48, 192, 192),
            (64, 256, 256), "M", (64, 256, 256)],
    "1_1": [(16, 64, 64), (16, 64, 64), "M", (32, 128, 128), (32, 128, 128), "M", (48, 192, 192), (48, 192, 192),
            (64, 256, 256), (64, 256, 256)],
}
#: stem conv (output channels, kernel): 1.1 has a 3x3 stem with 64 channels, 2.4x less computation
STEM = {"1_0": (96, 7), "1_1": (64, 3)}


class Fire(nn.Module):
    """1x1 squeeze conv-ReLU, then 1x1 and 3x3 expand convs (each + ReLU) concatenated over channels."""

    def __init__(self, inplanes, squeeze_planes, expand1x1_planes, expand3x3_planes):
        super().__init__()
        self.inplanes = inplanes
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, 1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, 1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, 3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return cat([self.expand1x1_activation(self.expand1x1(x)), self.expand3x3_activation(self.expand3x3(x))], 1)


class SqueezeNet(nn.Module):
    """``features`` (stem conv-ReLU, 3x3/2 ceil-mode max pools, Fire modules), ``classifier`` (dropout,
    1x1 conv to num_classes, ReLU, global average pool). Inputs of 25x25 (1_1) / 29x29 (1_0) and up
    (torchvision takes 17 / 21: its ceil-mode max pool gives one output for an input smaller than the kernel,
    dlcore's max_pool2d refuses that)."""

    def __init__(self, version="1_0", num_classes=1000, dropout=0.5, in_channels=3):
        super().__init__()
        check_args(f"squeezenet{version}", num_classes, in_channels)
        if version not in FIRES:
            raise ValueError(f"squeezenet: unsupported version {version!r}: '1_0' or '1_1' expected")
        self.num_classes = num_classes
        stem, kernel = STEM[version]
        layers = [nn.Conv2d(in_channels, stem, kernel, stride=2), nn.ReLU(inplace=True), _max_pool()]
        channels = stem
        for fire in FIRES[version]:
            if fire == "M":
                layers.append(_max_pool())
                continue
            layers.append(Fire(channels, *fire))
            channels = fire[1] + fire[2]
        self.features = nn.Sequential(*layers)
        final_conv = nn.Conv2d(channels, num_classes, 1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), final_conv, nn.ReLU(inplace=True),
                                        nn.AdaptiveAvgPool2d((1, 1)))
        self._init_weights(final_conv)

    def _init_weights(self, final_conv):
        """torchvision's: Kaiming-uniform convs, the final one normal(0, 0.01), biases 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, 0.0, 0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.features(x)).flatten(1)


def _max_pool():
    return nn.MaxPool2d(3, stride=2, ceil_mode=True)


def squeezenet1_0(num_classes=1000, dropout=0.5, in_channels=3):
    return SqueezeNet("1_0", num_classes=num_classes, dropout=dropout, in_channels=in_channels)


def squeezenet1_1(num_classes=1000, dropout=0.5, in_channels=3):
    return SqueezeNet("1_1", num_classes=num_classes, dropout=dropout, in_channels=in_channels)
