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
from ..ops import fold as fold_ops
from ..ops._common import array_module
from ..tensor import Tensor

__all__ = [
    "avg_pool1d", "celu", "conv1d", "cosine_similarity", "embedding", "hardsigmoid", "hardswish", "hardtanh",
    "huber_loss", "logsigmoid", "max_pool1d", "mish", "normalize", "pixel_shuffle", "pixel_unshuffle", "relu6",
    "selu", "smooth_l1_loss", "softplus", "softsign",
    # added later: more activations, 1-D adaptive pooling and dropout, im2col, distances, bilinear, losses
    "adaptive_avg_pool1d", "adaptive_max_pool1d", "bilinear", "cosine_embedding_loss", "dropout1d", "fold",
    "gaussian_nll_loss", "glu", "hardshrink", "hinge_embedding_loss", "margin_ranking_loss",
    "multilabel_soft_margin_loss", "pairwise_distance", "poisson_nll_loss", "soft_margin_loss", "softmin",
    "softshrink", "tanhshrink", "threshold", "triplet_margin_loss", "unfold",
    "channel_shuffle", "conv_transpose1d", "rms_norm", "gumbel_softmax", "multi_margin_loss", "rrelu",
    "embedding_bag", "lp_pool1d", "lp_pool2d", "alpha_dropout", "multilabel_margin_loss", "pdist",
    "triplet_margin_with_distance_loss", "ctc_loss",
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
def _reduced(loss, reduction, name="loss"):
    """The losses' one reduction rule (functional._reduce, imported late: functional imports this module),
    with the loss's name in the error."""
    from .functional import _reduce

    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
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
        return _reduced(d, reduction, "smooth_l1_loss")
    return _reduced(_fn.where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta), reduction, "smooth_l1_loss")


