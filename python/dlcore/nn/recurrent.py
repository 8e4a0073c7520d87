"""Recurrent layers with torch.nn's names, parameter names, shapes, gate order and initialisation:
RNN (tanh or relu), LSTM (gates i, f, g, o), GRU (gates r, z, n), and their one-step cells.

A layer direction is the input projection of the whole sequence (one linear call: one GEMM over all time
steps) and then one autograd Function running the time loop forward and backpropagating through time
(``ops/recurrent.py``). The cells (one step) are composed from ops with the same equations
(``_rnn_step``), which the tests hold the Function to. An LSTM with ``proj_size`` (h_t = W_hr (o * tanh(c_t)))
runs those composed steps instead.

A PackedSequence input (nn.utils.rnn) runs each stretch of steps with the same batch size as one Function
call on the first batch_sizes[t] rows of the length-sorted batch; the rest of the batch keeps its state
(forward: the finished sequences' last states; reverse: h0, for the sequences that have not started).
Not supported: PackedSequence with proj_size.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..ops import recurrent as recurrent_ops
from ..tensor import Tensor, cat, default_dtype, stack, zeros
from . import init
from .module import Module, Parameter
from .utils.rnn import PackedSequence

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _linear(x, weight, bias):
    from .functional import linear

    return linear(x, weight, bias)


def _rnn_step(mode, x_proj, h, c, w_hh, b_hh):
    """One time step: (h', c') from the input's projection x W_ih^T + b_ih and the state (c: LSTM only)."""
    hidden = _linear(h, w_hh, b_hh)
    if mode == "RNN_TANH":
        return (x_proj + hidden).tanh(), None
    if mode == "RNN_RELU":
        return (x_proj + hidden).relu(), None
    n = x_proj.shape[-1] // _GATES[mode]  # the hidden size (h is narrower with an LSTM's proj_size)
    if mode == "LSTM":
        gates = x_proj + hidden
        i, f = gates[..., :n].sigmoid(), gates[..., n:2 * n].sigmoid()
        g, o = gates[..., 2 * n:3 * n].tanh(), gates[..., 3 * n:].sigmoid()
        c = f * c + i * g
        return o * c.tanh(), c
    # GRU: the reset gate scales the hidden state's projection, bias included (torch's formulation)
    r = (x_proj[..., :n] + hidden[..., :n]).sigmoid()
    z = (x_proj[..., n:2 * n] + hidden[..., n:2 * n]).sigmoid()
    cand = (x_proj[..., 2 * n:] + r * hidden[..., 2 * n:]).tanh()
    return (1 - z) * cand + z * h, None


