"""More torch.nn.functional names: pointwise activations, robust and similarity losses, embedding lookup,
1-D convolution and pooling (as 2-D ones over a height of 1), pixel shuffle.

Re-exported by ``dlcore.nn.functional``. The activations and the embedding run one autograd Function each
(``ops/activation_more.py``, ``ops/embedding.py``); the rest compose existing ops, so their gradients come
from those ops' backward passes.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import functions as _fn
from ..ops import activation_more as act
from ..ops import embedding as emb
from ..ops._common import array_module
from ..tensor import Tensor

__all__ = [
    "avg_pool1d", "celu", "conv1d", "cosine_similarity", "embedding", "hardsigmoid", "hardswish", "hardtanh",
    "huber_loss", "logsigmoid", "max_pool1d", "mish", "normalize", "pixel_shuffle", "pixel_unshuffle", "relu6",
    "selu", "smooth_l1_loss", "softplus", "softsign",
]

# SELU's constants (Klambauer et al. 2017), as torch writes them
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _check_tensor(name, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: input must be a dlcore.Tensor, got {type(input).__name__}")


# ---- activations ------------------------------------------------------------------------------------------------
def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta; x itself where beta x > threshold."""
    _check_tensor("softplus", input)
    return act.Softplus.apply(input, float(beta), float(threshold))


def mish(input, inplace=False):
    """x tanh(softplus(x))."""
    _check_tensor("mish", input)
    return act.Mish.apply(input)


def logsigmoid(input):
    """log(sigmoid(x)), computed without overflow."""
    _check_tensor("logsigmoid", input)
    return act.LogSigmoid.apply(input)


def softsign(input):
    """x / (1 + |x|)."""
    _check_tensor("softsign", input)
    return act.Softsign.apply(input)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clip(x, min_val, max_val)."""
    _check_tensor("hardtanh", input)
    return act.Hardtanh.apply(input, float(min_val), float(max_val))


def relu6(input, inplace=False):
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0)


def hardsigmoid(input, inplace=False):
    """clip(x / 6 + 1/2, 0, 1)."""
    _check_tensor("hardsigmoid", input)
    return act.Hardsigmoid.apply(input)


def hardswish(input, inplace=False):
    """x clip(x + 3, 0, 6) / 6 (MobileNetV3)."""
    _check_tensor("hardswish", input)
    return act.Hardswish.apply(input)


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalizing constants."""
    from .functional import elu

    return elu(input, _SELU_ALPHA) * _SELU_SCALE


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1)) = alpha * elu(x / alpha)."""
    from .functional import elu

    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    return elu(input / alpha, 1.0) * alpha


# ---- losses and similarities ----------------------------------------------------------------------------------
def _reduced(loss, reduction):
    from .functional import _reduce  # the losses' one reduction rule (imported late: functional imports this)

    return _reduce(loss, reduction)


def _difference(name, input, target):
    _check_tensor(name, input)
    target = target if isinstance(target, Tensor) else Tensor(np.asarray(target, dtype=input.dtype))
    if target.shape != input.shape:
        raise ValueError(f"{name}: target shape {target.shape} differs from input shape {input.shape}")
    return input - target


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - beta / 2 (d = input - target; beta 0 is the L1 loss)."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    d = _difference("smooth_l1_loss", input, target).abs()
    if beta == 0:
        return _reduced(d, reduction)
    return _reduced(_fn.where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0):
    """0.5 d^2 where |d| < delta, else delta (|d| - delta / 2): smooth_l1_loss scaled by delta."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    d = _difference("huber_loss", input, target).abs()
    return _reduced(_fn.where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta), reduction)


def _norm(x, dim, p=2.0):
    if p == 2:
        return (x * x).sum(dim=dim, keepdim=True).sqrt()
    if p == 1:
        return x.abs().sum(dim=dim, keepdim=True)
    return (x.abs() ** p).sum(dim=dim, keepdim=True) ** (1.0 / p)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """x / max(||x||_p over dim, eps)."""
    _check_tensor("normalize", input)
    return input / _fn.clamp(_norm(input, dim, p), min=eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 x2) / (max(||x1||, eps) max(||x2||, eps)) over dim (broadcast), as torch computes it."""
    _check_tensor("cosine_similarity", x1)
    _check_tensor("cosine_similarity", x2)
    n1 = _fn.clamp(_norm(x1, dim), min=eps)
    n2 = _fn.clamp(_norm(x2, dim), min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim=dim)


# ---- embedding ------------------------------------------------------------------------------------------------
def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of weight (num_embeddings, dim) picked by the integer indices in `input`: shape input.shape + (dim,).

    ``padding_idx`` rows get no gradient; ``max_norm`` rescales, in place and without gradient, the rows
    looked up whose ``norm_type`` norm exceeds it (torch's renorm); ``scale_grad_by_freq`` divides each row's
    gradient by its index's count in the batch. Sparse gradients are not supported.
    """
    _check_tensor("embedding", weight)
    if sparse:
        raise ValueError("embedding: sparse=True is not supported (dlcore has dense gradients only)")
    idx = input._data if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got {weight.shape}")
    n = weight.shape[0]
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        raise IndexError(f"embedding: index out of range [0, {n}): got values in [{int(idx.min())}, "
                         f"{int(idx.max())}]")
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within [-{n}, {n})")
        padding_idx = int(padding_idx) % n
    if max_norm is not None:
        _renorm_rows(weight, idx, float(max_norm), float(norm_type))
    return emb.Embedding.apply(weight, idx.astype(np.int64, copy=False), padding_idx, bool(scale_grad_by_freq))


