"""Dataset, IterableDataset, TensorDataset, Subset, ConcatDataset, random_split, samplers (weighted too),
default_collate and the DataLoader."""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .._device import array_to, module_for_device, parse_device
from ..random import default_generator
from ..tensor import Tensor


class Dataset:
    """A sized, indexable collection of samples.

    Subclasses implement ``__len__`` and ``__getitem__(i)``; they may also
    implement ``get_batch(indices)`` returning whole arrays for a batch, which
    the DataLoader then uses instead of stacking samples one by one.
    """

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (the DataLoader's samplers need the "
                                  f"number of samples)")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


class IterableDataset(Dataset):
    """A stream of samples (``__iter__``) instead of an indexable collection: the DataLoader batches what
    it yields, in order (no sampler, no shuffle). Subclasses implement ``__iter__``."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __len__(self):  # a TypeError, as len() of anything unsized (list(loader) asks for a length hint)
        raise TypeError(f"{type(self).__name__} is an IterableDataset without __len__")

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate over it, it has no __getitem__")


class TensorDataset(Dataset):
    """Samples are the i-th rows of the given arrays/tensors (same first dimension), as a tuple of Tensors
    (torch's); the DataLoader takes whole batches at once (``get_batch``)."""

    def __init__(self, *arrays, transform=None):
        arrays = [a.numpy() if isinstance(a, Tensor) else np.asarray(a) for a in arrays]
        if not arrays or any(len(a) != len(arrays[0]) for a in arrays):
            raise ValueError(f"TensorDataset: arrays must share their first dimension, got "
                             f"{[a.shape for a in arrays]}")
        self.arrays, self.transform = arrays, transform

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(x if isinstance(x, Tensor) else Tensor(np.asarray(x)) for x in self._sample(index))

    def _sample(self, index):
        items = [a[index] for a in self.arrays]
        if self.transform is not None:
            items[0] = self.transform(items[0])
        return items

    def get_batch(self, indices):
        items = [a[indices] for a in self.arrays]
        if self.transform is not None:
            items[0] = self.transform(items[0])
        return tuple(items)


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, [int(i) for i in indices]

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[self.indices[index]]

    def __getattr__(self, name):  # get_batch only when the underlying dataset has one
        if name == "get_batch" and hasattr(self.dataset, "get_batch"):
            return lambda indices: self.dataset.get_batch(np.asarray(self.indices)[np.asarray(indices)])
        raise AttributeError(name)


class ChainDataset(IterableDataset):
    """Several iterable datasets streamed one after the other (torch.utils.data.ChainDataset)."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset parts, got {type(d).__name__}")

    def __iter__(self):
        for d in self.datasets:
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)


class StackDataset(Dataset):
    """Samples of several equal-length datasets side by side: positional (a tuple per index) or keyword
    (a dict per index), as torch.utils.data.StackDataset."""

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("StackDataset: give the datasets positionally or as keywords, not both")
        self.datasets = args or kwargs
        parts = list(args) or list(kwargs.values())
        if not parts:
            raise ValueError("StackDataset: at least one dataset is needed")
        self._length = len(parts[0])
        if any(len(d) != self._length for d in parts):
            raise ValueError("StackDataset: the datasets must have the same length")

    def __len__(self):
        return self._length

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)


class ConcatDataset(Dataset):
    """The samples of several datasets one after the other (index i of the whole maps into one part)."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        if any(isinstance(d, IterableDataset) for d in self.datasets):
            raise TypeError("ConcatDataset does not support IterableDataset parts")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]))

    def __len__(self):
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, index):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ConcatDataset index {index} out of range for length {n}")
        index %= n
        part = int(np.searchsorted(self.cumulative_sizes, index, side="right"))
        start = int(self.cumulative_sizes[part - 1]) if part else 0
        return self.datasets[part][index - start]


def random_split(dataset, lengths, generator=None):
    """Splits `dataset` into Subsets of the given lengths (or fractions summing to 1), in a random order
    drawn from `generator` (a numpy Generator; default dlcore's global one)."""
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1.0):
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):  # the remainder, round-robin, as PyTorch
            counts[i % len(counts)] += 1
        lengths = counts
    if any(int(x) != x or x < 0 for x in lengths) or sum(lengths) != n:
        raise ValueError(f"random_split: lengths {lengths} must be non-negative integers summing to the "
                         f"dataset's length {n} (or fractions summing to 1)")
    order = (generator or default_generator()).permutation(n)
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, order[start:start + int(length)]))
        start += int(length)
    return out


# ---- samplers ------------------------------------------------------------------------------
class Sampler:
    """An iterable of dataset indices (one pass = one epoch)."""

    def __iter__(self):  # pragma: no cover - abstract
        raise NotImplementedError


