"""``dlcore.utils.data`` is ``dlcore.data`` under PyTorch's name (``torch.utils.data``)."""
from . import data

__all__ = ["data"]
