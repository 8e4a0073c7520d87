"""torchvision's names that dlcore has: ``datasets`` and ``transforms`` (dlcore.data's), ``models`` (the zoo).

``dlcore.install_as_torch()`` registers this module as ``torchvision``.
"""
from . import models
from .data import datasets, transforms

__all__ = ["datasets", "models", "transforms"]
