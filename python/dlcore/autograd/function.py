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

import numpy as np

from .._backends import backend, backend_state
from .._device import check_same_device, is_cuda_array
from .grad_mode import is_grad_enabled, set_grad_enabled
from .hooks import run_post_accumulate_grad_hooks

_Tensor = None
#: While gradient checkpointing records a segment (dlcore.utils.checkpoint): the ids of the nodes recorded.
_segment_nodes = None


def _tensor_class():
    """dlcore.tensor.Tensor, imported once (tensor.py imports this module): an import statement in a function
    runs the import machinery on every call, 3.3 us for a relative one (Python 3.11), on every op."""
    global _Tensor
    if _Tensor is None:
        from ..tensor import Tensor

        _Tensor = Tensor
    return _Tensor


class Function:
    """One recorded operation: forward on arrays, backward on arrays."""

    #: Set by apply: which positional inputs need a gradient.
    needs_input_grad: tuple = ()
    #: The Tensor inputs (None for non-tensor positional arguments).
    parents: tuple = ()
    #: True when forward keeps its own result for backward (exp, sigmoid, softmax...): an in-place
    #: change of that result before backward then raises instead of giving a wrong gradient.
    saves_output: bool = False
    #: The output's version counter (set by apply when saves_output).
    output_version = None
    #: True for shape ops whose output is a view of input 0: the output shares its version counter.
    output_is_view: bool = False
    #: True when backward returns gradients it allocated in that call and keeps no reference to (the
    #: parameter gradients of conv, linear, batch norm). A leaf's gradient from such a node becomes its
    #: ``.grad`` as it is, without a copy, as PyTorch's AccumulateGrad steals a gradient nobody else holds:
    #: ResNet-18 copied its 45 MB of gradients every step (~3 ms of a 95 ms step on 2 cores).
    fresh_grads: bool = False

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
        Tensor = _tensor_class()
        node = cls()
        node.backend_state = backend_state()  # backward runs on the backend its forward ran on
        # One pass over the arguments (this runs for every op: comprehensions and any() over a generator
        # cost a call each): the arrays forward sees, and which inputs need a gradient.
        raw, needs, parents, any_needs, all_numpy = [], [], [], False, True
        for a in args:
            if isinstance(a, Tensor):
                data, wants = a._data, a.requires_grad
                any_needs = any_needs or wants
                all_numpy = all_numpy and type(data) is np.ndarray
                raw.append(data)
                needs.append(wants)
                parents.append(a)
            else:
                if is_cuda_array(a):
                    all_numpy = False
                raw.append(a)
                needs.append(False)
                parents.append(None)
        if not all_numpy:  # before NumPy and CuPy meet inside forward with a vaguer error
            check_same_device(cls.__name__, raw)
        out = node.forward(*raw, **kwargs)
        record = any_needs and is_grad_enabled()
        result = Tensor(out, requires_grad=record)
        if cls.output_is_view and isinstance(args[0], Tensor):
            result._version = args[0]._version_counter()
            if not record:  # off the tape: remember the base, which an in-place op on the tape must reach
                result._view_of = (args[0], node)  # (buf[1:].copy_(x) with x requiring grad)
        if record:
            node.needs_input_grad = tuple(needs)
            node.parents = tuple(parents)
            # version counters seen now; backward refuses inputs (or a saved output) changed in place since
            node.versions = tuple([a._version[0] if a is not None else 0 for a in node.parents])
            if node.saves_output:  # the class's, or set by this forward (a path that keeps its result)
                node.output_version = result._version_counter()
            result._node = node
            if _segment_nodes is not None:
                _segment_nodes.add(id(node))
        return result, node

    def __repr__(self):
        return f"<{type(self).__name__}>"


def record_segment(function, *args, **kwargs):
    """Runs ``function(*args, **kwargs)``; returns (its result, the ids of the nodes it recorded): what a
    checkpointed segment computed itself, as opposed to the tensors it uses from outside."""
    global _segment_nodes
    outer, _segment_nodes = _segment_nodes, set()
    try:
        result = function(*args, **kwargs)
        return result, _segment_nodes
    finally:
        _segment_nodes = outer if outer is None else outer | _segment_nodes


