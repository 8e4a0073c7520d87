"""``torch.linalg`` over dlcore Tensors, every function differentiable: ``vector_norm``, ``norm`` (vectors,
and the Frobenius norm of matrices), ``cross`` (``dim=-1`` by default, unlike ``torch.cross``), ``solve``,
``solve_triangular``, ``inv``, ``det``, ``slogdet``, ``cholesky``, ``eigh`` / ``eigvalsh``, ``matrix_power``.

Also ``qr``, ``svd`` / ``svdvals``, ``pinv``, ``lstsq``, ``matrix_norm`` (every ord), ``matrix_rank``,
``matrix_exp``, ``householder_product``, ``cond``, ``multi_dot``, ``vecdot``, ``vander``, ``tensorinv`` /
``tensorsolve``, ``matmul`` / ``diagonal``, ``lu_factor`` / ``lu`` / ``lu_solve`` (square, partial pivoting). Not
here: LDL, general (non-symmetric) eigenvalues. A singular matrix raises ``LinAlgError`` (NumPy's, which CuPy
raises too); ``cholesky_ex`` / ``inv_ex`` / ``solve_ex`` report LAPACK's info instead.
"""
from __future__ import annotations

import collections as _collections
import math
import numbers

import numpy as _np

from .functions import vector_norm
from .ops import linalg as _ops
from .ops._common import array_module


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
    if not one_dim and (dim is None or len(tuple(dim)) == 2):
        out = matrix_norm(input, ord, dim=(-2, -1) if dim is None else dim, keepdim=keepdim)
        return out if dtype is None else out.to(dtype)
    raise ValueError(f"linalg.norm: ord={ord!r} over {'dim ' + str(dim) if dim is not None else 'a matrix'} is "
                     f"neither a vector nor a matrix norm")


def cross(input, other, dim=-1):
    """The cross product of 3-vectors along `dim` (-1 by default), broadcasting; differentiable."""
    return input.cross(other, dim=dim)


def _check_square(who, a):
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"linalg.{who}: expected square matrices (..., n, n), got shape {tuple(a.shape)}")


def _check_floating(who, *tensors):
    """The factorizations compute in the input's dtype: an integer one would truncate (as torch, refuse it)."""
    for t in tensors:
        if not _np.issubdtype(t.dtype, _np.floating):
            raise TypeError(f"linalg.{who}: expected a floating-point tensor, got {t.dtype}")


def solve(A, B, *, left=True):
    """X with A X = B (``left=False``: X A = B); B (..., n, k) or a vector (..., n)."""
    _check_square("solve", A)
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])  # torch's rule, as ops.Solve
    rows = B.shape[-1] if (vector or not left) else B.shape[-2]
    if rows != A.shape[-1]:
        raise ValueError(f"linalg.solve: A of shape {tuple(A.shape)} and B of shape {tuple(B.shape)} do not match "
                         f"(B needs {A.shape[-1]} {'columns' if not left else 'rows'})")
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


def matrix_exp(A):
    """exp(A) = sum A^k / k! of each square matrix (scaling and squaring on a [13/13] Pade approximant, as
    torch and SciPy); differentiable twice (the gradient is the Frechet derivative at A^T)."""
    _check_square("matrix_exp", A)
    return A.matrix_exp()


def householder_product(A, tau):
    """The first k columns of H_1 ... H_k (A: (..., n, k), n >= k; tau: (..., k)), H_i = I - tau_i v_i v_i^T
    with v_i = (0, ..., 0, 1, A[i+1:, i]): the Q of a QR factorization stored as LAPACK's geqrf leaves it.
    Recorded on the tape (k rank-one updates), so differentiable in A and tau."""
    from .functions import eye

    _check_floating("householder_product", A, tau)
    if A.ndim < 2 or A.shape[-2] < A.shape[-1]:
        raise ValueError(f"linalg.householder_product: A must be (..., n, k) with n >= k, got {tuple(A.shape)}")
    n, k = A.shape[-2], A.shape[-1]
    if tau.shape[-1] > k or tau.shape[:-1] != A.shape[:-2]:
        raise ValueError(f"linalg.householder_product: tau of shape {tuple(tau.shape)} does not fit A of shape "
                         f"{tuple(A.shape)} (at most k = {k} factors)")
    below = A.tril(-1)
    unit = eye(n, k, dtype=A.dtype, device=A.device)
    q = eye(n, dtype=A.dtype, device=A.device)
    for i in reversed(range(tau.shape[-1])):  # Q = H_1 (H_2 (... (H_m I))): each reflector on the left
        v = (below[..., :, i] + unit[:, i]).unsqueeze(-1)
        q = q - tau[..., i, None, None] * (v @ (v.transpose(-1, -2) @ q))
    return q[..., :, :k]


