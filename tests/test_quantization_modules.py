"""quantize_static on models that are not an nn.Sequential (dlcore.quantization.modules): a PyTorch-style LeNet
subclass with forward(), Conv+BN+ReLU folding inside Sequential children, save/load, and the errors."""
import numpy as np
import pytest

import dlcore
from dlcore import nn
from dlcore.nn import functional as F
from dlcore.quantization import QuantizedConv2d, QuantizedLinear, load_quantized, quantize_static


class LeNet(nn.Module):
    """LeNet-5 written the PyTorch way: layers as attributes, F.relu / max_pool2d / flatten in forward()."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.reshape(x.shape[0], -1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class BlockNet(nn.Module):
    """Conv+BN+ReLU in a Sequential child (folded and fused), a BatchNorm2d used from forward() (kept float32)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2))
        self.conv = nn.Conv2d(8, 12, 3, stride=(2, 1), padding=(1, 0))
        self.bn = nn.BatchNorm2d(12)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(12 * 7 * 10, 10))

    def forward(self, x):
        return self.head(F.relu(self.bn(self.conv(self.features(x)))))


def digits(train, n=None):
    d = dlcore.data.Digits(train=train)
    x = np.kron(d.images, np.ones((1, 1, 3, 3), np.float32))
    x = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2))).astype(np.float32)
    return (x, d.labels) if n is None else (x[:n], d.labels[:n])


