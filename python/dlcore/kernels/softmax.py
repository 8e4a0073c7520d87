"""Softmax and log-softmax along an axis, and fused softmax cross-entropy."""
from __future__ import annotations

from ._dispatch import float_arg, int_arg, module_for

__all__ = ["softmax_forward", "softmax_backward", "log_softmax_forward", "log_softmax_backward",
           "cross_entropy_forward", "cross_entropy_backward"]


def softmax_forward(x, axis=-1, *, backend="auto"):
    """y = exp(x - max) / sum(exp(x - max)) along ``axis`` (stable for any finite range).

    Rows containing -inf give 0 there; an all -inf row gives NaN, as in PyTorch.

    Example:
        >>> dlcore.kernels.softmax_forward(np.array([[0.0, 0.0]], np.float32))
        array([[0.5, 0.5]], dtype=float32)
    """
    axis = int_arg(axis, "softmax_forward", "axis")
    return module_for(backend, "softmax_forward", x).softmax_forward(x, axis, backend)


def softmax_backward(dy, y, axis=-1, *, backend="auto"):
    """dx = y * (dy - sum(dy * y)) along ``axis``, from the forward output y."""
    axis = int_arg(axis, "softmax_backward", "axis")
    return module_for(backend, "softmax_backward", dy, y).softmax_backward(dy, y, axis, backend)


def log_softmax_forward(x, axis=-1, *, backend="auto"):
    """y = x - max - log(sum(exp(x - max))) along ``axis``.

    Example:
        >>> dlcore.kernels.log_softmax_forward(np.zeros((1, 2), np.float32)).round(4)
        array([[-0.6931, -0.6931]], dtype=float32)
    """
    axis = int_arg(axis, "log_softmax_forward", "axis")
    return module_for(backend, "log_softmax_forward", x).log_softmax_forward(x, axis, backend)


def log_softmax_backward(dy, y, axis=-1, *, backend="auto"):
    """dx = dy - exp(y) * sum(dy) along ``axis``, from the log-probabilities y."""
    axis = int_arg(axis, "log_softmax_backward", "axis")
    return module_for(backend, "log_softmax_backward", dy, y).log_softmax_backward(dy, y, axis, backend)


def cross_entropy_forward(logits, target, *, label_smoothing=0.0, backend="auto"):
    """Per-sample softmax cross-entropy with optional label smoothing eps.

    loss[n] = -(1 - eps) * lp[n, t_n] - eps / C * sum_c lp[n, c], lp = log_softmax(logits).

    Args:
        logits: (N, C) float32.
        target: (N,) int64 class indices in [0, C) (ValueError otherwise).

    Returns:
        (loss (N,), log_probs (N, C)); keep log_probs for the backward.

    Example:
        >>> loss, lp = dlcore.kernels.cross_entropy_forward(np.zeros((1, 4), np.float32), np.array([2]))
        >>> loss.round(4)
        array([1.3863], dtype=float32)
    """
    module = module_for(backend, "cross_entropy_forward", logits)
    eps = float_arg(label_smoothing, "cross_entropy_forward", "label_smoothing")
    return module.cross_entropy_forward(logits, target, eps, backend)


def cross_entropy_backward(dloss, log_probs, target, *, label_smoothing=0.0, backend="auto"):
    """dlogits = dloss[:, None] * (softmax - (1 - eps) * onehot(target) - eps / C), (N, C)."""
    module = module_for(backend, "cross_entropy_backward", dloss, log_probs)
    eps = float_arg(label_smoothing, "cross_entropy_backward", "label_smoothing")
    return module.cross_entropy_backward(dloss, log_probs, target, eps, backend)
