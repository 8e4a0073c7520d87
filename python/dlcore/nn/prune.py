"""Magnitude pruning: ``dlcore.nn.utils.prune`` (torch.nn.utils.prune's shape).

Pruning ``module.<name>`` re-parametrizes it, as PyTorch does: the trainable
Parameter becomes ``<name>_orig``, a buffer ``<name>_mask`` (0 or 1, same
shape) joins it, and ``module.<name>`` is recomputed as ``orig * mask`` before
every forward. So the pruned entries are exactly zero in every forward pass,
their gradient is zero, and an optimizer step cannot bring them back (momentum
or weight decay may move ``<name>_orig`` there, but the mask hides it).
``remove()`` bakes the mask in: ``<name>`` is a plain Parameter again (the same
Parameter object as ``<name>_orig``, so an optimizer built before keeps working).

``amount`` is the fraction (float in [0, 1]) or number (int) of entries that
are zero after the call, counting entries already pruned: pruning at 0.5 and
then at 0.9 leaves 90 % of the entries zero, the smallest magnitudes first.

Example:
    >>> from dlcore.nn.utils import prune
    >>> model = nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Dropout(), nn.Linear(30, 10))
    >>> prune.global_unstructured([(model[0], "weight"), (model[3], "weight")], amount=0.9)
    >>> round(prune.sparsity(model), 2)  # 0.9 of the pruned tensors' entries are zero
    0.9
    >>> _ = prune.remove(model[0], "weight"), prune.remove(model[3], "weight")  # bake the masks in
"""
from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from ..ops._common import array_module
from ..tensor import Tensor
from .module import Module, Parameter

__all__ = ["l1_unstructured", "global_unstructured", "remove", "is_pruned", "sparsity", "prunable"]


def _masks(module):
    """Names of the pruned parameters of `module` (kept in its __dict__, outside the registries)."""
    return module.__dict__.setdefault("_prune_names", [])


def is_pruned(module) -> bool:
    """True when any parameter of `module` or of its submodules is pruned (not yet removed)."""
    return any(m.__dict__.get("_prune_names") for m in module.modules())


def _count(amount, total):
    if isinstance(amount, bool) or not isinstance(amount, (int, float, np.integer, np.floating)):
        raise TypeError(f"prune: amount must be a float fraction or an int count, got {type(amount).__name__}")
    if isinstance(amount, (float, np.floating)):
        if not 0.0 <= amount <= 1.0:
            raise ValueError(f"prune: a fractional amount must be in [0, 1], got {amount}")
        return int(round(float(amount) * total))
    if not 0 <= amount <= total:
        raise ValueError(f"prune: amount {amount} entries is outside [0, {total}]")
    return int(amount)


def _current(module, name):
    """The weights that count for pruning: orig * mask when pruned, else the parameter itself (arrays)."""
    if name in _masks(module):
        return module._parameters[name + "_orig"]._data * module._buffers[name + "_mask"]._data
    param = module._parameters.get(name)
    if not isinstance(param, Parameter):
        raise ValueError(f"prune: {type(module).__name__} has no parameter {name!r}")
    return param._data


def _rename(table, old, new):
    """Renames a key of an OrderedDict in place, keeping its position (parameter order stays the same)."""
    items = [(new if k == old else k, v) for k, v in table.items()]
    table.clear()
    table.update(items)


def _apply_mask(module, name, mask):
    """Installs (or replaces) the mask of module.<name>; re-parametrizes on first use."""
    names = _masks(module)
    if name not in names:
        _rename(module._parameters, name, name + "_orig")
        names.append(name)
        if "forward" not in module.__dict__:  # one wrapper per module, whatever the number of pruned names
            cls_forward = type(module).forward

            def forward(*args, **kwargs):
                _recompute(module)
                return cls_forward(module, *args, **kwargs)

            object.__setattr__(module, "forward", forward)
    module._buffers[name + "_mask"] = Tensor(mask)
    _recompute(module)


