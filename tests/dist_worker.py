"""Runs inside an MPI job started by tests/test_distributed.py: ``mpirun -np 2 python dist_worker.py MODE [DIR]``.

Each check asserts inside the ranks and prints ``OK <check> rank <r>``; a failing
assertion is an uncaught exception, which dlcore.distributed turns into an abort of
the whole job (non-zero exit, traceback on stderr), so the test sees it.
"""
import os
import sys

import numpy as np

import dlcore
import dlcore.distributed as dist
from dlcore import nn, optim
from dlcore.data import DistributedSampler
from dlcore.nn import functional as F


def ok(name):
    print(f"OK {name} rank {dist.get_rank()}", flush=True)


def check_threads():
    # Ranks sharing this machine never run more OpenMP threads together than it has cores
    # (unless there are more ranks than cores: then one each).
    threads = dist.all_gather(np.array([dlcore.get_num_threads()], dtype=np.int64))
    local = dist.process_group._state.local_comm
    cores = len(set().union(*[set(c) for c in local.allgather(sorted(os.sched_getaffinity(0)))]))
    assert threads.min() >= 1 and threads.sum() <= max(cores, dist.get_local_size()), (threads, cores)
    ok("threads")


def check_collectives():
    rank, world = dist.get_rank(), dist.get_world_size()
    assert (world, dist.is_initialized()) == (2, True)
    # integer-valued float32 gradients: the sum is exact
    shards = [np.random.default_rng(100 + r).integers(-1000, 1000, size=1037).astype(np.float32)
              for r in range(world)]
    g = shards[rank].copy()
    assert dist.all_reduce(g) is g
    assert np.array_equal(g, shards[0] + shards[1]), "all_reduce sum is not exact"
    t = dlcore.from_numpy(shards[rank].copy())
    work = dist.all_reduce(t, op="mean", async_op=True)
    assert work.wait() is t and np.array_equal(t.numpy(), (shards[0] + shards[1]) / 2)
    m = shards[rank].copy()
    dist.all_reduce(m, op="max")
    assert np.array_equal(m, np.maximum(shards[0], shards[1]))
    i64 = np.arange(7, dtype=np.int64) * (rank + 1)
    dist.all_reduce(i64)
    assert np.array_equal(i64, np.arange(7) * 3)
    b = np.full((3, 5), float(rank), dtype=np.float64)
    dist.broadcast(b, src=1)
    assert np.all(b == 1.0)
    gathered = dist.all_gather(dlcore.from_numpy(np.array([rank, 10 + rank], dtype=np.int32)))
    assert isinstance(gathered, dlcore.Tensor) and gathered.numpy().tolist() == [[0, 10], [1, 11]]
    for bad, exc, words in [(np.zeros((4, 4), np.float32)[:, ::2], ValueError, "C-contiguous"),
                            (np.zeros(3, np.float16), TypeError, "float16"), ([1.0], TypeError, "list")]:
        try:
            dist.all_reduce(bad)
        except exc as e:
            assert words in str(e), e
        else:
            raise AssertionError(f"all_reduce accepted {bad!r}")
    dist.barrier()
    assert dist.all_reduce_scalars([1.5, rank]) == [3.0, 1.0]
    ok("collectives")


def check_sampler():
    world = dist.get_world_size()
    for n, drop_last in [(100, False), (100, True), (103, False), (103, True), (1, False)]:
        for shuffle in (True, False):
            s = DistributedSampler(range(n), shuffle=shuffle, seed=7, drop_last=drop_last)
            s.set_epoch(3)
            mine = s.indices()
            everyone = dist.all_gather(np.ascontiguousarray(mine))
            assert everyone.shape == (world, len(s)), everyone.shape  # equal length on every rank
            flat = everyone.ravel()
            if n % world == 0 or drop_last:
                assert len(set(flat.tolist())) == flat.size, "shards overlap"
            if n % world == 0 or not drop_last:
                assert set(flat.tolist()) == set(range(n)), "shards miss samples"
            assert flat.size - len(set(flat.tolist())) < world
    ok("sampler")


def small_convnet():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 4 * 4, 16), nn.ReLU(), nn.Linear(16, 10))


