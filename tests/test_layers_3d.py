"""Volumetric (N, C, D, H, W) layers and max unpooling (nn/layers_3d.py, nn/_functional_3d.py).

Forward values against float64 NumPy references written here as loops over the definitions (independent of
the depth-stacking, window-view and separable-matrix formulations of the implementation); gradients by
float64 finite differences, float32 (the conv2d kernels for the convolutions) against float64 through
check_grad; parameter names and shapes as torch's; bad input as clear exceptions.
"""
import math

import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
from dlcore import nn
from dlcore.autograd import gradcheck
from gradcheck_util import check_grad
from opcheck import assert_close, randn

CONV_KERNELS = ("conv2d_forward", "conv2d_backward_data", "conv2d_backward_weights")


def t64(a, grad=False):
    return dlcore.tensor(np.asarray(a, np.float64), requires_grad=grad)


def taps(kernel):
    return [(a, b, c) for a in range(kernel[0]) for b in range(kernel[1]) for c in range(kernel[2])]


# ---- convolutions -------------------------------------------------------------------------------------------------
def conv3d_ref(x, w, b, stride, padding, dilation, groups):
    """y[n, o, i] = b[o] + sum over taps t and the group's channels c of xpad[n, c, i*s + t*d] * w[o, c, t]."""
    n, c, *size = x.shape
    o, cg, *k = w.shape
    xpad = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    out = [(sz + 2 * p - d * (kk - 1) - 1) // s + 1 for sz, kk, s, p, d in zip(size, k, stride, padding, dilation)]
    y = np.zeros((n, o, *out)) + (0 if b is None else b.reshape(1, -1, 1, 1, 1))
    og = o // groups
    for tap in taps(k):
        sl = tuple(slice(t * d, t * d + s * (m - 1) + 1, s) for t, d, s, m in zip(tap, dilation, stride, out))
        for g in range(groups):
            xs = xpad[(slice(None), slice(g * cg, (g + 1) * cg)) + sl]
            y[:, g * og:(g + 1) * og] += np.einsum("ncdhw,oc->nodhw", xs, w[g * og:(g + 1) * og, :, tap[0], tap[1],
                                                                             tap[2]])
    return y


def conv_transpose3d_ref(x, w, b, stride, padding, output_padding, dilation, groups):
    """Scatter form: x[n, c, i] * w[c, o, t] lands on output position i*s - p + t*d."""
    n, cin, *size = x.shape
    _, og, *k = w.shape
    full = [(i - 1) * s + d * (kk - 1) + 1 + op for i, s, d, kk, op in zip(size, stride, dilation, k, output_padding)]
    y = np.zeros((n, og * groups, *full))
    cg = cin // groups
    for tap in taps(k):
        sl = tuple(slice(t * d, t * d + s * (i - 1) + 1, s) for t, d, s, i in zip(tap, dilation, stride, size))
        for g in range(groups):
            y[(slice(None), slice(g * og, (g + 1) * og)) + sl] += np.einsum(
                "ncdhw,co->nodhw", x[:, g * cg:(g + 1) * cg], w[g * cg:(g + 1) * cg, :, tap[0], tap[1], tap[2]])
    y = y[(slice(None), slice(None)) + tuple(slice(p, f - p) for p, f in zip(padding, full))]  # crop the padding
    return y + (0 if b is None else b.reshape(1, -1, 1, 1, 1))


CONV_CASES = [  # x shape, weight shape, stride, padding, dilation, groups
    ((2, 4, 5, 7, 6), (6, 2, 3, 2, 3), (2, 1, 2), (1, 0, 2), (1, 2, 1), 2),
    ((1, 3, 3, 1, 7), (2, 3, 1, 1, 3), (1, 1, 3), (0, 0, 1), (1, 1, 2), 1),
    ((2, 3, 7, 3, 3), (3, 1, 3, 3, 1), (3, 1, 1), (2, 1, 0), (2, 1, 1), 3),
]


@pytest.mark.parametrize("xs,ws,stride,padding,dilation,groups", CONV_CASES)
def test_conv3d_matches_direct_loop_and_gradients(rng, xs, ws, stride, padding, dilation, groups):
    x, w, b = randn(rng, *xs), randn(rng, *ws, scale=0.3), randn(rng, ws[0])
    fn = lambda x, w, b: F.conv3d(x, w, b, stride, padding, dilation, groups)  # noqa: E731
    ref = conv3d_ref(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), stride, padding, dilation,
                     groups)
    assert_close(fn(t64(x), t64(w), t64(b)).numpy(), ref, rtol=1e-12, atol=1e-12, what="conv3d float64")
    check_grad(fn, x, w, b, kernels=CONV_KERNELS)


