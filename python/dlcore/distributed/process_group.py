"""The process group: MPI through mpi4py, collectives on NumPy arrays and Tensors.

Every process of an MPI job (``mpirun -np N python ...``) calls ``init()``
once; rank, world size and local rank come from MPI (``COMM_WORLD`` and its
shared-memory split), so any MPI launcher works: Open MPI's ``mpirun``,
MPICH/Intel MPI's ``mpiexec``, Slurm's ``srun --mpi=pmix``.

Collectives work in place on C-contiguous NumPy arrays through the buffer
protocol (no copy: MPI reads and writes the array's memory) and on Tensors
(their ``.data``). CuPy arrays (``device="cuda"``) go through NCCL instead
(``nccl.py``). mpi4py is imported only by ``init()``: importing it starts MPI.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback

import numpy as np

from .._device import is_cuda_array

INSTALL_HINT = ('dlcore.distributed needs mpi4py and an MPI library: pip install "dlcore[mpi]" '
                "(mpi4py plus Open MPI from PyPI), or mpi4py built against your system MPI")

#: dtypes the collectives accept (MPI has a matching predefined datatype for each).
DTYPES = tuple(np.dtype(t) for t in (np.float32, np.float64, np.int32, np.int64, np.uint8, np.int8))
OPS = ("sum", "mean", "max", "min", "prod")


class _State:
    MPI = None          # the mpi4py.MPI module once init() ran
    comm = None         # the communicator of the job (COMM_WORLD unless init(comm=...))
    local_comm = None   # the ranks on this machine (MPI shared-memory split)
    rank, world_size, local_rank, local_size = 0, 1, 0, 1
    own_cores = True    # no more ranks on this machine than the cores they may use (set by init)
    nccl = None         # nccl.NcclGroup, made at the first collective on a CuPy array


_state = _State()


def import_mpi():
    """mpi4py.MPI (importing it initializes MPI); ImportError saying what to install when it is missing."""
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError(f"{INSTALL_HINT} ({exc})") from exc
    return MPI


def is_available() -> bool:
    """True when mpi4py can be imported (without importing it, which would start MPI)."""
    import importlib.util

    try:
        return importlib.util.find_spec("mpi4py") is not None
    except (ImportError, ValueError):
        return False


def is_initialized() -> bool:
    return _state.comm is not None


def _require():
    if _state.comm is None:
        raise RuntimeError("dlcore.distributed is not initialized: call dlcore.distributed.init() first "
                           "(in every process of the MPI job)")
    return _state


def init(num_threads="auto", abort_on_exception=True, device="cpu", comm=None):
    """Joins the MPI job: sets rank, world size and local rank; returns None. Call once per process.

    Args:
        num_threads: dlcore's OpenMP threads in this rank. "auto" (default) divides the cores
            this rank may run on (``os.sched_getaffinity``, which the launcher's binding sets:
            Open MPI binds each rank to one core when there are no more ranks than cores) by
            the number of ranks on this machine that share them, at least 1; so under
            ``mpirun -np 2`` on 2 cores each rank runs 1 thread, bound or not. ``OMP_NUM_THREADS``
            in the environment wins over "auto"; an int sets it; None leaves it alone.
        abort_on_exception: an uncaught exception in any rank prints its traceback, then calls
            ``MPI.COMM_WORLD.Abort(1)``, which ends every rank of the job within seconds (without
            it, the other ranks would wait forever in their next collective).
        device: "cuda" makes the GPU numbered local_rank (mod the GPUs present) CuPy's current
            device, one GPU per rank; "cpu" does nothing.
        comm: an mpi4py communicator to use instead of ``MPI.COMM_WORLD``.
    """
    MPI = import_mpi()
    if _state.comm is not None:
        raise RuntimeError("dlcore.distributed.init() was already called in this process")
    comm = MPI.COMM_WORLD if comm is None else comm
    local = comm.Split_type(MPI.COMM_TYPE_SHARED, key=comm.Get_rank())
    _state.MPI, _state.comm, _state.local_comm = MPI, comm, local
    _state.rank, _state.world_size = comm.Get_rank(), comm.Get_size()
    _state.local_rank, _state.local_size = local.Get_rank(), local.Get_size()
    _state.own_cores = comm.allreduce(_own_cores(local), op=MPI.LAND)  # the same on every rank (see ddp)
    if num_threads == "auto":
        if "OMP_NUM_THREADS" not in os.environ:
            _set_threads(threads_for_this_rank(local))
    elif num_threads is not None:
        _set_threads(int(num_threads))
    if abort_on_exception:
        _install_abort_hook()
    if device == "cuda":
        from .nccl import select_device

        select_device(_state.local_rank)
    elif device != "cpu":
        raise ValueError(f"init: device must be 'cpu' or 'cuda', got {device!r}")


@contextlib.contextmanager
def _use_comm(comm):
    """Internal (the scaling benchmark): collectives and DDP run over `comm`, a sub-communicator, inside."""
    st = _require()
    saved = (st.comm, st.rank, st.world_size)
    st.comm, st.rank, st.world_size = comm, comm.Get_rank(), comm.Get_size()
    try:
        yield
    finally:
        st.comm, st.rank, st.world_size = saved


def _set_threads(n):
    from .._backends import set_num_threads

    set_num_threads(max(1, n))


def threads_for_this_rank(local_comm):
    """Cores this rank may use / ranks on this machine whose core sets overlap it (at least 1).

    Bound ranks (Open MPI's default with no more ranks than cores) see their own core(s) and share
    them with nobody; unbound ranks (``--bind-to none``, ``--oversubscribe``) all see every core
    and split them evenly.
    """
    try:
        mine = set(os.sched_getaffinity(0))
    except AttributeError:  # not Linux: no affinity, split the machine evenly
        return max(1, (os.cpu_count() or 1) // local_comm.Get_size())
    others = local_comm.allgather(sorted(mine))
    sharing = sum(1 for cores in others if mine & set(cores))
    return max(1, len(mine) // max(sharing, 1))


def ranks_have_own_cores():
    """True when this machine's ranks are no more than the cores they may run on (not oversubscribed,
    found by init()). Then a rank may busy-wait in a blocking collective without taking a core from a
    peer it waits for."""
    return bool(_require().own_cores)


def _own_cores(local_comm):
    try:
        cores = set().union(*map(set, local_comm.allgather(sorted(os.sched_getaffinity(0)))))
    except AttributeError:  # not Linux: no affinity
        return local_comm.Get_size() <= (os.cpu_count() or 1)
    return local_comm.Get_size() <= len(cores)


def _install_abort_hook():
    previous = sys.excepthook

    def abort_job(kind, value, tb):
        if kind is KeyboardInterrupt and _state.world_size == 1:
            return previous(kind, value, tb)
        message = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(f"[rank {_state.rank}/{_state.world_size}] uncaught exception, aborting the MPI job:\n"
                         f"{message}")
        sys.stderr.flush()
        sys.stdout.flush()
        _state.MPI.COMM_WORLD.Abort(1)

    sys.excepthook = abort_job


def abort(errorcode=1):
    """Ends every rank of the job now (``MPI.COMM_WORLD.Abort``)."""
    _require().MPI.COMM_WORLD.Abort(int(errorcode))


def get_rank() -> int:
    """This process's rank in the job (0 when not initialized: a single process is rank 0 of 1)."""
    return _state.rank


