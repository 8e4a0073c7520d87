"""Whole training steps (forward, loss, backward, optimizer) at batch 64:
dlcore beside PyTorch (when installed) on the same architecture.

    python -m dlcore.bench train [--threads N] [--repeats R] [--quick] [--train-models lenet5,mnist_net,...]

Models (cross-entropy + SGD momentum 0.9 unless said):
  lenet5         LeNet-5 (MNIST, 1x28x28)
  mnist_net      the pytorch/examples MNIST net (1x28x28: conv3-32, conv3-64,
                 max-pool 2, dropout .25, fc 9216->128, dropout .5, fc 128->10),
                 log_softmax + nll_loss and Adadelta lr 1, as the example trains it
  alexnet_cifar  dlcore.train.small_alexnet (3x32x32: conv5-32, LRN, pool,
                 conv5-64, LRN, pool, conv3-64, pool, fc256, fc10)
  resnet18       dlcore.models.resnet18(num_classes=10) on CIFAR-size 3x32x32
                 (torch side: torchvision's resnet18, the same architecture)
The torch side is rebuilt in torch.nn here. dlcore and torch steps alternate;
each sample is the median step time of a block.

dlcore's step is split into kernel time (wall time inside calls into the
dlcore._C extension, measured in a second, instrumented block) and the rest
(Python layer, autograd tape, NumPy glue, allocation); the optimizer's
share is shown too. --train-unfused runs dlcore's optimizers with
fused=False (the per-parameter NumPy formulas) for a before/after.
"""
from __future__ import annotations

import functools
import os
import statistics
import time

import numpy as np

import dlcore

from .common import print_table

BATCH = 64
MODELS = {"lenet5": (1, 28, 28), "mnist_net": (1, 28, 28), "alexnet_cifar": (3, 32, 32),
          "resnet18": (3, 32, 32)}


def _mnist_net(nn, F):
    """pytorch/examples mnist/main.py's Net, written once for either library (same API)."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
            x = F.relu(self.fc1(self.dropout1(x).flatten(1)))
            return F.log_softmax(self.fc2(self.dropout2(x)), dim=1)

    return Net()


def _dlcore_model(name):
    from dlcore import nn
    from dlcore.models import resnet18
    from dlcore.nn import functional as F
    from dlcore.train import lenet5, small_alexnet

    return {"lenet5": lenet5, "alexnet_cifar": small_alexnet, "mnist_net": lambda: _mnist_net(nn, F),
            "resnet18": lambda: resnet18(num_classes=10)}[name]()


def _optimizer(lib, name, params):
    """The optimizer each model trains with: Adadelta lr 1 for the MNIST net (as the example), else SGD."""
    if name == "mnist_net":
        return lib.optim.Adadelta(params, lr=1.0)
    return lib.optim.SGD(params, lr=0.01, momentum=0.9)


def _loss(F, name, out, y):
    return F.nll_loss(out, y) if name == "mnist_net" else F.cross_entropy(out, y)


def _torch_model(torch, name):
    nn = torch.nn
    if name == "mnist_net":
        return _mnist_net(nn, torch.nn.functional)
    if name == "resnet18":
        from torchvision.models import resnet18

        return resnet18(num_classes=10)
    if name == "lenet5":
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 10))
    return nn.Sequential(
        nn.Conv2d(3, 32, 5, padding=2), nn.ReLU(), nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(64 * 4 * 4, 256), nn.ReLU(), nn.Linear(256, 10))


class _KernelClock:
    """Wraps every callable of dlcore._C so each call adds its wall time here.

    Call sites look kernels up as ``_C.name`` at call time, so replacing the
    module attributes reaches them all; restored on exit.
    """

    def __init__(self):
        self.seconds = 0.0
        self.calls = 0
        self._saved = {}

    def __enter__(self):
        from dlcore import _C

        for name in dir(_C):
            fn = getattr(_C, name)
            if name.startswith("_") or isinstance(fn, type) or not callable(fn):
                continue
            self._saved[name] = fn
            setattr(_C, name, self._timed(fn))
        return self

    def _timed(self, fn):
        @functools.wraps(fn)
        def timed(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.seconds += time.perf_counter() - t0
                self.calls += 1
        return timed

    def __exit__(self, *exc):
        from dlcore import _C

        for name, fn in self._saved.items():
            setattr(_C, name, fn)
        return False


def _dlcore_runner(name, x, y, fused=None):
    """A step function; step.opt_seconds holds the optimizer's share of the last step."""
    from dlcore.nn import functional as F

    dlcore.manual_seed(0)
    net = _dlcore_model(name)
    opt = _optimizer(dlcore, name, net.parameters())
    for group in opt.param_groups:
        group["fused"] = fused
    xt, yt = dlcore.from_numpy(x), dlcore.from_numpy(y)

    def step():
        opt.zero_grad()
        _loss(F, name, net(xt), yt).backward()
        t0 = time.perf_counter()
        opt.step()
        step.opt_seconds = time.perf_counter() - t0
    return step


