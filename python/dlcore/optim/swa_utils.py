"""Stochastic weight averaging (Izmailov et al. 2018), torch.optim.swa_utils: AveragedModel keeps a running
average (or an EMA) of a model's parameters, SWALR anneals the rate to a constant SWA rate, update_bn
recomputes batch-norm statistics for the averaged weights."""
from __future__ import annotations

import copy
import math

import numpy as np

from ..autograd import no_grad
from ..nn.module import Module
from ..tensor import Tensor
from .lr_scheduler import LRScheduler, _per_group

__all__ = ["AveragedModel", "SWALR", "get_ema_avg_fn", "get_ema_multi_avg_fn", "update_bn"]


def get_ema_avg_fn(decay=0.999):
    """avg_fn for an exponential moving average: decay * averaged + (1 - decay) * current."""
    def ema_update(averaged_param, current_param, num_averaged):
        return decay * averaged_param + (1 - decay) * current_param
    return ema_update


def get_ema_multi_avg_fn(decay=0.999):
    """multi_avg_fn for an EMA: updates the averaged tensors in place, all in one call."""
    def ema_update(averaged_params, current_params, num_averaged):
        for a, c in zip(averaged_params, current_params):
            a._data *= decay
            a._data += (1 - decay) * c._data
    return ema_update


def _running_mean(averaged_param, current_param, num_averaged):
    return averaged_param + (current_param - averaged_param) / (num_averaged + 1)


class AveragedModel(Module):
    """A deep copy of `model` whose parameters (and buffers, with ``use_buffers=True``) ``update_parameters``
    averages: the equal-weight running mean by default, or ``avg_fn(averaged, current, n_averaged)`` /
    ``multi_avg_fn(averaged_list, current_list, n_averaged)``. The first update copies. forward runs the copy."""

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("AveragedModel: give avg_fn or multi_avg_fn, not both")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", np.array(0, dtype=np.int64))
        self.avg_fn, self.multi_avg_fn, self.use_buffers = avg_fn, multi_avg_fn, use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _tensors(self, model):
        if self.use_buffers:
            return list(model.parameters()) + list(model.buffers())
        return list(model.parameters())

    def update_parameters(self, model):
        averaged, current = self._tensors(self.module), self._tensors(model)
        if len(averaged) != len(current):
            raise ValueError(f"AveragedModel: the model has {len(current)} tensors to average, the copy "
                             f"{len(averaged)}")
        n = int(self.n_averaged._data)
        with no_grad():
            floating = [(a, c) for a, c in zip(averaged, current) if a.dtype.kind == "f"]
            if n == 0:
                for a, c in zip(averaged, current):
                    a._data[...] = c._data
            elif self.multi_avg_fn is not None:
                self.multi_avg_fn([a for a, _ in floating], [c for _, c in floating], self.n_averaged)
            else:
                avg_fn = self.avg_fn or _running_mean
                for a, c in floating:
                    new = avg_fn(a.detach(), c.detach(), Tensor(self.n_averaged._data.copy()))
                    a._data[...] = new._data if isinstance(new, Tensor) else new
        if not self.use_buffers:  # buffers follow the model (update_bn recomputes the BN ones)
            for a, c in zip(self.module.buffers(), model.buffers()):
                a._data[...] = c._data
        self.n_averaged._data[...] = n + 1


class SWALR(LRScheduler):
    """Anneals each group's rate from its value when SWALR is built to `swa_lr` over `anneal_epochs` ('cos' or
    'linear'), then holds it: lr = alpha * swa_lr + (1 - alpha) * start, alpha = anneal(min(epoch / E, 1)), as
    torch's recursion gives (with anneal_epochs=0 the first rate is already swa_lr)."""

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1):
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"SWALR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"SWALR: anneal_epochs must be an int >= 0, got {anneal_epochs!r}")
        for group, lr in zip(optimizer.param_groups, _per_group(optimizer, swa_lr, "SWALR")):
            group["swa_lr"] = lr
        self.anneal_epochs, self.anneal_strategy = anneal_epochs, anneal_strategy
        self.optimizer = optimizer
        # torch anneals from the rate in force now (often the end of a cosine phase), not from initial_lr
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.last_epoch = 0
        self._apply(0)

    def _alpha(self, epoch):
        t = min(max(epoch, 1 if self.anneal_epochs == 0 else epoch) / max(1, self.anneal_epochs), 1.0)
        return (1 - math.cos(math.pi * t)) / 2 if self.anneal_strategy == "cos" else t

    def group_lr(self, index, base_lr, epoch):
        alpha = self._alpha(epoch)
        return alpha * self.optimizer.param_groups[index]["swa_lr"] + (1 - alpha) * base_lr


def _batch_norms(model):
    return [m for m in model.modules() if hasattr(m, "running_mean") and hasattr(m, "reset_running_stats")
            and m.running_mean is not None]


def update_bn(loader, model, device=None):
    """Recomputes the batch-norm running statistics of `model` with one pass over `loader` (the averaged
    weights never saw them): statistics reset, cumulative average (momentum None), train mode, then restored.
    Batches may be tensors or (input, ...) sequences, whose first item is the input."""
    norms = _batch_norms(model)
    if not norms:
        return
    momenta = {m: m.momentum for m in norms}
    was_training = model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with no_grad():
        for batch in loader:
            x = batch[0] if isinstance(batch, (list, tuple)) else batch
            model(x if device is None else x.to(device))
    for m, momentum in momenta.items():
        m.momentum = momentum
    model.train(was_training)
