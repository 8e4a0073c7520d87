"""More of torch's tensor math as autograd Functions (NumPy/CuPy formulas, every floating dtype):
elementwise functions, flips and rolls, repeat, index_select, cumulative sums and products, prod, amax/amin,
triangular masks, einsum.

Derivatives are torch's, its choices included: rounding functions have zero gradient, amax/amin share the
gradient evenly among tied maxima, prod's gradient is exact where inputs are zero.
"""
from __future__ import annotations

import math
import string

from ..autograd import Function
from ._common import array_module, scatter_add
from .activation_more import erf


# ---- elementwise ------------------------------------------------------------------------------------------------
def _unary(name, forward, derivative, doc):
    """A Function y = forward(xp, x) with dy/dx = derivative(xp, x, y)."""

    def fwd(self, x):
        xp = array_module(x)
        self.x, self.y = x, forward(xp, x)
        return self.y

    def bwd(self, g):
        return g * derivative(array_module(g), self.x, self.y)

    return type(name, (Function,), {"forward": fwd, "backward": bwd, "__doc__": doc})


Sin = _unary("Sin", lambda xp, x: xp.sin(x), lambda xp, x, y: xp.cos(x), "sin(x)")
Cos = _unary("Cos", lambda xp, x: xp.cos(x), lambda xp, x, y: -xp.sin(x), "cos(x)")
Tan = _unary("Tan", lambda xp, x: xp.tan(x), lambda xp, x, y: 1 + y * y, "tan(x)")
Asin = _unary("Asin", lambda xp, x: xp.arcsin(x), lambda xp, x, y: 1 / xp.sqrt(1 - x * x), "asin(x)")
Acos = _unary("Acos", lambda xp, x: xp.arccos(x), lambda xp, x, y: -1 / xp.sqrt(1 - x * x), "acos(x)")
Atan = _unary("Atan", lambda xp, x: xp.arctan(x), lambda xp, x, y: 1 / (1 + x * x), "atan(x)")
Sinh = _unary("Sinh", lambda xp, x: xp.sinh(x), lambda xp, x, y: xp.cosh(x), "sinh(x)")
Cosh = _unary("Cosh", lambda xp, x: xp.cosh(x), lambda xp, x, y: xp.sinh(x), "cosh(x)")
Log1p = _unary("Log1p", lambda xp, x: xp.log1p(x), lambda xp, x, y: 1 / (1 + x), "log(1 + x), exact near 0")
Expm1 = _unary("Expm1", lambda xp, x: xp.expm1(x), lambda xp, x, y: y + 1, "exp(x) - 1, exact near 0")
Log2 = _unary("Log2", lambda xp, x: xp.log2(x), lambda xp, x, y: 1 / (x * math.log(2)), "log2(x)")
Log10 = _unary("Log10", lambda xp, x: xp.log10(x), lambda xp, x, y: 1 / (x * math.log(10)), "log10(x)")
Exp2 = _unary("Exp2", lambda xp, x: xp.exp2(x), lambda xp, x, y: y * math.log(2), "2 ** x")
Rsqrt = _unary("Rsqrt", lambda xp, x: 1 / xp.sqrt(x), lambda xp, x, y: -0.5 * y * y * y, "1 / sqrt(x)")
Reciprocal = _unary("Reciprocal", lambda xp, x: 1 / x, lambda xp, x, y: -y * y, "1 / x")
Erf = _unary("Erf", lambda xp, x: erf(x), lambda xp, x, y: (2 / math.sqrt(math.pi)) * xp.exp(-x * x), "erf(x)")


class Rounded(Function):
    """floor / ceil / round (half to even, torch's rule; ``decimals``) / trunc: zero gradient, as torch."""

    def forward(self, x, how="floor", decimals=0):
        xp = array_module(x)
        if how == "round":
            return xp.round(x, decimals)
        return {"floor": xp.floor, "ceil": xp.ceil, "trunc": xp.trunc}[how](x)

    def backward(self, g):
        return array_module(g).zeros_like(g)


# ---- rearrangements ---------------------------------------------------------------------------------------------
class Flip(Function):
    output_is_view = False

    def forward(self, x, dims=()):
        self.dims = dims
        return array_module(x).flip(x, axis=dims).copy()  # a copy, as torch.flip

    def backward(self, g):
        return array_module(g).flip(g, axis=self.dims)


