"""GEMM dot-product tiles (issue 17): y = x W^T (A not transposed, B transposed) with at most 16 rows
or 32 columns runs as dot products read in place (csrc/gemm/ukernel.h gemm_dot_tile) on ISAs that
have them (AVX-512), the packed kernels elsewhere. Checked on every backend: shapes that hit every
tile remainder (rows and columns 1..5 past a multiple of 4, k past a multiple of 16 and of the 1024
k block), alpha/beta with a poisoned C, the fused bias + ReLU epilogue, and 1/2/3 threads
bitwise, against float64 NumPy."""
import numpy as np
import pytest

import dlcore
import dlcore.kernels as K
from opcheck import poisoned, randn

SHAPES = [(1, 1, 1), (1, 4096, 33), (3, 7, 17), (16, 129, 100), (64, 10, 500), (64, 32, 1025), (129, 5, 2049),
          (7, 33, 16), (17, 31, 3)]


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


@pytest.mark.parametrize("m,n,k", [(64, 10, 500), (5, 300, 77), (33, 17, 1500)])
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

