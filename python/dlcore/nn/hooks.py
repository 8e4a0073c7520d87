"""Module hooks: forward pre-hooks, forward hooks and full backward hooks (PyTorch's signatures).

``Module.__call__`` runs the plain ``forward`` when a module has no hooks
(the common case costs three attribute reads); otherwise ``call_with_hooks``
below. A full backward hook sees ``(module, grad_input, grad_output)``: the
module's tensor inputs and its output pass through identity nodes on the
tape; the output's node records grad_output, and the hook fires once the
gradients of all inputs that require grad have arrived (or at once, with
``grad_input`` all None, when none does). A tuple it returns replaces
grad_input.
"""
from __future__ import annotations

from ..autograd import Function, is_grad_enabled
from ..tensor import RemovableHandle, Tensor


class _Identity(Function):
    """y = x; backward reports the gradient to `state` and may replace it."""

    def forward(self, x, state, slot):
        self.state, self.slot = state, slot
        return x

    def backward(self, g):
        return self.state.arrived(self.slot, g), None, None


class _BackwardHookState:
    def __init__(self, module, hooks):
        self.module, self.hooks = module, hooks
        self.input_slots, self.grad_inputs, self.grad_output = [], {}, None

    def wrap_inputs(self, args):
        out = []
        for i, a in enumerate(args):
            if isinstance(a, Tensor) and a.requires_grad and is_grad_enabled():
                self.input_slots.append(i)
                a = _Identity.apply(a, self, ("in", i))
            out.append(a)
        self.n_args = len(args)
        return tuple(out)

    def wrap_output(self, out):
        if not isinstance(out, Tensor):
            raise NotImplementedError(f"register_full_backward_hook: {type(self.module).__name__} returns "
                                      f"{type(out).__name__}; only modules returning one Tensor are supported")
        if not (out.requires_grad and is_grad_enabled()):
            return out
        return _Identity.apply(out, self, ("out", 0))

    def arrived(self, slot, g):
        kind, i = slot
        if kind == "out":
            self.grad_output = (Tensor(g),)
            if not self.input_slots:
                self._fire()
            return g
        self.grad_inputs[i] = g
        if len(self.grad_inputs) < len(self.input_slots):
            return g
        replaced = self._fire()
        return g if replaced is None else replaced[i]

    def _fire(self):
        grad_input = tuple(Tensor(self.grad_inputs[i]) if i in self.grad_inputs else None
                           for i in range(self.n_args))
        result = None
        for hook in list(self.hooks.values()):
            new = hook(self.module, grad_input, self.grad_output)
            if new is not None:
                new = tuple(new) if isinstance(new, (tuple, list)) else (new,)
                if len(new) != len(grad_input):
                    raise RuntimeError(f"backward hook returned {len(new)} gradients for {len(grad_input)} inputs")
                grad_input = new
                result = new
        if result is None:
            return None
        return {i: (g._data if isinstance(g, Tensor) else g) for i, g in enumerate(result)}


def call_with_hooks(module, args, kwargs):
    pre, fwd, bwd = module._forward_pre_hooks, module._forward_hooks, module._backward_hooks
    for hook in list((pre or {}).values()):
        new = hook(module, args)
        if new is not None:
            args = new if isinstance(new, tuple) else (new,)
    state = None
    if bwd:
        state = _BackwardHookState(module, bwd)
        args = state.wrap_inputs(args)
    out = module.forward(*args, **kwargs)
    for hook in list((fwd or {}).values()):
        new = hook(module, args, out)
        if new is not None:
            out = new
    if state is not None:
        out = state.wrap_output(out)
    return out


def add_hook(module, table_name, hook):
    if not callable(hook):
        raise TypeError(f"a module hook must be callable, got {type(hook).__name__}")
    table = module.__dict__.get(table_name)
    if table is None:
        table = {}
        object.__setattr__(module, table_name, table)
    return RemovableHandle(table, hook)
