"""Neural-network functions with torch.nn.functional's names and argument names.

Each runs one autograd Function from ``dlcore.ops`` (float32 on dlcore.kernels
through the current backend, float64 on the NumPy reference) or is composed
from such functions. ``with dlcore.backend("onednn"):`` switches the backend.
"""
from __future__ import annotations

import warnings

import numpy as np

from .._device import array_like, check_same_device
from ..ops import activation, conv, dropout as dropout_ops, linear as linear_ops, lrn, norm, pool, softmax as sm
from ..ops._common import array_module
from ..random import next_seed
from ..tensor import Tensor, tensor
from .. import amp as _amp
from ..ops import amp as _amp_ops

__all__ = [
    "linear", "conv2d", "relu", "leaky_relu", "prelu", "elu", "sigmoid", "tanh", "maxout",
    "max_pool2d", "avg_pool2d", "local_response_norm", "batch_norm", "dropout", "softmax",
    "log_softmax", "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
]


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _target_array(target, input):
    """A target or class-weight argument as an array on `input`'s device.

    A Tensor must already be there (as in PyTorch); plain data (lists,
    arrays) is placed there, since it carries no device of its own.
    """
    if isinstance(target, Tensor):
        check_same_device("loss: input and target", (input._data, target._data))
        return target._data
    return array_like(target, input._data)


def _target_tensor(target, input):
    """A target for elementwise losses: a Tensor as given, plain data as a tensor like `input`."""
    return target if isinstance(target, Tensor) else tensor(_target_array(target, input), dtype=input.dtype)


_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int"}


def _check_dtypes(op, input, *params):
    """A layer's input must have its parameters' dtype (PyTorch raises; a float64 batch into a float32
    model would otherwise run the slow float64 path and return float64)."""
    for p in params:
        if p is not None and p.dtype != input.dtype:
            want, got = (_TYPE_NAMES.get(str(d), str(d)) for d in (p.dtype, input.dtype))
            raise RuntimeError(f"{op}: expected scalar type {want} but found {got} (input {input.dtype}, "
                               f"parameters {p.dtype}; convert the input with .to({p.dtype}) or the model "
                               f"with .to(dtype))")


# ---- layers ----------------------------------------------------------------
def linear(input, weight, bias=None, activation=None):
    """y = input @ weight.T + bias, then ``activation`` (None or "relu").

    Shapes: input (N, in) or (*, in), weight (out, in), bias (out,) -> (N, out).
    float32 runs on dlcore.kernels.linear_forward: one GEMM (trans_b on the stored weight; no copy) with
    the bias and the activation applied to each output tile in its epilogue. ``activation="relu"`` is
    one autograd Function, bitwise ``relu(linear(...))``; its backward masks the gradient by y > 0.

    Example:
        >>> y = F.linear(dlcore.randn(4, 3), dlcore.randn(2, 3))   # (4, 2)
        >>> h = F.linear(dlcore.randn(4, 3), dlcore.randn(2, 3), activation="relu")
        >>> bool((h.numpy() >= 0).all())
        True
    """
    fused = _fused_activation("linear", activation)
    if weight.ndim != 2 or input.ndim == 0:  # found by tests/fuzz.py: an IndexError escaped
        raise ValueError(f"linear: weight must be (out, in) and input (*, in), got weight {weight.shape} "
                         f"and input {input.shape}")
    if input.ndim != 2:
        lead = input.shape[:-1]
        return linear(input.reshape(-1, input.shape[-1]), weight, bias, activation).reshape(
            lead + (weight.shape[0],))
    if input.shape[1] != weight.shape[1]:
        raise ValueError(f"linear: input {input.shape} and weight {weight.shape} do not match (in_features)")
    if _amp.autocast_applies("linear", input._data, weight._data, None if bias is None else bias._data):
        y = _amp_ops.linear(input, weight, bias)
        return relu(y) if fused else y
    _check_dtypes("linear", input, weight, bias)
    return (linear_ops.LinearReLU if fused else linear_ops.Linear).apply(input, weight, bias)


