"""ModuleList and ModuleDict: containers that register their modules (torch.nn's behaviour).

Their children are named "0", "1", ... (list) or by key (dict), so state dicts
carry torch's names.
"""
from __future__ import annotations

from collections import OrderedDict

from .module import Module


def _check_module(owner, module):
    if not isinstance(module, Module):
        raise TypeError(f"{owner} holds Modules, got {type(module).__name__}")
    return module


class ModuleList(Module):
    """A list of Modules: indexable, iterable, len(), append/extend/insert; no forward of its own."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _index(self, index):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ModuleList index {index} out of range for length {n}")
        return index % n

    def __getitem__(self, index):
        items = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(items[index])
        return items[self._index(index)]

    def __setitem__(self, index, module):
        self._modules[str(self._index(index))] = _check_module("ModuleList", module)

    def __delitem__(self, index):
        items = list(self._modules.values())
        del items[index]
        self._modules.clear()
        for i, m in enumerate(items):
            self._modules[str(i)] = m

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def append(self, module):
        self._modules[str(len(self))] = _check_module("ModuleList", module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        items = list(self._modules.values())
        items.insert(index, _check_module("ModuleList", module))
        self._modules.clear()
        for i, m in enumerate(items):
            self._modules[str(i)] = m

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(): iterate over it in the parent's forward")


class ModuleDict(Module):
    """An ordered dict of Modules keyed by strings; keys become the state-dict names."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(f"ModuleDict keys must be non-empty strings without '.', got {key!r}")
        self._modules[key] = _check_module("ModuleDict", module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def pop(self, key):
        return self._modules.pop(key)

    def clear(self):
        self._modules.clear()

    def update(self, modules):
        items = modules.items() if isinstance(modules, (dict, OrderedDict, ModuleDict)) else modules
        for key, module in items:
            self[key] = module

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward(): index it in the parent's forward")


def _as_parameter(value):
    """A Parameter for `value`: a Parameter as it is, a Tensor or array wrapped (torch's ParameterList rule)."""
    from .module import Parameter

    if isinstance(value, Parameter) or value is None:
        return value
    return Parameter(value)


class ParameterList(Module):
    """A list of Parameters registered as "0", "1", ... (tensors and arrays are wrapped in Parameters)."""

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def _key(self, index):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ParameterList index {index} out of range for length {n}")
        return str(index % n)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ParameterList(list(self._parameters.values())[index])
        return self._parameters[self._key(index)]

    def __setitem__(self, index, value):
        self._parameters[self._key(index)] = _as_parameter(value)

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def __iadd__(self, values):
        return self.extend(values)

    def append(self, value):
        self._parameters[str(len(self))] = _as_parameter(value)
        return self

    def extend(self, values):
        for v in values:
            self.append(v)
        return self

    def extra_repr(self):
        return ", ".join(f"({k}): Parameter of shape {tuple(p.shape)}" for k, p in self._parameters.items())

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ParameterList has no forward(): use its parameters in the parent's forward")


class ParameterDict(Module):
    """An ordered dict of Parameters keyed by strings; keys become the state-dict names."""

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        return self._parameters[key]

    def __setitem__(self, key, value):
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(f"ParameterDict keys must be non-empty strings without '.', got {key!r}")
        self._parameters[key] = _as_parameter(value)

    def __delitem__(self, key):
        del self._parameters[key]

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def __contains__(self, key):
        return key in self._parameters

    def keys(self):
        return self._parameters.keys()

    def values(self):
        return self._parameters.values()

    def items(self):
        return self._parameters.items()

    def pop(self, key):
        return self._parameters.pop(key)

    def update(self, parameters):
        items = parameters.items() if hasattr(parameters, "items") else parameters
        for key, value in items:
            self[key] = value

    def extra_repr(self):
        return ", ".join(f"({k}): Parameter of shape {tuple(p.shape)}" for k, p in self._parameters.items())

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ParameterDict has no forward(): index it in the parent's forward")