def lu_factor(A, *, pivot=True):
    """(LU, pivots) of each square A with partial pivoting, as torch.linalg.lu_factor: L (unit diagonal,
    below) and U (on and above) packed in one matrix, pivots the 1-based rows swapped at each step (int32).
    Differentiable in A; a singular A factors (a zero on U's diagonal) and its gradient is inf/NaN."""
    if not pivot:
        raise NotImplementedError("linalg.lu_factor: pivot=False (no pivoting) is a CUDA-only option in torch "
                                  "and not supported here")
    _check_square("lu_factor", A)
    _check_floating("lu_factor", A)
    packed, node = _ops.LUFactor.apply_with_node(A)
    from .tensor import Tensor

    return LUFactorResult(packed, Tensor(node.pivots))


def lu(A, *, pivot=True):
    """(P, L, U) with A = P L U, as torch.linalg.lu (square A): L unit lower, U upper, P a permutation."""
    from .functions import eye
    from .tensor import Tensor

    packed, pivots = lu_factor(A, pivot=pivot)
    n = A.shape[-1]
    perm = _ops.lu_perm(pivots._data)
    p = Tensor(_ops.permutation_matrix(perm, A.dtype))
    lower = packed.tril(-1) + eye(n, dtype=A.dtype, device=A.device)
    return LUResult(p, lower, packed.triu())


def lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    """X with A X = B (``adjoint``: A^T X = B; ``left=False``: X A = B or X A^T = B) from lu_factor's
    (LU, pivots); differentiable in LU and B (through the two triangular solves)."""
    from .tensor import Tensor

    _check_square("lu_solve", LU)
    _check_floating("lu_solve", LU, B)
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return lu_solve(LU, pivots, B.transpose(-1, -2), adjoint=not adjoint).transpose(-1, -2)
    if B.shape[-2] != LU.shape[-1]:
        raise ValueError(f"linalg.lu_solve: B of shape {tuple(B.shape)} needs {LU.shape[-1]} rows")
    p = Tensor(_ops.permutation_matrix(_ops.lu_perm(pivots._data), LU.dtype))
    if adjoint:  # A^T = U^T L^T P^T:  X = P L^-T U^-T B
        y = solve_triangular(LU.transpose(-1, -2), B, upper=False)
        return p @ solve_triangular(LU.transpose(-1, -2), y, upper=True, unitriangular=True)
    y = solve_triangular(LU, p.transpose(-1, -2) @ B, upper=False, unitriangular=True)
    return solve_triangular(LU, y, upper=True)


def _singular_info(A):
    """LAPACK getrf's info per matrix (int32, batch shape): 0, or the 1-based index of U's first zero pivot."""
    xp = array_module(A._data)
    packed = _ops.lu_packed(A.detach()._data)[0]
    zero = xp.diagonal(packed, axis1=-2, axis2=-1) == 0
    return xp.where(zero.any(-1), zero.argmax(-1) + 1, 0).astype(xp.int32)


def _on_good(A, info, fn):
    """fn on the matrices whose info is 0 (the others replaced by I on the tape, their results NaN)."""
    from .functions import eye, where
    from .tensor import Tensor

    xp = array_module(A._data)
    bad = Tensor(xp.asarray(info != 0)[..., None, None])
    out = fn(where(bad, eye(A.shape[-1], dtype=A.dtype, device=A.device), A))
    bad_out = Tensor(xp.asarray(info != 0).reshape(info.shape + (1,) * (out.ndim - info.ndim)))
    return where(bad_out, Tensor(xp.asarray(xp.nan, dtype=out._data.dtype)), out)


