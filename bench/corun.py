"""What running on both cores costs each process: co-run slowdown of independent loops (issue 16).

    python bench/corun.py [--seconds 3] [--rounds 3] [--workloads fma,gemm_l2,stream,lenet] [--clock cpu|wall]

Each workload runs in a fresh single-threaded process pinned with sched_setaffinity: alone on core 0,
then as two independent copies on cores 0 and 1 starting at the same instant (no MPI, no shared data).
Rounds alternate alone / pair so the other helpers' load hits both alike; the figure is the median rate
per process, and ``pair/alone`` is the per-process rate when both cores run divided by the rate alone
(1.00 = the machine imposes nothing; 0.80 = each process runs 20 % slower, so two ranks reach at most
1.6x of one). Workloads:

  fma      _C.fma_peak_gflops: FMAs on registers only (no memory traffic at all): clock / SMT effects
  gemm_l2  dlcore GEMM 128x128x128 float32 (192 KiB of operands: stays in the 512 KiB L2)
  stream   NumPy copy of 64 MiB into 64 MiB (DRAM-bound): what the shared memory path allows
  lenet    LeNet-5 training steps (forward, backward, SGD momentum) at batch 32: the DDP rank's compute
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

WORKLOADS = ("fma", "gemm_l2", "stream", "lenet")
CLOCK = os.environ.get("CORUN_CLOCK", "cpu")
UNITS = {"fma": "GFLOP/s", "gemm_l2": "GFLOP/s", "stream": "GB/s", "lenet": "steps/s"}


def _work(kind):
    """(one call, the amount of work one call does in UNITS[kind])."""
    import numpy as np

    import dlcore
    from dlcore import _C

    dlcore.set_num_threads(1)
    if kind == "fma":
        its = 2_000_000  # the call times itself and returns its GFLOP/s
        return (lambda: _C.fma_peak_gflops("avx2", 1, its)), None
    if kind == "gemm_l2":
        from dlcore import kernels as K

        rng = np.random.default_rng(0)
        a, b = rng.random((128, 128), dtype=np.float32), rng.random((128, 128), dtype=np.float32)
        return (lambda: K.gemm(a, b)), 2 * 128 ** 3 / 1e9
    if kind == "stream":
        a = np.ones(16 << 20, dtype=np.float32)
        b = np.empty_like(a)
        return (lambda: np.copyto(b, a)), 2 * a.nbytes / 1e9
    from dlcore import optim
    from dlcore.nn import functional as F
    from dlcore.train import lenet5

    dlcore.manual_seed(0)
    net = lenet5()
    opt = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = dlcore.from_numpy(rng.random((32, 1, 28, 28), dtype=np.float32))
    y = dlcore.from_numpy(rng.integers(0, 10, 32))

    def step():
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()

    return step, 1.0


def worker(kind, core, seconds):
    os.sched_setaffinity(0, {core})
    call, amount = _work(kind)
    for _ in range(3):
        call()
    print("ready", flush=True)
    sys.stdin.readline()  # "go": every process of the round starts its clock at the same instant
    rates, end = [], time.time() + seconds
    while time.time() < end:
        t0, c0 = time.perf_counter(), time.thread_time()
        got = call()
        dt, cpu = time.perf_counter() - t0, time.thread_time() - c0
        done = got * dt if amount is None else amount  # the FMA probe returns its own rate (wall time)
        # Per CPU-second of this thread when the machine is shared (other load deschedules us: that time is
        # not the hardware's answer), else per wall second.
        rates.append(done / (cpu if CLOCK == "cpu" else dt))
    print(json.dumps({"rate": statistics.median(rates), "calls": len(rates)}))


def _launch(kind, cores, seconds):
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", kind, str(c), str(seconds)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for c in cores]
    for p in procs:  # imports and warm-up done in every process before any clock starts
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError(f"co-run worker {kind} failed to start")
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    return [json.loads(p.communicate()[0].strip().splitlines()[-1])["rate"] for p in procs]


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--clock", default="cpu", choices=["cpu", "wall"],
                    help="cpu: work per CPU-second of the thread (default; steadier on a shared machine)")
    args = ap.parse_args()
    os.environ["CORUN_CLOCK"] = args.clock  # the workers read it
    kinds = [k for k in args.workloads.split(",") if k]
    print(f"# co-run: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at start; "
          f"{args.rounds} rounds x {args.seconds:.0f} s, alone (core 0) and pair (cores 0+1) alternating; "
          f"rates per {args.clock} second, median over calls")
    print(f"{'workload':10s} {'unit':8s} {'alone':>9s} {'pair c0':>9s} {'pair c1':>9s} {'pair/alone':>10s}  rounds")
    for kind in kinds:
        alone, pair0, pair1 = [], [], []
        for _ in range(args.rounds):
            alone += _launch(kind, [0], args.seconds)
            p = _launch(kind, [0, 1], args.seconds)
            pair0.append(p[0])
            pair1.append(p[1])
        a, p0, p1 = (statistics.median(v) for v in (alone, pair0, pair1))
        ratios = " ".join(f"{(x + y) / 2 / z:.2f}" for x, y, z in zip(pair0, pair1, alone))
        print(f"{kind:10s} {UNITS[kind]:8s} {a:9.2f} {p0:9.2f} {p1:9.2f} {(p0 + p1) / 2 / a:10.2f}  {ratios}")
    print(f"# load average {os.getloadavg()[0]:.2f} at the end; pair/alone = mean of the pair's two medians / "
          "the median alone; rounds: the same per round")


if __name__ == "__main__":
    main()
