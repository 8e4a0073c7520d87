"""Convolution forward / backward-data / backward-weights against a float64 NumPy reference.

Every CPU path we can run (ref, avx2, avx512) is checked on many small cases
that together cover: batch 1 and > 1; channels 1, 3, 16, 17, 33; odd, even and
non-square spatial sizes; kernels 1x1 .. 11x11 and non-square; stride 1-4;
padding 0-3 (symmetric and asymmetric); dilation 1-2; groups 1, 2, depthwise.
Before the checked call the kernel's scratch memory is poisoned with NaN, so a
blocked-layout element the kernel forgets to write (padding, channel tails)
shows up in the result.
"""
import numpy as np
import pytest

import dlcore
from dlcore import _C
from dlcore.kernels import conv2d_backward_data, conv2d_backward_weights, conv2d_forward
from opcheck import randn
from optable import conv_backward_data_ref, conv_backward_weights_ref, conv_ref


def assert_conv_close(got, expected, scale, reduction, what):
    """|got - expected| <= tol * (sum of |terms|): float32 accumulation over `reduction` terms."""
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    assert got.dtype == np.float32
    assert np.all(np.isfinite(got)), f"{what}: {np.sum(~np.isfinite(got))} non-finite (unwritten?) elements"
    tol = 4e-6 * max(1, reduction) ** 0.5
    err = np.abs(got.astype(np.float64) - expected)
    bad = err > 1e-6 + tol * scale
    assert not bad.any(), (f"{what}: {bad.sum()} of {bad.size} elements off, max err {err.max():.3g}, "
                           f"first at {tuple(np.argwhere(bad)[0])}")