def test_conv3d_same_padding_and_no_bias(rng):
    x, w = randn(rng, 1, 2, 4, 5, 3, dtype=np.float64), randn(rng, 3, 2, 2, 3, 3, dtype=np.float64)
    y = F.conv3d(t64(x), t64(w), padding="same")
    assert y.shape == (1, 3, 4, 5, 3)
    # torch pads an even kernel's extra on the high side: depth (0, 1)
    ref = conv3d_ref(np.pad(x, [(0, 0), (0, 0), (0, 1), (0, 0), (0, 0)]), w, None, (1, 1, 1), (0, 1, 1), (1,) * 3, 1)
    assert_close(y.numpy(), ref, rtol=1e-12, atol=1e-12)
    assert F.conv3d(t64(x), t64(w), padding="valid").shape == (1, 3, 3, 3, 1)


TRANSPOSE_CASES = [  # x shape, weight shape, stride, padding, output_padding, dilation, groups
    ((2, 4, 3, 2, 4), (4, 3, 3, 2, 3), (2, 1, 3), (1, 0, 1), (1, 0, 2), (1, 2, 1), 2),
    ((1, 3, 1, 3, 2), (3, 1, 2, 1, 2), (1, 2, 1), (0, 0, 0), (0, 1, 0), (1, 1, 1), 1),
]


@pytest.mark.parametrize("xs,ws,stride,padding,output_padding,dilation,groups", TRANSPOSE_CASES)
def test_conv_transpose3d_matches_scatter_loop_and_gradients(rng, xs, ws, stride, padding, output_padding,
                                                             dilation, groups):
    x, w, b = randn(rng, *xs), randn(rng, *ws, scale=0.3), randn(rng, ws[1] * groups)
    fn = lambda x, w, b: F.conv_transpose3d(x, w, b, stride, padding, output_padding, groups, dilation)  # noqa
    ref = conv_transpose3d_ref(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), stride, padding,
                               output_padding, dilation, groups)
    assert_close(fn(t64(x), t64(w), t64(b)).numpy(), ref, rtol=1e-12, atol=1e-12, what="conv_transpose3d float64")
    check_grad(fn, x, w, b, kernels=CONV_KERNELS)


def test_conv_layers_parameters_as_torch_and_state_dict_round_trip(rng):
    conv = nn.Conv3d(4, 6, (3, 1, 2), stride=2, padding=1, groups=2)
    assert {k: v.shape for k, v in conv.state_dict().items()} == {"weight": (6, 2, 3, 1, 2), "bias": (6,)}
    bound = 1 / math.sqrt(2 * 3 * 1 * 2)  # torch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert np.abs(conv.weight.numpy()).max() <= bound and np.abs(conv.bias.numpy()).max() <= bound
    up = nn.ConvTranspose3d(4, 6, 3, stride=2, groups=2, bias=False)
    assert {k: v.shape for k, v in up.state_dict().items()} == {"weight": (4, 3, 3, 3, 3)}
    other = nn.Conv3d(4, 6, (3, 1, 2), stride=2, padding=1, groups=2)
    other.load_state_dict(conv.state_dict())
    x = dlcore.tensor(randn(rng, 1, 4, 5, 5, 5))
    np.testing.assert_array_equal(other(x).numpy(), conv(x).numpy())
    assert up(x).shape == (1, 6, 11, 11, 11)
    assert up(x, output_size=(12, 11, 12)).shape == (1, 6, 12, 11, 12)  # output_size picks output_padding


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_conv3d_padding_modes_pad_then_convolve(rng, mode):
    conv = nn.Conv3d(2, 3, 3, padding=(1, 2, 1), padding_mode=mode, dtype=np.float64)
    x = randn(rng, 1, 2, 4, 5, 3, dtype=np.float64)
    numpy_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    xpad = np.pad(x, [(0, 0), (0, 0), (1, 1), (2, 2), (1, 1)], mode=numpy_mode)
    ref = conv3d_ref(xpad, conv.weight.numpy(), conv.bias.numpy(), (1,) * 3, (0,) * 3, (1,) * 3, 1)
    assert_close(conv(t64(x)).numpy(), ref, rtol=1e-12, atol=1e-12)


