"""Backward passes written with Tensor ops, for ``create_graph=True`` (double backward).

The ordinary backward of each Function works on raw arrays (fast, kernels in
float32) and leaves nothing on the tape. When a gradient must itself be
differentiated (gradient penalties, Hessian-vector products), the engine
calls instead the rule below for the node's Function: the same formula,
written with differentiable Tensor ops on the node's recorded inputs
(``node.parents``), so the result is on the tape. A Function may also define
its own ``backward_graph(self, g)``. An op without either raises, naming it.

The rules live in this one file (rather than beside each forward) so that
the first-order Functions stay plain and new Functions opt in explicitly.
Covered: the elementwise arithmetic, relu/leaky_relu, sigmoid, tanh,
softmax/log_softmax, linear, matmul, conv2d, the losses (fused
cross-entropy, nll via indexing, mse, l1, bce), reductions, shape ops,
where/clamp/indexing and device/dtype copies.
"""
from __future__ import annotations

import numpy as np

from .. import kernels as K
from ..autograd import Function
from . import activation, arith, clamp, conv, copy, linear, reduce, select, shape, softmax
from ._common import array_module, contiguous, kernel_backend, uses_kernels


def graph_backward(node, g):
    """The gradients of node's inputs as Tensors on the tape (g is a Tensor)."""
    own = getattr(node, "backward_graph", None)
    if own is not None:
        return own(g)
    rule = _RULES.get(type(node))
    if rule is None:
        raise RuntimeError(f"double backward (create_graph=True) is not implemented for {type(node).__name__}; "
                           f"it is for the elementwise ops and activations, linear/matmul, conv2d, the "
                           f"normalizations, softmax and the losses")
    return rule(node, g)


def _T():
    from ..tensor import Tensor

    return Tensor


def _const(array):
    return _T()(array)


