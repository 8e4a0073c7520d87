"""2-thread GEMMs right after a pause: blocks of back-to-back calls, each
block after `--pause` seconds of sleep, as a training loop runs its kernels
between data loading (issue 17).

    python bench/after_pause.py [--sizes 256,512] [--pause 0.2] [--blocks 30] [--calls 4]

Prints per size the median time of each block's calls (min / median / max
over the blocks) and how many blocks ran 1.5x slower than the fastest one.
On a KVM guest an idle vCPU reads as preempted after such a pause and the
kernel can wake our pool worker on the caller's CPU, where it shares one
core with the caller until load balancing moves it: blocks at one-thread
speed (csrc/core/threads.cpp, leave_cpu). A/B two trees with PYTHONPATH.
"""
import argparse
import statistics
import time

import numpy as np

import dlcore
from dlcore.kernels import gemm


def blocks(n: int, pause: float, count: int, calls: int) -> list[float]:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)
    gemm(a, a, out=out)
    medians = []
    for _ in range(count):
        time.sleep(pause)
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            gemm(a, a, out=out)
            times.append(time.perf_counter() - t0)
        medians.append(statistics.median(times) * 1e3)
    return medians


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--pause", type=float, default=0.2)
    ap.add_argument("--blocks", type=int, default=30)
    ap.add_argument("--calls", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    dlcore.set_num_threads(args.threads)
    print(f"# {args.threads} threads; {args.blocks} blocks of {args.calls} calls, each after {args.pause} s of sleep")
    for n in map(int, args.sizes.split(",")):
        m = sorted(blocks(n, args.pause, args.blocks, args.calls))
        gf = 2.0 * n ** 3 / (m[len(m) // 2] * 1e-3) / 1e9
        slow = sum(x > 1.5 * m[0] for x in m)
        print(f"n={n}: block median ms min {m[0]:.3f} median {m[len(m) // 2]:.3f} max {m[-1]:.3f} "
              f"({gf:.1f} GFLOP/s at the median); blocks over 1.5x the fastest: {slow} of {len(m)}")


if __name__ == "__main__":
    main()
