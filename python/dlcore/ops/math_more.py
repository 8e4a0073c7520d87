"""More of torch's tensor math as autograd Functions (NumPy/CuPy formulas, every floating dtype):
elementwise functions, flips and rolls, repeat, index_select, cumulative sums and products, prod, amax/amin,
triangular masks, einsum, binary elementwise functions, scatter and index writes, diagonals, vector norms,
maximum/minimum with torch's tie rule (clamp with tensor bounds).

Derivatives are torch's, its choices included: rounding functions have zero gradient, amax/amin share the
gradient evenly among tied maxima, prod's gradient is exact where inputs are zero.
"""
from __future__ import annotations

import math
import string

from ..autograd import Function
from ._common import array_module, scatter_add, unbroadcast
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

    def bwd_graph(self, g):
        """The same derivative on the tape (create_graph): dlcore's functions stand in for NumPy's."""
        import dlcore

        x = self.parents[0]
        return g * derivative(dlcore, x, type(self).apply(x))

    return type(name, (Function,), {"forward": fwd, "backward": bwd, "backward_graph": bwd_graph, "__doc__": doc})


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

    def backward_graph(self, g):
        """The same einsums with Einsum itself on the tape (create_graph): every order differentiates."""
        grads = []
        for k, (term, operand) in enumerate(zip(self.terms, self.parents)):
            if not self.needs_input_grad[k]:
                grads.append(None)
                continue
            others = [(t, o) for j, (t, o) in enumerate(zip(self.terms, self.parents)) if j != k]
            known = set(self.out).union(*[set(t) for t, _ in others])
            target = "".join(c for c in term if c in known)
            spec = ",".join([self.out] + [t for t, _ in others]) + "->" + target
            grad = Einsum.apply(g, *[o for _, o in others], equation=spec)
            grad = grad.reshape([grad.shape[target.index(c)] if c in known else 1 for c in term])
            broadcast = tuple(i for i, n in enumerate(operand.shape) if n == 1 and grad.shape[i] != 1)
            if broadcast:
                grad = grad.sum(dim=broadcast, keepdim=True)
            grads.append(grad.expand(operand.shape) if tuple(grad.shape) != tuple(operand.shape) else grad)
        return tuple(grads)


# ---- binary elementwise (broadcasting) ------------------------------------------------------------------------
def _binary_fn(name, forward, derivatives, doc):
    """A Function y = forward(xp, a, b) (broadcast) with (dy/da, dy/db) = derivatives(xp, a, b, y); each
    gradient is summed back over the axes its input was broadcast along."""

    def fwd(self, a, b):
        xp = array_module(a, b)
        self.a, self.b, self.y = a, b, forward(xp, a, b)
        return self.y

    def bwd(self, g):
        da, db = derivatives(array_module(g), self.a, self.b, self.y)
        return (unbroadcast(g * da, self.a.shape) if self.needs_input_grad[0] else None,
                unbroadcast(g * db, self.b.shape) if self.needs_input_grad[1] else None)

    def bwd_graph(self, g):
        """The same derivatives on the tape (create_graph): dlcore's functions stand in for NumPy's."""
        import dlcore

        from .double_backward import _unbroadcast

        a, b = self.parents
        da, db = derivatives(dlcore, a, b, type(self).apply(a, b))
        return (_unbroadcast(g * da, a.shape) if self.needs_input_grad[0] else None,
                _unbroadcast(g * db, b.shape) if self.needs_input_grad[1] else None)

    return type(name, (Function,), {"forward": fwd, "backward": bwd, "backward_graph": bwd_graph, "__doc__": doc})


Atan2 = _binary_fn("Atan2", lambda xp, a, b: xp.arctan2(a, b),
                   lambda xp, a, b, y: (b / (a * a + b * b), -a / (a * a + b * b)), "atan2(a, b), the angle of (b, a)")
Hypot = _binary_fn("Hypot", lambda xp, a, b: xp.hypot(a, b), lambda xp, a, b, y: (a / y, b / y), "sqrt(a^2 + b^2)")
LogAddExp = _binary_fn("LogAddExp", lambda xp, a, b: xp.logaddexp(a, b),
                       lambda xp, a, b, y: (xp.exp(a - y), xp.exp(b - y)), "log(exp(a) + exp(b)), no overflow")
# torch's derivatives: d/db of a - trunc(a/b) b is -trunc(a/b), of a - floor(a/b) b is -floor(a/b)
Fmod = _binary_fn("Fmod", lambda xp, a, b: xp.fmod(a, b), lambda xp, a, b, y: (1, -xp.trunc(a / b)),
                  "C's fmod: the remainder takes the sign of a")
Remainder = _binary_fn("Remainder", lambda xp, a, b: xp.remainder(a, b), lambda xp, a, b, y: (1, -xp.floor(a / b)),
                       "Python's %: the remainder takes the sign of b")