def _topological_order(roots):
    """Tensors reachable from the roots through recorded nodes, inputs before outputs."""
    order, visited = [], set()
    stack = [(root, False) for root in reversed(roots)]
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


def _nodes_leading_to(order, wanted):
    """The ids of the tensors of `order` whose node leads, through recorded nodes, to a tensor in `wanted`.

    autograd.grad runs only those nodes: as in PyTorch, a node that leads to no input is neither computed nor
    freed, so its graph still serves a later backward (``x = a * 2; grad(f(x), x)`` then ``g(x).backward()``
    reaches ``a``), and nothing behind the inputs is differentiated for nothing.
    """
    reaches, expand = set(), set()  # reaches: is wanted or expands
    for tensor in order:  # parents before children
        node = tensor._node
        if node is not None and node.parents is not None and any(
                p is not None and id(p) in reaches for p in node.parents):
            expand.add(id(tensor))
            reaches.add(id(tensor))
        elif id(tensor) in wanted:
            reaches.add(id(tensor))
    return expand


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


def backward(root, grad, retain_graph=False, create_graph=False):
    """Accumulates d(root)/d(leaf) * grad into ``.grad`` of every leaf that requires grad.

    The tape is freed as it is consumed (a second backward through the same
    graph raises), like PyTorch, unless ``retain_graph``. With
    ``create_graph`` the backward pass itself is recorded (see run_backward).
    """
    run_backward([root], [grad], retain_graph=retain_graph, create_graph=create_graph)


def run_backward(roots, grads, *, retain_graph=False, create_graph=False, inputs=None):
    """The backward pass from `roots`, seeded with `grads` (arrays; Tensors when create_graph).

    ``inputs=None`` accumulates into ``.grad`` of the leaves (and of tensors
    that ``retain_grad``); otherwise nothing's ``.grad`` changes and the list
    of the gradients reaching each tensor of `inputs` (None where none does)
    is returned. ``create_graph`` runs each node's Tensor-level backward
    (dlcore.ops.double_backward) with grad mode on, so the gradients are on
    the tape and can be differentiated again; a node without one raises.
    Tensor hooks (``register_hook``) see each gradient before it is used.
    """
    order = _topological_order(roots)
    wanted = None if inputs is None else {id(t): i for i, t in enumerate(inputs)}
    expand = None if inputs is None else _nodes_leading_to(order, wanted)
    results = None if inputs is None else [None] * len(inputs)
    grads_by_id = {}
    for root, g in zip(roots, grads):
        previous = grads_by_id.get(id(root))
        grads_by_id[id(root)] = g if previous is None else previous + g
    graph_backward = None
    if create_graph:
        from ..ops.double_backward import graph_backward
    # A leaf's gradient is final once every edge consuming it has run: it is accumulated (its hooks run)
    # then, not when the reversed order reaches it, which for a parameter is after the whole pass, so
    # DistributedDataParallel's all-reduce overlaps the rest of backward. autograd.grad (inputs=...) keeps
    # the plain order: nothing is accumulated there.
    pending = _consumer_counts(order) if wanted is None else None
    fresh = set()  # ids of the tensors whose pending gradient only this pass holds (see Function.fresh_grads)
    grad_mode = is_grad_enabled()
    set_grad_enabled(create_graph)
    try:
        for tensor in reversed(order):
            g = grads_by_id.pop(id(tensor), None)
            if g is None:
                continue
            node = tensor._node
            if node is None and pending is not None:
                _finish_leaf(tensor, g, create_graph, id(tensor) in fresh)
                continue
            if tensor._hooks:
                g = _run_hooks(tensor, g, create_graph)
            if wanted is not None:
                i = wanted.get(id(tensor))
                if i is not None:
                    results[i] = g
            elif tensor._retains_grad:
                _accumulate(tensor, g)
            if node is None or (expand is not None and id(tensor) not in expand):
                continue
            if node.parents is None:
                raise RuntimeError("backward through a graph a second time: its saved arrays were freed "
                                   "(pass retain_graph=True to the first backward)")
            for parent, seen in zip(node.parents, node.versions):
                if parent is not None and parent._version[0] != seen:
                    _stale(node, parent, seen)
            if node.output_version is not None and node.output_version[0] != 0:
                _stale(node, None, 0)
            name, strict = node.backend_state
            with backend(name, strict=strict):
                input_grads = graph_backward(node, g) if create_graph else node.backward(g)
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            for parent, pg in zip(node.parents, input_grads):
                if parent is None or not parent.requires_grad:
                    continue
                if pg is not None:
                    if pg.shape != parent.shape:
                        raise RuntimeError(f"{type(node).__name__}.backward returned a gradient of shape "
                                           f"{pg.shape} for an input of shape {parent.shape}")
                    previous = grads_by_id.get(id(parent))
                    grads_by_id[id(parent)] = pg if previous is None else previous + pg
                    # A sum is a new array; a node's own result only when nothing else has it (not the
                    # incoming gradient passed through, not one array handed to two inputs).
                    if previous is not None or (node.fresh_grads and pg is not g
                                                and sum(q is pg for q in input_grads) == 1):
                        fresh.add(id(parent))
                    else:
                        fresh.discard(id(parent))
                if pending is not None:
                    pending[id(parent)] -= 1
                    if pending[id(parent)] == 0 and parent._node is None and id(parent) in grads_by_id:
                        _finish_leaf(parent, grads_by_id.pop(id(parent)), create_graph, id(parent) in fresh)
            if not retain_graph:
                node.parents = None  # free the tape; a second backward through it raises
    finally:
        set_grad_enabled(grad_mode)
    return results


