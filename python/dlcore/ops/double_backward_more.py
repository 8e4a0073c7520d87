"""Double-backward rules for the activations, normalizations and rearrangements beyond double_backward.py's
first set (GANs' gradient penalties go through LayerNorm/GroupNorm and LeakyReLU/ELU/GELU critics, PINNs
take second derivatives of SiLU/Softplus/GELU networks, MAML differentiates through whole training steps).

Two kinds of rule, each the node's first-order backward written with differentiable Tensor ops:
- elementwise activations: ``g * f'(x)`` with ``f'`` spelled out in Tensor ops of the recorded input;
- normalizations: recomposition: the forward is recomputed from the recorded inputs with ops that have
  rules, and ``autograd.grad`` of it with ``create_graph`` gives the gradient on the tape.
"""
from __future__ import annotations

import math

from ..autograd import Function, no_grad
from ..autograd.api import grad as autograd_grad
from . import activation, activation_more, conv, dropout, layer_norm, linear, math_more, norm, pool, resample, shape


def _T():
    from ..tensor import Tensor

    return Tensor


def _F():
    from ..nn import functional

    return functional


def _const(array):
    return _T()(array)


def _where(condition, a, b):
    from ..functions import where

    return where(condition, a, b)


def _softplus(x):
    """log(1 + e^x) without overflow: relu(x) + log1p(e^-|x|)."""
    return _F().relu(x) + (-x.abs()).exp().log1p()


# ---- elementwise activations: g * f'(x) --------------------------------------------------------------------
def _elementwise(derivative):
    """A rule for y = f(x) from f' written with Tensor ops."""
    return lambda node, g: g * derivative(node, node.parents[0])


def _elu(node, x):
    return _where(x > 0, x * 0 + 1, x.exp() * node.alpha)


def _gelu(node, x):
    if node.approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        t = (k * (x + 0.044715 * x ** 3)).tanh()
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x)
    cdf = 0.5 * (1 + (x / math.sqrt(2)).erf())
    return cdf + x * (-0.5 * x * x).exp() / math.sqrt(2 * math.pi)


def _silu(node, x):
    s = _F().sigmoid(x)
    return s * (1 + x * (1 - s))


def _softplus_derivative(node, x):
    z = x * node.beta
    return _where(z > node.threshold, x * 0 + 1, _F().sigmoid(z))


def _mish(node, x):
    t = _softplus(x).tanh()
    return t + x * (1 - t * t) * _F().sigmoid(x)


def _hardswish(node, x):
    middle = _const(((x._data > -3) & (x._data < 3)).astype(x.dtype))
    above = _const((x._data >= 3).astype(x.dtype))
    return middle * (2 * x + 3) / 6 + above


def _prelu(node, g):
    """y = x where x > 0, else w x (w per channel, axis 1, or one shared)."""
    x, w = node.parents
    positive = _const((x._data > 0).astype(x.dtype))
    channel = (1, -1) + (1,) * (x.ndim - 2) if w.numel() > 1 else (1,) * x.ndim
    wb = w.reshape(channel)
    dx = g * (positive + (1 - positive) * wb) if node.needs_input_grad[0] else None
    dw = None
    if node.needs_input_grad[1]:
        per = g * x * (1 - positive)
        axes = tuple(i for i in range(x.ndim) if not (w.numel() > 1 and i == 1))
        dw = per.sum(dim=axes).reshape(w.shape)
    return dx, dw


# ---- recomposition ----------------------------------------------------------------------------------------
def _recomposed(compose):
    """A rule that recomputes the forward with ops that have rules and differentiates it on the tape."""

    def rule(node, g):
        parents = node.parents
        wanted = [i for i, p in enumerate(parents) if p is not None and node.needs_input_grad[i]]
        y = compose(node, *parents)
        found = autograd_grad(y, [parents[i] for i in wanted], g, create_graph=True, allow_unused=True)
        grads = [None] * len(parents)
        for i, gi in zip(wanted, found):
            grads[i] = gi if gi is not None else parents[i] * 0
        return tuple(grads)

    return rule


