"""Layers added for ported programs and the zoo: float64 NumPy references, gradchecks, bad input.

References are written independently of the implementation (loops over the
definitions); check_grad runs float64 finite differences, then float32 (the
kernel path where one exists) against float64, also on strided inputs.
"""
import math

import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
from dlcore import nn
from gradcheck_util import check_grad
from opcheck import assert_close, randn

rng = np.random.default_rng(19)


def run64(fn, *arrays):
    return fn(*[dlcore.Tensor(a.astype(np.float64)) for a in arrays]).numpy()


# ---- adaptive pooling ------------------------------------------------------------
def adaptive_ref(x, out, reduce):
    n, c, h, w = x.shape
    y = np.full((n, c) + out, np.nan)
    for i in range(out[0]):
        h0, h1 = math.floor(i * h / out[0]), math.ceil((i + 1) * h / out[0])
        for j in range(out[1]):
            w0, w1 = math.floor(j * w / out[1]), math.ceil((j + 1) * w / out[1])
            y[:, :, i, j] = reduce(x[:, :, h0:h1, w0:w1], axis=(2, 3))
    return y


@pytest.mark.parametrize("shape,out", [((2, 3, 7, 9), (3, 4)), ((1, 2, 8, 6), (4, 3)), ((2, 3, 5, 5), (1, 1)),
                                       ((1, 2, 3, 2), (7, 5)), ((2, 1, 9, 17), (None, 5))])
def test_adaptive_avg_pool(shape, out):
    x = randn(rng, *shape)
    full = tuple(shape[2 + i] if o is None else o for i, o in enumerate(out))
    assert_close(run64(lambda t: F.adaptive_avg_pool2d(t, out), x), adaptive_ref(x.astype(np.float64), full, np.mean),
                 rtol=1e-12, atol=1e-12)
    even = shape[2] % full[0] == 0 and shape[3] % full[1] == 0
    check_grad(lambda t: F.adaptive_avg_pool2d(t, out), x,
               kernels=("avg_pool2d_forward", "avg_pool2d_backward") if even else ())


@pytest.mark.parametrize("shape,out", [((2, 3, 7, 9), (3, 4)), ((1, 2, 8, 6), (4, 3)), ((2, 3, 5, 6), 1)])
def test_adaptive_max_pool(shape, out):
    x = randn(rng, *shape)
    full = (out, out) if isinstance(out, int) else out
    assert_close(run64(lambda t: F.adaptive_max_pool2d(t, out), x), adaptive_ref(x.astype(np.float64), full, np.max),
                 rtol=0, atol=0)
    y, idx = F.adaptive_max_pool2d(dlcore.Tensor(x), out, return_indices=True)
    flat = x.reshape(shape[0], shape[1], -1)
    assert_close(np.take_along_axis(flat, idx.numpy().reshape(shape[0], shape[1], -1), -1).reshape(y.shape),
                 y.numpy(), rtol=0, atol=0, what="indices")
    even = shape[2] % full[0] == 0 and shape[3] % full[1] == 0
    check_grad(lambda t: F.adaptive_max_pool2d(t, out), x,
               kernels=("max_pool2d_forward", "max_pool2d_backward") if even else ())
    m = nn.AdaptiveMaxPool2d(out)
    assert m(dlcore.Tensor(x)).shape == y.shape


def test_adaptive_pool_errors():
    with pytest.raises(ValueError, match="N, C, H, W"):
        F.adaptive_avg_pool2d(dlcore.randn(3, 4, 4), 2)
    with pytest.raises(ValueError, match="positive"):
        F.adaptive_max_pool2d(dlcore.randn(1, 3, 4, 4), 0)
    with pytest.raises(TypeError, match="dlcore.Tensor"):
        F.adaptive_avg_pool2d(np.zeros((1, 1, 2, 2)), 1)


# ---- interpolation --------------------------------------------------------------
def interp_ref(x, size, mode, align_corners, scales=None):
    n, c, h, w = x.shape
    oh, ow = size
    y = np.full((n, c, oh, ow), np.nan)

    def src(dst, insz, outsz, scale):
        if mode == "nearest":
            s = insz / outsz if scale is None else scale
            return min(int(math.floor(dst * s)), insz - 1)
        if align_corners:
            return dst * (insz - 1) / (outsz - 1) if outsz > 1 else 0.0
        s = insz / outsz if scale is None else scale
        return max((dst + 0.5) * s - 0.5, 0.0)
    sh, sw = scales or (None, None)
    for i in range(oh):
        for j in range(ow):
            if mode == "nearest":
                y[:, :, i, j] = x[:, :, src(i, h, oh, sh), src(j, w, ow, sw)]
                continue
            fi, fj = src(i, h, oh, sh), src(j, w, ow, sw)
            i0, j0 = min(int(fi), h - 1), min(int(fj), w - 1)
            i1, j1 = min(i0 + 1, h - 1), min(j0 + 1, w - 1)
            a, b = fi - i0, fj - j0
            y[:, :, i, j] = ((1 - a) * (1 - b) * x[:, :, i0, j0] + (1 - a) * b * x[:, :, i0, j1]
                             + a * (1 - b) * x[:, :, i1, j0] + a * b * x[:, :, i1, j1])
    return y


