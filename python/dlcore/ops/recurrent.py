"""One recurrent layer direction over a whole sequence as one autograd Function (RNN, LSTM, GRU).

Written per time step with ops, an LSTM step is ~17 tape nodes; at small sizes their bookkeeping cost more
than the arithmetic (dlcore 0.46x torch's img/s at batch 8, hidden 64). Here the time loop runs inside
forward and backward (backpropagation through time by hand) and the tape holds one node per layer and
direction. The input projection x W_ih^T + b_ih of all steps is computed before (one linear call) and
comes in as ``gx`` (L, N, G*H); each step adds h W_hh^T + b_hh (G gates of H: LSTM i, f, g, o; GRU r, z,
n; RNN one) and applies the cell.

float32 NumPy arrays on our CPU backends run the whole time loop in C++ (dlcore.kernels.recurrent_forward /
recurrent_backward: per step our GEMM and one fused, vectorized cell pass; ops/recurrent in csrc). float64
(the gradchecks), CuPy arrays and the oneDNN backend run the per-step loop below: products on
dlcore.kernels' GEMM for float32 (oneDNN's under dlcore.backend("onednn")), NumPy/CuPy otherwise.

The output packs what the layer returns, so that one node carries every gradient: (L, N, H) hidden
states, and for LSTM (L, N, 2H) with each step's cell state beside its hidden state (the layer slices
h_t, h_n and c_n out of it).
"""
from __future__ import annotations

import numpy as np

from .. import kernels as K
from ..autograd import Function
from ._common import array_module, contiguous, current_backend, kernel_backend
from .activation_more import _sigmoid as formula_sigmoid


def _mm(a, b, trans_a=False, trans_b=False):
    """op(a) @ op(b): dlcore's GEMM for float32 NumPy arrays, xp.matmul otherwise."""
    if type(a) is np.ndarray and a.dtype == np.float32:
        return K.gemm(contiguous(a), contiguous(b), trans_a=trans_a, trans_b=trans_b, backend=kernel_backend("gemm"))
    return (a.T if trans_a else a) @ (b.T if trans_b else b)


def _sigmoid(xp, x):
    """Elementwise sigmoid: dlcore's kernel for float32 NumPy (a third of NumPy's time on an LSTM's gates)."""
    if xp is np and x.dtype == np.float32:
        return K.sigmoid_forward(np.ascontiguousarray(x), backend=kernel_backend("sigmoid_forward"))
    return formula_sigmoid(xp, x)


def _tanh(xp, x):
    if xp is np and x.dtype == np.float32:
        return K.tanh_forward(np.ascontiguousarray(x), backend=kernel_backend("tanh_forward"))
    return xp.tanh(x)


class _Cell:
    """The equations of one step: forward(gx, gh, h, c) -> (h', c', saved); backward(dh, dc, saved) ->
    (d gx, d gh, dh from the direct path, dc)."""

    gates = 1
    #: True when d gh is d gx (the cell adds the two projections before anything else: RNN, LSTM; not GRU)
    same_gates = True


class _TanhCell(_Cell):
    def forward(self, xp, gx, gh, h, c):
        h = _tanh(xp, gx + gh)
        return h, None, h

    def backward(self, xp, dh, dc, h):
        d = dh * (1 - h * h)
        return d, d, None, None


class _ReluCell(_Cell):
    def forward(self, xp, gx, gh, h, c):
        h = xp.maximum(gx + gh, 0)
        return h, None, h

    def backward(self, xp, dh, dc, h):
        d = dh * (h > 0)
        return d, d, None, None


class _LSTMCell(_Cell):
    gates = 4

    def forward(self, xp, gx, gh, h, c):
        n = h.shape[1]
        pre = gx + gh
        s = _sigmoid(xp, pre)  # one call for the three sigmoid gates (the g columns are not used)
        i, f, o = s[:, :n], s[:, n:2 * n], s[:, 3 * n:]
        g = _tanh(xp, pre[:, 2 * n:3 * n])
        c_new = f * c + i * g
        tc = _tanh(xp, c_new)
        return o * tc, c_new, (i, f, g, o, c, tc)

    def backward(self, xp, dh, dc, saved):
        i, f, g, o, c_prev, tc = saved
        dc = dc + dh * o * (1 - tc * tc)
        d = xp.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                            dh * tc * o * (1 - o)], axis=1)
        return d, d, None, dc * f


class _GRUCell(_Cell):
    gates = 3
    same_gates = False  # the reset gate scales the hidden projection of the candidate

    def forward(self, xp, gx, gh, h, c):
        n = h.shape[1]
        rz = _sigmoid(xp, gx[:, :2 * n] + gh[:, :2 * n])  # both gates in one call
        r, z = rz[:, :n], rz[:, n:]
        hn = gh[:, 2 * n:]
        cand = _tanh(xp, gx[:, 2 * n:] + r * hn)
        return (1 - z) * cand + z * h, None, (r, z, hn, cand, h)

    def backward(self, xp, dh, dc, saved):
        r, z, hn, cand, h_prev = saved
        d_cand = dh * (1 - z) * (1 - cand * cand)
        d_r = d_cand * hn * r * (1 - r)
        d_z = dh * (h_prev - cand) * z * (1 - z)
        d_gx = xp.concatenate([d_r, d_z, d_cand], axis=1)
        d_gh = xp.concatenate([d_r, d_z, d_cand * r], axis=1)
        return d_gx, d_gh, dh * z, None


CELLS = {"RNN_TANH": _TanhCell(), "RNN_RELU": _ReluCell(), "LSTM": _LSTMCell(), "GRU": _GRUCell()}

