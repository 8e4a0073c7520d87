"""Fully connected layer y = x @ W^T + b on dlcore.kernels (float32), and its fused ReLU form."""
from __future__ import annotations

from .. import _C
from .. import kernels as K
from ..autograd import Function
from ..kernels._dispatch import module_for
from ._common import contiguous, kernel_backend, uses_kernels
from .conv import relu_mask, relu_ref


class Linear(Function):
    """x (N, in), weight (out, in), bias (out,) or None -> y (N, out).

    float32 on our CPU kernels: one GEMM with the bias (and LinearReLU's ReLU) in its epilogue
    (kernels.linear_forward); on oneDNN / CUDA: gemm, then the bias add and relu_forward.
    """

    fresh_grads = True  # backward returns new arrays and keeps none of them (Function.fresh_grads)

    activation = None  # LinearReLU: "relu"

    def forward(self, x, weight, bias=None):
        self.x, self.weight = x, weight
        self.kernels = uses_kernels(x, weight, bias)
        if self.kernels:
            backend = kernel_backend("gemm")
            if module_for(backend, "gemm", x, weight) is _C:  # bias and activation fused in the GEMM
                y = K.linear_forward(contiguous(x), contiguous(weight), contiguous(bias), activation=self.activation,
                                     backend=backend)
            else:  # y = x @ W^T: gemm with trans_b on the stored (out, in) weight
                y = K.gemm(contiguous(x), contiguous(weight), trans_b=True, backend=backend)
                if bias is not None:
                    y += bias
                if self.activation:
                    y = K.relu_forward(y, 0.0, backend=kernel_backend("relu_forward"))
        else:
            y = x @ weight.T
            if bias is not None:
                y += bias
            if self.activation:
                y = relu_ref(y)
        if self.activation:
            self.y = y  # the mask of the backward
        return y

    def backward(self, dy):
        x, w = self.x, self.weight
        if self.activation:
            dy = relu_mask(dy, self.y, self.kernels)
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


class LinearReLU(Linear):
    """relu(x @ W^T + b) as one Function (nn.functional.linear(..., activation="relu")): bitwise Linear then
    ReLU; backward masks dy by y > 0, then Linear's backward."""

    activation = "relu"
