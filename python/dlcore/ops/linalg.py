"""Matrix functions with their derivatives (torch.linalg's): solve, inv, det / slogdet, eigh / eigvalsh.
Batched over leading axes; NumPy or CuPy after the input's device. The adjoint formulas are the standard
ones (Giles, "An extended collection of matrix derivative results", 2008):

    X = A^-1 B:     dB = A^-T G,   dA = -dB X^T
    Y = A^-1:       dA = -Y^T G Y^T
    log|det A|:     dA = g A^-T
    A = V diag(w) V^T (symmetric):  dA = V (diag(gw) + F o (V^T gV)) V^T,  F_ij = 1 / (w_j - w_i), F_ii = 0
"""
from __future__ import annotations

from ..autograd import Function
from ._common import array_module


def _t(m):
    return m.swapaxes(-1, -2)


def _sum_to(array, shape):
    """Sums broadcast leading axes away (A broadcast over B's batch)."""
    lead = array.ndim - len(shape)
    return array.sum(axis=tuple(range(lead))) if lead > 0 else array


class Solve(Function):
    """X = A^-1 B (B: (..., n, k), or (..., n) for a vector right-hand side)."""

    def forward(self, a, b):
        xp = array_module(a)
        self.vector = b.ndim == a.ndim - 1
        rhs = b[..., None] if self.vector else b
        self.a, self.x = a, xp.linalg.solve(a, rhs)
        return self.x[..., 0] if self.vector else self.x

    def backward(self, g):
        xp = array_module(g)
        g = g[..., None] if self.vector else g
        gb = xp.linalg.solve(_t(self.a), g)
        ga = _sum_to(-gb @ _t(self.x), self.a.shape) if self.needs_input_grad[0] else None
        if gb.shape != self.x.shape:
            gb = _sum_to(gb, self.x.shape)
        return ga, (gb[..., 0] if self.vector else gb)

    def backward_graph(self, g):
        a, b = self.parents
        x = Solve.apply(a, b)
        x = x.unsqueeze(-1) if self.vector else x
        g = g.unsqueeze(-1) if self.vector else g
        gb = Solve.apply(a.transpose(-1, -2), g)
        ga = -(gb @ x.transpose(-1, -2)) if self.needs_input_grad[0] else None
        return ga, (gb.squeeze(-1) if self.vector else gb)


class Inverse(Function):
    def forward(self, a):
        self.y = array_module(a).linalg.inv(a)
        return self.y

    def backward(self, g):
        return -_t(self.y) @ g @ _t(self.y)

    def backward_graph(self, g):
        yt = Inverse.apply(self.parents[0]).transpose(-1, -2)
        return -(yt @ g @ yt)


class LogAbsDet(Function):
    """log |det A| (its sign comes with it from slogdet, without a gradient)."""

    def forward(self, a):
        xp = array_module(a)
        self.sign, logabs = xp.linalg.slogdet(a)
        self.a = a
        return logabs

    def backward(self, g):
        xp = array_module(g)
        return g[..., None, None] * _t(xp.linalg.inv(self.a))

    def backward_graph(self, g):
        return g.unsqueeze(-1).unsqueeze(-1) * Inverse.apply(self.parents[0]).transpose(-1, -2)


class SymmetricEigen(Function):
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix, packed as (..., n + 1, n): row 0 the
    eigenvalues, rows 1.. the eigenvector matrix V (columns are the vectors). Only the lower triangle of A
    is read (torch's UPLO='L')."""

    def forward(self, a, uplo="L"):
        xp = array_module(a)
        self.w, self.v = xp.linalg.eigh(a, UPLO=uplo)
        return xp.concatenate([self.w[..., None, :], self.v], axis=-2)

    def backward(self, g):
        xp = array_module(g)
        gw, gv = g[..., 0, :], g[..., 1:, :]
        w, v = self.w, self.v
        gap = w[..., None, :] - w[..., :, None]  # w_j - w_i
        n = w.shape[-1]
        off = ~xp.eye(n, dtype=bool)
        f = xp.where(off, 1.0 / xp.where(off, gap, 1.0), 0.0)
        inner = f * (_t(v) @ gv)
        inner = inner + xp.eye(n) * gw[..., None, :]
        ga = v @ inner @ _t(v)
        return 0.5 * (ga + _t(ga))  # A symmetric: the gradient of its symmetric part