def _fused_activation(op, activation):
    """True for activation="relu", False for None / "none"; anything else raises naming it."""
    if activation is None or activation == "none":
        return False
    if activation == "relu":
        return True
    raise ValueError(f"{op}: activation must be None, 'none' or 'relu', got {activation!r}")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, activation=None):
    """2-D cross-correlation: input (N, C, H, W), weight (O, C/groups, KH, KW), bias (O,) -> (N, O, OH, OW).

    ``padding`` is an int, (ph, pw) or (top, bottom, left, right);
    OH = (H + pad_top + pad_bottom - dilation*(KH-1) - 1) // stride + 1.
    ``activation="relu"`` gives relu(conv2d(...)) as one autograd Function: the float32 kernels add the
    bias and apply ReLU to each output tile before storing it (bitwise the unfused result); the backward
    masks the gradient by y > 0. nn.Sequential uses it for a Conv2d followed by a ReLU (nn/fusion.py).
    """
    fused = _fused_activation("conv2d", activation)
    if isinstance(padding, str):
        padding = _conv_padding_mode(padding, weight.shape[2:], dilation, stride)
    if _amp.autocast_applies("conv2d", input._data, weight._data, None if bias is None else bias._data):
        y = _amp_ops.conv2d(input, weight, bias, stride=stride, padding=padding, dilation=dilation,
                            groups=groups)
        return relu(y) if fused else y
    _check_dtypes("conv2d", input, weight, bias)
    return (conv.Conv2dReLU if fused else conv.Conv2d).apply(input, weight, bias, stride=stride, padding=padding,
                                                            dilation=dilation, groups=groups)


def _conv_padding_mode(mode, kernel, dilation, stride):
    """padding="valid" -> 0; "same" -> (top, bottom, left, right) keeping H, W (stride 1 only, as PyTorch;
    an even total goes one more to the bottom/right, as PyTorch does)."""
    if mode == "valid":
        return 0
    if mode != "same":
        raise ValueError(f"conv2d: padding must be an int, a tuple, 'same' or 'valid', got {mode!r}")
    if stride not in (1, (1, 1), [1, 1]):
        raise ValueError("conv2d: padding='same' is not supported for strided convolutions")
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else tuple(dilation)
    total_h, total_w = dh * (kernel[0] - 1), dw * (kernel[1] - 1)
    return (total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2)


# ---- activations -------------------------------------------------------------
def relu(input, inplace=False):
    """max(input, 0). (``inplace`` is accepted for PyTorch compatibility; dlcore never mutates inputs.)"""
    return activation.LeakyReLU.apply(input, 0.0)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """input if input > 0 else negative_slope * input."""
    return activation.LeakyReLU.apply(input, float(negative_slope))


def prelu(input, weight):
    """input if input > 0 else weight[c] * input, weight (C,) over dim 1 or (1,) shared."""
    return activation.PReLU.apply(input, weight)


def elu(input, alpha=1.0, inplace=False):
    """input if input > 0 else alpha * (exp(input) - 1)."""
    return activation.ELU.apply(input, float(alpha))


def sigmoid(input):
    """1 / (1 + exp(-input))."""
    return activation.Sigmoid.apply(input)


def tanh(input):
    return activation.Tanh.apply(input)


def maxout(input, pool_size):
    """Max over groups of `pool_size` consecutive channels: (N, C, ...) -> (N, C/pool_size, ...).

    Not in torch.nn.functional; Goodfellow et al. 2013.
    """
    return activation.Maxout.apply(input, int(pool_size))


