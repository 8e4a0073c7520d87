"""``dlcore.utils``: PyTorch's ``torch.utils`` names: ``data`` (``dlcore.data``) and ``checkpoint``."""
from . import checkpoint, data

__all__ = ["checkpoint", "data"]