def _finish_leaf(tensor, g, create_graph, fresh=False):
    """A leaf's whole gradient of this pass: its hooks, then into .grad, then its post-accumulate hooks.

    `fresh`: only this pass holds `g`, so it may become .grad without a copy (a hook may keep it: then not).
    """
    if tensor._hooks:
        g = _run_hooks(tensor, g, create_graph)
        fresh = False
    _accumulate(tensor, g, adopt=fresh)
    run_post_accumulate_grad_hooks(tensor)


def _stale(node, parent, seen):
    """Refuses a node whose input (or saved output, parent None) was changed in place after it was recorded."""
    if parent is None:
        raise RuntimeError(f"the output of {type(node).__name__}, which its backward needs, was modified by an "
                           f"in-place operation; use an out-of-place operation or .clone() it first")
    raise RuntimeError(
        f"one of the tensors needed for the gradient of {type(node).__name__} (shape {parent.shape}) was modified "
        f"by an in-place operation after it was used (version {parent._version[0]}, expected {seen}); use an "
        f"out-of-place operation or .clone() it first")


def _run_hooks(tensor, g, create_graph):
    """Calls tensor's hooks in registration order; a hook's non-None return replaces the gradient."""
    Tensor = _tensor_class()
    value = g if create_graph else Tensor(g)
    for hook in list(tensor._hooks.values()):
        new = hook(value)
        if new is not None:
            if not isinstance(new, Tensor):
                raise TypeError(f"a tensor hook must return a Tensor or None, got {type(new).__name__}")
            if new.shape != tensor.shape:
                raise RuntimeError(f"a tensor hook returned a gradient of shape {new.shape} for a tensor of "
                                   f"shape {tensor.shape}")
            value = new
    return value if create_graph else value._data


def _accumulate(tensor, g, adopt=False):
    """Adds g into tensor.grad; a first gradient is copied unless `adopt` (nobody else holds g)."""
    Tensor = _tensor_class()
    if isinstance(g, Tensor):  # create_graph: .grad stays on the tape
        if g.dtype != tensor._data.dtype:
            g = g.to(tensor._data.dtype)
        tensor.grad = g if tensor.grad is None else tensor.grad + g
        return
    if g.dtype != tensor._data.dtype:
        g = g.astype(tensor._data.dtype)
    if tensor.grad is None:
        tensor.grad = Tensor(g if adopt else g.copy())
    else:
        tensor.grad._data = tensor.grad._data + g
