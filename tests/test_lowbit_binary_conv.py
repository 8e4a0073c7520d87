"""Binary convolution as an implicit GEMM over bits (issue 15): every path of the new loops, exact.

The loops (csrc/ops/binary/binary_kernels.h) take different routes by geometry: whole-word taps
(ICg a multiple of 64) vs dense taps (bits of consecutive taps packed without word padding),
interior blocks of 8 pixels gathered as a vector vs border blocks gathered pixel by pixel with the
padding correction (n + 2 * pad_pop per border pattern), the partial last block, channel panels
with a partial last panel, tiles and channel chunks over the threads. Each case is compared exactly
with the int64 sign convolution with zero padding, on every implementation this CPU runs, and the
output is poisoned (NaN) before the call that is checked.
"""
import numpy as np
import pytest
from test_lowbit import impls, pack_weight, ref_conv, sign

import dlcore
from dlcore.kernels import lowbit as K

CASES = [  # n, c, h, w, oc, kh, kw, stride, pad, dilation, groups
    (2, 1, 9, 10, 3, 3, 3, (1, 1), (1, 1), (1, 1), 1),       # 1 channel: dense, 9 bits per pixel row
    (1, 3, 11, 13, 5, 7, 7, (2, 2), (3, 3), (1, 1), 1),      # 7x7 stride 2, 3 channels
    (2, 63, 12, 12, 9, 3, 3, (1, 1), (1, 1), (1, 1), 1),     # 63: dense, words shared by taps
    (1, 65, 10, 17, 7, 3, 3, (1, 1), (2, 2), (1, 1), 1),     # 65: two words per tap, padding 2
    (1, 129, 9, 9, 6, 5, 5, (1, 1), (2, 2), (1, 1), 1),      # 129: three words, 5x5
    (2, 64, 16, 19, 13, 3, 3, (1, 1), (1, 1), (1, 1), 1),    # whole words, vector gather + border blocks
    (1, 128, 8, 24, 33, 3, 3, (1, 1), (1, 1), (1, 1), 1),    # whole words, 33 channels: partial panel
    (2, 96, 13, 13, 16, 5, 5, (1, 1), (2, 2), (1, 1), 2),    # AlexNet conv2-like: 48 per group, dense
    (1, 384, 7, 7, 10, 3, 3, (1, 1), (1, 1), (1, 1), 2),     # AlexNet conv4-like: 3 words per group
    (1, 64, 11, 12, 8, 3, 3, (2, 1), (1, 0), (1, 1), 1),     # stride (2, 1), asymmetric padding
    (1, 64, 14, 15, 5, 3, 3, (1, 1), (2, 2), (2, 2), 1),     # dilation 2
    (1, 70, 9, 11, 6, 3, 3, (1, 2), (1, 1), (2, 1), 2),      # grouped, dilated rows, column stride 2
    (3, 64, 5, 9, 4, 1, 1, (1, 1), (0, 0), (1, 1), 1),       # 1x1, no padding
    (1, 64, 4, 5, 3, 1, 1, (1, 1), (2, 2), (1, 1), 1),       # 1x1 padding 2: pixels with no valid tap
    (1, 64, 3, 3, 2, 3, 3, (1, 1), (4, 4), (1, 1), 1),       # padding wider than the kernel
    (1, 5, 1, 1, 3, 3, 3, (1, 1), (1, 1), (1, 1), 1),        # 1x1 image, 3x3 kernel
]


def _case_id(c):
    n, ch, h, w, oc, kh, kw, st, pd, dl, g = c
    return f"n{n}c{ch}_{h}x{w}_oc{oc}_k{kh}x{kw}_s{st[0]}{st[1]}_p{pd[0]}{pd[1]}_d{dl[0]}{dl[1]}_g{g}"


def _run(x, wt, c, stride, pad, dil, groups, impl, scale=None, bias=None):
    return K.binary_conv2d(K.binary_pack_nchw(x, groups), pack_weight(wt), c, stride, pad, dil, groups, scale, bias,
                           backend=impl)


@pytest.mark.parametrize("impl", impls("binary_conv2d"))
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_binary_conv2d_paths_exact(impl, case, rng):
    n, c, h, w, oc, kh, kw, stride, pad, dil, groups = case
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    x[0, 0, 0, 0] = 0.0  # sign(0) = +1
    wt = rng.standard_normal((oc, c // groups, kh, kw)).astype(np.float32)
    ref = ref_conv(sign(x), sign(wt), 0, stride, pad, dil, groups)
    # Poison: a NaN-filled output of the same size, freed just before, is the block the checked call
    # gets back in most cases (dlcore's host cache from 1 MB, malloc's free lists below: 11 of
    # these 16 cases on the development machine); unwritten outputs would then stay NaN.
    y = _run(x, wt, c, stride, pad, dil, groups, impl)
    y.fill(np.nan)
    del y
    y = _run(x, wt, c, stride, pad, dil, groups, impl)
    assert y.shape == ref.shape and not np.isnan(y).any()
    np.testing.assert_array_equal(y, ref.astype(np.float32))
    scale = (rng.random(oc) + 0.5).astype(np.float32)
    bias = rng.standard_normal(oc).astype(np.float32)
    ys = _run(x, wt, c, stride, pad, dil, groups, impl, scale, bias)
    expect = scale.reshape(1, -1, 1, 1) * ref + bias.reshape(1, -1, 1, 1)
    np.testing.assert_allclose(ys, expect, rtol=1e-6, atol=1e-6 * max(1.0, np.abs(expect).max()))


@pytest.mark.parametrize("impl", impls("binary_conv2d"))
def test_binary_conv2d_padding_correction_on_every_border(impl, rng):
    # All-ones input bits and weights with distinct popcounts per tap: every border pattern of a
    # 5x5 kernel with padding 2 (25 of them) gives a different count; any wrong correction shows.
    x = np.ones((1, 64, 7, 9), np.float32)
    wt = rng.standard_normal((6, 64, 5, 5)).astype(np.float32)
    for t in range(25):
        wt[:, : 2 * t + 1, t // 5, t % 5] = 1.0  # tap t: at least 2t+1 positive weights
    ref = ref_conv(sign(x), sign(wt), 0, (1, 1), (2, 2), (1, 1), 1)
    np.testing.assert_array_equal(_run(x, wt, 64, 1, 2, 1, 1, impl), ref.astype(np.float32))
    x = rng.standard_normal((2, 64, 7, 9)).astype(np.float32)
    ref = ref_conv(sign(x), sign(wt), 0, (1, 1), (2, 2), (1, 1), 1)
    np.testing.assert_array_equal(_run(x, wt, 64, 1, 2, 1, 1, impl), ref.astype(np.float32))


@pytest.mark.parametrize("impl", impls("binary_conv2d"))
def test_binary_conv2d_threads_bitwise_equal(impl, rng):
    x = rng.standard_normal((1, 192, 13, 13)).astype(np.float32)
    wt = rng.standard_normal((40, 96, 3, 3)).astype(np.float32)
    old = dlcore.get_num_threads()
    try:
        outs = []
        for t in (1, 2, 3):
            dlcore.set_num_threads(t)
            outs.append(_run(x, wt, 192, 1, 1, 1, 2, impl))
    finally:
        dlcore.set_num_threads(old)
    ref = ref_conv(sign(x), sign(wt), 0, (1, 1), (1, 1), (1, 1), 2)
    for y in outs:
        np.testing.assert_array_equal(y, ref.astype(np.float32))
