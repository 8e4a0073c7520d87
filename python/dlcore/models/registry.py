"""torchvision.models' registry API: ``list_models(include=, exclude=)``, ``get_model(name, **config)``,
``get_model_builder(name)`` over the zoo's builders."""
from __future__ import annotations

import fnmatch

_BUILDERS = {}


def register_model(builder):
    """Adds `builder` under its function name (a decorator, as torchvision's register_model)."""
    name = builder.__name__
    if name in _BUILDERS and _BUILDERS[name] is not builder:
        raise ValueError(f"register_model: a model named {name!r} is already registered")
    _BUILDERS[name] = builder
    return builder


def list_models(include=None, exclude=None):
    """Sorted names of the registered builders; include / exclude are fnmatch patterns (str or list), as in
    torchvision.

    Example:
        >>> from dlcore import models
        >>> models.list_models(include="resnet*", exclude=["*101", "*152"])
        ['resnet18', 'resnet34', 'resnet50']
    """
    names = sorted(_BUILDERS)
    if include is not None:
        patterns = [include] if isinstance(include, str) else list(include)
        names = [n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns)]
    if exclude is not None:
        patterns = [exclude] if isinstance(exclude, str) else list(exclude)
        names = [n for n in names if not any(fnmatch.fnmatch(n, p) for p in patterns)]
    return names


def get_model_builder(name):
    """The builder function registered as `name` (lower case, as torchvision)."""
    key = name.lower()
    if key not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; dlcore.models.list_models() lists the {len(_BUILDERS)} known")
    return _BUILDERS[key]


def get_model(name, **config):
    """``get_model_builder(name)(**config)``.

    Example:
        >>> from dlcore import models
        >>> net = models.get_model("mobilenet_v3_small", num_classes=10, width_mult=0.25)
        >>> net(dlcore.randn(2, 3, 32, 32)).shape
        (2, 10)
    """
    return get_model_builder(name)(**config)
