"""python -m dlcore.bench train runs end to end and its kernel clock is honest
(figures are not checked: speed is measured, never asserted)."""
import subprocess
import sys

import numpy as np

from dlcore import _C
from dlcore.bench.train import _KernelClock
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
    res = subprocess.run([sys.executable, "-m", "dlcore.bench", "train", "--quick", "--repeats", "1",
                          "--settle", "0", "--threads", "1"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    for name in ("lenet5", "alexnet_cifar", "in kernels"):
        assert name in res.stdout
