"""Collectives on CuPy arrays: NCCL through CuPy (``cupy.cuda.nccl``), as ChainerMN does.

Rank 0 makes an NCCL unique id and sends it to the others over MPI; each rank
then joins the NCCL communicator with its MPI rank. Each collective is
enqueued on CuPy's current stream, after the kernels that produced its input
(dlcore's CUDA kernels run on that stream too), so it is asynchronous like a
CuPy op and later kernels on the stream see its result. One GPU per rank:
``init(device="cuda")`` makes GPU ``local_rank`` current.

Not run here (the development machine has no GPU); the tests skip without one.
"""
from __future__ import annotations

import numpy as np

from .._backends import BackendUnavailableError

_group = None


def _nccl():
    try:
        import cupy
        from cupy.cuda import nccl
    except ImportError as exc:
        raise BackendUnavailableError(f"collectives on CUDA tensors need CuPy with NCCL: pip install "
                                      f"\"dlcore[cuda]\" ({exc})") from exc
    if not getattr(nccl, "available", True):
        raise BackendUnavailableError("collectives on CUDA tensors need NCCL, which this CuPy was built without")
    return cupy, nccl


def select_device(local_rank):
    """Makes GPU local_rank (mod the GPUs present) CuPy's current device: one GPU per rank."""
    cupy, _ = _nccl()
    count = cupy.cuda.runtime.getDeviceCount()
    if count == 0:
        raise BackendUnavailableError("init(device='cuda'): no GPU is visible to this rank")
    cupy.cuda.Device(local_rank % count).use()


class NcclGroup:
    """An NCCL communicator over the same ranks as the MPI one."""

    def __init__(self, comm):
        cupy, nccl = _nccl()
        self.cupy, self.nccl = cupy, nccl
        uid = nccl.get_unique_id() if comm.Get_rank() == 0 else None
        uid = comm.bcast(uid, root=0)
        self.comm = nccl.NcclCommunicator(comm.Get_size(), uid, comm.Get_rank())
        self.dtypes = {np.dtype(np.float32): nccl.NCCL_FLOAT32, np.dtype(np.float64): nccl.NCCL_FLOAT64,
                       np.dtype(np.int32): nccl.NCCL_INT32, np.dtype(np.int64): nccl.NCCL_INT64,
                       np.dtype(np.uint8): nccl.NCCL_UINT8, np.dtype(np.int8): nccl.NCCL_INT8}
        self.ops = {"sum": nccl.NCCL_SUM, "prod": nccl.NCCL_PROD, "max": nccl.NCCL_MAX, "min": nccl.NCCL_MIN}

    def _stream(self):
        return self.cupy.cuda.get_current_stream().ptr

    def all_reduce(self, a, op):
        self.comm.allReduce(a.data.ptr, a.data.ptr, a.size, self.dtypes[a.dtype], self.ops[op], self._stream())

    def broadcast(self, a, root):
        self.comm.bcast(a.data.ptr, a.size, self.dtypes[a.dtype], root, self._stream())

    def all_gather(self, a, out):
        self.comm.allGather(a.data.ptr, out.data.ptr, a.size, self.dtypes[a.dtype], self._stream())


def group():
    """The job's NCCL group, made (collectively: every rank must get here) at the first CUDA collective."""
    global _group
    if _group is None:
        from .process_group import _require

        _group = NcclGroup(_require().comm)
    return _group
