"""Matrix functions with their derivatives (torch.linalg's): solve, inv, det / slogdet, eigh / eigvalsh.
Batched over leading axes; NumPy or CuPy after the input's device. The adjoint formulas are the standard
ones (Giles, "An extended collection of matrix derivative results", 2008):

    X = A^-1 B:     dB = A^-T G,   dA = -dB X^T
    Y = A^-1:       dA = -Y^T G Y^T
    log|det A|:     dA = g A^-T
    A = V diag(w) V^T (symmetric):  dA = V (diag(gw) + F o (V^T gV)) V^T,  F_ij = 1 / (w_j - w_i), F_ii = 0
"""
from __future__ import annotations

import math

from ..autograd import Function
from ._common import array_module, unbroadcast


def _t(m):
    return m.swapaxes(-1, -2)


class Solve(Function):
    """X = A^-1 B (B: (..., n, k), or (..., n) for a vector right-hand side)."""

    def forward(self, a, b):
        xp = array_module(a)
        # torch's rule: B is a (batch of) vector(s) when 1-D, or when it has A's shape without A's last axis
        self.vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])
        self.b_shape = b.shape
        rhs = b[..., None] if self.vector else b
        self.a, self.x = a, xp.linalg.solve(a, rhs)
        return self.x[..., 0] if self.vector else self.x

    def backward(self, g):
        xp = array_module(g)
        g = g[..., None] if self.vector else g
        gb = xp.linalg.solve(_t(self.a), g)
        ga = unbroadcast(-gb @ _t(self.x), self.a.shape) if self.needs_input_grad[0] else None
        return ga, unbroadcast(gb[..., 0] if self.vector else gb, self.b_shape)  # B broadcast over A's batch

    def backward_graph(self, g):
        a, b = self.parents
        x = Solve.apply(a, b)
        x = x.unsqueeze(-1) if self.vector else x
        g = g.unsqueeze(-1) if self.vector else g
        from .double_backward import _unbroadcast

        gb = Solve.apply(a.transpose(-1, -2), g)
        ga = _unbroadcast(-(gb @ x.transpose(-1, -2)), a.shape) if self.needs_input_grad[0] else None
        return ga, _unbroadcast(gb.squeeze(-1) if self.vector else gb, b.shape)


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


def _tril_mirror(m, xp):
    """The lower triangle of m copied onto the upper (QR's backward 'copyltu')."""
    lower = xp.tril(m, -1)
    return lower + _t(lower) + xp.eye(m.shape[-1], dtype=m.dtype) * xp.diagonal(m, axis1=-2, axis2=-1)[..., None, :]


class QR(Function):
    """The reduced QR factorization A = Q R of (..., m, n), k = min(m, n): Q (..., m, k) and R (..., k, n) packed
    side by side in one (..., m, k + n) array (R's rows below k zero) for the caller to slice. Gradient for m >= n
    (tall or square),
    the formula of Walter & Lehmann (2018) that torch uses: gA = (gQ + Q copyltu(R gR^T - gQ^T Q)) R^-T."""

    def forward(self, a):
        xp = array_module(a)
        m, n = a.shape[-2:]
        self.q, self.r = xp.linalg.qr(a, mode="reduced")
        self.m, self.n, self.k = m, n, min(m, n)
        out = xp.zeros(a.shape[:-2] + (m, self.k + n), dtype=a.dtype)
        out[..., :m, :self.k] = self.q
        out[..., :self.k, self.k:] = self.r
        return out

    def backward(self, g):
        xp = array_module(g)
        if self.m < self.n:
            raise NotImplementedError("qr: the gradient of a wide matrix's QR (m < n) is not implemented")
        gq, gr = g[..., :self.m, :self.k], g[..., :self.k, self.k:]
        q, r = self.q, self.r
        mirrored = _tril_mirror(r @ _t(gr) - _t(gq) @ q, xp)
        b = gq + q @ mirrored
        return _t(xp.linalg.solve(r, _t(b)))  # b R^-T


