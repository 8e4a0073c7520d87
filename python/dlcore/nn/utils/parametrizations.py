"""torch.nn.utils.parametrizations: orthogonal, weight_norm and spectral_norm as parametrizations (state-dict names
``parametrizations.weight.original0/1`` and ``parametrizations.weight.original`` + ``.0._u/._v``, as torch)."""
from __future__ import annotations

from ... import random as _random
from ...autograd import no_grad
from ...ops._common import array_module
from ...tensor import Tensor, cat
from ..module import Module
from . import _norms
from .parametrize import register_parametrization

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return _norms.weight_from_norm(weight_g, weight_v, self.dim)

    def right_inverse(self, weight):
        return _norms.norm_except_dim(weight, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """w = g * v / ||v||: the tensor `name` split into a magnitude g (``original0``) and a direction v
    (``original1``), norms over every axis but `dim` (None: the whole tensor). Returns the module."""
    return register_parametrization(module, name, _WeightNorm(dim), unsafe=True)


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        if n_power_iterations <= 0:
            raise ValueError(f"spectral_norm: n_power_iterations must be positive, got {n_power_iterations}")
        self.dim = dim % weight.ndim if weight.ndim > 1 else 0
        self.eps = eps
        self.n_power_iterations = n_power_iterations
        if weight.ndim > 1:
            matrix = _norms.as_matrix(weight.detach(), self.dim)._data
            u, v = _norms.initial_vectors(matrix, eps, _random.default_generator(), iterations=15)
            self.register_buffer("_u", Tensor(u))
            self.register_buffer("_v", Tensor(v))

    def forward(self, weight):
        if weight.ndim == 1:  # a vector's spectral norm is its 2-norm
            return weight / max(float(_norms.norm_except_dim(weight.detach(), None).item()), self.eps)
        if self.training:  # the estimates improve as training goes, one iteration per forward (torch)
            with no_grad():
                matrix = _norms.as_matrix(weight.detach(), self.dim)._data
                _norms.power_iteration(matrix, self._u._data, self._v._data, self.n_power_iterations, self.eps,
                                       u_first=True)
        return _norms.spectral_normalized(weight, self._u._data, self._v._data, self.eps, self.dim)

    def right_inverse(self, value):
        return value  # the original keeps any scale; forward divides it out


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """W / sigma(W), sigma the largest singular value estimated by power iteration (Miyato et al. 2018), as
    torch's parametrization: one iteration per training forward, the estimates kept in buffers. `dim`:
    the output axis (default 1 for ConvTranspose, else 0). Returns the module."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"spectral_norm: module '{type(module).__name__}' has no parameter or buffer '{name}'")
    dim = _norms.spectral_dim(module) if dim is None else dim
    return register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))


_ORTHOGONAL_MAPS = ("matrix_exp", "cayley", "householder")


def _positive_qr(q, xp):
    """The Q of q = QR with R's diagonal made positive (unique for a full-rank q), batched."""
    qq, r = xp.linalg.qr(q)
    d = xp.sign(xp.diagonal(r, axis1=-2, axis2=-1))
    return qq * xp.where(d == 0, 1, d)[..., None, :]


class _Orthogonal(Module):
    """torch's _Orthogonal: a tall (n >= k; a wide one runs transposed) orthogonal Q from an unconstrained
    X. matrix_exp / cayley: A = tril(X) - tril(X)^T (zero-padded to n x n) is skew-symmetric and exp(A) or
    (I - A/2)^-1 (I + A/2) orthogonal, its first k columns taken; householder: the reflectors below X's
    diagonal (tau = 2 / ||v||^2), the columns signed by X's diagonal. With a `base` (use_trivialization),
    Q = base @ that: the optimizer moves X near 0, a chart around the current point."""

    def __init__(self, weight, orthogonal_map, use_trivialization=True):
        super().__init__()
        self.shape = tuple(weight.shape)
        self.orthogonal_map = orthogonal_map
        self.use_trivialization = use_trivialization
        self.register_buffer("base", None)

    def forward(self, x):
        from ... import linalg
        from ...functions import eye

        n, k = x.shape[-2], x.shape[-1]
        transposed = n < k
        if transposed:
            x = x.mT
            n, k = k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            x = x.tril()
            if n != k:
                x = cat([x, x.new_zeros(x.shape[:-1] + (n - k,))], dim=-1)
            a = x - x.mT
            if self.orthogonal_map == "matrix_exp":
                q = linalg.matrix_exp(a)
            else:
                ident = eye(n, dtype=a.dtype, device=a.device)
                q = linalg.solve(ident - 0.5 * a, ident + 0.5 * a)
            q = q[..., :k]
        else:
            below = x.tril(-1)
            tau = 2.0 / (1.0 + (below * below).sum(-2))
            q = linalg.householder_product(below, tau)
            # X's diagonal (+-1 after right_inverse) signs the columns, outside the gradient, as torch
            signs = array_module(x._data).trunc(x.diagonal(dim1=-2, dim2=-1)._data)
            q = q * Tensor(signs[..., None, :])
        if self.base is not None:
            q = self.base @ q
        return q.mT if transposed else q

    def right_inverse(self, q):
        xp = array_module(q._data)
        if tuple(q.shape) != self.shape:
            raise ValueError(f"orthogonal: expected a matrix of shape {self.shape}, got {tuple(q.shape)}")
        n, k = q.shape[-2], q.shape[-1]
        data = q.detach()._data
        if n < k:
            data = xp.swapaxes(data, -1, -2)
            n, k = k, n
        if not self.use_trivialization:
            if self.orthogonal_map != "householder":
                raise NotImplementedError("orthogonal: assigning to the matrix_exp or cayley map needs "
                                          "use_trivialization=True (it has no inverse otherwise)")
            raw, tau = xp.linalg.qr(data, mode="raw") if data.ndim == 2 else _batched_raw_qr(data, xp)
            a = xp.swapaxes(raw, -1, -2).copy()  # geqrf's A: R on and above the diagonal, reflectors below
            diag = xp.sign(xp.diagonal(a, axis1=-2, axis2=-1)).copy()
            diag[tau == 0] *= -1
            idx = xp.arange(k)
            a[..., idx, idx] = diag
            a = xp.swapaxes(a, -1, -2) if q.shape[-2] < q.shape[-1] else a
            return Tensor(xp.ascontiguousarray(a.astype(data.dtype)))
        if n == k:
            gram = xp.swapaxes(data, -1, -2) @ data
            orthogonal = xp.allclose(gram, xp.eye(n, dtype=data.dtype), atol=10 * n * xp.finfo(data.dtype).eps)
            base = data.copy() if orthogonal else _positive_qr(data, xp)
        else:  # completed to n x n with random columns, then made orthogonal
            extra = _random.default_generator().standard_normal(data.shape[:-1] + (n - k,)).astype(data.dtype)
            base = _positive_qr(xp.concatenate([data, xp.asarray(extra)], axis=-1), xp)
        self.base = Tensor(xp.ascontiguousarray(base.astype(data.dtype)))
        neg_eye = xp.zeros(q.shape, dtype=data.dtype)
        idx = xp.arange(min(q.shape[-2:]))
        neg_eye[..., idx, idx] = -1
        return Tensor(neg_eye)


def _batched_raw_qr(data, xp):
    flat = data.reshape((-1,) + data.shape[-2:])
    pairs = [xp.linalg.qr(m, mode="raw") for m in flat]
    raw = xp.stack([p[0] for p in pairs]).reshape(data.shape[:-2] + pairs[0][0].shape)
    tau = xp.stack([p[1] for p in pairs]).reshape(data.shape[:-2] + pairs[0][1].shape)
    return raw, tau


def orthogonal(module, name="weight", orthogonal_map=None, *, use_trivialization=True):
    """Constrains the matrix (or batch of matrices) `name` to be orthogonal (a tall one: orthonormal
    columns; a wide one: rows), as torch.nn.utils.parametrizations.orthogonal: orthogonal_map "matrix_exp"
    (default for square), "cayley" or "householder" (default otherwise). With use_trivialization (the
    default) the current weight, made orthogonal, is the base of the chart and the parameter starts at 0."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"orthogonal: module has no tensor named {name!r}")
    if weight.ndim < 2:
        raise ValueError(f"orthogonal: expected a matrix or a batch of matrices, got shape {tuple(weight.shape)}")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] else "householder"
    if orthogonal_map not in _ORTHOGONAL_MAPS:
        raise ValueError(f"orthogonal: orthogonal_map must be one of {_ORTHOGONAL_MAPS}, got {orthogonal_map!r}")
    return register_parametrization(module, name, _Orthogonal(weight, orthogonal_map, use_trivialization),
                                    unsafe=True)
