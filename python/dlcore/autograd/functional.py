"""``torch.autograd.functional``: Jacobians, Hessians and their products with vectors, of a function.

Each takes `func` (Tensors -> a Tensor or a tuple of Tensors) and `inputs` (a Tensor or a tuple); results
are shaped and nested as PyTorch's: a Jacobian block has shape ``output.shape + input.shape``; a tuple
stands wherever the inputs (or outputs) were given as a tuple. Built on reverse mode (``autograd.grad``):
a Jacobian takes one backward pass per output element, and the forward-mode products (``jvp``, ``hvp``) use
the double-backward trick, so the ops involved need double backward (dlcore.ops.double_backward; the
others raise naming the op). ``create_graph=True`` keeps the results on the tape; ``strict=True`` raises
where an output does not depend on an input instead of returning zeros there.
"""
from __future__ import annotations

from .api import grad
from .grad_mode import enable_grad

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]


def _as_tuple(values, who, what):
    from ..tensor import Tensor

    single = isinstance(values, Tensor)
    values = (values,) if single else tuple(values)
    for v in values:
        if not isinstance(v, Tensor):
            raise TypeError(f"{who}: {what} must be Tensors, got {type(v).__name__}")
    return values, single


def _fresh_inputs(inputs, create_graph):
    """Inputs that require grad for the call (kept on the caller's tape with create_graph, as torch)."""
    if create_graph:
        return tuple(x if x.requires_grad else x.detach().requires_grad_(True) for x in inputs)
    return tuple(x.detach().requires_grad_(True) for x in inputs)


def _call(func, inputs, who):
    outputs, single = _as_tuple(func(*inputs), who, "the outputs of func")
    return outputs, single


def _grads(outputs, inputs, seeds, create_graph, strict, who):
    """d(outputs . seeds)/d(inputs): zeros (or, strict, an error) where an input is unused."""
    from ..tensor import zeros_like

    pairs = [(o, s) for o, s in zip(outputs, seeds) if o.requires_grad]
    if not pairs:
        found = (None,) * len(inputs)
    else:
        found = grad([o for o, _ in pairs], inputs, [s for _, s in pairs], retain_graph=True,
                     create_graph=create_graph, allow_unused=True)
    result = []
    for x, g in zip(inputs, found):
        if g is None:
            if strict:
                raise RuntimeError(f"{who}: an output does not depend on the input of shape {x.shape} (strict=True)")
            g = zeros_like(x)
        result.append(g)
    return tuple(result)


def _finish(values, create_graph):
    return tuple(v if create_graph else v.detach() for v in values)


def _check_vectors(v, like, who, name):
    v, _ = _as_tuple(v, who, name)
    if len(v) != len(like) or any(a.shape != b.shape for a, b in zip(v, like)):
        raise ValueError(f"{who}: {name} has shapes {[tuple(a.shape) for a in v]}, expected "
                         f"{[tuple(b.shape) for b in like]}")
    return v