class SequentialSampler(Sampler):
    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A new permutation each pass, from `generator` (a numpy Generator; default dlcore's global one)."""

    def __init__(self, data_source, generator=None):
        self.data_source, self.generator = data_source, generator

    def __iter__(self):
        return iter((self.generator or default_generator()).permutation(len(self.data_source)).tolist())

    def __len__(self):
        return len(self.data_source)


class SubsetRandomSampler(Sampler):
    """The given indices in a new random order each pass."""

    def __init__(self, indices, generator=None):
        self.indices, self.generator = list(indices), generator

    def __iter__(self):
        order = (self.generator or default_generator()).permutation(len(self.indices))
        return iter([self.indices[i] for i in order])

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """num_samples indices drawn with probability proportional to `weights` (with or without replacement),
    e.g. to balance classes: weights = 1 / count(class of each sample)."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        w = np.asarray(weights.numpy() if isinstance(weights, Tensor) else weights, dtype=np.float64).reshape(-1)
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"WeightedRandomSampler: num_samples must be a positive int, got {num_samples!r}")
        if w.size == 0 or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and not all zero")
        if not replacement and num_samples > int((w > 0).sum()):
            raise ValueError(f"WeightedRandomSampler: {num_samples} samples without replacement from "
                             f"{int((w > 0).sum())} non-zero weights")
        self.weights, self.num_samples, self.replacement, self.generator = w, num_samples, bool(replacement), \
            generator

    def __iter__(self):
        gen = self.generator or default_generator()
        p = self.weights / self.weights.sum()
        picks = gen.choice(self.weights.size, self.num_samples, replace=self.replacement, p=p)
        return iter(picks.tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of `sampler` into lists of `batch_size`."""

    def __init__(self, sampler, batch_size, drop_last):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), bool(drop_last)

    def __iter__(self):
        batch = []
        for i in self.sampler:
            batch.append(int(i))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)


# ---- collation ---------------------------------------------------------------------------
def _collate_arrays(samples):
    """Samples -> one batch of the same structure with arrays (numbers, arrays, Tensors) stacked.

    Dicts collate per key, tuples/lists per position (nested to any depth), strings into lists;
    Python ints give int64, floats float64 and bools bool (as PyTorch's default_collate).
    """
    first = samples[0]
    if isinstance(first, Tensor) or isinstance(first, np.ndarray):
        return np.stack([s.numpy() if isinstance(s, Tensor) else np.asarray(s) for s in samples])
    if isinstance(first, (bool, np.bool_)):
        return np.asarray(samples, dtype=np.bool_)
    if isinstance(first, (int, np.integer)) and not isinstance(first, bool):
        return np.asarray(samples, dtype=np.asarray(first).dtype if isinstance(first, np.integer) else np.int64)
    if isinstance(first, (float, np.floating)):
        return np.asarray(samples, dtype=np.asarray(first).dtype if isinstance(first, np.floating) else np.float64)
    if isinstance(first, (str, bytes)):
        return list(samples)
    if isinstance(first, Mapping):
        for s in samples:
            if not isinstance(s, Mapping) or set(s) != set(first):
                raise TypeError(f"collate: dict samples must share their keys, got {sorted(first)} and "
                                f"{sorted(s) if isinstance(s, Mapping) else type(s).__name__}")
        return {k: _collate_arrays([s[k] for s in samples]) for k in first}
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise RuntimeError("collate: each element of a batch of sequences must have the same length")
        columns = [_collate_arrays(list(col)) for col in zip(*samples)]
        if hasattr(first, "_fields"):  # namedtuple
            return type(first)(*columns)
        return tuple(columns)
    raise TypeError(f"collate: samples must be Tensors, arrays, numbers, strings, dicts or sequences; got "
                    f"{type(first).__name__}")


def _to_tensors(batch, device="cpu"):
    """Arrays of a collated structure -> Tensors (on `device`); everything else as it is."""
    if isinstance(batch, np.ndarray):
        return Tensor(array_to(np.ascontiguousarray(batch), device))
    if isinstance(batch, Tensor):
        return batch if batch.device == device else batch.to(device)
    if isinstance(batch, dict):
        return {k: _to_tensors(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple):
        items = [_to_tensors(v, device) for v in batch]
        return type(batch)(*items) if hasattr(batch, "_fields") else tuple(items)
    return batch


def default_convert(data):
    """torch's default_convert: NumPy arrays (also inside lists, tuples, dicts) -> Tensors, nothing batched."""
    if isinstance(data, np.ndarray):
        return Tensor(np.ascontiguousarray(data))
    if isinstance(data, dict):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*[default_convert(v) for v in data])
    if isinstance(data, (list, tuple)):
        return type(data)(default_convert(v) for v in data)
    return data


