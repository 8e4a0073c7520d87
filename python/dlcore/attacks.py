"""Adversarial examples: the fast gradient sign method (Goodfellow, Shlens & Szegedy 2015).

``fgsm(model, x, y, eps)`` returns ``x + eps * sign(d loss / d x)``: one step
that increases the loss the most under an L-infinity budget eps. The gradient
is taken with respect to the input only: the model's parameters get no
gradient (their ``requires_grad`` flags are switched off for the call and
restored after), so an optimizer's next step is unaffected.
"""
from __future__ import annotations

from .autograd import enable_grad, no_grad
from .nn import functional as F
from .ops._common import array_module
from .tensor import Tensor, tensor

__all__ = ["fgsm", "input_gradient"]


def input_gradient(model, x, y, loss_fn=F.cross_entropy):
    """d loss_fn(model(x), y) / d x as an array shaped like x (parameters get no .grad)."""
    if not isinstance(x, Tensor):
        x = tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"input_gradient: x must be floating point, got {x.dtype}")
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    xg = x.detach().requires_grad_(True)
    try:
        for p in params:
            p.requires_grad = False
        with enable_grad():
            loss = loss_fn(model(xg), y)
            if loss.numel() != 1:
                raise ValueError(f"input_gradient: the loss must be a scalar, got shape {loss.shape}")
            loss.backward()
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad = flag
    return xg.grad._data


def fgsm(model, x, y, eps, loss_fn=F.cross_entropy, clip=None):
    """x + eps * sign(grad_x loss(model(x), y)), as a new Tensor without a tape.

    Args:
        model: a Module (call ``model.eval()`` first when it has dropout or batch norm).
        x: inputs (Tensor or array), y: the true labels.
        eps: the L-infinity size of the step (>= 0), in the units of x (0.3 = 30 % of
            the range for images in [0, 1]).
        clip: optional (low, high): the result is clipped into the valid input range.

    Example:
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).eval()
        >>> x, y = dlcore.rand(4, 1, 8, 8), dlcore.tensor([0, 1, 2, 3])
        >>> x_adv = dlcore.attacks.fgsm(model, x, y, eps=0.1, clip=(0, 1))
        >>> bool(abs(x_adv - x).max() <= 0.1 + 1e-6)
        True
    """
    eps = float(eps)
    if not eps >= 0:
        raise ValueError(f"fgsm: eps must be >= 0, got {eps}")
    if not isinstance(x, Tensor):
        x = tensor(x)
    grad = input_gradient(model, x, y, loss_fn)
    xp = array_module(grad)
    adv = x._data + x._data.dtype.type(eps) * xp.sign(grad).astype(x._data.dtype, copy=False)
    if clip is not None:
        low, high = clip
        adv = xp.clip(adv, low, high)
    with no_grad():
        return Tensor(adv)
