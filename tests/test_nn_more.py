"""The torch.nn layers of nn/layers_more.py and nn/recurrent.py: values against float64 NumPy references written
here from the definitions, gradients by finite differences (float64), shapes and parameter names as torch's,
bad input as clear exceptions."""
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


def _softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


@pytest.fixture
def x_kinks(rng):
    """Random values over (-8, 8) plus the kinks the piecewise activations switch at (forward values only)."""
    x = rng.uniform(-8, 8, (3, 5, 7))
    x[0, 0, :6] = [-3.0, 3.0, -1.0, 1.0, 0.0, 6.0]
    return x


ACTIVATIONS = {  # name: (dlcore call, float64 reference)
    "softplus": (lambda t: F.softplus(t, beta=2.0, threshold=6.0),
                 lambda x: np.where(2 * x > 6, x, _softplus(2 * x) / 2)),
    "mish": (F.mish, lambda x: x * np.tanh(_softplus(x))),
    "logsigmoid": (F.logsigmoid, lambda x: np.log(_sig(x))),
    "softsign": (F.softsign, lambda x: x / (1 + np.abs(x))),
    "hardtanh": (lambda t: F.hardtanh(t, -2.0, 3.0), lambda x: np.clip(x, -2, 3)),
    "relu6": (F.relu6, lambda x: np.clip(x, 0, 6)),
    "hardsigmoid": (F.hardsigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    "hardswish": (F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "selu": (F.selu, lambda x: 1.0507009873554804934 * np.where(x > 0, x, 1.6732632423543772848 * np.expm1(x))),
    "celu": (lambda t: F.celu(t, 0.7), lambda x: np.maximum(x, 0) + np.minimum(0, 0.7 * np.expm1(x / 0.7))),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_values_and_gradients(name, rng, x_kinks):
    fn, ref = ACTIVATIONS[name]
    np.testing.assert_allclose(fn(_t(x_kinks, False)).numpy(), ref(x_kinks), rtol=1e-12, atol=1e-14)
    away = rng.uniform(-8, 8, (4, 6))
    away[np.abs(np.abs(away) - 3) < 0.05] += 0.2  # finite differences need no kink within eps
    away[np.abs(np.abs(away) - 1) < 0.05] += 0.2
    away[np.abs(away) < 0.05] += 0.2
    gradcheck(fn, [_t(away)])
    x32 = x_kinks.astype(np.float32)
    y32 = fn(dlcore.tensor(x32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32.numpy(), ref(x32.astype(np.float64)), rtol=2e-6, atol=2e-6)


def test_activation_gradients_at_the_kinks_follow_torch():
    """torch's one-sided choices: hardswish 0 at -3 and 1 at 3; hardtanh/hardsigmoid 0 at their ends."""
    x = _t([-3.0, 3.0, -1.0, 1.0])
    F.hardswish(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 1.0, 1 / 6, 5 / 6], rtol=1e-15)
    x.grad = None
    F.hardtanh(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0, 0.0])
    x.grad = None
    F.hardsigmoid(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, 1 / 6, 1 / 6])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_smooth_l1_and_huber(rng, reduction):
    x, y = rng.standard_normal((4, 5)) * 3, rng.standard_normal((4, 5)) * 3
    d = np.abs(x - y)
    reduce = {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction]
    got = F.smooth_l1_loss(_t(x, False), _t(y, False), reduction=reduction, beta=0.5).numpy()
    np.testing.assert_allclose(got, reduce(np.where(d < 0.5, d * d, d - 0.25)), rtol=1e-12)
    got = F.huber_loss(_t(x, False), _t(y, False), reduction=reduction, delta=2.0).numpy()
    np.testing.assert_allclose(got, reduce(np.where(d < 2, 0.5 * d * d, 2 * (d - 1))), rtol=1e-12)
    gradcheck(lambda a: F.smooth_l1_loss(a, _t(y, False), reduction=reduction, beta=0.5), [_t(x)])
    gradcheck(lambda a: nn.HuberLoss(reduction, delta=2.0)(a, _t(y, False)), [_t(x)])
    with pytest.raises(ValueError, match="target shape"):
        F.smooth_l1_loss(_t(x), _t(y[:2]))


def test_normalize_and_cosine_similarity(rng):
    x, y = rng.standard_normal((3, 4, 5)), rng.standard_normal((1, 4, 5))
    n = np.sqrt((x * x).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(F.normalize(_t(x, False)).numpy(), x / n, rtol=1e-12)
    want = (x * y).sum(axis=2) / np.linalg.norm(x, axis=2) / np.linalg.norm(y, axis=2)
    np.testing.assert_allclose(nn.CosineSimilarity(dim=2)(_t(x, False), _t(y, False)).numpy(), want, rtol=1e-12)
    gradcheck(lambda a, b: F.cosine_similarity(a, b, dim=2), [_t(x), _t(y)])
    gradcheck(lambda a: F.normalize(a, p=1, dim=-1), [_t(x)])


def test_embedding_lookup_gradient_padding_and_frequency(rng):
    w = rng.standard_normal((9, 4))
    idx = rng.integers(0, 9, (3, 5))
    idx[0, :3] = 2
    np.testing.assert_array_equal(F.embedding(dlcore.tensor(idx), _t(w, False)).numpy(), w[idx])
    gradcheck(lambda a: F.embedding(dlcore.tensor(idx), a), [_t(w)])
    weight = _t(w)
    dy = rng.standard_normal((3, 5, 4))
    F.embedding(dlcore.tensor(idx), weight, padding_idx=2, scale_grad_by_freq=True).backward(dlcore.tensor(dy))
    counts = np.bincount(idx.ravel(), minlength=9)
    want = np.zeros_like(w)
    np.add.at(want, idx.ravel(), dy.reshape(-1, 4) / counts[idx.ravel()][:, None])
    want[2] = 0
    np.testing.assert_allclose(weight.grad.numpy(), want, rtol=1e-12)


def test_embedding_module_max_norm_and_errors(rng):
    emb = nn.Embedding(6, 3, padding_idx=-1)
    assert emb.padding_idx == 5 and not emb.weight.numpy()[5].any()
    assert emb(dlcore.tensor(np.array([[1, 5]]))).shape == (1, 2, 3)
    table = rng.standard_normal((4, 3)) * 3
    pre = nn.Embedding.from_pretrained(dlcore.tensor(table), freeze=True, max_norm=1.0)
    assert not pre.weight.requires_grad
    pre(dlcore.tensor(np.array([0, 2])))  # renormalizes the looked-up rows in place, as torch
    norms = np.linalg.norm(pre.weight.numpy(), axis=1)
    assert norms[0] <= 1.0 and norms[2] <= 1.0 and norms[1] == pytest.approx(np.linalg.norm(table[1]))
    with pytest.raises(IndexError, match="out of range"):
        emb(dlcore.tensor(np.array([6])))
    with pytest.raises(TypeError, match="integers"):
        emb(dlcore.tensor(np.array([1.0])))
    with pytest.raises(ValueError, match="sparse"):
        nn.Embedding(3, 2, sparse=True)(dlcore.tensor(np.array([0])))


def _conv1d_reference(x, w, b, stride, pad, dil, groups):
    n, c, length = x.shape
    o, cg, k = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad)))
    out_len = (length + 2 * pad - dil * (k - 1) - 1) // stride + 1
    y = np.zeros((n, o, out_len))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for t in range(out_len):
            window = xp[:, g * cg:(g + 1) * cg, t * stride:t * stride + dil * (k - 1) + 1:dil]
            y[:, oc, t] = (window * w[oc]).sum(axis=(1, 2)) + (b[oc] if b is not None else 0)
    return y


