"""GEMM through the transposed product (issue 17): where C's columns fill their register tiles
badly (N = 49: a right edge of 17 columns runs 32 lanes) and k >= 128, the float32 GEMM computes
C^T = op(B)^T op(A)^T into a buffer and adds it back into C (gemm.cpp use_transposed; on every
CPU path, by shape alone). Checked against float64 on every transpose combination, alpha/beta
with poisoned C, the fused bias + ReLU, convolutions whose GEMMs take it (7x7 outputs,
batched products), and 1/2/3 threads bitwise."""
import numpy as np
import pytest

import dlcore.kernels as K
from opcheck import at_threads, check_linear_relu_threads, gemm_reference, poisoned, randn

# (m, n, k): n with a wasteful right edge, m large; k at and past the KC block.
SHAPES = [(512, 49, 129), (131, 49, 577), (200, 17, 300), (97, 81, 1100), (64, 49, 128)]




@pytest.mark.parametrize("m,n,k", SHAPES)
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_transposed_product_against_float64(cpu_backend, rng, m, n, k, ta, tb):
    a = randn(rng, *((k, m) if ta else (m, k)))
    b = randn(rng, *((n, k) if tb else (k, n)))
    c0 = randn(rng, m, n)
    for alpha, beta in ((1.0, 0.0), (-0.5, 1.0), (2.0, 0.5)):
        out = c0.copy() if beta != 0.0 else poisoned((m, n))
        got = K.gemm(a, b, trans_a=ta, trans_b=tb, alpha=alpha, beta=beta, out=out, backend=cpu_backend)
        want, scale = gemm_reference(a, b, ta, tb, alpha, beta, c0)
        assert np.all(np.isfinite(got)), "unwritten (NaN) elements"
        err = np.abs(got.astype(np.float64) - want)
        assert np.all(err <= 1e-5 * np.sqrt(k) * (1 + 4 * scale)), f"{m}x{n}x{k} ta={ta} tb={tb}: {err.max():.3g}"


@pytest.mark.parametrize("m,n,k", SHAPES[:3])
def test_transposed_product_threads_bitwise(rng, m, n, k):
    a, b, c0 = randn(rng, m, k), randn(rng, k, n), randn(rng, m, n)
    outs = [at_threads(t, lambda: K.gemm(a, b, alpha=0.75, beta=0.5, out=c0.copy())) for t in (1, 2, 3)]
    for o in outs[1:]:
        np.testing.assert_array_equal(outs[0], o)


def test_transposed_product_fused_bias_relu(cpu_backend, rng):
    # y = relu(x W^T + b) with 49 outputs: the epilogue runs after the add-back.
    m, k, n = 200, 300, 49
    check_linear_relu_threads(randn(rng, m, k), randn(rng, n, k), randn(rng, n), cpu_backend)


@pytest.mark.parametrize("kernel,pad", [(1, 0), (3, 1)])
def test_conv_with_7x7_outputs_against_float64(cpu_backend, rng, kernel, pad):
    # ResNet-50's last stage: 7x7 outputs. The 1x1 conv is one GEMM an image with N = 49
    # (conv2d_forward_*_gemm1x1, batched products); the 3x3 runs the direct kernels beside it.
    x, w, bias = randn(rng, 3, 160, 7, 7), randn(rng, 131, 160, kernel, kernel), randn(rng, 131)
    y = K.conv2d_forward(x, w, bias, stride=1, padding=pad, backend=cpu_backend)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ref = np.zeros((3, 131, 7, 7)) + bias[None, :, None, None]
    for i in range(kernel):
        for j in range(kernel):
            ref += np.einsum("nchw,oc->nohw", xp[:, :, i:i + 7, j:j + 7], w[:, :, i, j].astype(np.float64))
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4 * np.sqrt(160 * kernel * kernel))
