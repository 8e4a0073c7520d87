"""The arithmetic shared by weight_norm and spectral_norm, parametrized (parametrizations.py) and legacy
(weight_norm.py, spectral_norm.py) alike."""
from __future__ import annotations

from ...autograd import no_grad
from ...ops._common import array_module


def norm_except_dim(v, dim):
    """The 2-norm of `v` over every axis but `dim`, kept broadcastable against v (``dim`` None or -1: the
    norm of the whole tensor, as torch's ``norm_except_dim``)."""
    if dim is None or dim == -1:
        return (v * v).sum().sqrt()
    dim = dim % v.ndim
    axes = tuple(i for i in range(v.ndim) if i != dim)
    return (v * v).sum(dim=axes, keepdim=True).sqrt() if axes else (v * v).sqrt()


def weight_from_norm(g, v, dim):
    """w = g * v / ||v|| (norms over every axis but dim): Salimans & Kingma's weight normalization."""
    return v * (g / norm_except_dim(v, dim))


def spectral_dim(module):
    """The output-channel axis: 1 for transposed convolutions (their weight is (C_in, C_out/g, ...)), else 0."""
    return 1 if "Transpose" in type(module).__name__ else 0


def as_matrix(weight, dim):
    """The weight as a matrix with axis `dim` as its rows (a Tensor, on the tape)."""
    if dim != 0:
        order = [dim] + [i for i in range(weight.ndim) if i != dim]
        weight = weight.permute(*order)
    return weight.reshape(weight.shape[0], -1)


def _normalize(xp, a, eps):
    return a / max(float(xp.linalg.norm(a)), eps)


def power_iteration(matrix, u, v, iterations, eps, u_first=False):
    """Updates the estimates u (rows) and v (columns) of the top singular vectors of `matrix` (an array), in
    place: each step v = normalize(W^T u), u = normalize(W v) (the legacy hook's order), or with `u_first` u
    then v (the parametrization's order: torch's two implementations differ, and we follow each)."""
    xp = array_module(matrix)
    for _ in range(iterations):
        if u_first:
            u[...] = _normalize(xp, matrix @ v, eps)
        v[...] = _normalize(xp, matrix.T @ u, eps)
        if not u_first:
            u[...] = _normalize(xp, matrix @ v, eps)


def spectral_normalized(weight, u, v, eps, dim):
    """weight / sigma, sigma = u^T W v with u, v held constant (as torch: the gradient flows through W only)."""
    from ...tensor import Tensor

    matrix = as_matrix(weight, dim)
    sigma = (Tensor(u.copy()) * (matrix @ Tensor(v.copy()))).sum()
    return weight / sigma


def initial_vectors(matrix, eps, generator, iterations=0):
    """Random unit u, v, then `iterations` power iterations (u first), as torch starts them (the
    parametrization refines them 15 times, the legacy hook not at all)."""
    xp = array_module(matrix)
    with no_grad():
        u = xp.asarray(_normalize(xp, generator.standard_normal(matrix.shape[0]), eps), dtype=matrix.dtype)
        v = xp.asarray(_normalize(xp, generator.standard_normal(matrix.shape[1]), eps), dtype=matrix.dtype)
        power_iteration(matrix, u, v, iterations, eps, u_first=True)
    return u, v