def test_unbatched_input_round_trips(rng):
    x, w = randn(rng, 3, 4, 5, 6, dtype=np.float64), randn(rng, 2, 3, 2, 2, 2, dtype=np.float64)
    assert_close(F.conv3d(t64(x), t64(w)).numpy(), F.conv3d(t64(x[None]), t64(w)).numpy()[0], rtol=0, atol=0)
    y, idx = F.max_pool3d(t64(x), 2, return_indices=True)
    assert y.shape == idx.shape == (3, 2, 2, 3)


@pytest.mark.parametrize("call,match", [
    (lambda: F.conv3d(t64(np.ones((2, 4, 5, 5))), t64(np.ones((2, 4, 3, 3, 3)))), "expects"),
    (lambda: F.conv3d(t64(np.ones((1, 4, 5, 5, 5))), t64(np.ones((2, 3, 3, 3, 3)))), "channels"),
    (lambda: F.conv3d(t64(np.ones((1, 4, 5, 5, 5))), t64(np.ones((3, 2, 3, 3, 3))), groups=2), "divisible"),
    (lambda: F.conv3d(t64(np.ones((1, 4, 5, 5, 5))), t64(np.ones((2, 4, 3, 3, 3))), padding=-1), "padding"),
    (lambda: F.conv3d(t64(np.ones((1, 4, 2, 5, 5))), t64(np.ones((2, 4, 3, 3, 3)))), "smaller than"),
    (lambda: F.conv3d(t64(np.ones((1, 4, 5, 5, 5))), t64(np.ones((2, 4, 3, 3, 3))), stride=(1, 0, 1)), "stride"),
    (lambda: F.conv3d(t64(np.ones((1, 4, 5, 5, 5))), t64(np.ones((2, 4, 3, 3, 3))), t64(np.ones(3))), "bias"),
    (lambda: F.conv3d(t64(np.ones((1, 4, 5, 5, 5))), t64(np.ones((2, 4, 3, 3, 3))), padding="same", stride=2),
     "strided"),
    (lambda: F.conv_transpose3d(t64(np.ones((1, 4, 3, 3, 3))), t64(np.ones((4, 2, 3, 3, 3))), stride=2,
                                output_padding=2), "output_padding"),
    (lambda: F.conv_transpose3d(t64(np.ones((1, 3, 3, 3, 3))), t64(np.ones((4, 2, 3, 3, 3)))), "do not match"),
    (lambda: nn.Conv3d(4, 6, 3, groups=4), "divisible"),
])
def test_conv_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_conv3d_mixed_dtypes_and_non_tensors_raise(rng):
    with pytest.raises(TypeError, match="dtype"):
        F.conv3d(dlcore.tensor(randn(rng, 1, 2, 3, 3, 3)), t64(np.ones((2, 2, 1, 1, 1))))
    with pytest.raises(TypeError, match="dlcore.Tensor"):
        F.conv3d(randn(rng, 1, 2, 3, 3, 3), t64(np.ones((2, 2, 1, 1, 1))))
    with pytest.raises(TypeError, match="dlcore.Tensor"):
        F.max_pool3d(randn(rng, 1, 2, 3, 3, 3), 2)