def _recompute(module):
    """module.<name> = <name>_orig * <name>_mask for each pruned name (a tape op when grad is on)."""
    for name in _masks(module):
        orig, mask = module._parameters[name + "_orig"], module._buffers[name + "_mask"]
        if mask._data.dtype != orig._data.dtype or type(mask._data) is not type(orig._data):
            mask._data = array_module(orig._data).asarray(mask._data, dtype=orig._data.dtype)  # after .to()
        object.__setattr__(module, name, orig * mask)


def _mask_keeping_largest(values, n_prune):
    """0/1 mask (values' dtype) zeroing the n_prune smallest |values| (ties broken by position)."""
    xp = array_module(values)
    flat = xp.abs(values).ravel()
    mask = xp.ones(flat.shape, dtype=values.dtype)
    if n_prune:
        order = xp.argsort(flat, kind="stable")
        mask[order[:n_prune]] = 0
    return mask.reshape(values.shape)


def l1_unstructured(module, name="weight", amount=0.5):
    """Prunes `amount` of module.<name>'s entries with the smallest magnitudes; returns `module`."""
    if not isinstance(module, Module):
        raise TypeError(f"prune: expected a Module, got {type(module).__name__}")
    values = _current(module, name)
    _apply_mask(module, name, _mask_keeping_largest(values, _count(amount, values.size)))
    return module


def global_unstructured(parameters, amount):
    """Prunes the `amount` smallest-magnitude entries over all (module, name) pairs together.

    One threshold for the whole set (layers with small weights lose more), as
    torch.nn.utils.prune.global_unstructured with L1Unstructured.
    """
    parameters = list(parameters)
    if not parameters:
        raise ValueError("prune.global_unstructured: no (module, name) pairs given")
    for pair in parameters:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], Module)):
            raise TypeError(f"prune.global_unstructured: expected (module, name) pairs, got {pair!r}")
    current = [_current(m, n) for m, n in parameters]
    xp = array_module(current[0])
    flat = xp.concatenate([c.ravel() for c in current])
    mask = _mask_keeping_largest(flat, _count(amount, flat.size))
    start = 0
    for (module, name), c in zip(parameters, current):
        _apply_mask(module, name, mask[start:start + c.size].reshape(c.shape).astype(c.dtype))
        start += c.size


def remove(module, name="weight"):
    """Makes the pruning of module.<name> permanent: <name> = orig * mask as a plain Parameter.

    The Parameter object is <name>_orig's (its values masked in place), so
    optimizers holding it keep working; the mask buffer goes away.
    """
    names = _masks(module)
    if name not in names:
        raise ValueError(f"prune.remove: {type(module).__name__}.{name} is not pruned")
    orig = module._parameters[name + "_orig"]
    mask = module._buffers.pop(name + "_mask")
    with no_grad():
        orig._data *= mask._data.astype(orig._data.dtype, copy=False)
    names.remove(name)
    module.__dict__.pop(name, None)
    _rename(module._parameters, name + "_orig", name)
    if not names:
        module.__dict__.pop("forward", None)
    return module


def prunable(model, types=None):
    """(module, "weight") for each Linear and Conv2d in `model` (or of the given types): what to prune."""
    from .modules import Conv2d, Linear

    types = types or (Linear, Conv2d)
    return [(m, "weight") for m in model.modules() if isinstance(m, types)]


def sparsity(model_or_tensors) -> float:
    """Fraction of zero entries in the effective weights of the prunable layers (or of the tensors given)."""
    if isinstance(model_or_tensors, Module):
        arrays = [_current(m, n) for m, n in prunable(model_or_tensors)]
    else:
        arrays = [t._data if isinstance(t, Tensor) else np.asarray(t) for t in model_or_tensors]
    total = sum(a.size for a in arrays)
    zeros = sum(int((a == 0).sum()) for a in arrays)
    return zeros / max(total, 1)
