"""Embedding lookup: rows of a weight matrix picked by integer indices, gradients scattered back."""
from __future__ import annotations

from ..autograd import Function
from ._common import array_module, scatter_add


class Embedding(Function):
    """y[...] = weight[indices[...]]; dweight[i] = sum of dy over the positions holding i.

    ``padding_idx`` rows get no gradient; ``scale_grad_by_freq`` divides each row's gradient by how many
    times its index occurs in the batch (both as torch.nn.functional.embedding).
    """

    fresh_grads = True

    def forward(self, weight, indices, padding_idx=None, scale_grad_by_freq=False):
        self.indices, self.padding_idx, self.scale = indices, padding_idx, scale_grad_by_freq
        self.weight_shape, self.weight_dtype = weight.shape, weight.dtype
        return weight[indices]

    def backward(self, dy):
        xp = array_module(dy)
        flat = self.indices.reshape(-1)
        rows = dy.reshape(flat.size, -1)
        if self.scale:
            counts = xp.bincount(flat, minlength=self.weight_shape[0])
            rows = rows / counts[flat][:, None].astype(dy.dtype)
        dw = scatter_add(xp.zeros(self.weight_shape, dtype=self.weight_dtype), flat, rows)
        if self.padding_idx is not None:
            dw[self.padding_idx] = 0
        return dw, None