class SVD(Function):
    """The thin SVD A = U diag(S) V^T of (..., m, n), k = min(m, n); returns U, S, V^T packed as
    (..., m*k + k + k*n) for the caller to slice. Backward: Townsend (2016), the formula torch uses for real
    inputs; repeated singular values make it infinite (as torch's)."""

    def forward(self, a):
        xp = array_module(a)
        self.u, self.s, self.vh = xp.linalg.svd(a, full_matrices=False)
        self.shape = a.shape
        lead = a.shape[:-2]
        return xp.concatenate([self.u.reshape(lead + (-1,)), self.s, self.vh.reshape(lead + (-1,))], axis=-1)

    def backward(self, g):
        xp = array_module(g)
        m, n = self.shape[-2:]
        k = min(m, n)
        lead = self.shape[:-2]
        gu = g[..., :m * k].reshape(lead + (m, k))
        gs = g[..., m * k:m * k + k]
        gvh = g[..., m * k + k:].reshape(lead + (k, n))
        u, s, v = self.u, self.s, _t(self.vh)
        gv = _t(gvh)
        s2 = s * s
        diff = s2[..., None, :] - s2[..., :, None]  # s_j^2 - s_i^2
        off = ~xp.eye(k, dtype=bool)
        f = xp.where(off, 1.0 / xp.where(off, diff, 1.0), 0.0)
        ut_gu, vt_gv = _t(u) @ gu, _t(v) @ gv
        j = f * (ut_gu - _t(ut_gu))
        kk = f * (vt_gv - _t(vt_gv))
        sd = s[..., None, :]  # right-multiplication by diag(S) scales columns
        inner = j * sd + s[..., :, None] * kk + xp.eye(k) * gs[..., None, :]  # J S + S K + diag(gS)
        ga = u @ inner @ _t(v)
        with xp.errstate(divide="ignore", invalid="ignore"):
            inv_s = 1.0 / s
        if m > k:  # the part of gU outside U's span
            ga = ga + (gu - u @ ut_gu) * inv_s[..., None, :] @ _t(v)
        if n > k:
            ga = ga + u @ (_t(gv - v @ vt_gv) * inv_s[..., :, None])
        return ga


# ---- the matrix exponential -------------------------------------------------------------------------------
# Scaling and squaring on the [13/13] Pade approximant (Higham, "The scaling and squaring method for the
# matrix exponential revisited", SIAM J. Matrix Anal. Appl. 26(4), 2005: its b_0..b_13 and theta_13, the
# largest 1-norm at which the approximant is exact to double precision): A / 2^s with s the fewest halvings
# that bring ||A||_1 under theta_13, then the approximant squared s times. Each matrix of a batch has its own s
# (a common one would over-scale the small ones, which loses accuracy in the squarings).
_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0, 129060195264000.0,
           10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0, 40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def _expm_one(a, xp):
    norm = float(xp.abs(a).sum(axis=0).max()) if a.size else 0.0
    if not xp.isfinite(norm):
        return xp.full_like(a, xp.nan)
    s = max(0, int(xp.ceil(xp.log2(norm / _THETA13)))) if norm > _THETA13 else 0
    a = a / a.dtype.type(2.0**s)
    b = [a.dtype.type(c) for c in _PADE13]
    eye = xp.eye(a.shape[0], dtype=a.dtype)
    a2 = a @ a
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = a @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2) + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * eye)
    v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * eye
    r = xp.linalg.solve(v - u, v + u)
    for _ in range(s):
        r = r @ r
    return r


def expm(a):
    """exp of every square matrix of a (..., n, n) NumPy or CuPy array."""
    xp = array_module(a)
    flat = a.reshape((math.prod(a.shape[:-2]),) + a.shape[-2:])
    out = xp.empty_like(flat)
    for i in range(flat.shape[0]):
        out[i] = _expm_one(flat[i], xp)
    return out.reshape(a.shape)


def _expm_block(a, g, xp):
    """The top-right block of exp([[a, g], [0, a]]): the Frechet derivative of exp at a in direction g
    (Mathias 1996), batched."""
    n = a.shape[-1]
    block = xp.zeros(a.shape[:-2] + (2 * n, 2 * n), dtype=a.dtype)
    block[..., :n, :n] = a
    block[..., n:, n:] = a
    block[..., :n, n:] = g
    return expm(block)[..., :n, n:]


