"""``torch.linalg``'s vector functions over dlcore Tensors: ``vector_norm``, ``norm`` (vectors, and the
Frobenius norm of matrices) and ``cross`` (``dim=-1`` by default, unlike ``torch.cross``).

Matrix decompositions and the other matrix norms are not here: ``norm`` raises ValueError for them.
"""
from __future__ import annotations

import numbers

from .functions import vector_norm


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


__all__ = ["cross", "norm", "vector_norm"]
