"""The update rules, each written as PyTorch documents it.

SGD, Adam, AdamW and Adadelta also have a fused multi-tensor step in C++ (one call per parameter group,
optim/_fused.py), used by default for float32 NumPy parameters; ``fused=False`` keeps these formulas.

Each rule runs on the parameter's own device: ``xp`` is NumPy or CuPy after
the parameter's array, and the state buffers are made like the parameter.
"""
from __future__ import annotations

from ..ops._common import array_module
from .optimizer import Optimizer


class SGD(Optimizer):
    """p -= lr * v, v = momentum * v + (1 - dampening) * (g + weight_decay * p) (Nesterov: g + momentum * v)."""

    _fused_kind = "sgd"

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, l1=0.0,
                 fused=None):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening == 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, l1=l1, fused=fused))

    def _update(self, p, g, state, group):
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p
        momentum = group["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.astype(p.dtype, copy=True)
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * g
            g = g + momentum * buf if group["nesterov"] else buf
        p -= (group["lr"] * g).astype(p.dtype, copy=False)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction; weight_decay is L2 added to the gradient. ``amsgrad``
    divides by the running maximum of the second moment (Reddi et al. 2018; the NumPy formulas only)."""

    decoupled = False
    _fused_kind = "adam"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, l1=0.0,
                 fused=None):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, l1=l1, fused=fused))

    def _update(self, p, g, state, group):
        xp = array_module(p)
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if wd and self.decoupled:
            p *= p.dtype.type(1 - lr * wd)
        elif wd:
            g = g + wd * p
        if "step" not in state:
            state.update(step=0, exp_avg=xp.zeros_like(p), exp_avg_sq=xp.zeros_like(p))
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        if group["amsgrad"]:
            v_max = state.setdefault("max_exp_avg_sq", xp.zeros_like(p))
            xp.maximum(v_max, v, out=v_max)
            v = v_max
        m_hat = m / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        p -= (lr * m_hat / (xp.sqrt(v_hat) + eps)).astype(p.dtype, copy=False)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): p *= 1 - lr * weight_decay first."""

    decoupled = True
    _fused_kind = "adamw"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, l1=0.0,
                 fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, l1, fused)


class Adagrad(Optimizer):
    """sum += g^2; p -= lr / (1 + (t-1) lr_decay) * g / (sqrt(sum) + eps)."""

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                 l1=0.0):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps, l1=l1))

    def _update(self, p, g, state, group):
        xp = array_module(p)
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p
        if "step" not in state:
            state.update(step=0, sum=xp.full_like(p, group["initial_accumulator_value"]))
        state["step"] += 1
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += g * g
        p -= (clr * g / (xp.sqrt(state["sum"]) + group["eps"])).astype(p.dtype, copy=False)


class Adadelta(Optimizer):
    """v = rho v + (1-rho) g^2; d = sqrt(u + eps) / sqrt(v + eps) * g; u = rho u + (1-rho) d^2; p -= lr d."""

    _fused_kind = "adadelta"

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, l1=0.0, fused=None):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, l1=l1, fused=fused))

    def _update(self, p, g, state, group):
        xp = array_module(p)
        rho, eps = group["rho"], group["eps"]
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p
        if "square_avg" not in state:
            state.update(square_avg=xp.zeros_like(p), acc_delta=xp.zeros_like(p))
        v, u = state["square_avg"], state["acc_delta"]
        v *= rho
        v += (1 - rho) * g * g
        delta = xp.sqrt(u + eps) / xp.sqrt(v + eps) * g
        u *= rho
        u += (1 - rho) * delta * delta
        p -= (group["lr"] * delta).astype(p.dtype, copy=False)


class RMSprop(Optimizer):
    """v = alpha v + (1-alpha) g^2; p -= lr g / (sqrt(v) + eps) (with optional momentum and centering)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 l1=0.0):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, l1=l1))

    def _update(self, p, g, state, group):
        xp = array_module(p)
        alpha = group["alpha"]
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p
        if "square_avg" not in state:
            state["square_avg"] = xp.zeros_like(p)
            if group["momentum"]:
                state["momentum_buffer"] = xp.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(p)
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * g * g
        if group["centered"]:
            ga = state["grad_avg"]
            ga *= alpha
            ga += (1 - alpha) * g
            avg = xp.sqrt(v - ga * ga) + group["eps"]
        else:
            avg = xp.sqrt(v) + group["eps"]
        if group["momentum"]:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += g / avg
            p -= (group["lr"] * buf).astype(p.dtype, copy=False)
        else:
            p -= (group["lr"] * g / avg).astype(p.dtype, copy=False)