class MatrixExp(Function):
    """Y = exp(A). The adjoint of the Frechet derivative is the Frechet derivative at A^T:
    dA = L(A^T, G), the top-right block of exp([[A^T, G], [0, A^T]])."""

    def forward(self, a):
        self.a = a
        return expm(a)

    def backward(self, g):
        return _expm_block(_t(self.a), g, array_module(g))

    def backward_graph(self, g):
        from ..tensor import cat, zeros_like

        at = self.parents[0].transpose(-1, -2)
        top = cat([at, g], dim=-1)
        bottom = cat([zeros_like(at), at], dim=-1)
        n = at.shape[-1]
        return MatrixExp.apply(cat([top, bottom], dim=-2))[..., :n, n:]


# ---- LU with partial pivoting ----------------------------------------------------------------------------
def lu_packed(a):
    """Doolittle LU with partial pivoting (LAPACK getrf's choices: the largest |entry| of the column, the
    first on a tie) of each square matrix of a: (lu, pivots, perm) with lu = L - I + U packed, pivots the
    1-based rows swapped at each step (LAPACK's, torch's int32) and perm the row order, A[perm] = L U.
    A zero pivot (a singular matrix) leaves its column unscaled, as getrf does."""
    xp = array_module(a)
    n = a.shape[-1]
    batch = a.shape[:-2]
    count = math.prod(batch)
    lu = a.reshape((count, n, n)).copy()
    perm = xp.broadcast_to(xp.arange(n), (count, n)).copy()
    pivots = xp.empty((count, n), dtype=xp.int32)
    rows = xp.arange(count)
    for j in range(n):
        p = j + xp.argmax(xp.abs(lu[:, j:, j]), axis=1)
        pivots[:, j] = p + 1
        swap = p != j
        if swap.any():
            r, pr = rows[swap], p[swap]
            lu[r, j], lu[r, pr] = lu[r, pr].copy(), lu[r, j].copy()
            perm[r, j], perm[r, pr] = perm[r, pr].copy(), perm[r, j].copy()
        pivot = lu[:, j, j]
        safe = xp.where(pivot == 0, 1, pivot)
        lu[:, j + 1:, j] /= safe[:, None]
        lu[:, j + 1:, j + 1:] -= lu[:, j + 1:, j:j + 1] * lu[:, j:j + 1, j + 1:]
    return lu.reshape(a.shape), pivots.reshape(batch + (n,)), perm.reshape(batch + (n,))


def permutation_matrix(perm, dtype):
    """P with P[perm[i], i] = 1: A = P L U for A[perm] = L U."""
    xp = array_module(perm)
    n = perm.shape[-1]
    p = xp.zeros(perm.shape + (n,), dtype=dtype)
    xp.put_along_axis(p, perm[..., :, None], 1, axis=-1)  # row i of P^T is e_perm[i]
    return _t(p)


class LUFactor(Function):
    """The packed LU of a square A (lu_packed). Gradient (Seeger et al. 2017; torch's linalg_lu_backward):
    with gL = tril(G, -1), gU = triu(G), dA = P L^-T (tril(L^T gL, -1) + triu(gU U^T)) U^-T."""

    def forward(self, a):
        self.lu, self.pivots, self.perm = lu_packed(a)
        return self.lu

    def backward(self, g):
        xp = array_module(g)
        n = g.shape[-1]
        eye = xp.eye(n, dtype=g.dtype)
        lower = xp.tril(self.lu, -1) + eye
        upper = xp.triu(self.lu)
        phi = xp.tril(_t(lower) @ xp.tril(g, -1), -1) + xp.triu(xp.triu(g) @ _t(upper))
        x = xp.linalg.solve(_t(lower), phi)  # L^-T phi
        y = _t(xp.linalg.solve(upper, _t(x)))  # (L^-T phi) U^-T
        return permutation_matrix(self.perm, g.dtype) @ y


def lu_perm(pivots):
    """The row order perm (A[perm] = L U) from LAPACK's 1-based pivots, batched."""
    xp = array_module(pivots)
    n = pivots.shape[-1]
    flat = pivots.reshape((-1, n)) if pivots.size else pivots.reshape((0, n))
    perm = xp.broadcast_to(xp.arange(n), flat.shape).copy()
    rows = xp.arange(flat.shape[0])
    for j in range(n):
        p = flat[:, j].astype(xp.int64) - 1
        perm[rows, j], perm[rows, p] = perm[rows, p].copy(), perm[rows, j].copy()
    return perm.reshape(pivots.shape)
