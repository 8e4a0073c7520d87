"""GEMM against a float64 NumPy reference on every CPU path we can run."""
import itertools

import numpy as np
import pytest

import dlcore
from dlcore.kernels import gemm
from opcheck import assert_close, at_threads, check_linear_relu_threads, gemm_reference, poisoned, randn

# Sizes that cross every register-tile (6/16, 4/8, 12/32) and cache-block edge.
EDGE_SIZES = (1, 2, 3, 7, 15, 16, 17, 31, 33, 47, 48, 49, 64, 100, 129, 257, 385, 1000)


def operands(rng, m, n, k, trans_a, trans_b):
    a = randn(rng, *((k, m) if trans_a else (m, k)))
    b = randn(rng, *((n, k) if trans_b else (k, n)))
    a64 = a.astype(np.float64).T if trans_a else a.astype(np.float64)
    b64 = b.astype(np.float64).T if trans_b else b.astype(np.float64)
    return a, b, a64, b64


def gemm_tol(k):
    # float32 accumulation error grows ~ sqrt(K) * eps for random data; bound it by K.
    return dict(rtol=1e-5 * max(1, k) ** 0.5 * 4, atol=1e-5 * max(1, k) ** 0.5)


def check(rng, backend, m, n, k, trans_a, trans_b, alpha=1.0, beta=0.0):
    a, b, a64, b64 = operands(rng, m, n, k, trans_a, trans_b)
    c0 = randn(rng, m, n)
    out = c0.copy() if beta != 0.0 else poisoned((m, n))
    got = gemm(a, b, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta, out=out, backend=backend)
    assert got is out or np.shares_memory(got, out)
    expected = alpha * (a64 @ b64) + (beta * c0.astype(np.float64) if beta != 0.0 else 0.0)
    # Scale tolerance by the magnitude of the terms, not of their (possibly cancelling) sum.
    scale = abs(alpha) * (np.abs(a64) @ np.abs(b64)) + abs(beta) * np.abs(c0)
    tol = gemm_tol(k)
    err = np.abs(got.astype(np.float64) - expected)
    assert np.all(np.isfinite(got)), "unwritten (NaN) elements"
    assert np.all(err <= tol["atol"] + tol["rtol"] * scale), (
        f"{backend} m={m} n={n} k={k} ta={trans_a} tb={trans_b}: max err {err.max():.3g}")


@pytest.mark.parametrize("trans_a,trans_b", list(itertools.product([False, True], repeat=2)))
def test_gemm_edges_all_transposes(cpu_backend, rng, trans_a, trans_b):
    sizes = EDGE_SIZES
    # Every size appears as M, N and K at least once, paired with varied others.
    for i, s in enumerate(sizes):
        m = s
        n = sizes[(i * 7 + 3) % len(sizes)]
        k = sizes[(i * 5 + 11) % len(sizes)]
        check(rng, cpu_backend, m, n, k, trans_a, trans_b)
        check(rng, cpu_backend, n, k, m, trans_a, trans_b)
        check(rng, cpu_backend, k, m, n, trans_a, trans_b)


@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (0.5, 0.0), (-2.0, 1.0), (1.5, -0.75), (0.0, 2.0)])
def test_gemm_alpha_beta(cpu_backend, rng, alpha, beta):
    for m, n, k in [(17, 33, 129), (100, 49, 385), (1, 1000, 7), (257, 3, 48)]:
        check(rng, cpu_backend, m, n, k, False, True, alpha, beta)


def test_gemm_large_crosses_every_block(cpu_backend, rng):
    # K > KC and N > NC (largest KC is 256, NC 3072), M > MC: every block loop runs twice.
    check(rng, cpu_backend, 300, 3100, 600, False, False)


def test_gemm_zero_k_gives_beta_c(cpu_backend, rng):
    a = np.zeros((5, 0), np.float32)
    b = np.zeros((0, 7), np.float32)
    c = randn(rng, 5, 7)
    expected = 0.5 * c.astype(np.float64)
    got = gemm(a, b, beta=0.5, out=c, backend=cpu_backend)
    assert_close(got, expected)
    assert_close(gemm(a, b, backend=cpu_backend), np.zeros((5, 7)))


def test_gemm_empty_m_or_n(cpu_backend):
    assert gemm(np.ones((0, 4), np.float32), np.ones((4, 3), np.float32), backend=cpu_backend).shape == (0, 3)
    assert gemm(np.ones((2, 4), np.float32), np.ones((4, 0), np.float32), backend=cpu_backend).shape == (2, 0)


