"""Rprop, ASGD and Adafactor, each as PyTorch documents it (same defaults and state names, so state dicts
and step-by-step values match torch.optim's)."""
from __future__ import annotations

import math

import numpy as np

from ..ops._common import array_module
from .optimizer import Optimizer


class Rprop(Optimizer):
    """Resilient backpropagation: each weight's own step grows (etas[1]) while its gradient keeps its sign
    and shrinks (etas[0]) when it flips (then that step is skipped); only the gradient's sign is used."""

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, maximize=False, l1=0.0):
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Rprop: etas must satisfy 0 < etaminus < 1 < etaplus, got {etas}")
        super().__init__(params, dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), maximize=maximize, l1=l1))

    def _update(self, p, g, state, group):
        xp = array_module(p)
        eta_minus, eta_plus = group["etas"]
        low, high = group["step_sizes"]
        if "prev" not in state:
            state["step"] = 0
            state["prev"] = xp.zeros_like(p)
            state["step_size"] = xp.full_like(p, group["lr"])
        state["step"] += 1
        product = g * state["prev"]
        factor = xp.where(product > 0, eta_plus, xp.where(product < 0, eta_minus, 1.0)).astype(p.dtype)
        state["step_size"] = xp.clip(state["step_size"] * factor, low, high).astype(p.dtype)
        g = xp.where(product < 0, 0, g).astype(p.dtype)  # a flipped sign: no step now, and no flip next time
        p -= xp.sign(g) * state["step_size"]
        state["prev"] = g


