"""AlexNet: the original two-tower network (LRN, grouped convs) and torchvision's single-tower variant."""
from __future__ import annotations

from .. import nn
from ._common import check_args, scaled


class AlexNet(nn.Module):
    """``variant="original"``: Krizhevsky et al. 2012 as in Caffe's bvlc_alexnet (227x227 inputs): conv1 96 11x11/4,
    LRN(5, 1e-4, 0.75, k=2) after conv1 and conv2, conv2/4/5 with groups=2 (the two GPUs' towers).
    ``variant="torchvision"``: torchvision's alexnet (64-192-384-256-256, no LRN, no groups), whose
    state dicts load 1:1. Both: ``features``, ``avgpool`` (adaptive to 6x6), ``classifier`` (dropout,
    fc4096, fc4096, fc). Smallest input: 67x67 (original), 63x63 (torchvision).
    """

    def __init__(self, num_classes=1000, in_channels=3, variant="original", dropout=0.5, width_mult=1.0):
        super().__init__()
        check_args("alexnet", num_classes, in_channels, width_mult)
        c = lambda n: scaled(n, width_mult)  # noqa: E731
        if variant == "original":
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, c(96), 11, stride=4), nn.ReLU(inplace=True),
                nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0), nn.MaxPool2d(3, 2),
                nn.Conv2d(c(96), c(256), 5, padding=2, groups=2), nn.ReLU(inplace=True),
                nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0), nn.MaxPool2d(3, 2),
                nn.Conv2d(c(256), c(384), 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(c(384), c(384), 3, padding=1, groups=2), nn.ReLU(inplace=True),
                nn.Conv2d(c(384), c(256), 3, padding=1, groups=2), nn.ReLU(inplace=True),
                nn.MaxPool2d(3, 2))
        elif variant == "torchvision":
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, c(64), 11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
                nn.Conv2d(c(64), c(192), 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
                nn.Conv2d(c(192), c(384), 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(c(384), c(256), 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(c(256), c(256), 3, padding=1), nn.ReLU(inplace=True),
                nn.MaxPool2d(3, 2))
        else:
            raise ValueError(f"alexnet: variant must be 'original' or 'torchvision', got {variant!r}")
        self.variant = variant
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(c(256) * 6 * 6, c(4096)), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(c(4096), c(4096)), nn.ReLU(inplace=True),
            nn.Linear(c(4096), num_classes))

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def alexnet(num_classes=1000, in_channels=3, variant="original", dropout=0.5, width_mult=1.0):
    return AlexNet(num_classes=num_classes, in_channels=in_channels, variant=variant, dropout=dropout,
                   width_mult=width_mult)
