"""The torch.nn layers added after layers_more.py's first batch: GLU, Softmin, Threshold, the shrinks, Dropout1d,
1-D adaptive pooling, the Upsampling aliases, Unfold / Fold, Bilinear, PairwiseDistance and the margin,
embedding and NLL losses. Values against float64 NumPy references written here from torch's definitions,
gradients by finite differences (float64), torch's names, bad input as clear exceptions."""
import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
from dlcore import nn
from dlcore.autograd import gradcheck


def _t(a, grad=True):
    return dlcore.tensor(np.asarray(a, np.float64), requires_grad=grad)


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _smooth(rng, shape, away=0.05, kinks=(0.0,)):
    """Random values at least `away` from the kinks, so finite differences stay on one side."""
    x = rng.uniform(-2, 2, shape)
    for k in kinks:
        x = np.where(np.abs(x - k) < away, k + away * np.sign(x - k + 1e-12) * 2, x)
    return x


def test_shrink_threshold_glu_softmin_values_and_gradients(rng):
    x = rng.uniform(-2, 2, (3, 4, 6))
    x[0, 0, :3] = [0.5, -0.5, 0.1]  # at the kinks: torch keeps 0 at |x| == lambd for both shrinks
    cases = [
        (lambda a: F.softshrink(a, 0.5), np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0))),
        (lambda a: F.hardshrink(a, 0.5), np.where(np.abs(x) > 0.5, x, 0)),
        (F.tanhshrink, x - np.tanh(x)),
        (lambda a: F.threshold(a, 0.1, 20.0), np.where(x > 0.1, x, 20.0)),
        (lambda a: F.glu(a, dim=-1), x[..., :3] * _sig(x[..., 3:])),
        (lambda a: F.glu(a, dim=1), x[:, :2] * _sig(x[:, 2:])),
    ]
    e = np.exp(-x - (-x).max(axis=1, keepdims=True))
    cases.append((lambda a: F.softmin(a, dim=1), e / e.sum(axis=1, keepdims=True)))
    for fn, want in cases:
        np.testing.assert_allclose(fn(_t(x)).numpy(), want, rtol=1e-12, atol=1e-15)
    smooth = _smooth(rng, (2, 4, 4), kinks=(0.5, -0.5, 0.1))
    for fn, _ in cases:
        gradcheck(fn, [_t(smooth)])
    # the modules, torch's implicit softmin dim (1 for 2-D input)
    m = rng.standard_normal((2, 5))
    np.testing.assert_allclose(nn.Softmin()(_t(m)).numpy(), F.softmin(_t(m), dim=1).numpy())
    np.testing.assert_allclose(nn.GLU()(_t(m[:, :4])).numpy(), m[:, :2] * _sig(m[:, 2:4]), rtol=1e-12)
    for module in (nn.Softshrink(0.3), nn.Hardshrink(), nn.Tanhshrink(), nn.Threshold(0.0, -1.0)):
        assert module(_t(m)).shape == (2, 5)
    with pytest.raises(ValueError, match="even"):
        F.glu(_t(m))
    with pytest.raises(ValueError, match="lambd"):
        F.softshrink(_t(m), -1.0)


