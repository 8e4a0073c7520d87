"""Dataset, TensorDataset and DataLoader (batching, seeded shuffling, drop_last)."""
from __future__ import annotations

import math

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

    def __len__(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def __getitem__(self, index):  # pragma: no cover - abstract
        raise NotImplementedError


class TensorDataset(Dataset):
    """Samples are the i-th rows of the given arrays/tensors (same first dimension)."""

    def __init__(self, *arrays, transform=None):
        arrays = [a.numpy() if isinstance(a, Tensor) else np.asarray(a) for a in arrays]
        if not arrays or any(len(a) != len(arrays[0]) for a in arrays):
            raise ValueError(f"TensorDataset: arrays must share their first dimension, got "
                             f"{[a.shape for a in arrays]}")
        self.arrays, self.transform = arrays, transform

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(self._sample(index))

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


def _collate(samples):
    columns = list(zip(*samples))
    return tuple(np.stack([np.asarray(v) for v in col]) for col in columns)


class DataLoader:
    """Iterates a dataset in batches of Tensors.

    Args:
        dataset: a Dataset (or anything with ``__len__``/``__getitem__``).
        batch_size: samples per batch.
        shuffle: a new random order each epoch.
        drop_last: skip the last batch when it is smaller than batch_size.
        seed: makes the shuffling reproducible (epoch e uses a generator seeded
            by (seed, e)); without it dlcore's global generator is used.
        device: where the batches are delivered, "cpu" (NumPy, no copy) or
            "cuda" (each batch is assembled on the host, then copied over).
        sampler: an iterable of indices with ``len()`` (e.g. ``DistributedSampler``)
            giving the order; excludes ``shuffle`` (the sampler decides).
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, device="cpu",
                 sampler=None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True exclude each other (the sampler shuffles)")
        self.sampler = sampler
        self.dataset, self.batch_size, self.shuffle = dataset, int(batch_size), bool(shuffle)
        self.drop_last, self.seed, self.epoch = bool(drop_last), seed, 0
        self.device = parse_device(device)
        module_for_device(self.device)  # no GPU: raise here, not at the first batch

    def __len__(self):
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self):
        if self.sampler is not None:
            return np.fromiter(iter(self.sampler), dtype=np.int64, count=len(self.sampler))
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        gen = np.random.default_rng([self.seed, self.epoch]) if self.seed is not None else default_generator()
        return gen.permutation(n)

    def __iter__(self):
        order = self._order()
        self.epoch += 1
        batched = getattr(self.dataset, "get_batch", None)
        for b in range(len(self)):
            indices = order[b * self.batch_size:(b + 1) * self.batch_size]
            arrays = batched(indices) if batched else _collate([self.dataset[int(i)] for i in indices])
            yield tuple(Tensor(array_to(np.ascontiguousarray(a), self.device)) for a in arrays)