# ---- pooling ------------------------------------------------------------------------------------------------------
def pool_out(size, k, s, p, d, ceil):
    span = size + 2 * p - d * (k - 1) - 1
    out = (math.ceil(span / s) if ceil else span // s) + 1
    return out - 1 if ceil and (out - 1) * s >= size + p else out


def max_pool3d_ref(x, k, s, p, d, ceil):
    """Loop over output cells; the first maximum in (d, h, w) order and its flat input offset."""
    n, c, *size = x.shape
    out = [pool_out(*a, ceil) for a in zip(size, k, s, p, d)]
    y, idx = np.empty((n, c, *out)), np.empty((n, c, *out), np.int64)
    for cell in np.ndindex(*out):
        best = np.full((n, c), -np.inf)
        where = np.zeros((n, c), np.int64)
        for tap in taps(k):
            pos = [o * ss - pp + t * dd for o, ss, pp, t, dd in zip(cell, s, p, tap, d)]
            if all(0 <= q < sz for q, sz in zip(pos, size)):
                v = x[:, :, pos[0], pos[1], pos[2]]
                better = v > best
                best, where = np.where(better, v, best), np.where(better, np.ravel_multi_index(pos, size), where)
        y[(slice(None), slice(None)) + cell], idx[(slice(None), slice(None)) + cell] = best, where
    return y, idx


def avg_pool3d_ref(x, k, s, p, ceil, count_include_pad, divisor_override):
    n, c, *size = x.shape
    out = [pool_out(*a, 1, ceil) for a in zip(size, k, s, p)]
    y = np.empty((n, c, *out))
    for cell in np.ndindex(*out):
        starts = [o * ss - pp for o, ss, pp in zip(cell, s, p)]
        ends = [min(st + kk, sz + pp) for st, kk, sz, pp in zip(starts, k, size, p)]
        pool_size = math.prod(e - st for st, e in zip(starts, ends))
        lo = [max(st, 0) for st in starts]
        hi = [min(e, sz) for e, sz in zip(ends, size)]
        win = x[:, :, lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        divisor = divisor_override or (pool_size if count_include_pad else win[0, 0].size)
        y[(slice(None), slice(None)) + cell] = win.sum(axis=(2, 3, 4)) / divisor
    return y


MAX_CASES = [  # x shape, kernel, stride, padding, dilation, ceil_mode
    ((2, 3, 7, 9, 8), (3, 2, 3), (2, 1, 2), (1, 1, 0), (1, 2, 1), False),
    ((1, 2, 7, 9, 8), (3, 2, 3), (2, 1, 2), (1, 1, 0), (1, 2, 1), True),
    ((1, 1, 3, 1, 7), (1, 1, 3), (1, 1, 2), (0, 0, 1), (1, 1, 2), True),
    # D 5, k 2, s 2, p 1: ceil gives 4 windows, but the 4th would start in the right padding -> 3
    ((1, 2, 5, 4, 6), (2, 2, 3), (2, 2, 2), (1, 1, 1), (1, 1, 1), True),
]


@pytest.mark.parametrize("xs,k,s,p,d,ceil", MAX_CASES)
def test_max_pool3d_matches_loop_and_gradients(rng, xs, k, s, p, d, ceil):
    x = randn(rng, *xs)
    y, idx = F.max_pool3d(t64(x), k, s, p, d, ceil, return_indices=True)
    y_ref, idx_ref = max_pool3d_ref(x.astype(np.float64), k, s, p, d, ceil)
    assert_close(y.numpy(), y_ref, rtol=0, atol=0)
    np.testing.assert_array_equal(idx.numpy(), idx_ref)
    assert idx.dtype == np.int64
    check_grad(lambda x: F.max_pool3d(x, k, s, p, d, ceil), x[:1, :1])


def test_max_pool3d_ties_pick_the_first_in_dhw_order():
    x = np.zeros((1, 1, 2, 2, 2))
    _, idx = F.max_pool3d(t64(x), 2, return_indices=True)
    assert int(idx.numpy().ravel()[0]) == 0


@pytest.mark.parametrize("ceil", [False, True])
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool3d_matches_loop_and_gradients(rng, ceil, count_include_pad):
    x = randn(rng, 2, 3, 7, 6, 9)
    k, s, p = (3, 2, 3), (2, 1, 2), (1, 1, 1)
    fn = lambda x: F.avg_pool3d(x, k, s, p, ceil, count_include_pad)  # noqa: E731
    assert_close(fn(t64(x)).numpy(), avg_pool3d_ref(x.astype(np.float64), k, s, p, ceil, count_include_pad, None),
                 rtol=1e-12, atol=1e-12)
    check_grad(fn, x[:1, :1, :, :3, :8])  # D 7, W 8: the ceil_mode overhang still differs


def test_avg_pool3d_divisor_override(rng):
    x = randn(rng, 1, 2, 5, 3, 4)
    fn = lambda x: F.avg_pool3d(x, 2, 1, 1, divisor_override=5)  # noqa: E731
    assert_close(fn(t64(x)).numpy(), avg_pool3d_ref(x.astype(np.float64), (2,) * 3, (1,) * 3, (1,) * 3, False,
                                                    True, 5), rtol=1e-12, atol=1e-12)
    check_grad(fn, x)


def adaptive_ref(x, out, reduce):
    n, c, *size = x.shape
    y = np.empty((n, c, *out))
    for cell in np.ndindex(*out):
        bounds = [(math.floor(i * sz / o), math.ceil((i + 1) * sz / o)) for i, sz, o in zip(cell, size, out)]
        win = x[(slice(None), slice(None)) + tuple(slice(a, b) for a, b in bounds)]
        y[(slice(None), slice(None)) + cell] = reduce(win, axis=(2, 3, 4))
    return y


@pytest.mark.parametrize("shape,out", [((2, 3, 7, 9, 5), (3, 4, 2)), ((1, 2, 4, 6, 3), (2, 3, 3)),
                                       ((1, 1, 3, 2, 5), (5, 1, None))])
def test_adaptive_pools_match_loops_and_gradients(rng, shape, out):
    x = randn(rng, *shape)
    full = tuple(shape[2 + i] if o is None else o for i, o in enumerate(out))
    assert_close(F.adaptive_avg_pool3d(t64(x), out).numpy(), adaptive_ref(x.astype(np.float64), full, np.mean),
                 rtol=1e-12, atol=1e-12)
    assert_close(F.adaptive_max_pool3d(t64(x), out).numpy(), adaptive_ref(x.astype(np.float64), full, np.max),
                 rtol=0, atol=0)
    small = x[:1, :1]  # finite differences cost two forwards per element
    check_grad(lambda x: F.adaptive_avg_pool3d(x, out), small)
    check_grad(lambda x: F.adaptive_max_pool3d(x, out), small)


def test_pool_layers_and_bad_input(rng):
    x = dlcore.tensor(randn(rng, 1, 2, 5, 6, 7))
    y, idx = nn.MaxPool3d(3, 2, 1, return_indices=True, ceil_mode=True)(x)
    assert y.shape == idx.shape == (1, 2, 3, 4, 4)  # ceil_mode: H 6 -> 4 windows
    assert nn.AvgPool3d((1, 2, 3), divisor_override=2)(x).shape == (1, 2, 5, 3, 2)
    assert nn.AvgPool3d(2, 2, 1, ceil_mode=True)(x).shape == (1, 2, 3, 4, 4)  # no window starts in the padding
    assert nn.AdaptiveAvgPool3d(1)(x).shape == (1, 2, 1, 1, 1)
    assert nn.AdaptiveMaxPool3d((2, None, 3), return_indices=True)(x)[1].shape == (1, 2, 2, 6, 3)
    with pytest.raises(ValueError, match="expects"):
        F.max_pool3d(dlcore.tensor(randn(rng, 2, 5, 5)), 2)
    with pytest.raises(ValueError, match="half the kernel"):
        F.avg_pool3d(x, 2, padding=2)
    with pytest.raises(ValueError, match="too small"):
        F.max_pool3d(x, (7, 1, 1))
    with pytest.raises(ValueError, match="divisor_override"):
        F.avg_pool3d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match="output_size"):
        F.adaptive_avg_pool3d(x, (2, 2))


# ---- max unpooling ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_max_unpool_inverts_max_pool_where_the_maxima_were(rng, dims):
    pool = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[dims - 1]
    unpool = (F.max_unpool1d, F.max_unpool2d, F.max_unpool3d)[dims - 1]
    size = (7, 5, 6)[:dims]
    x = randn(rng, 2, 3, *size, dtype=np.float64)
    y, idx = pool(t64(x), 2, 2, 1, return_indices=True)
    back = unpool(y, idx, 2, 2, 1, output_size=size).numpy()
    ref = np.zeros_like(x).reshape(6, -1)
    np.put_along_axis(ref, idx.numpy().reshape(6, -1).astype(np.int64), y.numpy().reshape(6, -1), axis=1)
    assert_close(back, ref.reshape(x.shape), rtol=0, atol=0)
    # without output_size: torch's (in - 1)*stride - 2*padding + kernel, the input size again for even sizes
    even, even_idx = pool(t64(randn(rng, 1, 2, *(4, 6, 2)[:dims])), 2, return_indices=True)
    assert unpool(even, even_idx, 2).shape == (1, 2) + (4, 6, 2)[:dims]
    layer = (nn.MaxUnpool1d, nn.MaxUnpool2d, nn.MaxUnpool3d)[dims - 1](2, 2, 1)
    check_grad(lambda v: layer(v, idx, output_size=size), y.numpy())


def test_max_unpool_bad_input(rng):
    y, idx = F.max_pool2d(dlcore.tensor(randn(rng, 1, 2, 4, 4)), 2, return_indices=True)
    with pytest.raises(IndexError, match="indices must be in"):
        F.max_unpool2d(y, idx, 2, output_size=(2, 2))
    with pytest.raises(ValueError, match="indices shape"):
        F.max_unpool2d(y, idx[:, :1], 2)
    with pytest.raises(ValueError, match="expects"):
        F.max_unpool3d(y[0], idx[0], 2)  # (C, H, W): neither (N, C, D, H, W) nor (C, D, H, W)


# ---- normalization and dropout ------------------------------------------------------------------------------------
def test_batch_norm3d_train_and_eval(rng):
    bn = nn.BatchNorm3d(3, momentum=0.2, dtype=np.float64)
    assert set(bn.state_dict()) == {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}
    x = randn(rng, 2, 3, 3, 4, 5, dtype=np.float64) * 2 + 1
    mean, var = x.mean(axis=(0, 2, 3, 4)), x.var(axis=(0, 2, 3, 4))
    y = bn(t64(x)).numpy()
    assert_close(y, (x - mean.reshape(1, 3, 1, 1, 1)) / np.sqrt(var.reshape(1, 3, 1, 1, 1) + 1e-5), rtol=1e-10,
                 atol=1e-10)
    count = x.size // 3
    assert_close(bn.running_var.numpy(), 0.8 + 0.2 * var * count / (count - 1), rtol=1e-12, atol=1e-12)
    bn.eval()
    rm, rv = bn.running_mean.numpy(), bn.running_var.numpy()
    assert_close(bn(t64(x)).numpy(), (x - rm.reshape(1, 3, 1, 1, 1)) / np.sqrt(rv.reshape(1, 3, 1, 1, 1) + 1e-5),
                 rtol=1e-10, atol=1e-10)
    bn.train()
    bn.weight._data[:] = rng.uniform(0.5, 2, 3)
    gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
              [t64(randn(rng, 2, 3, 2, 3, 2), True), t64(bn.weight.numpy(), True), t64(randn(rng, 3), True)])
    with pytest.raises(ValueError, match="5-D"):
        bn(t64(x[0]))


