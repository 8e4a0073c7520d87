"""GEMM with A read in place (issue 17): where op(A) = A, the AVX-512 micro-kernels broadcast A
straight from its rows (C with >= 4 panels of columns), or from a plain copy of them (gemm.cpp
a_mode), instead of packing it into panels; the AVX2 ones read it in place where C has 4-32
panels of 16 columns and pack it otherwise. Checked on every row remainder of the 12-row tile,
full, right-edge and corner tiles, k past the cache block, alpha/beta with poisoned C, the fused epilogue and 1/2/3
threads, against float64; and bitwise against the same A given transposed (read in place by
columns, or packed where its rows crowd the L1 sets), which computes each element with the same
FMAs in the same order."""
import numpy as np
import pytest

import dlcore.kernels as K
from opcheck import at_threads, check_linear_relu_threads, gemm_reference, poisoned, randn

ROWS = (1, 2, 3, 5, 7, 11, 12, 13, 17, 33, 129, 138)
# >= 4 panels of 32 (direct on AVX-512): full width, right edges of 15 and 31 columns.
COLS = (128, 143, 159, 200)




@pytest.mark.parametrize("m", ROWS)
@pytest.mark.parametrize("n", COLS)
def test_direct_a_against_float64(cpu_backend, rng, m, n):
    for k, tb, alpha, beta in ((37, False, 1.0, 0.0), (577, True, -0.5, 1.0), (5, False, 2.0, 0.5)):
        a = randn(rng, m, k)
        b = randn(rng, *((n, k) if tb else (k, n)))
        c0 = randn(rng, m, n)
        out = c0.copy() if beta != 0.0 else poisoned((m, n))
        got = K.gemm(a, b, trans_b=tb, alpha=alpha, beta=beta, out=out, backend=cpu_backend)
        want, scale = gemm_reference(a, b, False, tb, alpha, beta, c0)
        assert np.all(np.isfinite(got)), "unwritten (NaN) elements"
        err = np.abs(got.astype(np.float64) - want)
        assert np.all(err <= 1e-5 * np.sqrt(k) * (1 + 4 * scale)), f"m={m} n={n} k={k}: {err.max():.3g}"


def dot_edge_cols(n):
    """Columns at C's right edge that the kernel that ran last computes as dot products where it
    reads A's rows (gemm.cpp dot_edge_cols: AVX-512, an edge of at most 8 columns, or the last 1-8
    of an edge of 17-24): within rounding of the broadcast kernels there, not bitwise."""
    edge = n % 32
    if K.last_dispatch() != "gemm:gemm_avx512_12x32" or edge == 0:
        return 0
    return edge if edge <= 8 else edge - 16 if 16 < edge <= 24 else 0


def copies_a_in_long_blocks(n, k):
    """Whether the kernel that ran last copies A's rows (gemm.cpp a_mode) in k blocks of its own
    (kc_copied: the AVX-512 kernel's 2048): fewer than 4 panels of 32, or lda = k a multiple of
    1024 (rows in one L1 set)."""
    return K.last_dispatch() == "gemm:gemm_avx512_12x32" and (n <= 96 or k % 1024 == 0)


@pytest.mark.parametrize("m,k", [(1, 3), (13, 37), (131, 300), (40, 1100), (29, 1024), (29, 1536), (31, 2100)])
@pytest.mark.parametrize("n", (64, 160))
def test_direct_a_bitwise_equals_packed(cpu_backend, rng, m, n, k):
    # n = 160 reads A in place, n = 64 (2 panels) and lda = 1024 (rows in one L1 set) copy its rows
    # first; lda = 1536 (rows in two L1 sets) reads it in place; the same A given transposed
    # (trans_a) is read by columns (lda = m): bitwise equal where both block k alike. A copied takes
    # k blocks of up to 2048 on AVX-512 (kc_copied) where the others take 512: for k > 512 there the
    # sums group differently, so those are held to the float64 product instead.
    a, b, c0 = randn(rng, m, k), randn(rng, k, n), randn(rng, m, n)
    at = np.ascontiguousarray(a.T)
    for alpha, beta in ((1.0, 0.0), (0.75, 0.5)):
        direct = K.gemm(a, b, alpha=alpha, beta=beta, out=c0.copy(), backend=cpu_backend)
        long_blocks = k > 512 and copies_a_in_long_blocks(n, k)
        packed = K.gemm(at, b, trans_a=True, alpha=alpha, beta=beta, out=c0.copy(), backend=cpu_backend)
        if long_blocks:
            want, scale = gemm_reference(a, b, False, False, alpha, beta, c0)
            for got in (direct, packed):
                err = np.abs(got.astype(np.float64) - want)
                assert np.all(err <= 1e-5 * np.sqrt(k) * (1 + 4 * scale)), f"m={m} n={n} k={k}: {err.max():.3g}"
        else:
            np.testing.assert_array_equal(direct, packed)