def batches(steps, size, seed=5):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((size, 1, 8, 8)).astype(np.float32), rng.integers(0, 10, size))
            for _ in range(steps)]


def grads_of(model, x, y):
    model.zero_grad()
    F.cross_entropy(model(dlcore.from_numpy(x)), dlcore.from_numpy(y)).backward()
    return [p.grad.numpy().copy() for p in model.parameters()]


def check_ddp(bucket_cap_mb):
    """5 SGD steps: 2 ranks x batch 32 == 1 process x batch 64 (tolerance), and == the same shards summed (bitwise)."""
    rank, world, per_rank = dist.get_rank(), dist.get_world_size(), 32
    dlcore.manual_seed(1000 + rank)               # different initial weights per rank: DDP must broadcast rank 0's
    ddp = dist.DistributedDataParallel(small_convnet(), bucket_cap_mb=bucket_cap_mb)
    dlcore.manual_seed(1000)
    full, shards = small_convnet(), small_convnet()  # rank 0's initial weights
    for m in (full, shards):
        m.load_state_dict(ddp.module.state_dict())
    assert all(np.array_equal(a, b) for a, b in zip(full.state_dict().values(), ddp.module.state_dict().values()))
    opts = [optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in (ddp, full, shards)]
    for step, (x, y) in enumerate(batches(5, per_rank * world)):
        mine = slice(rank * per_rank, (rank + 1) * per_rank)
        opts[0].zero_grad(set_to_none=step % 2 == 0)  # zeroing in place writes into the bucket views
        F.cross_entropy(ddp(dlcore.from_numpy(x[mine])), dlcore.from_numpy(y[mine])).backward()
        opts[0].step()
        opts[1].zero_grad()                        # one process, batch 64
        F.cross_entropy(full(dlcore.from_numpy(x)), dlcore.from_numpy(y)).backward()
        opts[1].step()
        # one process, the two shards of 32 summed in rank order then halved: what MPI's sum of 2 computes
        per_shard = [grads_of(shards, x[r * per_rank:(r + 1) * per_rank], y[r * per_rank:(r + 1) * per_rank])
                     for r in range(world)]
        for p, g0, g1 in zip(shards.parameters(), *per_shard):
            p.grad = dlcore.from_numpy((g0 + g1) / np.float32(world))
        opts[2].step()
    worst = 0.0
    for p, q, s in zip(ddp.module.parameters(), full.parameters(), shards.parameters()):
        assert np.array_equal(p.numpy(), s.numpy()), "DDP differs from the summed shards"
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-4, atol=1e-5)
        worst = max(worst, float(np.abs(p.numpy() - q.numpy()).max()))
    replicas = dist.all_gather(np.concatenate([p.numpy().ravel() for p in ddp.parameters()]))
    assert np.array_equal(replicas[0], replicas[1]), "replicas diverged"
    for p in ddp.parameters():                    # .grad is a view of its bucket (averaged there, no copy back)
        assert sum(np.shares_memory(p.grad.numpy(), b.buffer) for b in ddp._buckets) == 1
    print(f"ddp bucket_cap_mb={bucket_cap_mb}: {len(ddp.bucket_sizes)} buckets, max |DDP - batch 64| = {worst:.2e}")
    ok(f"ddp{len(ddp.bucket_sizes)}")


def check_no_sync():
    rank = dist.get_rank()
    ddp = dist.DistributedDataParallel(small_convnet())
    ref = small_convnet()
    ref.load_state_dict(ddp.module.state_dict())
    (xa, ya), (xb, yb) = batches(2, 32, seed=9)
    mine = slice(rank * 16, (rank + 1) * 16)
    with ddp.no_sync():
        F.cross_entropy(ddp(dlcore.from_numpy(xa[mine])), dlcore.from_numpy(ya[mine])).backward()
    local = [p.grad.numpy().copy() for p in ddp.parameters()]
    other = dist.all_gather(np.concatenate([g.ravel() for g in local]))
    assert not np.array_equal(other[0], other[1]), "no_sync reduced the gradients"
    F.cross_entropy(ddp(dlcore.from_numpy(xb[mine])), dlcore.from_numpy(yb[mine])).backward()
    expected = []
    for r in range(2):
        s = slice(r * 16, (r + 1) * 16)
        ga, gb = grads_of(ref, xa[s], ya[s]), grads_of(ref, xb[s], yb[s])
        expected.append([a + b for a, b in zip(ga, gb)])
    for p, e0, e1 in zip(ddp.parameters(), *expected):
        assert np.array_equal(p.grad.numpy(), (e0 + e1) / np.float32(2)), "accumulated gradients not averaged"
    ok("no_sync")