def test_instance_norm3d(rng):
    norm = nn.InstanceNorm3d(3, affine=True, dtype=np.float64)
    norm.weight._data[:], norm.bias._data[:] = rng.uniform(0.5, 2, 3), rng.standard_normal(3)
    x = randn(rng, 2, 3, 3, 4, 5, dtype=np.float64)
    mean, var = x.mean(axis=(2, 3, 4), keepdims=True), x.var(axis=(2, 3, 4), keepdims=True)
    ref = (x - mean) / np.sqrt(var + 1e-5) * norm.weight.numpy().reshape(1, 3, 1, 1, 1) + \
        norm.bias.numpy().reshape(1, 3, 1, 1, 1)
    assert_close(norm(t64(x)).numpy(), ref, rtol=1e-10, atol=1e-10)
    assert_close(norm(t64(x[1])).numpy(), ref[1], rtol=1e-10, atol=1e-10)
    gradcheck(lambda x: nn.InstanceNorm3d(3)(x), [t64(randn(rng, 1, 3, 2, 3, 2), True)])
    with pytest.raises(ValueError, match="InstanceNorm3d"):
        norm(t64(np.ones((2, 4, 3, 3, 3))))


def test_group_norm_and_layer_norm_take_5d_input(rng):
    """The existing GroupNorm / LayerNorm serve volumetric nets unchanged (statistics over all trailing dims)."""
    x = randn(rng, 2, 4, 3, 2, 5, dtype=np.float64)
    xg = x.reshape(2, 2, -1)
    ref = ((xg - xg.mean(-1, keepdims=True)) / np.sqrt(xg.var(-1, keepdims=True) + 1e-5)).reshape(x.shape)
    assert_close(nn.GroupNorm(2, 4, dtype=np.float64)(t64(x)).numpy(), ref, rtol=1e-10, atol=1e-10)
    xl = x.reshape(2, 4, -1)
    ref = ((xl - xl.mean(-1, keepdims=True)) / np.sqrt(xl.var(-1, keepdims=True) + 1e-5)).reshape(x.shape)
    assert_close(nn.LayerNorm((3, 2, 5), dtype=np.float64)(t64(x)).numpy(), ref, rtol=1e-10, atol=1e-10)
    gradcheck(lambda x: F.group_norm(x, 2), [t64(randn(rng, 1, 4, 2, 2, 3), True)])