# 200 x 2100 and 150 x 1300: A in place with tiles of >= 256 columns, whose grid counts A's
# tile-column passes as a quarter of a packing (gemm.cpp a_packings): 200 x 2100 runs 1 x 8 tiles
# instead of 2 x 4 at 2 threads, 150 x 1300 2 x 5 instead of 1 x 9 at 3. The last two copy A
# (2 panels; lda 2048) in k blocks of up to 2048 on AVX-512 (two of 1050; one of 2048), and 40 x 64 x 4500
# in three of 1500.
@pytest.mark.parametrize("m,n,k", [(131, 200, 129), (128, 128, 128), (17, 300, 577), (200, 2100, 300),
                                   (150, 1300, 577), (40, 64, 2100), (150, 300, 2048),
                                   (40, 64, 4500)])
def test_direct_a_threads_bitwise(rng, m, n, k):
    a, b, c0 = randn(rng, m, k), randn(rng, k, n), randn(rng, m, n)
    outs = [at_threads(t, lambda: K.gemm(a, b, alpha=0.75, beta=0.5, out=c0.copy())) for t in (1, 2, 3)]
    for o in outs[1:]:
        np.testing.assert_array_equal(outs[0], o)
    want, _ = gemm_reference(a, b, False, False, 0.75, 0.5, c0)
    np.testing.assert_allclose(outs[0], want, rtol=1e-4, atol=1e-4 * np.sqrt(k))


def test_direct_a_fused_bias_relu(cpu_backend, rng):
    # linear_forward (y = x W^T + b, ReLU): x read in place, epilogue on every tile.
    m, k, n = 131, 65, 150
    x, w, bias = randn(rng, m, k), randn(rng, n, k), randn(rng, n)
    outs = [at_threads(t, lambda: K.linear_forward(x, w, bias, activation="relu", backend=cpu_backend))
            for t in (1, 2, 3)]
    for o in outs[1:]:
        np.testing.assert_array_equal(outs[0], o)
    want = K.relu_forward(K.gemm(x, w, trans_b=True, backend=cpu_backend) + bias, 0.0)
    np.testing.assert_array_equal(outs[0], want)


@pytest.mark.parametrize("ta", (False, True))
def test_direct_a_panel_limit_bitwise(cpu_backend, rng, ta):
    # AVX2 reads A in place (by rows, or by columns given transposed) up to 32 panels of 16 columns
    # (n = 512) and packs it past them (n = 513): the same FMAs in the same order, so the 512
    # columns they share are bitwise equal (on AVX-512 both read A in place).
    m, k = 37, 300
    a, b = randn(rng, *((k, m) if ta else (m, k))), randn(rng, k, 513)
    wide = K.gemm(a, b, trans_a=ta, out=poisoned((m, 513)), backend=cpu_backend)
    narrow = K.gemm(a, np.ascontiguousarray(b[:, :512]), trans_a=ta, out=poisoned((m, 512)), backend=cpu_backend)
    np.testing.assert_array_equal(wide[:, :512], narrow)
    want, scale = gemm_reference(a, b, ta, False, 1.0, 0.0, np.zeros((m, 513)))
    assert_gemm_close(wide, want, scale, k)


@pytest.mark.parametrize("k", (1024, 2048, 5120))
def test_rows_sharing_an_l1_set_are_copied_and_right(cpu_backend, rng, k):
    # lda a multiple of 1024 floats: A's rows are copied with another stride first (a_mode; AVX2
    # packs them).
    m, n = 25, 130
    a, b = randn(rng, m, k), randn(rng, k, n)
    got = K.gemm(a, b, out=poisoned((m, n)), backend=cpu_backend)
    want, scale = gemm_reference(a, b, False, False, 1.0, 0.0, np.zeros((m, n)))
    assert np.all(np.abs(got - want) <= 1e-5 * np.sqrt(k) * (1 + 4 * scale))


