"""Whole training steps with and without nn.Sequential's Conv2d/Linear + ReLU fusion (issue 17).

Times forward + backward + SGD step of a Sequential model (LeNet-5 or the AlexNet-style CIFAR net of
dlcore.train) at a given batch and thread count, and splits each step into time inside dlcore._C calls
and everything else (bench.train's _KernelClock).

    python bench/fused_step.py --model lenet5 --batch 32 --threads 1 --ab

``--ab`` interleaves blocks with the fusion on and off (``dlcore.nn.fusion.fusion_disabled``) in one
process, so both see the same machine load. Against a build without the fused kernels (e.g. main), run the
script there too (without --ab, which needs dlcore.nn.fusion) and compare the "as built" rows.
"""
import argparse
import contextlib
import os
import statistics
import time

import numpy as np

import dlcore
from dlcore.bench.train import _KernelClock
from dlcore.nn import functional as F
from dlcore.train import lenet5, small_alexnet

MODELS = {"lenet5": (lenet5, (1, 28, 28)), "alexnet_cifar": (small_alexnet, (3, 32, 32))}


def runner(model, batch):
    make, shape = MODELS[model]
    dlcore.manual_seed(0)
    net = make()
    opt = dlcore.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = dlcore.from_numpy(rng.random((batch,) + shape, dtype=np.float32))
    y = dlcore.from_numpy(rng.integers(0, 10, batch).astype(np.int64))

    def step():
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    return step


def block(step, steps, mode):
    """(median wall s/step, process CPU s/step over the block, kernel s and other s of one instrumented step).

    The CPU time (all threads of this process) is the robust figure on a loaded machine with 1 thread: it
    does not count the time slices the OS gave to other processes."""
    with mode():
        times = []
        c0 = time.process_time()
        for _ in range(steps):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        cpu = (time.process_time() - c0) / steps
        t0 = time.perf_counter()
        with _KernelClock() as clock:
            step()
        total = time.perf_counter() - t0
    return statistics.median(times), cpu, clock.seconds, total - clock.seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="lenet5", choices=list(MODELS))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--ab", action="store_true", help="interleave fused / unfused blocks in this process")
    a = p.parse_args()
    dlcore.set_num_threads(a.threads)
    step = runner(a.model, a.batch)
    modes = {"as built": contextlib.nullcontext}
    if a.ab:
        from dlcore.nn.fusion import fusion_disabled
        modes = {"fused": contextlib.nullcontext, "unfused": fusion_disabled}
    for mode in modes.values():
        with mode():
            step(), step()  # warm up
    res = {name: [] for name in modes}
    load0 = os.getloadavg()[0]
    for _ in range(a.repeats):
        for name, mode in modes.items():
            res[name].append(block(step, a.steps, mode))
    print(f"{a.model} batch {a.batch}, {a.threads} thread(s), median of {a.repeats} blocks x {a.steps} steps, "
          f"load {load0:.1f} -> {os.getloadavg()[0]:.1f}")
    for name, rows in res.items():
        ms, cpu, kern, other = (statistics.median(r[i] for r in rows) * 1e3 for i in range(4))
        print(f"  {name:9s} {ms:7.3f} ms/step wall, {cpu:7.3f} ms/step CPU  (one instrumented step: kernels "
              f"{kern:.3f} ms, else {other:.3f} ms)")
    if a.ab:
        for i, what in ((0, "wall"), (1, "CPU")):
            ratio = statistics.median(u[i] / f[i] for f, u in zip(res["fused"], res["unfused"]))
            print(f"  unfused / fused step {what} time: {ratio:.3f} (median of per-block ratios)")


if __name__ == "__main__":
    main()
