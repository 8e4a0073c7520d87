"""Gradient checkpointing (``torch.utils.checkpoint``): trade compute for memory.

``checkpoint(segment, *args)`` runs `segment` and keeps none of its intermediate activations; backward runs
it again (replaying its dropout masks) and differentiates that second run. Peak memory then holds the
activations of one segment at a time instead of the whole network's.

How: the first run is recorded on the tape as usual, but only to find what the segment reads from outside
(parameters, tensors it captures): those become inputs of one ``Checkpoint`` node beside the arguments,
and the run's graph is dropped at once. Gradients therefore reach everything the segment uses, whichever
of its inputs require grad (torch's ``use_reentrant=False`` behaviour; ``use_reentrant=True`` is accepted
and behaves the same), and ``autograd.grad`` works through it.
"""
from __future__ import annotations

from .. import random as _random
from ..autograd import Function, enable_grad, is_grad_enabled
from ..autograd.function import record_segment, run_backward
from ..ops._common import array_module
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential"]


def _flatten(result):
    """The Tensors of a segment's result (a Tensor, or a tuple/list holding Tensors and other values)."""
    if isinstance(result, Tensor):
        return [result]
    if isinstance(result, (tuple, list)):
        return [r for r in result if isinstance(r, Tensor)]
    raise TypeError(f"checkpoint: the function must return a Tensor or a tuple/list of them, got "
                    f"{type(result).__name__}")


def _rebuild(result, tensors):
    """`result` with its Tensors replaced, in order, by `tensors`."""
    if isinstance(result, Tensor):
        return tensors[0]
    it = iter(tensors)
    return type(result)(next(it) if isinstance(r, Tensor) else r for r in result)


def _externals(outputs, inputs, internal):
    """The tensors requiring grad that the segment's outputs depend on without computing them: its leaves
    (parameters) and tensors computed before it. `inputs`: the segment's own (detached) arguments."""
    own = {id(t) for t in inputs}
    found, seen, stack = [], set(), [t for t in outputs if t.requires_grad]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if id(t) in own:
            continue
        if t._node is None or id(t._node) not in internal:
            found.append(t)
            continue
        stack.extend(p for p in t._node.parents if p is not None and p.requires_grad)
    return found


class Checkpoint(Function):
    """forward(*arrays of the arguments and externals) -> the segment's differentiable outputs packed flat
    (one output: as it is). backward reruns the segment and differentiates it."""

    def forward(self, *arrays, segment, args, n_args, out_arrays, rng_state):
        self.segment, self.args, self.n_args, self.rng_state = segment, args, n_args, rng_state
        self.shapes = [a.shape for a in out_arrays]
        if len(out_arrays) == 1:
            return out_arrays[0]
        xp = array_module(out_arrays[0])
        return xp.concatenate([a.reshape(-1) for a in out_arrays])

    def backward(self, grad):
        grads = _unpack(grad, self.shapes)
        arg_tensors = [self.parents[i] for i in range(self.n_args)]
        fresh = [t.detach().requires_grad_(need) for t, need in zip(arg_tensors, self.needs_input_grad)]
        args = _substitute(self.args, fresh)
        state = _random.get_rng_state()
        if self.rng_state is not None:
            _random.set_rng_state(self.rng_state)
        try:
            with enable_grad():
                outputs = _flatten(self.segment(*args[0], **args[1]))
        finally:
            _random.set_rng_state(state)  # the rerun leaves the global generator where it was
        wanted = [t for t, need in zip(fresh, self.needs_input_grad) if need]
        externals = list(self.parents[self.n_args:])
        pairs = [(o, g) for o, g in zip(outputs, grads) if o.requires_grad]
        results = run_backward([o for o, _ in pairs], [g for _, g in pairs], inputs=wanted + externals) \
            if pairs and (wanted or externals) else [None] * (len(wanted) + len(externals))
        it = iter(results[:len(wanted)])
        arg_grads = [next(it) if need else None for need in self.needs_input_grad[:self.n_args]]
        return tuple(arg_grads + list(results[len(wanted):]))