@pytest.mark.parametrize("mode,align", [("nearest", None), ("bilinear", False), ("bilinear", True)])
@pytest.mark.parametrize("shape,size", [((2, 3, 5, 7), (9, 4)), ((1, 2, 4, 4), (8, 8)), ((1, 1, 1, 3), (3, 7)),
                                        ((1, 2, 9, 6), (3, 5))])
def test_interpolate_size(mode, align, shape, size):
    x = randn(rng, *shape)
    fn = lambda t: F.interpolate(t, size=size, mode=mode, align_corners=align)  # noqa: E731
    assert_close(run64(fn, x), interp_ref(x.astype(np.float64), size, mode, align), rtol=1e-12, atol=1e-12)
    check_grad(fn, x)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_interpolate_scale_factor(mode):
    x = randn(rng, 1, 2, 5, 3)
    fn = lambda t: F.interpolate(t, scale_factor=(1.5, 2), mode=mode)  # noqa: E731
    ref = interp_ref(x.astype(np.float64), (7, 6), mode, False, scales=(1 / 1.5, 1 / 2))
    assert_close(run64(fn, x), ref, rtol=1e-12, atol=1e-12)
    up = nn.Upsample(scale_factor=2, mode=mode)
    assert up(dlcore.Tensor(x)).shape == (1, 2, 10, 6)


def test_interpolate_errors():
    x = dlcore.randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match="mode"):
        F.interpolate(x, size=3, mode="bicubic")
    with pytest.raises(ValueError, match="exactly one"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, size=3, align_corners=True)
    with pytest.raises(ValueError, match="4-D"):
        F.interpolate(dlcore.randn(4, 4), size=3)