def _extremum_derivatives(xp, a, b, larger):
    """torch's maximum/minimum gradients: a tie shares g evenly; a NaN passes g to both sides."""
    half = xp.where(a == b, 0.5, 1.0)
    a_loses, b_loses = (a < b, a > b) if larger else (a > b, a < b)
    return xp.where(a_loses, 0, half), xp.where(b_loses, 0, half)


def _extremum_graph(self, g):
    """maximum/minimum's backward for create_graph=True: its derivatives are piecewise constant masks."""
    from ..tensor import Tensor
    from .double_backward import _unbroadcast

    da, db = _extremum_derivatives(array_module(self.a), self.a, self.b, type(self) is Maximum)
    return (_unbroadcast(g * Tensor(da.astype(self.a.dtype)), self.a.shape) if self.needs_input_grad[0] else None,
            _unbroadcast(g * Tensor(db.astype(self.b.dtype)), self.b.shape) if self.needs_input_grad[1] else None)


Maximum = _binary_fn("Maximum", lambda xp, a, b: xp.maximum(a, b),
                     lambda xp, a, b, y: _extremum_derivatives(xp, a, b, True), "max(a, b), NaN propagating")
Minimum = _binary_fn("Minimum", lambda xp, a, b: xp.minimum(a, b),
                     lambda xp, a, b, y: _extremum_derivatives(xp, a, b, False), "min(a, b), NaN propagating")
Maximum.backward_graph = Minimum.backward_graph = _extremum_graph

# ---- writes along an axis ---------------------------------------------------------------------------------------
def _scatter_index(index, dim):
    """The fancy index that puts index[i, j, k] on axis `dim` and (i, j, k) on the others."""
    xp = array_module(index)
    grids = list(xp.ix_(*[xp.arange(n) for n in index.shape]))
    grids[dim] = index
    return tuple(grids)


class Scatter(Function):
    """x.scatter(dim, index, src) (reduce None: writes, the last write wins on repeats) or scatter_add
    (reduce "add": accumulates). src is an array of at least index's shape, or a number (no gradient).

    Gradients (torch's): x gets g, minus the written slots when writing; src gets g gathered at index."""

    def forward(self, x, src, dim=0, index=None, reduce=None):
        xp = array_module(x)
        number = getattr(src, "ndim", 0) == 0
        self.where, self.reduce, self.src_shape = _scatter_index(index, dim), reduce, None if number else src.shape
        self.region = tuple(slice(0, n) for n in index.shape)
        values = src[self.region] if self.src_shape is not None else src
        out = x.copy()
        if reduce == "add":
            scatter_add(out, self.where, xp.broadcast_to(xp.asarray(values, dtype=x.dtype), index.shape))
        else:
            out[self.where] = values
        return out

    def backward(self, g):
        xp = array_module(g)
        dx = dsrc = None
        if self.needs_input_grad[0]:
            dx = g.copy()
            if self.reduce is None:
                dx[self.where] = 0
        if len(self.needs_input_grad) > 1 and self.needs_input_grad[1]:
            dsrc = xp.zeros(self.src_shape, dtype=g.dtype)
            dsrc[self.region] = g[self.where]  # the src entries past index's shape were never read
        return dx, dsrc


