"""Fully connected layer y = x @ W^T + b on dlcore.kernels.gemm (float32)."""
from __future__ import annotations

from .. import kernels as K
from ..autograd import Function
from ._common import contiguous, kernel_backend, uses_kernels


class Linear(Function):
    """x (N, in), weight (out, in), bias (out,) or None -> y (N, out)."""

    def forward(self, x, weight, bias=None):
        self.x, self.weight = x, weight
        self.kernels = uses_kernels(x, weight, bias)
        if self.kernels:  # y = x @ W^T: gemm with trans_b on the stored (out, in) weight
            y = K.gemm(contiguous(x), contiguous(weight), trans_b=True, backend=kernel_backend("gemm"))
        else:
            y = x @ weight.T
        if bias is not None:
            y += bias
        return y

    def backward(self, dy):
        x, w = self.x, self.weight
        dx = dw = db = None
        if self.kernels:
            dy = contiguous(dy)
            backend = kernel_backend("gemm")
            if self.needs_input_grad[0]:  # dx = dy @ W        (N, out) @ (out, in)
                dx = K.gemm(dy, contiguous(w), backend=backend)
            if self.needs_input_grad[1]:  # dW = dy^T @ x      (out, N) @ (N, in)
                dw = K.gemm(dy, contiguous(x), trans_a=True, backend=backend)
        else:
            if self.needs_input_grad[0]:
                dx = dy @ w
            if self.needs_input_grad[1]:
                dw = dy.T @ x
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            db = dy.sum(axis=0)
        return dx, dw, db