# ---- pooling and normalization ---------------------------------------------------
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over kernel_size windows (stride defaults to kernel_size); PyTorch output sizes.

    ``return_indices=True`` also returns flat h*W+w offsets per (n, c) plane (int32).
    """
    if dilation not in (1, (1, 1)):
        raise NotImplementedError("max_pool2d: dilation other than 1 is not supported")
    out, node = pool.MaxPool2d.apply_with_node(input, kernel_size, stride, padding, ceil_mode)
    return (out, Tensor(node.indices)) if return_indices else out


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over kernel_size windows; ``count_include_pad`` counts zero padding in the divisor."""
    if divisor_override is not None:
        raise NotImplementedError("avg_pool2d: divisor_override is not supported")
    return pool.AvgPool2d.apply(input, kernel_size, stride, padding, ceil_mode, count_include_pad)


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """AlexNet's LRN across channels: input / (k + alpha/size * sum of squares in the window)^beta."""
    if int(size) < 1:  # found by tests/fuzz.py: the float64 path divided by zero
        raise ValueError(f"local_response_norm: size must be >= 1, got {size}")
    return lrn.LocalResponseNorm.apply(input, int(size), float(alpha), float(beta), float(k))


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Batch normalization per channel (dim 1) of (N, C), (N, C, L) or (N, C, H, W) (or more dims) input.

    Training mode normalizes with the batch statistics and updates
    ``running_mean``/``running_var`` in place (unbiased variance); otherwise the
    running statistics are used.
    """
    rm = running_mean._data if isinstance(running_mean, Tensor) else running_mean
    rv = running_var._data if isinstance(running_var, Tensor) else running_var
    _check_dtypes("batch_norm", input, weight, bias)
    if input.ndim == 3 or input.ndim > 4:  # (N, C, L) of BatchNorm1d, (N, C, D, H, W): the kernels take 4-D
        out = batch_norm(input.reshape(input.shape[:2] + (-1, 1)), running_mean, running_var, weight, bias,
                         training, momentum, eps)
        return out.reshape(input.shape)
    if training:
        return norm.BatchNormTraining.apply(input, weight, bias, rm, rv, momentum=float(momentum), eps=float(eps))
    if rm is None or rv is None:
        raise ValueError("batch_norm: running_mean and running_var are required when training=False")
    return norm.BatchNormInference.apply(input, weight, bias, rm, rv, eps=float(eps))


def dropout(input, p=0.5, training=True, inplace=False):
    """Zeroes each element with probability p and scales the rest by 1/(1-p); identity when not training."""
    if not training or p == 0:
        return input
    return dropout_ops.Dropout.apply(input, float(p), next_seed())


# ---- softmax and losses --------------------------------------------------------------
def _implicit_softmax_dim(name, ndim):
    """PyTorch's choice when `dim` is not given (deprecated there, with this warning): dim 0 for 0-, 1- and
    3-D input, else dim 1 (the channels of (N, C, H, W), not the last dim)."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X "
                  f"as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, dtype=None):
    """exp(x) / sum(exp(x)) over `dim`; `dtype` casts the input first (on the tape), as PyTorch's."""
    input = input if dtype is None else input.to(dtype)
    return sm.Softmax.apply(input, _implicit_softmax_dim("softmax", input.ndim) if dim is None else dim)


