"""torch 2.14's fused classifier head and loss: ``F.linear_cross_entropy`` / ``nn.LinearCrossEntropyLoss``.

cross_entropy(input @ W^T + b, target). With ``options`` (``LinearCrossEntropyOptions``) the batch runs in
chunks, each under gradient checkpointing (dlcore.utils.checkpoint): the (batch, num_classes) logits of only
one chunk exist at a time, forward and backward, which is what a large-vocabulary head needs. Configurations
the chunked path does not cover (class weights, label smoothing, reduction 'none', K-dimensional outputs) run
the reference path with a warning, as torch's.
"""
from __future__ import annotations

import dataclasses
import warnings

from . import functional as F
from .module import Module


@dataclasses.dataclass
class LinearCrossEntropyOptions:
    """How the chunked path runs: ``batch_chunk_size`` rows per chunk (None: chunks of about 16 MB of float32
    logits); the other fields are torch's and accepted (dlcore accumulates in the input's dtype)."""

    allow_retain_graph: bool = False
    batch_chunk_size: int | None = None
    chunking_method: str | None = "auto"
    acc_policy: str = "auto"
    acc_dtype: object = None


def _chunk_rows(options, rows, num_classes):
    if options.batch_chunk_size is not None:
        if options.batch_chunk_size < 1:
            raise ValueError(f"LinearCrossEntropyOptions: batch_chunk_size must be >= 1, got "
                             f"{options.batch_chunk_size}")
        return options.batch_chunk_size
    return max(1, min(rows, (1 << 22) // max(num_classes, 1)))  # ~16 MB of float32 logits per chunk


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None, reduction="mean",
                         ignore_index=None, label_smoothing=0.0, options=None):
    ignore = -100 if ignore_index is None else ignore_index
    if options is None or weight is not None or label_smoothing or reduction == "none" or input.ndim != 2:
        if options is not None:
            warnings.warn("linear_cross_entropy: this configuration runs the reference path (the chunked one takes "
                          "2-D input, no class weights, no label smoothing, reduction 'mean' or 'sum')",
                          UserWarning, stacklevel=2)
        logits = F.linear(input, linear_weight, linear_bias)
        return F.cross_entropy(logits, target, weight=weight, ignore_index=ignore, reduction=reduction,
                               label_smoothing=label_smoothing)
    from ..utils.checkpoint import checkpoint

    def chunk_loss(x, t):
        return F.cross_entropy(F.linear(x, linear_weight, linear_bias), t, ignore_index=ignore, reduction="sum")

    rows = input.shape[0]
    step = _chunk_rows(options, rows, linear_weight.shape[0])
    total = None
    for start in range(0, rows, step):
        part = checkpoint(chunk_loss, input[start:start + step], target[start:start + step])
        total = part if total is None else total + part
    if reduction == "sum":
        return total
    counted = float((target.numpy() != ignore).sum())
    return total / counted  # NaN when every target is ignored, as torch's mean


class LinearCrossEntropyLoss(Module):
    """A Linear(in_features, num_classes) head fused with CrossEntropyLoss (torch 2.14's); only
    ``out_features=()`` is supported."""

    def __init__(self, in_features, num_classes, *, out_features=(), bias=False, device=None, dtype=None,
                 reduction="mean", weight=None, ignore_index=None, label_smoothing=0.0, options=None):
        super().__init__()
        if tuple(out_features):
            raise NotImplementedError("LinearCrossEntropyLoss: out_features (K-dimensional loss) is not supported")
        from .modules import Linear

        self.linear = Linear(in_features, num_classes, bias=bias, dtype=dtype)
        self.reduction, self.ignore_index, self.label_smoothing, self.options = reduction, ignore_index, \
            label_smoothing, options
        self.register_buffer("weight", weight)

    def forward(self, input, target):
        return linear_cross_entropy(input, self.linear.weight, target, linear_bias=self.linear.bias,
                                    weight=self.weight, reduction=self.reduction, ignore_index=self.ignore_index,
                                    label_smoothing=self.label_smoothing, options=self.options)


__all__ = ["LinearCrossEntropyLoss", "LinearCrossEntropyOptions", "linear_cross_entropy"]
