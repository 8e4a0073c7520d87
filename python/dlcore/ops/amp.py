"""The bfloat16 versions of linear, matmul and conv2d that ``dlcore.autocast`` runs.

Each takes float32 arrays (master weights stay float32), converts the
operands to bfloat16, runs the bf16 kernel (float32 accumulation, float32
result) and keeps the bf16 operands for backward, whose products run in bf16
as well and return float32 gradients, one per float32 input. See
``dlcore.amp`` for the op lists and the differences from torch.autocast.
"""
from __future__ import annotations

from .. import kernels as K
from ..amp import cast_weight_bf16, to_bfloat16
from ..autograd import Function
from ..tensor import Tensor
from ._common import contiguous, kernel_backend, pair
from .conv import conv_padding


class LinearBf16(Function):
    """y = bf16(x) @ bf16(W)^T + b, float32 out; x (N, in), W (out, in), b (out,) float32."""

    def forward(self, x, weight, bias=None, *, wb=None):
        self.xb, self.wb = to_bfloat16(x), to_bfloat16(weight) if wb is None else wb
        y = K.gemm(self.xb, self.wb, trans_b=True, backend=kernel_backend("gemm"))
        if bias is not None:
            y += bias
        return y

    def backward(self, dy):
        dx = dw = db = None
        backend = kernel_backend("gemm")
        dyb = to_bfloat16(contiguous(dy))
        if self.needs_input_grad[0]:  # dx = dy @ W
            dx = K.gemm(dyb, self.wb, backend=backend)
        if self.needs_input_grad[1]:  # dW = dy^T @ x, float32 for the optimizer
            dw = K.gemm(dyb, self.xb, trans_a=True, backend=backend)
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            db = dy.sum(axis=0)
        return dx, dw, db


class MatMulBf16(Function):
    """a @ b for 2-D float32 a (M, K), b (K, N): bf16 operands, float32 out."""

    def forward(self, a, b, *, ab=None, bb=None):
        self.ab = to_bfloat16(a) if ab is None else ab
        self.bb = to_bfloat16(b) if bb is None else bb
        return K.gemm(self.ab, self.bb, backend=kernel_backend("gemm"))

    def backward(self, g):
        da = db = None
        backend = kernel_backend("gemm")
        gb = to_bfloat16(contiguous(g))
        if self.needs_input_grad[0]:  # dA = dY @ B^T
            da = K.gemm(gb, self.bb, trans_b=True, backend=backend)
        if self.needs_input_grad[1]:  # dB = A^T @ dY
            db = K.gemm(self.ab, gb, trans_a=True, backend=backend)
        return da, db


class Conv2dBf16(Function):
    """conv2d with bf16 x and weight, float32 accumulation, float32 y / dx / dw / db."""

    def forward(self, x, weight, bias=None, *, stride=1, padding=0, dilation=1, groups=1, wb=None):
        self.params = dict(stride=pair(stride, "stride"), padding=conv_padding(padding),
                           dilation=pair(dilation, "dilation"), groups=int(groups))
        self.has_bias = bias is not None
        self.x_shape, self.w_shape = x.shape, weight.shape
        self.xb, self.wb = to_bfloat16(x), to_bfloat16(weight) if wb is None else wb
        return K.conv2d_forward(self.xb, self.wb, contiguous(bias), backend=kernel_backend("conv2d_forward"),
                                **self.params)

    def backward(self, dy):
        p = self.params
        dx = dw = db = None
        dyb = to_bfloat16(contiguous(dy))
        if self.needs_input_grad[0]:
            dx = K.conv2d_backward_data(dyb, self.wb, self.x_shape, backend=kernel_backend("conv2d_backward_data"),
                                        **p)
        wants_db = self.has_bias and len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        if self.needs_input_grad[1] or wants_db:
            dw, db = K.conv2d_backward_weights(self.xb, dyb, self.w_shape, bias=False,
                                               backend=kernel_backend("conv2d_backward_weights"), **p)
            if wants_db:  # from the float32 dy (torch's bf16 region would sum the bf16 dy)
                db = dy.sum(axis=(0, 2, 3))
            if not self.needs_input_grad[1]:
                dw = None
        return dx, dw, db


# The entries dlcore.nn.functional and Tensor.matmul call: the bf16 casts of parameters come from the
# autocast region's cache (dlcore.amp.cast_weight_bf16), the rest are cast per call.
def _cast(t):
    return cast_weight_bf16(t) if isinstance(t, Tensor) else None


def linear(input, weight, bias=None):
    return LinearBf16.apply(input, weight, bias, wb=_cast(weight))


def matmul(a, b):
    return MatMulBf16.apply(a, b, ab=_cast(a), bb=_cast(b))


def conv2d(input, weight, bias=None, **params):
    return Conv2dBf16.apply(input, weight, bias, wb=_cast(weight), **params)