def check_pace():
    """The last bucket: blocking all-reduce while the ranks keep pace, non-blocking for POLITE_STEPS steps after a
    rank waited long; every rank chooses alike (a flag rides in the reduction), and the gradients stay exact."""
    import time

    rank = dist.get_rank()
    ddp = dist.DistributedDataParallel(small_convnet(), bucket_cap_mb=0.001)
    ref = small_convnet()
    ref.load_state_dict(ddp.module.state_dict())
    assert sum(ddp.bucket_sizes) == 4 * sum(p.numel() for p in ddp.parameters())  # the flag is not counted
    ddp.LATE_S = float("inf")                       # phase 1: nobody is ever late: blocking, polite stays 0
    data = batches(5, 32, seed=11)
    for step, (x, y) in enumerate(data):
        if step == 3:
            ddp.LATE_S = type(ddp).LATE_S           # phase 2: rank 1 is 50 ms late at step 3
        if step == 3 and rank == 1:
            time.sleep(0.05)
        mine = slice(rank * 16, (rank + 1) * 16)
        ddp.zero_grad()
        F.cross_entropy(ddp(dlcore.from_numpy(x[mine])), dlcore.from_numpy(y[mine])).backward()
        polite = dist.all_gather(np.array([ddp._polite_steps], dtype=np.int64)).ravel()
        assert polite[0] == polite[1], f"ranks chose differently at step {step}: {polite}"
        if step < 3:
            assert polite[0] == 0, polite
        if step == 4:                               # rank 0's flag from step 3 arrives with step 4's reduction
            assert polite[0] == ddp.POLITE_STEPS, polite
        per_rank = [grads_of(ref, x[r * 16:(r + 1) * 16], y[r * 16:(r + 1) * 16]) for r in range(2)]
        for p, g0, g1 in zip(ddp.parameters(), *per_rank):
            assert np.array_equal(p.grad.numpy(), (g0 + g1) / np.float32(2)), f"wrong average at step {step}"
    ok("pace")


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.used, self.unused = nn.Linear(4, 3), nn.Linear(4, 3)

    def forward(self, x):
        return self.used(x)


def check_unused_parameters():
    x = dlcore.randn(5, 4)
    ddp = dist.DistributedDataParallel(TwoHeads())
    ddp(x).sum().backward()
    try:
        ddp(x)
    except RuntimeError as e:
        assert "unused.weight" in str(e) and "find_unused_parameters" in str(e), e
    else:
        raise AssertionError("an unreduced bucket went unnoticed")
    ddp = dist.DistributedDataParallel(TwoHeads(), find_unused_parameters=True)
    with dlcore.no_grad():
        ddp(x)                                         # no backward can follow: nothing may be marked ready
    assert not any(b.ready for b in ddp._buckets)
    dlcore.manual_seed(dist.get_rank())
    ddp(dlcore.randn(5, 4)).sum().backward()
    grads = dist.all_gather(np.concatenate([p.grad.numpy().ravel() for p in ddp.parameters()]))
    assert np.array_equal(grads[0], grads[1]) and not np.any(ddp.module.unused.weight.grad.numpy())
    ok("unused")