# ---------------------------------------------------------------------------
# Cases: (N, C, H, W, O, KH, KW, stride, padding, dilation, groups)
# ---------------------------------------------------------------------------
CASES = [
    (1, 1, 7, 9, 3, 3, 3, 1, 1, 1, 1),              # single channel, odd non-square
    (2, 3, 12, 10, 16, 5, 5, 2, 2, 1, 1),           # RGB-like input, stride 2, even sizes
    (2, 16, 9, 8, 17, 1, 1, 1, 0, 1, 1),            # 1x1, one full block in, 17 out (block tail)
    (1, 17, 11, 13, 33, 3, 3, 1, 1, 2, 1),          # dilation 2, channel tails both sides
    (3, 33, 8, 7, 16, 3, 1, (1, 2), (1, 0), 1, 1),  # non-square kernel and stride, batch 3
    (1, 3, 27, 27, 8, 11, 11, 4, 0, 1, 1),          # AlexNet conv1 style: 11x11, stride 4
    (2, 8, 15, 14, 12, 7, 7, 2, 3, 1, 1),           # ResNet conv1 style: 7x7, stride 2, pad 3
    (2, 16, 9, 9, 34, 3, 3, 1, 1, 1, 2),            # groups 2, 17 outputs per group
    (1, 34, 10, 11, 16, 5, 5, 1, 2, 1, 2),          # groups 2, 17 inputs per group
    (2, 17, 10, 9, 17, 3, 3, 1, 1, 1, 17),          # depthwise
    (1, 16, 11, 12, 16, 5, 5, 2, 2, 2, 16),         # depthwise, stride 2, dilation 2
    (2, 5, 10, 12, 7, 2, 4, 3, (0, 1, 2, 3), (2, 1), 1),  # asymmetric padding, mixed dilation
    (1, 32, 14, 14, 64, 1, 1, 2, 0, 1, 1),          # 1x1 stride 2 (ResNet downsample): GEMM path
    (2, 8, 5, 6, 12, 1, 1, 1, 0, 1, 2),             # 1x1 groups 2: GEMM path per group
    (3, 6, 5, 7, 9, 1, 1, (2, 3), 0, 1, 3),         # 1x1 strided, groups 3, batch 3
    (1, 9, 4, 5, 7, 1, 1, 2, 1, 1, 1),              # padded 1x1: the direct path
    (1, 5, 4, 6, 6, 1, 2, 1, (1, 2), 1, 1),         # stride 1, padding past the kernel: scatter dx
    (2, 4, 2, 3, 6, 5, 5, 1, 2, 1, 1),              # kernel larger than the input, fits the padding
    (1, 17, 5, 33, 9, 3, 3, 1, 1, 1, 1),            # 33 output columns: every register-tile tail
    (1, 8, 3, 65, 8, 3, 3, 1, 1, 1, 1),             # long rows
    (2, 20, 12, 12, 50, 5, 5, 1, 0, 1, 1),          # LeNet conv2
    (1, 24, 9, 10, 20, 3, 2, 3, (3, 2), 1, 1),      # stride 3, padding 3
    (2, 4, 9, 13, 6, 3, 5, (2, 1), 1, 2, 2),        # 2 channels per group (narrow path), dilation 2
    (2, 40, 17, 15, 40, 3, 3, 1, 1, 1, 1),          # 5 blocks: oc groups 3+2, ic chunks 2+2+1, row blocks
    (1, 33, 7, 7, 80, 3, 3, 1, 1, 1, 1),            # ResNet res5-like 7x7: whole image per work item
    (2, 7, 4, 5, 9, 3, 2, 2, (3, 1, 2, 2), (2, 1), 1),  # blocked, padding past the kernel: taps skipped
    (2, 16, 4, 4, 20, 3, 3, 1, 1, 1, 1),            # ResNet-18 layer2-like 4x4: the edge rows' taps skipped
    # Narrow inputs (<= 4 channels per group): backward data as GEMM + col2im on avx2/avx512.
    (2, 3, 13, 17, 7, 3, 4, (3, 2), (0, 2, 3, 1), (2, 1), 1),  # stride 3x2, asymmetric padding, dilation
    (1, 3, 4, 2, 5, 2, 5, 1, (1, 0, 0, 4), 1, 1),   # taps past the right edge (only padding there)
    (2, 3, 9, 11, 15, 3, 3, 2, 1, 1, 3),            # 1 channel and 5 outputs per group (not depthwise)
    (3, 2, 8, 9, 9, 7, 7, 2, 3, 1, 1),              # ResNet conv1 style on 2 channels, batch 3
    # One output block (<= 8 channels): the single-block tile is 1 x 12 columns on AVX2 (conv_kernels.h
    # TileShape::RW1); rows of 12, 13, 29 and 37 columns cut into 1, 2, 3 and 4 tiles.
    (2, 1, 28, 29, 6, 5, 5, 1, 2, 1, 1),            # LeNet conv1 (narrow forward), 29 columns
    (2, 6, 14, 14, 16, 5, 5, 1, 0, 1, 1),           # LeNet conv2: backward data to 6 channels, 14 columns
    (2, 3, 5, 12, 4, 3, 3, 1, 1, 1, 1),             # exactly one 12-column tile, both ways
    (1, 5, 6, 13, 8, 3, 3, 1, 1, 1, 1),             # blocked forward, one block, 13 columns; dx 5 channels
    (1, 16, 9, 37, 5, 3, 3, 1, 1, 1, 1),            # blocked forward, one block, 37 columns
    # 5-8 input channels per group: the narrow forward / backward weights on avx512 (up to half its 16
    # lanes, conv.h use_narrow), the blocked kernels on avx2; backward data keeps gather/scatter.
    (2, 7, 11, 13, 20, 3, 3, 1, 1, 1, 1),           # 7 channels, 2 output blocks on avx512
    (1, 16, 9, 10, 6, 3, 5, 2, (1, 2), 1, 2),       # groups 2 of 8 channels, stride 2: the scatter dx
    (2, 6, 10, 9, 33, 5, 3, 1, 2, (2, 1), 1),       # 6 channels, dilation, 3 output blocks
    (3, 5, 8, 31, 17, 2, 7, (1, 2), (0, 3), 1, 1),  # 5 channels, a wide kernel, stride 1x2
    # Backward weights at stride 1 on 8-lane vectors: kernel columns in passes of up to 3 sharing each
    # broadcast (conv_kernels.h weights_row_sliding), images in chunks of 256 KiB of x and dy.
    (9, 8, 30, 30, 16, 3, 3, 1, 1, 1, 1),           # 9 images in chunks of 4 + 4 + 1
    (2, 6, 9, 21, 10, 3, 7, 1, (1, 1, 4, 2), (1, 2), 1),  # 7 columns: passes 3+2+2, dilation 2, padding 4 / 2
    (1, 9, 6, 8, 12, 2, 5, (2, 1), (0, 1, 3, 0), 1, 1),   # 7 columns, stride 2 down, left padding 3
    # Outputs of <= 4 pixels: GEMMs over the minibatch on avx2/avx512 (conv_fold.cpp), dead taps dropped.
    (3, 20, 1, 1, 24, 3, 3, 1, 1, 1, 1),            # 1x1 image, pad 1: 8 of 9 taps read only padding
    (2, 16, 2, 2, 18, 3, 3, 1, 1, 1, 1),            # ResNet-18 layer4-like 2x2, every tap live
    (2, 12, 4, 3, 10, 3, 3, 2, 1, 1, 2),            # stride 2, groups 2 -> 2x2 output
    (1, 9, 3, 3, 5, 2, 2, 1, 0, 2, 1),              # dilation 2 -> 1x1 output
    (4, 8, 2, 5, 6, 3, 3, (1, 3), (1, 0, 2, 1), 1, 1),  # asymmetric padding and stride -> 1x2
]