#: dlcore.backend names whose layers run the fused C++ loop (ours; "auto" picks the CPU's fastest ISA)
_FUSED_BACKENDS = ("auto", "ref", "avx2", "avx512")


def _fused(*arrays):
    """True when the C++ time loop serves these arrays: float32 NumPy (None allowed) on one of our backends."""
    for a in arrays:
        if a is not None and (type(a) is not np.ndarray or a.dtype != np.float32):
            return False
    return current_backend() in _FUSED_BACKENDS


def _h_prev(out, h0, hidden, reverse):
    """(L, N, H): the hidden state each step started from (h0, then the previous step's output)."""
    h = out[:, :, :hidden]
    return np.concatenate([h0[None], h[:-1]]) if not reverse else np.concatenate([h[1:], h0[None]])


class RecurrentLayer(Function):
    """forward(gx (L, N, G*H), w_hh (G*H, H), b_hh (G*H,) or None, h0 (N, H), c0 (N, H) or None, mode, reverse)
    -> (L, N, H) hidden states, or (L, N, 2H) [h_t | c_t] for LSTM (module docstring)."""

    def forward(self, gx, w_hh, b_hh, h0, c0, mode="LSTM", reverse=False):
        if _fused(gx, w_hh, b_hh, h0, c0):
            return self._forward_fused(gx, w_hh, b_hh, h0, c0, mode, reverse)
        self.fused = False
        xp, cell = array_module(gx), CELLS[mode]
        steps = gx.shape[0]
        self.cell, self.reverse, self.w_hh, self.has_bias = cell, reverse, w_hh, b_hh is not None
        self.is_lstm = c0 is not None
        hidden = h0.shape[1]
        out = xp.empty((steps, h0.shape[0], hidden * (2 if self.is_lstm else 1)), dtype=gx.dtype)
        h, c = h0, c0
        self.saved, self.h_prev = [None] * steps, [None] * steps
        for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
            gh = _mm(h, w_hh, trans_b=True)
            if b_hh is not None:
                gh += b_hh
            self.h_prev[t] = h
            h, c, self.saved[t] = cell.forward(xp, gx[t], gh, h, c)
            out[t, :, :hidden] = h
            if self.is_lstm:
                out[t, :, hidden:] = c
        return out

    def _forward_fused(self, gx, w_hh, b_hh, h0, c0, mode, reverse):
        self.fused, self.mode, self.reverse, self.has_bias = True, mode, reverse, b_hh is not None
        # backward reads the returned states: an in-place change of the output before backward must raise
        # (as torch's LSTM does), not give wrong gradients (the per-step path keeps copies instead)
        self.saves_output = True
        self.w_hh, self.h0, self.c0 = contiguous(w_hh), contiguous(h0), contiguous(c0)
        backend = kernel_backend("recurrent_forward")
        self.out, self.gates = K.recurrent_forward(contiguous(gx), self.w_hh, contiguous(b_hh), self.h0, self.c0,
                                                   mode=mode, reverse=reverse, backend=backend)
        return self.out

    def _backward_fused(self, dout):
        w_hh, hidden = self.w_hh, self.w_hh.shape[1]
        d_gx, d_gh, dh0, dc0 = K.recurrent_backward(
            contiguous(dout.astype(np.float32, copy=False)), self.out, self.gates, w_hh, self.h0, self.c0,
            mode=self.mode, reverse=self.reverse, backend=kernel_backend("recurrent_backward"))
        d_gh_flat = (d_gx if d_gh is None else d_gh).reshape(-1, w_hh.shape[0])
        h_prev = _h_prev(self.out, self.h0, hidden, self.reverse).reshape(-1, hidden)
        d_w = _mm(d_gh_flat, h_prev, trans_a=True)  # one GEMM over all steps (K = steps x batch)
        d_b = d_gh_flat.sum(axis=0) if self.has_bias else None
        return d_gx, d_w, d_b, dh0, dc0

    def backward(self, dout):
        if self.fused:
            return self._backward_fused(dout)
        xp, cell, w_hh = array_module(dout), self.cell, self.w_hh
        steps, hidden = dout.shape[0], self.w_hh.shape[1]
        d_gx = xp.empty((steps, dout.shape[1], w_hh.shape[0]), dtype=dout.dtype)
        d_gh_all = d_gx if cell.same_gates else xp.empty_like(d_gx)  # each step's hidden-projection gradient
        dh = xp.zeros((dout.shape[1], hidden), dtype=dout.dtype)
        dc = xp.zeros_like(dh) if self.is_lstm else None
        for t in (range(steps) if self.reverse else range(steps - 1, -1, -1)):  # the forward order, reversed
            dh = dh + dout[t, :, :hidden]
            if self.is_lstm:
                dc = dc + dout[t, :, hidden:]
            d_gx[t], d_gh, dh_direct, dc = cell.backward(xp, dh, dc, self.saved[t])
            if not cell.same_gates:
                d_gh_all[t] = d_gh
            dh = _mm(d_gh, w_hh)
            if dh_direct is not None:
                dh = dh + dh_direct
        # W_hh's gradient as one GEMM over every step (K = steps x batch) instead of one small GEMM a step
        d_gh_flat = d_gh_all.reshape(-1, w_hh.shape[0])
        d_w = _mm(d_gh_flat, xp.stack(self.h_prev).reshape(-1, hidden), trans_a=True)
        d_b = d_gh_flat.sum(axis=0) if self.has_bias else None
        return d_gx, d_w, d_b, dh, dc
