"""2-D convolution: forward, backward-data and backward-weights (NCHW / OIHW, float32).

Hyper-parameters, shared by the three functions:

* ``stride``, ``dilation``: an int or ``(sh, sw)``, all >= 1;
* ``padding``: an int, ``(ph, pw)``, or ``(top, bottom, left, right)``, all >= 0;
* ``groups``: input and output channels split into ``groups`` independent
  convolutions (``groups == C_in == C_out`` is a depthwise convolution).

Output size along each axis: ``(in + pad_lo + pad_hi - dilation*(k-1) - 1) // stride + 1``.
Every check (dtypes, ranks, shapes, hyper-parameters) happens in the C++ entry,
which raises ValueError / TypeError naming the shapes involved.
"""
from __future__ import annotations

from .. import _C
from ._dispatch import bool_arg, int_arg, module_for


def activation_arg(activation, op):
    """None, "none" or "relu" (the fused epilogues of conv2d_forward / linear_forward), else an error."""
    if activation is None or activation == "none":
        return None
    if activation == "relu":
        return activation
    if not isinstance(activation, str):
        raise TypeError(f"{op}: activation must be None, 'none' or 'relu', got {type(activation).__name__}")
    raise ValueError(f"{op}: activation must be None, 'none' or 'relu', got {activation!r}")


def conv2d_forward(x, w, bias=None, *, stride=1, padding=0, dilation=1, groups=1, backend="auto", activation=None):
    """y = conv2d(x, w) + bias (cross-correlation, as in every DL framework), then ``activation``.

    ``y[n, o, i, j] = bias[o] + sum_{c, p, q} x[n, g*Cg + c, i*sh - pt + p*dh, j*sw - pl + q*dw] * w[o, c, p, q]``
    with ``g = o // (O/groups)``, ``Cg = C/groups`` and x = 0 outside the input.

    Args:
        x: (N, C, H, W) float32, C-contiguous.
        w: (O, C/groups, KH, KW) float32.
        bias: (O,) float32 or None.
        stride, padding, dilation, groups: see the module docstring.
        backend: "auto", "ref", "avx2", "avx512" (or "onednn" when built).
        activation: None or "relu": y = relu(conv + bias). Our float32 kernels apply it (and the bias) to
            each output tile before storing it; the bfloat16 column, oneDNN and CUDA run a separate
            relu_forward pass after the convolution (same result: ReLU is exact).

    Returns:
        y: (N, O, OH, OW) float32.

    Example:
        >>> import numpy as np, dlcore
        >>> x = np.ones((1, 1, 4, 4), np.float32); w = np.ones((2, 1, 3, 3), np.float32)
        >>> float(dlcore.kernels.conv2d_forward(x, w, padding=1)[0, 0, 0, 0])
        4.0
    """
    groups = int_arg(groups, "conv2d_forward", "groups")
    module = module_for(backend, "conv2d_forward", x, w)
    if module is _C:
        return module.conv2d_forward(x, w, bias, stride, padding, dilation, groups, backend, activation)
    activation = activation_arg(activation, "conv2d_forward")
    y = module.conv2d_forward(x, w, bias, stride, padding, dilation, groups, backend)
    if activation is None:
        return y
    return module_for(backend, "relu_forward", y).relu_forward(y, 0.0, backend)  # not fused there: a pass


def conv2d_backward_data(dy, w, input_shape, *, stride=1, padding=0, dilation=1, groups=1, backend="auto"):
    """dx = d(sum(y * dy)) / dx for y = conv2d_forward(x, w, ...): the transposed convolution.

    Args:
        dy: (N, O, OH, OW) float32, the gradient of the forward output.
        w: (O, C/groups, KH, KW) float32.
        input_shape: (N, C, H, W) of the forward input (needed because several
            input sizes give the same output size when stride > 1).
        stride, padding, dilation, groups: those of the forward call.

    Returns:
        dx: float32 of ``input_shape``.

    Example:
        >>> import numpy as np, dlcore
        >>> dy = np.ones((1, 2, 4, 4), np.float32); w = np.ones((2, 1, 3, 3), np.float32)
        >>> float(dlcore.kernels.conv2d_backward_data(dy, w, (1, 1, 4, 4), padding=1)[0, 0, 1, 1])
        18.0
    """
    groups = int_arg(groups, "conv2d_backward_data", "groups")
    module = module_for(backend, "conv2d_backward_data", dy, w)
    return module.conv2d_backward_data(dy, w, tuple(input_shape), stride, padding, dilation, groups, backend)


def conv2d_backward_weights(x, dy, weight_shape, *, stride=1, padding=0, dilation=1, groups=1, bias=True,
                            backend="auto"):
    """(dw, db): gradients of sum(y * dy) for y = conv2d_forward(x, w, b, ...).

    ``dw[o, c, p, q] = sum_{n, i, j} dy[n, o, i, j] * x[n, g*Cg + c, i*sh - pt + p*dh, j*sw - pl + q*dw]``,
    ``db[o] = sum_{n, i, j} dy[n, o, i, j]``.

    Args:
        x: (N, C, H, W) float32, the forward input.
        dy: (N, O, OH, OW) float32.
        weight_shape: (O, C/groups, KH, KW).
        stride, padding, dilation, groups: those of the forward call.
        bias: whether to compute db.

    Returns:
        (dw of ``weight_shape``, db (O,) or None when ``bias=False``).

    Example:
        >>> import numpy as np, dlcore
        >>> x = np.ones((1, 1, 4, 4), np.float32); dy = np.ones((1, 2, 2, 2), np.float32)
        >>> dw, db = dlcore.kernels.conv2d_backward_weights(x, dy, (2, 1, 3, 3))
        >>> float(dw[0, 0, 0, 0]), float(db[0])
        (4.0, 4.0)
    """
    bias = bool_arg(bias, "conv2d_backward_weights", "bias")
    groups = int_arg(groups, "conv2d_backward_weights", "groups")
    module = module_for(backend, "conv2d_backward_weights", x, dy)
    return module.conv2d_backward_weights(x, dy, tuple(weight_shape), stride, padding, dilation, groups,
                                          bool(bias), backend)
