"""``torch.utils.data``'s names: the same objects as ``dlcore.data``."""
from ..data import *  # noqa: F401,F403
from ..data import __all__  # noqa: F401
