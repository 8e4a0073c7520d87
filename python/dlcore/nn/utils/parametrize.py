"""Parametrizations (torch.nn.utils.parametrize): a module's tensor computed from other tensors.

``register_parametrization(linear, "weight", P())`` makes ``linear.weight`` read ``P()(original)`` each
time (so the optimizer trains ``original``, and the layer always sees a constrained weight: symmetric,
normalized, orthogonal ...). As in PyTorch, the module's class is replaced by a subclass carrying a
property for that name, the original tensor moves to ``module.parametrizations.<name>.original``
(``original0``, ``original1`` ... when ``right_inverse`` splits it, as weight_norm does), which is also
its state-dict name, and assigning ``module.<name> = value`` stores ``right_inverse(value)``.
"""
from __future__ import annotations

import contextlib

from ...autograd import no_grad
from ...tensor import Tensor
from ..containers import ModuleDict, ModuleList
from ..module import Module, Parameter

__all__ = ["ParametrizationList", "cached", "is_parametrized", "register_parametrization",
           "remove_parametrizations", "type_before_parametrizations"]

_cache = None  # while `cached()` is active: (id(module), name) -> the tensor computed once


@contextlib.contextmanager
def cached():
    """Within it, each parametrized tensor is computed once (a layer used at every step of an RNN, or
    read several times in one forward), instead of at every access."""
    global _cache
    outer = _cache
    _cache = {} if outer is None else outer
    try:
        yield
    finally:
        _cache = outer


def _as_parameter_like(value, template):
    """`value` stored as `template` was: a Parameter (trainable as it was) or a plain buffer tensor."""
    if isinstance(template, Parameter):
        return Parameter(value, requires_grad=template.requires_grad)
    return Tensor(value._data if isinstance(value, Tensor) else value)


class ParametrizationList(ModuleList):
    """The chain of parametrizations of one tensor, holding the tensor they start from (``original``, or
    ``original0``, ``original1`` ...). Calling it computes the parametrized tensor."""

    def __init__(self, modules, original, unsafe=False):
        super().__init__(modules)
        self.unsafe = unsafe
        with no_grad():
            new = original
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    new = module.right_inverse(new)
        if isinstance(new, Tensor):
            self.is_tensor, self.ntensors = True, 1
            # the same object when nothing changed it: an optimizer built before still trains it
            self._store("original", original if new is original else _as_parameter_like(new, original))
        else:
            new = tuple(new)
            self.is_tensor, self.ntensors = False, len(new)
            for i, t in enumerate(new):
                if not isinstance(t, Tensor):
                    raise ValueError(f"right_inverse must return Tensors, got {type(t).__name__}")
                self._store(f"original{i}", _as_parameter_like(t, original))

    def _store(self, name, tensor):
        """A parameter stays a parameter, a buffer a buffer (both saved in the state dict)."""
        if isinstance(tensor, Parameter):
            setattr(self, name, tensor)
        else:
            self.register_buffer(name, tensor)

    def _originals(self):
        return [self.original] if self.is_tensor else [getattr(self, f"original{i}") for i in range(self.ntensors)]

    def right_inverse(self, value):
        """Stores `value` (what the parametrized tensor should read) in the original tensor(s), in place."""
        with no_grad():
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    value = module.right_inverse(value)
            values = [value] if self.is_tensor else list(value)
            if len(values) != self.ntensors:
                raise ValueError(f"right_inverse returned {len(values)} tensors, expected {self.ntensors}")
            for original, v in zip(self._originals(), values):
                v = v._data if isinstance(v, Tensor) else v
                if tuple(v.shape) != tuple(original.shape) and not self.unsafe:
                    raise ValueError(f"assigning a tensor of shape {tuple(v.shape)} to a parametrized tensor whose "
                                     f"original has shape {tuple(original.shape)}")
                original._data = v.astype(original.dtype, copy=True)

    def forward(self):
        modules = list(self)
        x = modules[0](*self._originals())
        for module in modules[1:]:
            x = module(x)
        return x


