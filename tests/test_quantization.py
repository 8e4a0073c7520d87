"""dlcore.quantization (int8 post-training static) and the XNOR-Net layers (nn.BinaryConv2d/BinaryLinear, binarize)."""
import numpy as np
import pytest

import dlcore
from dlcore import nn
from dlcore.quantization import (
    MinMaxObserver,
    PercentileObserver,
    QuantizedSequential,
    dequantize_u8,
    qparams_u8,
    quantize_u8,
    quantize_weight_per_channel,
)
from dlcore.train import lenet5


# ---- quantization primitives --------------------------------------------------------------------------
def test_quantize_dequantize_error_within_half_a_step(rng):
    x = (rng.standard_normal(10007) * 3 + 0.5).astype(np.float32)
    scale, zp = qparams_u8(x.min(), x.max())
    err = np.abs(dequantize_u8(quantize_u8(x, scale, zp), scale, zp) - x)
    assert err.max() <= scale / 2 * (1 + 1e-5)
    assert dequantize_u8(quantize_u8(np.zeros(3, np.float32), scale, zp), scale, zp).tolist() == [0, 0, 0]


def test_weight_per_channel_error_within_half_a_step(rng):
    w = rng.standard_normal((7, 3, 5, 5)).astype(np.float32) * np.arange(1, 8, dtype=np.float32).reshape(-1, 1, 1, 1)
    for reduce_range, qmax in ((True, 63), (False, 127)):
        q, s = quantize_weight_per_channel(w, reduce_range)
        assert q.dtype == np.int8 and np.abs(q).max() == qmax
        err = np.abs(q.astype(np.float32) * s.reshape(-1, 1, 1, 1) - w)
        assert (err <= s.reshape(-1, 1, 1, 1) / 2 * (1 + 1e-5)).all()


def test_observers(rng):
    obs = MinMaxObserver()
    with pytest.raises(RuntimeError, match="no calibration data"):
        obs.calculate_qparams()
    obs(np.array([-1.0, 2.0]))
    obs(np.array([3.0]))
    scale, zp = obs.calculate_qparams()
    assert scale == pytest.approx(4 / 255) and zp == round(1 / (4 / 255))
    p = PercentileObserver(99.0)
    x = rng.standard_normal(100000).astype(np.float32)
    x[0] = 1000.0  # an outlier the percentile ignores
    p(x)
    assert p.calculate_qparams()[0] < 10 / 255
    with pytest.raises(ValueError, match="percentile"):
        PercentileObserver(20)


# ---- quantized models ---------------------------------------------------------------------------------
def digits_28(n=64, seed=0):
    d = dlcore.data.Digits(train=False)
    x = np.kron(d.images[:n], np.ones((1, 1, 3, 3), np.float32))
    return np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2))).astype(np.float32)


def fake_quant_reference(model, q, x):
    """The quantized network's arithmetic re-done in float64/int64 NumPy from its own parameters."""
    out = x.astype(np.float64)
    scale = zp = None
    for layer in q.layers:
        k = layer["kind"]
        if k == "quantize":
            scale, zp = layer["scale"], layer["zero_point"]
            qx = quantize_u8(out, scale, zp).astype(np.int64)
        elif k in ("conv", "linear"):
            w = layer["weight"].astype(np.int64)
            xs = qx - zp
            if k == "conv":
                from test_lowbit import ref_conv
                acc = ref_conv(qx.astype(np.uint8), layer["weight"], zp, layer["stride"], layer["padding"],
                               layer["dilation"], layer["groups"])
                real = acc * (scale * layer["weight_scale"].astype(np.float64)).reshape(1, -1, 1, 1) + \
                    layer["bias"].reshape(1, -1, 1, 1)
            else:
                real = (xs @ w.T) * (scale * layer["weight_scale"].astype(np.float64)) + layer["bias"]
            if layer["relu"]:
                real = np.maximum(real, 0)
            out = real
            scale, zp = layer["out_scale"], layer["out_zero_point"]
            qx = quantize_u8(real.astype(np.float32), scale, zp).astype(np.int64)
        elif k == "maxpool":
            ks = layer["kernel_size"]
            n, c, h, w_ = qx.shape
            qx = qx[:, :, :h // ks[0] * ks[0], :w_ // ks[1] * ks[1]].reshape(n, c, h // ks[0], ks[0], w_ // ks[1],
                                                                            ks[1]).max(axis=(3, 5))
        elif k == "flatten":
            qx = qx.reshape(len(qx), -1)
    return out


def test_quantized_lenet_matches_its_integer_reference_and_float_logits():
    dlcore.manual_seed(0)
    model = lenet5().eval()
    x = digits_28(96)
    loader = [(x[i:i + 32], None) for i in range(0, 96, 32)]
    q = dlcore.quantization.quantize_static(model, loader)
    assert [l["kind"] for l in q.layers] == ["quantize", "conv", "maxpool", "conv", "maxpool", "flatten", "linear",
                                            "linear", "linear"]
    assert [l.get("relu") for l in q.layers if "relu" in l] == [True, True, True, True, False]
    y = q(x).numpy()
    # (a requantized value exactly at a rounding tie may land one step away: a small absolute slack)
    np.testing.assert_allclose(y, fake_quant_reference(model, q, x), rtol=1e-4, atol=2e-3 * np.abs(y).max())
    with dlcore.no_grad():
        yf = model(dlcore.Tensor(x)).numpy()
    # int8 logits near the float ones: within a few percent of the logit range.
    assert np.abs(y - yf).max() <= 0.05 * np.abs(yf).max()
    assert (y.argmax(1) == yf.argmax(1)).mean() >= 0.95


