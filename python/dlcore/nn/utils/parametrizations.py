"""torch.nn.utils.parametrizations: weight_norm and spectral_norm as parametrizations (state-dict names
``parametrizations.weight.original0/1`` and ``parametrizations.weight.original`` + ``.0._u/._v``, as torch)."""
from __future__ import annotations

from ... import random as _random
from ...autograd import no_grad
from ...tensor import Tensor
from ..module import Module
from . import _norms
from .parametrize import register_parametrization

__all__ = ["spectral_norm", "weight_norm"]


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