def case_id(c):
    n, ch, h, w, o, kh, kw, s, p, d, g = c
    return f"n{n}c{ch}x{h}x{w}-o{o}k{kh}x{kw}-s{s}p{p}d{d}g{g}".replace(" ", "")


def run_poisoned(fn):
    """Runs fn twice: the first call sizes the scratch, the second sees it full of NaN."""
    fn()
    _C._conv_poison_scratch()
    return fn()


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_conv_all_passes_match_float64(cpu_backend, rng, case):
    n, c, h, wd, o, kh, kw, stride, padding, dilation, groups = case
    x = randn(rng, n, c, h, wd)
    w = randn(rng, o, c // groups, kh, kw)
    b = randn(rng, o)
    hp = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    k = (c // groups) * kh * kw

    y = run_poisoned(lambda: conv2d_forward(x, w, b, **hp, backend=cpu_backend))
    y_ref = conv_ref(x, w, b, stride, padding, dilation, groups)
    y_scale = conv_ref(np.abs(x), np.abs(w), np.abs(b), stride, padding, dilation, groups)
    assert_conv_close(y, y_ref, y_scale, k, f"forward {cpu_backend}")

    dy = randn(rng, *y_ref.shape)
    dx = run_poisoned(lambda: conv2d_backward_data(dy, w, x.shape, **hp, backend=cpu_backend))
    dx_ref = conv_backward_data_ref(dy, w, x.shape, stride, padding, dilation, groups)
    dx_scale = conv_backward_data_ref(np.abs(dy), np.abs(w), x.shape, stride, padding, dilation, groups)
    assert_conv_close(dx, dx_ref, dx_scale, (o // groups) * kh * kw, f"backward_data {cpu_backend}")

    dw, db = run_poisoned(lambda: conv2d_backward_weights(x, dy, w.shape, **hp, backend=cpu_backend))
    dw_ref, db_ref = conv_backward_weights_ref(x, dy, w.shape, stride, padding, dilation, groups)
    dw_scale, db_scale = conv_backward_weights_ref(np.abs(x), np.abs(dy), w.shape, stride, padding, dilation, groups)
    terms = n * y_ref.shape[2] * y_ref.shape[3]
    assert_conv_close(dw, dw_ref, dw_scale, terms, f"backward_weights dw {cpu_backend}")
    assert_conv_close(db, db_ref, db_scale, terms, f"backward_weights db {cpu_backend}")


# Depthwise (one input channel per group, at most 4 outputs per group): its
# own kernels on avx2/avx512 (depthwise_kernels.h), channel-blocked for one
# output per group, NCHW planes for more. Widths hit every
# remainder of 4 vectors of 8 or 16 and a single partial vector; strides 1-3
# with dilation and asymmetric padding exercise the column phases.
DEPTHWISE_CASES = [
    # (N, C, H, W, multiplier, KH, KW, stride, padding, dilation)
    (2, 5, 9, 33, 1, 3, 3, 1, 1, 1),
    (1, 3, 7, 7, 1, 3, 3, 2, 1, 1),
    (3, 4, 12, 17, 2, 3, 3, 2, (1, 0, 2, 1), 1),
    (1, 6, 11, 40, 4, 5, 5, 1, 2, 2),
    (2, 3, 10, 65, 1, 3, 2, 3, (0, 2), (2, 1)),
    (1, 7, 5, 1, 1, 3, 3, 1, 1, 1),
    (2, 2, 8, 9, 3, 1, 1, 2, 0, 1),
    (1, 16, 14, 14, 1, 3, 3, 2, 1, 1),
    (1, 8, 20, 129, 1, 7, 7, (1, 2), 3, 1),
    # One output per group runs channel-blocked (groups in the vector lanes): whole blocks and a
    # partial last one (17 = 8 + 8 + 1 on 8 lanes, 16 + 1 on 16), asymmetric padding, dilation,
    # stride 3 (a runtime column step), a 1x9 row wider than the 8 taps summed at once, padding
    # beyond the kernel's reach (backward data then scatters at stride 1 too).
    (2, 17, 9, 13, 1, 3, 3, 1, (1, 2, 0, 1), 1),
    (1, 33, 7, 7, 1, 3, 3, 1, 1, 2),
    (2, 20, 11, 10, 1, 3, 5, 3, 2, (1, 2)),
    (1, 9, 6, 5, 1, 1, 9, 1, (0, 4), 1),
    (1, 10, 5, 6, 1, 3, 3, 1, 3, 1),
]


@pytest.mark.parametrize("case", DEPTHWISE_CASES, ids=str)
def test_depthwise_all_passes_match_float64(cpu_backend, rng, case):
    n, c, h, wd, mult, kh, kw, stride, padding, dilation = case
    test_conv_all_passes_match_float64(cpu_backend, rng, (n, c, h, wd, c * mult, kh, kw, stride, padding,
                                                          dilation, c))


def test_depthwise_ignores_columns_no_window_reaches(cpu_backend, rng):
    # Width 8, 3 wide, stride 2, no padding: outputs read columns 0-6. An inf
    # in column 7 must not leak into dw through a partial vector's dead lanes.
    x = randn(rng, 2, 3, 5, 8)
    x[:, :, :, 7] = np.inf
    w = randn(rng, 3, 1, 3, 3)
    dy = randn(rng, 2, 3, 2, 3)
    hp = dict(stride=2, padding=0, groups=3)
    dw, db = conv2d_backward_weights(x, dy, w.shape, **hp, backend=cpu_backend)
    clean = x.copy()
    clean[:, :, :, 7] = 0.0
    dw_ref, db_ref = conv_backward_weights_ref(clean, dy, w.shape, 2, 0, 1, 3)
    assert np.all(np.isfinite(dw))
    np.testing.assert_allclose(dw, dw_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(conv2d_forward(x, w, **hp, backend=cpu_backend),
                               conv_ref(clean, w, None, 2, 0, 1, 3), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("multiplier", [1, 2])  # channel-blocked, NCHW planes
def test_depthwise_results_do_not_depend_on_threads(cpu_backend, rng, multiplier):
    x = randn(rng, 2, 24, 15, 37)
    w = randn(rng, 24 * multiplier, 1, 3, 3)
    dy = randn(rng, 2, 24 * multiplier, 8, 19)
    hp = dict(stride=2, padding=1, groups=24)
    before = dlcore.get_num_threads()
    outs = []
    try:
        for t in (1, 2, 3):
            dlcore.set_num_threads(t)
            outs.append([conv2d_forward(x, w, **hp, backend=cpu_backend),
                         conv2d_backward_data(dy, w, x.shape, **hp, backend=cpu_backend),
                         *conv2d_backward_weights(x, dy, w.shape, **hp, backend=cpu_backend)])
    finally:
        dlcore.set_num_threads(before)
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            np.testing.assert_array_equal(a, b)


def test_conv_dispatch_names_the_path(cpu_backend, rng):
    x, w = randn(rng, 1, 3, 5, 5), randn(rng, 4, 3, 3, 3)
    conv2d_forward(x, w, backend=cpu_backend)
    assert dlcore.kernels.last_dispatch().startswith(f"conv2d_forward:conv2d_forward_{cpu_backend}")
    conv2d_backward_data(randn(rng, 1, 4, 3, 3), w, x.shape, backend=cpu_backend)
    assert cpu_backend in dlcore.kernels.last_dispatch()
    conv2d_backward_weights(x, randn(rng, 1, 4, 3, 3), w.shape, backend=cpu_backend)
    assert cpu_backend in dlcore.kernels.last_dispatch()


def test_conv_pointwise_runs_as_gemm(cpu_backend, rng):
    x, w = randn(rng, 2, 8, 5, 5), randn(rng, 4, 8, 1, 1)
    conv2d_forward(x, w, backend=cpu_backend)
    expected = "gemm1x1" if cpu_backend != "ref" else "ref"
    assert dlcore.kernels.last_dispatch().endswith(expected)
    conv2d_forward(x, w, padding=1, backend=cpu_backend)
    assert "gemm1x1" not in dlcore.kernels.last_dispatch()


def test_conv_narrow_backward_data_runs_col2im(cpu_backend, rng):
    # <= 4 input channels per group: GEMM + col2im (no channel padding);
    # depthwise and wider layers keep their own kernels.
    dy, w = randn(rng, 2, 8, 5, 6), randn(rng, 8, 3, 3, 3)
    conv2d_backward_data(dy, w, (2, 3, 11, 13), stride=2, backend=cpu_backend)
    expected = "col2im" if cpu_backend != "ref" else "ref"
    assert dlcore.kernels.last_dispatch().endswith(expected)
    conv2d_backward_data(dy, randn(rng, 8, 5, 3, 3), (2, 5, 11, 13), stride=2, backend=cpu_backend)
    assert "col2im" not in dlcore.kernels.last_dispatch()
    conv2d_backward_data(randn(rng, 2, 4, 9, 11), randn(rng, 4, 1, 3, 3), (2, 4, 11, 13), groups=4,
                         backend=cpu_backend)
    assert "col2im" not in dlcore.kernels.last_dispatch()


def test_conv_narrow_inputs_up_to_half_a_vector(cpu_backend, rng):
    # 5-8 input channels per group: the narrow forward and backward-weights entries where the vector has
    # 16 lanes (avx512), the blocked ones with 8 (avx2), each declining the other with its limit; backward
    # data's col2im keeps its 4 on both.
    x, w = randn(rng, 2, 6, 9, 11), randn(rng, 16, 6, 3, 3)
    narrow = cpu_backend == "avx512"
    y = conv2d_forward(x, w, padding=1, backend=cpu_backend)
    d = dlcore.kernels.last_dispatch(detail=True)
    if cpu_backend == "ref":
        return
    assert d["implementation"].endswith("narrow" if narrow else "blocked")
    if not narrow:
        assert "input channels per group 6 > 4" in dict(d["declined"])[f"conv2d_forward_{cpu_backend}_narrow"]
    conv2d_backward_weights(x, y, w.shape, padding=1, backend=cpu_backend)
    assert dlcore.kernels.last_dispatch().endswith("narrow" if narrow else "blocked")
    conv2d_backward_data(y, w, x.shape, padding=1, backend=cpu_backend)
    d = dlcore.kernels.last_dispatch(detail=True)
    assert "input channels per group 6 > 4" in dict(d["declined"])[f"conv2d_backward_data_{cpu_backend}_col2im"]
    x9, w9 = randn(rng, 1, 9, 6, 7), randn(rng, 4, 9, 3, 3)
    conv2d_forward(x9, w9, backend=cpu_backend)
    d = dlcore.kernels.last_dispatch(detail=True)
    assert d["implementation"].endswith("blocked")
    limit = 8 if narrow else 4
    assert f"input channels per group 9 > {limit}" in dict(d["declined"])[f"conv2d_forward_{cpu_backend}_narrow"]


def test_conv_small_outputs_run_as_gemms_over_the_batch(cpu_backend, rng):
    """<= 4 output pixels: the fold entries (avx2/avx512), with ReLU fused; 1000 images of 2304 column
    floats each run in two chunks (2 Mi floats a chunk), the weight gradient summed over both; results
    bitwise the same on 1, 2 and 3 threads."""
    x, w, b = randn(rng, 1000, 64, 2, 2), randn(rng, 4, 64, 3, 3), randn(rng, 4)
    before = dlcore.get_num_threads()
    outs = []
    try:
        for t in (1, 2, 3):
            dlcore.set_num_threads(t)
            y = conv2d_forward(x, w, b, padding=1, activation="relu", backend=cpu_backend)
            name = dlcore.kernels.last_dispatch()
            dy = np.sign(y).astype(np.float32) * 0.5
            dx = conv2d_backward_data(dy, w, x.shape, padding=1, backend=cpu_backend)
            dw, db = conv2d_backward_weights(x, dy, w.shape, padding=1, backend=cpu_backend)
            outs.append((y, dx, dw, db))
    finally:
        dlcore.set_num_threads(before)
    if cpu_backend != "ref":
        assert name.endswith("_fold"), name
    for o in outs[1:]:
        for got, first in zip(o, outs[0]):
            np.testing.assert_array_equal(got, first)
    y, dx, dw, db = outs[0]
    y_ref = np.maximum(conv_ref(x, w, b, 1, 1, 1, 1), 0)
    assert_conv_close(y, y_ref, conv_ref(np.abs(x), np.abs(w), np.abs(b), 1, 1, 1, 1), 576, "forward relu")
    dy = np.sign(y).astype(np.float32) * 0.5
    dw_ref, db_ref = conv_backward_weights_ref(x, dy, w.shape, 1, 1, 1, 1)
    dw_scale, db_scale = conv_backward_weights_ref(np.abs(x), np.abs(dy), w.shape, 1, 1, 1, 1)
    assert_conv_close(dw, dw_ref, dw_scale, 4000, "backward_weights over two chunks")
    dx_ref = conv_backward_data_ref(dy, w, x.shape, 1, 1, 1, 1)
    assert_conv_close(dx, dx_ref, conv_backward_data_ref(np.abs(dy), np.abs(w), x.shape, 1, 1, 1, 1), 36, "dx")


def test_conv_no_bias(cpu_backend, rng):
    x, w = randn(rng, 2, 5, 6, 7), randn(rng, 9, 5, 3, 3)
    y = conv2d_forward(x, w, None, padding=1, backend=cpu_backend)
    ref = conv_ref(x, w, None, 1, 1, 1, 1)
    assert_conv_close(y, ref, conv_ref(np.abs(x), np.abs(w), None, 1, 1, 1, 1), 45, "forward no bias")
    dw, db = conv2d_backward_weights(x, randn(rng, *y.shape), w.shape, padding=1, bias=False, backend=cpu_backend)
    assert db is None and dw.shape == w.shape


def test_conv_empty_batch(cpu_backend, rng):
    x, w = np.zeros((0, 3, 5, 5), np.float32), randn(rng, 4, 3, 3, 3)
    assert conv2d_forward(x, w, backend=cpu_backend).shape == (0, 4, 3, 3)
    dy = np.zeros((0, 4, 3, 3), np.float32)
    assert conv2d_backward_data(dy, w, x.shape, backend=cpu_backend).shape == (0, 3, 5, 5)
    dw, db = conv2d_backward_weights(x, dy, w.shape, backend=cpu_backend)
    assert np.array_equal(dw, np.zeros(w.shape)) and np.array_equal(db, np.zeros(4))


def test_single_block_tiles_do_not_depend_on_thread_count(cpu_backend, rng):
    # LeNet-5's layers at batch 32 (one output block forward; conv2's backward data to 6 channels).
    x1, w1, b1 = randn(rng, 32, 1, 28, 28), randn(rng, 6, 1, 5, 5), randn(rng, 6)
    x2, w2, b2 = randn(rng, 32, 6, 14, 14), randn(rng, 16, 6, 5, 5), randn(rng, 16)
    dy2 = randn(rng, 32, 16, 10, 10)

    def passes():
        return (conv2d_forward(x1, w1, b1, padding=2, backend=cpu_backend),
                conv2d_forward(x2, w2, b2, backend=cpu_backend),
                conv2d_backward_data(dy2, w2, x2.shape, backend=cpu_backend))

    before = dlcore.get_num_threads()
    try:
        dlcore.set_num_threads(1)
        one = passes()
        dlcore.set_num_threads(3)
        three = passes()
    finally:
        dlcore.set_num_threads(before)
    for a, b in zip(one, three):
        assert np.array_equal(a, b)


def test_conv_result_does_not_depend_on_thread_count(cpu_backend, rng):
    x, w = randn(rng, 2, 17, 13, 12), randn(rng, 20, 17, 3, 3)
    dy = randn(rng, 2, 20, 7, 6)
    hp = dict(stride=2, padding=1)
    # Large enough (> 1 MFLOP) to run threaded; the forward work items cover
    # different rows for 1 and 3 threads (17 rows as 9+8 vs 5 x 3 + 2).
    x2, w2, b2 = randn(rng, 2, 40, 17, 15), randn(rng, 36, 40, 3, 3), randn(rng, 36)
    dy2 = randn(rng, 2, 36, 17, 15)

    # Narrow input (3 channels per group, groups 2): backward data as GEMM +
    # col2im, large enough that both run threaded.
    w3, dy3 = randn(rng, 64, 3, 5, 5), randn(rng, 2, 64, 23, 20)

    # 1x1 on 3 images: GEMMs split into tiles across the images (forward,
    # backward data) and the images' products summed per tile (weights).
    x4, w4, dy4 = randn(rng, 3, 64, 15, 17), randn(rng, 72, 64, 1, 1), randn(rng, 3, 72, 15, 17)

    def all_passes():
        return (conv2d_forward(x4, w4, backend=cpu_backend),
                conv2d_backward_data(dy4, w4, x4.shape, backend=cpu_backend),
                *conv2d_backward_weights(x4, dy4, w4.shape, backend=cpu_backend),
                conv2d_backward_data(dy3, w3, (2, 6, 45, 39), stride=2, padding=2, groups=2, backend=cpu_backend),
                conv2d_forward(x, w, **hp, backend=cpu_backend),
                conv2d_backward_data(dy, w, x.shape, **hp, backend=cpu_backend),
                *conv2d_backward_weights(x, dy, w.shape, **hp, backend=cpu_backend),
                conv2d_forward(x2, w2, b2, padding=1, backend=cpu_backend),
                conv2d_backward_data(dy2, w2, x2.shape, padding=1, backend=cpu_backend),
                conv2d_backward_weights(x2, dy2, w2.shape, padding=1, backend=cpu_backend)[0])

    before = dlcore.get_num_threads()
    try:
        dlcore.set_num_threads(1)
        one = all_passes()
        dlcore.set_num_threads(3)
        three = all_passes()
    finally:
        dlcore.set_num_threads(before)
    for a, b in zip(one, three):
        assert np.array_equal(a, b)


# ---------------------------------------------------------------------------
# Bad input: a clear exception naming the shapes
# ---------------------------------------------------------------------------
X = np.ones((2, 4, 8, 8), np.float32)
W = np.ones((6, 4, 3, 3), np.float32)
DY = np.ones((2, 6, 6, 6), np.float32)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: conv2d_forward(X, np.ones((6, 3, 3, 3), np.float32)), ValueError, r"input channels.*\(2, 4, 8, 8\)"),
    (lambda: conv2d_forward(X, W, groups=3), ValueError, "not divisible by groups=3"),
    (lambda: conv2d_forward(X, np.ones((5, 2, 3, 3), np.float32), groups=2), ValueError,
     "output channels 5 are not divisible"),
    (lambda: conv2d_forward(X, np.ones((6, 4, 9, 3), np.float32)), ValueError, "larger than the padded input 8x8"),
    (lambda: conv2d_forward(X, W, dilation=5), ValueError, "larger than the padded input"),
    (lambda: conv2d_forward(X, W, stride=0), ValueError, "stride must be positive"),
    (lambda: conv2d_forward(X, W, stride=(1, -2)), ValueError, "stride must be positive"),
    (lambda: conv2d_forward(X, W, dilation=0), ValueError, "dilation must be positive"),
    (lambda: conv2d_forward(X, W, padding=-1), ValueError, "padding must be non-negative"),
    (lambda: conv2d_forward(X, W, padding=(1, 2, 3)), ValueError, "2 or 4 ints"),
    (lambda: conv2d_forward(X, W, stride=1.5), TypeError, "stride must be an int"),
    (lambda: conv2d_forward(X, W, groups=0), ValueError, "groups must be positive"),
    (lambda: conv2d_forward(X[0], W), ValueError, r"x must have 4 dimensions, got shape \(4, 8, 8\)"),
    (lambda: conv2d_forward(X, W[0]), ValueError, "w must have 4 dimensions"),
    (lambda: conv2d_forward(X.astype(np.float64), W), TypeError, "float32"),
    (lambda: conv2d_forward(X, W.astype(np.float16)), TypeError, "float32"),
    (lambda: conv2d_forward(X.transpose(0, 1, 3, 2), W), ValueError, "not C-contiguous"),
    (lambda: conv2d_forward(X, W, np.ones(5, np.float32)), ValueError, r"bias has shape \(5,\), expected \(6,\)"),
    (lambda: conv2d_forward(np.ones((2, 0, 8, 8), np.float32), np.ones((6, 0, 3, 3), np.float32)), ValueError,
     "non-empty"),
    (lambda: conv2d_forward(X, W, backend="fast"), ValueError, "unknown backend"),
    (lambda: conv2d_backward_data(DY, W, (2, 4, 9, 9)), ValueError, r"dy has shape \(2, 6, 6, 6\).*\(2, 6, 7, 7\)"),
    (lambda: conv2d_backward_data(DY, W, (2, 5, 8, 8)), ValueError, "input channels"),
    (lambda: conv2d_backward_data(DY, W, (2, 4, 8)), ValueError, "4 entries"),
    (lambda: conv2d_backward_data(DY[:1], W, X.shape), ValueError, r"dy has shape \(1, 6, 6, 6\)"),
    (lambda: conv2d_backward_data(DY.astype(np.float64), W, X.shape), TypeError, "float32"),
    (lambda: conv2d_backward_weights(X, DY, (6, 4, 5, 5)), ValueError, r"dy has shape \(2, 6, 6, 6\).*\(2, 6, 4, 4\)"),
    (lambda: conv2d_backward_weights(X, DY, (6, 2, 3, 3)), ValueError, "input channels"),
    (lambda: conv2d_backward_weights(X, np.ones((2, 5, 6, 6), np.float32), W.shape), ValueError, "dy has shape"),
    (lambda: conv2d_backward_weights(X, DY, W.shape, stride=0), ValueError, "stride must be positive"),
])
def test_conv_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_conv_unavailable_isa_raises():
    for name in ("avx2", "avx512"):
        if not dlcore.backends()[name]["available"]:
            with pytest.raises(dlcore.BackendUnavailableError, match=name):
                conv2d_forward(X, W, backend=name)
