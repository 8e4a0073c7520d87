"""Local response normalization (NCHW, float32), forward and exact backward.

    y = x / (k + a * sum(x^2 over the window))^beta,   a = alpha / n

with n = size across channels or size*size within a channel (the PyTorch,
Caffe and oneDNN convention); ``alpha_over_size=False`` uses a = alpha (the
other convention, e.g. TensorFlow's depth_radius form). The window reaches
size//2 before and (size-1)//2 after each element, as in PyTorch (centred for
odd sizes, where every framework agrees). Requires k > 0 and alpha >= 0.
"""
from __future__ import annotations

from ._dispatch import bool_arg, float_arg, int_arg, module_for


def lrn_forward(x, size, alpha=1e-4, beta=0.75, k=1.0, *, region="across", alpha_over_size=True,
                backend="auto"):
    """LRN forward.

    Args:
        x: (N, C, H, W) float32, C-contiguous.
        size: window length (channels for "across", box side for "within").
        alpha, beta, k: y = x / (k + alpha/n * sum x^2)^beta.
        region: "across" (channels, AlexNet) or "within" (a size x size box).
        alpha_over_size: divide alpha by n (default) or not.
        backend: "auto", "ref", "avx2", "avx512" (or "onednn"/"cuda" when built).

    Returns:
        y, same shape as x.

    Example:
        >>> import numpy as np, dlcore
        >>> x = np.full((1, 3, 1, 1), 2.0, np.float32)
        >>> y = dlcore.kernels.lrn_forward(x, 3, alpha=3.0, beta=1.0, k=1.0)
        >>> y.ravel().tolist()  # centre: 2 / (1 + 3/3 * 12); edges: 2 / (1 + 3/3 * 8)
        [0.2222222238779068, 0.1538461595773697, 0.2222222238779068]
    """
    size = int_arg(size, "lrn_forward", "size")
    alpha = float_arg(alpha, "lrn_forward", "alpha")
    beta = float_arg(beta, "lrn_forward", "beta")
    k = float_arg(k, "lrn_forward", "k")
    alpha_over_size = bool_arg(alpha_over_size, "lrn_forward", "alpha_over_size")
    if not isinstance(region, str):
        raise TypeError(f"lrn_forward: region must be 'across' or 'within', got {type(region).__name__}")
    module = module_for(backend, "lrn_forward", x)
    return module.lrn_forward(x, int(size), float(alpha), float(beta), float(k), region, bool(alpha_over_size),
                              backend)


def lrn_backward(dy, x, size, alpha=1e-4, beta=0.75, k=1.0, *, region="across", alpha_over_size=True,
                 backend="auto"):
    """Exact LRN gradient with respect to x.

    With s_i = k + a * sum_{j in W(i)} x_j^2:
        dx_j = dy_j s_j^-beta - 2 a beta x_j sum_{i : j in W(i)} dy_i x_i s_i^(-beta-1)

    Args:
        dy: (N, C, H, W) float32, gradient of y.
        x: (N, C, H, W) float32, the forward input.
        size, alpha, beta, k, region, alpha_over_size: as in ``lrn_forward``.

    Returns:
        dx, same shape as x.

    Example:
        >>> import numpy as np, dlcore
        >>> x = np.ones((1, 1, 1, 1), np.float32)
        >>> float(dlcore.kernels.lrn_backward(x, x, 1, alpha=1.0, beta=1.0, k=1.0)[0, 0, 0, 0])  # d/dx x/(1+x^2)
        0.0
    """
    size = int_arg(size, "lrn_backward", "size")
    alpha = float_arg(alpha, "lrn_backward", "alpha")
    beta = float_arg(beta, "lrn_backward", "beta")
    k = float_arg(k, "lrn_backward", "k")
    alpha_over_size = bool_arg(alpha_over_size, "lrn_backward", "alpha_over_size")
    if not isinstance(region, str):
        raise TypeError(f"lrn_backward: region must be 'across' or 'within', got {type(region).__name__}")
    module = module_for(backend, "lrn_backward", dy, x)
    return module.lrn_backward(dy, x, int(size), float(alpha), float(beta), float(k), region,
                               bool(alpha_over_size), backend)
