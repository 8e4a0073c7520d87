"""GEMM dot-product tiles (issue 17): y = x W^T (A not transposed, B transposed) with at most 16 rows
or 32 columns runs as dot products read in place (csrc/gemm/ukernel.h gemm_dot_tile) on ISAs that
have them (AVX-512 4 x 4 tiles, AVX2 3 x 3), the packed kernels elsewhere; so does C = A B with at
most 8 columns on AVX2 (B's columns copied k-contiguous first: gemm.cpp use_dot, max_narrow).
Checked on every backend: shapes that hit every tile remainder (rows and columns 1..5 past a
multiple of 4 or 3, k past a multiple of 16 and of the 1024 k block), alpha/beta with a poisoned C,
the fused bias + ReLU epilogue, and 1/2/3 threads bitwise, against float64 NumPy."""
import numpy as np
import pytest

import dlcore
import dlcore.kernels as K
from opcheck import at_threads, gemm_reference, poisoned, randn

# One row (a matrix-vector product) runs AVX2's 1 x 8 tile: 1003 and 13 columns end mid-tile.
SHAPES = [(1, 1, 1), (1, 4096, 33), (1, 1003, 37), (1, 13, 2049), (3, 7, 17), (16, 129, 100), (64, 10, 500),
          (64, 32, 1025), (129, 5, 2049), (7, 33, 16), (17, 31, 3)]


def ref(a, b, alpha, beta, c0):
    exact = alpha * (a.astype(np.float64) @ b.astype(np.float64).T) + beta * c0.astype(np.float64)
    scale = abs(alpha) * (np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64)).T) + abs(beta) * np.abs(c0)
    return exact, scale


@pytest.mark.parametrize("m,n,k", SHAPES)
def test_dot_shapes_against_float64(cpu_backend, rng, m, n, k):
    a, b, c0 = randn(rng, m, k), randn(rng, n, k), randn(rng, m, n)
    for alpha, beta in ((1.0, 0.0), (-0.5, 1.0), (2.0, 0.25)):
        out = c0.copy() if beta else poisoned((m, n))
        got = K.gemm(a, b, trans_b=True, alpha=alpha, beta=beta, out=out, backend=cpu_backend)
        want, scale = ref(a, b, alpha, beta, c0)
        assert np.all(np.isfinite(got)), "unwritten (NaN) elements"
        assert np.all(np.abs(got - want) <= 1e-5 * np.sqrt(k) * (1 + 4 * scale)), (m, n, k, alpha, beta)


@pytest.mark.parametrize("m,n,k", [(64, 10, 500), (5, 300, 77), (33, 17, 1500), (1, 1001, 300)])
def test_dot_threads_bitwise(rng, m, n, k):
    a, b, c0 = randn(rng, m, k), randn(rng, n, k), randn(rng, m, n)
    before = dlcore.get_num_threads()
    try:
        outs = []
        for t in (1, 2, 3):
            dlcore.set_num_threads(t)
            outs.append(K.gemm(a, b, trans_b=True, alpha=0.75, beta=0.5, out=c0.copy()))
    finally:
        dlcore.set_num_threads(before)
    for o in outs[1:]:
        np.testing.assert_array_equal(outs[0], o)


@pytest.mark.parametrize("m,n,k", [(64, 10, 500), (3, 200, 70), (40, 30, 1100)])
def test_dot_linear_epilogue(rng, m, n, k):
    """The linear layer's fused bias + ReLU on the dot path is bitwise relu(x W^T + b) computed unfused."""
    from dlcore import _C
    x, w, bias = randn(rng, m, k), randn(rng, n, k), randn(rng, n)
    fused = _C.linear_forward(x, w, bias, "relu")
    plain = K.gemm(x, w, trans_b=True)
    np.testing.assert_array_equal(fused, np.maximum(plain + bias, 0))
    want, scale = ref(x, w, 1.0, 0.0, np.zeros((m, n), np.float32))
    assert np.all(np.abs(np.maximum(want + bias, 0) - fused) <= 1e-5 * np.sqrt(k) * (1 + 4 * scale))



# ---- A few columns of B as it is (C = A B, N <= 8: AVX2's narrow path; 9 columns stay packed) -------
NARROW_SHAPES = [(1, 1, 1), (1, 7, 1500), (3, 2, 7), (7, 4, 17), (17, 5, 33), (65, 7, 129), (129, 8, 1025),
                 (5, 1, 2049), (33, 3, 4100), (10, 9, 300)]


@pytest.mark.parametrize("m,n,k", NARROW_SHAPES)
def test_narrow_b_against_float64(cpu_backend, rng, m, n, k):
    a, b, c0 = randn(rng, m, k), randn(rng, k, n), randn(rng, m, n)
    for alpha, beta in ((1.0, 0.0), (-0.5, 1.0), (2.0, 0.25)):
        out = c0.copy() if beta else poisoned((m, n))
        got = K.gemm(a, b, alpha=alpha, beta=beta, out=out, backend=cpu_backend)
        want, scale = gemm_reference(a, b, False, False, alpha, beta, c0)
        assert np.all(np.isfinite(got)), "unwritten (NaN) elements"
        assert np.all(np.abs(got - want) <= 1e-5 * np.sqrt(k) * (1 + 4 * scale)), (m, n, k, alpha, beta)


@pytest.mark.parametrize("m,n,k", [(64, 5, 500), (33, 8, 2100), (200, 1, 70)])
def test_narrow_b_threads_bitwise(rng, m, n, k):
    a, b, c0 = randn(rng, m, k), randn(rng, k, n), randn(rng, m, n)
    outs = [at_threads(t, lambda: K.gemm(a, b, alpha=0.75, beta=0.5, out=c0.copy())) for t in (1, 2, 3)]
    for o in outs[1:]:
        np.testing.assert_array_equal(outs[0], o)


def test_narrow_b_conv1x1_bias_relu(cpu_backend, rng):
    """A 1x1 convolution of one 2x2 image is W (o x c) times X (c x 4 pixels): the narrow product (one
    product: images are a batch) with the per-row bias and ReLU of the GEMM epilogue, bitwise the
    unfused conv, bias add and ReLU."""
    x, w, b = randn(rng, 1, 37, 2, 2), randn(rng, 19, 37, 1, 1), randn(rng, 19)
    got = K.conv2d_forward(x, w, b, activation="relu", backend=cpu_backend)
    want = K.relu_forward(K.conv2d_forward(x, w, b, backend=cpu_backend), 0.0)
    np.testing.assert_array_equal(got, want)
    exact = np.einsum("oc,nchw->nohw", w[:, :, 0, 0].astype(np.float64), x.astype(np.float64)) + b[:, None, None]
    scale = np.einsum("oc,nchw->nohw", np.abs(w[:, :, 0, 0]).astype(np.float64), np.abs(x)) + np.abs(b)[:, None, None]
    assert (got > 0).any() and (got == 0).any()
    assert np.all(np.abs(got - np.maximum(exact, 0)) <= 1e-5 * np.sqrt(37) * (1 + 4 * scale))