def test_dropout3d_zeroes_whole_channels(rng):
    x = dlcore.tensor(np.abs(randn(rng, 8, 16, 2, 3, 2)) + 0.5)
    layer = nn.Dropout3d(0.25)
    y = layer(x).numpy()
    per_volume = y.reshape(8 * 16, -1)
    kept = per_volume[:, 0] != 0
    np.testing.assert_allclose(per_volume[kept], x.numpy().reshape(8 * 16, -1)[kept] / 0.75, rtol=1e-6)
    assert np.all(per_volume[~kept] == 0)
    assert 0.05 < (~kept).mean() < 0.5  # p = 0.25 over 128 volumes
    layer.eval()
    assert layer(x) is x
    with pytest.raises(ValueError, match="dropout3d expects"):
        F.dropout3d(dlcore.tensor(randn(rng, 2, 3, 4)))


def test_feature_alpha_dropout_drops_channels_and_keeps_moments(rng):
    x = dlcore.tensor(randn(rng, 64, 64, 2, 3, 3))
    layer = nn.FeatureAlphaDropout(0.2)
    y = layer(x).numpy().reshape(64 * 64, -1)
    a = (0.8 * (1 + 0.2 * 1.7580993408473766 ** 2)) ** -0.5  # torch's constants (alpha' = -scale * alpha)
    b = a * 1.7580993408473766 * 0.2
    dropped = np.all(y == y[:, :1], axis=1)
    kept_x = x.numpy().reshape(64 * 64, -1)[~dropped]
    np.testing.assert_allclose(y[~dropped], kept_x * a + b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y[dropped], -1.7580993408473766 * a + b, rtol=1e-5)
    assert 0.15 < dropped.mean() < 0.25  # p = 0.2 over 4096 channels
    assert abs(y.mean()) < 0.05 and abs(y.var() - 1) < 0.05  # SELU's fixed point kept
    layer.eval()
    assert layer(x) is x