def test_quantized_model_saves_and_loads(tmp_path):
    dlcore.manual_seed(1)
    model = lenet5()
    x = digits_28(32)
    q = dlcore.quantization.convert(dlcore.quantization.calibrate(dlcore.quantization.prepare(model), [x]))
    path = tmp_path / "q.npz"
    dlcore.save(q.state_dict(), path)
    q2 = QuantizedSequential.from_state_dict(dlcore.load(path))
    np.testing.assert_array_equal(q(x).numpy(), q2(x).numpy())
    assert q.nbytes() < sum(p._data.nbytes for p in model.parameters()) / 3.5
    with pytest.raises(ValueError, match="not a quantized model"):
        QuantizedSequential.from_state_dict(model.state_dict())


def test_unsupported_layer_is_named():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.BatchNorm2d(4))  # a BatchNorm2d not after a Conv2d
    with pytest.raises(ValueError, match=r"layer '2' \(BatchNorm2d\) is not supported"):
        dlcore.quantization.prepare(model)
    with pytest.raises(ValueError, match="bare Linear; wrap it in an nn.Sequential"):
        dlcore.quantization.prepare(nn.Linear(3, 4))


# ---- XNOR-Net layers ----------------------------------------------------------------------------------
def test_sign_ste_forward_and_gradient():
    x = dlcore.Tensor(np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5]), requires_grad=True)
    y = nn.binary.sign_ste(x)
    assert y.numpy().tolist() == [-1, -1, -1, 1, 1, 1, 1]
    g = np.arange(1.0, 8.0)
    y.backward(dlcore.Tensor(g))
    np.testing.assert_array_equal(x.grad.numpy(), g * (np.abs(x.numpy()) <= 1))


def test_binary_linear_gradients_follow_the_xnor_net_formula(rng):
    """dL/dx = (dy Wb) 1{|x| <= 1};  dL/dW = G alpha 1{|W| <= 1} + sign(W)/n sum_j G_j sign(W_j), G = dy^T sign(x)."""
    layer = nn.BinaryLinear(7, 5, dtype=np.float64)
    layer.weight._data[...] = rng.standard_normal((5, 7)) * 0.8
    x = dlcore.Tensor(rng.standard_normal((4, 7)) * 1.2, requires_grad=True)
    dy = rng.standard_normal((4, 5))
    layer(x).backward(dlcore.Tensor(dy))
    w, xv = layer.weight._data, x.numpy()
    s = lambda v: np.where(v >= 0, 1.0, -1.0)  # noqa: E731
    alpha = np.abs(w).mean(axis=1, keepdims=True)
    wb = alpha * s(w)
    np.testing.assert_allclose(x.grad.numpy(), (dy @ wb) * (np.abs(xv) <= 1), rtol=1e-12, atol=1e-12)
    G = dy.T @ s(xv)
    expected = G * alpha * (np.abs(w) <= 1) + np.sign(w) / w.shape[1] * (G * s(w)).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(layer.weight.grad.numpy(), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad.numpy(), dy.sum(0), rtol=1e-12)


def test_binarize_equals_the_float_layers(rng):
    dlcore.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(3, 70, 3, padding=1), nn.BatchNorm2d(70),
                          nn.BinaryConv2d(70, 9, 3, stride=(1, 2), padding=1), nn.BatchNorm2d(9),
                          nn.BinaryConv2d(9, 8, 3, padding=(2, 1), groups=1, dilation=2),
                          nn.Flatten(), nn.BinaryLinear(8 * 11 * 3, 13), nn.Linear(13, 4))
    x = rng.standard_normal((3, 3, 11, 9)).astype(np.float32)
    model(dlcore.Tensor(x))  # batch-norm statistics move a little
    model.eval()
    packed = dlcore.quantization.binarize(model)
    assert isinstance(packed[2], nn.binary.PackedBinaryConv2d) and isinstance(packed[6], nn.binary.PackedBinaryLinear)
    assert isinstance(model[2], nn.BinaryConv2d)  # the original is untouched
    with dlcore.no_grad():  # layer by layer from the same input (a sign near 0 may flip end to end)
        h = dlcore.Tensor(x)
        for i in range(len(model)):
            y_f, y_b = model[i](h).numpy(), packed[i](h).numpy()
            scale = np.abs(y_f).max()
            np.testing.assert_allclose(y_b, y_f, rtol=1e-5, atol=1e-5 * scale, err_msg=f"layer {i}")
            h = dlcore.Tensor(y_f)
    assert packed[2].weight_bits._data.nbytes * 32 >= model[2].weight._data.nbytes
    with pytest.raises(ValueError, match="no BinaryConv2d"):
        dlcore.quantization.binarize(nn.Sequential(nn.Linear(2, 2)))
