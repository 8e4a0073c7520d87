"""ResNet-18/34/50/101/152 (He et al. 2015), torchvision's v1.5 layout and names (stride on the 3x3 of a
bottleneck); ResNeXt (Xie et al. 2016: grouped 3x3, ``groups``) and Wide ResNet (Zagoruyko & Komodakis 2016:
wider bottleneck, ``width_per_group``) as torchvision builds them.

An optional Squeeze-and-Excitation block per residual block (``se_reduction=16``
gives SE-ResNet, Hu et al. 2018) sits after the last BN, before the addition.
"""
from __future__ import annotations

from .. import nn
from ._common import check_args, init_torchvision_style, scaled
from .se import SqueezeExcitation


def conv3x3(cin, cout, stride=1, groups=1):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, groups=groups, bias=False)


def conv1x1(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, se_reduction=None, groups=1, base_width=64):
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and width_per_group=64 (as torchvision)")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        if se_reduction:
            self.se = SqueezeExcitation(planes, max(1, planes // se_reduction))
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if "se" in self._modules:
            out = self.se(out)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, se_reduction=None, groups=1, base_width=64):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups  # torchvision's: the 3x3's channels, grouped
        if width < 1:  # e.g. resnext50_32x4d below width_mult 0.25: 4 channels per group * 8/64 rounds to 0
            raise ValueError(f"Bottleneck: {planes} planes with width_per_group {base_width} leave no channels "
                             f"per group; use a larger width_mult")
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        if se_reduction:
            self.se = SqueezeExcitation(planes * self.expansion, max(1, planes * self.expansion // se_reduction))
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if "se" in self._modules:
            out = self.se(out)
        return self.relu(out + identity)


class ResNet(nn.Module):
    """conv1 7x7/2, bn1, relu, maxpool 3x3/2, layer1..layer4, avgpool (global), fc. Inputs of 32x32 and up."""

    def __init__(self, block, layers, num_classes=1000, in_channels=3, width_mult=1.0, se_reduction=None,
                 zero_init_residual=False, groups=1, width_per_group=64):
        super().__init__()
        check_args("resnet", num_classes, in_channels, width_mult)
        self.groups, self.base_width = groups, width_per_group
        self.inplanes = scaled(64, width_mult)
        self.conv1 = nn.Conv2d(in_channels, self.inplanes, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers)):
            layer = self._make_layer(block, scaled(planes, width_mult), blocks, 1 if i == 0 else 2, se_reduction)
            setattr(self, f"layer{i + 1}", layer)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(self.inplanes, num_classes)
        init_torchvision_style(self)
        if zero_init_residual:
            for m in self.modules():
                last = getattr(m, "bn3", None) if isinstance(m, Bottleneck) else getattr(m, "bn2", None)
                if isinstance(m, (BasicBlock, Bottleneck)):
                    nn.init.zeros_(last.weight)

    def _make_layer(self, block, planes, blocks, stride, se_reduction):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        shape = {"groups": self.groups, "base_width": self.base_width, "se_reduction": se_reduction}
        layers = [block(self.inplanes, planes, stride, downsample, **shape)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, **shape) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(num_classes=1000, in_channels=3, width_mult=1.0, se_reduction=None):
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, in_channels, width_mult, se_reduction)


def resnet34(num_classes=1000, in_channels=3, width_mult=1.0, se_reduction=None):
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes, in_channels, width_mult, se_reduction)


def resnet50(num_classes=1000, in_channels=3, width_mult=1.0, se_reduction=None):
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, in_channels, width_mult, se_reduction)


def resnet101(num_classes=1000, in_channels=3, width_mult=1.0, se_reduction=None):
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes, in_channels, width_mult, se_reduction)


def resnet152(num_classes=1000, in_channels=3, width_mult=1.0, se_reduction=None):
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes, in_channels, width_mult, se_reduction)


def resnext50_32x4d(num_classes=1000, in_channels=3, width_mult=1.0):
    """ResNet-50 with 32 groups of 4 channels in each 3x3 (at the first stage; doubling per stage)."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, in_channels, width_mult, groups=32, width_per_group=4)


def wide_resnet50_2(num_classes=1000, in_channels=3, width_mult=1.0):
    """ResNet-50 with bottlenecks twice as wide (the 1x1 in/out convs keep ResNet-50's channel counts)."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, in_channels, width_mult, width_per_group=128)
