"""SyncBatchNorm: batch normalization with statistics over the global batch (all ranks).

Forward: each rank computes its per-channel count, mean and sum of squared
deviations in float64; one ``all_gather`` brings every rank's triple and each
rank combines them (Chan et al.'s pairwise formula: no cancellation between
a large E[x^2] and mean^2). Training normalizes with the global mean and
(biased) variance and updates the running statistics with the unbiased one,
so every rank's running statistics stay equal.

Backward: the input gradient needs the global sums of dy and dy * xhat, one
``all_reduce`` of 2C values. The weight and bias gradients returned are the
local sums, which DistributedDataParallel then averages, as in PyTorch: the
result is the gradient of the mean of the ranks' losses. Outside an MPI job
(or with one rank) it is exactly BatchNorm.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..nn.modules import BatchNorm1d, BatchNorm2d, _BatchNorm
from ..ops._common import array_module
from . import process_group as pg


def _axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _per_channel(v, x):
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


def _world():
    return pg.get_world_size() if pg.is_initialized() else 1


class SyncBatchNormTraining(Function):
    """Batch norm with the statistics of the batch spread over all ranks (training mode)."""

    def forward(self, x, weight, bias, running_mean=None, running_var=None, *, momentum=0.1, eps=1e-5):
        xp = array_module(x)
        axes = _axes(x)
        x64 = x.astype(np.float64, copy=False)
        n_local = x.size // x.shape[1] if x.shape[1] else 0
        local_mean = x64.mean(axis=axes) if n_local else xp.zeros(x.shape[1])
        local_m2 = ((x64 - _per_channel(local_mean, x)) ** 2).sum(axis=axes)
        triple = xp.concatenate([xp.asarray([float(n_local)]), local_mean, local_m2])
        everyone = pg.all_gather(triple) if _world() > 1 else triple[None]
        count, mean, m2 = _combine(everyone, x.shape[1], xp)
        if count < 2:
            raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel over all ranks when training, "
                             f"got {int(count)}")
        var = m2 / count
        invstd = 1 / xp.sqrt(var + eps)
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += (momentum * mean).astype(running_mean.dtype)
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += (momentum * m2 / (count - 1)).astype(running_var.dtype)  # unbiased
        self.count, self.weight = count, weight
        self.xhat = ((x64 - _per_channel(mean, x)) * _per_channel(invstd, x))
        self.invstd = invstd
        y = self.xhat
        if weight is not None:
            y = y * _per_channel(weight, x)
        if bias is not None:
            y = y + _per_channel(bias, x)
        return y.astype(x.dtype)

    def backward(self, dy):
        xhat, w = self.xhat, self.weight
        axes = _axes(dy)
        dy64 = dy.astype(np.float64, copy=False)
        local = array_module(dy).concatenate([dy64.sum(axis=axes), (dy64 * xhat).sum(axis=axes)])
        dbias_local, dweight_local = local[:dy.shape[1]].copy(), local[dy.shape[1]:].copy()
        if _world() > 1:
            pg.all_reduce(local)  # the input gradient needs the sums over the global batch
        dbias_all, dweight_all = local[:dy.shape[1]], local[dy.shape[1]:]
        scale = self.invstd if w is None else self.invstd * w
        dx = _per_channel(scale, dy) * (dy64 - _per_channel(dbias_all / self.count, dy)
                                        - xhat * _per_channel(dweight_all / self.count, dy))
        dtype = dy.dtype
        return (dx.astype(dtype) if self.needs_input_grad[0] else None,
                dweight_local.astype(dtype) if w is not None and self.needs_input_grad[1] else None,
                dbias_local.astype(dtype) if self.needs_input_grad[2] else None)


def _combine(everyone, channels, xp):
    """(count, mean, M2) over ranks from each rank's (count, mean, M2) rows (Chan's parallel variance)."""
    count, mean, m2 = 0.0, xp.zeros(channels), xp.zeros(channels)
    for row in everyone:
        n_b, mean_b, m2_b = float(row[0]), row[1:1 + channels], row[1 + channels:]
        if n_b == 0:
            continue
        total = count + n_b
        delta = mean_b - mean
        mean = mean + delta * (n_b / total)
        m2 = m2 + m2_b + delta ** 2 * (count * n_b / total)
        count = total
    return count, mean, m2


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W) with global-batch statistics in training.

    Eval mode uses the running statistics, as BatchNorm. Convert a model with
    ``SyncBatchNorm.convert_sync_batchnorm(model)`` before wrapping it in DistributedDataParallel.
    """

    _input_dims = (2, 3, 4, 5)

    def forward(self, input):
        if input.ndim not in self._input_dims:
            raise ValueError(f"SyncBatchNorm expects 2-D to 5-D input, got shape {input.shape}")
        if not (self.training or not self.track_running_stats):
            return super().forward(input) if input.ndim in (2, 3, 4) else self._eval_nd(input)
        rm = None if self.running_mean is None else self.running_mean._data
        rv = None if self.running_var is None else self.running_var._data
        return SyncBatchNormTraining.apply(input, self.weight, self.bias, rm, rv, momentum=float(self.momentum),
                                           eps=float(self.eps))

    def _eval_nd(self, input):
        n, c = input.shape[:2]
        return super().forward(input.reshape(n, c, -1, input.shape[-1])).reshape(*input.shape)

    @classmethod
    def convert_sync_batchnorm(cls, module):
        """Replaces every BatchNorm1d/2d inside `module` by a SyncBatchNorm sharing its parameters and buffers."""
        if isinstance(module, (BatchNorm1d, BatchNorm2d)):
            sync = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
            for name in ("weight", "bias"):
                if getattr(module, name, None) is not None:
                    setattr(sync, name, getattr(module, name))
            for name in ("running_mean", "running_var"):
                sync._buffers[name] = module._buffers.get(name)
            sync.train(module.training)
            return sync
        for name, child in list(module._modules.items()):
            if child is not None:
                module._modules[name] = cls.convert_sync_batchnorm(child)
        return module

