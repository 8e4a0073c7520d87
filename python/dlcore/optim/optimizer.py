"""Optimizer base: parameter groups, per-parameter state, zero_grad, state_dict.

Updates run on the parameters' arrays in place (outside the tape), in the
parameters' own dtype and on their own device (NumPy or CuPy arrays; the
state buffers live beside their parameter). ``l1`` (every optimizer) adds ``l1 * sign(p)`` to the
gradient: L1 regularization, next to the optimizer's own L2 ``weight_decay``.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np

from .._device import array_like, is_array
from ..autograd import enable_grad
from ..ops._common import array_module
from ..tensor import Tensor
from . import _fused


def _check_unique(params, groups):
    """A parameter in two groups would be updated twice per step: PyTorch refuses it (and warns about a
    parameter listed twice in one group, which it then also updates twice)."""
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
        if not p.is_leaf:
            raise ValueError("can't optimize a non-leaf Tensor (its updates would not reach the leaf it was computed "
                             "from; pass the leaf, e.g. model.parameters())")
    ids = {id(p) for p in params}
    if len(ids) != len(params):
        warnings.warn("optimizer contains a parameter group with duplicate parameters; each copy is updated "
                      "at every step", UserWarning, stacklevel=4)
    if any(id(p) in ids for g in groups for p in g["params"]):
        raise ValueError("some parameters appear in more than one parameter group")


class Optimizer:
    defaults: dict = {}
    #: hyper-parameters allowed below zero (Adafactor's beta2_decay); every other number must be >= 0
    _signed_hyperparameters: tuple = ()

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.defaults.setdefault("l1", 0.0)
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        self.param_groups = []
        for group in params:
            self.add_param_group(group)
        #: id(param) -> dict of arrays/ints (momentum buffers, step counts)
        self.state = {}

    def add_param_group(self, group):
        group = dict(group)
        group["params"] = list(group["params"]) if not isinstance(group["params"], Tensor) else [group["params"]]
        _check_unique(group["params"], self.param_groups)
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        for key, value in group.items():
            if key in ("params",) + self._signed_hyperparameters:
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                raise ValueError(f"{type(self).__name__}: {key} must be >= 0, got {value}")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad._data[...] = 0

    def _params_with_grad(self, group):
        for p in group["params"]:
            if p.grad is not None:
                g = p.grad._data
                if group.get("maximize"):  # gradient ascent (torch's maximize=True): the rules see -g
                    g = -g
                if group["l1"]:
                    g = g + group["l1"] * array_module(p._data).sign(p._data)
                yield p, g, self.state.setdefault(id(p), {})

    #: 'sgd', 'adam', 'adamw', 'adadelta': the fused multi-tensor kernel this optimizer may use (optim/_fused.py)
    _fused_kind = None

    def step(self, closure=None):
        """One update of every parameter with a gradient. `closure` (optional, as PyTorch's) re-evaluates
        the model and returns the loss, which step returns."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            if not (self._fused_kind and _fused.try_step(self, group, self._fused_kind)):
                for p, g, state in self._params_with_grad(group):
                    self._update(p._data, g, state, group)
            for p in group["params"]:
                if p.grad is not None:  # changed in place: autograd and autocast's weight cache see it
                    p._version_counter()[0] += 1
        return loss

    def _update(self, param, grad, state, group):  # pragma: no cover - abstract
        raise NotImplementedError

    # ---- state ------------------------------------------------------------
    def _all_params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self):
        """{'state': {index: {name: array or number}}, 'param_groups': [{hyper-params, 'params': [index]}]}.

        Buffers are copies on their parameter's device (``dlcore.save`` writes GPU ones as host arrays).
        """
        index = {id(p): i for i, p in enumerate(self._all_params())}
        state = {index[pid]: {k: (v.copy() if is_array(v) else v) for k, v in s.items()}
                 for pid, s in self.state.items() if pid in index}
        groups = []
        for group in self.param_groups:
            g = {k: v for k, v in group.items() if k != "params"}
            g["params"] = [index[id(p)] for p in group["params"]]
            groups.append(g)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restores hyper-parameters and buffers; checks group sizes and buffer shapes first.

        Buffers are copied onto their parameter's current device and dtype.
        """
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"optimizer state has {len(groups)} parameter groups, this optimizer "
                             f"{len(self.param_groups)}")
        params = self._all_params()
        for saved, group in zip(groups, self.param_groups):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError("optimizer state: a parameter group has a different number of parameters")
        new_state = {}
        for key, values in state_dict["state"].items():
            i = int(key)
            if not 0 <= i < len(params):
                raise ValueError(f"optimizer state names parameter {i}, but there are {len(params)}")
            p = params[i]
            entry = {}
            for name, value in values.items():
                if is_array(value) and value.ndim and value.shape != p.shape:
                    raise ValueError(f"optimizer state '{name}' of parameter {i} has shape {value.shape}, "
                                     f"parameter has {p.shape}")
                if is_array(value) and value.ndim == 0:
                    value = value.item()
                entry[name] = array_like(value, p._data).astype(p.dtype) if is_array(value) else value  # a copy
            new_state[id(p)] = entry
        for saved, group in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    group[k] = v.item() if isinstance(v, np.ndarray) and v.ndim == 0 else copy.deepcopy(v)
        self.state = new_state

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"