def test_gemm_nan_inf_propagate(cpu_backend, rng):
    a = randn(rng, 9, 20)
    b = randn(rng, 20, 17)
    a[3, 5] = np.nan
    b[7, 2] = np.inf
    got = gemm(a, b, backend=cpu_backend)
    assert np.all(np.isnan(got[3]))
    col = got[:, 2]
    assert np.all(~np.isfinite(col))
    others = np.delete(np.delete(got, 3, axis=0), 2, axis=1)
    assert np.all(np.isfinite(others))


def test_gemm_beta_zero_ignores_poisoned_out(cpu_backend, rng):
    a, b = randn(rng, 33, 65), randn(rng, 65, 31)
    out = poisoned((33, 31))
    gemm(a, b, out=out, backend=cpu_backend)
    assert np.all(np.isfinite(out))


def test_gemm_auto_picks_best_and_reports_it(rng):
    a, b = randn(rng, 8, 8), randn(rng, 8, 8)
    gemm(a, b)
    best = dlcore.backends()["auto"]
    assert dlcore.kernels.last_dispatch().startswith(f"gemm:gemm_{best}_")


def test_gemm_named_backend_runs_exactly_that(cpu_backend, rng):
    gemm(randn(rng, 4, 4), randn(rng, 4, 4), backend=cpu_backend)
    assert dlcore.kernels.last_dispatch().startswith(f"gemm:gemm_{cpu_backend}_")


def test_gemm_threads_agree(rng):
    a, b = randn(rng, 200, 300), randn(rng, 300, 250)
    before = dlcore.get_num_threads()
    try:
        dlcore.set_num_threads(1)
        one = gemm(a, b)
        dlcore.set_num_threads(2)
        two = gemm(a, b)
    finally:
        dlcore.set_num_threads(before)
    # Same blocking and summation order regardless of threads: bitwise equal.
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("m,n,k", [(130, 49, 1031), (37, 301, 257), (7, 129, 65), (64, 324, 700), (128, 128, 128),
                                   (1031, 20, 48)])
def test_gemm_threads_agree_on_every_grid(rng, m, n, k):
    # The thread grid drops to fewer tiles where their redundant packing
    # would cost more than the arithmetic allows (long k, few rows or
    # columns): every grid computes each element the same way, so 1, 2 and 3
    # threads give the same bits, for every transposition. Tiles split C as
    # evenly as whole panels allow (gemm.cpp part_start): 324 columns as
    # 160 + 164, 128 rows as 72 + 56, 1031 rows in parts of 11-12 panels.
    a, b = randn(rng, m, k), randn(rng, k, n)
    before = dlcore.get_num_threads()
    try:
        for ta, tb in ((False, False), (True, False), (False, True), (True, True)):
            aa = np.ascontiguousarray(a.T) if ta else a
            bb = np.ascontiguousarray(b.T) if tb else b
            outs = []
            for t in (1, 2, 3):
                dlcore.set_num_threads(t)
                outs.append(gemm(aa, bb, trans_a=ta, trans_b=tb))
            for o in outs[1:]:
                np.testing.assert_array_equal(outs[0], o)
    finally:
        dlcore.set_num_threads(before)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(outs[0], ref, rtol=1e-4, atol=1e-4 * np.sqrt(k))


# Shapes whose 2-thread grid is 1 x 8 tiles of 288 columns (>= 256,
# gemm.cpp kShareMinCols), so the tiles share A's panels: A copied (lda
# 1024: MR rows of it fall in two L1 sets), A packed (op(A) = A^T), and
# an epilogue-free B^T product with lda 2048.
SHARED_A_CASES = [(61, 2100, 1024, False, False), (61, 2100, 700, True, False), (50, 2100, 2048, False, True)]


@pytest.mark.parametrize("m,n,k,ta,tb", SHARED_A_CASES)
def test_gemm_shared_a_panels_match_one_thread(rng, m, n, k, ta, tb):
    # Each panel of A is packed once, by whichever tile gets to it first, and
    # read by the others; the slots are reused by the next call and must be
    # repacked for its A: two calls with different A, each bitwise equal to
    # the one-thread product (no sharing) and close to float64.
    b = randn(rng, n, k) if tb else randn(rng, k, n)
    for _ in range(2):
        a = randn(rng, k, m) if ta else randn(rng, m, k)

        def product(a=a):
            return gemm(a, b, trans_a=ta, trans_b=tb)

        one = at_threads(1, product)
        for t in (2, 3):
            np.testing.assert_array_equal(at_threads(t, product), one)
        ref, scale = gemm_reference(a, b, ta, tb, 1.0, 0.0, np.zeros((m, n), np.float32))
        assert np.all(np.abs(one - ref) <= 1e-5 * scale + 1e-6)


