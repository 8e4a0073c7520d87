"""Quantized models on the C++ quantization kernels and pre-packed weights; BatchNorm folding."""
import numpy as np
import pytest

import dlcore
from dlcore import nn
from dlcore.quantization import QuantizedSequential
from dlcore.quantization.quantized import fold_batchnorm

ISA = dlcore._C.isa_info()


def small_cnn(rng):
    dlcore.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(6 * 5 * 5, 17), nn.ReLU(), nn.Linear(17, 5))
    bn = model[1]
    bn.running_mean._data[...] = rng.standard_normal(6).astype(np.float32)
    bn.running_var._data[...] = (rng.random(6) + 0.5).astype(np.float32)
    bn.weight._data[...] = (rng.random(6) + 0.5).astype(np.float32)
    bn.bias._data[...] = rng.standard_normal(6).astype(np.float32)
    return model.eval()


def test_fold_batchnorm_in_a_sequential(rng):
    model = small_cnn(rng)
    x = dlcore.Tensor(rng.standard_normal((4, 3, 11, 10)).astype(np.float32))
    with dlcore.no_grad():
        ref = model[1](model[0](x)).numpy()
        got = fold_batchnorm(model[0], model[1])(x).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


@pytest.mark.parametrize("bias", [True, False])
def test_fold_batchnorm_equals_eval_mode_conv_bn(rng, bias):
    """With bias=False too (ResNet's convolutions before BatchNorm): the folded bias carries -mean * scale + beta."""
    conv, bn = nn.Conv2d(3, 5, 3, stride=2, padding=1, bias=bias), nn.BatchNorm2d(5)
    bn.running_mean._data[...] = rng.standard_normal(5).astype(np.float32) + 2.0  # far from 0: a lost bias shows
    bn.running_var._data[...] = (rng.random(5) + 0.5).astype(np.float32)
    bn.weight._data[...] = (rng.random(5) + 0.5).astype(np.float32)
    bn.bias._data[...] = rng.standard_normal(5).astype(np.float32)
    bn.eval()
    x = dlcore.Tensor(rng.standard_normal((2, 3, 9, 8)).astype(np.float32))
    with dlcore.no_grad():
        ref = bn(conv(x)).numpy()
        got = fold_batchnorm(conv, bn)(x).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def test_fold_batchnorm_needs_running_stats():
    conv = nn.Conv2d(2, 3, 1)
    with pytest.raises(ValueError, match="running statistics"):
        fold_batchnorm(conv, nn.BatchNorm2d(3, track_running_stats=False))
    with pytest.raises(ValueError, match="output channels"):
        fold_batchnorm(conv, nn.BatchNorm2d(4))


def test_quantized_model_with_batchnorm_close_to_float(rng):
    model = small_cnn(rng)
    x = rng.standard_normal((64, 3, 10, 10)).astype(np.float32)
    q = dlcore.quantization.quantize_static(model, [x[:32], x[32:]])
    assert [layer["kind"] for layer in q.layers] == ["quantize", "conv", "maxpool", "flatten", "linear", "linear"]
    with dlcore.no_grad():
        yf = model(dlcore.Tensor(x)).numpy()
    y = q(x).numpy()
    assert np.abs(y - yf).max() <= 0.05 * np.abs(yf).max()


@pytest.mark.skipif(not ISA["avx2"]["available"], reason="no AVX2 on this CPU")
def test_quantized_model_ref_and_avx2_agree_bitwise(rng):
    """Integer GEMM/conv exact and the quantize kernels equal to NumPy's formula: every backend, same logits."""
    model = small_cnn(rng)
    x = rng.standard_normal((9, 3, 10, 10)).astype(np.float32)
    q = dlcore.quantization.quantize_static(model, [x])
    y_auto = q(x).numpy()
    y_ref = QuantizedSequential(q.layers, backend="ref")(x).numpy()
    np.testing.assert_array_equal(y_auto, y_ref)
    assert dlcore.kernels.last_dispatch() == "dequantize_s32:dequantize_s32_ref"


def test_quantized_model_repacks_replaced_weights(rng):
    model = small_cnn(rng)
    x = rng.standard_normal((5, 3, 10, 10)).astype(np.float32)
    q = dlcore.quantization.quantize_static(model, [x])
    y0 = q(x).numpy()
    state = q.state_dict()
    state["layers"][4]["weight"] = -state["layers"][4]["weight"]  # a new weight array for the first Linear
    q.load_state_dict(state)
    y1 = q(x).numpy()
    fresh = QuantizedSequential.from_state_dict(state)(x).numpy()
    np.testing.assert_array_equal(y1, fresh)
    assert not np.array_equal(y0, y1)
    assert "packed" not in str(sorted(state["layers"][4]))  # packed weights are not saved: repacked at load