def _seeds_for_scalars(outputs, who):
    from ..tensor import ones_like

    for o in outputs:
        if o.numel() != 1:
            raise RuntimeError(f"{who}: v can be omitted only when func returns single-element tensors, got "
                               f"shape {o.shape}")
    return tuple(ones_like(o) for o in outputs)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product. `v` has the outputs' shapes (omit it for a
    single-element output)."""
    inputs, single_in = _as_tuple(inputs, "vjp", "inputs")
    with enable_grad():
        xs = _fresh_inputs(inputs, create_graph)
        outputs, single_out = _call(func, xs, "vjp")
        seeds = _seeds_for_scalars(outputs, "vjp") if v is None else _check_vectors(v, outputs, "vjp", "v")
        result = _grads(outputs, xs, seeds, create_graph, strict, "vjp")
    outputs, result = _finish(outputs, create_graph), _finish(result, create_graph)
    return (outputs[0] if single_out else outputs), (result[0] if single_in else result)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product, by the double-backward trick (the vjp with a
    placeholder u is linear in u; its own vjp with v is J v). `v` has the inputs' shapes."""
    from ..tensor import zeros_like

    inputs, single_in = _as_tuple(inputs, "jvp", "inputs")
    if v is None:
        if any(x.numel() != 1 for x in inputs):
            raise RuntimeError("jvp: v can be omitted only for single-element inputs")
        v = tuple(x.detach() * 0 + 1 for x in inputs)
    v = _check_vectors(v, inputs, "jvp", "v")
    with enable_grad():
        xs = _fresh_inputs(inputs, create_graph)
        outputs, single_out = _call(func, xs, "jvp")
        placeholders = tuple(zeros_like(o).requires_grad_(True) for o in outputs)
        vjps = _grads(outputs, xs, placeholders, True, strict, "jvp")
        differentiable = [(g, w) for g, w in zip(vjps, v) if g.requires_grad]
        if differentiable:
            found = grad([g for g, _ in differentiable], placeholders, [w for _, w in differentiable],
                         create_graph=create_graph, allow_unused=True)
        else:
            found = (None,) * len(placeholders)
        result = tuple(zeros_like(o) if g is None else g for o, g in zip(outputs, found))
    outputs, result = _finish(outputs, create_graph), _finish(result, create_graph)
    return (outputs[0] if single_out else outputs), (result[0] if single_out else result)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of func at inputs: block (i, j) has shape ``outputs[i].shape + inputs[j].shape``.

    One backward pass per output element (``vectorize`` is accepted and changes nothing; ``strategy``
    'forward-mode' gives the same numbers, computed in reverse mode).
    """
    from ..tensor import stack, zeros

    del vectorize
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(f"jacobian: strategy must be 'reverse-mode' or 'forward-mode', got {strategy!r}")
    inputs, single_in = _as_tuple(inputs, "jacobian", "inputs")
    with enable_grad():
        xs = _fresh_inputs(inputs, create_graph)
        outputs, single_out = _call(func, xs, "jacobian")
        blocks = []
        for o in outputs:
            flat = o.reshape(-1)
            rows = [_grads((flat[k],), xs, (None,), create_graph, strict, "jacobian") if o.requires_grad
                    else tuple(zeros(x.shape, dtype=x.dtype) for x in xs) for k in range(flat.shape[0])]
            per_input = []
            for j, x in enumerate(xs):
                if rows:
                    block = stack([r[j] for r in rows]).reshape(tuple(o.shape) + tuple(x.shape))
                else:
                    block = zeros(tuple(o.shape) + tuple(x.shape), dtype=x.dtype)
                if strict and not o.requires_grad:
                    raise RuntimeError("jacobian: an output does not depend on the inputs (strict=True)")
                per_input.append(block if create_graph else block.detach())
            blocks.append(per_input[0] if single_in else tuple(per_input))
    return blocks[0] if single_out else tuple(blocks)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a function returning a single-element tensor: block (i, j) has shape
    ``inputs[i].shape + inputs[j].shape`` (the Jacobian of its gradient)."""
    inputs, single_in = _as_tuple(inputs, "hessian", "inputs")

    def gradient(*xs):
        out, _ = _call(func, xs, "hessian")
        if len(out) != 1 or out[0].numel() != 1:
            raise RuntimeError(f"hessian: func must return a single-element tensor, got shapes "
                               f"{[tuple(o.shape) for o in out]}")
        gradients = _grads(out, xs, (None,), True, strict, "hessian")
        return gradients[0] if single_in else gradients

    return jacobian(gradient, inputs[0] if single_in else inputs, create_graph=create_graph, strict=strict,
                    vectorize=vectorize, strategy=outer_jacobian_strategy)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H): the vector-Hessian product of a single-element function."""
    return _hessian_product("vhp", func, inputs, v, create_graph, strict)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v): the Hessian-vector product; H is symmetric for a twice continuously
    differentiable func, so this is v^T H computed by two backward passes (as vhp)."""
    return _hessian_product("hvp", func, inputs, v, create_graph, strict)


def _hessian_product(who, func, inputs, v, create_graph, strict):
    inputs, single_in = _as_tuple(inputs, who, "inputs")
    if v is None:
        if any(x.numel() != 1 for x in inputs):
            raise RuntimeError(f"{who}: v can be omitted only for single-element inputs")
        v = tuple(x.detach() * 0 + 1 for x in inputs)
    v = _check_vectors(v, inputs, who, "v")
    with enable_grad():
        xs = _fresh_inputs(inputs, create_graph)
        outputs, _ = _call(func, xs, who)
        if len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError(f"{who}: func must return a single-element tensor")
        gradients = _grads(outputs, xs, (None,), True, strict, who)
        result = _grads(gradients, xs, v, create_graph, strict, who)
    out, result = _finish(outputs, create_graph), _finish(result, create_graph)
    return out[0], (result[0] if single_in else result)