class Roll(Function):
    def forward(self, x, shifts=0, dims=None):
        self.shifts, self.dims = shifts, dims
        return array_module(x).roll(x, shifts, axis=dims)

    def backward(self, g):
        shifts = tuple(-s for s in self.shifts) if isinstance(self.shifts, tuple) else -self.shifts
        return array_module(g).roll(g, shifts, axis=self.dims)


class Repeat(Function):
    """torch's Tensor.repeat (NumPy's tile): the gradient sums over the copies."""

    def forward(self, x, reps=()):
        self.original, self.reps = x.shape, reps
        self.padded = (1,) * (len(reps) - x.ndim) + x.shape  # repeat may add leading axes
        return array_module(x).tile(x, reps)

    def backward(self, g):
        split = []
        for r, n in zip(self.reps, self.padded):
            split += [r, n]  # each axis as (copies, size)
        return g.reshape(split).sum(axis=tuple(range(0, len(split), 2))).reshape(self.original)


class IndexSelect(Function):
    """x.index_select(dim, index): entries along `dim` picked by a 1-D integer index (repeats allowed)."""

    def forward(self, x, dim=0, index=None):
        self.shape, self.dim, self.index = x.shape, dim, index
        return array_module(x).take(x, index, axis=dim)

    def backward(self, g):
        xp = array_module(g)
        grad = xp.zeros(self.shape, dtype=g.dtype)
        moved = xp.moveaxis(grad, self.dim, 0)  # a view: index_add along axis 0 writes grad
        scatter_add(moved, self.index, xp.moveaxis(g, self.dim, 0))
        return grad


# ---- reductions along an axis -------------------------------------------------------------------------------
class Cumsum(Function):
    def forward(self, x, dim=0):
        self.dim = dim
        return array_module(x).cumsum(x, axis=dim)

    def backward(self, g):
        xp = array_module(g)
        return xp.flip(xp.cumsum(xp.flip(g, axis=self.dim), axis=self.dim), axis=self.dim)


def _exclusive_products(xp, x, dim):
    """For each position, the product of the entries before it and of those after it along dim (zeros safe)."""
    ones = xp.ones_like(xp.take(x, [0], axis=dim))
    before = xp.cumprod(xp.concatenate([ones, xp.take(x, range(x.shape[dim] - 1), axis=dim)], axis=dim), axis=dim)
    rev = xp.flip(x, axis=dim)
    after = xp.cumprod(xp.concatenate([ones, xp.take(rev, range(x.shape[dim] - 1), axis=dim)], axis=dim), axis=dim)
    return before, xp.flip(after, axis=dim)


class Prod(Function):
    """Product over `dim` (None: all elements); d/dx_i = the product of the others (exact with zeros)."""

    def forward(self, x, dim=None, keepdim=False):
        self.x, self.dim, self.keepdim = x, dim, keepdim
        return array_module(x).prod(x, axis=dim, keepdims=keepdim)

    def backward(self, g):
        xp, x = array_module(g), self.x
        flat = self.dim is None
        data, axis = (x.reshape(-1), 0) if flat else (x, self.dim)
        before, after = _exclusive_products(xp, data, axis)
        others = before * after
        if flat:
            return (others * g).reshape(x.shape)
        return others * (g if self.keepdim else xp.expand_dims(g, axis))


class Cumprod(Function):
    """Cumulative product; d out_j / d x_i = prod_{k <= j, k != i} x_k (exact with zeros, O(n^2) along dim)."""

    def forward(self, x, dim=0):
        self.x, self.dim = x, dim
        return array_module(x).cumprod(x, axis=dim)

    def backward(self, g):
        xp, x, dim = array_module(g), self.x, self.dim
        xm, gm = xp.moveaxis(x, dim, -1), xp.moveaxis(g, dim, -1)
        n = xm.shape[-1]
        grad = xp.zeros_like(xm)
        for i in range(n):
            without = xm.copy()
            without[..., i] = 1
            partial = xp.cumprod(without, axis=-1)[..., i:]  # out_j without x_i, for j >= i
            grad[..., i] = (partial * gm[..., i:]).sum(axis=-1)
        return xp.moveaxis(grad, -1, dim)


