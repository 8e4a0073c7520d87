"""The update rules, each written as PyTorch documents it.

SGD, Adam, AdamW and Adadelta also have a fused multi-tensor step in C++ (one call per parameter group,
optim/_fused.py), used by default for float32 NumPy parameters; ``fused=False`` keeps these formulas.

Each rule runs on the parameter's own device: ``xp`` is NumPy or CuPy after
the parameter's array, and the state buffers are made like the parameter.
"""
from __future__ import annotations

import math

from ..ops._common import array_module
from .optimizer import Optimizer


class SGD(Optimizer):
    """p -= lr * v, v = momentum * v + (1 - dampening) * (g + weight_decay * p) (Nesterov: g + momentum * v)."""

    _fused_kind = "sgd"

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 maximize=False, l1=0.0, fused=None):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening == 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize, l1=l1, fused=fused))

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

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *,
                 maximize=False, l1=0.0, fused=None):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize, l1=l1, fused=fused))

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

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, l1=0.0, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, l1=l1, fused=fused)


class Adagrad(Optimizer):
    """sum += g^2; p -= lr / (1 + (t-1) lr_decay) * g / (sqrt(sum) + eps)."""

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                 *, maximize=False, l1=0.0):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize, l1=l1))

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

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, *, maximize=False, l1=0.0, fused=None):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize, l1=l1,
                                      fused=fused))

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

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, *,
                 maximize=False, l1=0.0):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize, l1=l1))

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


class _AdamFamily(Optimizer):
    """Shared by Adamax, NAdam and RAdam: betas/eps/weight_decay groups, the first moment, L2 or decoupled decay."""

    def __init__(self, params, defaults):
        b1, b2 = defaults["betas"]
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"{type(self).__name__}: betas must be in [0, 1), got {defaults['betas']}")
        super().__init__(params, dict(defaults, betas=(b1, b2)))

    def _decayed(self, p, g, group):
        """The gradient with L2 decay added, or p shrunk in place first (decoupled_weight_decay, AdamW's rule)."""
        wd = group["weight_decay"]
        if wd and group.get("decoupled_weight_decay"):
            p *= p.dtype.type(1 - group["lr"] * wd)
        elif wd:
            g = g + wd * p
        return g

    @staticmethod
    def _moments(p, g, state, b1, b2, second=True):
        """Step count and the moment buffers (created on the first step), the first one updated."""
        xp = array_module(p)
        if "step" not in state:
            state.update(step=0, exp_avg=xp.zeros_like(p))
            state["exp_avg_sq" if second else "exp_inf"] = xp.zeros_like(p)
        state["step"] += 1
        m = state["exp_avg"]
        m *= b1
        m += (1 - b1) * g
        return state["step"], m


class Adamax(_AdamFamily):
    """Adam with the infinity norm: u = max(b2 u, |g| + eps); p -= lr / (1 - b1^t) * m / u (torch's formula)."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *, maximize=False, l1=0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, l1=l1))

    def _update(self, p, g, state, group):
        xp = array_module(p)
        (b1, b2), eps = group["betas"], group["eps"]
        g = self._decayed(p, g, group)
        t, m = self._moments(p, g, state, b1, b2, second=False)
        u = state["exp_inf"]
        xp.maximum(u * b2, xp.abs(g) + eps, out=u)
        p -= (group["lr"] / (1 - b1 ** t) * m / u).astype(p.dtype, copy=False)


class NAdam(_AdamFamily):
    """Adam with Nesterov momentum (Dozat 2016) and torch's momentum schedule
    mu_t = b1 (1 - 0.96^(t psi) / 2), psi = momentum_decay."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3, *,
                 decoupled_weight_decay=False, maximize=False, l1=0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, l1=l1))

    def _update(self, p, g, state, group):
        xp = array_module(p)
        lr, (b1, b2), eps, psi = group["lr"], group["betas"], group["eps"], group["momentum_decay"]
        g = self._decayed(p, g, group)
        t, m = self._moments(p, g, state, b1, b2)
        v = state["exp_avg_sq"]
        v *= b2
        v += (1 - b2) * g * g
        mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] = mu_product = state.get("mu_product", 1.0) * mu
        denom = xp.sqrt(v / (1 - b2 ** t)) + eps
        update = lr * (1 - mu) / (1 - mu_product) * g / denom
        update += lr * mu_next / (1 - mu_product * mu_next) * m / denom
        p -= update.astype(p.dtype, copy=False)


class RAdam(_AdamFamily):
    """Rectified Adam (Liu et al. 2020): SGD with momentum while the variance of the adaptive rate is
    intractable (rho_t <= 5), then Adam scaled by the rectification term (torch's formula)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *,
                 decoupled_weight_decay=False, maximize=False, l1=0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, l1=l1))

    def _update(self, p, g, state, group):
        xp = array_module(p)
        lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
        g = self._decayed(p, g, group)
        t, m = self._moments(p, g, state, b1, b2)
        v = state["exp_avg_sq"]
        v *= b2
        v += (1 - b2) * g * g
        m_hat = m / (1 - b1 ** t)
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        if rho_t > 5:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            update = m_hat * (lr * rect * math.sqrt(1 - b2 ** t)) / (xp.sqrt(v) + eps)
        else:
            update = m_hat * lr
        p -= update.astype(p.dtype, copy=False)
