"""DistributedSampler: each rank of a data-parallel job reads its own shard of the dataset."""
from __future__ import annotations

import math

import numpy as np


class DistributedSampler:
    """Yields this rank's indices: a shard of equal length on every rank, the shards together covering the dataset.

    Each epoch the whole index list is shuffled with a generator seeded by (seed, epoch), identical
    on every rank, then rank r takes positions r, r + R, r + 2R, ... (R replicas). When R does not
    divide the dataset's length N:

    * ``drop_last=False`` (default) pads the list with its first few indices up to a multiple of R:
      every index is read, a few (fewer than R) twice per epoch; each shard has ceil(N / R).
    * ``drop_last=True`` drops the last N mod R indices of the (shuffled) list: the shards are
      disjoint, each of floor(N / R), and a different few samples are left out each epoch.

    When R divides N both give disjoint shards covering the dataset exactly. Call ``set_epoch(e)``
    at the start of each epoch (before iterating the DataLoader), else every epoch has the same order.

    Args:
        dataset: anything with ``len()``.
        num_replicas, rank: default ``dlcore.distributed``'s world size and rank (1 and 0 outside a job).
        shuffle: a new order each epoch; False keeps 0..N-1 (then padded/dropped as above).
        seed: must be the same on every rank.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        from .. import distributed

        num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
        rank = distributed.get_rank() if rank is None else rank
        if not isinstance(num_replicas, (int, np.integer)) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive int, got {num_replicas!r}")
        if not isinstance(rank, (int, np.integer)) or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in [0, {num_replicas}), got {rank!r}")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last, self.epoch = bool(shuffle), int(seed), bool(drop_last), 0
        n = len(dataset)
        if drop_last:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch):
        """Makes the next iteration use the order of `epoch` (the same on every rank)."""
        self.epoch = int(epoch)

    def indices(self):
        """This rank's indices for the current epoch, as an int64 array."""
        n = len(self.dataset)
        order = np.random.default_rng([self.seed, self.epoch]).permutation(n) if self.shuffle else np.arange(n)
        if self.total_size > n:  # pad with the order's own start (repeated if the dataset is tiny)
            order = np.concatenate([order, np.resize(order, self.total_size - n)])
        order = order[:self.total_size]
        return order[self.rank::self.num_replicas].astype(np.int64)

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self):
        return self.num_samples
