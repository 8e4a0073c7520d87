"""dlcore.models: shapes, torchvision names/shapes, load_torch_state_dict (no torch needed here).

Forward/backward against PyTorch on copied weights is tests/test_models_torch.py
(skipped without torch); agreement with onnxruntime is tests/test_onnx_export.py.
"""
import json
import os

import numpy as np
import pytest

import dlcore
from dlcore import models, nn

HERE = os.path.dirname(__file__)
with open(os.path.join(HERE, "data", "torchvision_state_dict_keys.json")) as f:
    TORCHVISION = json.load(f)  # names and shapes of torchvision 0.29's state dicts

# (builder, smallest input side, input channels used) at reduced width where the net is wide
SMALL = {
    "lenet5": (lambda **kw: models.lenet5(**kw), 28),
    "alexnet": (lambda **kw: models.alexnet(width_mult=0.0625, **kw), 67),
    "alexnet_torchvision": (lambda **kw: models.alexnet(variant="torchvision", width_mult=0.0625, **kw), 63),
    "vgg11": (lambda **kw: models.vgg11(width_mult=0.0625, **kw), 32),
    "vgg16_bn": (lambda **kw: models.vgg16_bn(width_mult=0.0625, **kw), 32),
    "resnet18": (lambda **kw: models.resnet18(width_mult=0.125, **kw), 32),
    "resnet34": (lambda **kw: models.resnet34(width_mult=0.125, **kw), 32),
    "resnet50": (lambda **kw: models.resnet50(width_mult=0.125, **kw), 32),
    "se_resnet18": (lambda **kw: models.resnet18(width_mult=0.125, se_reduction=4, **kw), 32),
    "mobilenet_v1": (lambda **kw: models.mobilenet_v1(width_mult=0.25, **kw), 32),
}


def state_shapes(model):
    return [[k, list(v.shape)] for k, v in model.state_dict().items()]


@pytest.mark.parametrize("name", sorted(SMALL))
def test_forward_backward_shapes(name):
    build, side = SMALL[name]
    dlcore.manual_seed(0)
    model = build(num_classes=7, in_channels=2)
    x = dlcore.Tensor(np.random.default_rng(0).standard_normal((2, 2, side, side)).astype(np.float32))
    y = model(x)
    assert y.shape == (2, 7) and y.dtype == np.float32 and np.isfinite(y.numpy()).all()
    y.sum().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, pname
    model.eval()
    assert model(x).shape == (2, 7)


@pytest.mark.parametrize("name,build", [
    ("resnet18", models.resnet18), ("resnet34", models.resnet34), ("resnet50", models.resnet50),
    ("alexnet", lambda: models.alexnet(variant="torchvision")),
])
def test_torchvision_names_and_shapes(name, build):
    # same names and shapes (the order differs: dlcore lists all parameters before the buffers)
    assert dict(map(tuple, [(k, tuple(s)) for k, s in state_shapes(build())])) == \
        {k: tuple(s) for k, s in TORCHVISION[name]}


@pytest.mark.parametrize("name,build", [
    ("vgg11", models.vgg11), ("vgg11_bn", models.vgg11_bn), ("vgg16", models.vgg16), ("vgg16_bn", models.vgg16_bn),
])
def test_torchvision_names_vgg(name, build):
    # full-width VGG holds 133M parameters: compare names at 1/16 width, and the shapes that do not scale
    ours = state_shapes(build(width_mult=0.0625))
    assert sorted(k for k, _ in ours) == sorted(k for k, _ in TORCHVISION[name])
    assert dict((k, s) for k, s in ours)["classifier.6.bias"] == [1000]


def test_squeeze_excitation_names():
    se = models.SqueezeExcitation(64, 16)
    assert state_shapes(se) == TORCHVISION["squeeze_excitation_64_16"]
    x = dlcore.randn(2, 64, 3, 3)
    scale = 1 / (1 + np.exp(-se.fc2(se.fc1(se.avgpool(x)).relu()).numpy()))
    np.testing.assert_allclose(se(x).numpy(), x.numpy() * scale, rtol=1e-5, atol=1e-6)


def test_mobilenet_v1_structure():
    m = models.mobilenet_v1()
    assert m.num_parameters() == 4231976  # 4.2M, Table 1 of the paper (1000 classes, alpha = 1)
    convs = [mod for mod in m.modules() if isinstance(mod, nn.Conv2d)]
    assert len(convs) == 27 and sum(c.groups > 1 for c in convs) == 13