class ScatterReduce(Function):
    """x.scatter_reduce(dim, index, src, reduce, include_self): each slot of x combines the src values sent to
    it ('sum', 'prod', 'mean', 'amax', 'amin'), with x's own value unless ``include_self=False``; slots no src
    reaches keep x. Gradients as torch's: 'amax'/'amin' share a slot's gradient evenly among the values equal
    to its result; 'prod' is exact where values are zero (the product of the others)."""

    _ufuncs = {"sum": "add", "mean": "add", "prod": "multiply", "amax": "maximum", "amin": "minimum"}
    _neutral = {"sum": 0.0, "mean": 0.0, "prod": 1.0, "amax": -math.inf, "amin": math.inf}

    def forward(self, x, src, dim=0, index=None, reduce="sum", include_self=True):
        xp = array_module(x)
        self.where, self.reduce, self.include_self = _scatter_index(index, dim), reduce, include_self
        self.region = tuple(slice(0, n) for n in index.shape)
        values = src[self.region]
        self.x, self.values, self.src_shape = x, values, src.shape
        self.hit = xp.zeros(x.shape, dtype=bool)
        self.hit[self.where] = True
        self.count = xp.zeros(x.shape, dtype=x.dtype)
        scatter_add(self.count, self.where, xp.ones(index.shape, dtype=x.dtype))
        out = xp.where(self.hit, x.dtype.type(self._neutral[reduce]), x) if not include_self else x.copy()
        getattr(xp, self._ufuncs[reduce]).at(out, self.where, values)
        if reduce == "mean":
            out = out / xp.where(self.hit, self.count + (1 if include_self else 0), 1)
        self.out = out
        return out

    def backward(self, g):
        xp = array_module(g)
        own = xp.where(self.hit, 1.0 if self.include_self else 0.0, 1.0).astype(g.dtype)  # x's share of a slot
        if self.reduce == "sum":
            dx, dsrc = g * own, g[self.where]
        elif self.reduce == "mean":
            per = g / xp.where(self.hit, self.count + (1 if self.include_self else 0), 1)
            dx, dsrc = per * own, per[self.where]
        elif self.reduce in ("amax", "amin"):
            x_wins = (self.x == self.out) & (own > 0)
            src_wins = self.values == self.out[self.where]
            ties = x_wins.astype(g.dtype)
            scatter_add(ties, self.where, src_wins.astype(g.dtype))
            per = g / xp.maximum(ties, 1)
            dx, dsrc = per * x_wins, per[self.where] * src_wins
        else:
            dx, dsrc = self._prod_grads(xp, g, own)
        full = xp.zeros(self.src_shape, dtype=g.dtype)
        full[self.region] = dsrc  # src entries past index's shape were never read
        return dx, full

    def _prod_grads(self, xp, g, own):
        """d(product)/d(each factor) = the product of the others, from the nonzero product and the zero count."""
        safe_x = xp.where((self.x == 0) | (own == 0), 1.0, self.x).astype(g.dtype)
        nonzero = safe_x.copy()
        xp.multiply.at(nonzero, self.where, xp.where(self.values == 0, 1.0, self.values).astype(g.dtype))
        zeros = ((self.x == 0) & (own > 0)).astype(g.dtype)
        scatter_add(zeros, self.where, (self.values == 0).astype(g.dtype))

        def others(value, zero_count, product):
            # the product of the slot's other factors: value the only zero -> the nonzero product; no zero ->
            # product / value; a zero among the others -> 0
            return xp.where(value == 0, xp.where(zero_count == 1, product, 0.0),
                            xp.where(zero_count == 0, product / xp.where(value == 0, 1.0, value), 0.0))

        dx = g * others(self.x, zeros, nonzero) * own
        dsrc = g[self.where] * others(self.values, zeros[self.where], nonzero[self.where])
        return dx, dsrc


class IndexPut(Function):
    """index_add (accumulate, times alpha) / index_copy (write) of `source` into x along `dim` at a 1-D index.

    Gradients: x gets g (minus the written slots for index_copy), source gets alpha * g taken at index."""

    def forward(self, x, source, dim=0, index=None, accumulate=True, alpha=1):
        xp = array_module(x)
        self.dim, self.index, self.accumulate, self.alpha = dim, index, accumulate, alpha
        out = x.copy()
        moved, values = xp.moveaxis(out, dim, 0), xp.moveaxis(source, dim, 0)  # views: writes reach out
        if accumulate:
            scatter_add(moved, index, values * alpha if alpha != 1 else values)
        else:
            moved[index] = values
        return out

    def backward(self, g):
        xp = array_module(g)
        dx = dsrc = None
        if self.needs_input_grad[0]:
            dx = g.copy()
            if not self.accumulate:
                xp.moveaxis(dx, self.dim, 0)[self.index] = 0
        if self.needs_input_grad[1]:
            dsrc = xp.take(g, self.index, axis=self.dim)
            if self.alpha != 1:
                dsrc = dsrc * self.alpha
        return dx, dsrc


class FillWhere(Function):
    """x with `value` (a 0-d array) where `mask` (broadcast to x) is True: index_fill. The gradient of x is zero
    at the filled slots; value gets the sum of g there."""

    def forward(self, x, value, mask=None):
        xp = array_module(x)
        self.mask = xp.broadcast_to(mask, x.shape)
        return xp.where(self.mask, value.astype(x.dtype), x)

    def backward(self, g):
        xp = array_module(g)
        dx = xp.where(self.mask, 0, g).astype(g.dtype, copy=False) if self.needs_input_grad[0] else None
        dv = xp.asarray(xp.where(self.mask, g, 0).sum(), dtype=g.dtype) if self.needs_input_grad[1] else None
        return dx, dv


# ---- diagonals --------------------------------------------------------------------------------------------------
def _diagonal_positions(xp, rows, cols, offset):
    """(row, col) indices of the `offset` diagonal of a rows x cols matrix."""
    n = max(0, min(rows + min(offset, 0), cols - max(offset, 0)))
    i = xp.arange(n)
    return i - min(offset, 0), i + max(offset, 0)