def _torch_runner(torch, name, x, y):
    torch.manual_seed(0)
    try:
        net = _torch_model(torch, name)
    except ImportError as e:  # resnet18 needs torchvision
        print(f"{name}: no torch row ({e})")
        return None
    opt = _optimizer(torch, name, net.parameters())
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        _loss(torch.nn.functional, name, net(xt), yt).backward()
        opt.step()
    return step


def _block(step, n):
    """Median seconds of n steps."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(args):
    try:
        import torch
        torch.set_num_threads(dlcore.get_num_threads())
    except ImportError:
        torch = None
    steps = 5 if args.quick else 10
    rng = np.random.default_rng(0)
    load0 = os.getloadavg()[0]
    models = getattr(args, "train_models", None) or ",".join(MODELS)
    unknown = [m for m in models.split(",") if m not in MODELS]
    if unknown:
        raise SystemExit(f"train: unknown models {unknown}; choose from {list(MODELS)}")
    print(f"\n## train: whole steps, batch {BATCH}, {dlcore.get_num_threads()} threads "
          f"(torch {'%d threads' % torch.get_num_threads() if torch else 'not installed'}); "
          f"median of {args.repeats} blocks x {steps} steps")
    rows = []
    for name in models.split(","):
        shape = MODELS[name]
        x = rng.random((BATCH,) + shape, dtype=np.float32)
        y = rng.integers(0, 10, BATCH).astype(np.int64)
        dl = _dlcore_runner(name, x, y, fused=False if getattr(args, "train_unfused", False) else None)
        tt = _torch_runner(torch, name, x, y) if torch else None
        for f in (dl, tt):
            if f:
                f(), f()  # warm up: allocations, caches, thread pools
        dl_t, t_t, kern, other, opt = [], [], [], [], []
        for _ in range(args.repeats):
            dl_t.append(_block(dl, steps))
            if tt:
                t_t.append(_block(tt, steps))
            t0 = time.perf_counter()
            with _KernelClock() as clock:
                dl()
            # the split of this one instrumented step (its own wall time, not the blocks' median)
            kern.append(clock.seconds)
            other.append(time.perf_counter() - t0 - clock.seconds)
            opt.append(dl.opt_seconds)
        d, k, o = statistics.median(dl_t), statistics.median(kern), statistics.median(other)
        t = statistics.median(t_t) if t_t else None
        rows.append({"model": name, "dl_ms": d * 1e3, "kern_ms": k * 1e3, "other_ms": o * 1e3,
                     "opt_ms": statistics.median(opt) * 1e3,
                     "dl_ips": BATCH / d, "t_ms": t * 1e3 if t else None, "t_ips": BATCH / t if t else None,
                     "ratio": t / d if t else None})
    print_table(rows, [("model", "model", ""), ("dl_ms", "dlcore ms/step", ".1f"),
                       ("kern_ms", "in kernels", ".1f"), ("other_ms", "everything else", ".1f"),
                       ("opt_ms", "optimizer", ".1f"),
                       ("dl_ips", "dlcore img/s", ".0f"), ("t_ms", "torch ms/step", ".1f"),
                       ("t_ips", "torch img/s", ".0f"), ("ratio", "dlcore/torch img/s", ".2f")])
    print(f"load average (1-min) {load0:.1f} at start, {os.getloadavg()[0]:.1f} at end; "
          f"'in kernels' / 'everything else' split one instrumented step per block (medians; the wrappers add "
          f"~1 us a call to 'else'); 'optimizer' = opt.step() of that step"
          f"{' (unfused: per-parameter NumPy formulas)' if getattr(args, 'train_unfused', False) else ''}")
    return rows
