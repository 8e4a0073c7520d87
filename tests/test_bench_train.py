"""python -m dlcore.bench train runs end to end and its kernel clock is honest
(figures are not checked: speed is measured, never asserted)."""
import subprocess
import sys

import numpy as np
import pytest

from dlcore import _C
from dlcore.bench.train import _dlcore_model, _KernelClock, _torch_model
from dlcore.kernels import gemm


def test_kernel_clock_counts_calls_and_restores_the_module():
    original = _C.gemm
    a = np.ones((8, 8), np.float32)
    with _KernelClock() as clock:
        gemm(a, a)
        assert _C.gemm is not original
    assert _C.gemm is original
    assert clock.calls >= 1 and clock.seconds > 0


def test_train_report_runs():
    # ResNet-18 and AlexNet steps take seconds each: the smoke run covers the two MNIST-size models
    res = subprocess.run([sys.executable, "-m", "dlcore.bench", "train", "--quick", "--repeats", "1",
                          "--settle", "0", "--threads", "1", "--train-models", "lenet5,mnist_net"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    for name in ("lenet5", "mnist_net", "in kernels"):
        assert name in res.stdout


@pytest.mark.parametrize("name", ["mnist_net", "resnet18"])
def test_torch_twin_has_the_same_parameters(name):
    """The torch row trains the same architecture: same parameter shapes, in order."""
    torch = pytest.importorskip("torch")
    if name == "resnet18":
        pytest.importorskip("torchvision")
    ours = [tuple(p.shape) for p in _dlcore_model(name).parameters()]
    theirs = [tuple(p.shape) for p in _torch_model(torch, name).parameters()]
    assert ours == theirs


def test_unknown_model_is_refused():
    res = subprocess.run([sys.executable, "-m", "dlcore.bench", "train", "--train-models", "vgg99", "--settle", "0"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "vgg99" in res.stderr


def test_recurrent_report_runs():
    res = subprocess.run([sys.executable, "-m", "dlcore.bench", "recurrent", "--quick", "--repeats", "1",
                          "--settle", "0", "--threads", "1"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    for name in ("LSTM N=8", "GRU N=8", "dlcore GFLOP/s"):
        assert name in res.stdout
