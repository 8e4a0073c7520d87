"""Squeeze-and-Excitation block (Hu et al. 2018), with torchvision.ops.SqueezeExcitation's names."""
from __future__ import annotations

from .. import nn


class SqueezeExcitation(nn.Module):
    """x * scale_activation(fc2(activation(fc1(avgpool(x))))), fc1/fc2 1x1 convs: C -> squeeze_channels -> C.

    ``activation`` / ``scale_activation`` are classes (or partials), ReLU and Sigmoid by default as in
    torchvision; MobileNetV3 passes Hardsigmoid as the scale, EfficientNet SiLU as the activation.
    """

    def __init__(self, input_channels, squeeze_channels, activation=nn.ReLU, scale_activation=nn.Sigmoid):
        super().__init__()
        if input_channels < 1 or squeeze_channels < 1:
            raise ValueError(f"SqueezeExcitation: channels must be positive, got {input_channels}, {squeeze_channels}")
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, x):
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return x * scale
