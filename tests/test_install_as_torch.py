"""dlcore.install_as_torch(): dlcore under PyTorch's module names (the two-line port, docs/PORTING.md)."""
import os
import pathlib
import subprocess
import sys
import types

import pytest

import dlcore
from dlcore._torch_alias import TORCH_NAMES


def _run(code):
    env = dict(os.environ)
    root = str(pathlib.Path(dlcore.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)


def test_torch_imports_load_dlcore_modules_in_a_fresh_process():
    done = _run(
        "import dlcore\n"
        "dlcore.install_as_torch()\n"
        "dlcore.install_as_torch()  # twice: harmless\n"
        "import torch, torch.nn as nn, torch.nn.functional as F, torch.optim as optim, torchvision\n"
        "from torch.optim.lr_scheduler import StepLR\n"
        "from torch.utils.data import DataLoader\n"
        "from torchvision import datasets, transforms\n"
        "import dlcore.data.datasets, dlcore.data.transforms, dlcore.optim.lr_scheduler\n"
        "assert torch is dlcore and nn is dlcore.nn and F is dlcore.nn.functional and optim is dlcore.optim\n"
        "assert StepLR is dlcore.optim.lr_scheduler.StepLR and DataLoader is dlcore.data.DataLoader\n"
        "assert datasets is dlcore.data.datasets and transforms is dlcore.data.transforms\n"
        "assert torchvision.models is dlcore.models and torch.utils.data.DataLoader is DataLoader\n"
        "from torchvision.ops import StochasticDepth\n"
        "assert StochasticDepth is dlcore.models.ops.StochasticDepth is torchvision.ops.StochasticDepth\n"
        "x = torch.randn(2, 3, requires_grad=True)\n"
        "F.relu(x).sum().backward()\n"
        "assert type(x) is dlcore.Tensor and x.grad.shape == (2, 3)\n"
        "try:\n"
        "    import torch.fx\n"
        "except ModuleNotFoundError:\n"
        "    print('no torch.fx')\n")
    assert done.returncode == 0, done.stderr
    assert "no torch.fx" in done.stdout  # a name dlcore lacks stays missing, not half-imported


def test_refuses_when_the_real_torch_is_already_imported(monkeypatch):
    fake = types.ModuleType("torch")
    fake.__file__ = "/site-packages/torch/__init__.py"
    monkeypatch.setitem(sys.modules, "torch", fake)
    before = {name: sys.modules.get(name) for name in TORCH_NAMES}
    with pytest.raises(RuntimeError, match=r"'torch' is already imported \(from /site-packages/torch"):
        dlcore.install_as_torch()
    assert {name: sys.modules.get(name) for name in TORCH_NAMES} == before  # nothing registered


def test_refuses_a_real_torch_submodule_too(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision.io", types.ModuleType("torchvision.io"))
    for name in list(sys.modules):  # the test process may hold the real torch and its submodules: hide them
        if name.split(".")[0] in ("torch", "torchvision") and name != "torchvision.io":
            monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(RuntimeError, match="'torchvision.io' is already imported"):
        dlcore.install_as_torch()
