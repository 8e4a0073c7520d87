"""dlcore.distributed: data-parallel training over MPI (mpi4py), from two processes on one machine to many.

    mpirun -np 2 python train.py                # Open MPI; as root add --allow-run-as-root

    import dlcore.distributed as dist
    dist.init()                                  # rank, world size, local rank from the MPI launcher
    model = dist.DistributedDataParallel(model)  # gradients averaged over ranks during backward
    sampler = dlcore.data.DistributedSampler(train_set)

Importing this module never imports mpi4py (importing mpi4py starts MPI);
``init()`` does, and raises ImportError saying what to install when it is
missing (``pip install "dlcore[mpi]"``). ``is_available()`` says whether it is.
"""
from .process_group import (
    INSTALL_HINT,
    Work,
    abort,
    all_gather,
    all_reduce,
    all_reduce_scalars,
    barrier,
    broadcast,
    get_local_rank,
    get_local_size,
    get_rank,
    get_world_size,
    init,
    is_available,
    is_initialized,
)


def __getattr__(name):
    # DistributedDataParallel and SyncBatchNorm import dlcore.nn; load them on first use
    if name in ("DistributedDataParallel", "DDP"):
        from .ddp import DistributedDataParallel

        return DistributedDataParallel
    if name == "SyncBatchNorm":
        from .sync_batchnorm import SyncBatchNorm

        return SyncBatchNorm
    raise AttributeError(f"module 'dlcore.distributed' has no attribute {name!r}")


__all__ = ["INSTALL_HINT", "DistributedDataParallel", "SyncBatchNorm", "Work", "abort", "all_gather", "all_reduce",
           "all_reduce_scalars", "barrier", "broadcast", "get_local_rank", "get_local_size", "get_rank",
           "get_world_size", "init", "is_available", "is_initialized"]
