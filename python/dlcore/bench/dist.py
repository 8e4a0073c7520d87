"""Data-parallel scaling: ``mpirun -np N python -m dlcore.bench dist`` (DistributedDataParallel over MPI).

Measures training throughput (images/s: forward, backward with the bucketed
all-reduce, SGD step) of LeNet-5 (1x28x28, MNIST) and the AlexNet-style
CIFAR-10 model (3x32x32) at 1..N ranks of the job, and splits each step's time
into compute (forward + backward, less the rest), copying gradients into and
out of the buckets, waiting for the all-reduce, and the optimizer. On a loaded
machine the wall-clock figures mostly measure the other load; images per
CPU-second of the ranks (relative to 1 rank) shows what data parallelism
itself costs (smaller per-rank batches, copies, MPI).

* strong scaling: the global batch stays ``--global-batch`` (64), each of k ranks
  takes 1/k of it; efficiency = img/s(k) / (k * img/s(1)).
* weak scaling: every rank keeps ``--global-batch`` images; same efficiency formula.
* co-run: k ranks each train their own plain model (no DDP, no all-reduce) at the
  per-rank batch G/k, at the same time. Its compute beside the per-rank batch row's
  is what running on k cores at once costs each process (shared caches, memory
  bandwidth, clocks); the strong row beside it is what DDP adds (issue 16).
* per-rank batch: 1 process (no DDP) at the strong-scaling per-rank batch G/k. Its
  img/s times k is what k ranks would reach if data parallelism cost nothing, so
  ``vs ideal`` = img/s(k ranks) / (k * img/s(1 process at their per-rank batch))
  separates DDP's own cost (all-reduce, waiting for the slower rank, hooks) from
  the smaller batch's (a step of LeNet-5 has a fixed Python cost: half the batch
  takes more than half the time, which caps strong scaling whatever DDP does).

The 1-rank baseline is a plain model in one process (no DDP). Ranks beyond k
wait in a sleeping barrier, so they leave their core idle. Configurations are
measured round-robin ``--repeats`` times (machine noise hits all of them) and
medians are reported, with the load average. Images are the real MNIST /
CIFAR-10 files with ``--data-dir`` / ``--cifar-dir`` (the folders the dlcore.data
loaders read), else random data of the same shape (throughput does not depend
on the pixel values).
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np

import dlcore

MODELS = {"lenet": ("LeNet-5", (1, 28, 28)), "alexnet": ("AlexNet-CIFAR", (3, 32, 32))}


def add_arguments(parser):
    group = parser.add_argument_group("dist (run under mpirun)")
    group.add_argument("--models", default="lenet,alexnet", help="dist: lenet, alexnet (comma-separated)")
    group.add_argument("--global-batch", type=int, default=64, help="dist: global batch of strong scaling")
    group.add_argument("--steps", type=int, default=None, help="dist: timed SGD steps per sample")
    group.add_argument("--data-dir", default=None, help="dist: MNIST IDX files for LeNet (default: random)")
    group.add_argument("--cifar-dir", default=None, help="dist: CIFAR-10 binary batches (default: random)")


def _builders():
    from dlcore.train import lenet5, small_alexnet

    return {"lenet": lenet5, "alexnet": small_alexnet}


def _images(model, args):
    """(images, labels) to draw batches from: the real set when given, else random of the model's shape."""
    from dlcore.data import CIFAR10, MNIST

    folder = args.data_dir if model == "lenet" else args.cifar_dir
    if folder:
        ds = MNIST(folder, train=True) if model == "lenet" else CIFAR10(folder, train=True)
        return ds.get_batch(np.arange(min(len(ds), 4096)))
    rng = np.random.default_rng(0)
    shape = MODELS[model][1]
    return rng.random((4096,) + shape, dtype=np.float32), rng.integers(0, 10, 4096)


class _Config:
    def __init__(self, model, mode, ranks, per_rank):
        self.model, self.mode, self.ranks, self.per_rank = model, mode, ranks, per_rank
        self.ddp = ranks > 1 and mode != "co-run"
        self.samples = []  # (img/s, compute, copy, wait, optimizer ms per step, img per CPU-s) per repeat


