"""``functional_call`` (torch.func.functional_call / torch.nn.utils.stateless): run a module with other
parameters and buffers than its own, for one call (meta-learning, ensembles, per-sample gradients)."""
from __future__ import annotations

import contextlib

from ...tensor import Tensor

__all__ = ["functional_call"]


def _owner(module, dotted):
    *path, leaf = dotted.split(".")
    for part in path:
        module = getattr(module, part)
    return module, leaf


@contextlib.contextmanager
def _swapped(module, tensors, strict):
    """Puts `tensors` (dotted name -> Tensor) in place of the module's own for the duration."""
    known = dict(module.named_parameters(remove_duplicate=False))
    known.update(dict(module.named_buffers(remove_duplicate=False)))
    unknown = [name for name in tensors if name not in known]
    if unknown:
        raise KeyError(f"functional_call: the module has no parameter or buffer named {unknown}")
    if strict:
        missing = [name for name in known if name not in tensors]
        if missing:
            raise KeyError(f"functional_call: strict=True and no tensor given for {missing}")
    saved = []
    try:
        for name, value in tensors.items():
            if not isinstance(value, Tensor):
                raise TypeError(f"functional_call: '{name}' must be a Tensor, got {type(value).__name__}")
            owner, leaf = _owner(module, name)
            table = owner._parameters if leaf in owner._parameters else owner._buffers
            saved.append((table, leaf, table[leaf]))
            table[leaf] = value  # straight into the table: a plain Tensor may stand in for a Parameter
        yield
    finally:
        for table, leaf, value in reversed(saved):
            table[leaf] = value


def functional_call(module, parameter_and_buffer_dicts, args=(), kwargs=None, *, tie_weights=True,
                    strict=False):
    """``module(*args, **kwargs)`` with the named tensors of `parameter_and_buffer_dicts` (a dict, or a
    tuple of dicts merged) standing in for the module's own; gradients flow to the given tensors. The
    module is unchanged afterwards. ``tie_weights`` is accepted (a tensor shared by two names is given
    once per name here)."""
    del tie_weights
    dicts = parameter_and_buffer_dicts
    if isinstance(dicts, dict):
        dicts = (dicts,)
    merged = {}
    for d in dicts:
        overlap = set(merged) & set(d)
        if overlap:
            raise ValueError(f"functional_call: {sorted(overlap)} given in more than one dict")
        merged.update(d)
    if not isinstance(args, tuple):
        args = (args,)
    with _swapped(module, merged, strict):
        return module(*args, **(kwargs or {}))