def test_alexnet_original_structure():
    m = models.alexnet()
    convs = [mod for mod in m.features if isinstance(mod, nn.Conv2d)]
    assert [c.groups for c in convs] == [1, 2, 1, 2, 2]
    assert sum(isinstance(mod, nn.LocalResponseNorm) for mod in m.features) == 2
    assert m.num_parameters() == 60965224  # Caffe's bvlc_alexnet


def test_builders_reject_bad_arguments():
    with pytest.raises(ValueError, match="num_classes"):
        models.resnet18(num_classes=0)
    with pytest.raises(ValueError, match="in_channels"):
        models.vgg11(in_channels="3")
    with pytest.raises(ValueError, match="width_mult"):
        models.mobilenet_v1(width_mult=-1)
    with pytest.raises(ValueError, match="variant"):
        models.alexnet(variant="caffe")
    with pytest.raises(ValueError, match="28x28"):
        models.lenet5()(dlcore.randn(1, 1, 32, 32))


# ---- load_torch_state_dict ------------------------------------------------------------
def _trained_copy(build):
    """A model with non-default weights and running stats, and its state dict as plain arrays."""
    dlcore.manual_seed(1)
    src = build()
    src(dlcore.randn(4, 3, 32, 32))  # training-mode forward moves the running stats
    return src, {k: np.array(v._data if isinstance(v, dlcore.Tensor) else v) for k, v in src.state_dict().items()}


def test_load_round_trip_with_prefix_and_old_checkpoints():
    build = SMALL["resnet18"][0]
    src, state = _trained_copy(build)
    dst = build()
    x = dlcore.randn(2, 3, 32, 32)
    src.eval(), dst.eval()
    missing, unexpected = models.load_torch_state_dict(dst, {"module." + k: v for k, v in state.items()})
    assert missing == [] and unexpected == []
    np.testing.assert_array_equal(dst(x).numpy(), src(x).numpy())
    # float64 values are cast to the float32 parameters; checkpoints without num_batches_tracked load
    old = {k: v.astype(np.float64) if v.dtype.kind == "f" else v for k, v in state.items()
           if not k.endswith("num_batches_tracked")}
    fresh = build().eval()
    models.load_torch_state_dict(fresh, old)
    assert fresh.fc.weight.dtype == np.float32
    np.testing.assert_allclose(fresh(x).numpy(), src(x).numpy(), rtol=1e-6, atol=1e-6)


def test_load_reports_every_problem_and_changes_nothing():
    build = SMALL["resnet18"][0]
    _, state = _trained_copy(build)
    dst = build()
    before = {k: np.array(v._data if isinstance(v, dlcore.Tensor) else v) for k, v in dst.state_dict().items()}
    bad = dict(state)
    bad["fc.weight"] = np.zeros((3, 3), np.float32)
    del bad["layer1.0.conv1.weight"]
    bad["head.weight"] = np.zeros(3, np.float32)
    with pytest.raises(ValueError) as err:
        models.load_torch_state_dict(dst, bad)
    msg = str(err.value)
    assert "'fc.weight': checkpoint shape (3, 3) != model shape (1000, 64)" in msg
    assert "layer1.0.conv1.weight" in msg and "head.weight" in msg
    after = {k: np.array(v._data if isinstance(v, dlcore.Tensor) else v) for k, v in dst.state_dict().items()}
    assert all(np.array_equal(before[k], after[k]) for k in before)
    # strict=False: missing/unexpected returned, shapes still checked
    del bad["fc.weight"]
    missing, unexpected = models.load_torch_state_dict(dst, bad, strict=False)
    assert "layer1.0.conv1.weight" in missing and "fc.weight" in missing and unexpected == ["head.weight"]
    with pytest.raises(TypeError, match="mapping"):
        models.load_torch_state_dict(dst, [1, 2])


def test_load_conv_transpose_hint():
    m = nn.Sequential(nn.ConvTranspose2d(4, 6, 3))
    with pytest.raises(ValueError, match="swapped"):
        models.load_torch_state_dict(m, {"0.weight": np.zeros((6, 4, 3, 3), np.float32),
                                         "0.bias": np.zeros(6, np.float32)})


def test_builders_take_torchvisions_weights_argument():
    from dlcore import models

    net = models.resnet18(weights=None, num_classes=4, width_mult=0.25)
    copy = models.get_model("resnet18", weights=net.state_dict(), num_classes=4, width_mult=0.25)
    for (name, a), (_, b) in zip(net.state_dict().items(), copy.state_dict().items()):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)
    with pytest.raises(ValueError, match="does not download"):
        models.mobilenet_v2(weights="IMAGENET1K_V1")
    with pytest.raises(ValueError, match="does not download"):
        models.vgg11(pretrained=True)