class ASGD(Optimizer):
    """Averaged SGD (Polyak-Ruppert): SGD with a decaying rate eta = lr / (1 + lambd lr t)^alpha, keeping in
    state['ax'] the running average of the iterates from step t0 on (use it as the final weights)."""

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, *, maximize=False,
                 l1=0.0):
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      maximize=maximize, l1=l1))

    def _update(self, p, g, state, group):
        xp = array_module(p)
        if "ax" not in state:
            state.update(step=0, eta=float(group["lr"]), mu=1.0, ax=xp.zeros_like(p))
        state["step"] += 1
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p
        eta = state["eta"]
        p *= p.dtype.type(1 - group["lambd"] * eta)
        p -= p.dtype.type(eta) * g
        if state["mu"] != 1:
            state["ax"] += (p - state["ax"]) * p.dtype.type(state["mu"])
        else:
            state["ax"][...] = p
        step = state["step"]
        state["eta"] = group["lr"] / ((1 + group["lambd"] * group["lr"] * step) ** group["alpha"])
        state["mu"] = 1 / max(1, step - group["t0"])


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern 2018) as torch.optim.Adafactor: the second moment of a matrix gradient is
    kept factored (a row and a column average: O(n + m) memory instead of O(n m)), no first moment; the step
    is relative to the parameter's RMS and clipped by the update's RMS over `d`."""

    _signed_hyperparameters = ("beta2_decay",)

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 maximize=False, l1=0.0):
        if beta2_decay > 0:
            raise ValueError(f"Adafactor: beta2_decay must be <= 0, got {beta2_decay}")
        if d < 1:
            raise ValueError(f"Adafactor: the clipping threshold d must be >= 1, got {d}")
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=tuple(eps), d=d, weight_decay=weight_decay,
                                      maximize=maximize, l1=l1))

    def _update(self, p, g, state, group):
        xp = array_module(p)
        eps1, eps2 = group["eps"]
        eps1 = float(np.finfo(p.dtype).eps) if eps1 is None else eps1
        if "step" not in state:
            state["step"] = 0
            if g.ndim > 1:
                state["row_var"] = xp.zeros(g.shape[:-1] + (1,), dtype=p.dtype)
                state["col_var"] = xp.zeros(g.shape[:-2] + (1, g.shape[-1]), dtype=p.dtype)
            else:
                state["variance"] = xp.zeros_like(p)
        state["step"] += 1
        step = float(state["step"])
        new_weight = step ** group["beta2_decay"]  # 1 - beta2_t
        rho = min(group["lr"], 1 / math.sqrt(step))
        alpha = max(eps2, float(xp.linalg.norm(p.ravel())) / math.sqrt(p.size)) * rho
        if group["weight_decay"]:
            p *= p.dtype.type(1 - group["lr"] * group["weight_decay"])
        if g.ndim > 1:
            row_mean = (g * g).mean(axis=-1, keepdims=True)
            col_mean = (g * g).mean(axis=-2, keepdims=True)
            state["row_var"] += (row_mean - state["row_var"]) * p.dtype.type(new_weight)
            state["col_var"] += (col_mean - state["col_var"]) * p.dtype.type(new_weight)
            estimate = state["row_var"] @ state["col_var"]
            estimate = estimate / xp.maximum(state["row_var"].mean(axis=-2, keepdims=True), eps1)
        else:
            state["variance"] += (g * g - state["variance"]) * p.dtype.type(new_weight)
            estimate = state["variance"].copy()
        update = g / xp.sqrt(xp.maximum(estimate, eps1 * eps1))
        denom = max(1.0, float(xp.linalg.norm(update.ravel())) / (math.sqrt(update.size) * group["d"]))
        p -= p.dtype.type(alpha / denom) * update.astype(p.dtype, copy=False)


def newton_schulz(g, coefficients=(3.4445, -4.775, 2.0315), steps=5, eps=1e-7):
    """Muon's orthogonalization of a matrix g (2-D NumPy or CuPy array): g over its Frobenius norm, then
    `steps` quintic Newton-Schulz iterations x <- a x + (b x x^T + c (x x^T)^2) x on the wide orientation
    (x x^T the smaller Gram matrix). The default coefficients maximize the slope at zero, so the singular
    values land near 1 (roughly 0.7-1.2), not at it: U S' V^T rather than U V^T, which Muon's authors found
    trains as well and takes 5 iterations."""
    xp = array_module(g)
    a, b, c = (g.dtype.type(v) for v in coefficients)
    tall = g.shape[0] > g.shape[1]
    x = g.T if tall else g
    x = x / g.dtype.type(max(float(xp.linalg.norm(x)), eps))
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * (gram @ gram)) @ x
    return x.T if tall else x


def muon_lr(lr, adjust_lr_fn, shape):
    """The step size Muon applies to a matrix of `shape` (A rows = fan-out, B columns = fan-in):
    'original' (None) lr sqrt(max(1, A/B)) (Keller Jordan's), 'match_rms_adamw' 0.2 lr sqrt(max(A, B))
    (Moonshot's: reuses AdamW's lr and weight decay), 'spectral_unclamped' lr sqrt(A/B) (Bernstein's)."""
    rows, cols = shape[:2]
    if adjust_lr_fn in (None, "original"):
        return lr * math.sqrt(max(1.0, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return lr * 0.2 * math.sqrt(max(rows, cols))
    return lr * math.sqrt(rows / cols)


class Muon(Optimizer):
    """Muon (MomentUm Orthogonalized by Newton-Schulz; Jordan et al. 2024) as torch.optim.Muon, for 2-D
    parameters (weight matrices; give biases, norms and embeddings to AdamW in a second optimizer):
    buf = lerp(buf, g, 1 - momentum); u = lerp(g, buf, momentum) with nesterov, else buf; the update
    newton_schulz(u), stepped by muon_lr(lr, adjust_lr_fn, shape) after the decoupled weight decay
    p *= 1 - lr weight_decay. The iterations run in the parameter's dtype (torch's in bfloat16: the two
    agree to bfloat16 rounding, float64 here is the exact formula)."""

    _ADJUST_LR = (None, "original", "match_rms_adamw", "spectral_unclamped")

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None):
        if adjust_lr_fn not in self._ADJUST_LR:
            raise ValueError(f"Muon: adjust_lr_fn must be one of {self._ADJUST_LR}, got {adjust_lr_fn!r}")
        if not 0 < ns_steps < 100:
            raise ValueError(f"Muon: ns_steps must be in [1, 99], got {ns_steps}")
        if len(tuple(ns_coefficients)) != 3:
            raise ValueError(f"Muon: ns_coefficients must be 3 numbers (a, b, c), got {ns_coefficients!r}")
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                                      ns_coefficients=tuple(ns_coefficients), eps=eps, ns_steps=ns_steps,
                                      adjust_lr_fn=adjust_lr_fn))

    def add_param_group(self, group):
        super().add_param_group(group)
        for p in self.param_groups[-1]["params"]:
            if p.ndim != 2:
                self.param_groups.pop()
                raise ValueError(f"Muon: only 2-D parameters (weight matrices), got one of shape {tuple(p.shape)}; "
                                 "optimize the others with AdamW")

    def _update(self, p, g, state, group):
        xp = array_module(p)
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = xp.zeros_like(p)
        buf, mu = state["momentum_buffer"], p.dtype.type(group["momentum"])
        buf += (g - buf) * (1 - mu)
        update = g + (buf - g) * mu if group["nesterov"] else buf
        ortho = newton_schulz(update, group["ns_coefficients"], group["ns_steps"], group["eps"])
        lr = group["lr"]
        p *= p.dtype.type(1 - lr * group["weight_decay"])
        p -= p.dtype.type(muon_lr(lr, group["adjust_lr_fn"], p.shape)) * ortho