def default_collate(samples):
    """PyTorch's default_collate: a list of samples -> one batch of Tensors of the same structure."""
    return _to_tensors(_collate_arrays(samples))


# ---- workers --------------------------------------------------------------------------------
class WorkerInfo:
    def __init__(self, id, num_workers, seed, dataset):
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


_worker_info = None


def get_worker_info():
    """Inside a DataLoader worker process: its WorkerInfo (id, num_workers, seed, dataset); else None."""
    return _worker_info


def _worker_loop(fetch, index_queue, result_queue, worker_id, num_workers, seed, dataset, init_fn):
    """A worker process: seeds dlcore, NumPy and `random` with seed, then fetches the batches it is sent."""
    global _worker_info
    import random as py_random
    import traceback

    from .. import random as dl_random

    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    dl_random.manual_seed(seed)
    np.random.seed(seed % 2**32)
    py_random.seed(seed)
    try:
        if init_fn is not None:
            init_fn(worker_id)
    except Exception:  # reported with the first batch
        init_error = traceback.format_exc()
    else:
        init_error = None
    while True:
        job = index_queue.get()
        if job is None:
            break
        number, indices = job
        if init_error is not None:
            result_queue.put((number, False, init_error))
            continue
        try:
            result_queue.put((number, True, fetch(indices)))
        except Exception:
            result_queue.put((number, False, f"in DataLoader worker {worker_id}:\n{traceback.format_exc()}"))


