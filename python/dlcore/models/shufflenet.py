"""ShuffleNet v2 (Ma et al. 2018): channel split, two branches, channel shuffle; torchvision's names."""
from __future__ import annotations

from .. import nn
from ..nn import functional as F
from ..tensor import cat
from ._common import check_args

#: blocks per stage (stage2..stage4) and output channels (conv1, stage2..4, conv5) per width (Table 5)
STAGES_REPEATS = [4, 8, 4]
STAGES_OUT_CHANNELS = {"0_5": [24, 48, 96, 192, 1024], "1_0": [24, 116, 232, 464, 1024],
                       "1_5": [24, 176, 352, 704, 1024], "2_0": [24, 244, 488, 976, 2048]}


def _depthwise(channels, stride):
    return nn.Conv2d(channels, channels, 3, stride=stride, padding=1, groups=channels, bias=False)


def _pointwise_bn_relu(cin, cout):
    return [nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class InvertedResidual(nn.Module):
    """Stride 1: half the channels pass through, the other half go through ``branch2`` (1x1, 3x3 depthwise,
    1x1). Stride 2: ``branch1`` (3x3 depthwise /2, 1x1) and ``branch2`` both see the whole input. The two
    halves are concatenated and shuffled so the next block mixes them."""

    def __init__(self, inp, oup, stride):
        super().__init__()
        if not 1 <= stride <= 3:
            raise ValueError(f"shufflenet InvertedResidual: illegal stride {stride}")
        branch = oup // 2
        if stride == 1 and inp != branch * 2:
            raise ValueError(f"shufflenet InvertedResidual: with stride 1, inp ({inp}) must equal oup // 2 * 2 "
                             f"({branch * 2})")
        self.stride = stride
        if stride > 1:
            self.branch1 = nn.Sequential(_depthwise(inp, stride), nn.BatchNorm2d(inp), *_pointwise_bn_relu(inp, branch))
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(*_pointwise_bn_relu(inp if stride > 1 else branch, branch),
                                     _depthwise(branch, stride), nn.BatchNorm2d(branch),
                                     *_pointwise_bn_relu(branch, branch))

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = cat([x1, self.branch2(x2)], 1)
        else:
            out = cat([self.branch1(x), self.branch2(x)], 1)
        return F.channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """``conv1`` (3x3/2 conv-BN-ReLU), ``maxpool`` 3x3/2, ``stage2``..``stage4``, ``conv5`` (1x1 conv-BN-ReLU),
    global mean, ``fc``. Inputs of 32x32 and up (total stride 32)."""

    def __init__(self, stages_repeats, stages_out_channels, num_classes=1000, in_channels=3):
        super().__init__()
        check_args("shufflenet_v2", num_classes, in_channels)
        if len(stages_repeats) != 3 or len(stages_out_channels) != 5:
            raise ValueError("shufflenet_v2: expected 3 stages_repeats and 5 stages_out_channels")
        self._stage_out_channels = list(stages_out_channels)
        channels = stages_out_channels[0]
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, channels, 3, stride=2, padding=1, bias=False),
                                   nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        for i, (repeats, out) in enumerate(zip(stages_repeats, stages_out_channels[1:4])):
            blocks = [InvertedResidual(channels, out, 2)] + [InvertedResidual(out, out, 1) for _ in range(repeats - 1)]
            setattr(self, f"stage{i + 2}", nn.Sequential(*blocks))
            channels = out
        self.conv5 = nn.Sequential(*_pointwise_bn_relu(channels, stages_out_channels[-1]))
        self.fc = nn.Linear(stages_out_channels[-1], num_classes)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(x.mean(dim=(2, 3)))


def _shufflenet_v2(width, num_classes, in_channels):
    return ShuffleNetV2(STAGES_REPEATS, STAGES_OUT_CHANNELS[width], num_classes=num_classes, in_channels=in_channels)


def shufflenet_v2_x0_5(num_classes=1000, in_channels=3):
    return _shufflenet_v2("0_5", num_classes, in_channels)


def shufflenet_v2_x1_0(num_classes=1000, in_channels=3):
    return _shufflenet_v2("1_0", num_classes, in_channels)


def shufflenet_v2_x1_5(num_classes=1000, in_channels=3):
    return _shufflenet_v2("1_5", num_classes, in_channels)


def shufflenet_v2_x2_0(num_classes=1000, in_channels=3):
    return _shufflenet_v2("2_0", num_classes, in_channels)