def _raise_on(info, who, what):
    if (info != 0).any():
        raise LinAlgError(f"linalg.{who}: {what} (info {info.ravel().tolist()[:8]})")


def cholesky_ex(A, *, upper=False, check_errors=False):
    """(L, info) as torch.linalg.cholesky_ex: info 0, or the order of the first leading minor that is not
    positive-definite; such matrices get NaN (torch leaves them undefined). ``check_errors`` raises instead."""
    from .tensor import Tensor

    _check_square("cholesky_ex", A)
    _check_floating("cholesky_ex", A)
    data = A.detach()._data
    data = data.get() if hasattr(data, "get") else _np.asarray(data)  # CuPy: checked on the host
    flat = data.reshape((-1,) + data.shape[-2:])
    info = _np.zeros(flat.shape[0], _np.int32)
    for i, m in enumerate(flat):
        if not _positive_definite(m):
            info[i] = next(k for k in range(1, m.shape[-1] + 1) if not _positive_definite(m[:k, :k]))
    info = info.reshape(data.shape[:-2])
    if check_errors:
        _raise_on(info, "cholesky_ex", "a matrix is not positive-definite")
    xp = array_module(A._data)
    info_x = xp.asarray(info)
    return CholeskyExResult(_on_good(A, info_x, lambda m: cholesky(m, upper=upper)), Tensor(info_x))


def _positive_definite(m):
    try:
        _np.linalg.cholesky(m)
        return True
    except _np.linalg.LinAlgError:
        return False


def inv_ex(A, *, check_errors=False):
    """(inverse, info) as torch.linalg.inv_ex: info 0, or (singular) the 1-based index of U's first zero
    pivot in A's LU; singular matrices get NaN. ``check_errors`` raises LinAlgError instead."""
    from .tensor import Tensor

    _check_square("inv_ex", A)
    _check_floating("inv_ex", A)
    info = _singular_info(A)
    if check_errors:
        _raise_on(info, "inv_ex", "a matrix is singular")
    return InvExResult(_on_good(A, info, inv), Tensor(info))


def solve_ex(A, B, *, left=True, check_errors=False):
    """(result, info) as torch.linalg.solve_ex (info as inv_ex's; singular systems get NaN)."""
    from .tensor import Tensor

    _check_square("solve_ex", A)
    _check_floating("solve_ex", A, B)
    info = _singular_info(A)
    if check_errors:
        _raise_on(info, "solve_ex", "a matrix is singular")
    return SolveExResult(_on_good(A, info, lambda m: solve(m, B, left=left)), Tensor(info))


def qr(A, mode="reduced"):
    """(Q, R) with A = Q R, Q's columns orthonormal, R upper-triangular (mode 'reduced'; 'r' gives (empty, R));
    differentiable for tall or square A."""
    from collections import namedtuple

    if mode not in ("reduced", "r"):
        raise ValueError(f"linalg.qr: mode must be 'reduced' or 'r', got {mode!r}")
    if A.ndim < 2:
        raise ValueError(f"linalg.qr: expected matrices (..., m, n), got shape {tuple(A.shape)}")
    m, n = A.shape[-2:]
    k = min(m, n)
    packed = _ops.QR.apply(A)
    q, r = packed[..., :k], packed[..., :k, k:]
    result = namedtuple("QR", ["Q", "R"])
    return result(q if mode == "reduced" else q[..., :0], r)


def svd(A, full_matrices=True):
    """(U, S, Vh) with A = U diag(S) Vh, singular values descending; differentiable (thin factors only:
    ``full_matrices=True`` is refused for non-square A, as its extra columns have no gradient)."""
    from collections import namedtuple

    if A.ndim < 2:
        raise ValueError(f"linalg.svd: expected matrices (..., m, n), got shape {tuple(A.shape)}")
    m, n = A.shape[-2:]
    if full_matrices and m != n:
        raise NotImplementedError("linalg.svd: full_matrices=True for a non-square matrix is not supported; "
                                  "pass full_matrices=False (the thin SVD)")
    k = min(m, n)
    packed = _ops.SVD.apply(A)
    lead = tuple(A.shape[:-2])
    u = packed[..., :m * k].reshape(lead + (m, k))
    s = packed[..., m * k:m * k + k]
    vh = packed[..., m * k + k:].reshape(lead + (k, n))
    return namedtuple("SVD", ["U", "S", "Vh"])(u, s, vh)


