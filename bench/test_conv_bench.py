"""pytest-benchmark suite for convolution: dlcore and the NumPy im2col reference on network layers.

Run: python -m pytest bench/test_conv_bench.py --benchmark-only (not part of CI).
For the side-by-side report with ratios, fractions of peak and oneDNN, use
`python -m dlcore.bench conv [--quick]`.
"""
import numpy as np
import pytest

from dlcore.bench.conv import MB, layers, numpy_functions, pass_functions

LAYERS = ("alexnet:conv2", "vgg_16:conv3_2", "resnet_50:res2a_branch2b", "resnet_50:res3a_branch2c",
          "resnet_50:res4a_branch2b", "lenet_caffe:conv2")
PASSES = ("fwd", "bwd_d", "bwd_w")


@pytest.fixture(scope="module", params=LAYERS)
def operands(request):
    layer = next(layer for layer in layers(False) if layer["name"] == request.param)
    rng = np.random.default_rng(0)
    g = layer["g"]
    x = rng.standard_normal((MB, layer["ic"], layer["ih"], layer["iw"]), dtype=np.float32)
    w = rng.standard_normal((layer["oc"], layer["ic"] // g, layer["kh"], layer["kw"]), dtype=np.float32)
    dy = rng.standard_normal((MB, layer["oc"], layer["oh"], layer["ow"]), dtype=np.float32)
    gflop = 2.0 * MB * layer["oc"] * layer["oh"] * layer["ow"] * layer["ic"] // g * layer["kh"] * layer["kw"] / 1e9
    return layer, x, w, dy, gflop


@pytest.mark.parametrize("which", PASSES)
def test_conv_dlcore(benchmark, operands, which):
    layer, x, w, dy, gflop = operands
    benchmark.group = f"conv {layer['name']} {which} (mb {MB})"
    benchmark.extra_info["gflop"] = gflop
    benchmark(pass_functions(layer, x, w, dy, "auto")[which])


@pytest.mark.parametrize("which", PASSES)
def test_conv_numpy_im2col(benchmark, operands, which):
    layer, x, w, dy, gflop = operands
    benchmark.group = f"conv {layer['name']} {which} (mb {MB})"
    benchmark.extra_info["gflop"] = gflop
    benchmark(numpy_functions(layer, x, w, dy)[which])
