"""More torch.nn layers: pointwise activations, robust, margin and similarity losses, Embedding, 1-D convolution and
pooling, padding, pixel shuffle, Unflatten, InstanceNorm2d (torch.nn names, arguments and defaults).

Each is a thin holder of parameters around ``dlcore.nn.functional`` (``_functional_more.py``).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..tensor import Tensor, default_dtype
from . import _functional_layers as FL
from . import _functional_more as F
from . import init
from .module import Module, Parameter
from .modules import _Loss


# ---- activations ------------------------------------------------------------------------------------------------
class _Pointwise(Module):
    """A parameter-free activation: forward is `fn(input, **options)`."""

    fn = None

    def __init__(self, **options):
        super().__init__()
        self.options = options

    def forward(self, input):
        return type(self).fn(input, **self.options)

    def extra_repr(self):
        return ", ".join(f"{k}={v}" for k, v in self.options.items())


class Softplus(_Pointwise):
    fn = staticmethod(F.softplus)

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__(beta=beta, threshold=threshold)


class Mish(_Pointwise):
    fn = staticmethod(F.mish)

    def __init__(self, inplace=False):
        super().__init__()


class LogSigmoid(_Pointwise):
    fn = staticmethod(F.logsigmoid)


class Softsign(_Pointwise):
    fn = staticmethod(F.softsign)


class Hardtanh(_Pointwise):
    fn = staticmethod(F.hardtanh)

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__(min_val=min_val, max_val=max_val)


class ReLU6(_Pointwise):
    fn = staticmethod(F.relu6)

    def __init__(self, inplace=False):
        super().__init__()


class Hardsigmoid(_Pointwise):
    fn = staticmethod(F.hardsigmoid)

    def __init__(self, inplace=False):
        super().__init__()


class Hardswish(_Pointwise):
    fn = staticmethod(F.hardswish)

    def __init__(self, inplace=False):
        super().__init__()


class SELU(_Pointwise):
    fn = staticmethod(F.selu)

    def __init__(self, inplace=False):
        super().__init__()


class CELU(_Pointwise):
    fn = staticmethod(F.celu)

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(alpha=alpha)


# ---- losses and similarities ----------------------------------------------------------------------------------
class SmoothL1Loss(_Loss):
    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, self.reduction, self.delta)


class KLDivLoss(_Loss):
    """KL(target || exp(input)) with input log-probabilities; use reduction="batchmean" (torch's advice)."""

    def __init__(self, reduction="mean", log_target=False):
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input, target):
        from .functional import kl_div

        return kl_div(input, target, self.reduction, self.log_target)


class CosineSimilarity(Module):
    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


# ---- embedding ------------------------------------------------------------------------------------------------
class Embedding(Module):
    """A lookup table weight (num_embeddings, embedding_dim), N(0, 1) initialised (row padding_idx zero)."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, dtype=None):
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} must be within num_embeddings "
                                 f"{num_embeddings}")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.max_norm, self.norm_type, self.scale_grad_by_freq, self.sparse = max_norm, norm_type, \
            scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=dtype or default_dtype))
            self.reset_parameters()
        else:
            data = _weight._data if isinstance(_weight, Tensor) else np.asarray(_weight)
            if data.shape != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight has shape {data.shape}, expected "
                                 f"{(num_embeddings, embedding_dim)}")
            self.weight = Parameter(data, requires_grad=not _freeze)

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight._data[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False):
        """An Embedding holding `embeddings` (2-D) as its weight, frozen unless ``freeze=False``."""
        data = embeddings._data if isinstance(embeddings, Tensor) else np.asarray(embeddings)
        if data.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {data.shape}")
        return cls(data.shape[0], data.shape[1], padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=data.copy(), _freeze=freeze)

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")


# ---- 1-D convolution and pooling ------------------------------------------------------------------------------
class Conv1d(Module):
    """weight (out_channels, in_channels/groups, kernel_size), torch's layout and default init."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", dtype=None):
        super().__init__()
        if padding_mode != "zeros":
            raise ValueError(f"Conv1d: padding_mode {padding_mode!r} is not supported (only 'zeros')")
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv1d: channels ({in_channels}, {out_channels}) must be divisible by groups={groups}")
        k = F._single(kernel_size, "Conv1d: kernel_size")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, (k,)
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        dtype = dtype or default_dtype
        self.weight = Parameter(np.empty((out_channels, in_channels // groups, k), dtype=dtype))
        self.bias = Parameter(np.empty(out_channels, dtype=dtype)) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.weight.shape[1] * self.kernel_size[0])
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.conv1d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}")


class MaxPool1d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self.return_indices)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


