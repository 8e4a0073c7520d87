"""``dlcore.autograd.grad``: gradients of outputs w.r.t. chosen inputs, optionally on the tape."""
from __future__ import annotations

from .function import _accumulate, run_backward
from .hooks import run_post_accumulate_grad_hooks


def _seeds(who, outputs, grad_outputs, create_graph):
    """The gradient each output's backward starts from (1 for one-element outputs): arrays, or Tensors
    when the backward pass is recorded."""
    from ..tensor import Tensor

    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"{who}: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    seeds = []
    for out, g in zip(outputs, grad_outputs):
        if not isinstance(out, Tensor) or not out.requires_grad:
            raise RuntimeError(f"{who}: an output does not require grad (no recorded graph)")
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(f"{who}: grad_outputs is needed for a non-scalar output of shape {out.shape}")
            g = Tensor(out._data.dtype.type(1) + 0 * out._data)
        elif not isinstance(g, Tensor):
            g = Tensor(g)
        if g.shape != out.shape:
            raise ValueError(f"{who}: grad_output shape {g.shape} does not match output shape {out.shape}")
        seeds.append(g if create_graph else g._data)
    return seeds


def _check_inputs(who, inputs):
    """`inputs` (a Tensor or a sequence of them, each requiring grad) as a list."""
    from ..tensor import Tensor

    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if not inputs:
        raise ValueError(f"{who}: inputs is empty")
    for t in inputs:
        if not isinstance(t, Tensor):
            raise TypeError(f"{who}: inputs must be Tensors, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"{who}: an input of shape {t.shape} does not require grad")
    return inputs


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """``torch.autograd.backward``: accumulates into ``.grad`` the gradients of `tensors` (a Tensor or a
    sequence, one pass through their shared graph), each seeded with its entry of `grad_tensors` (1 for
    one-element tensors). ``retain_graph`` defaults to ``create_graph``, as in ``Tensor.backward``.
    ``inputs`` (a Tensor or a sequence): only their ``.grad`` changes (leaves or not), and only the part of
    the graph leading to them runs.

    Example:
        >>> x = dlcore.tensor([1.0, 2.0], requires_grad=True)
        >>> dlcore.autograd.backward([(x * x).sum(), x.sum()])
        >>> x.grad.tolist()
        [3.0, 5.0]
    """
    from ..tensor import Tensor

    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    seeds = _seeds("backward", tensors, grad_tensors, create_graph)
    retain = create_graph if retain_graph is None else retain_graph
    if inputs is None:
        run_backward(tensors, seeds, retain_graph=retain, create_graph=create_graph)
        return
    inputs = _check_inputs("backward", inputs)
    results = run_backward(tensors, seeds, retain_graph=retain, create_graph=create_graph, inputs=inputs)
    for t, g in zip(inputs, results):
        if g is not None:
            _accumulate(t, g)
            if t._node is None:
                run_post_accumulate_grad_hooks(t)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """The gradients of `outputs` w.r.t. `inputs` (a tuple of Tensors), leaving every ``.grad`` alone.

    As ``torch.autograd.grad``: `grad_outputs` defaults to 1 for one-element
    outputs; ``create_graph=True`` records the backward pass, so the result
    can be differentiated again (gradient penalties, Hessian-vector products;
    see dlcore.ops.double_backward for the ops that support it, the others
    raise); the graph is kept when ``retain_graph`` (default:
    ``create_graph``). An input that no output depends on raises unless
    ``allow_unused=True``, which gives None for it.

    Example:
        >>> x = dlcore.tensor([1.0, 2.0], requires_grad=True)
        >>> (gx,) = dlcore.autograd.grad((x ** 3).sum(), x, create_graph=True)   # 3 x^2, on the tape
        >>> gx.sum().backward()                                                    # x.grad = 6 x
        >>> x.grad.tolist()
        [6.0, 12.0]
    """
    from ..tensor import Tensor

    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = _check_inputs("grad", inputs)
    seeds = _seeds("grad", outputs, grad_outputs, create_graph)
    retain = create_graph if retain_graph is None else retain_graph
    results = run_backward(outputs, seeds, retain_graph=retain, create_graph=create_graph, inputs=inputs)
    out = []
    for t, r in zip(inputs, results):
        if r is None and not allow_unused:
            raise RuntimeError(f"grad: an input of shape {t.shape} was not used in the graph of the outputs "
                               f"(pass allow_unused=True to get None for it)")
        out.append(r if r is None or isinstance(r, Tensor) else Tensor(r))
    return tuple(out)