def check_sync_batchnorm():
    """float64: SyncBatchNorm on 2 shards == BatchNorm on the whole batch (output, dx, dweight, running stats)."""
    rank = dist.get_rank()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 3, 5, 4)) * 3 + 1
    c = rng.standard_normal((6, 3, 5, 4))
    mine = slice(rank * 3, rank * 3 + 3)
    ref = nn.BatchNorm2d(3).double()
    sync = dist.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.BatchNorm2d(3).double()))[0]
    assert isinstance(sync, dist.SyncBatchNorm)
    for m in (ref, sync):
        m.weight._data[...] = [1.5, -0.5, 2.0]
        m.bias._data[...] = [0.1, 0.2, -0.3]
    xr = dlcore.from_numpy(x.copy()).requires_grad_()
    (ref(xr) * dlcore.from_numpy(c)).sum().backward()
    xs = dlcore.from_numpy(x[mine].copy()).requires_grad_()
    ys = sync(xs)
    (ys * dlcore.from_numpy(c[mine])).sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), xr.grad.numpy()[mine], rtol=1e-10, atol=1e-12)
    dw = sync.weight.grad.numpy().copy()
    dist.all_reduce(dw)
    np.testing.assert_allclose(dw, ref.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sync.running_mean.numpy(), ref.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(sync.running_var.numpy(), ref.running_var.numpy(), rtol=1e-12)
    ok("syncbn")


def check_sync_batchnorm_output():
    rank = dist.get_rank()
    x = np.random.default_rng(4).standard_normal((8, 2, 3)) * 2 - 1
    mine = slice(rank * 4, rank * 4 + 4)
    ref, sync = nn.BatchNorm1d(2).double(), dist.SyncBatchNorm(2).double()
    np.testing.assert_allclose(sync(dlcore.from_numpy(x[mine].copy())).numpy(),
                               ref(dlcore.from_numpy(x)).numpy()[mine], rtol=1e-10, atol=1e-12)
    ok("syncbn_output")


def check_checkpoint(folder):
    """Rank 0 saves, the others wait at the barrier and then find the file; the test loads it in one process."""
    rank = dist.get_rank()
    ddp = dist.DistributedDataParallel(small_convnet())
    path = os.path.join(folder, "ckpt.npz")
    if rank == 0:
        dlcore.save(ddp.module.state_dict(), path)
    dist.barrier()
    assert os.path.exists(path)
    if rank == 1:
        np.savez(os.path.join(folder, "rank1.npz"), **{k: v for k, v in ddp.module.state_dict().items()})
    ok("checkpoint")


def check_cuda():
    """CuPy arrays through NCCL, and DDP on a CUDA model, against the same computation on the host."""
    import cupy

    rank, world = dist.get_rank(), dist.get_world_size()
    shards = [np.random.default_rng(200 + r).integers(-1000, 1000, size=1037).astype(np.float32) for r in range(world)]
    g = cupy.asarray(shards[rank])
    dist.all_reduce(g)
    assert np.array_equal(cupy.asnumpy(g), np.sum(shards, axis=0)), "NCCL all_reduce sum is not exact"
    gathered = dist.all_gather(cupy.asarray(shards[rank]))
    assert np.array_equal(cupy.asnumpy(gathered), np.stack(shards))
    ddp = dist.DistributedDataParallel(small_convnet().to("cuda"), bucket_cap_mb=0.001)
    host = small_convnet()
    host.load_state_dict(ddp.module.state_dict())
    x, y = batches(1, 16 * world)[0]
    mine = slice(rank * 16, (rank + 1) * 16)
    F.cross_entropy(ddp(dlcore.from_numpy(x[mine]).to("cuda")), dlcore.from_numpy(y[mine]).to("cuda")).backward()
    per_shard = [grads_of(host, x[r * 16:(r + 1) * 16], y[r * 16:(r + 1) * 16]) for r in range(world)]
    for p, *gs in zip(ddp.parameters(), *per_shard):
        np.testing.assert_allclose(cupy.asnumpy(p.grad._data), sum(gs) / world, rtol=1e-4, atol=1e-5)
    ok("cuda")


def main():
    mode = sys.argv[1]
    dist.init(device="cuda" if mode == "cuda" else "cpu")
    if mode == "core":
        check_threads()
        check_collectives()
        check_sampler()
        check_ddp(bucket_cap_mb=25)
        check_ddp(bucket_cap_mb=0.001)     # ~1 KB buckets: several all-reduces in flight during backward
        check_no_sync()
        check_pace()
        check_unused_parameters()
        check_sync_batchnorm()
        check_sync_batchnorm_output()
        check_checkpoint(sys.argv[2])
    elif mode == "cuda":
        check_cuda()
    elif mode == "fail":
        if dist.get_rank() == 1:
            raise ValueError("rank 1 fails on purpose")
        dist.barrier()                     # rank 0 would wait here forever without the abort
        raise AssertionError("rank 0 passed a barrier that rank 1 never reached")
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
