"""MultivariateNormal(loc, covariance_matrix | precision_matrix | scale_tril).

Everything goes through the lower Cholesky factor L of the covariance (Sigma = L L^T): rsample is loc + L eps,
log_prob solves L z = x - loc (a triangular solve, never an inverse), and log det Sigma = 2 sum log diag L.
"""
from __future__ import annotations

import copy
import math

import numpy as np

from ..tensor import Tensor
from . import constraints
from ._special import cholesky, solve_lower_triangular
from .distribution import Distribution, broadcast_all, draw


def _batch_solve(lower, rhs):
    """L^-1 rhs for a batch of matrices ``rhs`` (..., n, k), L broadcast to rhs's batch dims."""
    batch = np.broadcast_shapes(tuple(lower.shape[:-2]), tuple(rhs.shape[:-2]))
    lower = lower.expand(*(batch + tuple(lower.shape[-2:])))
    rhs = rhs.expand(*(batch + tuple(rhs.shape[-2:])))
    return solve_lower_triangular(lower, rhs)


def _mahalanobis_squared(lower, diff):
    """|L^-1 diff|^2 over the last dim of ``diff``."""
    z = _batch_solve(lower, diff.unsqueeze(-1)).squeeze(-1)
    return (z * z).sum(-1)


def _half_log_det(lower):
    # the diagonal as (L * I).sum(-1), not L.diagonal(): Diagonal has no double backward (create_graph=True)
    diagonal = (lower * _identity_like(lower)).sum(-1)
    return diagonal.log().sum(-1)


def _identity_like(matrix):
    n = matrix.shape[-1]
    return Tensor(np.broadcast_to(np.eye(n, dtype=matrix.dtype), tuple(matrix.shape)).copy())


def _precision_to_scale_tril(precision):
    """chol(P^-1) from chol(P) = Lp: P^-1 = Lp^-T Lp^-1."""
    lp_inverse = _batch_solve(cholesky(precision), _identity_like(precision))
    return cholesky(lp_inverse.transpose(-1, -2) @ lp_inverse)


class MultivariateNormal(Distribution):
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None):
        given = [(n, m) for n, m in (("covariance_matrix", covariance_matrix), ("precision_matrix", precision_matrix),
                                     ("scale_tril", scale_tril)) if m is not None]
        if len(given) != 1:
            raise ValueError("MultivariateNormal: give exactly one of covariance_matrix, precision_matrix, scale_tril")
        (loc,) = broadcast_all(loc)
        name, (matrix,) = given[0][0], broadcast_all(given[0][1])
        if loc.ndim < 1 or matrix.ndim < 2:
            raise ValueError("MultivariateNormal: loc must be at least 1-D and the matrix at least 2-D")
        self._given, self._matrix, self.loc = name, matrix, loc  # loc is expanded below, once validated
        batch_shape = np.broadcast_shapes(tuple(loc.shape[:-1]), tuple(matrix.shape[:-2]))
        n = matrix.shape[-1]
        super().__init__(batch_shape, (n,), validate_args=validate_args)  # validates before the Cholesky
        if name == "scale_tril":
            lower = matrix.tril()
        elif name == "covariance_matrix":
            lower = cholesky(matrix)
        else:
            lower = _precision_to_scale_tril(matrix)
        self.loc = loc.expand(*(batch_shape + (n,)))
        # unbroadcast: log_prob and entropy solve with it once per distinct matrix, not once per batch element
        self._unbroadcasted_scale_tril = lower

    @property
    def arg_constraints(self):
        matrix_constraints = {"covariance_matrix": constraints.positive_definite,
                              "precision_matrix": constraints.positive_definite,
                              "scale_tril": constraints.lower_cholesky}
        return {"loc": constraints.real_vector, self._given: matrix_constraints[self._given]}

    def expand(self, batch_shape, _instance=None):
        new = copy.copy(self)  # the matrices stay unbroadcast; loc and the shapes grow
        new._batch_shape = tuple(batch_shape)
        new.loc = self.loc.expand(*(new._batch_shape + self._event_shape))
        return new

    def _batched(self, matrix):
        return matrix.expand(*(self._batch_shape + tuple(matrix.shape[-2:])))

    @property
    def scale_tril(self):
        if self._given == "scale_tril":
            return self._batched(self._matrix)
        return self._batched(self._unbroadcasted_scale_tril)

    @property
    def covariance_matrix(self):
        if self._given == "covariance_matrix":
            return self._batched(self._matrix)
        lower = self.scale_tril
        return lower @ lower.transpose(-1, -2)

    @property
    def precision_matrix(self):
        if self._given == "precision_matrix":
            return self._batched(self._matrix)
        lower_inverse = _batch_solve(self.scale_tril, _identity_like(self.scale_tril))
        return lower_inverse.transpose(-1, -2) @ lower_inverse

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return (self.scale_tril * self.scale_tril).sum(-1)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        noise = draw(shape, self.loc.dtype, lambda rng, s: rng.standard_normal(s))
        lower = self.scale_tril.expand(*(shape + shape[-1:]))
        return self.loc + (lower @ noise.unsqueeze(-1)).squeeze(-1)

    def log_prob(self, value):
        value = self._checked(value)
        n = self._event_shape[0]
        maha = _mahalanobis_squared(self._unbroadcasted_scale_tril, value - self.loc)
        return -0.5 * (n * math.log(2 * math.pi) + maha) - _half_log_det(self._unbroadcasted_scale_tril)

    def entropy(self):
        n = self._event_shape[0]
        entropy = 0.5 * n * (1 + math.log(2 * math.pi)) + _half_log_det(self._unbroadcasted_scale_tril)
        return entropy.expand(*self._batch_shape) if tuple(entropy.shape) != self._batch_shape else entropy