def _unbroadcast(g, shape):
    """Sums g over broadcast axes back to `shape` (Tensor ops, so it stays on the tape)."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(dim=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(dim=axes, keepdim=True)
    return g.reshape(shape)


def _need(node, i):
    return len(node.needs_input_grad) > i and node.needs_input_grad[i]


# ---- elementwise arithmetic ------------------------------------------------------
def _add(node, g):
    a, b = node.parents
    return (_unbroadcast(g, a.shape) if _need(node, 0) else None,
            _unbroadcast(g, b.shape) if _need(node, 1) else None)


def _sub(node, g):
    a, b = node.parents
    return (_unbroadcast(g, a.shape) if _need(node, 0) else None,
            _unbroadcast(-g, b.shape) if _need(node, 1) else None)


def _mul(node, g):
    a, b = node.parents
    return (_unbroadcast(g * b, a.shape) if _need(node, 0) else None,
            _unbroadcast(g * a, b.shape) if _need(node, 1) else None)


def _div(node, g):
    a, b = node.parents
    return (_unbroadcast(g / b, a.shape) if _need(node, 0) else None,
            _unbroadcast(-g * a / (b * b), b.shape) if _need(node, 1) else None)


def _pow(node, g):
    a, b = node.parents
    da = db = None
    if _need(node, 0):
        da = _unbroadcast(g * b * a ** (b - 1), a.shape)
    if _need(node, 1):
        positive = a._data > 0
        log_a = select.Where.apply(positive, a, _const(np.ones((), a.dtype))).log()
        db = _unbroadcast(g * a ** b * log_a, b.shape)
    return da, db


def _abs(node, g):
    a = node.parents[0]
    return g * _const(array_module(a._data).sign(a._data))


# ---- activations and softmax -------------------------------------------------------
def _leaky_relu(node, g):
    x = node.parents[0]
    xp = array_module(x._data)
    return g * _const(xp.where(x._data > 0, 1, node.slope).astype(x.dtype))


def _sigmoid(node, g):
    from ..nn import functional as F

    y = F.sigmoid(node.parents[0])
    return g * y * (1 - y)


def _tanh(node, g):
    y = node.parents[0].tanh()
    return g * (1 - y * y)


def _softmax(node, g):
    y = node.parents[0].softmax(node.axis)
    return y * (g - (g * y).sum(dim=node.axis, keepdim=True))


def _log_softmax(node, g):
    y = node.parents[0].log_softmax(node.axis)
    return g - y.exp() * g.sum(dim=node.axis, keepdim=True)


def _cross_entropy(node, g):
    logits = node.parents[0]
    xp = array_module(logits._data)
    n, c = logits.shape
    q = xp.full((n, c), node.eps / c, dtype=logits.dtype)
    q[xp.arange(n), node.target] += 1 - node.eps
    return (logits.log_softmax(1).exp() - _const(q)) * g.reshape(-1, 1), None


def _clamped_log(node, g):
    x = node.parents[0]
    active = node.active
    safe = select.Where.apply(active, x, _const(np.ones((), x.dtype)))
    return g * _const(active.astype(x.dtype)) / safe, None


# ---- linear algebra and convolution -----------------------------------------------------
def _matmul(node, g):
    a, b = node.parents
    a2 = a.unsqueeze(0) if a.ndim == 1 else a
    b2 = b.unsqueeze(-1) if b.ndim == 1 else b
    g2 = g
    if a.ndim == 1:
        g2 = g2.unsqueeze(-2)
    if b.ndim == 1:
        g2 = g2.unsqueeze(-1)
    da = db = None
    if _need(node, 0):
        da = _unbroadcast(g2 @ b2.transpose(-1, -2), a2.shape).reshape(a.shape)
    if _need(node, 1):
        db = _unbroadcast(a2.transpose(-1, -2) @ g2, b2.shape).reshape(b.shape)
    return da, db


def _linear(node, g):
    x, w = node.parents[0], node.parents[1]
    dx = g @ w if _need(node, 0) else None
    dw = g.t() @ x if _need(node, 1) else None
    db = g.sum(dim=0) if _need(node, 2) else None
    return dx, dw, db


class Conv2dBackwardData(Function):
    """dx = conv2d_backward_data(dy, w) as an op (linear in dy and w): conv2d's gradient on the tape."""

    def forward(self, dy, w, x_shape, params):
        self.params, self.x_shape = params, tuple(x_shape)
        self.kernels = uses_kernels(dy, w)
        self.dy, self.w = (contiguous(dy), contiguous(w)) if self.kernels else (dy, w)
        if self.kernels:
            return K.conv2d_backward_data(self.dy, self.w, self.x_shape,
                                          backend=kernel_backend("conv2d_backward_data"), **params)
        return conv.conv2d_backward_data_ref(dy, w, self.x_shape, **params)

    def backward(self, gx):  # <gx, Bd(dy, w)>: d/d dy = conv2d(gx, w), d/dw = Bw(gx, dy)
        gx = contiguous(gx) if self.kernels else gx
        ddy = dw = None
        if self.needs_input_grad[0]:
            ddy = _conv_forward(gx, self.w, self.params, self.kernels)
        if self.needs_input_grad[1]:
            dw = _conv_weights(gx, self.dy, self.w.shape, self.params, self.kernels)
        return ddy, dw


class Conv2dBackwardWeights(Function):
    """dw = conv2d_backward_weights(x, dy) as an op (linear in x and dy)."""

    def forward(self, x, dy, w_shape, params):
        self.params, self.w_shape = params, tuple(w_shape)
        self.kernels = uses_kernels(x, dy)
        self.x, self.dy = (contiguous(x), contiguous(dy)) if self.kernels else (x, dy)
        return _conv_weights(self.x, self.dy, self.w_shape, params, self.kernels)

    def backward(self, gw):  # <gw, Bw(x, dy)>: d/dx = Bd(dy, gw), d/d dy = conv2d(x, gw)
        gw = contiguous(gw) if self.kernels else gw
        dx = ddy = None
        if self.needs_input_grad[0]:
            if self.kernels:
                dx = K.conv2d_backward_data(self.dy, gw, self.x.shape, backend=kernel_backend("conv2d_backward_data"),
                                            **self.params)
            else:
                dx = conv.conv2d_backward_data_ref(self.dy, gw, self.x.shape, **self.params)
        if self.needs_input_grad[1]:
            ddy = _conv_forward(self.x, gw, self.params, self.kernels)
        return dx, ddy


def _conv_forward(x, w, params, kernels):
    if kernels:
        return K.conv2d_forward(x, w, None, backend=kernel_backend("conv2d_forward"), **params)
    return conv.conv2d_forward_ref(x, w, None, **params)