def log_softmax(input, dim=None, dtype=None):
    input = input if dtype is None else input.to(dtype)
    return sm.LogSoftmax.apply(input, _implicit_softmax_dim("log_softmax", input.ndim) if dim is None else dim)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy of logits (N, C) against class indices (N,) or class probabilities (N, C).

    Class indices must be integers (float labels raise instead of being
    truncated). Probability targets (floating, the input's shape; PyTorch
    1.10+) give -sum_c w_c q_c log softmax(x)_c per sample, averaged over N.
    With ``label_smoothing`` eps the target distribution is (1-eps) on the
    class (or q) plus eps/C everywhere. Without class weights or ignored targets this
    is one fused Function (softmax kernels); with them it is log_softmax +
    nll_loss, which handles both.
    """
    if input.ndim != 2:
        rows, target_rows = _class_rows("cross_entropy", input, target)
        loss = cross_entropy(rows, target_rows, weight, ignore_index, reduction, label_smoothing)
        return _unrows(loss, input, reduction)
    t = target if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind == "f" and tuple(t.shape) == input.shape:
        return _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing)
    target = _target_array(target, input)
    _check_class_target("cross_entropy", target, input)
    if input.shape[0] == 0:  # an empty batch: per-sample losses of shape (0,), mean nan, sum 0 (as PyTorch)
        return _reduce((input * 0).sum(dim=1), reduction)
    if weight is not None or (target.size and (target == ignore_index).any()):
        logp = log_softmax(input, dim=1)
        loss = nll_loss(logp, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
        if label_smoothing:
            smooth = _smoothing_term(logp, target, weight, ignore_index, reduction)
            loss = loss * (1.0 - label_smoothing) + smooth * (label_smoothing / input.shape[1])
        return loss
    per_sample = sm.CrossEntropy.apply(input, target.astype(np.int64, copy=False),
                                       label_smoothing=float(label_smoothing))
    return _reduce(per_sample, reduction)


def _class_rows(op, input, target):
    """PyTorch's other class-loss layouts as the (N, C) one: logits (C,) with a 0-d target, and
    (N, C, d1, ...) with targets (N, d1, ...) (segmentation), the class dim moved last and the rest flattened
    to rows. Class-probability targets of the input's shape move with it."""
    if input.ndim < 1:
        raise ValueError(f"{op} expects logits (N, C), (C,) or (N, C, d1, ...), got {input.shape}")
    t = target if isinstance(target, Tensor) else Tensor(np.asarray(target))
    probs = t.dtype.kind == "f" and t.shape == input.shape
    if input.ndim == 1:
        return input.reshape(1, -1), (t.reshape(1, -1) if probs else t.reshape(1))
    want = (input.shape[0],) + input.shape[2:]
    if not probs and t.shape != want:
        raise ValueError(f"{op}: target shape {t.shape} does not match input {input.shape} (expected {want})")
    last = (0,) + tuple(range(2, input.ndim)) + (1,)
    rows = input.permute(last).reshape(-1, input.shape[1])
    return rows, (t.permute(last).reshape(rows.shape) if probs else t.reshape(-1))


def _unrows(loss, input, reduction):
    """Per-sample losses of _class_rows' rows back in the input's layout (reduced losses are scalars)."""
    if reduction != "none":
        return loss
    return loss.reshape(() if input.ndim == 1 else (input.shape[0],) + input.shape[2:])


def _smoothing_term(logp, target, weight, ignore_index, reduction):
    """Label smoothing's uniform part for class-index targets, as PyTorch: -sum_c w_c logp_c per sample
    (0 where the target is ignored); 'mean' divides by nll_loss's divisor, the summed weight of the
    targets kept."""
    xp = array_module(target)
    valid = target != ignore_index
    w = xp.ones(logp.shape[1], dtype=logp.dtype) if weight is None else \
        _target_array(weight, logp).astype(logp.dtype)
    smooth = -(logp * Tensor(w)).sum(dim=1) * Tensor(valid.astype(logp.dtype))
    if reduction == "mean":
        return smooth.sum() / float(w[target[valid]].sum())
    return _reduce(smooth, reduction)


def _check_class_target(op, target, input):
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: class-index targets must be integers, got dtype {target.dtype} (float labels "
                        f"would be truncated; cast with .long(), or pass class probabilities of the input's "
                        f"shape {input.shape} to cross_entropy)")
    if target.shape != input.shape[:1]:
        raise ValueError(f"{op}: target shape {target.shape} does not match input {input.shape} "
                         f"(expected ({input.shape[0]},))")