# ---- B read in place (gemm.cpp b_in_place) ---------------------------------------------------
def assert_gemm_close(got, want, scale, k, what=""):
    assert np.all(np.abs(got - want) <= 1e-5 * np.sqrt(k) * (1 + 4 * scale)), what


# With A not packed, op(B) = B and tiles of at most MC = 144 rows, the micro-kernels load B's
# full-width panels where they lie (the right edge of 15 / 31 columns stays packed). trans_a packs
# A and with it B: the same FMAs in the same order, so bitwise equal. m = 145 is two row blocks at
# one thread (B packed there), k = 1100 three k blocks, lda = 1024 copies A's rows first (in one
# k block of 1024 on AVX-512, where the packed path takes two: held to float64 alone there).
# n = 4001 ends in one column, which runs as dot products (dot_edge_cols): bitwise to its left.
@pytest.mark.parametrize("m", (1, 7, 12, 25, 143, 144, 145))
@pytest.mark.parametrize("n,k", [(128, 37), (175, 1100), (4001, 5), (161, 1024)])
def test_b_in_place_bitwise_equals_packed(cpu_backend, rng, m, n, k):
    a, b, c0 = randn(rng, m, k), randn(rng, k, n), randn(rng, m, n)
    at = np.ascontiguousarray(a.T)
    for alpha, beta in ((1.0, 0.0), (-0.5, 1.0)):
        out = c0.copy() if beta != 0.0 else poisoned((m, n))
        in_place = K.gemm(a, b, alpha=alpha, beta=beta, out=out, backend=cpu_backend)
        long_blocks = k > 512 and copies_a_in_long_blocks(n, k)  # k = 1024 in one block there
        bitwise = n - dot_edge_cols(n)
        packed = K.gemm(at, b, trans_a=True, alpha=alpha, beta=beta, out=c0.copy(), backend=cpu_backend)
        if not long_blocks:
            np.testing.assert_array_equal(in_place[:, :bitwise], packed[:, :bitwise])
        want, scale = gemm_reference(a, b, False, False, alpha, beta, c0)
        assert_gemm_close(in_place, want, scale, k, f"m={m} n={n} k={k}")


# B in place: 256 x 256 and 290 x 160 are one tile of > 144 rows at one thread (B packed) and
# tiles of <= 144 rows at two and three (B in place). A given transposed (trans_a) is read by
# columns (AMode::columns, below). The results must not tell.
@pytest.mark.parametrize("m,n,k", [(256, 256, 300), (290, 160, 700), (100, 3000, 64), (131, 200, 129)])
@pytest.mark.parametrize("ta", (False, True))
def test_in_place_threads_bitwise(rng, m, n, k, ta):
    a, b, c0 = randn(rng, *((k, m) if ta else (m, k))), randn(rng, k, n), randn(rng, m, n)
    outs = [at_threads(t, lambda: K.gemm(a, b, trans_a=ta, alpha=0.75, beta=0.5, out=c0.copy())) for t in (1, 2, 3)]
    for o in outs[1:]:
        np.testing.assert_array_equal(outs[0], o)
    want, scale = gemm_reference(a, b, ta, False, 0.75, 0.5, c0)
    assert_gemm_close(outs[0], want, scale, k)


def test_b_in_place_conv1x1_with_bias(cpu_backend, rng):
    # A 1x1 convolution is one GEMM an image, W (40 x 24) times the image's (24 x 33*35) pixels:
    # B = the input, read in place, with the bias epilogue on every tile; its last 3 pixels
    # (1155 = 36 x 32 + 3) run as dot tiles on a k-contiguous copy (dot_edge_cols).
    x, w, bias = randn(rng, 3, 24, 33, 35), randn(rng, 40, 24, 1, 1), randn(rng, 40)
    outs = [at_threads(t, lambda: K.conv2d_forward(x, w, bias, stride=1, padding=0, backend=cpu_backend))
            for t in (1, 2, 3)]
    for o in outs[1:]:
        np.testing.assert_array_equal(outs[0], o)
    ref = np.einsum("nchw,oc->nohw", x.astype(np.float64), w[:, :, 0, 0].astype(np.float64)) + bias[:, None, None]
    np.testing.assert_allclose(outs[0], ref, rtol=1e-4, atol=1e-4 * np.sqrt(24))


