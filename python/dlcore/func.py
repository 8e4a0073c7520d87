"""``dlcore.func`` (torch.func): function transforms over dlcore's autograd.

``grad``, ``grad_and_value``, ``vjp``, ``jvp``, ``jacrev``, ``jacfwd``, ``hessian`` turn a function of
Tensors into the function computing its derivatives; they compose (``grad(grad(f))``) because each one
records its backward pass (create_graph) when its inputs come from an outer transform. ``functional_call``
runs a module with given parameters. ``vmap`` maps a function over a batch axis: here it is a loop over the
batch, running the function once per sample and stacking the results (torch vectorizes it; the values are
the same, the speed is a Python loop's), which is what per-sample gradients need (``vmap(grad(loss))``).
"""
from __future__ import annotations

from .autograd import functional as _functional
from .autograd.api import grad as _autograd_grad
from .autograd.grad_mode import enable_grad
from .nn.utils.stateless import functional_call
from .tensor import Tensor, stack

__all__ = ["functional_call", "grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "jvp", "vjp", "vmap"]


def _argnums(argnums, n, who):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for i in nums:
        if not -n <= i < n:
            raise ValueError(f"{who}: argnums {i} is out of range for {n} positional arguments")
    return tuple(i % n for i in nums), single


def _leaves(tree):
    """The Tensors of a pytree (a Tensor, or dicts / lists / tuples of them), in order."""
    if isinstance(tree, dict):
        return [t for k in tree for t in _leaves(tree[k])]
    if isinstance(tree, (list, tuple)):
        return [t for item in tree for t in _leaves(item)]
    return [tree]


def _rebuild(tree, leaves):
    """`tree` with its leaves replaced, in order, from the iterator `leaves`."""
    if isinstance(tree, dict):
        return {k: _rebuild(tree[k], leaves) for k in tree}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_rebuild(item, leaves) for item in tree)
    return next(leaves)


def _track_one(x, who):
    """A differentiable stand-in for x: connected to x's own graph when an outer transform differentiates x
    (so transforms compose), else a fresh leaf."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{who}: the differentiated arguments must be Tensors (or dicts/lists of them), got "
                        f"{type(x).__name__}")
    return x * 1 if x.requires_grad else x.detach().requires_grad_(True)


def _track(tree, who):
    return _rebuild(tree, iter([_track_one(t, who) for t in _leaves(tree)]))


def _split_aux(result, has_aux, who):
    if not has_aux:
        return result, None
    if not isinstance(result, tuple) or len(result) != 2:
        raise RuntimeError(f"{who}: has_aux=True needs func to return (output, aux)")
    return result


def grad_and_value(func, argnums=0, has_aux=False):
    """A function returning (d func / d args[argnums], func(args)); func returns a one-element Tensor, or
    (that, aux) with ``has_aux``: then the result is (gradient, (value, aux)), as torch's."""

    def wrapper(*args, **kwargs):
        nums, single = _argnums(argnums, len(args), "grad")
        outer = any(isinstance(t, Tensor) and t.requires_grad for i in nums for t in _leaves(args[i]))
        args = list(args)
        with enable_grad():
            for i in nums:
                args[i] = _track(args[i], "grad")
            output, aux = _split_aux(func(*args, **kwargs), has_aux, "grad")
            if not isinstance(output, Tensor) or output.numel() != 1:
                raise RuntimeError(f"grad: func must return a one-element Tensor, got "
                                   f"{getattr(output, 'shape', type(output).__name__)}")
            leaves = [t for i in nums for t in _leaves(args[i])]
            if output.requires_grad:
                found = _autograd_grad(output, leaves, create_graph=True, allow_unused=True)
            else:
                found = (None,) * len(leaves)
        found = [t * 0 if g is None else g for t, g in zip(leaves, found)]
        if not outer:
            found, output = [g.detach() for g in found], output.detach()
        found = iter(found)
        grads = tuple(_rebuild(args[i], found) for i in nums)  # each gradient shaped as its argument
        gradient = grads[0] if single else grads
        return (gradient, (output, aux)) if has_aux else (gradient, output)

    return wrapper


