"""GEMM and 3x3 conv at 2 threads, quiet vs next to one spinning process,
dlcore beside PyTorch (issue 17).

    python bench/contention.py [--before PYTHONPATH] [--rounds 3] [--reps 15] [--blocks 3] [--report quick|full]

--report runs the shapes of `python -m dlcore.bench gemm` and `... conv`
instead of the 4 default cases: every GEMM of the GEMM report (square,
inner-product layers, conv layers as GEMMs; quick: its --quick list) and
every conv layer of the conv report in its three passes (forward,
backward-data, backward-weights; torch: F.conv2d, torch.nn.grad), at the
report's minibatch. Each case gets at most --budget seconds per library and
condition (at least 3 calls), so the big shapes do not take an hour.

Each (build, condition) is measured in a fresh worker process; workers for
the builds and conditions are interleaved round by round. Inside a worker
dlcore and torch alternate in blocks of calls (--blocks per library), each
block after SETTLE_SECONDS of quiet: a library's idle threads keep polling a
little after its calls (torch's OpenMP workers, our pool's 50 us), and
calls alternating one by one made each library run beside the other's
polling threads, which hold the second core (square 256 ran at one-thread
speed for both libraries, quiet, in the issue-17 report of 2026-12-04). Each library is
measured in its own steady state, as a program using one of them runs.
Reports medians (ms) of the single calls and GFLOP/s,
the ratio busy/quiet per library, and dlcore/torch time under each
condition, plus the load average at start and end (the machine is shared).
`--before` points at another dlcore tree (e.g. /work/main/python) to
compare a baseline build in the same run.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CASES = [("gemm n=128", ("gemm", 128)), ("gemm n=256", ("gemm", 256)), ("gemm n=512", ("gemm", 512)),
         ("conv3x3 64ch 56x56 b2", ("conv", 0))]



# Spins until its parent is gone: a parent killed by a signal skips its
# `finally`, and a plain `while True: pass` outlived it and loaded the machine.
SPINNER = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    pass\n"

# Quiet before each block of one library's calls: longer than either
# library's threads poll after a call (GNU OpenMP spins about 300000
# iterations by default, a fraction of a millisecond; our pool 50 us).
SETTLE_SECONDS = 0.02

def _report_cases(quick):
    """(name, spec) of every GEMM and conv pass of the kernel reports."""
    from dlcore.bench import conv, gemm

    out = []
    for c in gemm.cases(quick):
        out.append((f"gemm {c['name']} {c['m']}x{c['n']}x{c['k']}", ("gemm_report", c)))
    for layer in conv.layers(quick):
        for p in conv.PASSES:
            out.append((f"conv {layer['name']} {p}", ("conv_report", (layer, p))))
    return out


def _report_case(kind, spec, rng, torch):
    """flops, dlcore call, torch call (or None) of one report case."""
    import numpy as np

    from dlcore.bench import conv
    from dlcore.kernels import gemm

    if kind == "gemm_report":
        m, n, k, tb = spec["m"], spec["n"], spec["k"], spec["trans_b"]
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
        ta, tb_ = (torch.from_numpy(a), torch.from_numpy(b)) if torch else (None, None)
        f_t = ((lambda: torch.mm(ta, tb_.t())) if tb else (lambda: torch.mm(ta, tb_))) if torch else None
        return 2.0 * m * n * k, (lambda: gemm(a, b, trans_b=tb)), f_t
    layer, p = spec
    layer = dict(layer, mb=conv.MB)
    x = rng.standard_normal((conv.MB, layer["ic"], layer["ih"], layer["iw"]), dtype=np.float32)
    w = rng.standard_normal((layer["oc"], layer["ic"] // layer["g"], layer["kh"], layer["kw"]), dtype=np.float32)
    dy = rng.standard_normal((conv.MB, layer["oc"], layer["oh"], layer["ow"]), dtype=np.float32)
    flops = 2.0 * conv.MB * layer["oc"] * layer["oh"] * layer["ow"] * layer["ic"] // layer["g"] * layer["kh"] * \
        layer["kw"]
    f_dl = conv.pass_functions(layer, x, w, dy, "auto")[p]
    f_t = None
    if torch:
        tx, tw, tdy = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(dy)
        hp = dict(stride=layer["stride"], padding=layer["pad"], groups=layer["g"])
        f_t = {"fwd": lambda: torch.nn.functional.conv2d(tx, tw, **hp),
               "bwd_d": lambda: torch.nn.grad.conv2d_input(tx.shape, tw, tdy, **hp),
               "bwd_w": lambda: torch.nn.grad.conv2d_weight(tx, tw.shape, tdy, **hp)}[p]
    return flops, f_dl, f_t


def worker(reps, blocks):
    import numpy as np

    import dlcore
    from dlcore.kernels import conv2d_forward, gemm
    dlcore.set_num_threads(2)
    try:
        import torch
        torch.set_num_threads(2)
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    budget = float(os.environ.get("BENCH_BUDGET", "1e9"))
    out = {}
    for name, (kind, n) in CASES:
        if kind in ("gemm_report", "conv_report"):
            flops, f_dl, f_t = _report_case(kind, n, rng, torch)
        elif kind == "gemm":
            a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
            flops = 2.0 * n ** 3
            f_dl = lambda: gemm(a, b)
            ta, tb = (torch.from_numpy(a), torch.from_numpy(b)) if torch else (None, None)
            f_t = (lambda: torch.mm(ta, tb)) if torch else None
        else:
            x = rng.standard_normal((2, 64, 56, 56), dtype=np.float32)
            w = rng.standard_normal((64, 64, 3, 3), dtype=np.float32)
            flops = 2.0 * 2 * 64 * 56 * 56 * 64 * 9
            f_dl = lambda: conv2d_forward(x, w, padding=1)
            if torch:
                tx, tw = torch.from_numpy(x), torch.from_numpy(w)
                f_t = lambda: torch.nn.functional.conv2d(tx, tw, padding=1)
            else:
                f_t = None
        fns = {"dlcore": f_dl}
        if f_t:
            fns["torch"] = f_t
        times = {k: [] for k in fns}
        per_block = max(1, -(-reps // blocks))
        with (torch.no_grad() if torch else _null()):
            for f in fns.values():
                for _ in range(3):
                    f()
            for _ in range(blocks):
                for k, f in fns.items():  # block by block, each after a quiet pause
                    time.sleep(SETTLE_SECONDS)
                    f()  # wakes this library's threads after the pause
                    for _ in range(per_block):
                        t0 = time.perf_counter()
                        f()
                        times[k].append(time.perf_counter() - t0)
                if min(len(v) for v in times.values()) >= 3 and max(sum(v) for v in times.values()) > budget:
                    break
        out[name] = {k: {"ms": statistics.median(v) * 1e3, "gflops": flops / statistics.median(v) / 1e9}
                     for k, v in times.items()}
        out[name]["flops"] = flops
    print(json.dumps(out))


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def run_worker(pypath, reps, blocks, extra_env=None):
    env = dict(os.environ, PYTHONPATH=pypath, **(extra_env or {}))
    r = subprocess.run([sys.executable, __file__, "--worker", "--reps", str(reps), "--blocks", str(blocks)], env=env,
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--blocks", type=int, default=3, help="blocks of reps/blocks calls per library and case")
    ap.add_argument("--before", default=None, help="PYTHONPATH of a baseline dlcore tree")
    ap.add_argument("--after", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    ap.add_argument("--variant", action="append", default=[],
                    help="LABEL:VAR=VAL[,VAR=VAL] another run of --after with extra environment, "
                         "e.g. passive:OMP_WAIT_POLICY=passive")
    ap.add_argument("--only", default=None, help="comma-separated case-name prefixes (e.g. conv)")
    ap.add_argument("--report", choices=("quick", "full"), default=None,
                    help="the GEMM and conv reports' shapes instead of the 4 default cases")
    ap.add_argument("--budget", type=float, default=2.0,
                    help="--report: seconds per case, library and condition (at least 3 calls)")
    args = ap.parse_args()
    if args.report:
        os.environ["BENCH_REPORT"] = args.report  # the workers read it
        os.environ["BENCH_BUDGET"] = str(args.budget)
    if os.environ.get("BENCH_REPORT"):
        if not args.worker:
            sys.path.insert(0, args.after)  # the case list comes from that tree's dlcore.bench
        CASES[:] = _report_cases(os.environ["BENCH_REPORT"] == "quick")
    if args.worker:
        if os.environ.get("BENCH_ONLY"):
            CASES[:] = [c for c in CASES if any(c[0].startswith(p) for p in os.environ["BENCH_ONLY"].split(","))]
        return worker(args.reps, args.blocks)
    if args.only:
        os.environ["BENCH_ONLY"] = args.only  # the workers read it
        CASES[:] = [c for c in CASES if any(c[0].startswith(p) for p in args.only.split(","))]
    builds = {"after": (args.after, {})}
    if args.before:
        builds = {"before": (args.before, {}), **builds}
    for v in args.variant:
        label, envs = v.split(":", 1)
        builds[label] = (args.after, dict(kv.split("=", 1) for kv in envs.split(",")))
    load0 = os.getloadavg()
    res = {}  # (build, cond) -> list of worker dicts
    for rnd in range(args.rounds):
        for cond in ("quiet", "busy"):
            spinner = subprocess.Popen([sys.executable, "-c", SPINNER]) if cond == "busy" else None
            try:
                for build, (path, extra) in builds.items():
                    res.setdefault((build, cond), []).append(run_worker(path, args.reps, args.blocks, extra))
            finally:
                if spinner:
                    spinner.kill()
                    spinner.wait()
    load1 = os.getloadavg()
    print(f"load average start {load0[0]:.1f}, end {load1[0]:.1f}; {os.cpu_count()} CPUs; 2 threads; "
          f"{args.rounds} rounds x {args.reps} reps in {args.blocks} blocks a library, medians")
    width = max(24, max(len(n) for n, _ in CASES))
    print(f"{'case':{width}s} {'build':7s} {'lib':7s} {'quiet ms':>9s} {'busy ms':>9s} {'busy/quiet':>10s} "
          f"{'quiet GF':>9s} {'busy GF':>8s} {'dl speedup vs torch, busy':>26s}")
    worst = []
    for name, _ in CASES:
        for build in builds:
            med = {}
            for cond in ("quiet", "busy"):
                for lib in ("dlcore", "torch"):
                    vals = [w[name][lib]["ms"] for w in res[(build, cond)] if lib in w[name]]
                    if vals:
                        med[(cond, lib)] = statistics.median(vals)
            for lib in ("dlcore", "torch"):
                if (build != "after" and lib == "torch") or ("quiet", lib) not in med:
                    continue
                q, b = med[("quiet", lib)], med[("busy", lib)]
                flops = res[(build, "quiet")][0][name]["flops"]
                gf = lambda ms: flops / (ms * 1e-3) / 1e9
                vs = (f"{med[('busy', 'torch')] / b:25.2f}x" if lib == "dlcore" and ("busy", "torch") in med
                      else "")
                if build == "after":
                    worst.append((b / q, name, lib, med.get(("busy", "torch")) if lib == "dlcore" else None, b))
                print(f"{name:{width}s} {build:7s} {lib:7s} {q:9.3f} {b:9.3f} {b / q:9.2f}x "
                      f"{gf(q):9.1f} {gf(b):8.1f} {vs}")
    for lib in ("dlcore", "torch"):
        r = sorted((x for x in worst if x[2] == lib), key=lambda x: x[0])
        if r:
            slower = sum(1 for x in r if x[3] is not None and x[4] > x[3])
            print(f"{lib}: busy/quiet median {statistics.median(x[0] for x in r):.2f}x, worst {r[-1][0]:.2f}x "
                  f"({r[-1][1]}); cases over 2.5x: {sum(x[0] > 2.5 for x in r)} of {len(r)}"
                  + (f"; slower than torch under load: {slower}" if lib == "dlcore" else ""))


if __name__ == "__main__":
    main()