def _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing):
    """Cross-entropy against class probabilities q (N, C): -sum_c w_c q_c log_softmax(x)_c, mean over N."""
    q = target if isinstance(target, Tensor) else tensor(_target_array(target, input), dtype=input.dtype)
    if q.shape != input.shape:
        raise ValueError(f"cross_entropy: probability targets must have the input's shape {input.shape}, got "
                         f"{q.shape} (class-index targets must be integers)")
    if q.dtype != input.dtype:
        raise RuntimeError(f"cross_entropy: probability targets of dtype {q.dtype} for input {input.dtype}")
    if label_smoothing:
        q = q * (1 - label_smoothing) + label_smoothing / input.shape[1]
    logp = log_softmax(input, dim=1)
    if weight is not None:
        logp = logp * _target_tensor(weight, input)
    loss = -(q * logp).sum(dim=1)
    if reduction == "mean":
        return loss.sum() / float(max(input.shape[0], 1)) if input.shape[0] else loss.sum() * float("nan")
    return _reduce(loss, reduction)


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """-input[i, target[i]] (input holds log-probabilities (N, C)), weighted and averaged like PyTorch."""
    if input.ndim != 2:
        rows, target_rows = _class_rows("nll_loss", input, target)
        return _unrows(nll_loss(rows, target_rows, weight, ignore_index, reduction), input, reduction)
    target = _target_array(target, input)
    _check_class_target("nll_loss", target, input)
    target = target.astype(np.int64, copy=False)
    xp = array_module(target)
    n, c = input.shape
    valid = target != ignore_index
    if ((target[valid] < 0) | (target[valid] >= c)).any():
        raise ValueError(f"nll_loss: target values must be in [0, {c})")
    safe = xp.where(valid, target, 0)
    w = xp.ones(c, dtype=input.dtype) if weight is None else _target_array(weight, input).astype(input.dtype)
    sample_w = (w[safe] * valid).astype(input.dtype)
    picked = input[xp.arange(n), safe]
    loss = -picked * Tensor(sample_w)
    if reduction == "mean":
        return loss.sum() / float(sample_w.sum())
    return _reduce(loss, reduction)


def mse_loss(input, target, reduction="mean"):
    """(input - target)^2, averaged."""
    diff = input - target
    return _reduce(diff * diff, reduction)


