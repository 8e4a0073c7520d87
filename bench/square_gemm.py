"""Square float32 GEMM, dlcore vs torch.mm, medians (issue 17).

    python bench/square_gemm.py --threads 2 --sizes 128 256 512 1024 2048

--mode interleaved (default) times one call of each contender in turn; --mode
blocks alternates 10 blocks of calls per contender (each library's steady
state). Both see the same load; prints median microseconds, GFLOP/s and the
dlcore/torch speed ratio.
"""

import argparse
import os
import time

import numpy as np

import dlcore
from dlcore.kernels import gemm


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512, 1024, 2048])
    p.add_argument("--budget", type=float, default=1.5, help="seconds per size and contender")
    p.add_argument(
        "--mode",
        choices=["interleaved", "blocks"],
        default="interleaved",
        help="interleaved: dl, torch, dl, torch...; blocks: 10 rounds of (reps/10 dl calls, reps/10 torch calls)",
    )
    args = p.parse_args()
    import torch

    dlcore.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"threads={args.threads} mode={args.mode} load={os.getloadavg()[0]:.2f}")
    print(f"{'n':>5} {'dlcore us':>10} {'torch us':>10} {'dl GF/s':>8} {'torch GF/s':>10} {'speed vs torch':>15}")
    for n in args.sizes:
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        fns = {"dl": lambda a=a, b=b: gemm(a, b), "torch": lambda ta=ta, tb=tb: torch.mm(ta, tb)}
        for f in fns.values():
            f()
        t = time.perf_counter()
        fns["dl"]()
        reps = int(min(400, max(5, args.budget / max(time.perf_counter() - t, 1e-6))))
        ts = {k: [] for k in fns}
        # interleaved: each call right after the other library's (what a
        # model mixing both sees); blocks: each library's own steady state.
        rounds, per = (reps, 1) if args.mode == "interleaved" else (10, max(1, reps // 10))
        for _ in range(rounds):
            for k, f in fns.items():
                for _ in range(per):
                    t = time.perf_counter()
                    f()
                    ts[k].append(time.perf_counter() - t)
        med = {k: float(np.median(v)) for k, v in ts.items()}
        gf = {k: 2.0 * n**3 / v / 1e9 for k, v in med.items()}
        print(
            f"{n:>5} {med['dl'] * 1e6:>10.1f} {med['torch'] * 1e6:>10.1f} {gf['dl']:>8.1f} {gf['torch']:>10.1f}"
            f" {med['torch'] / med['dl']:>15.2f}",
            flush=True,
        )
    print(f"load after={os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
