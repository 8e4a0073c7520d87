"""AdaptiveLogSoftmaxWithLoss (Grave et al. 2017, "Efficient softmax approximation for GPUs"), as torch's.

The frequent classes (below cutoffs[0]) and one entry per rarer cluster share the head; each cluster's classes
get their own smaller projection (in_features / div_value^(i+1) wide). A word of cluster i has log-probability
head[cluster i] + log_softmax(tail_i)[word]: a large vocabulary costs a small head plus the clusters the batch
actually uses. Same parameter names and shapes as torch (state dicts load both ways).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..tensor import Tensor, cat, zeros
from . import functional as F
from .containers import ModuleList
from .module import Module
from .modules import Linear, Sequential

ASMOutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False, device=None, dtype=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if (not cutoffs or cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted in an increasing "
                             "order, where each value is between 1 and n_classes-1")
        self.in_features, self.n_classes, self.div_value, self.head_bias = in_features, n_classes, div_value, \
            head_bias
        self.cutoffs = cutoffs + [n_classes]
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, dtype=dtype)
        self.tail = ModuleList([
            Sequential(Linear(in_features, int(in_features // (div_value ** (i + 1))), bias=False, dtype=dtype),
                       Linear(int(in_features // (div_value ** (i + 1))), self.cutoffs[i + 1] - self.cutoffs[i],
                              bias=False, dtype=dtype))
            for i in range(self.n_clusters)])

    def reset_parameters(self):
        self.head.reset_parameters()
        for cluster in self.tail:
            for layer in cluster:
                layer.reset_parameters()

    def forward(self, input, target):
        """(output, loss): each example's log-probability of its target (N,) and their negated mean."""
        unbatched = input.ndim == 1
        if unbatched:
            input, target = input.unsqueeze(0), target.reshape(1)
        if input.ndim != 2 or target.ndim != 1 or input.shape[0] != target.shape[0]:
            raise RuntimeError(f"AdaptiveLogSoftmaxWithLoss: expected input (N, {self.in_features}) and target (N,), "
                               f"got {tuple(input.shape)} and {tuple(target.shape)}")
        labels = np.asarray(target.numpy(), dtype=np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise IndexError(f"AdaptiveLogSoftmaxWithLoss: target values must be in [0, {self.n_classes}), got "
                             f"[{labels.min()}, {labels.max()}]")
        head_index = labels.copy()
        output = None
        for i in range(1, len(self.cutoffs)):
            low, high = self.cutoffs[i - 1], self.cutoffs[i]
            rows = np.nonzero((labels >= low) & (labels < high))[0]
            if rows.size == 0:
                continue
            head_index[rows] = self.shortlist_size + i - 1
            cluster = F.log_softmax(self.tail[i - 1](input.index_select(0, Tensor(rows))), dim=1)
            local = cluster.gather(1, Tensor((labels[rows] - low)[:, None])).squeeze(1)
            contribution = zeros(labels.size, dtype=input.dtype).index_add(0, Tensor(rows), local)
            output = contribution if output is None else output + contribution
        head = F.log_softmax(self.head(input), dim=1)
        output_head = head.gather(1, Tensor(head_index[:, None])).squeeze(1)
        output = output_head if output is None else output_head + output
        loss = (-output).mean()
        return ASMOutput(output.squeeze(0) if unbatched else output, loss)

    def log_prob(self, input):
        """Every class's log-probability, (N, n_classes) (or (n_classes,) for one example)."""
        unbatched = input.ndim == 1
        if unbatched:
            input = input.unsqueeze(0)
        head = F.log_softmax(self.head(input), dim=1)
        parts = [head[:, :self.shortlist_size]]
        for i, cluster in enumerate(self.tail):
            column = self.shortlist_size + i  # the cluster's entry in the head
            parts.append(F.log_softmax(cluster(input), dim=1) + head[:, column:column + 1])
        out = cat(parts, dim=1)
        return out.squeeze(0) if unbatched else out

    def predict(self, input):
        """The most likely class of each example (N,)."""
        return self.log_prob(input).argmax(dim=-1)