def _conv_weights(x, dy, w_shape, params, kernels):
    if kernels:
        return K.conv2d_backward_weights(x, dy, w_shape, bias=False, backend=kernel_backend("conv2d_backward_weights"),
                                         **params)[0]
    return conv.conv2d_backward_weights_ref(x, dy, w_shape, bias=False, **params)[0]


def _conv2d(node, g):
    x, w = node.parents[0], node.parents[1]
    dx = Conv2dBackwardData.apply(g, w, x.shape, node.params) if _need(node, 0) else None
    dw = Conv2dBackwardWeights.apply(x, g, w.shape, node.params) if _need(node, 1) else None
    db = g.sum(dim=(0, 2, 3)) if _need(node, 2) else None
    return dx, dw, db


# ---- reductions, shapes, selection ---------------------------------------------------------
def _expand_back(g, node):
    if not node.keepdim:
        g = g.reshape(tuple(1 if i in node.dims else n for i, n in enumerate(node.shape)))
    return g.expand(node.shape)


def _getitem(node, g):
    return select.IndexAdd.apply(g, node.shape, node.index)


def _cat(node, g):
    out, start = [], 0
    for size, need in zip(node.sizes, node.needs_input_grad):
        index = (slice(None),) * node.dim + (slice(start, start + size),)
        out.append(g[index] if need else None)
        start += size
    return tuple(out)


def _stack(node, g):
    return tuple(g[(slice(None),) * node.dim + (i,)] if need else None
                 for i, need in enumerate(node.needs_input_grad))


def _where(node, g):
    zero = _const(array_module(g._data).zeros((), g.dtype))
    a, b = node.parents[1], node.parents[2]
    return (None,
            _unbroadcast(select.Where.apply(node.cond, g, zero), a.shape) if _need(node, 1) else None,
            _unbroadcast(select.Where.apply(node.cond, zero, g), b.shape) if _need(node, 2) else None)


def _set_item(node, g):
    da = dv = None
    if _need(node, 0):
        keep = array_module(g._data).ones(g.shape, dtype=g.dtype)
        keep[node.index] = 0
        da = g * _const(keep)
    if _need(node, 1):
        dv = _unbroadcast(g[node.index], node.value_shape)
    return da, dv


_RULES = {
    arith.Add: _add,
    arith.Sub: _sub,
    arith.Mul: _mul,
    arith.Div: _div,
    arith.Neg: lambda node, g: -g,
    arith.Pow: _pow,
    arith.Exp: lambda node, g: g * node.parents[0].exp(),
    arith.Log: lambda node, g: g / node.parents[0],
    arith.Sqrt: lambda node, g: g / (2 * node.parents[0].sqrt()),
    arith.Abs: _abs,
    arith.MatMul: _matmul,
    activation.LeakyReLU: _leaky_relu,
    activation.Sigmoid: _sigmoid,
    activation.Tanh: _tanh,
    softmax.Softmax: _softmax,
    softmax.LogSoftmax: _log_softmax,
    softmax.CrossEntropy: _cross_entropy,
    clamp.ClampedLog: _clamped_log,
    linear.Linear: _linear,
    conv.Conv2d: _conv2d,
    reduce.Sum: lambda node, g: _expand_back(g, node),
    reduce.Mean: lambda node, g: _expand_back(g / node.count, node),
    shape.Reshape: lambda node, g: g.reshape(node.shape),
    shape.Permute: lambda node, g: g.permute(tuple(int(i) for i in np.argsort(node.axes))),
    shape.Expand: lambda node, g: _unbroadcast(g, node.shape),
    shape.GetItem: _getitem,
    shape.Cat: _cat,
    shape.Stack: _stack,
    copy.ToCopy: lambda node, g: (g.to(node.device, node.dtype), None, None),
    select.Where: _where,
    select.Clamp: lambda node, g: g * _const(node.inside.astype(g.dtype)),
    select.SetItem: _set_item,
    select.CopyInto: lambda node, g: (None, _unbroadcast(g, node.src_shape).to(node.src_dtype)),
    select.IndexAdd: lambda node, g: g[node.index],
}

from .double_backward_more import register  # noqa: E402 - activations, normalizations, rearrangements

register(_RULES)