class AMax(Function):
    """amax/amin over dims (a tuple; None: all); the gradient is shared evenly among tied extremes (torch's)."""

    def forward(self, x, dims=None, keepdim=False, minimum=False):
        xp = array_module(x)
        out = (xp.amin if minimum else xp.amax)(x, axis=dims, keepdims=True)
        self.hits = x == out
        self.count = self.hits.sum(axis=dims, keepdims=True)
        self.keepdim = keepdim
        if keepdim:
            return out
        return out.reshape(()) if dims is None else out.squeeze(axis=dims)

    def backward(self, g):
        xp = array_module(g)
        g = g.reshape(self.count.shape)
        return xp.where(self.hits, g / self.count, 0).astype(g.dtype, copy=False)


class Triangle(Function):
    """tril / triu of the last two axes: the kept entries pass their gradient, the others get none."""

    def forward(self, x, upper=False, diagonal=0):
        xp = array_module(x)
        rows, cols = x.shape[-2:]
        self.mask = (xp.triu if upper else xp.tril)(xp.ones((rows, cols), dtype=bool), diagonal)
        return xp.where(self.mask, x, 0).astype(x.dtype, copy=False)

    def backward(self, g):
        return array_module(g).where(self.mask, g, 0).astype(g.dtype, copy=False)


# ---- einsum -------------------------------------------------------------------------------------------------
def parse_einsum(equation, shapes):
    """(operand subscripts, output subscripts) with '...' spelled out in unused letters and the implicit
    output (the letters used once, sorted) made explicit."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: the equation names {len(terms)} operands, got {len(shapes)}")
    unused = [c for c in string.ascii_letters if c not in equation]
    ell = 0
    for term, shape in zip(terms, shapes):
        if "..." in term:
            ell = max(ell, len(shape) - (len(term) - 3))
    fill = "".join(unused[:ell])
    out_terms = []
    for term, shape in zip(terms, shapes):
        if "..." in term:
            n = len(shape) - (len(term) - 3)
            term = term.replace("...", fill[ell - n:])
        if len(term) != len(shape):
            raise ValueError(f"einsum: subscripts '{term}' for an operand of shape {tuple(shape)}")
        out_terms.append(term)
    if arrow:
        out = rhs.replace("...", fill)
    else:
        letters = "".join(out_terms)
        out = fill + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in fill))
    return out_terms, out


class Einsum(Function):
    """einsum over any number of operands; operand k's gradient is the einsum of the output's gradient with
    the other operands into k's subscripts (broadcast over letters only k has, and over broadcast axes)."""

    def forward(self, *operands, equation=""):
        xp = array_module(operands[0])
        self.terms, self.out = parse_einsum(equation, [o.shape for o in operands])
        for term in self.terms:
            if len(set(term)) != len(term):
                raise ValueError(f"einsum: repeated subscripts within one operand ('{term}': diagonals) are "
                                 f"not supported")
        self.operands = operands
        spec = ",".join(self.terms) + "->" + self.out
        return xp.einsum(spec, *operands, optimize=len(operands) > 2)

    def backward(self, g):
        xp = array_module(g)
        grads = []
        for k, (term, operand) in enumerate(zip(self.terms, self.operands)):
            others = [(t, o) for j, (t, o) in enumerate(zip(self.terms, self.operands)) if j != k]
            known = set(self.out).union(*[set(t) for t, _ in others])
            target = "".join(c for c in term if c in known)  # letters only operand k has: summed away there
            spec = ",".join([self.out] + [t for t, _ in others]) + "->" + target
            grad = xp.einsum(spec, g, *[o for _, o in others], optimize=len(others) > 1)
            grad = grad.reshape([grad.shape[target.index(c)] if c in known else 1 for c in term])
            broadcast = tuple(i for i, n in enumerate(operand.shape) if n == 1 and grad.shape[i] != 1)
            if broadcast:  # a size-1 axis of k that the '...' broadcast against the others: summed
                grad = grad.sum(axis=broadcast, keepdims=True)
            grads.append(xp.broadcast_to(grad, operand.shape).astype(operand.dtype, copy=True))
        return tuple(grads)
