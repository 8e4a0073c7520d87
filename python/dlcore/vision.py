"""torchvision's names that dlcore has: ``datasets`` and ``transforms`` (dlcore.data's), ``models`` (the zoo),
``ops`` (the zoo's StochasticDepth, SqueezeExcitation, Conv2dNormActivation).

``dlcore.install_as_torch()`` registers this module as ``torchvision``.
"""
from . import models
from .data import datasets, transforms
from .models import ops

__all__ = ["datasets", "models", "ops", "transforms"]