def huber_loss(input, target, reduction="mean", delta=1.0):
    """0.5 d^2 where |d| < delta, else delta (|d| - delta / 2): smooth_l1_loss scaled by delta."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    d = _difference("huber_loss", input, target).abs()
    return _reduced(_fn.where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta), reduction, "huber_loss")


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

    k = _single(kernel_size, "max_pool1d: kernel_size")
    s = k if stride is None else _single(stride, "max_pool1d: stride")
    p = _single(padding, "max_pool1d: padding")
    d = _single(dilation, "max_pool1d: dilation")
    if not return_indices:
        return _as_2d("max_pool1d", input, lambda x: max_pool2d(x, (1, k), (1, s), (0, p), (1, d), ceil_mode))
    _check_1d("max_pool1d", input)
    x = input.unsqueeze(2) if input.ndim == 3 else input.unsqueeze(0).unsqueeze(2)
    out, indices = max_pool2d(x, (1, k), (1, s), (0, p), (1, d), ceil_mode, True)  # offset h*W+w is w here
    out, indices = out.squeeze(2), Tensor(indices._data.astype(np.int64)).squeeze(2)  # torch's int64
    return (out, indices) if input.ndim == 3 else (out.squeeze(0), indices.squeeze(0))


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum of x^p over each window)^(1/p) along the last axis (torch's: no padding)."""
    k = _single(kernel_size, "lp_pool1d: kernel_size")
    out = avg_pool1d(input ** norm_type, k, stride, 0, ceil_mode) * k
    return out ** (1.0 / norm_type)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum of x^p over each kernel_size window)^(1/p) (torch's: no padding)."""
    from .functional import avg_pool2d

    _check_tensor("lp_pool2d", input)
    kh, kw = _pair(kernel_size, "lp_pool2d: kernel_size")
    out = avg_pool2d(input ** norm_type, (kh, kw), stride, 0, ceil_mode) * (kh * kw)
    return out ** (1.0 / norm_type)


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


# ---- more activations -----------------------------------------------------------------------------------------
def glu(input, dim=-1):
    """a * sigmoid(b), with a and b the two halves of `input` along `dim` (gated linear unit)."""
    _check_tensor("glu", input)
    size = input.shape[dim]
    if size % 2:
        raise ValueError(f"glu: halving dimension must be even, but dimension {dim} is size {size}")
    a, b = input.split(size // 2, dim=dim)
    return a * b.sigmoid()


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x) along dim (torch's implicit dim when None: 0 for 0-, 1- and 3-D input, else 1)."""
    from .functional import softmax

    _check_tensor("softmin", input)
    if dim is None:
        dim = 0 if input.ndim in (0, 1, 3) else 1
    x = input if dtype is None else input.to(dtype)
    return softmax(-x, dim=dim)


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else value."""
    _check_tensor("threshold", input)
    return _fn.where(input > threshold, input, float(value))


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, 0 between: x - clamp(x, -lambd, lambd)."""
    _check_tensor("softshrink", input)
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be >= 0, got {lambd}")
    return input - input.clamp(-lambd, lambd)


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0."""
    _check_tensor("hardshrink", input)
    return _fn.where(input.abs() > lambd, input, 0.0)


def tanhshrink(input):
    """x - tanh(x)."""
    _check_tensor("tanhshrink", input)
    return input - input.tanh()


# ---- 1-D adaptive pooling and channel dropout -------------------------------------------------------------------
def adaptive_avg_pool1d(input, output_size):
    """Mean over torch's adaptive windows along the last axis: (N, C, L) -> (N, C, output_size)."""
    from ._functional_layers import adaptive_avg_pool2d

    size = _single(output_size, "adaptive_avg_pool1d: output_size")
    return _as_2d("adaptive_avg_pool1d", input, lambda x: adaptive_avg_pool2d(x, (1, size)))


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max over torch's adaptive windows along the last axis; ``return_indices`` gives positions along it."""
    from ._functional_layers import adaptive_max_pool2d

    size = _single(output_size, "adaptive_max_pool1d: output_size")
    if not return_indices:
        return _as_2d("adaptive_max_pool1d", input, lambda x: adaptive_max_pool2d(x, (1, size)))
    _check_1d("adaptive_max_pool1d", input)
    x = input.unsqueeze(2) if input.ndim == 3 else input.unsqueeze(0).unsqueeze(2)
    out, indices = adaptive_max_pool2d(x, (1, size), True)  # over a height of 1 the flat offset h*W+w is w
    out, indices = out.squeeze(2), indices.squeeze(2)
    return (out, indices) if input.ndim == 3 else (out.squeeze(0), indices.squeeze(0))


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of (N, C, L) or (C, L) with probability p, scales the rest by 1/(1-p)."""
    from ._functional_layers import dropout2d

    _check_tensor("dropout1d", input)
    if input.ndim not in (2, 3):
        raise ValueError(f"dropout1d expects (N, C, L) or (C, L) input, got shape {input.shape}")
    return dropout2d(input.unsqueeze(-1), p, training).squeeze(-1)


# ---- im2col ---------------------------------------------------------------------------------------------------
def _pair(value, name):
    if isinstance(value, numbers.Integral):
        return int(value), int(value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"{name} must be an int or a pair, got {value}")
    return value


def _geometry(name, kernel_size, dilation, padding, stride):
    geometry = tuple(_pair(v, f"{name}: {what}") for v, what in
                     ((kernel_size, "kernel_size"), (dilation, "dilation"), (padding, "padding"), (stride, "stride")))
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = geometry
    if min(kh, kw, dh, dw, sh, sw) < 1 or min(ph, pw) < 0:
        raise ValueError(f"{name}: kernel_size, dilation and stride must be positive and padding >= 0, got "
                         f"{geometry}")
    return geometry


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: (N, C, H, W) -> (N, C*kh*kw, L), each column one sliding block (torch's layout)."""
    _check_tensor("unfold", input)
    if input.ndim not in (3, 4):
        raise ValueError(f"unfold expects (N, C, H, W) or (C, H, W) input, got shape {input.shape}")
    geometry = _geometry("unfold", kernel_size, dilation, padding, stride)
    x = input if input.ndim == 4 else input.unsqueeze(0)
    blocks = [fold_ops._blocks(size, *g) for size, *g in zip(x.shape[2:], *geometry)]
    if min(blocks) < 1:
        raise ValueError(f"unfold: no {geometry[0]} block fits input {tuple(input.shape)} with the given padding "
                         f"and dilation")
    out = fold_ops.Unfold.apply(x, geometry)
    return out if input.ndim == 4 else out.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im, the adjoint of unfold: (N, C*kh*kw, L) -> (N, C, *output_size), overlapping blocks summed."""
    _check_tensor("fold", input)
    if input.ndim not in (2, 3):
        raise ValueError(f"fold expects (N, C*kh*kw, L) or (C*kh*kw, L) input, got shape {input.shape}")
    geometry = _geometry("fold", kernel_size, dilation, padding, stride)
    size = _pair(output_size, "fold: output_size")
    x = input if input.ndim == 3 else input.unsqueeze(0)
    (kh, kw) = geometry[0]
    blocks = [fold_ops._blocks(n, *g) for n, *g in zip(size, *geometry)]
    if x.shape[1] % (kh * kw):
        raise ValueError(f"fold: input's dimension 1 ({x.shape[1]}) must be divisible by the product of "
                         f"kernel_size ({kh * kw})")
    if min(blocks) < 1 or x.shape[2] != blocks[0] * blocks[1]:
        raise ValueError(f"fold: input has {x.shape[2]} blocks but output_size {size} with these kernel_size, "
                         f"dilation, padding and stride gives {blocks[0]} x {blocks[1]}")
    out = fold_ops.Fold.apply(x, size, geometry)
    return out if input.ndim == 3 else out.squeeze(0)


# ---- distances and bilinear -----------------------------------------------------------------------------------
def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last axis (torch adds eps to the difference, keeping the norm's gradient
    finite where x1 == x2)."""
    _check_tensor("pairwise_distance", x1)
    _check_tensor("pairwise_distance", x2)
    d = _norm(x1 - x2 + eps, -1, p)
    return d if keepdim else d.squeeze(-1)


def bilinear(input1, input2, weight, bias=None):
    """y_k = x1^T W_k x2 + b_k: input1 (..., in1), input2 (..., in2), weight (out, in1, in2) -> (..., out)."""
    for name, t in (("input1", input1), ("input2", input2), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"bilinear: {name} must be a dlcore.Tensor, got {type(t).__name__}")
    out, in1, in2 = weight.shape
    if input1.shape[-1] != in1 or input2.shape[-1] != in2 or input1.shape[:-1] != input2.shape[:-1]:
        raise ValueError(f"bilinear: inputs {input1.shape} and {input2.shape} do not fit weight {weight.shape} "
                         f"(..., {in1}) and (..., {in2})")
    # x1 (M, in1) @ W as (in1, out*in2), then each out row's dot with x2: two GEMM-shaped recorded ops
    lead = input1.shape[:-1]
    left = input1.reshape(-1, in1) @ weight.permute(1, 0, 2).reshape(in1, out * in2)
    y = (left.reshape(-1, out, in2) * input2.reshape(-1, 1, in2)).sum(dim=-1)
    y = y if bias is None else y + bias
    return y.reshape(*lead, out)


# ---- more losses ----------------------------------------------------------------------------------------------
def _as_target(target, like):
    return target if isinstance(target, Tensor) else Tensor(np.asarray(target, dtype=like.dtype))


def _signs(name, target):
    """A target of 1 / -1 as bool arrays (positive, negative); other values are an error, as torch's losses
    that take labels y in {1, -1} define nothing else."""
    y = target._data
    positive, negative = y == 1, y == -1
    if not bool((positive | negative).all()):
        raise ValueError(f"{name}: target values must be 1 or -1")
    return positive, negative


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """max(0, -y (x1 - x2) + margin), y in {1, -1} ranking x1 above (1) or below (-1) x2."""
    _check_tensor("margin_ranking_loss", input1)
    target = _as_target(target, input1)
    return _reduced((-target * (input1 - input2) + margin).clamp(min=0), reduction, "margin_ranking_loss")


def hinge_embedding_loss(input, target, margin=1.0, reduction="mean"):
    """x where y = 1, max(0, margin - x) where y = -1 (input: distances)."""
    _check_tensor("hinge_embedding_loss", input)
    target = _as_target(target, input)
    positive, _ = _signs("hinge_embedding_loss", target)
    loss = _fn.where(Tensor(positive), input, (margin - input).clamp(min=0))
    return _reduced(loss, reduction, "hinge_embedding_loss")


def soft_margin_loss(input, target, reduction="mean"):
    """log(1 + exp(-y x)), y in {1, -1}: the logistic loss."""
    _check_tensor("soft_margin_loss", input)
    target = _as_target(target, input)
    return _reduced(softplus(-target * input), reduction, "soft_margin_loss")


def multilabel_soft_margin_loss(input, target, weight=None, reduction="mean"):
    """-mean over the C classes of w (y log sigmoid(x) + (1 - y) log sigmoid(-x)): (N, C) -> (N,) reduced."""
    _check_tensor("multilabel_soft_margin_loss", input)
    target = _as_target(target, input)
    if target.shape != input.shape:
        raise ValueError(f"multilabel_soft_margin_loss: target shape {target.shape} differs from input shape "
                         f"{input.shape}")
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * _as_target(weight, input)
    return _reduced(loss.mean(dim=-1), reduction, "multilabel_soft_margin_loss")


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """1 - cos(x1, x2) where y = 1, max(0, cos - margin) where y = -1; cos over the last axis with torch's
    1e-12 added to each squared norm."""
    _check_tensor("cosine_embedding_loss", input1)
    target = _as_target(target, input1)
    positive, _ = _signs("cosine_embedding_loss", target)
    eps = 1e-12
    dot = (input1 * input2).sum(dim=-1)
    cos = dot / (((input1 * input1).sum(dim=-1) + eps) * ((input2 * input2).sum(dim=-1) + eps)).sqrt()
    loss = _fn.where(Tensor(positive), 1 - cos, (cos - margin).clamp(min=0))
    return _reduced(loss, reduction, "cosine_embedding_loss")


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
    """max(0, margin + d(a, p) - d(a, n)), d the pairwise distance; ``swap`` uses min(d(a, n), d(p, n))."""
    for name, t in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        if not isinstance(t, Tensor):
            raise TypeError(f"triplet_margin_loss: {name} must be a dlcore.Tensor, got {type(t).__name__}")
    if margin <= 0:
        raise ValueError(f"triplet_margin_loss: margin must be > 0, got {margin}")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = _fn.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduced((margin + d_pos - d_neg).clamp(min=0), reduction, "triplet_margin_loss")


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """exp(x) - y x (``log_input``) or x - y log(x + eps); ``full`` adds Stirling's y log y - y + log(2 pi y) / 2
    where y > 1."""
    _check_tensor("poisson_nll_loss", input)
    target = _as_target(target, input)
    loss = input.exp() - target * input if log_input else input - target * (input + eps).log()
    if full:
        y = target._data
        xp = array_module(y)
        safe = xp.where(y > 1, y, 1)  # Stirling's term is 0 where y <= 1; no log of 0 there
        stirling = xp.where(y > 1, safe * xp.log(safe) - safe + 0.5 * xp.log(2 * np.pi * safe), 0)
        loss = loss + Tensor(stirling.astype(input.dtype, copy=False))
    return _reduced(loss, reduction, "poisson_nll_loss")


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """(log(max(var, eps)) + (x - y)^2 / max(var, eps)) / 2 (+ log(2 pi) / 2 with ``full``).

    var has input's shape, or it with the last axis 1 or dropped (one variance per sample). As torch, the
    clamp to eps changes var's value but not its gradient path (torch clamps a clone under no_grad)."""
    _check_tensor("gaussian_nll_loss", input)
    target, var = _as_target(target, input), _as_target(var, input)
    if var.shape != input.shape:
        if var.shape == input.shape[:-1]:
            var = var.unsqueeze(-1)
        elif not (var.shape == input.shape[:-1] + (1,)):
            raise ValueError(f"gaussian_nll_loss: var of shape {var.shape} does not fit input {input.shape}")
    if bool((var._data < 0).any()):
        raise ValueError("gaussian_nll_loss: var has negative entries")
    var = var + Tensor(array_module(var._data).maximum(var._data, eps) - var._data)  # a constant shift
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * float(np.log(2 * np.pi))
    return _reduced(loss, reduction, "gaussian_nll_loss")


# ---- RMSNorm, transposed 1-D convolution, channel shuffle -------------------------------------------------------
def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) * weight over the last len(normalized_shape) axes; eps None is the dtype's
    machine epsilon (torch's default)."""
    _check_tensor("rms_norm", input)
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape):]) != shape:
        raise ValueError(f"rms_norm: input {input.shape} does not end in normalized_shape {shape}")
    eps = float(np.finfo(input.dtype).eps) if eps is None else float(eps)
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    y = input * ((input * input).mean(dim=dims, keepdim=True) + eps).rsqrt()
    return y if weight is None else y * weight


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 1-D convolution: input (N, C_in, L), weight (C_in, C_out/groups, K) -> (N, C_out, L');
    conv_transpose2d over a height of 1. L' = (L - 1) stride - 2 padding + dilation (K - 1) + output_padding + 1."""
    from ._functional_layers import conv_transpose2d

    _check_tensor("conv_transpose1d", weight)
    if weight.ndim != 3:
        raise ValueError(f"conv_transpose1d: weight must be (in_channels, out_channels/groups, kernel), got "
                         f"{weight.shape}")
    options = dict(stride=(1, _single(stride, "conv_transpose1d: stride")),
                   padding=(0, _single(padding, "conv_transpose1d: padding")),
                   output_padding=(0, _single(output_padding, "conv_transpose1d: output_padding")),
                   groups=groups, dilation=(1, _single(dilation, "conv_transpose1d: dilation")))
    return _as_2d("conv_transpose1d", input, lambda x: conv_transpose2d(x, weight.unsqueeze(2), bias, **options))


def channel_shuffle(input, groups):
    """(N, C, *) with channels seen as (groups, C/groups) transposed to (C/groups, groups) (ShuffleNet)."""
    _check_tensor("channel_shuffle", input)
    g, c = int(groups), input.shape[1]
    if g < 1 or c % g:
        raise ValueError(f"channel_shuffle: channels {c} must be divisible by groups {groups}")
    rest = input.shape[2:]
    return input.reshape(input.shape[0], g, c // g, *rest).transpose(1, 2).reshape(input.shape[0], c, *rest)


# ---- randomized activations, multi-class margin loss -----------------------------------------------------------
def _rng():
    """A generator drawn from dlcore's seeded stream (dlcore.manual_seed reproduces it)."""
    from ..random import next_seed

    return np.random.default_rng(next_seed())


def _constant(array, like):
    """A NumPy array as a Tensor of like's dtype on like's device (no gradient)."""
    from .._device import array_like

    return Tensor(array_like(np.asarray(array).astype(like.dtype, copy=False), like._data))


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """x where x >= 0, else a x: a ~ U(lower, upper) per element in training, (lower + upper) / 2 in eval."""
    _check_tensor("rrelu", input)
    if not 0 <= lower <= upper:
        raise ValueError(f"rrelu: need 0 <= lower <= upper, got lower={lower}, upper={upper}")
    slope = _constant(_rng().uniform(lower, upper, input.shape), input) if training else (lower + upper) / 2
    return _fn.where(input >= 0, input, input * slope)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """softmax((logits + g) / tau) with g Gumbel(0, 1) noise; ``hard``: the one-hot of its argmax in the forward
    pass and the soft sample's gradient (straight-through)."""
    from .functional import softmax

    _check_tensor("gumbel_softmax", logits)
    gumbels = _constant(-np.log(_rng().exponential(size=logits.shape)), logits)
    soft = softmax((logits + gumbels) / tau, dim=dim)
    if not hard:
        return soft
    xp = array_module(soft._data)
    one_hot = xp.zeros_like(soft._data)
    xp.put_along_axis(one_hot, xp.expand_dims(soft._data.argmax(axis=dim), dim), 1, axis=dim)
    return soft + Tensor(one_hot - soft._data)  # value one_hot, gradient soft's


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, reduction="mean"):
    """sum over classes i != y of w[y] max(0, margin - x[y] + x[i])^p / C: input (N, C) or (C,), target class
    indices (N,) or ()."""
    _check_tensor("multi_margin_loss", input)
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: p must be 1 or 2, got {p}")
    y = target._data if isinstance(target, Tensor) else np.asarray(target)
    if y.dtype.kind not in "iu":
        raise TypeError(f"multi_margin_loss: target must hold integer class indices, got {y.dtype}")
    x = input if input.ndim == 2 else input.unsqueeze(0)
    y = y.reshape(-1).astype(np.int64)
    classes = x.shape[1]
    if y.shape[0] != x.shape[0] or (y.size and (y.min() < 0 or y.max() >= classes)):
        raise ValueError(f"multi_margin_loss: target {target.shape if hasattr(target, 'shape') else y.shape} "
                         f"must hold one class in [0, {classes}) per row of input {input.shape}")
    picked = x.gather(1, Tensor(y[:, None]))
    hinge = (margin - picked + x).clamp(min=0)
    hinge = hinge * hinge if p == 2 else hinge
    others = np.ones(x.shape, dtype=x.dtype)
    others[np.arange(len(y)), y] = 0  # the target class itself does not count
    scale = others / classes
    if weight is not None:
        w = weight._data if isinstance(weight, Tensor) else np.asarray(weight)
        scale = scale * np.asarray(w, dtype=x.dtype)[y][:, None]
    loss = (hinge * _constant(scale, x)).sum(dim=1)
    return _reduced(loss if input.ndim == 2 else loss.squeeze(0), reduction, "multi_margin_loss")


# ---- embedding bags -------------------------------------------------------------------------------------------
def _bags(idx, offsets, include_last_offset, padding_idx):
    """(B, longest) indices of each bag's members (0 where a bag is shorter) and a bool mask of the real
    members (padding_idx ones excluded), from 2-D input or 1-D input with bag start offsets."""
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError("embedding_bag: offsets must be None for 2-D input (each row is a bag)")
        members = idx
        valid = np.ones(idx.shape, dtype=bool)
    else:
        if offsets is None:
            raise ValueError("embedding_bag: 1-D input needs offsets (the start of each bag)")
        starts = np.asarray(offsets._data if isinstance(offsets, Tensor) else offsets).astype(np.int64).reshape(-1)
        ends = np.append(starts[1:], idx.shape[0]) if not include_last_offset else starts[1:]
        starts = starts if not include_last_offset else starts[:-1]
        if len(starts) and (starts[0] != 0 or (np.diff(starts) < 0).any() or ends[-1] > idx.shape[0]):
            raise ValueError(f"embedding_bag: offsets must start at 0, not decrease and stay within the input's "
                             f"{idx.shape[0]} indices, got {starts.tolist()}")
        lengths = ends - starts
        longest = int(lengths.max()) if len(lengths) else 0
        slots = starts[:, None] + np.arange(longest)[None, :]
        valid = np.arange(longest)[None, :] < lengths[:, None]
        members = np.where(valid, idx[np.minimum(slots, max(idx.shape[0] - 1, 0))] if idx.size else 0, 0)
    if padding_idx is not None:
        valid = valid & (members != padding_idx)
    return members, valid


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sums, means or maxima of bags of embeddings: (B, N) input (a bag per row) or 1-D input cut at offsets
    -> (B, embedding_dim). ``per_sample_weights`` (input's shape) scale each member (mode "sum" only); members
    equal to padding_idx are left out (of the count too); an empty bag gives zeros."""
    _check_tensor("embedding_bag", weight)
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"embedding_bag: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    if per_sample_weights is not None and mode != "sum":
        raise ValueError(f"embedding_bag: per_sample_weights needs mode='sum', got mode={mode!r}")
    if scale_grad_by_freq or sparse:
        raise ValueError("embedding_bag: scale_grad_by_freq and sparse are not supported")
    idx = input._data if isinstance(input, Tensor) else np.asarray(input)
    if idx.ndim not in (1, 2):
        raise ValueError(f"embedding_bag: input must be 1-D (with offsets) or 2-D (bags as rows), got {idx.shape}")
    if padding_idx is not None:
        padding_idx = int(padding_idx) % weight.shape[0]
    if max_norm is not None and idx.size:
        _check_indices(idx, weight.shape[0])
        _renorm_rows(weight, idx, float(max_norm), float(norm_type))
    members, valid = _bags(idx, offsets, include_last_offset, padding_idx)
    rows = embedding(Tensor(members), weight)  # (B, longest, D)
    if mode == "max":
        best = rows.masked_fill(Tensor(~valid[..., None]), float("-inf")).amax(dim=1)
        return _fn.where(Tensor(valid.any(axis=1)[:, None]), best, 0.0)  # an empty bag: zeros, as torch
    scale = valid.astype(weight.dtype)
    if mode == "mean":
        scale = scale / np.maximum(valid.sum(axis=1, keepdims=True), 1)
    scale = _constant(scale[..., None], weight)
    if per_sample_weights is not None:
        w = per_sample_weights if isinstance(per_sample_weights, Tensor) else _constant(per_sample_weights, weight)
        if w.shape != idx.shape:
            raise ValueError(f"embedding_bag: per_sample_weights of shape {w.shape}, expected input's {idx.shape}")
        scale = scale * _bag_weights(w, idx, offsets, include_last_offset, members.shape).unsqueeze(-1)
    return (rows * scale).sum(dim=1)


def _check_indices(idx, n):
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding_bag: indices must be integers, got dtype {idx.dtype}")
    if int(idx.min()) < 0 or int(idx.max()) >= n:
        raise IndexError(f"embedding_bag: index out of range [0, {n}): got values in [{int(idx.min())}, "
                         f"{int(idx.max())}]")


def _bag_weights(w, idx, offsets, include_last_offset, shape):
    """per_sample_weights laid out as the bags (B, longest), 0 in the empty slots (recorded: w may train)."""
    if idx.ndim == 2:
        return w
    positions, valid = _bags(np.arange(idx.shape[0]), offsets, include_last_offset, None)
    return w[positions] * _constant(valid, w)


# ---- more distances, losses and dropout -------------------------------------------------------------------------
def pdist(input, p=2.0):
    """||x_i - x_j||_p for every row pair i < j of (N, M) input, in row order: (N (N - 1) / 2,)."""
    _check_tensor("pdist", input)
    if input.ndim != 2:
        raise ValueError(f"pdist expects (N, M) input, got shape {input.shape}")
    first, second = np.triu_indices(input.shape[0], k=1)
    return _norm(input[first] - input[second], -1, p).squeeze(-1)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0,
                                      swap=False, reduction="mean"):
    """max(0, margin + d(a, p) - d(a, n)) with d any callable (default pairwise_distance); ``swap`` uses
    min(d(a, n), d(p, n))."""
    for name, t in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        if not isinstance(t, Tensor):
            raise TypeError(f"triplet_margin_with_distance_loss: {name} must be a dlcore.Tensor, got "
                            f"{type(t).__name__}")
    if margin <= 0:
        raise ValueError(f"triplet_margin_with_distance_loss: margin must be > 0, got {margin}")
    distance = pairwise_distance if distance_function is None else distance_function
    d_pos, d_neg = distance(anchor, positive), distance(anchor, negative)
    if swap:
        d_neg = _fn.minimum(d_neg, distance(positive, negative))
    return _reduced((margin + d_pos - d_neg).clamp(min=0), reduction, "triplet_margin_with_distance_loss")


def multilabel_margin_loss(input, target, reduction="mean"):
    """sum over target classes j and other classes i of max(0, 1 - (x[j] - x[i])) / C; target (N, C) holds
    each sample's classes first, ended by -1 (torch's layout)."""
    _check_tensor("multilabel_margin_loss", input)
    y = target._data if isinstance(target, Tensor) else np.asarray(target)
    if y.dtype.kind not in "iu" or y.shape != tuple(input.shape):
        raise ValueError(f"multilabel_margin_loss: target must be integer class indices of input's shape "
                         f"{input.shape}, got {y.dtype} {y.shape}")
    x = input if input.ndim == 2 else input.unsqueeze(0)
    y = y.reshape(x.shape)
    classes = x.shape[1]
    # each sample's classes are the entries before its first -1
    listed = np.cumprod(y >= 0, axis=1).astype(bool)
    is_target = np.zeros(x.shape, dtype=bool)
    rows, cols = np.nonzero(listed)
    is_target[rows, y[rows, cols]] = True
    pairs = is_target[:, :, None] & ~is_target[:, None, :]  # (N, target j, other i)
    hinge = (1 - x.unsqueeze(2) + x.unsqueeze(1)).clamp(min=0)
    loss = (hinge * _constant(pairs / classes, x)).sum(dim=(1, 2))
    return _reduced(loss if input.ndim == 2 else loss.squeeze(0), reduction, "multilabel_margin_loss")


# SELU's negative saturation value, -scale * alpha: alpha dropout sets dropped units to it
_ALPHA_PRIME = -_SELU_SCALE * _SELU_ALPHA


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for SELU networks: dropped units set to SELU's saturation value, then an affine map that keeps
    zero mean and unit variance (Klambauer et al. 2017); identity in eval."""
    _check_tensor("alpha_dropout", input)
    if not 0 <= p <= 1:
        raise ValueError(f"alpha_dropout: probability must be in [0, 1], got {p}")
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0.0
    keep = _rng().random(input.shape) >= p
    a = ((1 - p) * (1 + p * _ALPHA_PRIME ** 2)) ** -0.5
    b = -a * _ALPHA_PRIME * p
    return input * _constant(keep * a, input) + _constant(np.where(keep, 0.0, a * _ALPHA_PRIME) + b, input)


# ---- CTC ----------------------------------------------------------------------------------------------------------
def _lengths(name, lengths, count):
    """input_lengths / target_lengths (a Tensor, tuple, list or int) as an (N,) int64 array."""
    a = lengths._data if isinstance(lengths, Tensor) else lengths
    a = np.asarray(a.get() if hasattr(a, "get") else a)
    if a.dtype.kind not in "iu":
        raise TypeError(f"ctc_loss: {name} must hold integers, got {a.dtype}")
    a = a.astype(np.int64).reshape(-1)
    if a.shape != (count,):
        raise ValueError(f"ctc_loss: {name} must have one entry per sample ({count}), got shape {a.shape}")
    return a


def _padded_targets(targets, target_lengths, batch):
    """Targets as a padded (N, max L) int64 array: 2-D targets as given, 1-D ones split by target_lengths."""
    y = targets._data if isinstance(targets, Tensor) else np.asarray(targets)
    y = np.asarray(y.get() if hasattr(y, "get") else y)
    if y.dtype.kind not in "iu":
        raise TypeError(f"ctc_loss: targets must be integer class indices, got {y.dtype}")
    y = y.astype(np.int64)
    if y.ndim == 2:
        if y.shape[0] != batch or (target_lengths > y.shape[1]).any():
            raise ValueError(f"ctc_loss: padded targets of shape {y.shape} do not fit {batch} samples of lengths "
                             f"{target_lengths.tolist()}")
        return y
    if y.ndim != 1 or y.shape[0] != target_lengths.sum():
        raise ValueError(f"ctc_loss: 1-D targets must concatenate the targets (sum of target_lengths = "
                         f"{int(target_lengths.sum())} entries), got shape {y.shape}")
    padded = np.zeros((batch, int(target_lengths.max(initial=0))), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(target_lengths)[:-1]])
    position = np.arange(padded.shape[1])
    inside = position[None, :] < target_lengths[:, None]
    padded[inside] = y[(starts[:, None] + position[None, :])[inside]]
    return padded


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """Connectionist temporal classification loss: -log of the total probability of all alignments of each
    target to its input (Graves et al. 2006), torch.nn.functional.ctc_loss.

    log_probs: (T, N, C) log-probabilities (e.g. log_softmax over C), or (T, C) for one sample. targets: padded
    (N, S) or the N targets concatenated (sum of target_lengths,); never `blank`. input_lengths, target_lengths:
    (N,) Tensors, tuples or lists. ``reduction="mean"`` divides each loss by its target length (at least 1),
    then averages over the batch, as torch does. ``zero_infinity`` turns the infinite losses of impossible
    targets (input too short) and their gradients into zeros.

    Example:
        >>> lp = dlcore.randn(6, 2, 4).log_softmax(2)
        >>> F.ctc_loss(lp, [[1, 2], [3, 3]], (6, 5), (2, 2), reduction="none").shape
        (2,)
    """
    from ..ops.ctc import CTCLoss

    _check_tensor("ctc_loss", log_probs)
    if log_probs.ndim not in (2, 3) or not np.issubdtype(log_probs.dtype, np.floating):
        raise ValueError(f"ctc_loss: log_probs must be floating (T, N, C) or (T, C), got {log_probs.dtype} "
                         f"{log_probs.shape}")
    unbatched = log_probs.ndim == 2
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    steps, batch, classes = lp.shape
    in_len = _lengths("input_lengths", input_lengths, batch)
    tgt_len = _lengths("target_lengths", target_lengths, batch)
    if unbatched:
        targets = np.asarray(targets._data if isinstance(targets, Tensor) else targets).reshape(1, -1)
    padded = _padded_targets(targets, tgt_len, batch)
    if (in_len < 0).any() or (in_len > steps).any():
        raise ValueError(f"ctc_loss: input_lengths must be in [0, {steps}], got {in_len.tolist()}")
    if (tgt_len < 0).any():
        raise ValueError(f"ctc_loss: target_lengths must be >= 0, got {tgt_len.tolist()}")
    inside = np.arange(padded.shape[1])[None, :] < tgt_len[:, None]
    used = padded[inside]
    if ((used < 0) | (used >= classes) | (used == blank)).any():
        raise ValueError(f"ctc_loss: target labels must be in [0, {classes}) and differ from blank={blank}")
    if not 0 <= blank < classes:
        raise ValueError(f"ctc_loss: blank must be in [0, {classes}), got {blank}")
    loss = CTCLoss.apply(lp, padded, in_len, tgt_len, blank=blank, zero_infinity=zero_infinity)
    if reduction == "mean":
        per_label = np.maximum(tgt_len, 1).astype(loss.dtype)
        return (loss / Tensor(per_label)).mean()
    if unbatched:
        loss = loss.squeeze(0)
    return _reduced(loss, reduction, "ctc_loss")