def get_world_size() -> int:
    """The number of processes in the job (1 when not initialized)."""
    return _state.world_size


def get_local_rank() -> int:
    """This process's rank among those on the same machine (selects its GPU)."""
    return _state.local_rank


def get_local_size() -> int:
    return _state.local_size


def barrier(poll_s=0.0005):
    """Waits until every rank has reached the barrier.

    Polls a non-blocking barrier with short sleeps rather than blocking in ``MPI_Barrier``, which
    busy-spins in Open MPI: a rank waiting for rank 0 to write a checkpoint then leaves its core
    (and the others on a loaded machine) to real work.
    """
    st = _require()
    if st.world_size > 1:
        wait_politely(st.comm.Ibarrier(), poll_s)


def wait_politely(request, poll_s=0.0005, spin_s=0.0, max_sleep_s=None):
    """Waits for an MPI request: tests it in a loop for spin_s, then between sleeps growing to max_sleep_s
    (default 20 x poll_s), instead of spinning in MPI_Wait, which keeps the core busy however long it takes."""
    if spin_s > 0:
        end = time.perf_counter() + spin_s
        while time.perf_counter() < end:
            if request.Test():
                return
    delay, longest = poll_s / 8, poll_s * 20 if max_sleep_s is None else max_sleep_s
    while not request.Test():
        time.sleep(delay)
        delay = min(delay * 2, longest)


# ---- collectives ----------------------------------------------------------------------------
class Work:
    """A started collective (``async_op=True``): ``wait()`` finishes it and returns its result.

    ``wait()`` spins on the request for up to 0.5 ms (an all-reduce of a few MB between ranks of
    one machine takes less), then tests it between sleeps of at most 0.5 ms: a rank waiting for a
    slower one (descheduled on a loaded machine) does not burn its core meanwhile.
    """

    SPIN_S, MAX_SLEEP_S = 0.0005, 0.0005

    def __init__(self, request, finish, result):
        self._request, self._finish, self._result = request, finish, result

    def is_completed(self) -> bool:
        if self._request is not None and self._request.Test():
            self._request = None
        return self._request is None

    def wait(self):
        if self._request is not None:
            wait_politely(self._request, poll_s=0.00005, spin_s=self.SPIN_S, max_sleep_s=self.MAX_SLEEP_S)
            self._request = None
        if self._finish is not None:
            self._finish()
            self._finish = None
        return self._result