def _property(name):
    def get(self):
        key = (id(self), name)
        if _cache is not None and key in _cache:
            return _cache[key]
        value = self.parametrizations[name]()
        if _cache is not None:
            _cache[key] = value
        return value

    def set_(self, value):
        self.parametrizations[name].right_inverse(value)

    return property(get, set_, doc=f"'{name}', computed by its parametrizations")


def _inject_class(module):
    """Gives `module` its own subclass, so properties added for it do not reach other instances."""
    cls = module.__class__
    parametrized = type(f"Parametrized{cls.__name__}", (cls,), {"_class_before_parametrizations": cls})
    object.__setattr__(module, "__class__", parametrized)


def is_parametrized(module, tensor_name=None):
    """Whether `module` has parametrizations (for `tensor_name`, when given)."""
    table = module.__dict__.get("_modules", {}).get("parametrizations")
    if not isinstance(table, ModuleDict):
        return False
    return len(table) > 0 if tensor_name is None else tensor_name in table


def type_before_parametrizations(module):
    """The module's class as it was before any parametrization was registered."""
    return getattr(type(module), "_class_before_parametrizations", type(module))


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Makes ``module.<tensor_name>`` read ``parametrization(original)``; a second call on the same name
    chains another one. Returns the module. The parametrization must give a tensor of the original's shape
    and dtype unless ``unsafe=True``."""
    if not isinstance(parametrization, Module):
        raise TypeError(f"register_parametrization: the parametrization must be an nn.Module, got "
                        f"{type(parametrization).__name__}")
    if is_parametrized(module, tensor_name):
        chain = module.parametrizations[tensor_name]
        before = getattr(module, tensor_name)
        chain.append(parametrization)
        _check_result(chain, before, unsafe)
        return module
    if tensor_name in module._parameters:
        original = module._parameters.pop(tensor_name)
    elif tensor_name in module._buffers:
        original = module._buffers.pop(tensor_name)
    else:
        raise ValueError(f"register_parametrization: module '{type(module).__name__}' has no parameter or buffer "
                         f"'{tensor_name}'")
    if original is None:
        raise ValueError(f"register_parametrization: '{tensor_name}' is None")
    chain = ParametrizationList([parametrization], original, unsafe=unsafe)
    _check_result(chain, original, unsafe)
    if not is_parametrized(module):
        _inject_class(module)
        module.parametrizations = ModuleDict()
    module.parametrizations[tensor_name] = chain
    setattr(type(module), tensor_name, _property(tensor_name))
    return module


def _check_result(chain, reference, unsafe):
    if unsafe:
        return
    with no_grad():
        value = chain()
    if not isinstance(value, Tensor):
        raise ValueError(f"a parametrization must return a Tensor, got {type(value).__name__}")
    if value.shape != reference.shape or value.dtype != reference.dtype:
        raise ValueError(f"a parametrization changed the tensor from shape {reference.shape} {reference.dtype} to "
                         f"{value.shape} {value.dtype} (pass unsafe=True to allow it)")


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Undoes register_parametrization for `tensor_name`: the tensor becomes a plain parameter (or buffer)
    again, holding its current parametrized value (``leave_parametrized``) or the original."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"remove_parametrizations: module has no parametrization on '{tensor_name}'")
    chain = module.parametrizations[tensor_name]
    with no_grad():
        if leave_parametrized:
            value = getattr(module, tensor_name)
        elif chain.is_tensor:
            value = chain.original
        else:
            raise ValueError("remove_parametrizations: leave_parametrized=False needs a single original tensor")
    original = chain.original if chain.is_tensor else chain.original0
    delattr(type(module), tensor_name)
    del module.parametrizations[tensor_name]
    if isinstance(original, Parameter):
        if chain.is_tensor and value.shape == original.shape:
            original._data = value._data.astype(original.dtype, copy=True)  # same object: optimizers keep it
            module.register_parameter(tensor_name, original)
        else:
            module.register_parameter(tensor_name, Parameter(value._data.copy(), original.requires_grad))
    else:
        module.register_buffer(tensor_name, Tensor(value._data.copy()))
    if not is_parametrized(module):
        del module.parametrizations
        object.__setattr__(module, "__class__", type_before_parametrizations(module))
    return module