# ---- interpolation ------------------------------------------------------------------------------------------------
def source_coordinates(size, out, align_corners, scale):
    """torch's source coordinate per output index along one axis (linear modes)."""
    dst = np.arange(out, dtype=np.float64)
    if align_corners:
        return dst * ((size - 1) / (out - 1)) if out > 1 else np.zeros(out)
    return np.maximum((dst + 0.5) * scale - 0.5, 0.0)


def trilinear_ref(x, out, align_corners, scales):
    """Sum over the 8 corners of the source cell of the product of the per-axis weights."""
    corners = []
    for size, o, s in zip(x.shape[2:], out, scales):
        src = source_coordinates(size, o, align_corners, s)
        i0 = np.minimum(np.floor(src).astype(int), size - 1)
        corners.append(((i0, 1 - (src - i0)), (np.minimum(i0 + 1, size - 1), src - i0)))
    y = np.zeros(x.shape[:2] + tuple(out))
    for (d, wd), (h, wh), (w, ww) in [(a, b, c) for a in corners[0] for b in corners[1] for c in corners[2]]:
        y += x[:, :, d][:, :, :, h][:, :, :, :, w] * (wd[:, None, None] * wh[None, :, None] * ww[None, None, :])
    return y


@pytest.mark.parametrize("align_corners", [False, True])
def test_trilinear_interpolation(rng, align_corners):
    x = randn(rng, 2, 3, 3, 5, 4, dtype=np.float64)
    out = (7, 2, 9)
    scales = [s / o for s, o in zip(x.shape[2:], out)]
    assert_close(F.interpolate(t64(x), out, mode="trilinear", align_corners=align_corners).numpy(),
                 trilinear_ref(x, out, align_corners, scales), rtol=1e-12, atol=1e-12)
    check_grad(lambda x: F.interpolate(x, out, mode="trilinear", align_corners=align_corners), x)


