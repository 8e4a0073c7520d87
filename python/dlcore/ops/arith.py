"""Elementwise arithmetic with broadcasting, and matrix multiplication.

Each Function's backward sits right after its forward. Broadcast inputs get
their gradient summed back to their own shape (``unbroadcast``).
"""
from __future__ import annotations

import numpy as np

from .. import kernels as K
from ..autograd import Function
from ._common import array_module, contiguous, kernel_backend, unbroadcast, uses_kernels


class Add(Function):
    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        return a + b

    def backward(self, g):
        sa, sb = self.shapes
        return (unbroadcast(g, sa) if self.needs_input_grad[0] else None,
                unbroadcast(g, sb) if self.needs_input_grad[1] else None)


class Sub(Function):
    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        return a - b

    def backward(self, g):
        sa, sb = self.shapes
        return (unbroadcast(g, sa) if self.needs_input_grad[0] else None,
                unbroadcast(-g, sb) if self.needs_input_grad[1] else None)


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        a, b = self.a, self.b
        return (unbroadcast(g * b, a.shape) if self.needs_input_grad[0] else None,
                unbroadcast(g * a, b.shape) if self.needs_input_grad[1] else None)


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        a, b = self.a, self.b
        da = unbroadcast(g / b, a.shape) if self.needs_input_grad[0] else None
        db = unbroadcast(-g * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return da, db


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, g):
        return -g


class Pow(Function):
    """a ** b for tensors a and b (b may be a broadcast scalar array)."""
    saves_output = True


    def forward(self, a, b):
        xp = array_module(a)
        self.a, self.b = a, b
        self.y = xp.power(a, b)
        return self.y

    def backward(self, g):
        xp = array_module(g)
        a, b = self.a, self.b
        da = db = None
        if self.needs_input_grad[0]:
            with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** -1 where b == 0, masked below
                slope = b * xp.power(a, b - 1)
            slope = xp.where(b == 0, 0, slope)  # d/da a^0 is 0, also at a = 0 (not 0 * inf = nan), as PyTorch
            da = unbroadcast(g * slope, a.shape)
        if self.needs_input_grad[1]:
            log_a = xp.log(xp.where(a > 0, a, 1))  # d/db a^b = a^b log a, defined for a > 0
            db = unbroadcast(g * self.y * log_a, b.shape)
        return da, db


class Exp(Function):
    saves_output = True

    def forward(self, a):
        self.y = array_module(a).exp(a)
        return self.y

    def backward(self, g):
        return g * self.y


class Log(Function):
    def forward(self, a):
        self.a = a
        return array_module(a).log(a)

    def backward(self, g):
        return g / self.a


class Sqrt(Function):
    saves_output = True

    def forward(self, a):
        self.y = array_module(a).sqrt(a)
        return self.y

    def backward(self, g):
        return g / (2 * self.y)


class Abs(Function):
    """|a|; gradient sign(a), 0 at 0 (kernel family eltwise)."""

    def forward(self, a):
        self.kernels = uses_kernels(a)
        if self.kernels:
            self.a = contiguous(a)
            return K.abs_forward(self.a, backend=kernel_backend("abs_forward"))
        self.a = a
        return array_module(a).abs(a)

    def backward(self, g):
        if self.kernels:
            return K.abs_backward(contiguous(g), self.a, backend=kernel_backend("abs_backward"))
        return g * array_module(g).sign(self.a)


def _gemm(a, b, trans_a=False, trans_b=False):
    return K.gemm(contiguous(a), contiguous(b), trans_a=trans_a, trans_b=trans_b, backend=kernel_backend("gemm"))


def _matmul_2d(a, b, trans_a=False, trans_b=False):
    """op(a) @ op(b) for 2-D arrays: dlcore.kernels.gemm in float32, NumPy's in float64."""
    if uses_kernels(a, b):
        return _gemm(a, b, trans_a, trans_b)
    return (a.T if trans_a else a) @ (b.T if trans_b else b)


def matmul_arrays(a, b):
    """The float32-kernel / float64-reference matmul of NumPy's @ semantics (1-D, 2-D, batched)."""
    if a.ndim == 2 and b.ndim == 2:
        return _matmul_2d(a, b)
    if a.ndim >= 2 and b.ndim == 2:  # (..., M, K) @ (K, N): one GEMM on the flattened rows
        y = _matmul_2d(a.reshape(-1, a.shape[-1]), b)
        return y.reshape(a.shape[:-1] + (b.shape[1],))
    if not uses_kernels(a, b):
        return a @ b
    xp = array_module(a, b)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    a3 = xp.broadcast_to(a2, batch + a2.shape[-2:]).reshape((-1,) + a2.shape[-2:])
    b3 = xp.broadcast_to(b2, batch + b2.shape[-2:]).reshape((-1,) + b2.shape[-2:])
    y = xp.stack([_gemm(a3[i], b3[i]) for i in range(a3.shape[0])]) if a3.shape[0] else \
        xp.zeros((0, a2.shape[-2], b2.shape[-1]), np.float32)
    y = y.reshape(batch + (a2.shape[-2], b2.shape[-1]))
    if a.ndim == 1:
        y = y[..., 0, :]
    if b.ndim == 1:
        y = y[..., 0]
    return y


class MatMul(Function):
    """a @ b with NumPy semantics; float32 runs on dlcore.kernels.gemm."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return matmul_arrays(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        xp = array_module(g)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = xp.expand_dims(g2, -1)
        da = db = None
        if self.needs_input_grad[0]:  # dA = dY @ B^T
            da = matmul_arrays(g2, xp.swapaxes(b2, -1, -2))
            da = unbroadcast(da, a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:  # dB = A^T @ dY
            if a2.ndim >= 2 and b2.ndim == 2:  # rows flattened: one GEMM with trans_a
                db = _matmul_2d(a2.reshape(-1, a2.shape[-1]), g2.reshape(-1, g2.shape[-1]), trans_a=True)
            else:
                db = unbroadcast(matmul_arrays(xp.swapaxes(a2, -1, -2), g2), b2.shape)
            db = db.reshape(b.shape)
        return da, db
