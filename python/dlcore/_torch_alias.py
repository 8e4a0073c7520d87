"""``dlcore.install_as_torch()``: run a PyTorch script unchanged but for two lines.

The precedent is PyMySQL's ``pymysql.install_as_MySQLdb()``: the stand-in library registers itself in
``sys.modules`` under the other library's names, so the script's own ``import torch.nn as nn``,
``from torch.optim.lr_scheduler import StepLR`` or ``from torchvision import datasets, transforms`` find
dlcore's modules. Nothing is patched inside dlcore; only ``sys.modules`` gains the names below.

It refuses when the real PyTorch (or torchvision) is already imported: two libraries under one name would
mix their tensors silently. Call it first, before anything imports torch.
"""
import importlib
import sys

#: PyTorch's module names -> the dlcore module that stands in for each (docs/PORTING.md).
TORCH_NAMES = {
    "torch": "dlcore",
    "torch.nn": "dlcore.nn",
    "torch.nn.functional": "dlcore.nn.functional",
    "torch.nn.init": "dlcore.nn.init",
    "torch.nn.utils": "dlcore.nn.utils",
    "torch.nn.utils.parametrize": "dlcore.nn.utils.parametrize",
    "torch.nn.utils.parametrizations": "dlcore.nn.utils.parametrizations",
    "torch.nn.utils.prune": "dlcore.nn.prune",
    "torch.nn.utils.fusion": "dlcore.nn.utils.fusion",
    "torch.nn.utils.stateless": "dlcore.nn.utils.stateless",
    "torch.nn.utils.rnn": "dlcore.nn.utils.rnn",
    "torch.optim": "dlcore.optim",
    "torch.optim.lr_scheduler": "dlcore.optim.lr_scheduler",
    "torch.utils": "dlcore.utils",
    "torch.utils.data": "dlcore.utils.data",
    "torch.utils.checkpoint": "dlcore.utils.checkpoint",
    "torch.autograd": "dlcore.autograd",
    "torch.autograd.functional": "dlcore.autograd.functional",
    "torch.linalg": "dlcore.linalg",
    "torch.testing": "dlcore.testing",
    "torch.func": "dlcore.func",
    "torch.special": "dlcore.special",
    "torch.cuda": "dlcore.cuda",
    "torch.accelerator": "dlcore.accelerator",
    "torch.amp": "dlcore.amp",
    "torch.onnx": "dlcore.onnx",
    "torch.distributed": "dlcore.distributed",
    "torch.distributions": "dlcore.distributions",
    "torchvision": "dlcore.vision",
    "torchvision.datasets": "dlcore.data.datasets",
    "torchvision.transforms": "dlcore.data.transforms",
    "torchvision.models": "dlcore.models",
    "torchvision.ops": "dlcore.models.ops",
}


def _foreign(name):
    """The module already in sys.modules under a torch name that is not dlcore's stand-in, else None."""
    present = sys.modules.get(name)
    if present is None:
        return None
    wanted = TORCH_NAMES.get(name)
    if wanted is not None and present is sys.modules.get(wanted):
        return None
    return present


def install_as_torch():
    """Register dlcore's modules under PyTorch's names (``torch``, ``torch.nn``, ``torchvision`` ...).

    After it, a script's ``import torch`` gives ``dlcore``, ``import torch.nn.functional as F`` gives
    ``dlcore.nn.functional`` and ``from torchvision import datasets, transforms`` gives
    ``dlcore.data.datasets`` / ``dlcore.data.transforms``; the full list is ``dlcore._torch_alias.TORCH_NAMES``.
    Calling it again is harmless. A name outside that list (``import torch.fx``) raises
    ``ModuleNotFoundError`` as usual.

    Raises:
        RuntimeError: the real ``torch`` or ``torchvision`` (or any of their submodules) is already
            imported in this process.
    """
    foreign = sorted(name for name in sys.modules
                     if (name.split(".")[0] in ("torch", "torchvision")) and _foreign(name) is not None)
    if foreign:
        origin = getattr(sys.modules[foreign[0]], "__file__", None) or "?"
        raise RuntimeError(
            f"dlcore.install_as_torch(): {foreign[0]!r} is already imported (from {origin}); call it before "
            "anything imports torch or torchvision, in a process of its own, or use the explicit "
            "'import dlcore as torch' imports (docs/PORTING.md)")
    for name, target in TORCH_NAMES.items():
        sys.modules[name] = importlib.import_module(target)