def test_nearest_interpolation_and_scale_factor(rng):
    x = randn(rng, 1, 2, 3, 5, 4, dtype=np.float64)
    y = F.interpolate(t64(x), scale_factor=(2, 0.6, 1.5))  # sizes (6, 3, 6); source floor(dst / scale_factor)
    src = [np.minimum(np.floor(np.arange(o) / s).astype(int), n - 1)
           for o, s, n in zip((6, 3, 6), (2, 0.6, 1.5), x.shape[2:])]
    assert_close(y.numpy(), x[:, :, src[0]][:, :, :, src[1]][:, :, :, :, src[2]], rtol=0, atol=0)
    assert nn.Upsample(scale_factor=2, mode="trilinear")(t64(x)).shape == (1, 2, 6, 10, 8)
    check_grad(lambda x: F.interpolate(x, (4, 7, 2)), x)
    with pytest.raises(ValueError, match="trilinear"):
        F.interpolate(t64(x), 4, mode="bilinear")
    with pytest.raises(ValueError, match="size"):
        F.interpolate(t64(x), (4, 4))


@pytest.mark.parametrize("name, args", [("ZeroPad3d", ((1, 2, 0, 1, 2, 1),)), ("ConstantPad3d", (2, 0.5)),
                                        ("ReflectionPad3d", ((1, 2, 1, 0, 2, 1),)), ("ReplicationPad3d", (1,)),
                                        ("CircularPad3d", ((1, 2, 1, 0, 2, 1),))])
def test_3d_pads_are_np_pad(rng, name, args):
    x = rng.standard_normal((1, 2, 3, 4, 5))
    y = getattr(nn, name)(*args)(dlcore.tensor(x)).numpy()
    p = (args[0],) * 6 if isinstance(args[0], int) else args[0]
    widths = ((0, 0), (0, 0), (p[4], p[5]), (p[2], p[3]), (p[0], p[1]))
    mode = {"ZeroPad3d": "constant", "ConstantPad3d": "constant", "ReflectionPad3d": "reflect",
            "ReplicationPad3d": "edge", "CircularPad3d": "wrap"}[name]
    kwargs = {"constant_values": args[1]} if name == "ConstantPad3d" else {}
    np.testing.assert_array_equal(y, np.pad(x, widths, mode=mode, **kwargs))
    with pytest.raises(ValueError, match="6 ints"):
        getattr(nn, name)((1, 2))


def test_lp_pool3d(rng):
    x = rng.uniform(0.1, 1, (1, 2, 4, 4, 4))
    y = nn.LPPool3d(2, 2)(dlcore.tensor(x)).numpy()
    ref = np.sqrt((x ** 2).reshape(1, 2, 2, 2, 2, 2, 2, 2).sum(axis=(3, 5, 7)))
    np.testing.assert_allclose(y, ref, rtol=1e-12)
