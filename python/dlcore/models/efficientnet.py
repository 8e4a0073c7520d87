"""EfficientNet B0-B7 (Tan & Le 2019): MBConv blocks (inverted residual + SE + SiLU) with stochastic depth;
torchvision's names (``features.{stage}.{block}.block``, ``stochastic_depth``, ``classifier.1``)."""
from __future__ import annotations

import copy
import math
from functools import partial

from .. import nn
from ._common import Conv2dNormActivation, StochasticDepth, check_args, make_divisible
from .se import SqueezeExcitation

#: per stage of B0: expansion, kernel, stride, input channels, output channels, blocks (Table 1 of the paper)
B0_STAGES = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
             (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]
#: name -> (width_mult, depth_mult, dropout), torchvision's; B5-B7 also use BN eps 1e-3, momentum 0.01
VARIANTS = {"b0": (1.0, 1.0, 0.2), "b1": (1.0, 1.1, 0.2), "b2": (1.1, 1.2, 0.3), "b3": (1.2, 1.4, 0.3),
            "b4": (1.4, 1.8, 0.4), "b5": (1.6, 2.2, 0.4), "b6": (1.8, 2.6, 0.5), "b7": (2.0, 3.1, 0.5)}


class MBConvConfig:
    """One stage, channels and depth already scaled: torchvision's MBConvConfig (with its rounding)."""

    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels, num_layers, width_mult=1.0,
                 depth_mult=1.0):
        self.expand_ratio, self.kernel, self.stride = expand_ratio, kernel, stride
        self.input_channels = make_divisible(input_channels * width_mult, 8)
        self.out_channels = make_divisible(out_channels * width_mult, 8)
        self.num_layers = int(math.ceil(num_layers * depth_mult))


class MBConv(nn.Module):
    """``block``: [1x1 expand conv-BN-SiLU], kxk depthwise conv-BN-SiLU, SE (squeeze to in/4, SiLU),
    1x1 projection conv-BN; with stride 1 and equal channels, ``stochastic_depth`` of it plus the input."""

    def __init__(self, cnf, stochastic_depth_prob, norm_layer):
        super().__init__()
        if cnf.stride not in (1, 2):
            raise ValueError(f"MBConv: illegal stride {cnf.stride}")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        expanded = make_divisible(cnf.input_channels * cnf.expand_ratio, 8)
        layers = []
        if expanded != cnf.input_channels:
            layers.append(Conv2dNormActivation(cnf.input_channels, expanded, 1, norm_layer=norm_layer,
                                               activation_layer=nn.SiLU))
        layers += [
            Conv2dNormActivation(expanded, expanded, cnf.kernel, stride=cnf.stride, groups=expanded,
                                 norm_layer=norm_layer, activation_layer=nn.SiLU),
            SqueezeExcitation(expanded, max(1, cnf.input_channels // 4), activation=nn.SiLU),
            Conv2dNormActivation(expanded, cnf.out_channels, 1, norm_layer=norm_layer, activation_layer=None)]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = cnf.out_channels

    def forward(self, x):
        out = self.block(x)
        return self.stochastic_depth(out) + x if self.use_res_connect else out


class EfficientNet(nn.Module):
    """``features`` (stem 3x3/2 conv-BN-SiLU, one Sequential of MBConvs per stage, 1x1 conv-BN-SiLU to
    4x the last stage's channels), ``avgpool``, ``classifier`` (dropout, fc). The residual branch of block i
    (of n) is dropped with probability stochastic_depth_prob * i / n in training. Inputs of 32x32 and up."""

    def __init__(self, inverted_residual_setting, dropout, stochastic_depth_prob=0.2, num_classes=1000,
                 norm_layer=None, in_channels=3):
        super().__init__()
        check_args("efficientnet", num_classes, in_channels)
        norm_layer = norm_layer or nn.BatchNorm2d
        layers = [Conv2dNormActivation(in_channels, inverted_residual_setting[0].input_channels, stride=2,
                                       norm_layer=norm_layer, activation_layer=nn.SiLU)]
        total_blocks = sum(cnf.num_layers for cnf in inverted_residual_setting)
        block_id = 0
        for cnf in inverted_residual_setting:
            stage = []
            for i in range(cnf.num_layers):
                block_cnf = copy.copy(cnf)
                if i > 0:  # later blocks of a stage keep the stage's channels and resolution
                    block_cnf.input_channels, block_cnf.stride = block_cnf.out_channels, 1
                stage.append(MBConv(block_cnf, stochastic_depth_prob * block_id / total_blocks, norm_layer))
                block_id += 1
            layers.append(nn.Sequential(*stage))
        last_in = inverted_residual_setting[-1].out_channels
        layers.append(Conv2dNormActivation(last_in, 4 * last_in, 1, norm_layer=norm_layer, activation_layer=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * last_in, num_classes))
        self._init_weights()

    def _init_weights(self):
        """torchvision's: Kaiming-normal (fan_out) convs, BN 1/0, Linear uniform(+-1/sqrt(out)) bias 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def _efficientnet(variant, num_classes, dropout, stochastic_depth_prob, in_channels):
    width_mult, depth_mult, default_dropout = VARIANTS[variant]
    setting = [MBConvConfig(*stage, width_mult=width_mult, depth_mult=depth_mult) for stage in B0_STAGES]
    norm_layer = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01) if variant in ("b5", "b6", "b7") else None
    return EfficientNet(setting, default_dropout if dropout is None else dropout, stochastic_depth_prob,
                        num_classes, norm_layer, in_channels)


def efficientnet_b0(num_classes=1000, dropout=None, stochastic_depth_prob=0.2, in_channels=3):
    """``dropout=None``: the variant's (0.2 for B0)."""
    return _efficientnet("b0", num_classes, dropout, stochastic_depth_prob, in_channels)


def efficientnet_b1(num_classes=1000, dropout=None, stochastic_depth_prob=0.2, in_channels=3):
    return _efficientnet("b1", num_classes, dropout, stochastic_depth_prob, in_channels)


def efficientnet_b2(num_classes=1000, dropout=None, stochastic_depth_prob=0.2, in_channels=3):
    return _efficientnet("b2", num_classes, dropout, stochastic_depth_prob, in_channels)


def efficientnet_b3(num_classes=1000, dropout=None, stochastic_depth_prob=0.2, in_channels=3):
    return _efficientnet("b3", num_classes, dropout, stochastic_depth_prob, in_channels)


def efficientnet_b4(num_classes=1000, dropout=None, stochastic_depth_prob=0.2, in_channels=3):
    return _efficientnet("b4", num_classes, dropout, stochastic_depth_prob, in_channels)


def efficientnet_b5(num_classes=1000, dropout=None, stochastic_depth_prob=0.2, in_channels=3):
    return _efficientnet("b5", num_classes, dropout, stochastic_depth_prob, in_channels)


def efficientnet_b6(num_classes=1000, dropout=None, stochastic_depth_prob=0.2, in_channels=3):
    return _efficientnet("b6", num_classes, dropout, stochastic_depth_prob, in_channels)


def efficientnet_b7(num_classes=1000, dropout=None, stochastic_depth_prob=0.2, in_channels=3):
    return _efficientnet("b7", num_classes, dropout, stochastic_depth_prob, in_channels)
