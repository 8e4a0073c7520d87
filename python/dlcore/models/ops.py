"""torchvision.ops' layers that the zoo uses, under torchvision's names (``install_as_torch()`` maps
``torchvision.ops`` here): ``StochasticDepth`` / ``stochastic_depth``, ``SqueezeExcitation``,
``Conv2dNormActivation``."""
from ._common import Conv2dNormActivation, StochasticDepth, stochastic_depth
from .se import SqueezeExcitation

__all__ = ["Conv2dNormActivation", "SqueezeExcitation", "StochasticDepth", "stochastic_depth"]
