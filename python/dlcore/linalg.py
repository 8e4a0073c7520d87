"""``torch.linalg`` over dlcore Tensors, every function differentiable: ``vector_norm``, ``norm`` (vectors,
and the Frobenius norm of matrices), ``cross`` (``dim=-1`` by default, unlike ``torch.cross``), ``solve``,
``solve_triangular``, ``inv``, ``det``, ``slogdet``, ``cholesky``, ``eigh`` / ``eigvalsh``, ``matrix_power``.

The other matrix norms are not here (``norm`` raises ValueError for them), nor SVD, QR, LU or general
(non-symmetric) eigenvalues.
"""
from __future__ import annotations

import numbers

from .functions import vector_norm
from .ops import linalg as _ops


def norm(input, ord=None, dim=None, keepdim=False, dtype=None):
    """``torch.linalg.norm`` for what a vector norm computes: ord None (the 2-norm of all elements, or over
    `dim`), a number with an int `dim` or a 1-D input, or 'fro' over two dims (or a 2-D input)."""
    if ord is None:
        return vector_norm(input, 2, dim, keepdim, dtype=dtype)
    one_dim = isinstance(dim, numbers.Integral) or (dim is None and input.ndim == 1) or \
        (dim is not None and len(tuple(dim)) == 1)
    if ord == "fro" and not one_dim:
        return vector_norm(input, 2, dim, keepdim, dtype=dtype)
    if not isinstance(ord, str) and one_dim:
        return vector_norm(input, ord, dim, keepdim, dtype=dtype)
    raise ValueError(f"linalg.norm: ord={ord!r} over {'dim ' + str(dim) if dim is not None else 'a matrix'} is a "
                     f"matrix norm dlcore does not have (vector norms and 'fro' only)")


def cross(input, other, dim=-1):
    """The cross product of 3-vectors along `dim` (-1 by default), broadcasting; differentiable."""
    return input.cross(other, dim=dim)


def _check_square(who, a):
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"linalg.{who}: expected square matrices (..., n, n), got shape {tuple(a.shape)}")


def solve(A, B, *, left=True):
    """X with A X = B (``left=False``: X A = B); B (..., n, k) or a vector (..., n)."""
    _check_square("solve", A)
    if not left:
        return solve(A.transpose(-1, -2), B.transpose(-1, -2)).transpose(-1, -2)
    return _ops.Solve.apply(A, B)


def inv(A):
    _check_square("inv", A)
    return A.inverse()


def slogdet(A):
    """(sign, logabsdet), a named tuple as torch's: the log is differentiable, the sign is not."""
    _check_square("slogdet", A)
    return A.slogdet()


def det(A):
    """det A = sign * exp(log |det A|) (gradient det(A) A^-T; a singular A has no inverse: NaN gradient)."""
    _check_square("det", A)
    return A.det()


def cholesky(A, *, upper=False):
    """The Cholesky factor of a symmetric positive-definite A: L with A = L L^T (``upper``: L^T)."""
    from .distributions._special import cholesky as lower_factor

    _check_square("cholesky", A)
    lower = lower_factor(A)
    return lower.transpose(-1, -2) if upper else lower


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """X with A X = B for a triangular A (only that triangle is read); ``left=False``: X A = B."""
    from .distributions._special import solve_lower_triangular

    _check_square("solve_triangular", A)
    if not left:
        return solve_triangular(A.transpose(-1, -2), B.transpose(-1, -2), upper=not upper,
                                unitriangular=unitriangular).transpose(-1, -2)
    if unitriangular:
        n = A.shape[-1]
        from .functions import eye

        mask = eye(n, dtype=A.dtype)
        A = A * (1 - mask) + mask
    if upper:  # reversing rows and columns turns an upper-triangular system into a lower one
        return solve_lower_triangular(A.flip(-2, -1), B.flip(-2)).flip(-2)
    return solve_lower_triangular(A, B)


def eigh(A, UPLO="L"):
    """(eigenvalues ascending, eigenvectors as columns) of a symmetric A, reading its UPLO triangle;
    differentiable (degenerate eigenvalues make the eigenvector gradient infinite, as in torch)."""
    _check_square("eigh", A)
    packed = _ops.SymmetricEigen.apply(A, uplo=UPLO)
    return packed[..., 0, :], packed[..., 1:, :]


def eigvalsh(A, UPLO="L"):
    return eigh(A, UPLO)[0]


def matrix_power(A, n):
    """A^n for an integer n (negative: of the inverse), by repeated squaring on the tape."""
    _check_square("matrix_power", A)
    return A.matrix_power(n)


__all__ = ["cholesky", "cross", "det", "eigh", "eigvalsh", "inv", "matrix_power", "norm", "slogdet", "solve",
           "solve_triangular", "vector_norm"]