@pytest.fixture(scope="module")
def trained_lenet():
    dlcore.manual_seed(0)
    model = LeNet()
    x, y = digits(True)
    opt = dlcore.optim.Adam(model.parameters(), lr=2e-3)
    rng = np.random.default_rng(0)
    for _ in range(3):
        for idx in np.array_split(rng.permutation(len(x)), len(x) // 64):
            loss = F.cross_entropy(model(dlcore.Tensor(x[idx])), dlcore.Tensor(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def logits(model, x):
    with dlcore.no_grad():
        return model(dlcore.Tensor(x)).numpy()


def test_module_subclass_lenet_quantizes_close_to_float32(trained_lenet, tmp_path):
    xtr, _ = digits(True, 256)
    xte, yte = digits(False)
    q = quantize_static(trained_lenet, [(xtr[i:i + 64], None) for i in range(0, 256, 64)])
    assert type(q) is LeNet and q is not trained_lenet
    assert [type(getattr(q, n)).__name__ for n in ("conv1", "conv2", "fc1", "fc2", "fc3")] == \
        ["QuantizedConv2d", "QuantizedConv2d", "QuantizedLinear", "QuantizedLinear", "QuantizedLinear"]
    assert q.conv1.weight.dtype == np.int8 and np.abs(q.fc1.weight.numpy()).max() <= 63
    yf, yq = logits(trained_lenet, xte), logits(q, xte)
    assert np.abs(yq - yf).max() <= 0.05 * np.abs(yf).max()
    acc_f, acc_q = (yf.argmax(1) == yte).mean(), (yq.argmax(1) == yte).mean()
    assert acc_f > 0.9, acc_f  # a trained model, so the comparison means something
    assert abs(acc_q - acc_f) <= 0.01 + 1e-9, (acc_f, acc_q)  # 360 test images: within 3-4 of them
    # the float model is untouched
    assert type(trained_lenet.conv1) is nn.Conv2d
    # save / load round trip through dlcore.save / dlcore.load: bit-identical logits
    path = tmp_path / "qlenet.npz"
    dlcore.save(q.state_dict(), path)
    q2 = load_quantized(LeNet(), dlcore.load(path))
    np.testing.assert_array_equal(logits(q2, xte), yq)
    bytes_q = sum(b._data.nbytes for b in q.buffers())
    assert bytes_q < sum(p._data.nbytes for p in trained_lenet.parameters()) / 3.5


def test_quantized_layers_equal_their_integer_formula(trained_lenet, rng):
    """Each swapped layer computes dequant(int8 kernel(quant(x))) exactly as the kernels' NumPy formula."""
    xtr, _ = digits(True, 64)
    q = quantize_static(trained_lenet, [xtr])
    x = (rng.standard_normal((3, 1, 28, 28)) * 0.5).astype(np.float32)
    layer = q.conv1
    s, zp = float(layer.input_scale.numpy()[0]), int(layer.input_zero_point.numpy()[0])
    qx = np.clip(np.rint(x / np.float32(s)) + zp, 0, 255).astype(np.uint8)
    w = layer.weight.numpy().astype(np.int64)
    xp = np.pad(qx.astype(np.int64) - zp, ((0, 0), (0, 0), (2, 2), (2, 2)))
    acc = np.zeros((3, 6, 28, 28), np.int64)
    for i in range(5):
        for j in range(5):
            acc += np.einsum("nchw,oc->nohw", xp[:, :, i:i + 28, j:j + 28], w[:, :, i, j])
    mult = (np.float32(s) * layer.weight_scale.numpy()).astype(np.float32)
    ref = acc.astype(np.float32) * mult.reshape(1, -1, 1, 1) + layer.bias.numpy().reshape(1, -1, 1, 1)
    np.testing.assert_allclose(layer(dlcore.Tensor(x)).numpy(), ref, rtol=1e-6, atol=1e-6)
    # Linear on 3-D input: leading dimensions kept
    h = rng.standard_normal((2, 3, 400)).astype(np.float32)
    out = q.fc1(dlcore.Tensor(h)).numpy()
    assert out.shape == (2, 3, 120)
    np.testing.assert_array_equal(out.reshape(6, 120), q.fc1(dlcore.Tensor(h.reshape(6, 400))).numpy())


def test_sequential_children_fold_bn_and_fuse_relu(rng):
    dlcore.manual_seed(3)
    model = BlockNet()
    for bn in (model.features[1], model.bn):  # non-trivial running statistics
        bn.running_mean._data[...] = rng.standard_normal(bn.num_features).astype(np.float32) * 0.1
        bn.running_var._data[...] = rng.uniform(0.5, 2.0, bn.num_features).astype(np.float32)
    model.eval()
    x = rng.standard_normal((16, 1, 28, 24)).astype(np.float32)
    q = quantize_static(model, [x[:8], x[8:]])
    assert isinstance(q.features[0], QuantizedConv2d) and q.features[0].relu
    assert type(q.features[1]) is nn.Identity and type(q.features[2]) is nn.Identity
    assert isinstance(q.conv, QuantizedConv2d) and not q.conv.relu and q.conv.stride == (2, 1)
    assert type(q.bn) is nn.BatchNorm2d  # used from forward(): kept, float32
    assert isinstance(q.head[1], QuantizedLinear)
    yf, yq = logits(model, x), logits(q, x)
    assert np.abs(yq - yf).max() <= 0.05 * np.abs(yf).max()
    q2 = load_quantized(BlockNet(), q.state_dict())
    np.testing.assert_array_equal(logits(q2, x), yq)


def test_linear_repacks_after_load_state_dict(trained_lenet):
    xtr, _ = digits(True, 64)
    q = quantize_static(trained_lenet, [xtr])
    y0 = logits(q, xtr)  # packs fc weights
    state = {k: v.numpy().copy() for k, v in q.state_dict().items()}
    state["fc3.weight"] = -state["fc3.weight"]
    q.load_state_dict(state)
    y1 = logits(q, xtr)
    assert not np.array_equal(y0, y1)
    q2 = load_quantized(LeNet(), state)
    np.testing.assert_array_equal(logits(q2, xtr), y1)


def test_corrupt_qparams_are_refused(trained_lenet):
    xtr, _ = digits(True, 64)
    q = quantize_static(trained_lenet, [xtr])
    logits(q, xtr)
    q.conv1.input_zero_point._data[...] = 300  # written in place after the constants were cached
    q.conv1.input_zero_point._version_counter()[0] += 1
    with pytest.raises(ValueError, match=r"QuantizedConv2d: invalid input qparams \(scale .*, zero point 300\)"):
        logits(q, xtr)
    state = {k: v.numpy().copy() for k, v in q.state_dict().items()}
    state["conv1.input_zero_point"][...] = 7
    state["fc1.input_scale"][...] = -1.0
    with pytest.raises(ValueError, match=r"QuantizedLinear: invalid input qparams \(scale -1.0"):
        logits(load_quantized(LeNet(), state), xtr)


def test_errors_name_the_layer():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.gamma = nn.Parameter(np.ones(4, np.float32))

        def forward(self, x):
            return x * self.gamma

    class WithScale(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.post = nn.Sequential(nn.ReLU(), Scale())

        def forward(self, x):
            return self.post(self.fc(x))

    with pytest.raises(ValueError, match=r"layer 'post.1' \(Scale\) holds parameters \['gamma'\]"):
        dlcore.quantization.prepare(WithScale())

    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.b = self.a

        def forward(self, x):
            return self.b(self.a(x))

    with pytest.raises(ValueError, match="shared weights"):
        dlcore.quantization.prepare(Shared())

    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.used = nn.Linear(4, 4)
            self.unused = nn.Linear(4, 4)

        def forward(self, x):
            return self.used(x)

    with pytest.raises(RuntimeError, match="layer 'unused' saw no calibration data"):
        quantize_static(Unused(), [np.ones((2, 4), np.float32)])
    with pytest.raises(ValueError, match="no Conv2d or Linear"):
        dlcore.quantization.prepare(_NoLayers())


class _NoLayers(nn.Module):
    def forward(self, x):
        return x
