"""Fused recurrent layers (RNN tanh/relu, LSTM, GRU): one layer direction over a whole sequence.

Shapes (``G`` gates of hidden size ``H``: RNN 1, LSTM 4 (i, f, g, o), GRU 3 (r, z, n), torch's order):

* ``gx`` (L, N, G*H): the input projection ``x W_ih^T + b_ih`` of every step;
* ``w_hh`` (G*H, H), ``b_hh`` (G*H,) or None, ``h0`` (N, H), ``c0`` (N, H) for LSTM, else None;
* ``out`` (L, N, H) hidden states, for LSTM (L, N, 2H) with ``[h_t | c_t]`` per step;
* ``gates`` (L, N, 4H): what backward needs besides ``out`` (LSTM: activated i, f, g, o; GRU: r, z, n and
  the hidden projection of n); None for RNN.

Every check happens in the C++ entry (ops/recurrent/recurrent.h), which raises ValueError / TypeError
naming the shapes involved.
"""
from __future__ import annotations

from ._dispatch import bool_arg, module_for

__all__ = ["recurrent_forward", "recurrent_backward"]


def _mode(mode, op):
    """The mode string (its value is checked in C++), else a TypeError naming it."""
    if not isinstance(mode, str):
        raise TypeError(f"{op}: mode must be a str ('RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU'), got "
                        f"{type(mode).__name__}")
    return mode


def recurrent_forward(gx, w_hh, b_hh, h0, c0=None, *, mode="LSTM", reverse=False, backend="auto"):
    """Runs the recurrence: per step ``gh = h W_hh^T + b_hh`` and the cell (``reverse``: last step first).

    Returns:
        (out, gates): see the module docstring.

    Example:
        >>> import numpy as np, dlcore
        >>> gx = np.zeros((2, 1, 1), np.float32); w = np.zeros((1, 1), np.float32); h0 = np.ones((1, 1), np.float32)
        >>> out, gates = dlcore.kernels.recurrent_forward(gx, w, None, h0, mode="RNN_RELU")
        >>> out.shape, gates
        ((2, 1, 1), None)
    """
    module = module_for(backend, "recurrent_forward", gx, w_hh, h0)
    return module.recurrent_forward(gx, w_hh, b_hh, h0, c0, _mode(mode, "recurrent_forward"),
                                    bool_arg(reverse, "recurrent_forward", "reverse"), backend)


def recurrent_backward(dout, out, gates, w_hh, h0, c0=None, *, mode="LSTM", reverse=False, backend="auto"):
    """Backpropagation through time from ``dout`` (the gradient of ``out``).

    Returns:
        (d_gx, d_gh, dh0, dc0): d_gx (L, N, G*H); d_gh, the gradient of each step's hidden projection
        ``h W_hh^T + b_hh``, for GRU (whose candidate gate scales it by r), None otherwise (it equals d_gx);
        dh0 (N, H); dc0 (N, H) for LSTM, else None. W_hh's gradient is ``d_gh^T @ h_prev`` over all steps.
    """
    module = module_for(backend, "recurrent_backward", dout, out, w_hh, h0)
    return module.recurrent_backward(dout, out, gates, w_hh, h0, c0, _mode(mode, "recurrent_backward"),
                                     bool_arg(reverse, "recurrent_backward", "reverse"), backend)