def test_conv1d_and_pool1d(rng):
    x = rng.standard_normal((2, 4, 17))
    conv = nn.Conv1d(4, 6, 3, stride=2, padding=3, dilation=2, groups=2, dtype=np.float64)
    want = _conv1d_reference(x, conv.weight.numpy(), conv.bias.numpy(), 2, 3, 2, 2)
    np.testing.assert_allclose(conv(_t(x, False)).numpy(), want, rtol=1e-12, atol=1e-12)
    gradcheck(lambda a, w, b: F.conv1d(a, w, b, stride=2, padding=3, dilation=2, groups=2),
              [_t(x), _t(conv.weight.numpy()), _t(conv.bias.numpy())])
    x32 = x.astype(np.float32)  # float32: the conv2d kernels over a height of 1
    conv32 = nn.Conv1d(4, 6, 5, padding="same")
    got = conv32(dlcore.tensor(x32)).numpy()
    np.testing.assert_allclose(got, _conv1d_reference(x, conv32.weight.numpy().astype(np.float64),
                                                      conv32.bias.numpy().astype(np.float64), 1, 2, 1, 1),
                               rtol=1e-5, atol=1e-5)
    assert conv32(dlcore.tensor(x32[0])).shape == (6, 17)  # unbatched (C, L)
    np.testing.assert_array_equal(nn.MaxPool1d(3, 2)(_t(x, False)).numpy(),
                                  np.stack([x[..., i:i + 3].max(-1) for i in range(0, 15, 2)], -1))
    np.testing.assert_allclose(nn.AvgPool1d(4)(_t(x, False)).numpy(),
                               np.stack([x[..., i:i + 4].mean(-1) for i in range(0, 14, 4)], -1), rtol=1e-12)
    gradcheck(lambda a: F.avg_pool1d(a, 4, 3, 2, count_include_pad=False), [_t(x)])
    with pytest.raises(ValueError, match=r"\(N, C, L\)"):
        conv(_t(rng.standard_normal((1, 4, 3, 3))))


