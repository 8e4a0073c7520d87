"""The define-by-run tape: ``Function`` nodes and the backward pass.

A Function subclass writes ``forward(self, *arrays, **params)`` on raw arrays
(NumPy or CuPy) and, right beside it, ``backward(self, grad)`` returning one
gradient per positional input (``None`` where the input is not a tensor or
nobody needs it: check ``self.needs_input_grad[i]``). ``forward`` keeps on
``self`` the minimum that backward needs. ``Function.apply`` wraps the call:
it unwraps tensors, checks that they share one device, runs forward, and
links the output to this node when any input requires grad and grad mode is
on. It also records the kernel backend (``dlcore.backend``) in force, and the
backward pass runs each node's backward under that same backend, wherever
``.backward()`` is called.
"""
from __future__ import annotations

from .._device import check_same_device
from ..ops._common import backend, backend_state
from .grad_mode import is_grad_enabled
from .hooks import run_post_accumulate_grad_hooks


class Function:
    """One recorded operation: forward on arrays, backward on arrays."""

    #: Set by apply: which positional inputs need a gradient.
    needs_input_grad: tuple = ()
    #: The Tensor inputs (None for non-tensor positional arguments).
    parents: tuple = ()

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        """Runs forward on the inputs' arrays; returns the output Tensor (on the tape when needed)."""
        return cls.apply_with_node(*args, **kwargs)[0]

    @classmethod
    def apply_with_node(cls, *args, **kwargs):
        """Like apply, and also returns the Function node (for outputs it keeps, e.g. pooling indices)."""
        from ..tensor import Tensor

        node = cls()
        node.backend_state = backend_state()  # backward runs on the backend its forward ran on
        raw = [a.data if isinstance(a, Tensor) else a for a in args]
        check_same_device(cls.__name__, raw)  # before NumPy and CuPy meet inside forward with a vaguer error
        out = node.forward(*raw, **kwargs)
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        record = is_grad_enabled() and any(needs)
        result = Tensor(out, requires_grad=record)
        if record:
            node.needs_input_grad = needs
            node.parents = tuple(a if isinstance(a, Tensor) else None for a in args)
            result._node = node
        return result, node

    def __repr__(self):
        return f"<{type(self).__name__}>"


def _topological_order(root):
    """Tensors reachable from root through recorded nodes, inputs before outputs."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        tensor, expanded = stack.pop()
        if expanded:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))
        node = tensor._node
        if node is not None and node.parents is not None:
            for parent in node.parents:
                if parent is not None and parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def _consumer_counts(order):
    """id(tensor) -> how many recorded edges consume it (its gradient is final when all of them have run)."""
    counts = {}
    for tensor in order:
        node = tensor._node
        if node is not None and node.parents is not None:
            for parent in node.parents:
                if parent is not None and parent.requires_grad:
                    counts[id(parent)] = counts.get(id(parent), 0) + 1
    return counts


def backward(root, grad):
    """Accumulates d(root)/d(leaf) * grad into ``.grad`` of every leaf that requires grad.

    The tape is freed as it is consumed (a second backward through the same
    graph raises), like PyTorch without ``retain_graph``.
    """
    order = _topological_order(root)
    pending = _consumer_counts(order)
    grads = {id(root): grad}
    for tensor in reversed(order):
        g = grads.pop(id(tensor), None)
        if g is None:
            continue
        node = tensor._node
        if node is None or tensor._retains_grad:
            _accumulate(tensor, g)
        if node is None:
            run_post_accumulate_grad_hooks(tensor)  # this pass's whole gradient is in .grad now
            continue
        if node.parents is None:
            raise RuntimeError("backward through a graph a second time: its saved arrays were freed")
        name, strict = node.backend_state
        with backend(name, strict=strict):
            input_grads = node.backward(g)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        for parent, pg in zip(node.parents, input_grads):
            if parent is None or not parent.requires_grad:
                continue
            if pg is not None:
                if pg.shape != parent.shape:
                    raise RuntimeError(f"{type(node).__name__}.backward returned a gradient of shape "
                                       f"{pg.shape} for an input of shape {parent.shape}")
                previous = grads.get(id(parent))
                grads[id(parent)] = pg if previous is None else previous + pg
            pending[id(parent)] -= 1
            if pending[id(parent)] == 0 and parent._node is None and id(parent) in grads:
                # Every consumer of this leaf has run: its gradient is final, so accumulate it (and run
                # its hooks) now rather than when the reversed order reaches it, which for a parameter is
                # after the whole backward pass (DistributedDataParallel overlaps its all-reduce with the rest).
                _accumulate(parent, grads.pop(id(parent)))
                run_post_accumulate_grad_hooks(parent)
        node.parents = None  # free the tape; a second backward through it raises


def _accumulate(tensor, g):
    from ..tensor import Tensor

    if g.dtype != tensor.data.dtype:
        g = g.astype(tensor.data.dtype)
    if tensor.grad is None:
        tensor.grad = Tensor(g.copy())
    else:
        tensor.grad.data = tensor.grad.data + g
