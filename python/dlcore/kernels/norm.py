"""Batch normalization: statistics per channel over N (and H, W).

x is (N, C) or (N, C, H, W) float32. ``weight``/``bias`` are (C,) or None
(no affine: weight 1, bias 0; their gradients are then None).
"""
from __future__ import annotations

from ._dispatch import float_arg, module_for

__all__ = ["batch_norm_forward_training", "batch_norm_forward_inference", "batch_norm_backward"]


def batch_norm_forward_training(x, weight, bias, running_mean=None, running_var=None, *, momentum=0.1,
                                eps=1e-5, backend="auto"):
    """y = (x - mean) * invstd * weight + bias with batch statistics.

    mean and the biased variance are per channel over N*H*W (two-pass,
    accumulated in double: no cancellation); invstd = 1 / sqrt(var + eps).
    ``running_mean``/``running_var`` (C,), when given, are updated in place:
    r = (1 - momentum) * r + momentum * stat, running_var with the unbiased
    variance. N*H*W must be > 1 (ValueError otherwise); eps must be > 0.

    Returns:
        (y, mean, invstd), y shaped like x, mean and invstd (C,).

    Example:
        >>> x = np.array([[1.0], [3.0]], np.float32)
        >>> y, mean, invstd = dlcore.kernels.batch_norm_forward_training(x, None, None, eps=1e-5)
        >>> y.ravel().round(3), mean
        (array([-1.,  1.], dtype=float32), array([2.], dtype=float32))
    """
    momentum = float_arg(momentum, "batch_norm_forward_training", "momentum")
    eps = float_arg(eps, "batch_norm_forward_training", "eps")
    module = module_for(backend, "batch_norm_forward_training", x)
    return module.batch_norm_forward_training(x, weight, bias, running_mean, running_var, float(momentum),
                                              float(eps), backend)


def batch_norm_forward_inference(x, weight, bias, running_mean, running_var, *, eps=1e-5, backend="auto"):
    """y = (x - running_mean) / sqrt(running_var + eps) * weight + bias (one streaming pass)."""
    eps = float_arg(eps, "batch_norm_forward_inference", "eps")
    module = module_for(backend, "batch_norm_forward_inference", x)
    return module.batch_norm_forward_inference(x, weight, bias, running_mean, running_var, float(eps), backend)


def batch_norm_backward(dy, x, weight, mean, invstd, *, backend="auto"):
    """Training-mode gradient from the forward's mean and invstd.

    With xhat = (x - mean) * invstd and m = N*H*W per channel:
    dx = weight * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)),
    dweight = sum(dy * xhat), dbias = sum(dy).

    Returns:
        (dx, dweight, dbias); dweight and dbias are None when weight is None.
    """
    module = module_for(backend, "batch_norm_backward", dy, x)
    return module.batch_norm_backward(dy, x, weight, mean, invstd, backend)