def svdvals(A):
    return svd(A, full_matrices=False)[1]


def matrix_rank(A, tol=None):
    """The number of singular values above tol (default: the largest times max(m, n) times eps)."""
    import numpy as np

    from .tensor import Tensor

    s = svdvals(A).detach().numpy()
    if tol is None:
        tol = s.max(axis=-1, keepdims=True) * max(A.shape[-2:]) * np.finfo(s.dtype).eps
    return Tensor((s > tol).sum(axis=-1).astype(np.int64))


def pinv(A, rtol=None):
    """The Moore-Penrose pseudo-inverse through the SVD; singular values at or below rtol * the largest (default
    max(m, n) * eps) are treated as zero. Differentiable where the rank does not change."""
    import numpy as np

    u, s, vh = svd(A, full_matrices=False)
    if rtol is None:
        rtol = max(A.shape[-2:]) * np.finfo(np.dtype(A.dtype)).eps
    keep = s.detach().numpy() > rtol * s.detach().numpy().max(axis=-1, keepdims=True)
    from .tensor import Tensor

    mask = Tensor(keep.astype(A.dtype))
    inverse = mask / (s + (1 - mask))  # 1/s where kept, 0 elsewhere (no division by a tiny s)
    return (vh.transpose(-1, -2) * inverse.unsqueeze(-2)) @ u.transpose(-1, -2)


def lstsq(A, B, rcond=None):
    """The least-squares solution X of A X = B (minimum norm), via the pseudo-inverse: (solution, residuals,
    rank, singular_values) as torch's named tuple (residuals and the rest are empty, as torch's default driver
    on the CPU returns for them)."""
    from collections import namedtuple

    from .functions import empty

    vector = B.ndim == A.ndim - 1
    solution = pinv(A, rcond) @ (B.unsqueeze(-1) if vector else B)
    result = namedtuple("LstsqResult", ["solution", "residuals", "rank", "singular_values"])
    return result(solution.squeeze(-1) if vector else solution, empty(0), empty(0), empty(0))


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False):
    """'fro', 'nuc' (sum of singular values), 2 / -2 (largest / smallest), 1 / -1 (max / min column abs sum),
    inf / -inf (max / min row abs sum); over the last two axes."""
    import math

    if tuple(dim) not in ((-2, -1), (A.ndim - 2, A.ndim - 1)):
        raise NotImplementedError("linalg.matrix_norm: only the last two axes (dim=(-2, -1)) are supported")
    if ord == "fro":
        out = (A * A).sum(dim=(-2, -1)).sqrt()
    elif ord in ("nuc", 2, -2):
        s = svdvals(A)
        out = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord == 2 else s.amin(-1))
    elif ord in (1, -1, math.inf, -math.inf):
        sums = A.abs().sum(dim=-2 if ord in (1, -1) else -1)
        out = sums.amax(-1) if ord in (1, math.inf) else sums.amin(-1)
    else:
        raise ValueError(f"linalg.matrix_norm: ord must be 'fro', 'nuc', 2, -2, 1, -1, inf or -inf, got {ord!r}")
    return out.unsqueeze(-1).unsqueeze(-1) if keepdim else out


LinAlgError = _np.linalg.LinAlgError
LUFactorResult = _collections.namedtuple("LUFactorResult", "LU pivots")
LUResult = _collections.namedtuple("LUResult", "P L U")
CholeskyExResult = _collections.namedtuple("CholeskyExResult", "L info")
InvExResult = _collections.namedtuple("InvExResult", "inverse info")
SolveExResult = _collections.namedtuple("SolveExResult", "result info")