# ---- padding, rearrangement, normalization --------------------------------------------------------------------
class _Pad2d(Module):
    """The padding layers of every rank: `_sides` names the amounts a tuple gives (an int pads every side)."""

    mode = "constant"
    _sides = ("left", "right", "top", "bottom")

    def __init__(self, padding, value=0.0):
        super().__init__()
        n = len(self._sides)
        self.padding = (int(padding),) * n if isinstance(padding, numbers.Integral) else tuple(padding)
        if len(self.padding) != n:
            raise ValueError(f"{type(self).__name__}: padding must be an int or {n} ints ({', '.join(self._sides)}), "
                             f"got {padding}")
        self.value = value

    def forward(self, input):
        return FL.pad(input, self.padding, self.mode, self.value if self.mode == "constant" else 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(_Pad2d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ConstantPad2d(_Pad2d):
    pass


class ReflectionPad2d(_Pad2d):
    mode = "reflect"

    def __init__(self, padding):
        super().__init__(padding)


class ReplicationPad2d(_Pad2d):
    mode = "replicate"

    def __init__(self, padding):
        super().__init__(padding)


class PixelShuffle(Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return F.pixel_shuffle(input, self.upscale_factor)


class PixelUnshuffle(Module):
    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return F.pixel_unshuffle(input, self.downscale_factor)


class Unflatten(Module):
    """Splits axis `dim` into `unflattened_size` (the inverse of Flatten)."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input):
        dim = self.dim % input.ndim
        return input.reshape(*input.shape[:dim], *self.unflattened_size, *input.shape[dim + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class InstanceNorm2d(Module):
    """Each sample's channel normalized over its H x W (statistics of the input itself, in training and eval),
    then weight[c] * . + bias[c] with ``affine=True`` (torch's default: no affine). Running statistics
    (``track_running_stats=True``) are not supported."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, dtype=None):
        super().__init__()
        if track_running_stats:
            raise ValueError("InstanceNorm2d: track_running_stats=True is not supported")
        self.num_features, self.eps, self.affine = num_features, eps, affine
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dtype or default_dtype))
            self.bias = Parameter(np.zeros(num_features, dtype=dtype or default_dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input):
        if input.ndim not in (3, 4) or input.shape[-3] != self.num_features:
            raise ValueError(f"InstanceNorm2d({self.num_features}): expected (N, {self.num_features}, H, W) or "
                             f"({self.num_features}, H, W), got {input.shape}")
        x = input if input.ndim == 4 else input.unsqueeze(0)
        y = FL.group_norm(x, self.num_features, self.weight, self.bias, self.eps)  # one channel per group
        return y if input.ndim == 4 else y.squeeze(0)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, affine={self.affine}"


# ---- added later: more activations, 1-D adaptive pooling, channel dropout, resizing, im2col -----------------------
class GLU(_Pointwise):
    fn = staticmethod(F.glu)

    def __init__(self, dim=-1):
        super().__init__(dim=dim)


class Softmin(_Pointwise):
    fn = staticmethod(F.softmin)

    def __init__(self, dim=None):
        super().__init__(dim=dim)


class Threshold(_Pointwise):
    fn = staticmethod(F.threshold)

    def __init__(self, threshold, value, inplace=False):
        super().__init__(threshold=threshold, value=value)


class Softshrink(_Pointwise):
    fn = staticmethod(F.softshrink)

    def __init__(self, lambd=0.5):
        super().__init__(lambd=lambd)


class Hardshrink(_Pointwise):
    fn = staticmethod(F.hardshrink)

    def __init__(self, lambd=0.5):
        super().__init__(lambd=lambd)


class Tanhshrink(_Pointwise):
    fn = staticmethod(F.tanhshrink)


class Dropout1d(Module):
    """Zeroes whole channels of (N, C, L) in training (probability p), scaling the rest by 1/(1-p)."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout1d: probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, input):
        return F.dropout1d(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class AdaptiveAvgPool1d(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return F.adaptive_avg_pool1d(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(Module):
    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input):
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


def _upsample():
    from .layers import Upsample

    return Upsample


class UpsamplingNearest2d(_upsample()):
    """Upsample(mode="nearest") (torch's deprecated alias, still common in ported code)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(_upsample()):
    """Upsample(mode="bilinear", align_corners=True), as torch's alias."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class Unfold(Module):
    """im2col: (N, C, H, W) -> (N, C*kh*kw, L) sliding blocks (F.unfold)."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input):
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Unfold):
    """col2im: (N, C*kh*kw, L) -> (N, C, *output_size), overlapping blocks summed (F.fold)."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__(kernel_size, dilation, padding, stride)
        self.output_size = output_size

    def forward(self, input):
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return f"output_size={self.output_size}, " + super().extra_repr()


# ---- added later: bilinear layer, distances, losses -------------------------------------------------------------
class Bilinear(Module):
    """y = x1^T A x2 + b: weight (out_features, in1_features, in2_features), bias (out_features,), both
    uniform in +-1/sqrt(in1_features) (torch's init)."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, dtype=None):
        super().__init__()
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        dtype = dtype or default_dtype
        self.weight = Parameter(np.empty((out_features, in1_features, in2_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.in1_features)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class PairwiseDistance(Module):
    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


def _no_legacy(name, size_average, reduce):
    """torch's deprecated size_average / reduce arguments: positional slots kept, values refused."""
    if size_average is not None or reduce is not None:
        raise ValueError(f"{name}: size_average and reduce are deprecated in torch and not supported; use "
                         f"reduction='mean', 'sum' or 'none'")


class MarginRankingLoss(_Loss):
    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        _no_legacy("MarginRankingLoss", size_average, reduce)
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.margin_ranking_loss(input1, input2, target, self.margin, self.reduction)


class HingeEmbeddingLoss(_Loss):
    def __init__(self, margin=1.0, size_average=None, reduce=None, reduction="mean"):
        _no_legacy("HingeEmbeddingLoss", size_average, reduce)
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input, target):
        return F.hinge_embedding_loss(input, target, self.margin, self.reduction)


class SoftMarginLoss(_Loss):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        _no_legacy("SoftMarginLoss", size_average, reduce)
        super().__init__(reduction)

    def forward(self, input, target):
        return F.soft_margin_loss(input, target, self.reduction)


class MultiLabelSoftMarginLoss(_Loss):
    """weight (C,): per-class weights, a buffer as in torch."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        _no_legacy("MultiLabelSoftMarginLoss", size_average, reduce)
        super().__init__(reduction)
        self._register_weight("weight", weight)

    def forward(self, input, target):
        return F.multilabel_soft_margin_loss(input, target, self.weight, self.reduction)


class CosineEmbeddingLoss(_Loss):
    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        _no_legacy("CosineEmbeddingLoss", size_average, reduce)
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, self.margin, self.reduction)


class TripletMarginLoss(_Loss):
    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None, reduction="mean"):
        _no_legacy("TripletMarginLoss", size_average, reduce)
        super().__init__(reduction)
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_loss(anchor, positive, negative, self.margin, self.p, self.eps, self.swap,
                                     self.reduction)


class PoissonNLLLoss(_Loss):
    def __init__(self, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None, reduction="mean"):
        _no_legacy("PoissonNLLLoss", size_average, reduce)
        super().__init__(reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input, target):
        return F.poisson_nll_loss(log_input, target, self.log_input, self.full, eps=self.eps,
                                  reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(reduction)
        self.full, self.eps = full, eps

    def forward(self, input, target, var):
        return F.gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)


# ---- added later: RMSNorm, 1-D pads and norms, ConvTranspose1d, channel shuffle, Softmax2d ------------------------
class RMSNorm(Module):
    """x / sqrt(mean(x^2) + eps) * weight over the trailing normalized_shape; weight ones (torch's init)."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(np.ones(shape, dtype=dtype or default_dtype))
        else:
            self.register_parameter("weight", None)

    def forward(self, input):
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class _Pad1d(_Pad2d):
    """(left, right) on the last axis; an int pads both sides."""

    _sides = ("left", "right")


class ZeroPad1d(_Pad1d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ConstantPad1d(_Pad1d):
    pass


class ReflectionPad1d(_Pad1d):
    mode = "reflect"

    def __init__(self, padding):
        super().__init__(padding)


class ReplicationPad1d(_Pad1d):
    mode = "replicate"

    def __init__(self, padding):
        super().__init__(padding)


class CircularPad1d(_Pad1d):
    mode = "circular"

    def __init__(self, padding):
        super().__init__(padding)


class CircularPad2d(_Pad2d):
    mode = "circular"

    def __init__(self, padding):
        super().__init__(padding)


class InstanceNorm1d(InstanceNorm2d):
    """Each sample's channel normalized over its length L: (N, C, L) or (C, L) (InstanceNorm2d over W = 1)."""

    def forward(self, input):
        if input.ndim not in (2, 3) or input.shape[-2] != self.num_features:
            raise ValueError(f"InstanceNorm1d({self.num_features}): expected (N, {self.num_features}, L) or "
                             f"({self.num_features}, L), got {input.shape}")
        return super().forward(input.unsqueeze(-1)).squeeze(-1)


class ConvTranspose1d(Module):
    """weight (in_channels, out_channels/groups, kernel_size), torch's layout and default init."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", dtype=None):
        super().__init__()
        if padding_mode != "zeros":
            raise ValueError(f"ConvTranspose1d: padding_mode {padding_mode!r} is not supported (only 'zeros')")
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"ConvTranspose1d: channels ({in_channels}, {out_channels}) must be divisible by "
                             f"groups={groups}")
        k = F._single(kernel_size, "ConvTranspose1d: kernel_size")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, (k,)
        self.stride, self.padding, self.output_padding = stride, padding, output_padding
        self.groups, self.dilation = groups, dilation
        dtype = dtype or default_dtype
        self.weight = Parameter(np.empty((in_channels, out_channels // groups, k), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # torch's fan_in here is weight.shape[1] * K
        if self.bias is not None:
            bound = 1 / math.sqrt(self.weight.shape[1] * self.kernel_size[0])
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input, output_size=None):
        if output_size is not None:
            raise ValueError("ConvTranspose1d: output_size= is not supported; pass output_padding to the layer")
        return F.conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, output_padding={self.output_padding}, groups={self.groups}")


class ChannelShuffle(Module):
    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, input):
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"


class Softmax2d(Module):
    """Softmax over the channels of (N, C, H, W) or (C, H, W) at every position."""

    def forward(self, input):
        from .functional import softmax

        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected (N, C, H, W) or (C, H, W) input, got shape {input.shape}")
        return softmax(input, dim=-3)


class RReLU(Module):
    """Randomized leaky ReLU: negative slopes ~ U(lower, upper) in training, their mean in eval."""

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        self.lower, self.upper = lower, upper

    def forward(self, input):
        return F.rrelu(input, self.lower, self.upper, self.training)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}"


class MultiMarginLoss(_Loss):
    """Multi-class hinge loss; weight (C,) is a buffer, as torch's."""

    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean"):
        _no_legacy("MultiMarginLoss", size_average, reduce)
        super().__init__(reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: p must be 1 or 2, got {p}")
        self.p, self.margin = p, margin
        self._register_weight("weight", weight)

    def forward(self, input, target):
        return F.multi_margin_loss(input, target, self.p, self.margin, self.weight, self.reduction)


class EmbeddingBag(Module):
    """Embedding followed by a sum, mean or max over each bag; weight (num_embeddings, embedding_dim) N(0, 1)
    (row padding_idx zero), as torch's. forward(input, offsets=None, per_sample_weights=None)."""

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                 mode="mean", sparse=False, _weight=None, include_last_offset=False, padding_idx=None, dtype=None):
        super().__init__()
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"EmbeddingBag: mode must be 'sum', 'mean' or 'max', got {mode!r}")
        table = Embedding(num_embeddings, embedding_dim, padding_idx, _weight=_weight, dtype=dtype)
        self.weight = table.weight
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, table.padding_idx
        self.max_norm, self.norm_type, self.scale_grad_by_freq, self.sparse = max_norm, norm_type, \
            scale_grad_by_freq, sparse
        self.mode, self.include_last_offset = mode, include_last_offset

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                        mode="mean", sparse=False, include_last_offset=False, padding_idx=None):
        data = embeddings._data if isinstance(embeddings, Tensor) else np.asarray(embeddings)
        if data.ndim != 2:
            raise ValueError(f"EmbeddingBag.from_pretrained: embeddings must be 2-D, got shape {data.shape}")
        bag = cls(data.shape[0], data.shape[1], max_norm, norm_type, scale_grad_by_freq, mode, sparse,
                  _weight=data.copy(), include_last_offset=include_last_offset, padding_idx=padding_idx)
        bag.weight.requires_grad = not freeze
        return bag

    def forward(self, input, offsets=None, per_sample_weights=None):
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                               self.mode, self.sparse, per_sample_weights, self.include_last_offset,
                               self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}, mode={self.mode!r}"
        return s + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")


class TripletMarginWithDistanceLoss(_Loss):
    def __init__(self, *, distance_function=None, margin=1.0, swap=False, reduction="mean"):
        super().__init__(reduction)
        self.distance_function, self.margin, self.swap = distance_function, margin, swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_with_distance_loss(anchor, positive, negative,
                                                   distance_function=self.distance_function, margin=self.margin,
                                                   swap=self.swap, reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        _no_legacy("MultiLabelMarginLoss", size_average, reduce)
        super().__init__(reduction)

    def forward(self, input, target):
        return F.multilabel_margin_loss(input, target, self.reduction)


class AlphaDropout(Dropout1d):
    """Dropout keeping SELU's self-normalization (F.alpha_dropout)."""

    def forward(self, input):
        return F.alpha_dropout(input, self.p, self.training)


class LPPool1d(Module):
    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type, self.kernel_size, self.stride, self.ceil_mode = norm_type, kernel_size, stride, ceil_mode

    def forward(self, input):
        return F.lp_pool1d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self):
        return f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}"


class LPPool2d(LPPool1d):
    def forward(self, input):
        return F.lp_pool2d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class CTCLoss(_Loss):
    """Connectionist temporal classification loss (``F.ctc_loss``): forward(log_probs, targets, input_lengths,
    target_lengths)."""

    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__(reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction,
                          self.zero_infinity)