def _unpack(flat, shapes):
    """The per-output gradients inside the packed gradient."""
    if len(shapes) == 1:
        return [flat]
    out, start = [], 0
    for shape in shapes:
        size = 1
        for d in shape:
            size *= d
        out.append(flat[start:start + size].reshape(shape))
        start += size
    return out


def _substitute(args, tensors):
    """(args, kwargs) with their Tensors replaced, in order, by `tensors`."""
    positional, keywords = args
    it = iter(tensors)
    return ([next(it) if isinstance(a, Tensor) else a for a in positional],
            {k: next(it) if isinstance(v, Tensor) else v for k, v in keywords.items()})


def checkpoint(function, *args, use_reentrant=None, preserve_rng_state=True, **kwargs):
    """``function(*args, **kwargs)``, with its activations recomputed in backward instead of kept.

    As ``torch.utils.checkpoint.checkpoint``: the result is the function's (a Tensor or a tuple/list
    holding Tensors); gradients reach the arguments and everything the function uses (its module's
    parameters) even when no argument requires grad; ``preserve_rng_state`` replays the global generator
    so dropout draws the same masks in the rerun. Outside grad mode it is a plain call. The function must
    compute the same thing twice (no in-place changes of its inputs, no side effects that matter).

    Example:
        >>> block = dlcore.nn.Sequential(dlcore.nn.Linear(4, 4), dlcore.nn.ReLU())
        >>> x = dlcore.randn(2, 4, requires_grad=True)
        >>> checkpoint(block, x).sum().backward()       # block's activations were not kept
        >>> block[0].weight.grad.shape
        (4, 4)
    """
    del use_reentrant  # both modes behave as torch's non-reentrant one (see the module docstring)
    if not is_grad_enabled():
        return function(*args, **kwargs)
    arg_tensors = [a for a in list(args) + list(kwargs.values()) if isinstance(a, Tensor)]
    detached = [t.detach().requires_grad_(t.requires_grad) for t in arg_tensors]
    run_args = _substitute((list(args), dict(kwargs)), detached)
    rng_state = _random.get_rng_state() if preserve_rng_state else None
    result, internal = record_segment(function, *run_args[0], **run_args[1])
    outputs = _flatten(result)
    differentiable = [o for o in outputs if o.requires_grad]
    if not differentiable:
        return result
    externals = _externals(differentiable, detached, internal)
    packed = Checkpoint.apply(*arg_tensors, *externals, segment=function, args=(list(args), dict(kwargs)),
                              n_args=len(arg_tensors), out_arrays=[o._data for o in differentiable],
                              rng_state=rng_state)
    return _rebuild(result, _place(outputs, differentiable, packed))


def _place(outputs, differentiable, packed):
    """The outputs, the differentiable ones now views of the Checkpoint node's packed result."""
    if len(differentiable) == 1:
        views = [packed]
    else:
        views, start = [], 0
        for o in differentiable:
            views.append(packed[start:start + o.numel()].reshape(o.shape))
            start += o.numel()
    it = iter(views)
    return [next(it) if o.requires_grad else o.detach() for o in outputs]


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """``torch.utils.checkpoint.checkpoint_sequential``: runs `functions` (an nn.Sequential or a list of
    modules) in `segments` chunks, each checkpointed except the last (its activations are needed at once)."""
    from ..nn import Sequential

    modules = list(functions.children()) if isinstance(functions, Sequential) else list(functions)
    if segments < 1 or segments > max(len(modules), 1):
        raise ValueError(f"checkpoint_sequential: segments must be in [1, {len(modules)}], got {segments}")
    size = (len(modules) + segments - 1) // segments
    chunks = [modules[i:i + size] for i in range(0, len(modules), size)]

    def run(chunk):
        def forward(x):
            for m in chunk:
                x = m(x)
            return x
        return forward

    for chunk in chunks[:-1]:
        input = checkpoint(run(chunk), input, use_reentrant=use_reentrant, **kwargs)
    return run(chunks[-1])(input)