def test_padding_shuffle_unflatten_instance_norm(rng):
    x = rng.standard_normal((2, 8, 3, 4))
    np.testing.assert_array_equal(nn.ZeroPad2d((1, 2, 0, 3))(_t(x, False)).numpy(),
                                  np.pad(x, ((0, 0), (0, 0), (0, 3), (1, 2))))
    np.testing.assert_array_equal(nn.ReflectionPad2d(1)(_t(x, False)).numpy(),
                                  np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect"))
    shuffled = nn.PixelShuffle(2)(_t(x, False)).numpy()
    assert shuffled.shape == (2, 2, 6, 8)
    assert shuffled[1, 1, 3, 5] == x[1, 1 * 4 + 1 * 2 + 1, 1, 2]  # channel c r^2 + i r + j -> (h r + i, w r + j)
    np.testing.assert_array_equal(nn.PixelUnshuffle(2)(dlcore.tensor(shuffled)).numpy(), x)
    assert nn.Unflatten(1, (2, 4))(_t(x, False)).shape == (2, 2, 4, 3, 4)
    norm = nn.InstanceNorm2d(8, affine=True, dtype=np.float64)
    mu, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(norm(_t(x, False)).numpy(), (x - mu) / np.sqrt(var + 1e-5), rtol=1e-10)
    gradcheck(lambda a: norm(a), [_t(x)])
    with pytest.raises(ValueError, match="track_running_stats"):
        nn.InstanceNorm2d(8, track_running_stats=True)


# ---- recurrent layers ------------------------------------------------------------------------------------------
def _cell_reference(mode, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """One step of torch's equations in NumPy (float64)."""
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    n = h.shape[-1]
    if mode == "RNN":
        return np.tanh(gi + gh), None
    if mode == "LSTM":
        g = gi + gh
        i, f, cand, o = _sig(g[:, :n]), _sig(g[:, n:2 * n]), np.tanh(g[:, 2 * n:3 * n]), _sig(g[:, 3 * n:])
        c = f * c + i * cand
        return o * np.tanh(c), c
    r, z = _sig(gi[:, :n] + gh[:, :n]), _sig(gi[:, n:2 * n] + gh[:, n:2 * n])
    cand = np.tanh(gi[:, 2 * n:] + r * gh[:, 2 * n:])
    return (1 - z) * cand + z * h, None


def _sequence_reference(mode, model, x):
    """Layers x directions of _cell_reference over time (zero initial state), torch's output layout."""
    params = {k: v.numpy().astype(np.float64) for k, v in model.state_dict().items()}
    hs, cs = [], []
    for layer in range(model.num_layers):
        outs = []
        for suffix in ("", "_reverse")[:2 if model.bidirectional else 1]:
            p = [params[f"{k}_l{layer}{suffix}"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            h = np.zeros((x.shape[1], model.hidden_size))
            c = np.zeros_like(h)
            ys = [None] * x.shape[0]
            for t in (reversed(range(x.shape[0])) if suffix else range(x.shape[0])):
                h, c2 = _cell_reference(mode, x[t], h, c, *p)
                c = c2 if c2 is not None else c
                ys[t] = h
            outs.append(np.stack(ys))
            hs.append(h)
            cs.append(c)
        x = np.concatenate(outs, axis=2)
    return x, np.stack(hs), np.stack(cs)


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_recurrent_layers_against_the_equations(mode, rng):
    model = getattr(nn, mode)(5, 4, num_layers=2, bidirectional=True, batch_first=True, dtype=np.float64)
    x = rng.standard_normal((3, 6, 5))  # (N, L, H_in)
    out, state = model(_t(x, False))
    want, h_n, c_n = _sequence_reference(mode, model, x.transpose(1, 0, 2))
    np.testing.assert_allclose(out.numpy(), want.transpose(1, 0, 2), rtol=1e-12, atol=1e-13)
    h = state[0] if mode == "LSTM" else state
    np.testing.assert_allclose(h.numpy(), h_n, rtol=1e-12, atol=1e-13)
    if mode == "LSTM":
        np.testing.assert_allclose(state[1].numpy(), c_n, rtol=1e-12, atol=1e-13)
    assert [n for n, _ in model.named_parameters()][:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                                            "bias_hh_l0"]
    assert model.weight_ih_l1_reverse.shape == ({"RNN": 1, "LSTM": 4, "GRU": 3}[mode] * 4, 8)


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_recurrent_gradients_through_time(mode, rng):
    model = getattr(nn, mode)(3, 2, bidirectional=True, dtype=np.float64)
    x = rng.standard_normal((4, 2, 3))
    names = [n for n, _ in model.named_parameters()]

    def run(inp, h0, *params):
        for name, p in zip(names, params):
            model._parameters[name] = p
        out, state = model(inp, (h0, h0 * 0.5) if mode == "LSTM" else h0)
        h = state[0] if mode == "LSTM" else state
        return dlcore.cat([out.reshape(-1), h.reshape(-1)])

    gradcheck(run, [_t(x), _t(rng.standard_normal((2, 2, 2)))] + [_t(p.numpy()) for p in model.parameters()])


def test_cells_unbatched_and_errors(rng):
    cell = nn.LSTMCell(3, 2, dtype=np.float64)
    h, c = cell(_t(rng.standard_normal(3), False))
    assert h.shape == (2,) and c.shape == (2,)
    gru = nn.GRUCell(3, 2, dtype=np.float64)
    x, h0 = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    want, _ = _cell_reference("GRU", x, h0, None, *(p.numpy() for p in gru.parameters()))
    np.testing.assert_allclose(gru(_t(x, False), _t(h0, False)).numpy(), want, rtol=1e-12)
    with pytest.raises(ValueError, match="expected input"):
        nn.LSTM(3, 2)(dlcore.randn(4, 2, 5))
    with pytest.raises(ValueError, match="hidden state of shape"):
        nn.GRU(3, 2)(dlcore.randn(4, 2, 3), dlcore.randn(2, 2, 2))
    with pytest.raises(TypeError, match="tuple"):
        nn.LSTM(3, 2)(dlcore.randn(4, 2, 3), dlcore.randn(1, 2, 2))
    with pytest.raises(ValueError, match="proj_size"):
        nn.LSTM(3, 2, proj_size=2)  # must be below hidden_size, as torch


def test_lstm_proj_size_against_the_equations(rng):
    model = nn.LSTM(4, 5, num_layers=2, proj_size=3, bidirectional=True, dtype=np.float64)
    assert [n for n, _ in model.named_parameters()][:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                                            "bias_hh_l0", "weight_hr_l0"]  # torch's order
    assert model.weight_hh_l0.shape == (20, 3) and model.weight_hr_l1_reverse.shape == (3, 5)
    assert model.weight_ih_l1.shape == (20, 6)  # the next layer sees both directions' projections
    x = rng.standard_normal((6, 2, 4))
    h0, c0 = rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 2, 5))
    out, (h_n, c_n) = model(_t(x, False), (_t(h0, False), _t(c0, False)))
    params = {k: v.numpy() for k, v in model.state_dict().items()}
    inp, hs, cs = x, [], []
    for layer in range(2):
        outs = []
        for d, suffix in enumerate(("", "_reverse")):
            p = [params[f"{k}_l{layer}{suffix}"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            h, c = h0[2 * layer + d], c0[2 * layer + d]
            ys = [None] * 6
            for t in (reversed(range(6)) if d else range(6)):
                g = inp[t] @ p[0].T + p[2] + h @ p[1].T + p[3]
                i, f, cand, o = _sig(g[:, :5]), _sig(g[:, 5:10]), np.tanh(g[:, 10:15]), _sig(g[:, 15:])
                c = f * c + i * cand
                h = (o * np.tanh(c)) @ params[f"weight_hr_l{layer}{suffix}"].T
                ys[t] = h
            outs.append(np.stack(ys))
            hs.append(h)
            cs.append(c)
        inp = np.concatenate(outs, axis=2)
    np.testing.assert_allclose(out.numpy(), inp, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(h_n.numpy(), np.stack(hs), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(c_n.numpy(), np.stack(cs), rtol=1e-12, atol=1e-13)
    small = nn.LSTM(2, 3, proj_size=2, dtype=np.float64)
    gradcheck(lambda a: small(a)[0], [_t(rng.standard_normal((3, 2, 2)))])
    with pytest.raises(ValueError, match="cell state of shape"):
        small(_t(x[:, :, :2]), (_t(np.zeros((1, 2, 2))), _t(np.zeros((1, 2, 2)))))


def test_lstm_learns_a_sequence_task(rng):
    """A float32 LSTM + Linear learns to output the running sign of a sum (a task a feed-forward net can't)."""
    dlcore.manual_seed(0)
    lstm, head = nn.LSTM(1, 8, batch_first=True), nn.Linear(8, 1)
    opt = dlcore.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=0.05)
    x = rng.standard_normal((64, 10, 1)).astype(np.float32)
    y = (np.cumsum(x, axis=1) > 0).astype(np.float32)
    for _ in range(60):
        opt.zero_grad()
        out, _ = lstm(dlcore.tensor(x))
        loss = F.binary_cross_entropy_with_logits(head(out), dlcore.tensor(y))
        loss.backward()
        opt.step()
    out, _ = lstm(dlcore.tensor(x))
    accuracy = ((head(out).numpy() > 0) == (y > 0.5)).mean()
    assert accuracy > 0.9, accuracy


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_recurrent_float32_on_the_gemm_kernels_matches_float64(mode, rng):
    """float32 layers run their step products on dlcore.kernels' GEMM: held to the float64 run, gradients too,
    and a second backward with retain_graph gives the same gradients."""
    m64 = getattr(nn, mode)(6, 5, num_layers=2, bidirectional=True, dtype=np.float64)
    m32 = getattr(nn, mode)(6, 5, num_layers=2, bidirectional=True)
    m32.load_state_dict(m64.state_dict())
    x = rng.standard_normal((9, 4, 6))
    w = rng.standard_normal((9, 4, 10))
    outs = []
    for model, dtype in ((m64, np.float64), (m32, np.float32)):
        xt = dlcore.tensor(x.astype(dtype), requires_grad=True)
        y, _ = model(xt)
        loss = (y * dlcore.tensor(w.astype(dtype))).sum()
        loss.backward(retain_graph=True)
        first = xt.grad.numpy().copy()
        xt.grad = None
        loss.backward()
        np.testing.assert_array_equal(xt.grad.numpy(), first)
        outs.append((y.numpy(), first, model.weight_hh_l1_reverse.grad.numpy()))
    for a, b in zip(*outs):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5 * np.abs(a).max())


class _TorchLikeTensor:
    """What torch's state_dict holds: .shape, a dtype that is not NumPy's, detach/cpu, __array__."""

    def __init__(self, array):
        self._array, self.shape, self.dtype = array, array.shape, "torch.float32"

    def detach(self):
        return self

    def cpu(self):
        return self

    def __array__(self, dtype=None, copy=None):
        return self._array


def test_load_state_dict_takes_torch_tensors(rng):
    lstm = nn.LSTM(3, 4)
    weights = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in lstm.state_dict().items()}
    lstm.load_state_dict({k: _TorchLikeTensor(v) for k, v in weights.items()})
    np.testing.assert_array_equal(lstm.weight_hh_l0.numpy(), weights["weight_hh_l0"])
    with pytest.raises(ValueError, match="has shape"):
        lstm.load_state_dict({k: _TorchLikeTensor(v[:1]) for k, v in weights.items()})


def test_recurrent_base_class_names():
    from dlcore import nn

    assert all(isinstance(m, nn.RNNBase) for m in (nn.RNN(3, 4), nn.LSTM(3, 4), nn.GRU(3, 4)))
    assert all(isinstance(m, nn.RNNCellBase) for m in (nn.RNNCell(3, 4), nn.LSTMCell(3, 4), nn.GRUCell(3, 4)))
    assert nn.RNNBase("GRU", 3, 4).weight_hh_l0.shape == (12, 4)
