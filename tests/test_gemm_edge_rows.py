"""GEMM bottom-edge kernels (issue 17): a tile of 1..MR-1 rows at the bottom of C runs a
kernel for exactly that many rows, written straight into C, instead of a full tile into a
buffer and a copy. Checked here on every row remainder of the 12x32 AVX-512, 6x16 AVX2 (and
4x8 ref) tiles, full-width and partial columns, transposes, alpha/beta, the fused bias + ReLU epilogue, and
1/2/3 threads bitwise, against float64 NumPy."""
import numpy as np
import pytest

import dlcore
import dlcore.kernels as K
from opcheck import gemm_reference, poisoned, randn

# Row counts 12q + r and 6q + r for every r (and 4q + r for the ref 4x8 tile); columns a multiple of
# 16 and 32 (every tile full width, so the edge kernels run) and not (the right-edge kernels, 1..31 columns,
# and the corner tile, which keeps the buffer).
ROWS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 33, 127, 128, 129, 130, 131, 138)
COLS = (3, 16, 17, 31, 35, 48, 64)



@pytest.mark.parametrize("m", ROWS)
@pytest.mark.parametrize("n", COLS)
def test_edge_rows_against_float64(cpu_backend, rng, m, n):
    k = 37
    for ta, tb, alpha, beta in ((False, False, 1.0, 0.0), (True, False, -0.5, 1.0), (False, True, 2.0, 0.5),
                                (True, True, 1.0, -1.5)):
        a = randn(rng, *((k, m) if ta else (m, k)))
        b = randn(rng, *((n, k) if tb else (k, n)))
        c0 = randn(rng, m, n)
        out = c0.copy() if beta != 0.0 else poisoned((m, n))
        got = K.gemm(a, b, trans_a=ta, trans_b=tb, alpha=alpha, beta=beta, out=out, backend=cpu_backend)
        want, scale = gemm_reference(a, b, ta, tb, alpha, beta, c0)
        assert np.all(np.isfinite(got)), "unwritten (NaN) elements"
        err = np.abs(got.astype(np.float64) - want)
        assert np.all(err <= 1e-5 * np.sqrt(k) * (1 + 4 * scale)), f"m={m} n={n} ta={ta} tb={tb}: {err.max():.3g}"


@pytest.mark.parametrize("m,n,k", [(131, 48, 129), (128, 128, 128), (17, 64, 300)])
def test_edge_rows_threads_bitwise(rng, m, n, k):
    a, b, c0 = randn(rng, m, k), randn(rng, k, n), randn(rng, m, n)
    before = dlcore.get_num_threads()
    try:
        outs = []
        for t in (1, 2, 3):
            dlcore.set_num_threads(t)
            outs.append(K.gemm(a, b, alpha=0.75, beta=0.5, out=c0.copy()))
    finally:
        dlcore.set_num_threads(before)
    for o in outs[1:]:
        np.testing.assert_array_equal(outs[0], o)
    want, _ = gemm_reference(a, b, False, False, 0.75, 0.5, c0)
    np.testing.assert_allclose(outs[0], want, rtol=1e-4, atol=1e-4 * np.sqrt(k))


@pytest.mark.parametrize("m", (5, 131))
def test_edge_rows_fused_bias_relu(cpu_backend, rng, m):
    # linear_forward: one GEMM with the bias + ReLU epilogue on the edge rows too.
    k, n = 65, 48
    x, w, bias = randn(rng, m, k), randn(rng, n, k), randn(rng, n)
    before = dlcore.get_num_threads()
    try:
        outs = []
        for t in (1, 2, 3):
            dlcore.set_num_threads(t)
            outs.append(K.linear_forward(x, w, bias, activation="relu", backend=cpu_backend))
    finally:
        dlcore.set_num_threads(before)
    for o in outs[1:]:
        np.testing.assert_array_equal(outs[0], o)
    want = K.relu_forward(K.gemm(x, w, trans_b=True, backend=cpu_backend) + bias, 0.0)
    np.testing.assert_array_equal(outs[0], want)
    ref = np.maximum(x.astype(np.float64) @ w.T.astype(np.float64) + bias, 0)
    np.testing.assert_allclose(outs[0], ref, rtol=1e-4, atol=1e-4 * np.sqrt(k))


@pytest.mark.parametrize("k", (513, 577, 1100))
def test_uneven_k_blocks_against_float64(cpu_backend, rng, k):
    """k just past the cache block (KC = 512 on AVX-512) runs as even blocks (2 x 289 for 577), each
    accumulating into C: checked against float64 with beta 0 (poisoned C) and beta 1."""
    m, n = 29, 70
    a, b, c0 = randn(rng, m, k), randn(rng, k, n), randn(rng, m, n)
    for beta in (0.0, 1.0):
        out = c0.copy() if beta else poisoned((m, n))
        got = K.gemm(a, b, beta=beta, out=out, backend=cpu_backend)
        want, scale = gemm_reference(a, b, False, False, 1.0, beta, c0)
        assert np.all(np.abs(got.astype(np.float64) - want) <= 1e-5 * np.sqrt(k) * (1 + 4 * scale))
