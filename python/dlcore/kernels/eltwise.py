"""Activations: element-wise forward/backward kernels, PReLU and maxout.

All take float32 C-contiguous arrays of any shape (PReLU/maxout: channels on
axis 1) and return new arrays. Backward kernels take what the math needs:
the input ``x`` (ReLU, ELU, abs, PReLU) or the forward output ``y``
(sigmoid, tanh).
"""
from __future__ import annotations

from ._dispatch import float_arg, int_arg, module_for

__all__ = ["relu_forward", "relu_backward", "prelu_forward", "prelu_backward", "sigmoid_forward",
           "sigmoid_backward", "tanh_forward", "tanh_backward", "elu_forward", "elu_backward",
           "abs_forward", "abs_backward", "maxout_forward", "maxout_backward", "vexp", "vlog", "vtanh"]


def relu_forward(x, negative_slope=0.0, *, backend="auto"):
    """y = x if x > 0 else negative_slope * x (leaky ReLU; plain ReLU at 0.0).

    Example:
        >>> import numpy as np, dlcore
        >>> dlcore.kernels.relu_forward(np.array([-2.0, 3.0], np.float32), 0.1)
        array([-0.2,  3. ], dtype=float32)
    """
    negative_slope = float_arg(negative_slope, "relu_forward", "negative_slope")
    return module_for(backend, "relu_forward", x).relu_forward(x, float(negative_slope), backend)


def relu_backward(dy, x, negative_slope=0.0, *, backend="auto"):
    """dx = dy if x > 0 else negative_slope * dy (the gradient at x == 0 is the slope side)."""
    negative_slope = float_arg(negative_slope, "relu_backward", "negative_slope")
    return module_for(backend, "relu_backward", dy, x).relu_backward(dy, x, float(negative_slope), backend)


def prelu_forward(x, weight, *, backend="auto"):
    """y = x if x > 0 else weight[c] * x, with c the index on axis 1.

    Args:
        x: (N, C, ...) float32; any shape when ``weight`` has shape (1,).
        weight: (C,) per-channel slopes, or (1,) shared by all elements.

    Example:
        >>> x = np.array([[-1.0, -1.0]], np.float32); w = np.array([0.1, 0.5], np.float32)
        >>> dlcore.kernels.prelu_forward(x, w)
        array([[-0.1, -0.5]], dtype=float32)
    """
    return module_for(backend, "prelu_forward", x, weight).prelu_forward(x, weight, backend)


def prelu_backward(dy, x, weight, *, backend="auto"):
    """(dx, dweight): dx = dy * (1 if x > 0 else weight[c]); dweight[c] = sum of dy * x over x <= 0.

    ``dweight`` has the shape of ``weight``; its reduction order is fixed, so
    it does not depend on the thread count.
    """
    return module_for(backend, "prelu_backward", dy, x, weight).prelu_backward(dy, x, weight, backend)


def sigmoid_forward(x, *, backend="auto"):
    """y = 1 / (1 + exp(-x)), with our vectorized exp (a few ulp).

    Example:
        >>> dlcore.kernels.sigmoid_forward(np.zeros(2, np.float32))
        array([0.5, 0.5], dtype=float32)
    """
    return module_for(backend, "sigmoid_forward", x).sigmoid_forward(x, backend)


def sigmoid_backward(dy, y, *, backend="auto"):
    """dx = dy * y * (1 - y), from the forward output y."""
    return module_for(backend, "sigmoid_backward", dy, y).sigmoid_backward(dy, y, backend)


def tanh_forward(x, *, backend="auto"):
    """y = tanh(x) (a few ulp; exactly +-1 once saturated).

    Example:
        >>> dlcore.kernels.tanh_forward(np.zeros(1, np.float32))
        array([0.], dtype=float32)
    """
    return module_for(backend, "tanh_forward", x).tanh_forward(x, backend)


def tanh_backward(dy, y, *, backend="auto"):
    """dx = dy * (1 - y**2), from the forward output y."""
    return module_for(backend, "tanh_backward", dy, y).tanh_backward(dy, y, backend)


def elu_forward(x, alpha=1.0, *, backend="auto"):
    """y = x if x > 0 else alpha * (exp(x) - 1).

    Example:
        >>> dlcore.kernels.elu_forward(np.array([1.0, -50.0], np.float32))
        array([ 1., -1.], dtype=float32)
    """
    alpha = float_arg(alpha, "elu_forward", "alpha")
    return module_for(backend, "elu_forward", x).elu_forward(x, float(alpha), backend)


def elu_backward(dy, x, alpha=1.0, *, backend="auto"):
    """dx = dy if x > 0 else dy * alpha * exp(x), from the forward input x."""
    alpha = float_arg(alpha, "elu_backward", "alpha")
    return module_for(backend, "elu_backward", dy, x).elu_backward(dy, x, float(alpha), backend)


def abs_forward(x, *, backend="auto"):
    """y = |x|.

    Example:
        >>> dlcore.kernels.abs_forward(np.array([-2.0], np.float32))
        array([2.], dtype=float32)
    """
    return module_for(backend, "abs_forward", x).abs_forward(x, backend)


def abs_backward(dy, x, *, backend="auto"):
    """dx = dy * sign(x), with gradient 0 at x == 0."""
    return module_for(backend, "abs_backward", dy, x).abs_backward(dy, x, backend)


def maxout_forward(x, pool_size, *, backend="auto"):
    """Max over groups of ``pool_size`` consecutive channels (axis 1).

    y[n, g, ...] = max_j x[n, g * pool_size + j, ...].

    Args:
        x: (N, C, ...) float32 with C divisible by ``pool_size``.

    Returns:
        (y, indices): y (N, C // pool_size, ...) float32 and int32 indices of
        the same shape holding the winning j in [0, pool_size) (the first on
        ties; NaN wins, so it propagates).

    Example:
        >>> x = np.array([[1.0, 5.0, 3.0, 2.0]], np.float32)
        >>> dlcore.kernels.maxout_forward(x, 2)
        (array([[5., 3.]], dtype=float32), array([[1, 0]], dtype=int32))
    """
    pool_size = int_arg(pool_size, "maxout_forward", "pool_size")
    return module_for(backend, "maxout_forward", x).maxout_forward(x, int(pool_size), backend)


def maxout_backward(dy, indices, pool_size, *, backend="auto"):
    """dx (N, C, ...): dy routed to the winning channel of each group, 0 elsewhere."""
    pool_size = int_arg(pool_size, "maxout_backward", "pool_size")
    return module_for(backend, "maxout_backward", dy, indices).maxout_backward(dy, indices, int(pool_size),
                                                                                backend)


def vexp(x, *, backend="auto"):
    """exp(x) with our vectorized exp (test hook for csrc/core/simd_math.h)."""
    return module_for(backend, "vexp", x).vexp(x, backend)


def vlog(x, *, backend="auto"):
    """log(x) with our vectorized log (test hook)."""
    return module_for(backend, "vlog", x).vlog(x, backend)


def vtanh(x, *, backend="auto"):
    """tanh(x) with our vectorized tanh (test hook)."""
    return module_for(backend, "vtanh", x).vtanh(x, backend)