class _RNNBase(Module):
    """Shared by RNN, LSTM and GRU: the parameters of every layer and direction, and the time loop."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, dtype=None):
        super().__init__()
        name = type(self).__name__
        if not isinstance(hidden_size, int) or hidden_size <= 0 or not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"{name}: hidden_size and num_layers must be positive ints, got {hidden_size!r}, "
                             f"{num_layers!r}")
        if not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        if proj_size and (mode != "LSTM" or not 0 < proj_size < hidden_size):
            raise ValueError(f"{name}: proj_size must be between 0 and hidden_size ({hidden_size}), exclusive, and "
                             f"is for LSTM only; got {proj_size}")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout, self.bidirectional = bias, batch_first, float(dropout), \
            bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        rows, dtype = _GATES[mode] * hidden_size, dtype or default_dtype
        out = proj_size or hidden_size  # the width of h
        for layer in range(num_layers):
            width = input_size if layer == 0 else out * directions
            for suffix in ("", "_reverse")[:directions]:
                setattr(self, f"weight_ih_l{layer}{suffix}", Parameter(np.empty((rows, width), dtype=dtype)))
                setattr(self, f"weight_hh_l{layer}{suffix}", Parameter(np.empty((rows, out), dtype=dtype)))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{suffix}", Parameter(np.empty(rows, dtype=dtype)))
                    setattr(self, f"bias_hh_l{layer}{suffix}", Parameter(np.empty(rows, dtype=dtype)))
                if proj_size:  # torch registers it last
                    setattr(self, f"weight_hr_l{layer}{suffix}",
                            Parameter(np.empty((proj_size, hidden_size), dtype=dtype)))
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _weights(self, layer, suffix):
        get = self._parameters.get
        return (get(f"weight_ih_l{layer}{suffix}"), get(f"bias_ih_l{layer}{suffix}"),
                get(f"weight_hh_l{layer}{suffix}"), get(f"bias_hh_l{layer}{suffix}"),
                get(f"weight_hr_l{layer}{suffix}"))

    def _initial_state(self, hx, batch, like):
        """(h0, c0) as (layers * directions, N, H) Tensors; zeros where hx is None."""
        shape = (self.num_layers * (2 if self.bidirectional else 1), batch, self.hidden_size)
        shapes = ((*shape[:2], self.proj_size or self.hidden_size), shape)  # h (proj_size wide with projection), c
        if self.mode == "LSTM":
            if hx is None:
                hx = (None, None)
            elif not (isinstance(hx, tuple) and len(hx) == 2):
                raise TypeError("LSTM: hx must be a tuple (h_0, c_0)")
        else:
            hx = (hx, None)
        states = []
        for i, s in enumerate(hx):
            if s is None:
                needed = i == 0 or self.mode == "LSTM"  # c exists for LSTM only
                states.append(zeros(*shapes[i], dtype=like.dtype, device=like.device) if needed else None)
                continue
            if tuple(s.shape) != shapes[i]:
                which = ("hidden", "cell")[i]
                raise ValueError(f"{type(self).__name__}: {which} state of shape {tuple(s.shape)}, expected "
                                 f"{shapes[i]}")
            states.append(s)
        return states

    def forward(self, input, hx=None):
        name = type(self).__name__
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a dlcore.Tensor, got {type(input).__name__}")
        if input.ndim not in (2, 3) or input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input (L, N, {self.input_size}) (batch_first: (N, L, ...)) or "
                             f"(L, {self.input_size}), got {input.shape}")
        if input.shape[1 if self.batch_first and input.ndim == 3 else 0] == 0:
            raise ValueError(f"{name}: the input sequence is empty (length 0), got shape {input.shape}")
        unbatched = input.ndim == 2
        if unbatched:  # (L, H_in): a batch of one; hx (layers, H) likewise
            input = input.unsqueeze(1)
            hx = _map_state(hx, lambda s: s.unsqueeze(1))
        elif self.batch_first:
            input = input.transpose(0, 1)
        h0, c0 = self._initial_state(hx, input.shape[1], input)
        output, h_n, c_n = self._run_layers(input, h0, c0)
        if unbatched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, ((h_n, c_n) if self.mode == "LSTM" else h_n)

    def _forward_packed(self, packed, hx):
        name = type(self).__name__
        data, batch_sizes = packed.data, np.asarray(packed.batch_sizes)
        if not isinstance(data, Tensor) or data.ndim != 2 or data.shape[1] != self.input_size:
            raise ValueError(f"{name}: a PackedSequence's data must be (sum of lengths, {self.input_size}), got "
                             f"{getattr(data, 'shape', type(data).__name__)}")
        if self.proj_size:
            raise NotImplementedError(f"{name}: PackedSequence input with proj_size is not supported")
        order, inverse = packed.sorted_indices, packed.unsorted_indices
        if hx is not None and order is not None:  # the caller's batch order -> the packed (length-sorted) order
            hx = _map_state(hx, lambda s: s[:, order])
        h0, c0 = self._initial_state(hx, int(batch_sizes[0]), data)
        run = functools.partial(self._run_packed_direction, batch_sizes=batch_sizes)
        output, h_n, c_n = self._run_layers(data, h0, c0, run=run, concat_dim=1)
        if inverse is not None:
            h_n = h_n[:, inverse]
            c_n = c_n[:, inverse] if c_n is not None else None
        out = PackedSequence(output, batch_sizes, order, inverse)
        return out, ((h_n, c_n) if self.mode == "LSTM" else h_n)

    def _run_packed_direction(self, x, weights, h, c, reverse, batch_sizes):
        """(packed outputs (T, H), h_n, c_n) of one layer direction over packed rows x (T, I): one Function call
        per stretch of steps with the same batch size, on the first rows of the running state."""
        w_ih, b_ih, w_hh, b_hh, _ = weights
        gx = _linear(x, w_ih, b_ih)
        offsets = np.concatenate([[0], np.cumsum(batch_sizes)])
        starts = [0] + [t for t in range(1, batch_sizes.size) if batch_sizes[t] != batch_sizes[t - 1]]
        stretches = list(zip(starts, starts[1:] + [batch_sizes.size]))
        n, outs = self.hidden_size, [None] * len(stretches)
        for k in (range(len(stretches) - 1, -1, -1) if reverse else range(len(stretches))):
            t0, t1 = stretches[k]
            rows = int(batch_sizes[t0])
            g = gx[int(offsets[t0]):int(offsets[t1])].reshape(t1 - t0, rows, gx.shape[1])
            out = recurrent_ops.RecurrentLayer.apply(g, w_hh, b_hh, h[:rows], c[:rows] if c is not None else None,
                                                     mode=self.mode, reverse=reverse)
            last = 0 if reverse else t1 - t0 - 1
            outs[k] = out[:, :, :n].reshape((t1 - t0) * rows, n)
            h = out[last, :, :n] if rows == h.shape[0] else cat([out[last, :, :n], h[rows:]], dim=0)
            if c is not None:
                c = out[last, :, n:] if rows == c.shape[0] else cat([out[last, :, n:], c[rows:]], dim=0)
        return cat(outs, dim=0), h, c

    def _run_layers(self, x, h0, c0, run=None, concat_dim=2):
        from .functional import dropout

        directions = 2 if self.bidirectional else 1
        h_last, c_last = [], []
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(("", "_reverse")[:directions]):
                k = layer * directions + d
                ys, h, c = (run or self._run_direction)(x, self._weights(layer, suffix), h0[k],
                                                        c0[k] if c0 is not None else None, reverse=d == 1)
                outs.append(ys)
                h_last.append(h)
                c_last.append(c)
            x = outs[0] if directions == 1 else cat(outs, dim=concat_dim)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = dropout(x, self.dropout, True)
        h_n = stack(h_last, dim=0)
        return x, h_n, (stack(c_last, dim=0) if self.mode == "LSTM" else None)

    def _run_direction(self, x, weights, h, c, reverse):
        """(hidden states (L, N, H), h_n, c_n) of one layer direction: the input projection of every step in
        one linear call, then the time loop as one Function (ops/recurrent.py)."""
        w_ih, b_ih, w_hh, b_hh, w_hr = weights
        steps, batch = x.shape[0], x.shape[1]
        gx = _linear(x.reshape(steps * batch, x.shape[2]), w_ih, b_ih).reshape(steps, batch, -1)
        if w_hr is not None:
            return self._run_projected(gx, w_hh, b_hh, w_hr, h, c, reverse)
        out = recurrent_ops.RecurrentLayer.apply(gx, w_hh, b_hh, h, c, mode=self.mode, reverse=reverse)
        last, n = (0 if reverse else steps - 1), self.hidden_size
        if self.mode == "LSTM":
            return out[:, :, :n], out[last, :, :n], out[last, :, n:]
        return out, out[last], None

    def _run_projected(self, gx, w_hh, b_hh, w_hr, h, c, reverse):
        """An LSTM direction with projection, step by step from composed ops: h_t = (o * tanh(c_t)) W_hr^T."""
        outs = [None] * gx.shape[0]
        for t in (range(gx.shape[0] - 1, -1, -1) if reverse else range(gx.shape[0])):
            h, c = _rnn_step("LSTM", gx[t], h, c, w_hh, b_hh)
            h = _linear(h, w_hr, None)
            outs[t] = h
        return stack(outs, dim=0), h, c

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s + ("" if self.bias else ", bias=False")


def _map_state(hx, fn):
    if hx is None:
        return None
    return tuple(fn(s) for s in hx) if isinstance(hx, tuple) else fn(hx)


class RNN(_RNNBase):
    """h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (``nonlinearity="relu"``: relu)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(f"RNN_{nonlinearity.upper()}", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(_RNNBase):
    """Long short-term memory; forward returns (output, (h_n, c_n))."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, dtype)


class GRU(_RNNBase):
    """Gated recurrent unit (Cho et al. 2014), torch's formulation."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype=dtype)


# ---- cells: one time step -------------------------------------------------------------------------------------
class _CellBase(Module):
    def __init__(self, mode, input_size, hidden_size, bias=True, dtype=None):
        super().__init__()
        self.mode, self.input_size, self.hidden_size, self.bias = mode, input_size, hidden_size, bias
        rows, dtype = _GATES[mode] * hidden_size, dtype or default_dtype
        self.weight_ih = Parameter(np.empty((rows, input_size), dtype=dtype))
        self.weight_hh = Parameter(np.empty((rows, hidden_size), dtype=dtype))
        if bias:
            self.bias_ih = Parameter(np.empty(rows, dtype=dtype))
            self.bias_hh = Parameter(np.empty(rows, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        bound = 1 / math.sqrt(hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _step(self, input, h, c):
        name = type(self).__name__
        if not isinstance(input, Tensor) or input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input (N, {self.input_size}) or ({self.input_size},), got "
                             f"{getattr(input, 'shape', type(input).__name__)}")
        unbatched = input.ndim == 1
        x = input.unsqueeze(0) if unbatched else input
        shape = (x.shape[0], self.hidden_size)
        h = zeros(*shape, dtype=x.dtype, device=x.device) if h is None else (h.unsqueeze(0) if unbatched else h)
        if self.mode == "LSTM":
            c = zeros(*shape, dtype=x.dtype, device=x.device) if c is None else (c.unsqueeze(0) if unbatched else c)
        h, c = _rnn_step(self.mode, _linear(x, self.weight_ih, self.bias_ih), h, c, self.weight_hh, self.bias_hh)
        if unbatched:
            h, c = h.squeeze(0), (c.squeeze(0) if c is not None else None)
        return h, c

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(f"RNN_{nonlinearity.upper()}", input_size, hidden_size, bias, dtype)

    def forward(self, input, hx=None):
        return self._step(input, hx, None)[0]


class LSTMCell(_CellBase):
    def __init__(self, input_size, hidden_size, bias=True, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, bias, dtype)

    def forward(self, input, hx=None):
        h, c = (None, None) if hx is None else hx
        return self._step(input, h, c)


class GRUCell(_CellBase):
    def __init__(self, input_size, hidden_size, bias=True, dtype=None):
        super().__init__("GRU", input_size, hidden_size, bias, dtype)

    def forward(self, input, hx=None):
        return self._step(input, hx, None)[0]


#: torch's names of the two bases (``isinstance(m, nn.RNNBase)`` finds RNN, LSTM and GRU; their constructors
#: take the mode first: 'RNN_TANH', 'RNN_RELU', 'LSTM', 'GRU').
RNNBase = _RNNBase
RNNCellBase = _CellBase