def test_adaptive_pool1d_and_dropout1d(rng):
    x = rng.standard_normal((2, 3, 7))
    for size in (1, 3, 4, 7):
        starts = [i * 7 // size for i in range(size)]
        ends = [-(-(i + 1) * 7 // size) for i in range(size)]
        avg = np.stack([x[..., s:e].mean(-1) for s, e in zip(starts, ends)], -1)
        mx = np.stack([x[..., s:e].max(-1) for s, e in zip(starts, ends)], -1)
        arg = np.stack([x[..., s:e].argmax(-1) + s for s, e in zip(starts, ends)], -1)
        np.testing.assert_allclose(nn.AdaptiveAvgPool1d(size)(_t(x)).numpy(), avg, rtol=1e-12)
        out, idx = nn.AdaptiveMaxPool1d(size, return_indices=True)(_t(x))
        np.testing.assert_array_equal(out.numpy(), mx)
        np.testing.assert_array_equal(idx.numpy(), arg)
        np.testing.assert_array_equal(F.adaptive_max_pool1d(_t(x[0]), size).numpy(), mx[0])  # unbatched (C, L)
    gradcheck(lambda a: F.adaptive_avg_pool1d(a, 3), [_t(x)])
    gradcheck(lambda a: F.adaptive_max_pool1d(a, 3), [_t(x)])
    drop = nn.Dropout1d(0.5)
    y = drop(_t(np.ones((8, 6, 5)))).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and (y.std(axis=-1) == 0).all()  # whole channels
    drop.eval()
    np.testing.assert_array_equal(drop(_t(np.ones((6, 5)))).numpy(), np.ones((6, 5)))
    with pytest.raises(ValueError, match="dropout1d expects"):
        F.dropout1d(_t(np.ones((1, 2, 3, 4))))


def _unfold_reference(x, k, d, p, s):
    """torch's im2col from its definition: channel-major rows (c, ki, kj), blocks in row order."""
    n, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    oh = (h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    cols = np.zeros((n, c, k[0], k[1], oh, ow))
    for bi in range(oh):
        for bj in range(ow):
            for ki in range(k[0]):
                for kj in range(k[1]):
                    cols[:, :, ki, kj, bi, bj] = padded[:, :, bi * s[0] + ki * d[0], bj * s[1] + kj * d[1]]
    return cols.reshape(n, c * k[0] * k[1], oh * ow)


def test_unfold_fold_against_reference(rng):
    x = rng.standard_normal((2, 3, 7, 8))
    for k, d, p, s in [((3, 3), (1, 1), (0, 0), (1, 1)), ((2, 3), (1, 1), (1, 1), (2, 2)),
                       ((2, 2), (2, 2), (0, 1), (1, 3))]:
        want = _unfold_reference(x, k, d, p, s)
        cols = nn.Unfold(k, dilation=d, padding=p, stride=s)(_t(x))
        np.testing.assert_array_equal(cols.numpy(), want)
        np.testing.assert_array_equal(F.unfold(_t(x[0]), k, d, p, s).numpy(), want[0])  # unbatched
        # fold is unfold's adjoint: <unfold(x), c> == <x, fold(c)>
        c = rng.standard_normal(want.shape)
        folded = nn.Fold((7, 8), k, dilation=d, padding=p, stride=s)(_t(c)).numpy()
        np.testing.assert_allclose((want * c).sum(), (x * folded).sum(), rtol=1e-12)
    small = rng.standard_normal((1, 2, 4, 5))
    gradcheck(lambda a: F.unfold(a, 2, padding=1, stride=2), [_t(small)])
    gradcheck(lambda a: F.fold(a, (4, 5), 2, padding=1, stride=2), [_t(rng.standard_normal((1, 8, 9)))])
    # fold of unfold with non-overlapping blocks gives the image back
    tiles = x[..., :6, :]
    np.testing.assert_array_equal(F.fold(F.unfold(_t(tiles), 2, stride=2), (6, 8), 2, stride=2).numpy(), tiles)
    with pytest.raises(ValueError, match="divisible by the product of kernel_size"):
        F.fold(_t(np.zeros((1, 5, 4))), (3, 3), 2)
    with pytest.raises(ValueError, match="blocks"):
        F.fold(_t(np.zeros((1, 4, 5))), (3, 3), 2)
    with pytest.raises(ValueError, match="no"):
        F.unfold(_t(np.zeros((1, 1, 2, 2))), 3)
    with pytest.raises(ValueError, match="unfold expects"):
        F.unfold(_t(np.zeros((2, 2))), 1)


def test_bilinear_and_pairwise_distance(rng):
    layer = nn.Bilinear(5, 3, 4, dtype=np.float64)
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"] and layer.weight.shape == (4, 5, 3)
    assert np.abs(layer.weight.numpy()).max() <= 1 / np.sqrt(5)
    a, b = rng.standard_normal((2, 6, 5)), rng.standard_normal((2, 6, 3))
    want = np.einsum("...i,kij,...j->...k", a, layer.weight.numpy(), b) + layer.bias.numpy()
    np.testing.assert_allclose(layer(_t(a), _t(b)).numpy(), want, rtol=1e-12)
    gradcheck(lambda p, q, w, c: F.bilinear(p, q, w, c),
              [_t(a[0, :2]), _t(b[0, :2]), _t(rng.standard_normal((2, 5, 3))), _t(rng.standard_normal(2))])
    with pytest.raises(ValueError, match="do not fit"):
        layer(_t(b), _t(a))
    x1, x2 = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    for p in (1.0, 2.0, 3.0):
        want = (np.abs(x1 - x2 + 1e-6) ** p).sum(-1) ** (1 / p)
        np.testing.assert_allclose(nn.PairwiseDistance(p)(_t(x1), _t(x2)).numpy(), want, rtol=1e-12)
        gradcheck(lambda u, v, p=p: F.pairwise_distance(u, v, p), [_t(x1), _t(x2)])
    assert F.pairwise_distance(_t(x1), _t(x2), keepdim=True).shape == (4, 1)


def _reduce(loss, reduction):
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def test_margin_and_embedding_losses_against_reference(rng):
    s1, s2 = rng.standard_normal(6), rng.standard_normal(6)
    y = np.array([1.0, -1.0, 1.0, -1.0, -1.0, 1.0])
    x1, x2, x3 = rng.standard_normal((6, 4)), rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    cos = (x1 * x2).sum(-1) / np.sqrt(((x1 * x1).sum(-1) + 1e-12) * ((x2 * x2).sum(-1) + 1e-12))
    dist = lambda u, v: np.sqrt(((u - v + 1e-6) ** 2).sum(-1))  # noqa: E731
    labels = (x2 > 0).astype(float)
    logsig = lambda z: -np.log1p(np.exp(-z))  # noqa: E731
    cases = [
        (lambda r: nn.MarginRankingLoss(0.3, reduction=r), (s1, s2, y), np.maximum(0, -y * (s1 - s2) + 0.3)),
        (lambda r: nn.HingeEmbeddingLoss(0.7, reduction=r), (s1, y), np.where(y == 1, s1, np.maximum(0, 0.7 - s1))),
        (lambda r: nn.SoftMarginLoss(reduction=r), (s1, y), np.log1p(np.exp(-y * s1))),
        (lambda r: nn.CosineEmbeddingLoss(0.2, reduction=r), (x1, x2, y),
         np.where(y == 1, 1 - cos, np.maximum(0, cos - 0.2))),
        (lambda r: nn.TripletMarginLoss(reduction=r), (x1, x2, x3), np.maximum(0, 1 + dist(x1, x2) - dist(x1, x3))),
        (lambda r: nn.TripletMarginLoss(swap=True, reduction=r), (x1, x2, x3),
         np.maximum(0, 1 + dist(x1, x2) - np.minimum(dist(x1, x3), dist(x2, x3)))),
        (lambda r: nn.MultiLabelSoftMarginLoss(reduction=r), (x1, labels),
         -(labels * logsig(x1) + (1 - labels) * logsig(-x1)).mean(-1)),
    ]
    for make, inputs, want in cases:
        for reduction in ("mean", "sum", "none"):
            got = make(reduction)(*(_t(v) for v in inputs))
            np.testing.assert_allclose(got.numpy(), _reduce(want, reduction), rtol=1e-11, atol=1e-14)
        n_grad = 1 if len(inputs) == 2 else (2 if inputs[-1] is y else 3)  # the labels get no gradient
        loss, labels_given = make("sum"), [_t(v, False) for v in inputs[n_grad:]]
        gradcheck(lambda *v, loss=loss, rest=labels_given: loss(*v, *rest), [_t(v) for v in inputs[:n_grad]])
    w = rng.random(4)
    got = nn.MultiLabelSoftMarginLoss(weight=w)(_t(x1), _t(labels)).numpy()
    np.testing.assert_allclose(got, (-(labels * logsig(x1) + (1 - labels) * logsig(-x1)) * w).mean(), rtol=1e-12)
    assert list(nn.MultiLabelSoftMarginLoss(weight=w).state_dict()) == ["weight"]  # a buffer, as torch's
    with pytest.raises(ValueError, match="1 or -1"):
        F.hinge_embedding_loss(_t(s1), _t(np.zeros(6)))
    with pytest.raises(ValueError, match="size_average"):
        nn.MarginRankingLoss(0.0, True)


def test_poisson_and_gaussian_nll_losses(rng):
    x, counts = rng.standard_normal((3, 4)), rng.poisson(2.0, (3, 4)).astype(float)
    counts[0, :2] = [0.0, 1.0]  # Stirling's term is 0 at y <= 1
    np.testing.assert_allclose(F.poisson_nll_loss(_t(x), _t(counts)).numpy(), (np.exp(x) - counts * x).mean(),
                               rtol=1e-12)
    rate = np.abs(x) + 0.1
    safe = np.where(counts > 1, counts, 1)
    stirling = np.where(counts > 1, safe * np.log(safe) - safe + 0.5 * np.log(2 * np.pi * safe), 0)
    got = nn.PoissonNLLLoss(log_input=False, full=True, reduction="none")(_t(rate), _t(counts)).numpy()
    np.testing.assert_allclose(got, rate - counts * np.log(rate + 1e-8) + stirling, rtol=1e-12)
    gradcheck(lambda a: F.poisson_nll_loss(a, _t(counts, False), log_input=False, full=True), [_t(rate)])
    mu, target, var = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.random((3, 4)) + 0.1
    want = 0.5 * (np.log(var) + (mu - target) ** 2 / var)
    np.testing.assert_allclose(nn.GaussianNLLLoss()(_t(mu), _t(target), _t(var)).numpy(), want.mean(), rtol=1e-12)
    per_sample = nn.GaussianNLLLoss(full=True, reduction="sum")(_t(mu), _t(target), _t(var[:, 0])).numpy()
    v = var[:, :1]
    np.testing.assert_allclose(per_sample, (0.5 * (np.log(v) + (mu - target) ** 2 / v + np.log(2 * np.pi))).sum(),
                               rtol=1e-12)
    gradcheck(lambda a, s: F.gaussian_nll_loss(a, _t(target, False), s), [_t(mu), _t(var)])
    tiny = var.copy()
    tiny[0, 0] = 1e-9  # clamped to eps in value only, as torch's no_grad clamp of a clone
    loss = F.gaussian_nll_loss(_t(mu), _t(target), _t(tiny), reduction="none").numpy()
    np.testing.assert_allclose(loss[0, 0], 0.5 * (np.log(1e-6) + (mu - target)[0, 0] ** 2 / 1e-6), rtol=1e-12)
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(_t(mu), _t(target), _t(-var))
    with pytest.raises(ValueError, match="does not fit"):
        F.gaussian_nll_loss(_t(mu), _t(target), _t(var[:2]))


def test_upsampling_aliases(rng):
    x = rng.standard_normal((1, 2, 3, 4))
    np.testing.assert_array_equal(nn.UpsamplingNearest2d(scale_factor=2)(_t(x)).numpy(),
                                  x.repeat(2, axis=2).repeat(2, axis=3))
    up = nn.UpsamplingBilinear2d(size=(5, 7))(_t(x)).numpy()  # align_corners=True: the corners are kept
    np.testing.assert_allclose(up[..., [0, -1], [0, -1]], x[..., [0, -1], [0, -1]], rtol=1e-12)
    np.testing.assert_allclose(up[..., 2, 0], x[..., 1, 0], rtol=1e-12)  # output row 2 is input row 2 * 2/4
    np.testing.assert_allclose(up[..., 1, 0], 0.5 * (x[..., 0, 0] + x[..., 1, 0]), rtol=1e-12)


def test_rms_norm_against_reference(rng):
    x = rng.standard_normal((2, 3, 4, 6))
    norm = nn.RMSNorm((4, 6), dtype=np.float64)
    assert list(norm.state_dict()) == ["weight"] and norm.weight.shape == (4, 6)
    norm.weight._data[...] = rng.uniform(0.5, 1.5, (4, 6))
    eps = np.finfo(np.float64).eps  # torch's default: the dtype's machine epsilon
    want = x / np.sqrt((x * x).mean(axis=(-2, -1), keepdims=True) + eps) * norm.weight.numpy()
    np.testing.assert_allclose(norm(_t(x)).numpy(), want, rtol=1e-12)
    plain = F.rms_norm(_t(x), 6, eps=1e-3).numpy()
    np.testing.assert_allclose(plain, x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-3), rtol=1e-12)
    gradcheck(lambda a, w: F.rms_norm(a, (6,), w, 1e-5), [_t(x[0, 0]), _t(rng.standard_normal(6))])
    with pytest.raises(ValueError, match="normalized_shape"):
        norm(_t(x[..., :5]))


def test_one_d_pads_instance_norm1d_channel_shuffle_softmax2d(rng):
    x = rng.standard_normal((2, 3, 5))
    np.testing.assert_array_equal(nn.ZeroPad1d(2)(_t(x)).numpy(), np.pad(x, ((0, 0), (0, 0), (2, 2))))
    np.testing.assert_array_equal(nn.ConstantPad1d((1, 3), 1.5)(_t(x)).numpy(),
                                  np.pad(x, ((0, 0), (0, 0), (1, 3)), constant_values=1.5))
    for module, mode in ((nn.ReflectionPad1d((2, 1)), "reflect"), (nn.ReplicationPad1d((2, 1)), "edge"),
                         (nn.CircularPad1d((2, 1)), "wrap")):
        np.testing.assert_array_equal(module(_t(x)).numpy(), np.pad(x, ((0, 0), (0, 0), (2, 1)), mode=mode))
        np.testing.assert_array_equal(module(_t(x[0])).numpy(), np.pad(x[0], ((0, 0), (2, 1)), mode=mode))
    np.testing.assert_array_equal(nn.CircularPad2d((1, 0, 0, 2))(_t(x)).numpy(),
                                  np.pad(x, ((0, 0), (0, 2), (1, 0)), mode="wrap"))
    with pytest.raises(ValueError, match="left, right"):
        nn.ZeroPad1d((1, 2, 3))
    norm = nn.InstanceNorm1d(3, affine=True, dtype=np.float64)
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(norm(_t(x)).numpy(), want, rtol=1e-10)
    np.testing.assert_allclose(norm(_t(x[1])).numpy(), want[1], rtol=1e-10)
    with pytest.raises(ValueError, match="InstanceNorm1d"):
        norm(_t(x[:, :2]))
    y = rng.standard_normal((2, 6, 3, 2))
    shuffled = nn.ChannelShuffle(3)(_t(y)).numpy()
    np.testing.assert_array_equal(shuffled, y[:, [0, 2, 4, 1, 3, 5]])  # (3 groups of 2) read column by column
    with pytest.raises(ValueError, match="divisible"):
        F.channel_shuffle(_t(y), 4)
    e = np.exp(y - y.max(axis=1, keepdims=True))
    np.testing.assert_allclose(nn.Softmax2d()(_t(y)).numpy(), e / e.sum(axis=1, keepdims=True), rtol=1e-12)


def _conv_transpose1d_reference(x, w, b, stride, padding, output_padding, groups, dilation):
    """Each input sample scattered through the kernel: out[o, l*s + k*d - p] += x[c, l] w[c, o', k]."""
    n, cin, length = x.shape
    per_out, k = w.shape[1], w.shape[2]
    out_len = (length - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1
    full = np.zeros((n, per_out * groups, out_len + 2 * padding + dilation * k))
    per_in = cin // groups
    for c in range(cin):
        g = c // per_in
        for j in range(k):
            for pos in range(length):
                full[:, g * per_out:(g + 1) * per_out, pos * stride + j * dilation] += x[:, c, pos, None] * w[c, :, j]
    out = full[:, :, padding:padding + out_len]
    return out if b is None else out + b[:, None]


def test_conv_transpose1d_against_reference(rng):
    x = rng.standard_normal((2, 4, 5))
    for kw in (dict(), dict(stride=2, padding=1, output_padding=1), dict(groups=2, dilation=2, stride=3)):
        layer = nn.ConvTranspose1d(4, 6, 3, dtype=np.float64, **kw)
        assert layer.weight.shape == (4, 6 // kw.get("groups", 1), 3)
        want = _conv_transpose1d_reference(x, layer.weight.numpy(), layer.bias.numpy(), kw.get("stride", 1),
                                           kw.get("padding", 0), kw.get("output_padding", 0), kw.get("groups", 1),
                                           kw.get("dilation", 1))
        np.testing.assert_allclose(layer(_t(x)).numpy(), want, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(layer(_t(x[0])).numpy(), want[0], rtol=1e-11, atol=1e-13)
    gradcheck(lambda a, w, c: F.conv_transpose1d(a, w, c, stride=2, padding=1),
              [_t(x[:1, :, :3]), _t(rng.standard_normal((4, 2, 3))), _t(rng.standard_normal(2))])
    with pytest.raises(ValueError, match="weight must be"):
        F.conv_transpose1d(_t(x), _t(np.zeros((4, 2))))


def test_multi_margin_loss_against_reference(rng):
    x, y, w = rng.standard_normal((5, 4)), rng.integers(0, 4, 5), rng.random(4)
    for p in (1, 2):
        hinge = np.maximum(0, 0.7 - x[np.arange(5), y][:, None] + x) ** p
        hinge[np.arange(5), y] = 0  # the target class does not count
        want = (hinge * w[y][:, None]).sum(1) / 4
        loss = nn.MultiMarginLoss(p=p, margin=0.7, weight=w, reduction="none")
        np.testing.assert_allclose(loss(_t(x), dlcore.tensor(y)).numpy(), want, rtol=1e-12)
        np.testing.assert_allclose(F.multi_margin_loss(_t(x[0]), dlcore.tensor(y[0]), p, 0.7, w).numpy(), want[0],
                                   rtol=1e-12)  # unbatched (C,)
        gradcheck(lambda a, p=p: F.multi_margin_loss(a, dlcore.tensor(y), p, 0.7), [_t(x)])
    assert list(nn.MultiMarginLoss(weight=w).state_dict()) == ["weight"]
    with pytest.raises(TypeError, match="integer class indices"):
        F.multi_margin_loss(_t(x), _t(y))
    with pytest.raises(ValueError, match="one class in"):
        F.multi_margin_loss(_t(x), dlcore.tensor(y + 4))


def test_rrelu_and_gumbel_softmax(rng):
    x = rng.standard_normal((6, 5))
    np.testing.assert_allclose(F.rrelu(_t(x), 0.1, 0.3).numpy(), np.where(x >= 0, x, 0.2 * x), rtol=1e-12)
    layer = nn.RReLU(0.1, 0.3)
    slopes = layer(_t(-np.ones(2000))).numpy()
    assert -0.3 <= slopes.min() and slopes.max() <= -0.1 and abs(slopes.mean() + 0.2) < 0.01  # U(0.1, 0.3)
    layer.eval()
    np.testing.assert_allclose(layer(_t(x)).numpy(), np.where(x >= 0, x, 0.2 * x), rtol=1e-12)
    with pytest.raises(ValueError, match="lower"):
        F.rrelu(_t(x), 0.5, 0.1)
    dlcore.manual_seed(0)
    probs = np.array([0.1, 0.6, 0.3])
    soft = F.gumbel_softmax(_t(np.log(probs)[None].repeat(4000, 0)), tau=1.0).numpy()
    np.testing.assert_allclose(soft.sum(1), 1.0, rtol=1e-12)
    logits = _t(rng.standard_normal((3, 5)))
    hard = F.gumbel_softmax(logits, hard=True)
    assert set(np.unique(hard.numpy())) == {0.0, 1.0} and (hard.numpy().sum(1) == 1).all()
    # the argmax of logits + Gumbel noise samples the softmax distribution (the Gumbel-max trick)
    picks = F.gumbel_softmax(_t(np.log(probs)[None].repeat(4000, 0)), hard=True).numpy().mean(0)
    np.testing.assert_allclose(picks, probs, atol=0.03)
    # straight-through: with the same noise, the hard sample's gradient is the soft one's
    c, start = _t(rng.standard_normal((3, 5)), False), rng.standard_normal((3, 5))
    grads = []
    for hard in (True, False):
        dlcore.manual_seed(1)
        leaf = _t(start)
        (F.gumbel_softmax(leaf, tau=0.5, hard=hard) * c).sum().backward()
        grads.append(leaf.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)
    assert np.abs(grads[0]).max() > 1e-3


def test_embedding_bag_against_reference(rng):
    bag = nn.EmbeddingBag(10, 3, mode="sum", padding_idx=4, dtype=np.float64)
    assert list(bag.state_dict()) == ["weight"] and not bag.weight.numpy()[4].any()
    w = rng.standard_normal((10, 3))
    bag.weight._data[...] = w
    flat, offsets = np.array([1, 4, 7, 7, 2, 9, 0, 4, 3]), np.array([0, 2, 2, 6])  # bag 1 is empty
    bags = [flat[0:2], flat[2:2], flat[2:6], flat[6:]]
    kept = [b[b != 4] for b in bags]  # padding_idx members are left out, of the count too
    reduce = {"sum": lambda r: r.sum(0), "mean": lambda r: r.mean(0), "max": lambda r: r.max(0)}
    for mode, fn in reduce.items():
        bag.mode = mode
        want = np.stack([fn(w[k]) if len(k) else np.zeros(3) for k in kept])
        np.testing.assert_allclose(bag(dlcore.tensor(flat), dlcore.tensor(offsets)).numpy(), want, rtol=1e-12)
        last = F.embedding_bag(dlcore.tensor(flat), bag.weight, np.append(offsets, 9), mode=mode,
                               include_last_offset=True, padding_idx=4)
        np.testing.assert_allclose(last.numpy(), want, rtol=1e-12)
    rows = rng.integers(0, 10, (3, 4))  # 2-D input: a bag per row
    np.testing.assert_allclose(F.embedding_bag(dlcore.tensor(rows), _t(w), mode="mean").numpy(), w[rows].mean(1),
                               rtol=1e-12)
    psw = rng.standard_normal(9)
    got = F.embedding_bag(dlcore.tensor(flat), _t(w), dlcore.tensor(offsets), mode="sum",
                          per_sample_weights=_t(psw)).numpy()
    want = np.stack([(w[flat[s:e]] * psw[s:e, None]).sum(0) for s, e in ((0, 2), (2, 2), (2, 6), (6, 9))])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    for mode in ("sum", "mean", "max"):
        gradcheck(lambda t, mode=mode: F.embedding_bag(dlcore.tensor(flat), t, dlcore.tensor(offsets), mode=mode),
                  [_t(w)])
    gradcheck(lambda t, s: F.embedding_bag(dlcore.tensor(flat), t, dlcore.tensor(offsets), mode="sum",
                                           per_sample_weights=s), [_t(w), _t(psw)])
    with pytest.raises(ValueError, match="needs offsets"):
        F.embedding_bag(dlcore.tensor(flat), _t(w))
    with pytest.raises(ValueError, match="per_sample_weights needs mode='sum'"):
        F.embedding_bag(dlcore.tensor(rows), _t(w), per_sample_weights=_t(np.ones((3, 4))))
    with pytest.raises(ValueError, match="offsets must start at 0"):
        F.embedding_bag(dlcore.tensor(flat), _t(w), dlcore.tensor(np.array([1, 3])))


def test_pdist_multilabel_margin_triplet_with_distance(rng):
    x = rng.standard_normal((5, 4))
    i, j = np.triu_indices(5, k=1)
    for p in (1.0, 2.0, 3.0):
        np.testing.assert_allclose(F.pdist(_t(x), p).numpy(), (np.abs(x[i] - x[j]) ** p).sum(-1) ** (1 / p),
                                   rtol=1e-12)
        gradcheck(lambda a, p=p: F.pdist(a, p), [_t(x)])
    y = np.array([[3, 0, -1, 1], [1, 2, 3, -1], [0, 1, 2, 3], [-1, 0, 0, 0], [2, -1, 1, 1]])
    want = []
    for row, labels in zip(x, y):
        chosen = set(labels[:list(labels).index(-1)] if -1 in labels else labels)  # the classes before -1
        others = [c for c in range(4) if c not in chosen]
        want.append(sum(max(0, 1 - (row[t] - row[o])) for t in chosen for o in others) / 4)
    loss = nn.MultiLabelMarginLoss(reduction="none")
    np.testing.assert_allclose(loss(_t(x), dlcore.tensor(y)).numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(F.multilabel_margin_loss(_t(x[1]), dlcore.tensor(y[1])).numpy(), want[1], rtol=1e-12)
    gradcheck(lambda a: F.multilabel_margin_loss(a, dlcore.tensor(y)), [_t(x)])
    with pytest.raises(ValueError, match="integer class indices"):
        F.multilabel_margin_loss(_t(x), dlcore.tensor(y[:, :2]))
    a1, a2, a3 = (rng.standard_normal((4, 5)) for _ in range(3))

    def cosine_distance(u, v):
        return 1 - F.cosine_similarity(u, v)

    cos = lambda u, v: 1 - (u * v).sum(-1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)  # noqa: E731
    want = np.maximum(0, 0.5 + cos(a1, a2) - np.minimum(cos(a1, a3), cos(a2, a3))).mean()
    loss = nn.TripletMarginWithDistanceLoss(distance_function=cosine_distance, margin=0.5, swap=True)
    np.testing.assert_allclose(loss(_t(a1), _t(a2), _t(a3)).numpy(), want, rtol=1e-12)
    default = F.triplet_margin_with_distance_loss(_t(a1), _t(a2), _t(a3)).numpy()
    np.testing.assert_allclose(default, F.triplet_margin_loss(_t(a1), _t(a2), _t(a3)).numpy(), rtol=1e-12)
    gradcheck(lambda u, v, w: loss(u, v, w), [_t(a1), _t(a2), _t(a3)])


def test_alpha_dropout_keeps_zero_mean_unit_variance(rng):
    dlcore.manual_seed(0)
    x = rng.standard_normal(100000)
    drop = nn.AlphaDropout(0.3)
    y = drop(_t(x)).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    alpha = 1.7580993408473766  # SELU's scale * alpha
    a = 1 / np.sqrt((alpha ** 2 * 0.3 + 1) * 0.7)
    dropped = np.isclose(y, -alpha * a + alpha * a * 0.3)  # every dropped unit takes this one value, as torch's
    assert abs(dropped.mean() - 0.3) < 0.01
    np.testing.assert_allclose(y[~dropped], a * x[~dropped] + alpha * a * 0.3, rtol=1e-12)
    drop.eval()
    np.testing.assert_array_equal(drop(_t(x)).numpy(), x)


def test_max_pool1d_indices_and_lp_pools(rng):
    x = rng.standard_normal((2, 3, 11))
    out, idx = nn.MaxPool1d(3, stride=2, padding=1, return_indices=True)(_t(x))
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1)), constant_values=-np.inf)
    windows = np.stack([padded[..., 2 * i:2 * i + 3] for i in range(6)], axis=2)  # (N, C, 6, 3)
    np.testing.assert_array_equal(out.numpy(), windows.max(-1))
    np.testing.assert_array_equal(idx.numpy(), windows.argmax(-1) + 2 * np.arange(6) - 1)  # positions in x
    assert idx.dtype == np.int64
    unbatched, idx1 = F.max_pool1d(_t(x[0]), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(idx1.numpy(), idx.numpy()[0])
    pos = np.abs(x) + 0.1
    for p in (1.0, 2.0, 3.0):
        want = np.stack([(pos[..., 3 * i:3 * i + 3] ** p).sum(-1) for i in range(3)], -1) ** (1 / p)
        np.testing.assert_allclose(nn.LPPool1d(p, 3)(_t(pos)).numpy(), want, rtol=1e-12)
        gradcheck(lambda a, p=p: F.lp_pool1d(a, p, 3), [_t(pos)])
    img = np.abs(rng.standard_normal((1, 2, 4, 6))) + 0.1
    want = np.sqrt((img.reshape(1, 2, 2, 2, 2, 3) ** 2).sum(axis=(3, 5)))
    np.testing.assert_allclose(nn.LPPool2d(2, (2, 3))(_t(img)).numpy(), want, rtol=1e-12)
    gradcheck(lambda a: F.lp_pool2d(a, 3, 2), [_t(img)])