# ---- C's right edge as dot products (gemm.cpp dot_edge_cols) ------------------------------------
# Where A's rows are read (in place, or copied: k = 1024, 2 panels), a right edge of 1-8 columns
# runs as 4 x 4 dot tiles along k: B^T's rows in place, or B's edge columns copied k-contiguous;
# an edge of 17-24 runs its first 16 columns broadcast and the rest as dots. Every row remainder
# of the 12-row tile, edges of 1, 3, 4, 5, 7, 8 (dots), 9 (broadcast), 17, 20, 24 (split) and 25
# (broadcast) columns, k tails of the 16-lane dot loop, k past the cache block, alpha/beta with
# poisoned C.
@pytest.mark.parametrize("m", (1, 3, 4, 5, 11, 12, 13, 29, 150))
@pytest.mark.parametrize("edge", (1, 3, 4, 5, 7, 8, 9, 17, 20, 24, 25))
@pytest.mark.parametrize("tb", (False, True))
def test_right_edge_dots_against_float64(cpu_backend, rng, m, edge, tb):
    for n0, k, alpha, beta in ((128, 37, 1.0, 0.0), (128, 1100, -0.5, 1.0), (32, 1024, 0.75, 0.5), (160, 5, 2.0, 0.0)):
        n = n0 + edge
        a, c0 = randn(rng, m, k), randn(rng, m, n)
        b = randn(rng, *((n, k) if tb else (k, n)))
        out = c0.copy() if beta != 0.0 else poisoned((m, n))
        got = K.gemm(a, b, trans_b=tb, alpha=alpha, beta=beta, out=out, backend=cpu_backend)
        want, scale = gemm_reference(a, b, False, tb, alpha, beta, c0)
        assert np.all(np.isfinite(got)), "unwritten (NaN) elements"
        assert_gemm_close(got, want, scale, k, f"m={m} n={n} k={k} tb={tb}")


# The edge's dot tiles by 1/2/3 threads, with the fused bias + ReLU on them (linear_forward,
# x W^T: W's last 6 rows read in place). B's edge copied k-contiguous: the 1x1 convolution above
# (1155 = 36 x 32 + 3 pixels).
def test_right_edge_dots_threads_and_epilogue(cpu_backend, rng):
    check_linear_relu_threads(randn(rng, 150, 300), randn(rng, 5 * 32 + 6, 300), randn(rng, 5 * 32 + 6), cpu_backend)


# ---- op(A) = A^T read in place (gemm.cpp a_mode, AMode::columns) ------------------------------
# A given transposed is read where it lies (a k step's MR values are contiguous in A's row p)
# unless its rows lda apart crowd the L1 sets: lda = m = 512 or 1024 packs it. Whatever the
# layout, the FMAs are the same: bitwise the product of A given as it is.
@pytest.mark.parametrize("m", (1, 7, 12, 13, 25, 131, 145, 512, 1024))
@pytest.mark.parametrize("n,k,tb", [(175, 1100, False), (64, 37, False), (160, 300, True)])
def test_a_columns_in_place_bitwise(cpu_backend, rng, m, n, k, tb):
    a, c0 = randn(rng, m, k), randn(rng, m, n)
    b = randn(rng, *((n, k) if tb else (k, n)))
    at = np.ascontiguousarray(a.T)
    for alpha, beta in ((1.0, 0.0), (-0.5, 1.0)):
        out = c0.copy() if beta != 0.0 else poisoned((m, n))
        cols = K.gemm(at, b, trans_a=True, trans_b=tb, alpha=alpha, beta=beta, out=out, backend=cpu_backend)
        rows = K.gemm(a, b, trans_b=tb, alpha=alpha, beta=beta, out=c0.copy(), backend=cpu_backend)
        if not (tb and (m <= 16 or n <= 32)):  # there A as it is takes the dot tiles (gemm.cpp use_dot)
            np.testing.assert_array_equal(cols, rows)
        want, scale = gemm_reference(at, b, True, tb, alpha, beta, c0)
        assert_gemm_close(cols, want, scale, k, f"m={m} n={n} k={k}")
