"""LeNet-5 (LeCun et al. 1998) with ReLU and max pooling, as in most modern reproductions."""
from __future__ import annotations

from .. import nn
from ._common import check_args


class LeNet5(nn.Module):
    """conv5-6, pool, conv5-16, pool, fc120, fc84, fc(num_classes).

    ``padding=2`` (default) takes 28x28 inputs (MNIST) with the classic 32x32
    geometry; ``padding=0`` takes 32x32 inputs as in the paper.
    """

    def __init__(self, num_classes=10, in_channels=1, padding=2):
        super().__init__()
        check_args("lenet5", num_classes, in_channels)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=padding), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, num_classes))

    def forward(self, x):
        x = self.features(x)
        if x.shape[2:] != (5, 5):
            raise ValueError(f"lenet5 expects 28x28 inputs (padding=2) or 32x32 (padding=0); the features "
                             f"came out {x.shape[2:]} instead of (5, 5)")
        return self.classifier(x.flatten(1))


def lenet5(num_classes=10, in_channels=1, padding=2):
    return LeNet5(num_classes=num_classes, in_channels=in_channels, padding=padding)
