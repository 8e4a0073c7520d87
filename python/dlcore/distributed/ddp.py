"""DistributedDataParallel: one model replica per rank, gradients averaged over ranks during backward.

How it works (PyTorch DDP's design, on MPI):

* At construction rank 0's parameters and buffers are broadcast, so every
  replica starts equal (and the ranks are checked to hold the same parameter
  shapes). The parameters are packed, in reverse order (the order backward
  produces their gradients), into buckets of at most ``bucket_cap_mb``; each
  bucket owns one flat array.
* Each parameter has a post-accumulate-grad hook. When backward has finished
  a parameter's gradient, the hook copies it into its slot of the bucket and
  makes ``.grad`` a view of that slot (PyTorch's ``gradient_as_bucket_view``:
  no copy back afterwards); when the bucket's last gradient arrives the
  bucket's all-reduce starts, non-blocking (``MPI_Iallreduce`` straight on the
  bucket's NumPy memory; NCCL for CuPy arrays), while backward goes on with
  the layers below. The hooks also poke the reductions in flight (``Test``)
  so they progress.
* When the last bucket has started (the first layers' gradients are the last
  ones backward produces), DDP waits for all of them and divides each
  bucket by the world size in place, which averages every ``.grad`` at once,
  all before ``backward()`` returns, so ``optimizer.step()`` sees averaged
  gradients. A model that fits one bucket (LeNet-5: 241 KB) costs one
  all-reduce per step and no per-parameter work after it.
* The last bucket's all-reduce is blocking (``MPI_Allreduce``) while the ranks
  keep pace: nothing is left to overlap it with, and Open MPI's blocking
  algorithm is faster than its non-blocking one (241 KB between 2 ranks of
  one machine: 106 vs 205 us). But a blocking wait spins: on a loaded machine
  a rank spinning for a descheduled peer takes CPU the peer needs. So once a
  rank's last reduction took over 1 ms (a peer was late), the next
  ``POLITE_STEPS`` steps of every rank use the non-blocking all-reduce and a
  waiting loop that sleeps; always so with more ranks than cores. All ranks
  must choose alike (a blocking and a non-blocking collective do not match):
  each rank's "I waited long" flag rides in one extra element of the last
  bucket's all-reduce, so every rank sees the same sum and makes the same
  choice.
* Because ``.grad`` is a view of the bucket, the next synchronized backward
  overwrites a ``.grad`` kept from the previous step: ``.clone()`` it to keep it.
* ``no_sync()`` skips all of that: gradients accumulate locally (gradient
  accumulation); the first backward outside it reduces the sum.

BatchNorm: each rank normalizes with its own batch's statistics and updates
its own running mean/variance. With ``broadcast_buffers=True`` (default, as
PyTorch) rank 0's buffers are copied to every rank at each training forward,
so all replicas evaluate with rank 0's running statistics (which is what a
rank-0 checkpoint saves). For statistics over the global batch, convert the
model with ``SyncBatchNorm.convert_sync_batchnorm(model)``.
"""
from __future__ import annotations

import contextlib
import time

import numpy as np

from .._device import is_cuda_array
from ..nn.module import Module
from ..tensor import Tensor
from . import process_group as pg