def test_gemm_from_python_threads(rng):
    # Kernels release the GIL and keep state per call: concurrent calls agree.
    from concurrent.futures import ThreadPoolExecutor
    pairs = [(randn(rng, 64, 96), randn(rng, 96, 80)) for _ in range(8)]
    expected = [gemm(a, b) for a, b in pairs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda ab: gemm(*ab), pairs))
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)


class TestBadInput:
    def test_wrong_dtype(self):
        with pytest.raises(TypeError, match="float32"):
            gemm(np.ones((2, 2)), np.ones((2, 2), np.float32))

    def test_not_an_array(self):
        with pytest.raises(TypeError, match="numpy.ndarray"):
            gemm([[1.0]], np.ones((1, 1), np.float32))

    def test_wrong_rank(self):
        with pytest.raises(ValueError, match="2 dimensions"):
            gemm(np.ones((2, 2, 2), np.float32), np.ones((2, 2), np.float32))

    def test_inner_mismatch_names_shapes(self):
        with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
            gemm(np.ones((2, 3), np.float32), np.ones((4, 5), np.float32))

    def test_non_contiguous(self):
        a = np.ones((4, 4), np.float32)
        with pytest.raises(ValueError, match="C-contiguous"):
            gemm(a.T, a)
        with pytest.raises(ValueError, match="C-contiguous"):
            gemm(a[::-1], a)

    def test_out_wrong_shape_dtype_contiguity(self):
        a = np.ones((3, 4), np.float32)
        b = np.ones((4, 5), np.float32)
        with pytest.raises(ValueError, match=r"\(3, 5\)"):
            gemm(a, b, out=np.empty((5, 3), np.float32))
        with pytest.raises(TypeError, match="float32"):
            gemm(a, b, out=np.empty((3, 5), np.float64))
        with pytest.raises(ValueError, match="C-contiguous"):
            gemm(a, b, out=np.empty((5, 3), np.float32).T)

    def test_out_read_only(self):
        out = np.empty((2, 2), np.float32)
        out.flags.writeable = False
        with pytest.raises(ValueError, match="read-only"):
            gemm(np.ones((2, 2), np.float32), np.ones((2, 2), np.float32), out=out)

    def test_out_aliasing_input(self):
        a = np.ones((3, 3), np.float32)
        with pytest.raises(ValueError, match="shares memory"):
            gemm(a, np.ones((3, 3), np.float32), out=a)

    def test_beta_without_out(self):
        with pytest.raises(ValueError, match="out="):
            gemm(np.ones((2, 2), np.float32), np.ones((2, 2), np.float32), beta=1.0)

    def test_unknown_backend(self):
        with pytest.raises(ValueError, match="unknown backend"):
            gemm(np.ones((2, 2), np.float32), np.ones((2, 2), np.float32), backend="fast")


# ---- k in two groups (gemm.cpp use_k_groups: C of <= 65536 elements, k >= 2048) -------------
# k falls into two equal runs (at multiples of 16), each a product of its own (the second into a
# buffer), added in a fixed order, then the epilogue. Every transposition, k not a multiple of 16
# (2049: a 1-step tail; 3001), rows and columns off every register tile, alpha/beta with poisoned
# C; the transposed product's inner GEMM (n = 49) and a 256-element-short C of 65536.
@pytest.mark.parametrize("m,n,k", [(7, 33, 2049), (37, 129, 3001), (64, 49, 2304), (255, 256, 2048)])
@pytest.mark.parametrize("trans_a,trans_b", list(itertools.product([False, True], repeat=2)))
def test_gemm_k_groups_against_float64(cpu_backend, rng, m, n, k, trans_a, trans_b):
    for alpha, beta in ((1.0, 0.0), (-0.5, 0.75)):
        check(rng, cpu_backend, m, n, k, trans_a, trans_b, alpha, beta)


# The groups depend on the shape alone: 1, 2 and 3 threads give the same bits, with the fused
# bias + ReLU applied once after the groups are added (linear_forward: x W^T + b).
@pytest.mark.parametrize("m,n,k,tb", [(64, 128, 4608, True), (50, 301, 2050, False), (130, 81, 3072, True)])
def test_gemm_k_groups_threads_bitwise(rng, m, n, k, tb):
    a, c0 = randn(rng, m, k), randn(rng, m, n)
    b = randn(rng, *((n, k) if tb else (k, n)))
    outs = [at_threads(t, lambda: gemm(a, b, trans_b=tb, alpha=0.75, beta=0.5, out=c0.copy())) for t in (1, 2, 3)]
    for o in outs[1:]:
        np.testing.assert_array_equal(outs[0], o)
    want, scale = gemm_reference(a, b, False, tb, 0.75, 0.5, c0)
    assert np.all(np.abs(outs[0] - want) <= 1e-5 * np.sqrt(k) * (1 + 4 * scale))
    if tb:
        check_linear_relu_threads(a, b, randn(rng, n))