def l1_loss(input, target, reduction="mean"):
    """|input - target|, averaged."""
    return _reduce((input - target).abs(), reduction)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-(t log p + (1-t) log(1-p)) with log clamped at -100 like PyTorch (input holds probabilities).

    Input outside [0, 1] (logits passed by mistake) or NaN raises, as PyTorch does, instead of giving a
    finite, meaningless loss.
    """
    p = input._data
    if p.size and not bool(((p >= 0) & (p <= 1)).all()):
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 and 1 (probabilities; "
                         "for logits use binary_cross_entropy_with_logits / BCEWithLogitsLoss)")
    t = _target_tensor(target, input)
    log_p = _clamped_log(input)
    log_1p = _clamped_log(1 - input)
    loss = -(t * log_p + (1 - t) * log_1p)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _clamped_log(p):
    """log(p) floored at -100 (gradient zero where the floor applies), as PyTorch does."""
    from ..ops.clamp import ClampedLog

    return ClampedLog.apply(p, -100.0)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """BCE on logits x, computed stably: (1-t) x + (1 + (pw-1) t) * (log(1+exp(-|x|)) + max(-x, 0))."""
    t = _target_tensor(target, input)
    softplus_neg = (1 + (-input.abs()).exp()).log() + relu(-input)  # log(1 + exp(-x)), stable
    if pos_weight is None:
        loss = (1 - t) * input + softplus_neg
    else:
        loss = (1 - t) * input + (1 + (pos_weight - 1) * t) * softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# ---- layers added for ported programs and the model zoo (nn/_functional_layers.py) ----------
from ._functional_layers import (  # noqa: E402, F401  (re-exported through __all__)
    adaptive_avg_pool2d, adaptive_max_pool2d, conv_transpose2d, dropout2d, gelu, group_norm, interpolate, layer_norm,
    one_hot, pad, silu,
)
from ._functional_layers import __all__ as _layers_all  # noqa: E402
from ._functional_more import (  # noqa: E402, F401  (re-exported through __all__)
    avg_pool1d, celu, conv1d, cosine_similarity, embedding, hardsigmoid, hardswish, hardtanh, huber_loss,
    logsigmoid, max_pool1d, mish, normalize, pixel_shuffle, pixel_unshuffle, relu6, selu, smooth_l1_loss, softplus,
    softsign,
)
from ._functional_more import (  # noqa: E402, F401  (added later; re-exported through __all__)
    adaptive_avg_pool1d, adaptive_max_pool1d, bilinear, cosine_embedding_loss, dropout1d, fold, gaussian_nll_loss,
    glu, hardshrink, hinge_embedding_loss, margin_ranking_loss, multilabel_soft_margin_loss, pairwise_distance,
    poisson_nll_loss, soft_margin_loss, softmin, softshrink, tanhshrink, threshold, triplet_margin_loss, unfold,
    channel_shuffle, conv_transpose1d, embedding_bag, gumbel_softmax, multi_margin_loss, rms_norm, rrelu,
    alpha_dropout, lp_pool1d, lp_pool2d, multilabel_margin_loss, pdist, triplet_margin_with_distance_loss,
    ctc_loss,
)
from ._functional_more import __all__ as _more_all  # noqa: E402
from ._functional_3d import (  # noqa: E402, F401  (volumetric layers, max unpooling; re-exported through __all__)
    adaptive_avg_pool3d, adaptive_max_pool3d, avg_pool3d, conv3d, conv_transpose3d, dropout3d,
    feature_alpha_dropout, lp_pool3d, max_pool3d, max_unpool1d, max_unpool2d, max_unpool3d,
)
from ._functional_3d import __all__ as _volumetric_all  # noqa: E402
from .transformer import scaled_dot_product_attention  # noqa: E402, F401  (re-exported through __all__)

__all__ += _layers_all + _more_all + _volumetric_all + ["scaled_dot_product_attention"]


# ---- distillation (appended: kl_div and Hinton et al.'s loss) ---------------------------
__all__ += ["kl_div", "distillation_loss"]


def kl_div(input, target, reduction="mean", log_target=False):
    """Kullback-Leibler divergence KL(target || exp(input)), pointwise ``target * (log target - input)``.

    `input` holds log-probabilities, `target` probabilities (log-probabilities
    with ``log_target=True``), as torch.nn.functional.kl_div. Entries with
    target 0 contribute 0. ``reduction``: ``"batchmean"`` (the sum divided by
    the batch size: the true KL per sample; use it), ``"sum"``, ``"mean"``
    (over every element, as PyTorch) or ``"none"``.

    Example:
        >>> student, teacher = dlcore.randn(4, 10), dlcore.randn(4, 10)
        >>> loss = F.kl_div(F.log_softmax(student, dim=1), F.softmax(teacher, dim=1), reduction="batchmean")
        >>> bool(loss.item() >= 0)
        True
    """
    t = _target_tensor(target, input)
    if t.shape != input.shape:
        raise ValueError(f"kl_div: input {input.shape} and target {t.shape} must have the same shape")
    if log_target:
        loss = t.exp() * (t - input)
    else:
        loss = t * (_clamped_log(t) - input)  # log floored at -100, so 0 * log 0 = 0
    if reduction == "batchmean":
        return loss.sum() / float(input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction)


def distillation_loss(student_logits, teacher_logits, target, temperature=4.0, alpha=0.9):
    """Knowledge distillation (Hinton, Vinyals & Dean 2015):

        alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * CE(student, target)

    The soft term compares the temperature-softened distributions (batch mean
    of the per-sample KL); T^2 keeps its gradients on the scale of the hard
    term as T changes. `teacher_logits` are treated as constants (detached).
    Shapes: logits (N, C), target (N,) class indices.
    """
    if temperature <= 0:
        raise ValueError(f"distillation_loss: temperature must be > 0, got {temperature}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"distillation_loss: alpha must be in [0, 1], got {alpha}")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"distillation_loss: student logits {student_logits.shape} and teacher logits "
                         f"{teacher_logits.shape} differ")
    teacher = teacher_logits.detach() if isinstance(teacher_logits, Tensor) else tensor(teacher_logits)
    soft_target = softmax(teacher / temperature, dim=1)
    soft = kl_div(log_softmax(student_logits / temperature, dim=1), soft_target, reduction="batchmean")
    loss = soft * (alpha * temperature * temperature)
    if alpha < 1.0:
        loss = loss + cross_entropy(student_logits, target) * (1.0 - alpha)
    return loss


# ---- argument types: checked once, at the layer entry (issue 18) ------------
#: The Tensor parameters of the layer functions above: `input` everywhere, and a layer's learned weight and
#: bias (a loss's class `weight` and batch norm's running statistics may be plain arrays). A str, list,
#: number or None there (None only where the default is None) raises TypeError naming the function and the
#: argument, as torch does, instead of an AttributeError from deep inside the op.
_TENSOR_PARAMS = {"input": None, "weight": ("linear", "conv2d", "prelu"), "bias": ("linear", "conv2d")}
_ABSENT = object()


def _check_tensor_args(fn):
    import functools
    import inspect

    params = list(inspect.signature(fn).parameters.values())
    checks = tuple((i, p.name, p.default is None) for i, p in enumerate(params)
                   if p.name in _TENSOR_PARAMS and fn.__name__ in (_TENSOR_PARAMS[p.name] or (fn.__name__,))
                   and (p.default is inspect.Parameter.empty or p.default is None))

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        for i, name, optional in checks:
            value = args[i] if i < len(args) else kwargs.get(name, _ABSENT)
            if value is _ABSENT or isinstance(value, Tensor) or (optional and value is None):
                continue
            raise TypeError(f"{fn.__name__}(): argument '{name}' must be a dlcore.Tensor, got "
                            f"{type(value).__name__}")
        return fn(*args, **kwargs)

    return checked


for _name in __all__:
    _fn = globals()[_name]
    if getattr(_fn, "__module__", None) == __name__:  # the re-exported layers check their own arguments
        globals()[_name] = _check_tensor_args(_fn)
del _name, _fn


# ---- affine_grid / grid_sample, in-place activations, spellings (_functional_extra.py) ---------------------
from ._functional_extra import (  # noqa: E402, F401  (re-exported through __all__)
    adaptive_max_pool1d_with_indices, adaptive_max_pool2d_with_indices, adaptive_max_pool3d_with_indices,
    affine_grid, celu_, elu_, grid_sample, hardtanh_, instance_norm, leaky_relu_, max_pool1d_with_indices,
    max_pool2d_with_indices, max_pool3d_with_indices, relu_, rrelu_, selu_, threshold_, upsample, upsample_bilinear,
    upsample_nearest,
)
from ._functional_extra import __all__ as _extra_all  # noqa: E402

__all__ += _extra_all

from .fractional_pool import (  # noqa: E402, F401  (re-exported through __all__)
    fractional_max_pool2d, fractional_max_pool2d_with_indices, fractional_max_pool3d,
    fractional_max_pool3d_with_indices,
)
from .linear_cross_entropy import linear_cross_entropy  # noqa: E402, F401  (torch 2.14's fused head and loss)

__all__ += ["fractional_max_pool2d", "fractional_max_pool2d_with_indices", "fractional_max_pool3d",
            "fractional_max_pool3d_with_indices", "linear_cross_entropy"]