# ---- padding --------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pads", [(1, 2), (2, 0, 1, 3), (0, 1, 2, 1, 1, 0)])
def test_pad(mode, pads):
    x = randn(rng, 2, 3, 5, 4)
    np_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    width = [(0, 0)] * x.ndim
    for k in range(len(pads) // 2):
        width[x.ndim - 1 - k] = (pads[2 * k], pads[2 * k + 1])
    kw = {"constant_values": 1.5} if mode == "constant" else {}
    ref = np.pad(x.astype(np.float64), width, mode=np_mode, **kw)
    value = 1.5 if mode == "constant" else 0
    fn = lambda t: F.pad(t, pads, mode=mode, value=value)  # noqa: E731
    assert_close(run64(fn, x), ref, rtol=0, atol=0)
    check_grad(fn, x)


def test_pad_errors():
    x = dlcore.randn(1, 1, 3, 3)
    with pytest.raises(ValueError, match="reflect padding"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="even"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(ValueError, match="non-negative"):
        F.pad(x, (-1, 1))
    with pytest.raises(ValueError, match="mode"):
        F.pad(x, (1, 1), mode="mirror")


# ---- transposed convolution -------------------------------------------------------
def conv_transpose_ref(x, w, b, stride, padding, output_padding, dilation, groups):
    n, cin, h, wd = x.shape
    _, cout_g, kh, kw = w.shape
    oh = (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + output_padding[0] + 1
    ow = (wd - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + output_padding[1] + 1
    full = np.zeros((n, cout_g * groups, oh + 2 * padding[0] + kh * dilation[0],
                     ow + 2 * padding[1] + kw * dilation[1]))
    cin_g = cin // groups
    for ci in range(cin):
        g = ci // cin_g
        for p in range(kh):
            for q in range(kw):
                for i in range(h):
                    for j in range(wd):
                        r, c = i * stride[0] + p * dilation[0], j * stride[1] + q * dilation[1]
                        full[:, g * cout_g:(g + 1) * cout_g, r, c] += x[:, ci, i, j][:, None] * w[ci, :, p, q]
    y = full[:, :, padding[0]:padding[0] + oh, padding[1]:padding[1] + ow]
    return y + (0 if b is None else b.reshape(1, -1, 1, 1))


@pytest.mark.parametrize("cfg", [
    dict(cin=3, cout=5, k=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1), dilation=(1, 1), groups=1),
    dict(cin=4, cout=6, k=(2, 3), stride=(1, 3), padding=(0, 1), output_padding=(0, 2), dilation=(2, 1), groups=2),
    dict(cin=2, cout=1, k=(4, 4), stride=(2, 2), padding=(1, 1), output_padding=(0, 0), dilation=(1, 1), groups=1),
])
@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose2d(cfg, bias):
    x = randn(rng, 2, cfg["cin"], 3, 5)
    w = randn(rng, cfg["cin"], cfg["cout"] // cfg["groups"], *cfg["k"])
    b = randn(rng, cfg["cout"]) if bias else None
    kw = {k: cfg[k] for k in ("stride", "padding", "output_padding", "dilation", "groups")}
    ref = conv_transpose_ref(x.astype(np.float64), w.astype(np.float64), None if b is None else b.astype(np.float64),
                             **kw)
    if bias:
        fn = lambda t, wt, bt: F.conv_transpose2d(t, wt, bt, **kw)  # noqa: E731
        arrays = (x, w, b)
    else:
        fn = lambda t, wt: F.conv_transpose2d(t, wt, **kw)  # noqa: E731
        arrays = (x, w)
    assert_close(run64(fn, *arrays), ref, rtol=1e-10, atol=1e-10)
    check_grad(fn, *arrays, kernels=("conv2d_backward_data", "conv2d_forward", "conv2d_backward_weights"))


def test_conv_transpose_module_and_errors():
    m = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    assert m.weight.shape == (4, 3, 3, 3) and m.bias.shape == (6,)
    assert m(dlcore.randn(1, 4, 5, 5)).shape == (1, 6, 10, 10)
    with pytest.raises(ValueError, match="do not match"):
        F.conv_transpose2d(dlcore.randn(1, 3, 4, 4), dlcore.randn(4, 2, 3, 3))
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(dlcore.randn(1, 4, 4, 4), dlcore.randn(4, 2, 3, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="divisible"):
        nn.ConvTranspose2d(3, 4, 3, groups=2)


# ---- normalization --------------------------------------------------------------
def layer_norm_ref(x, k, w, b, eps):
    axes = tuple(range(x.ndim - k, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


@pytest.mark.parametrize("shape,k", [((3, 7), 1), ((2, 3, 5, 4), 2), ((4, 17), 1), ((2, 3, 4), 3)])
def test_layer_norm(shape, k):
    x = randn(rng, *shape) * 3 + 1
    w, b = randn(rng, *shape[-k:]), randn(rng, *shape[-k:])
    fn = lambda t, wt, bt: F.layer_norm(t, shape[-k:], wt, bt, eps=1e-5)  # noqa: E731
    ref = layer_norm_ref(*(a.astype(np.float64) for a in (x,)), k, w.astype(np.float64), b.astype(np.float64), 1e-5)
    assert_close(run64(fn, x, w, b), ref, rtol=1e-10, atol=1e-10)
    check_grad(fn, x, w, b)
    m = nn.LayerNorm(shape[-k:])
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert_close(m(dlcore.Tensor(x)).numpy(), layer_norm_ref(x.astype(np.float64), k, 1, 0, 1e-5), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape,groups", [((2, 6, 3, 5), 3), ((3, 4, 7), 1), ((2, 8, 2, 2), 8), ((2, 6), 2)])
def test_group_norm(shape, groups):
    x = randn(rng, *shape) * 2 - 1
    c = shape[1]
    w, b = randn(rng, c), randn(rng, c)
    fn = lambda t, wt, bt: F.group_norm(t, groups, wt, bt)  # noqa: E731
    x64 = x.astype(np.float64)
    xg = x64.reshape(shape[0], groups, -1)
    norm = ((xg - xg.mean(-1, keepdims=True)) / np.sqrt(xg.var(-1, keepdims=True) + 1e-5)).reshape(shape)
    cs = (1, c) + (1,) * (len(shape) - 2)
    ref = norm * w.astype(np.float64).reshape(cs) + b.astype(np.float64).reshape(cs)
    assert_close(run64(fn, x, w, b), ref, rtol=1e-10, atol=1e-10)
    check_grad(fn, x, w, b)
    check_grad(lambda t: F.group_norm(t, groups), x)


def test_norm_errors():
    with pytest.raises(ValueError, match="normalized_shape"):
        F.layer_norm(dlcore.randn(2, 3), (4,))
    with pytest.raises(ValueError, match="divisible"):
        F.group_norm(dlcore.randn(2, 6, 3), 4)
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(4, 6)


# ---- activations ---------------------------------------------------------------
def test_gelu_silu():
    x = randn(rng, 3, 17) * 3
    x64 = x.astype(np.float64)
    erf = np.vectorize(math.erf)
    assert_close(run64(F.gelu, x), x64 * 0.5 * (1 + erf(x64 / math.sqrt(2))), rtol=1e-12, atol=1e-14)
    tanh_ref = 0.5 * x64 * (1 + np.tanh(math.sqrt(2 / math.pi) * (x64 + 0.044715 * x64 ** 3)))
    assert_close(run64(lambda t: F.gelu(t, approximate="tanh"), x), tanh_ref, rtol=1e-12, atol=1e-14)
    assert_close(run64(F.silu, x), x64 / (1 + np.exp(-x64)), rtol=1e-12, atol=1e-14)
    for fn in (F.gelu, lambda t: F.gelu(t, approximate="tanh"), F.silu, nn.GELU(), nn.SiLU()):
        check_grad(fn, x)
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")


# ---- dropout2d, one_hot ----------------------------------------------------------
def test_dropout2d():
    dlcore.manual_seed(3)
    x = dlcore.Tensor(randn(rng, 8, 16, 3, 3), requires_grad=True)
    y = F.dropout2d(x, 0.25)
    xs, ys = x.numpy(), y.numpy()
    zero = np.all(ys == 0, axis=(2, 3))
    kept = np.all(np.isclose(ys, xs / 0.75, rtol=1e-6), axis=(2, 3))
    assert np.all(zero ^ kept), "every channel is either dropped whole or kept and scaled"
    assert 0.1 < zero.mean() < 0.4
    y.sum().backward()
    assert_close(x.grad.numpy(), np.broadcast_to(np.where(zero, 0, 1 / 0.75)[..., None, None], xs.shape), rtol=1e-6)
    m = nn.Dropout2d(0.5).eval()
    assert m(x) is x
    with pytest.raises(ValueError, match="probability"):
        nn.Dropout2d(1.5)
    with pytest.raises(ValueError, match="N, C, H, W"):
        F.dropout2d(dlcore.randn(4, 4), 0.5)


def test_one_hot():
    t = dlcore.tensor([[0, 3], [2, 1]])
    y = F.one_hot(t, 5)
    assert y.dtype == np.int64 and y.shape == (2, 2, 5)
    assert np.array_equal(y.numpy(), np.eye(5, dtype=np.int64)[t.numpy()])
    assert F.one_hot(t).shape == (2, 2, 4)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        F.one_hot(t, 3)
    with pytest.raises(TypeError, match="integer"):
        F.one_hot(dlcore.tensor([0.5, 1.0]), 3)


# ---- containers, BatchNorm's num_batches_tracked ----------------------------------------
def test_module_list_and_dict():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(3, 3) for _ in range(2)])
            self.heads = nn.ModuleDict({"a": nn.Linear(3, 2), "b": nn.Linear(3, 1)})

        def forward(self, x):
            for b in self.blocks:
                x = b(x)
            return self.heads["a"](x), self.heads["b"](x)

    net = Net()
    assert list(net.state_dict()) == ["blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias",
                                      "heads.a.weight", "heads.a.bias", "heads.b.weight", "heads.b.bias"]
    a, b = net(dlcore.randn(4, 3))
    assert a.shape == (4, 2) and b.shape == (4, 1)
    net.blocks.append(nn.ReLU())
    assert len(net.blocks) == 3 and isinstance(net.blocks[-1], nn.ReLU)
    assert len(net.blocks[:2]) == 2
    assert sorted(net.heads.keys()) == ["a", "b"] and "a" in net.heads
    with pytest.raises(TypeError, match="Modules"):
        net.blocks.append(3)
    with pytest.raises(IndexError):
        net.blocks[5]
    with pytest.raises(KeyError, match="'.'"):
        net.heads["x.y"] = nn.ReLU()
    with pytest.raises(NotImplementedError):
        net.blocks(dlcore.randn(1, 3))


def test_batchnorm_num_batches_tracked():
    bn = nn.BatchNorm2d(3)
    assert "num_batches_tracked" in bn.state_dict()
    x = dlcore.Tensor(randn(rng, 4, 3, 2, 2))
    bn(x)
    bn(x)
    assert int(bn.num_batches_tracked.numpy()) == 2
    bn.eval()
    bn(x)
    assert int(bn.num_batches_tracked.numpy()) == 2
    # momentum=None: the running mean is the plain average of the batch means
    cum = nn.BatchNorm2d(3, momentum=None)
    batches = [randn(rng, 4, 3, 2, 2) for _ in range(3)]
    for xb in batches:
        cum(dlcore.Tensor(xb))
    assert_close(np.asarray(cum.running_mean.numpy()), np.mean([xb.mean(axis=(0, 2, 3)) for xb in batches], axis=0),
                 rtol=1e-5, atol=1e-6)
    fresh = nn.BatchNorm2d(3)
    fresh.load_state_dict(bn.state_dict())
    assert int(fresh.num_batches_tracked.numpy()) == 2
    assert "num_batches_tracked" not in nn.BatchNorm2d(3, track_running_stats=False).state_dict()