class _Bucket:
    """Gradients of consecutive parameters (in backward order) reduced with one all-reduce."""

    def __init__(self, params, xp, extra=0):
        self.params = params
        sizes = [p.numel() for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
        self.buffer = xp.zeros(self.offsets[-1] + extra, dtype=params[0].dtype)  # extra: after the gradients
        self.slot = {id(p): i for i, p in enumerate(params)}
        self.views = [self.view(i) for i in range(len(params))]  # each parameter's .grad once it has arrived
        self.ready, self.work, self.counted = 0, None, set()

    def view(self, i):
        return self.buffer[self.offsets[i]:self.offsets[i + 1]].reshape(self.params[i].shape)

    def nbytes(self):
        return self.offsets[-1] * self.buffer.itemsize


class DistributedDataParallel(Module):
    """Wraps `module` for data-parallel training over the ranks of ``dlcore.distributed``.

    Args:
        module: the model (the same architecture on every rank).
        bucket_cap_mb: the most gradient megabytes (MiB) one all-reduce carries (PyTorch's 25 by default).
        broadcast_buffers: copy rank 0's buffers (BatchNorm running statistics) to all ranks before each
            training-mode forward.
        find_unused_parameters: after each forward, find the parameters the output does not depend on and
            count them as ready (their gradient, or zeros, joins the reduction), so models whose forward skips
            parameters do not leave a bucket waiting forever.

    Move the model to its device before wrapping it (the buckets are allocated there).

    Example (run with ``mpirun -np 2 python train.py``)::

        dist.init()
        model = dist.DistributedDataParallel(lenet5())
        opt = optim.SGD(model.parameters(), lr=0.05)
        loader = DataLoader(train_set, batch_size=32, sampler=DistributedSampler(train_set))
        for x, y in loader:
            opt.zero_grad(); F.cross_entropy(model(x), y).backward(); opt.step()

    ``timings`` holds seconds spent, since construction (or ``reset_timings()``), waiting for
    all-reduces (``wait_s``) and copying gradients in and out of the buckets (``copy_s``).
    """

    def __init__(self, module, bucket_cap_mb=25, broadcast_buffers=True, find_unused_parameters=False):
        super().__init__()
        st = pg._require()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a dlcore.nn.Module, got {type(module).__name__}")
        if not bucket_cap_mb > 0:
            raise ValueError(f"bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module = module
        self.world_size = st.world_size
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self._sync = True
        self.reset_timings()
        params = [p for p in module.parameters() if p.requires_grad]
        self._check_same_model(st, module)
        for t in list(module.parameters()) + list(module.buffers()):
            pg.broadcast(t._data, src=0)
        self._buckets = self._make_buckets(params, bucket_cap_mb * 2 ** 20)
        self._bucket_of = {id(p): b for b in self._buckets for p in b.params}
        self._in_flight = []  # buckets whose all-reduce has started, in start order
        self._block_last = st.world_size > 1 and pg.ranks_have_own_cores()
        self._polite_steps = 0  # steps left that wait politely (a peer was late recently); equal on all ranks
        self._handles = [p.register_post_accumulate_grad_hook(self._grad_ready) for p in params]

    # ---- construction -------------------------------------------------------------
    @staticmethod
    def _check_same_model(st, module):
        mine = [(name, tuple(t.shape), str(t.dtype)) for name, t in module.state_dict().items()]
        if st.world_size == 1:
            return
        everyone = st.comm.allgather(mine)
        for rank, theirs in enumerate(everyone):
            if theirs != mine:
                diff = next((f"{a} vs {b}" for a, b in zip(mine, theirs) if a != b),
                            f"{len(mine)} vs {len(theirs)} entries")
                raise ValueError(f"DistributedDataParallel: rank {st.rank}'s model differs from rank {rank}'s "
                                 f"({diff}); every rank must build the same model")

    @staticmethod
    def _make_buckets(params, cap_bytes):
        buckets, current = [], []
        for p in reversed(params):  # backward produces the last layers' gradients first
            if not p._data.flags.c_contiguous:
                raise ValueError(f"DistributedDataParallel: a parameter of shape {p.shape} is not C-contiguous")
            if current and (p.dtype != current[0].dtype or p.device != current[0].device
                            or sum(q._data.nbytes for q in current) + p._data.nbytes > cap_bytes):
                buckets.append(current)
                current = []
            current.append(p)
        if current:
            buckets.append(current)
        # the last bucket carries one more element: the ranks' "waited long" flags (see _finish)
        return [_Bucket(b, _array_module(b[0]._data), extra=int(i == len(buckets) - 1)) for i, b in enumerate(buckets)]

    @property
    def bucket_sizes(self):
        """Bytes of gradient in each bucket, in the order their all-reduces start."""
        return [b.nbytes() for b in self._buckets]

    def reset_timings(self):
        self.timings = {"wait_s": 0.0, "copy_s": 0.0}

    # ---- forward --------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        if self._sync and any(b.ready for b in self._buckets):
            missing = [name for name, p in self.module.named_parameters()
                       if id(p) in self._bucket_of and not self._was_counted(p)]
            self._reset()
            raise RuntimeError(
                "DistributedDataParallel: the previous backward produced no gradient for parameters "
                f"{missing}, so their buckets were never reduced (the gradients are not averaged). If the "
                "model's forward skips parameters, pass find_unused_parameters=True (on every rank)")
        if self.broadcast_buffers and self.training and self.world_size > 1:
            for b in self.module.buffers():
                pg.broadcast(b._data, src=0)
        out = self.module(*args, **kwargs)
        if self.find_unused_parameters and self._sync and any(t.requires_grad for t in _tensors_in(out)):
            self._mark_unused(out)  # only when a backward can follow (not under no_grad)
        return out

    def _was_counted(self, p):
        bucket = self._bucket_of[id(p)]
        return bucket.slot[id(p)] in bucket.counted

    def _mark_unused(self, out):
        from ..autograd.function import _topological_order

        reached = set()
        for t in _tensors_in(out):
            if t.requires_grad:
                reached.update(id(x) for x in _topological_order(t))
        for b in self._buckets:
            for p in b.params:
                if id(p) not in reached:
                    if p.grad is None:
                        p.grad = Tensor(_array_module(p._data).zeros_like(p._data))
                    self._grad_ready(p)

    # ---- the gradient hook ------------------------------------------------------------
    def _grad_ready(self, p):
        if not self._sync:
            return
        start = time.perf_counter()
        bucket = self._bucket_of[id(p)]
        i = bucket.slot[id(p)]
        if i in bucket.counted:
            raise RuntimeError("DistributedDataParallel: a parameter's gradient arrived twice before its bucket "
                               "was reduced (backward through a forward that DDP did not see?)")
        view, grad = bucket.views[i], p.grad
        if grad._data is not view:
            view[...] = grad._data
            grad._data = view  # .grad becomes its slot of the bucket: averaged there, no copy back
        bucket.counted.add(i)
        bucket.ready += 1
        self.timings["copy_s"] += time.perf_counter() - start
        if bucket.ready == len(bucket.params):
            self._in_flight.append(bucket)
            if len(self._in_flight) == len(self._buckets):  # the last bucket: reduce it now, then finish
                start = time.perf_counter()
                bucket.work = pg.all_reduce(bucket.buffer, async_op=not self._block_last or self._polite_steps > 0)
                self.timings["wait_s"] += time.perf_counter() - start
                self._finish(start)
                return
            bucket.work = pg.all_reduce(bucket.buffer, async_op=True)
        for b in self._in_flight:  # move the started reductions forward (MPI progresses inside MPI calls)
            b.work.is_completed()

    # A last reduction slower than this means a peer was late: wait politely for the next POLITE_STEPS steps.
    LATE_S, POLITE_STEPS = 1e-3, 50

    def _finish(self, last_started):
        start = time.perf_counter()
        for b in self._in_flight:
            if isinstance(b.work, pg.Work):
                b.work.wait()
        waited = time.perf_counter() - start
        flags = self._buckets[-1].buffer  # its extra last element: the sum of the ranks' flags
        if float(flags[-1]) > 0:  # some rank waited long at the previous step: the same sum on every rank,
            self._polite_steps = self.POLITE_STEPS  # so all choose alike
        elif self._polite_steps > 0:
            self._polite_steps -= 1
        for b in self._in_flight:
            if self.world_size > 1:
                b.buffer /= self.world_size  # every .grad of the bucket is a view of it: all averaged here
        flags[-1] = float(start + waited - last_started > self.LATE_S)  # this rank's flag, sent next step
        self.timings["wait_s"] += waited
        self.timings["copy_s"] += time.perf_counter() - start - waited
        self._reset()

    def _reset(self):
        for b in self._buckets:
            b.ready, b.work, b.counted = 0, None, set()
        self._in_flight = []

    # ---- gradient accumulation --------------------------------------------------------
    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside accumulate gradients locally without reducing them (the next one outside does)."""
        previous = self._sync
        self._sync = False
        try:
            yield
        finally:
            self._sync = previous

    def extra_repr(self):
        return f"world_size={self.world_size}, buckets={len(self._buckets)}"


def _array_module(a):
    if is_cuda_array(a):
        import cupy

        return cupy
    return np


def _tensors_in(out):
    if isinstance(out, Tensor):
        yield out
    elif isinstance(out, (list, tuple)):
        for o in out:
            yield from _tensors_in(o)
    elif isinstance(out, dict):
        for o in out.values():
            yield from _tensors_in(o)