def run(args):
    import dlcore.distributed as dist
    from dlcore import optim
    from dlcore.distributed import process_group as pg
    from dlcore.nn import functional as F

    dist.init(num_threads=None if args.threads else "auto")
    st = pg._state
    world, rank, size = st.comm, st.rank, st.world_size
    say = print if rank == 0 else (lambda *a, **k: None)
    threads = world.allgather(dlcore.get_num_threads())
    cores = world.allgather(sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [])
    load_before = os.getloadavg()
    say(f"# dist: {size} ranks, threads per rank {threads}, cores per rank {cores}, "
        f"{os.cpu_count()} cores on this machine; load average {load_before[0]:.2f} at start")
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise SystemExit(f"unknown dist models {unknown}; choose from {list(MODELS)}")
    G = args.global_batch
    subs = {k: world.Split(0 if rank < k else st.MPI.UNDEFINED, rank) for k in range(1, size + 1)}

    configs = []
    for model in models:
        configs.append(_Config(model, "baseline", 1, G))
        for k in range(2, size + 1):
            if G % k == 0:
                configs.append(_Config(model, "per-rank batch", 1, G // k))
                configs.append(_Config(model, "co-run", k, G // k))
                configs.append(_Config(model, "strong", k, G // k))
            configs.append(_Config(model, "weak", k, G))

    steps_default = {"lenet": 4 if args.quick else 30, "alexnet": 2 if args.quick else 6}
    data = {m: _images(m, args) for m in models}
    nets = {}

    def build(cfg):
        """(net, ddp or None, optimizer, batches) for this rank in cfg, made once and reused by every repeat."""
        key = (cfg.model, cfg.ranks, cfg.per_rank, cfg.ddp)
        if key not in nets:
            dlcore.manual_seed(0)
            model = _builders()[cfg.model]()
            ddp = None
            if cfg.ddp:
                with pg._use_comm(subs[cfg.ranks]):
                    ddp = dist.DistributedDataParallel(model)
            net = ddp or model
            images, labels = data[cfg.model]
            batches = []
            for i in range(3):
                start = ((i * cfg.ranks + rank) * cfg.per_rank) % (len(images) - cfg.per_rank)
                batches.append((dlcore.from_numpy(np.ascontiguousarray(images[start:start + cfg.per_rank])),
                                dlcore.from_numpy(np.ascontiguousarray(labels[start:start + cfg.per_rank]))))
            nets[key] = (net, ddp, optim.SGD(net.parameters(), lr=0.01, momentum=0.9), batches)
        return nets[key]

    def measure(cfg, steps):
        net, ddp, opt, batches = build(cfg)
        sub = subs[cfg.ranks]
        with pg._use_comm(sub):
            for i in range(2):  # warm-up: this configuration's shapes back in cache, page faults done
                step(net, opt, batches[i % len(batches)])
            if ddp is not None:
                ddp.reset_timings()
            sub.Barrier()
            compute = optimizer = 0.0
            cpu, start = time.process_time(), time.perf_counter()
            for i in range(steps):
                fb, o = step(net, opt, batches[i % len(batches)])
                compute, optimizer = compute + fb, optimizer + o
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        wait = ddp.timings["wait_s"] if ddp else 0.0
        copy = ddp.timings["copy_s"] if ddp else 0.0
        wall = sub.allreduce(wall, op=st.MPI.MAX)
        cpu = sub.allreduce(cpu, op=st.MPI.SUM)
        split = np.array([compute - wait - copy, copy, wait, optimizer]) * 1e3 / steps
        split = sub.allreduce(split, op=st.MPI.SUM) / cfg.ranks
        images = cfg.per_rank * cfg.ranks * steps
        return (images / wall,) + tuple(split) + (images / cpu,)

    def step(net, opt, batch):
        x, y = batch
        t0 = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        t1 = time.perf_counter()
        opt.step()
        return t1 - t0, time.perf_counter() - t1

    start = time.perf_counter()
    for _ in range(args.repeats):
        for cfg in configs:
            steps = args.steps or max(2, round(steps_default[cfg.model] * 64 / G))  # ~ the same images per sample
            if rank < cfg.ranks:
                result = measure(cfg, steps)
                if rank == 0:
                    cfg.samples.append(result)
            pg.wait_politely(world.Ibarrier())  # ranks outside this configuration sleep here
    load_after = os.getloadavg()
    say(f"# {args.repeats} round-robin repeats in {time.perf_counter() - start:.0f} s; "
        f"load average {load_after[0]:.2f} at the end (1-min), {load_after[1]:.2f} (5-min)")
    if rank == 0:
        _report(configs, models)


def _report(configs, models):
    from .common import print_table

    rows = []
    for model in models:
        mine = [c for c in configs if c.model == model]
        base = statistics.median(s[0] for s in mine[0].samples)
        base_cpu = statistics.median(s[5] for s in mine[0].samples)
        one = {c.per_rank: statistics.median(s[0] for s in c.samples) for c in mine if c.ranks == 1}
        for c in mine:
            ips = [s[0] for s in c.samples]
            med = statistics.median(ips)
            ideal = one.get(c.per_rank)
            split = [statistics.median(s[i] for s in c.samples) for i in range(1, 5)]
            rows.append({"model": MODELS[model][0], "mode": c.mode, "ranks": c.ranks, "batch": c.per_rank,
                         "global": c.per_rank * c.ranks, "ips": med, "range": f"{min(ips):.0f}-{max(ips):.0f}",
                         "speedup": med / base, "eff": med / (base * c.ranks),
                         "ideal": f"{med / (ideal * c.ranks):.0%}" if ideal else "-", "compute": split[0],
                         "copy": split[1], "wait": split[2], "opt": split[3],
                         "cpu": statistics.median(s[5] for s in c.samples) / base_cpu})
    print_table(rows, [("model", "model", "s"), ("mode", "scaling", "s"), ("ranks", "ranks", "d"),
                       ("batch", "batch/rank", "d"), ("global", "global batch", "d"), ("ips", "img/s", ".0f"),
                       ("range", "img/s min-max", "s"), ("speedup", "x 1 rank", ".2f"),
                       ("eff", "efficiency", ".0%"), ("ideal", "vs ideal", "s"),
                       ("compute", "compute ms", ".2f"), ("copy", "copy ms", ".3f"),
                       ("wait", "wait ms", ".3f"), ("opt", "optimizer ms", ".2f"), ("cpu", "img/CPU-s vs 1", ".2f")])
    print("(ms are per step and rank, medians; vs ideal = img/s / (ranks x img/s of 1 process at the same"
          " batch per rank): what DDP itself costs; compute = forward + backward less copy and wait;"
          " img/s = global batch x steps / the slowest rank's time; img/CPU-s vs 1 = images per CPU-second of"
          " all ranks (process_time, MPI polling included) relative to 1 rank: what the ranks spent, whatever"
          " the other load on the machine took); co-run: the ranks train separate models at once, no gradient"
          " averaging (not a result: what the cores allow; its compute beside per-rank batch = the co-run cost)")
