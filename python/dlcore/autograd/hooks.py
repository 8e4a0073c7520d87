"""Gradient hooks on tensors: the removable handle and the post-accumulate hook list.

``Tensor.register_post_accumulate_grad_hook(fn)`` (PyTorch 2.1's name) calls
``fn(tensor)`` on a leaf right after the backward pass has added this pass's
gradient into ``tensor.grad``: every contribution of this backward is in, so
the gradient is final. DistributedDataParallel uses it to start a bucket's
all-reduce while backward is still running on the layers below.
"""
from __future__ import annotations

import itertools
from collections import OrderedDict

_next_id = itertools.count()


class RemovableHandle:
    """Returned by the register_*_hook methods; ``handle.remove()`` unregisters the hook (twice is harmless)."""

    def __init__(self, hooks: OrderedDict):
        self._hooks, self.id = hooks, next(_next_id)

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def register_post_accumulate_grad_hook(tensor, fn):
    """Adds fn(tensor) to the hooks run after the gradient is accumulated into a leaf tensor's .grad."""
    if not callable(fn):
        raise TypeError(f"register_post_accumulate_grad_hook needs a callable, got {type(fn).__name__}")
    if not tensor.requires_grad:
        raise RuntimeError("register_post_accumulate_grad_hook on a tensor that does not require grad")
    if not tensor.is_leaf:
        raise RuntimeError("register_post_accumulate_grad_hook on a non-leaf tensor: only leaves accumulate .grad")
    hooks = tensor.__dict__.get("_post_accumulate_grad_hooks")
    if hooks is None:
        hooks = tensor._post_accumulate_grad_hooks = OrderedDict()
    handle = RemovableHandle(hooks)
    hooks[handle.id] = fn
    return handle


def run_post_accumulate_grad_hooks(tensor):
    """Calls the tensor's post-accumulate hooks in registration order (the engine calls this)."""
    hooks = tensor.__dict__.get("_post_accumulate_grad_hooks")
    if hooks:
        for fn in list(hooks.values()):
            fn(tensor)
