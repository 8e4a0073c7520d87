"""Programs written the way PyTorch users write them (examples/ported/), run on a small slice of data.

They were ported by adding two lines (``import dlcore``; ``dlcore.install_as_torch()``, docs/PORTING.md), after
which their own ``import torch`` lines load dlcore. Each runs in a process of its own, as a user runs it
(install_as_torch changes sys.modules, and this test process may hold the real torch). They must run to the
end and learn. The full-size runs (1 epoch of MNIST, >= 98 %) are measurements, not tests.
"""
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

import dlcore
from dlcore.data import write_idx

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples" / "ported"
PORT_LINES = ["import dlcore", "dlcore.install_as_torch()"]


def run_program(name, args, seed=None):
    """Runs examples/ported/<name>.py in a fresh process; seed: dlcore.manual_seed(seed) first (the program's
    own source stays the PyTorch one, which seeds nothing)."""
    env = dict(os.environ)
    package_root = str(pathlib.Path(dlcore.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    path = str(EXAMPLES / f"{name}.py")
    command = [sys.executable, path, *args]
    if seed is not None:
        command = [sys.executable, "-c", "import runpy, sys, dlcore; dlcore.manual_seed(int(sys.argv[1])); "
                   "sys.argv = sys.argv[2:]; runpy.run_path(sys.argv[0], run_name='__main__')",
                   str(seed), path, *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


def test_ported_sources_differ_from_pytorch_only_in_the_two_marked_lines():
    for name in ("mnist_main", "cifar10_tutorial"):
        lines = (EXAMPLES / f"{name}.py").read_text().splitlines()
        marked = [line.split("#")[0].strip() for line in lines if "# dlcore: added" in line]
        assert marked == PORT_LINES
        code = [line.split("#")[0] for line in lines if not line.lstrip().startswith("#")]
        imports = [line for line in code if line.startswith(("import ", "from "))]
        # every other import is the original's spelling: torch / torchvision names, never dlcore's
        assert not any("dlcore" in line for line in imports if line.strip() != "import dlcore")
        assert any(line.startswith("import torch") for line in imports)


def _learnable_digits(rng, n):
    """28x28 images whose class is a bright 6x6 block at one of 10 places, plus noise."""
    y = rng.integers(0, 10, n)
    x = rng.integers(0, 60, (n, 28, 28))
    for i, c in enumerate(y):
        r, col = divmod(int(c), 5)
        x[i, 3 + 12 * r:9 + 12 * r, 1 + 5 * col:7 + 5 * col] += 180
    return x.astype(np.uint8), y.astype(np.uint8)


def test_mnist_style_program_trains(tmp_path, rng):
    for prefix, n in (("train", 256), ("t10k", 128)):
        x, y = _learnable_digits(rng, n)
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", x)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", y)
    out = run_program("mnist_main", ["--data", str(tmp_path), "--epochs", "2", "--batch-size", "32",
                                     "--test-batch-size", "64", "--workers", "1", "--log-interval", "4"])
    correct, total = map(int, re.findall(r"Accuracy: (\d+)/(\d+)", out)[-1])
    assert total == 128 and correct / total >= 0.9
    assert float(re.search(r"train images/s: ([\d.]+)", out).group(1)) > 0


def test_cifar_tutorial_style_program_trains(tmp_path, rng):
    base = rng.integers(0, 200, (10, 3, 1, 1))  # a colour per class, plus noise

    def write(path, n):
        y = rng.integers(0, 10, n).astype(np.uint8)
        x = np.clip(base[y] + rng.integers(0, 56, (n, 3, 32, 32)), 0, 255).astype(np.uint8)
        np.concatenate([y[:, None], x.reshape(n, -1)], 1).tofile(path)
    for i in range(1, 6):
        write(tmp_path / f"data_batch_{i}.bin", 32)
    write(tmp_path / "test_batch.bin", 64)
    out = run_program("cifar10_tutorial", ["--root", str(tmp_path), "--epochs", "5", "--batch-size", "8",
                                           "--lr", "0.02", "--workers", "2", "--log-every", "10"],
                      seed=0)  # the tutorial seeds nothing: unseeded, a rare initialization learnt too slowly
    losses = [float(v) for v in re.findall(r"loss: ([\d.]+)", out)]
    accuracy = int(re.search(r"Accuracy of the network on the 64 test images: (\d+) %", out).group(1))
    assert losses[-1] < 0.8 * losses[0] and accuracy > 25  # chance: 10 %


def test_cifar_download_true_without_files_says_what_to_do(tmp_path):
    from dlcore.data import CIFAR10, DatasetError

    with pytest.raises(DatasetError, match="download=True is not supported"):
        CIFAR10(tmp_path, download=True)