class DataLoader:
    """Iterates a dataset in batches of Tensors (PyTorch's DataLoader arguments).

    Args:
        dataset: a Dataset (or anything with ``__len__``/``__getitem__``).
        batch_size: samples per batch.
        shuffle: a new random order each epoch.
        sampler: an iterable of indices (excludes shuffle); batch_sampler: an iterable of index lists
            (excludes batch_size, shuffle, sampler, drop_last).
        num_workers: 0 loads in this process; n > 0 starts n worker processes per epoch, sends them
            batches round-robin and yields the results in order. Worker k of an epoch seeds dlcore's,
            NumPy's and ``random``'s generators with ``base_seed + k`` (base_seed drawn each epoch from
            `generator`, the `seed` stream, or dlcore's global generator), then calls ``worker_init_fn(k)``;
            ``get_worker_info()`` tells a worker who it is.
        collate_fn: list of samples -> batch (default: ``default_collate``: dicts, tuples, nesting).
        pin_memory: accepted; batches are already host memory, and copies to "cuda" are synchronous.
        drop_last: skip the last batch when it is smaller than batch_size.
        seed: makes the shuffling reproducible (epoch e uses a generator seeded
            by (seed, e)); without it (and without `generator`) dlcore's global generator is used.
        generator: a numpy Generator for the shuffling and the worker seeds (PyTorch's generator=).
        device: where the batches are delivered, "cpu" (NumPy, no copy) or
            "cuda" (each batch is assembled on the host, then copied over).
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 generator=None, prefetch_factor=None, persistent_workers=False, seed=None, device="cpu"):
        #: batch_size=None (and no batch_sampler) turns batching off: each sample comes on its own (torch)
        self.auto_batch = not (batch_size is None and batch_sampler is None)
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler excludes batch_size, shuffle, sampler and drop_last")
            batch_size = None
        elif batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 (or None: no batching), got {batch_size}")
        if isinstance(dataset, IterableDataset):
            if shuffle or sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader: an IterableDataset takes no shuffle, sampler or batch_sampler (it "
                                 "yields samples in its own order)")
            if num_workers:
                raise ValueError("DataLoader: an IterableDataset loads in this process only (num_workers=0); "
                                 "workers would each replay the whole stream")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True are mutually exclusive")
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"num_workers must be an int >= 0, got {num_workers!r}")
        if persistent_workers:
            raise NotImplementedError("DataLoader: persistent_workers=True is not supported (workers start "
                                      "each epoch)")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"generator must be a numpy.random.Generator, got {type(generator).__name__}")
        if timeout < 0:
            raise ValueError(f"timeout must be >= 0, got {timeout}")
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle, self.sampler, self.batch_sampler = bool(shuffle), sampler, batch_sampler
        self.num_workers, self.collate_fn, self.pin_memory = num_workers, collate_fn, bool(pin_memory)
        self.timeout, self.worker_init_fn, self.generator = timeout, worker_init_fn, generator
        self.prefetch_factor = 2 if prefetch_factor is None else int(prefetch_factor)
        self.drop_last, self.seed, self.epoch = bool(drop_last), seed, 0
        self.device = parse_device(device)
        module_for_device(self.device)  # no GPU: raise here, not at the first batch

    def __len__(self):
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)  # an IterableDataset: if it can
        if not self.auto_batch:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _generator(self):
        if self.generator is not None:
            return self.generator
        if self.seed is not None:
            return np.random.default_rng([self.seed, self.epoch])
        return default_generator()

    def _order(self):
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return self._generator().permutation(n)

    def _batches(self):
        """The index lists of this epoch."""
        if self.batch_sampler is not None:
            return [list(b) for b in self.batch_sampler]
        order = list(self.sampler) if self.sampler is not None else self._order()
        n = len(order)
        count = n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        return [order[b * self.batch_size:(b + 1) * self.batch_size] for b in range(count)]

    def _fetch(self, indices):
        """One batch: arrays (default collation) or whatever collate_fn returns."""
        batched = getattr(self.dataset, "get_batch", None)
        if self.collate_fn is None and batched is not None:
            return tuple(batched(np.asarray(indices, dtype=np.int64)))
        samples = [self.dataset[int(i)] for i in indices]
        return _collate_arrays(samples) if self.collate_fn is None else self.collate_fn(samples)

    def __iter__(self):
        if isinstance(self.dataset, IterableDataset):
            yield from self._iter_stream()
            return
        if not self.auto_batch:
            yield from self._iter_samples()
            return
        gen = self._generator()
        batches = self._batches()
        base_seed = int(gen.integers(0, 2**62)) if self.num_workers else None
        self.epoch += 1
        source = self._iter_workers(batches, base_seed) if self.num_workers else map(self._fetch, batches)
        for batch in source:
            yield self._deliver(batch)

    def _deliver(self, batch):
        return _to_tensors(batch, self.device) if self.collate_fn is None or self.device != "cpu" else batch

    def _iter_samples(self):
        """batch_size=None: each sample converted (arrays -> Tensors) or passed through collate_fn alone."""
        order = list(self.sampler) if self.sampler is not None else self._order()
        self.epoch += 1
        for i in order:
            sample = self.dataset[int(i)]
            yield self._deliver(sample if self.collate_fn is None else self.collate_fn(sample))

    def _iter_stream(self):
        """An IterableDataset: its samples in its order, batch_size at a time (or one by one)."""
        self.epoch += 1
        batch = []
        for sample in self.dataset:
            if not self.auto_batch:
                yield self._deliver(sample if self.collate_fn is None else self.collate_fn(sample))
                continue
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self._deliver(self._collate(batch))
                batch = []
        if batch and self.auto_batch and not self.drop_last:
            yield self._deliver(self._collate(batch))

    def _collate(self, samples):
        return _collate_arrays(samples) if self.collate_fn is None else self.collate_fn(samples)

    def _iter_workers(self, batches, base_seed):
        import multiprocessing as mp
        import queue

        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        n = min(self.num_workers, max(len(batches), 1))
        index_queues = [ctx.Queue() for _ in range(n)]
        results = ctx.Queue()
        workers = [ctx.Process(target=_worker_loop, daemon=True,
                               args=(self._fetch, index_queues[k], results, k, n, base_seed + k, self.dataset,
                                     self.worker_init_fn)) for k in range(n)]
        for w in workers:
            w.start()
        try:
            sent = 0

            def send():
                nonlocal sent
                if sent < len(batches):
                    index_queues[sent % n].put((sent, list(map(int, batches[sent]))))
                    sent += 1

            for _ in range(self.prefetch_factor * n):
                send()
            waiting = {}
            for number in range(len(batches)):
                waited = 0.0
                while number not in waiting:
                    try:
                        got, ok, payload = results.get(timeout=1.0)
                    except queue.Empty:
                        waited += 1.0
                        dead = [w.pid for w in workers if not w.is_alive()]
                        if dead:
                            raise RuntimeError(f"DataLoader worker (pid {dead[0]}) exited unexpectedly") from None
                        if self.timeout and waited >= self.timeout:
                            raise RuntimeError(f"DataLoader timed out after {self.timeout} s waiting for batch "
                                               f"{number}") from None
                        continue
                    waiting[got] = (ok, payload)
                ok, payload = waiting.pop(number)
                if not ok:
                    raise RuntimeError(f"DataLoader worker failed {payload}")
                send()
                yield payload
        finally:
            for q in index_queues:
                q.put(None)
            for w in workers:
                w.join(timeout=5)
                if w.is_alive():
                    w.terminate()
                    w.join()
