"""DenseNet-BC (Huang et al. 2016): dense blocks whose layers see every earlier layer's features; torchvision's
names (``features.denseblock{i}.denselayer{j}.norm1/conv1/norm2/conv2``, ``features.transition{i}``)."""
from __future__ import annotations

from collections import OrderedDict

from .. import nn
from ..nn import functional as F
from ..tensor import cat
from ._common import check_args


class _DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv (bn_size * growth_rate channels), BN-ReLU-3x3 conv (growth_rate), dropout: the
    growth_rate new channels computed from all the features before it."""

    def __init__(self, num_input_features, growth_rate, bn_size, drop_rate):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)
        self.drop_rate = float(drop_rate)

    def forward(self, features):
        bottleneck = self.conv1(self.relu1(self.norm1(cat(features, 1))))
        new = self.conv2(self.relu2(self.norm2(bottleneck)))
        return F.dropout(new, self.drop_rate, self.training) if self.drop_rate > 0 else new


class _DenseBlock(nn.ModuleDict):
    """num_layers dense layers; the output is the input and every layer's new channels, concatenated."""

    def __init__(self, num_layers, num_input_features, bn_size, growth_rate, drop_rate):
        super().__init__()
        for i in range(num_layers):
            self[f"denselayer{i + 1}"] = _DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size,
                                                     drop_rate)

    def forward(self, init_features):
        features = [init_features]
        for layer in self.values():
            features.append(layer(features))
        return cat(features, 1)


class _Transition(nn.Sequential):
    """BN-ReLU-1x1 conv (halving the channels), 2x2 average pool."""

    def __init__(self, num_input_features, num_output_features):
        super().__init__(OrderedDict([
            ("norm", nn.BatchNorm2d(num_input_features)), ("relu", nn.ReLU(inplace=True)),
            ("conv", nn.Conv2d(num_input_features, num_output_features, 1, bias=False)),
            ("pool", nn.AvgPool2d(2, stride=2))]))


class DenseNet(nn.Module):
    """``features`` (conv0 7x7/2, norm0, relu0, pool0 3x3/2, dense blocks with transitions, norm5), ReLU,
    global average pool, ``classifier`` (fc). Inputs of 32x32 and up (total stride 32)."""

    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4, drop_rate=0.0,
                 num_classes=1000, in_channels=3):
        super().__init__()
        check_args("densenet", num_classes, in_channels)
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(in_channels, num_init_features, 7, stride=2, padding=3, bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)), ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(3, stride=2, padding=1))]))
        channels = num_init_features
        for i, num_layers in enumerate(block_config):
            self.features.add_module(f"denseblock{i + 1}",
                                     _DenseBlock(num_layers, channels, bn_size, growth_rate, drop_rate))
            channels += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", _Transition(channels, channels // 2))
                channels //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.classifier = nn.Linear(channels, num_classes)
        self._init_weights()

    def _init_weights(self):
        """torchvision's: Kaiming-normal (fan_in) convs, BN weight 1 bias 0, Linear bias 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x):
        out = F.adaptive_avg_pool2d(F.relu(self.features(x)), (1, 1))
        return self.classifier(out.flatten(1))


def densenet121(num_classes=1000, drop_rate=0.0, in_channels=3):
    return DenseNet(32, (6, 12, 24, 16), 64, num_classes=num_classes, drop_rate=drop_rate,
                    in_channels=in_channels)


def densenet161(num_classes=1000, drop_rate=0.0, in_channels=3):
    return DenseNet(48, (6, 12, 36, 24), 96, num_classes=num_classes, drop_rate=drop_rate, in_channels=in_channels)


def densenet169(num_classes=1000, drop_rate=0.0, in_channels=3):
    return DenseNet(32, (6, 12, 32, 32), 64, num_classes=num_classes, drop_rate=drop_rate, in_channels=in_channels)


def densenet201(num_classes=1000, drop_rate=0.0, in_channels=3):
    return DenseNet(32, (6, 12, 48, 32), 64, num_classes=num_classes, drop_rate=drop_rate, in_channels=in_channels)
