"""The legacy hook-based ``torch.nn.utils.weight_norm`` / ``spectral_norm`` (still what much published code
calls): parameters ``<name>_g`` / ``<name>_v`` (weight norm) or ``<name>_orig`` with buffers ``<name>_u`` /
``<name>_v`` (spectral norm), the tensor recomputed by a forward pre-hook. New code: parametrizations."""
from __future__ import annotations

from ... import random as _random
from ...autograd import no_grad
from ...tensor import Tensor
from ..module import Parameter
from . import _norms

__all__ = ["remove_spectral_norm", "remove_weight_norm", "spectral_norm", "weight_norm"]


class _Hook:
    """A forward pre-hook that sets ``module.<name>`` (a plain attribute) before each forward."""

    def __init__(self, name, compute):
        self.name, self.compute = name, compute
        self.handle = None

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name, self.compute(module))


def _install(module, name, kind, compute):
    if _find(module, name) is not None:
        raise RuntimeError(f"{kind}: '{name}' of this module already has a {kind} hook")
    hook = _Hook(name, compute)
    hook.kind = kind
    hook.handle = module.register_forward_pre_hook(hook)
    object.__setattr__(module, name, compute(module))
    return module


def _find(module, name, kind=None):
    for hook in list((module.__dict__.get("_forward_pre_hooks") or {}).values()):
        if isinstance(hook, _Hook) and hook.name == name and (kind is None or hook.kind == kind):
            return hook
    return None


def _take_parameter(module, name, who):
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(f"{who}: module '{type(module).__name__}' has no parameter '{name}'")
    del module._parameters[name]
    return weight


def weight_norm(module, name="weight", dim=0):
    """w = g * v / ||v|| with parameters ``<name>_g`` and ``<name>_v`` (torch.nn.utils.weight_norm)."""
    weight = _take_parameter(module, name, "weight_norm")
    dim = -1 if dim is None else dim
    with no_grad():
        g = _norms.norm_except_dim(weight, dim)
    module.register_parameter(name + "_g", Parameter(g._data.copy()))
    module.register_parameter(name + "_v", Parameter(weight._data.copy()))
    return _install(module, name, "weight_norm", lambda m: _norms.weight_from_norm(
        getattr(m, name + "_g"), getattr(m, name + "_v"), dim))


def remove_weight_norm(module, name="weight"):
    """Folds g and v back into one parameter `name`."""
    hook = _find(module, name, "weight_norm")
    if hook is None:
        raise ValueError(f"remove_weight_norm: weight_norm of '{name}' not found in {type(module).__name__}")
    with no_grad():
        weight = hook.compute(module)
    hook.handle.remove()
    del module._parameters[name + "_g"], module._parameters[name + "_v"]
    module.__dict__.pop(name, None)
    module.register_parameter(name, Parameter(weight._data.copy()))
    return module


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """W / sigma(W) with parameter ``<name>_orig`` and buffers ``<name>_u``, ``<name>_v``
    (torch.nn.utils.spectral_norm: one power iteration per training forward)."""
    if n_power_iterations <= 0:
        raise ValueError(f"spectral_norm: n_power_iterations must be positive, got {n_power_iterations}")
    weight = _take_parameter(module, name, "spectral_norm")
    dim = _norms.spectral_dim(module) if dim is None else dim
    module.register_parameter(name + "_orig", weight)
    matrix = _norms.as_matrix(weight.detach(), dim)._data
    u, v = _norms.initial_vectors(matrix, eps, _random.default_generator())
    module.register_buffer(name + "_u", Tensor(u))
    module.register_buffer(name + "_v", Tensor(v))

    def compute(m):
        w = getattr(m, name + "_orig")
        u, v = getattr(m, name + "_u")._data, getattr(m, name + "_v")._data
        if m.training:
            with no_grad():
                _norms.power_iteration(_norms.as_matrix(w.detach(), dim)._data, u, v, n_power_iterations, eps)
        return _norms.spectral_normalized(w, u, v, eps, dim)

    return _install(module, name, "spectral_norm", compute)


def remove_spectral_norm(module, name="weight"):
    """Makes `name` a plain parameter again, holding the current normalized weight."""
    hook = _find(module, name, "spectral_norm")
    if hook is None:
        raise ValueError(f"remove_spectral_norm: spectral_norm of '{name}' not found in {type(module).__name__}")
    training = module.training
    object.__setattr__(module, "training", False)  # the current estimate, without another power iteration
    try:
        with no_grad():
            weight = hook.compute(module)
    finally:
        object.__setattr__(module, "training", training)
    hook.handle.remove()
    del module._parameters[name + "_orig"]
    del module._buffers[name + "_u"], module._buffers[name + "_v"]
    module.__dict__.pop(name, None)
    module.register_parameter(name, Parameter(weight._data.copy()))
    return module