class Diagonal(Function):
    """The `offset` diagonal of the (dim1, dim2) planes, as a new last axis (a copy); the gradient goes back
    onto that diagonal."""

    def forward(self, x, offset=0, dim1=0, dim2=1):
        xp = array_module(x)
        self.shape, self.dims, self.offset = x.shape, (dim1, dim2), offset
        self.pos = _diagonal_positions(xp, x.shape[dim1], x.shape[dim2], offset)
        return xp.moveaxis(x, self.dims, (-2, -1))[(..., *self.pos)].copy()

    def backward(self, g):
        xp = array_module(g)
        dx = xp.zeros(self.shape, dtype=g.dtype)
        xp.moveaxis(dx, self.dims, (-2, -1))[(..., *self.pos)] = g  # a view: the write reaches dx
        return dx


class DiagEmbed(Function):
    """The last axis of x laid on the `offset` diagonal of new (dim1, dim2) planes, zeros elsewhere."""

    def forward(self, x, offset=0, dim1=-2, dim2=-1):
        xp = array_module(x)
        self.offset = offset
        m = x.shape[-1] + abs(offset)
        self.dims, self.pos = (dim1, dim2), _diagonal_positions(xp, m, m, offset)
        out = xp.zeros(x.shape[:-1] + (m, m), dtype=x.dtype)
        out[(..., *self.pos)] = x
        return xp.moveaxis(out, (-2, -1), self.dims).copy()

    def backward(self, g):
        return array_module(g).moveaxis(g, self.dims, (-2, -1))[(..., *self.pos)].copy()


# ---- norms ------------------------------------------------------------------------------------------------------
class VectorNorm(Function):
    """The p-norm over `dims` (None: all): (sum |x|^p)^(1/p); p = inf / -inf: max / min of |x|; p = 0: the count
    of nonzeros (zero gradient).

    torch's gradient choices: 0 where the norm is 0 (not nan), ties of the inf-norm share the gradient evenly."""

    def forward(self, x, p=2.0, dims=None, keepdim=False):
        xp = array_module(x)
        self.x, self.p, self.dims, self.keepdim = x, p, dims, keepdim
        a = xp.abs(x)
        if math.isinf(p):
            out = (xp.amax if p > 0 else xp.amin)(a, axis=dims, keepdims=True)
        elif p == 0:
            out = (a != 0).sum(axis=dims, keepdims=True).astype(x.dtype)
        elif p == 1:
            out = a.sum(axis=dims, keepdims=True)
        elif p == 2:
            out = xp.sqrt((x * x).sum(axis=dims, keepdims=True))
        else:
            out = (a ** p).sum(axis=dims, keepdims=True) ** (1.0 / p)
        self.norm = out
        if keepdim:
            return out
        return out.reshape(()) if dims is None else out.squeeze(axis=dims)

    def backward(self, g):
        xp, x, p, norm = array_module(g), self.x, self.p, self.norm
        g = g.reshape(norm.shape)
        if p == 0:
            return xp.zeros_like(x)
        if math.isinf(p):
            hits = xp.abs(x) == norm
            share = hits.sum(axis=self.dims, keepdims=True)
            return xp.where(hits, xp.sign(x) * g / share, 0).astype(x.dtype, copy=False)
        if p == 1:
            return xp.sign(x) * g
        safe = xp.where(norm == 0, 1, norm)  # a zero norm gives a zero gradient (torch), not 0/0
        if p == 2:
            return xp.where(norm == 0, 0, x * (g / safe)).astype(x.dtype, copy=False)
        scale = xp.where(norm == 0, 0, g / safe ** (p - 1))
        return (xp.sign(x) * xp.abs(x) ** (p - 1) * scale).astype(x.dtype, copy=False)

    def backward_graph(self, g):
        """backward with Tensor ops, for create_graph=True (gradient penalties of WGAN-GP take a norm)."""
        from ..tensor import Tensor
        from .select import Where

        xp, x, p, dtype = array_module(self.x), self.parents[0], self.p, self.x.dtype
        zero = Tensor(xp.zeros((), dtype))
        g = g.reshape(self.norm.shape)
        if p == 0:
            return Tensor(xp.zeros_like(self.x))
        sign = Tensor(xp.sign(self.x))
        if math.isinf(p):
            hits = xp.abs(self.x) == self.norm
            share = Tensor(hits.sum(axis=self.dims, keepdims=True).astype(dtype))
            return Where.apply(hits, sign * g / share, zero)
        if p == 1:
            return sign * g
        vanished = self.norm == 0
        norm = Where.apply(vanished, Tensor(xp.ones((), dtype)), VectorNorm.apply(x, p=p, dims=self.dims, keepdim=True))
        scale = Where.apply(vanished, zero, g / (norm if p == 2 else norm ** (p - 1)))
        return x * scale if p == 2 else sign * x.abs() ** (p - 1) * scale