def _array_of(x, what):
    """(array, wrap): the NumPy/CuPy array behind x, and a function giving back x's kind of object."""
    from ..tensor import Tensor

    if isinstance(x, Tensor):
        return x._data, lambda a: Tensor(a)
    if isinstance(x, np.ndarray) or is_cuda_array(x):
        return x, lambda a: a
    raise TypeError(f"{what}: expected a dlcore Tensor, NumPy array or CuPy array, got {type(x).__name__}")


def _check_buffer(a, what):
    if a.dtype not in DTYPES:
        raise TypeError(f"{what}: dtype {a.dtype} is not supported (use one of {', '.join(map(str, DTYPES))})")
    if not a.flags.c_contiguous:
        raise ValueError(f"{what}: the array of shape {a.shape} must be C-contiguous (collectives work in place "
                         "on its memory; pass np.ascontiguousarray(x) and use the result)")
    if not getattr(a.flags, "writeable", True):  # CuPy arrays are always writeable (no such flag)
        raise ValueError(f"{what}: the array is read-only; collectives write their result into it")


def _mpi_op(op, dtype, what):
    MPI = _state.MPI
    if op not in OPS:
        raise ValueError(f"{what}: op must be one of {OPS}, got {op!r}")
    if op == "mean" and dtype.kind != "f":
        raise TypeError(f"{what}: op='mean' needs a floating-point array, got {dtype}")
    return {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN, "prod": MPI.PROD}[op]


def all_reduce(x, op="sum", async_op=False):
    """Reduces x over all ranks, in place: afterwards every rank holds the sum (or mean, max, min, prod).

    x: a Tensor or a C-contiguous NumPy array (CuPy arrays go through NCCL) of the same shape and
    dtype on every rank. Returns x, or with ``async_op=True`` a ``Work`` whose ``wait()`` returns x
    (MPI_Iallreduce: the reduction proceeds while this rank computes; MPI moves it forward whenever
    this rank calls into MPI, e.g. ``work.is_completed()``).
    """
    st = _require()
    a, _ = _array_of(x, "all_reduce")
    _check_buffer(a, "all_reduce")
    mpi_op = _mpi_op(op, a.dtype, "all_reduce")
    finish = (lambda: np.divide(a, st.world_size, out=a, casting="unsafe")) if op == "mean" else None
    if is_cuda_array(a):
        from .nccl import group

        group().all_reduce(a, "sum" if op == "mean" else op)
        return _done(finish, x, async_op)
    if st.world_size == 1:
        return _done(finish, x, async_op)
    if async_op:
        return Work(st.comm.Iallreduce(st.MPI.IN_PLACE, a, op=mpi_op), finish, x)
    st.comm.Allreduce(st.MPI.IN_PLACE, a, op=mpi_op)
    return _done(finish, x, False)


def _done(finish, result, async_op):
    if async_op:
        return Work(None, finish, result)
    if finish is not None:
        finish()
    return result


def broadcast(x, src=0, async_op=False):
    """Copies rank `src`'s x into x on every other rank, in place; returns x (or a Work)."""
    st = _require()
    a, _ = _array_of(x, "broadcast")
    _check_buffer(a, "broadcast")
    if not 0 <= src < st.world_size:
        raise ValueError(f"broadcast: src={src} is not a rank of this job (world size {st.world_size})")
    if is_cuda_array(a):
        from .nccl import group

        group().broadcast(a, src)
        return _done(None, x, async_op)
    if st.world_size == 1:
        return _done(None, x, async_op)
    if async_op:
        return Work(st.comm.Ibcast(a, root=src), None, x)
    st.comm.Bcast(a, root=src)
    return x


def all_gather(x, out=None):
    """Every rank's x stacked in rank order: shape (world_size, *x.shape), the kind of object x is.

    `out`, when given, is a C-contiguous array of that shape and dtype that receives the result.
    """
    st = _require()
    a, wrap = _array_of(x, "all_gather")
    _check_buffer(a, "all_gather")
    shape = (st.world_size,) + tuple(a.shape)
    if out is None:
        out = (np if not is_cuda_array(a) else _cupy()).empty(shape, dtype=a.dtype)
        result = wrap(out)
    else:
        result = out
        out, _ = _array_of(out, "all_gather out")
        _check_buffer(out, "all_gather out")
        if tuple(out.shape) != shape or out.dtype != a.dtype:
            raise ValueError(f"all_gather: out must have shape {shape} and dtype {a.dtype}, "
                             f"got {tuple(out.shape)} {out.dtype}")
    if is_cuda_array(a):
        from .nccl import group

        group().all_gather(a, out)
    elif st.world_size == 1:
        out[0] = a
    else:
        st.comm.Allgather(a, out)
    return result


def _cupy():
    import cupy

    return cupy


def all_reduce_scalars(values, op="sum"):
    """Python numbers reduced over ranks (float64): a list in, a list out. For metrics and counts."""
    array = np.asarray(values, dtype=np.float64).reshape(-1).copy()
    if is_initialized():
        all_reduce(array, op)
    return array.tolist()
