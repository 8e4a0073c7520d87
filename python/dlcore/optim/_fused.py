"""The fused multi-tensor path of SGD, Adam/AdamW and Adadelta: one dlcore._C call per parameter group.

Taken when every parameter, gradient and state buffer of the group is a float32 C-contiguous NumPy array
(``fused=None``, the default), always (``fused=True``: anything else raises) or never (``fused=False``:
the per-parameter NumPy formulas of optimizers.py, also the path of CuPy and float64 parameters). Both paths
compute the same formulas; tests/test_optim_fused.py holds them to a float64 reference.
"""
from __future__ import annotations

import numpy as np

from .. import _C


def _fusable(a):
    return type(a) is np.ndarray and a.dtype == np.float32 and a.flags.c_contiguous and a.flags.writeable


def _items(opt, group):
    """(param array, grad array, state) of the group's parameters with a gradient."""
    out = []
    for p in group["params"]:
        if p.grad is not None:
            out.append((p._data, p.grad._data, opt.state.setdefault(id(p), {})))
    return out


def _refuse(opt, why):
    raise RuntimeError(f"{type(opt).__name__}(fused=True): {why}; pass fused=None to use the NumPy "
                       "formulas for such parameters")


def try_step(opt, group, kind):
    """Runs the fused step of `kind` ('sgd', 'adam', 'adamw', 'adadelta') on the group; False if it cannot."""
    fused = group.get("fused")
    if fused is False:
        return False
    for option in ("amsgrad", "maximize"):  # not in the fused kernels (amsgrad: no running maximum of v)
        if group.get(option):
            if fused:
                _refuse(opt, f"{option} is not in the fused kernel")
            return False
    items = _items(opt, group)
    for p, g, state in items:
        arrays = [p, g] + [v for v in state.values() if not isinstance(v, (int, float))]
        if not all(_fusable(a) for a in arrays) or g.shape != p.shape:
            if fused:
                _refuse(opt, f"a parameter, gradient or state buffer is not a float32 C-contiguous NumPy array "
                             f"({p.dtype} {type(p).__name__} of shape {p.shape})")
            return False
    if not items:
        return True
    _STEPS[kind](group, items)
    return True


def _sgd(group, items):
    momentum = group["momentum"]
    bufs, fresh = [], []
    for p, _, state in items:
        if momentum:
            buf = state.get("momentum_buffer")
            fresh.append(buf is None)
            if buf is None:  # the kernel writes buf = g on the first step
                buf = state["momentum_buffer"] = np.empty_like(p)
            bufs.append(buf)
    _C.sgd_step([i[0] for i in items], [i[1] for i in items], bufs, fresh, group["lr"], momentum,
                group["dampening"], group["weight_decay"], group["nesterov"], group["l1"])


def _adam(group, items, decoupled):
    for p, _, state in items:
        if "step" not in state:
            state.update(step=0, exp_avg=np.zeros_like(p), exp_avg_sq=np.zeros_like(p))
        state["step"] += 1
    b1, b2 = group["betas"]
    _C.adam_step([i[0] for i in items], [i[1] for i in items], [i[2]["exp_avg"] for i in items],
                 [i[2]["exp_avg_sq"] for i in items], [i[2]["step"] for i in items], group["lr"], b1, b2,
                 group["eps"], group["weight_decay"], decoupled, group["l1"])


def _adadelta(group, items):
    for p, _, state in items:
        if "square_avg" not in state:
            state.update(square_avg=np.zeros_like(p), acc_delta=np.zeros_like(p))
    _C.adadelta_step([i[0] for i in items], [i[1] for i in items], [i[2]["square_avg"] for i in items],
                     [i[2]["acc_delta"] for i in items], group["lr"], group["rho"], group["eps"],
                     group["weight_decay"], group["l1"])


_STEPS = {"sgd": _sgd, "adam": lambda g, i: _adam(g, i, False), "adamw": lambda g, i: _adam(g, i, True),
          "adadelta": _adadelta}