def matmul(input, other):
    return input @ other


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The diagonal of each matrix (the last two axes by default, unlike torch.diagonal)."""
    return A.diagonal(offset, dim1, dim2)


def vecdot(x, y, *, dim=-1):
    """sum(x * y) along `dim`, broadcast (real tensors: no conjugation to do)."""
    return (x * y).sum(dim)


def multi_dot(tensors):
    """A_1 A_2 ... A_n in the order of fewest multiplications (the matrix-chain dynamic program); a first
    1-D operand is a row vector, a last 1-D one a column vector, as torch and NumPy."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise ValueError(f"linalg.multi_dot: expected at least 2 tensors, got {len(tensors)}")
    first_vec, last_vec = tensors[0].ndim == 1, tensors[-1].ndim == 1
    mats = [t.unsqueeze(0) if i == 0 and first_vec else t for i, t in enumerate(tensors)]
    mats[-1] = mats[-1].unsqueeze(-1) if last_vec else mats[-1]
    for i, t in enumerate(mats):
        if t.ndim != 2:
            raise ValueError(f"linalg.multi_dot: tensor {i} must be 2-D (the first and last may be 1-D), "
                             f"got shape {tuple(tensors[i].shape)}")
    dims = [mats[0].shape[0]] + [t.shape[1] for t in mats]
    for i in range(len(mats) - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise ValueError(f"linalg.multi_dot: tensors {i} and {i + 1} do not chain: {tuple(mats[i].shape)} "
                             f"and {tuple(mats[i + 1].shape)}")
    n = len(mats)
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k

    def chain(i, j):
        return mats[i] if i == j else chain(i, split[i][j]) @ chain(split[i][j] + 1, j)

    out = chain(0, n - 1)
    if first_vec:
        out = out.squeeze(0)
    return out.squeeze(-1) if last_vec else out


def cond(A, p=None):
    """The condition number of each matrix in the norm `p`: sigma_max / sigma_min for None, 2 and -2 (its
    inverse), any shape; otherwise ('fro', 'nuc', 1, -1, inf, -inf) matrix_norm(A) * matrix_norm(A^-1),
    square A only."""
    if p in (None, 2, -2):
        s = svdvals(A)
        ratio = s.amax(-1) / s.amin(-1)
        return 1 / ratio if p == -2 else ratio
    _check_square("cond", A)
    return matrix_norm(A, p) * matrix_norm(inv(A), p)


def vander(x, *, N=None):
    """Columns x^0, x^1, ..., x^(N-1) (increasing powers, as torch.linalg.vander; numpy.vander decreases)."""
    from .tensor import stack

    n = x.shape[-1] if N is None else N
    if n < 1:
        raise ValueError(f"linalg.vander: N must be at least 1, got {n}")
    cols = [x ** 0]
    for _ in range(1, n):
        cols.append(cols[-1] * x)
    return stack(cols, dim=-1)


def tensorinv(A, ind=2):
    """The inverse of A read as a matrix of prod(shape[:ind]) rows: shape shape[ind:] + shape[:ind]."""
    rows, cols = A.shape[:ind], A.shape[ind:]
    if math.prod(rows) != math.prod(cols):
        raise ValueError(f"linalg.tensorinv: prod(shape[:ind]) must equal prod(shape[ind:]), got {tuple(A.shape)}")
    return inv(A.reshape(math.prod(rows), math.prod(cols))).reshape(*cols, *rows)


def tensorsolve(A, B, dims=None):
    """X with tensordot(A, X, X.ndim) = B: A read as a square matrix of B.numel() rows (dims: axes of A moved
    to the end first)."""
    if dims is not None:
        keep = [d for d in range(A.ndim) if d not in [d % A.ndim for d in dims]]
        A = A.permute(*keep, *[d % A.ndim for d in dims])
    x_shape = A.shape[B.ndim:]
    if math.prod(A.shape[:B.ndim]) != math.prod(x_shape) or tuple(A.shape[:B.ndim]) != tuple(B.shape):
        raise ValueError(f"linalg.tensorsolve: A of shape {tuple(A.shape)} does not fit B of shape {tuple(B.shape)}")
    n = math.prod(x_shape)
    return solve(A.reshape(n, n), B.reshape(n)).reshape(*x_shape)


__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "cond", "cross", "diagonal", "det", "eigh", "eigvalsh",
           "householder_product", "inv", "inv_ex", "lstsq", "lu", "lu_factor", "lu_solve", "matmul", "matrix_exp",
           "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv", "qr", "slogdet", "solve",
           "solve_ex", "solve_triangular", "svd", "svdvals", "tensorinv", "tensorsolve", "vander", "vecdot",
           "vector_norm"]