def _renorm_rows(weight, idx, max_norm, norm_type):
    """torch.embedding_renorm_: the looked-up rows whose norm exceeds max_norm scaled to max_norm / (norm + 1e-7)."""
    w = weight._data
    xp = array_module(w)
    rows = xp.unique(idx.reshape(-1))
    norms = (xp.abs(w[rows]) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    big = norms > max_norm
    w[rows[big]] *= (max_norm / (norms[big] + 1e-7))[:, None].astype(w.dtype)
    weight._version_counter()[0] += 1  # an in-place change


# ---- 1-D convolution and pooling ------------------------------------------------------------------------------
def _single(value, name):
    if isinstance(value, numbers.Integral):
        return int(value)
    value = tuple(value)
    if len(value) != 1:
        raise ValueError(f"{name} must be an int or a 1-tuple, got {value}")
    return int(value[0])


def _check_1d(name, input):
    _check_tensor(name, input)
    if input.ndim not in (2, 3):
        raise ValueError(f"{name} expects (N, C, L) or (C, L) input, got shape {input.shape}")


def _as_2d(fn_name, input, run):
    """Runs `run` on input as (N, C, 1, L) and returns (N, C, L') (an unbatched (C, L) input round-trips)."""
    _check_1d(fn_name, input)
    batched = input.ndim == 3
    x = input.unsqueeze(2) if batched else input.unsqueeze(0).unsqueeze(2)
    y = run(x).squeeze(2)
    return y if batched else y.squeeze(0)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation: input (N, C, L), weight (O, C/groups, K) -> (N, O, L'); the conv2d kernels over
    a height of 1. ``padding``: an int, "same" or "valid"."""
    from .functional import conv2d

    _check_tensor("conv1d", weight)
    if weight.ndim != 3:
        raise ValueError(f"conv1d: weight must be (out_channels, in_channels/groups, kernel), got {weight.shape}")
    pad = padding if isinstance(padding, str) else (0, _single(padding, "conv1d: padding"))
    return _as_2d("conv1d", input, lambda x: conv2d(x, weight.unsqueeze(2), bias, (1, _single(stride, "stride")),
                                                   pad, (1, _single(dilation, "dilation")), groups))


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over windows of kernel_size along the last axis (stride defaults to kernel_size)."""
    from .functional import max_pool2d

    if return_indices:
        raise ValueError("max_pool1d: return_indices=True is not supported")
    k = _single(kernel_size, "max_pool1d: kernel_size")
    s = k if stride is None else _single(stride, "max_pool1d: stride")
    p = _single(padding, "max_pool1d: padding")
    d = _single(dilation, "max_pool1d: dilation")
    return _as_2d("max_pool1d", input, lambda x: max_pool2d(x, (1, k), (1, s), (0, p), (1, d), ceil_mode))


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over windows of kernel_size along the last axis."""
    from .functional import avg_pool2d

    k = _single(kernel_size, "avg_pool1d: kernel_size")
    s = k if stride is None else _single(stride, "avg_pool1d: stride")
    p = _single(padding, "avg_pool1d: padding")
    return _as_2d("avg_pool1d", input, lambda x: avg_pool2d(x, (1, k), (1, s), (0, p), ceil_mode, count_include_pad))


# ---- pixel shuffle --------------------------------------------------------------------------------------------
def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r) (sub-pixel convolution's rearrangement)."""
    _check_tensor("pixel_shuffle", input)
    r = int(upscale_factor)
    *lead, c, h, w = input.shape
    if r < 1 or c % (r * r):
        raise ValueError(f"pixel_shuffle: channels {c} must be divisible by upscale_factor^2 = {r * r}")
    x = input.reshape(-1, c // (r * r), r, r, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of pixel_shuffle."""
    _check_tensor("pixel_unshuffle", input)
    r = int(downscale_factor)
    *lead, c, h, w = input.shape
    if r < 1 or h % r or w % r:
        raise ValueError(f"pixel_unshuffle: height {h} and width {w} must be divisible by {r}")
    x = input.reshape(-1, c, h // r, r, w // r, r).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(*lead, c * r * r, h // r, w // r)