def _normalized(x, axes, eps):
    mean = x.mean(dim=axes, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(dim=axes, keepdim=True)
    return centered / (var + eps).sqrt()


def _affine(y, weight, bias, shape):
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _layer_norm(node, x, weight, bias, *_):
    shape = tuple(x.shape[a] for a in node.axes)
    return _affine(_normalized(x, node.axes, node.eps), weight, bias, shape)


def _group_norm(node, x, _groups, weight, bias, *_):
    n = x.shape[0]
    y = _normalized(x.reshape(n, node.groups, -1), (2,), node.eps).reshape(x.shape)
    return _affine(y, weight, bias, node.channel)


def _channel(x):
    return (1, -1) + (1,) * (x.ndim - 2)


def _batch_norm_training(node, x, weight, bias, *_):
    axes = (0,) + tuple(range(2, x.ndim))
    return _affine(_normalized(x, axes, node.eps), weight, bias, _channel(x))


def _batch_norm_inference(node, x, weight, bias, *_):
    mean, var = node.stats
    y = (x - _const(mean).reshape(_channel(x))) / _const(var + node.eps).sqrt().reshape(_channel(x))
    return _affine(y, weight, bias, _channel(x))


# ---- fused ReLU epilogues, masks, rearrangements ------------------------------------------------------------
def _masked_by_output(first_order_rule):
    """Conv2dReLU / LinearReLU: g masked by y > 0 (relu'' = 0), then the layer's own rule."""

    def rule(node, g):
        return first_order_rule(node, g * _const((node.y > 0).astype(g.dtype)))

    return rule


def _dropout(node, g):
    """Dropout multiplies by a fixed mask * 1/(1-p): its backward applied to ones is that multiplier."""
    xp_ones = g._data * 0 + 1
    return g * _const(node.backward(xp_ones)), None, None


def _cumsum(node, g):
    return g.flip(node.dim).cumsum(node.dim).flip(node.dim)


def _roll(node, g):
    shifts = tuple(-s for s in node.shifts) if isinstance(node.shifts, tuple) else -node.shifts
    return g.roll(shifts, node.dims)


# ---- pools: their backward as an op ------------------------------------------------------------------------
class PoolBackward(Function):
    """g -> the pool node's backward(g), as an op: linear in g, and its own gradient is the pool's Jacobian
    J applied to h (``jacobian_map``, Tensor -> Tensor): the average pools' J is the pool itself (linear),
    the max pools' J gathers h at the recorded argmax positions (piecewise linear)."""

    def forward(self, g, node=None, jacobian_map=None):
        self.jacobian_map = jacobian_map
        return node.backward(g)

    def backward(self, h):
        with no_grad():
            return self.jacobian_map(_T()(h))._data

    def backward_graph(self, h):
        return self.jacobian_map(h)


def _gather_at_argmax(node):
    n, c = node.shape[:2]
    planes = _T()(node.indices.reshape(n * c, -1).astype("int64"))
    rows = _T()(_arange_column(n * c, node.indices))
    out_shape = node.indices.shape

    def gather(h):
        return h.reshape(n * c, -1)[rows, planes].reshape(out_shape)

    return gather


def _arange_column(count, like):
    from ._common import array_module

    return array_module(like).arange(count).reshape(-1, 1)


def _pool_rule(jacobian_map_of):
    def rule(node, g):
        pooled = getattr(node, "inner", None) or node
        if getattr(node, "indices", True) is None or getattr(pooled, "backend", None) == "onednn":
            raise RuntimeError(f"double backward through {type(node).__name__} needs dlcore's argmax indices; "
                               f"oneDNN's max pooling keeps none: run it under another backend")
        return (PoolBackward.apply(g, node=node, jacobian_map=jacobian_map_of(node)),) + (None,) * (
            len(node.parents) - 1)

    return rule


def register(rules):
    """Adds this file's rules to double_backward's table."""
    from .double_backward import _conv2d, _linear

    rules.update({
        activation.ELU: _elementwise(_elu),
        activation.PReLU: _prelu,
        activation_more.GELU: _elementwise(_gelu),
        activation_more.SiLU: _elementwise(_silu),
        activation_more.Softplus: _elementwise(_softplus_derivative),
        activation_more.Mish: _elementwise(_mish),
        activation_more.LogSigmoid: _elementwise(lambda node, x: _F().sigmoid(-x)),
        activation_more.Softsign: _elementwise(lambda node, x: 1 / (1 + x.abs()) ** 2),
        activation_more.Hardtanh: lambda node, g: g * _const(node.inside.astype(g.dtype)),
        activation_more.Hardsigmoid: lambda node, g: g * _const(node.inside.astype(g.dtype) / 6),
        activation_more.Hardswish: _elementwise(_hardswish),
        layer_norm.LayerNorm: _recomposed(_layer_norm),
        layer_norm.GroupNorm: _recomposed(_group_norm),
        norm.BatchNormTraining: _recomposed(_batch_norm_training),
        norm.BatchNormInference: _recomposed(_batch_norm_inference),
        conv.Conv2dReLU: _masked_by_output(_conv2d),
        linear.LinearReLU: _masked_by_output(_linear),
        dropout.Dropout: _dropout,
        math_more.Flip: lambda node, g: g.flip(node.dims),
        math_more.Roll: _roll,
        math_more.Cumsum: _cumsum,
        math_more.Triangle: lambda node, g: g * _const(node.mask.astype(g.dtype)),
        math_more.Rounded: lambda node, g: g * 0,
        shape.Alias: lambda node, g: g,
        pool.AvgPool2d: _pool_rule(lambda node: lambda h: pool.AvgPool2d.apply(h, *node.call)),
        resample.AdaptiveAvgPool2d: _pool_rule(
            lambda node: lambda h: resample.AdaptiveAvgPool2d.apply(h, node.output_size)),
        pool.MaxPool2d: _pool_rule(_gather_at_argmax),
        resample.AdaptiveMaxPool2d: _pool_rule(_gather_at_argmax),
    })
