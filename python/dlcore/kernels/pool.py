"""2-D max and average pooling (NCHW, float32), forward and backward.

Geometry is PyTorch's (``torch.nn.functional.max_pool2d`` / ``avg_pool2d``):
``kernel_size``, ``stride`` (default: ``kernel_size``) and ``padding`` are an
int or an ``(h, w)`` pair; ``OH = floor((H + 2*ph - kh) / sh) + 1`` (``ceil``
with ``ceil_mode``, dropping a last window that would start in the bottom
padding). Padding may be at most half the kernel, so no window lies entirely
in padding.
"""
from __future__ import annotations

from ._dispatch import bool_arg, module_for


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, *, ceil_mode=False, backend="auto"):
    """Max pooling: y[n, c, i, j] = max of x over window (i, j); padding never wins.

    Args:
        x: (N, C, H, W) float32, C-contiguous.
        kernel_size, stride, padding: int or (h, w); stride None = kernel_size.
        ceil_mode: round the output size up (PyTorch rule).
        backend: "auto", "ref", "avx2", "avx512" (or "onednn"/"cuda" when built).

    Returns:
        (y, indices): y (N, C, OH, OW) float32 and indices (N, C, OH, OW)
        int32, the flat offset h*W + w of each maximum within its (n, c)
        plane. On ties the first (lowest) index wins; NaN propagates (the
        index of the first NaN in the window).

    Example:
        >>> import numpy as np, dlcore
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
        >>> y, idx = dlcore.kernels.max_pool2d_forward(x, 2)
        >>> y[0, 0].tolist(), idx[0, 0].tolist()
        ([[5.0, 7.0], [13.0, 15.0]], [[5, 7], [13, 15]])
    """
    ceil_mode = bool_arg(ceil_mode, "max_pool2d_forward", "ceil_mode")
    module = module_for(backend, "max_pool2d_forward", x)
    return module.max_pool2d_forward(x, kernel_size, stride, padding, bool(ceil_mode), backend)


def max_pool2d_backward(dy, indices, input_shape, *, backend="auto"):
    """Gradient of max pooling: dx[n, c].flat[indices[n, c, i, j]] += dy[n, c, i, j].

    Args:
        dy: (N, C, OH, OW) float32.
        indices: (N, C, OH, OW) int32 from ``max_pool2d_forward``.
        input_shape: (N, C, H, W) of the forward input.

    Returns:
        dx (N, C, H, W) float32 (zero where no window took its maximum).
        Indices outside [0, H*W) raise ValueError.

    Example:
        >>> import numpy as np, dlcore
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
        >>> y, idx = dlcore.kernels.max_pool2d_forward(x, 2)
        >>> dlcore.kernels.max_pool2d_backward(np.ones_like(y), idx, x.shape)[0, 0, 1].tolist()
        [0.0, 1.0, 0.0, 1.0]
    """
    module = module_for(backend, "max_pool2d_backward", dy, indices)
    return module.max_pool2d_backward(dy, indices, tuple(input_shape), backend)


def avg_pool2d_forward(x, kernel_size, stride=None, padding=0, *, ceil_mode=False, count_include_pad=True,
                       backend="auto"):
    """Average pooling: y = sum of x over the window / divisor.

    The divisor is the window size clipped to the padded input [-p, H+p) when
    ``count_include_pad`` (PyTorch's default), else the number of input
    elements inside the window.

    Args:
        x: (N, C, H, W) float32, C-contiguous.
        kernel_size, stride, padding: int or (h, w); stride None = kernel_size.
        ceil_mode, count_include_pad: as in ``torch.nn.functional.avg_pool2d``.

    Returns:
        y (N, C, OH, OW) float32.

    Example:
        >>> import numpy as np, dlcore
        >>> x = np.ones((1, 1, 3, 3), np.float32)
        >>> dlcore.kernels.avg_pool2d_forward(x, 2, 1, 1)[0, 0, 0].tolist()
        [0.25, 0.5, 0.5, 0.25]
    """
    ceil_mode = bool_arg(ceil_mode, "avg_pool2d_forward", "ceil_mode")
    count_include_pad = bool_arg(count_include_pad, "avg_pool2d_forward", "count_include_pad")
    module = module_for(backend, "avg_pool2d_forward", x)
    return module.avg_pool2d_forward(x, kernel_size, stride, padding, bool(ceil_mode), bool(count_include_pad),
                                     backend)


def avg_pool2d_backward(dy, input_shape, kernel_size, stride=None, padding=0, *, ceil_mode=False,
                        count_include_pad=True, backend="auto"):
    """Gradient of average pooling: each dy / divisor spread over its window.

    Args:
        dy: (N, C, OH, OW) float32, the pooled shape of ``input_shape``.
        input_shape: (N, C, H, W) of the forward input.
        kernel_size, stride, padding, ceil_mode, count_include_pad: as in forward.

    Returns:
        dx (N, C, H, W) float32.

    Example:
        >>> import numpy as np, dlcore
        >>> dy = np.ones((1, 1, 2, 2), np.float32)
        >>> dlcore.kernels.avg_pool2d_backward(dy, (1, 1, 4, 4), 2)[0, 0, 0].tolist()
        [0.25, 0.25, 0.25, 0.25]
    """
    ceil_mode = bool_arg(ceil_mode, "avg_pool2d_backward", "ceil_mode")
    count_include_pad = bool_arg(count_include_pad, "avg_pool2d_backward", "count_include_pad")
    module = module_for(backend, "avg_pool2d_backward", dy)
    return module.avg_pool2d_backward(dy, tuple(input_shape), kernel_size, stride, padding, bool(ceil_mode),
                                      bool(count_include_pad), backend)