def grad(func, argnums=0, has_aux=False):
    """A function returning d func / d args[argnums] (a tuple for several argnums; with ``has_aux``,
    (gradient, aux))."""
    both = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        gradient, value = both(*args, **kwargs)
        return (gradient, value[1]) if has_aux else gradient

    return wrapper


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn[, aux]): vjp_fn(cotangents) gives one gradient per primal."""
    with enable_grad():
        tracked = [_track(p, "vjp") for p in primals]
        output, aux = _split_aux(func(*tracked), has_aux, "vjp")

    def vjp_fn(*cotangents):
        outputs = output if isinstance(output, tuple) else (output,)
        if len(cotangents) == 1 and isinstance(cotangents[0], tuple) and isinstance(output, tuple):
            cotangents = cotangents[0]
        pairs = [(o, c) for o, c in zip(outputs, cotangents) if o.requires_grad]
        with enable_grad():
            grads = _autograd_grad([o for o, _ in pairs], tracked, [c for _, c in pairs], retain_graph=True,
                                   create_graph=True, allow_unused=True) if pairs else (None,) * len(tracked)
        return tuple(t * 0 if g is None else g for t, g in zip(tracked, grads))

    detached = tuple(o.detach() for o in output) if isinstance(output, tuple) else output.detach()
    return (detached, vjp_fn, aux) if has_aux else (detached, vjp_fn)


def jvp(func, primals, tangents, *, has_aux=False):
    """(func(*primals), J tangents) (torch.func.jvp: primals and tangents are tuples)."""
    if has_aux:
        raise NotImplementedError("jvp: has_aux is not supported")
    out, jv = _functional.jvp(lambda *xs: func(*xs), tuple(primals), tuple(tangents))
    return out, jv


def jacrev(func, argnums=0, has_aux=False):
    """A function returning the Jacobian of func w.r.t. args[argnums] (reverse mode, one backward pass
    per output element); blocks of shape output.shape + input.shape."""
    if has_aux:
        raise NotImplementedError("jacrev: has_aux is not supported")

    def wrapper(*args):
        nums, single = _argnums(argnums, len(args), "jacrev")

        def of_selected(*selected):
            full = list(args)
            for i, s in zip(nums, selected):
                full[i] = s
            return func(*full)

        chosen = tuple(args[i] for i in nums)
        if not all(isinstance(x, Tensor) for x in chosen):
            raise TypeError("jacrev: the differentiated arguments must be Tensors")
        outer = any(x.requires_grad for x in chosen)  # inside another transform: stay on its tape
        return _functional.jacobian(of_selected, chosen[0] if single else chosen, create_graph=outer)

    return wrapper


def jacfwd(func, argnums=0, has_aux=False, randomness="error"):
    """The Jacobian as jacrev computes it (the same numbers; dlcore has no forward mode)."""
    del randomness
    return jacrev(func, argnums, has_aux)


def hessian(func, argnums=0):
    """A function returning the Hessian of a one-element-valued func w.r.t. args[argnums]."""
    return jacrev(jacrev(func, argnums), argnums)


def _in_dims(in_dims, args):
    dims = in_dims if isinstance(in_dims, (tuple, list)) else (in_dims,) * len(args)
    if len(dims) != len(args):
        raise ValueError(f"vmap: in_dims has {len(dims)} entries for {len(args)} arguments")
    sizes = {t.shape[d] for a, d in zip(args, dims) if d is not None for t in _leaves(a)}
    if len(sizes) != 1:
        raise ValueError(f"vmap: the mapped axes must have one size, got {sorted(sizes) or 'none mapped'}")
    return dims, sizes.pop()


def _take(a, d, i):
    """Sample i of the pytree `a` along axis d (None: a itself, shared by every sample)."""
    if d is None:
        return a
    return _rebuild(a, iter([t[(slice(None),) * (d % t.ndim) + (i,)] for t in _leaves(a)]))


def _stack_trees(results, dim):
    """The per-sample results (pytrees of one structure) stacked leaf by leaf along dim."""
    per_leaf = zip(*[_leaves(r) for r in results])
    return _rebuild(results[0], iter([stack(list(ts), dim=dim) for ts in per_leaf]))


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """func mapped over axis `in_dims` of its arguments (None: not mapped), results stacked on `out_dims`.

    A loop over the batch (see the module docstring); ``randomness`` and ``chunk_size`` are accepted."""
    del randomness, chunk_size

    def wrapper(*args):
        dims, size = _in_dims(in_dims, args)
        results = [func(*[_take(a, d, i) for a, d in zip(args, dims)]) for i in range(size)]
        if isinstance(results[0], tuple) and isinstance(out_dims, (tuple, list)):
            return tuple(_stack_trees([r[k] for r in results], o) for k, o in enumerate(out_dims))
        return _stack_trees(results, out_dims)

    return wrapper
