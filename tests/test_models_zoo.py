"""The torchvision classification models of dlcore.models (no torch needed here): parameter counts and
state-dict names/shapes against torchvision's, output shapes, state-dict round trips, a training step.

Logits against torchvision on copied weights: tests/test_models_torch.py (DLCORE_TORCH_TESTS=1).
Full-size models are only built (for the counts), never run; forward passes use reduced widths, small
inputs and num_classes=10 so the file stays well under a minute on a loaded 2-core machine.
"""
import hashlib

import numpy as np
import pytest

import dlcore
from dlcore import models, nn, optim
from dlcore.models._common import make_divisible
from dlcore.models.ops import StochasticDepth, stochastic_depth


def names_digest(state_dict):
    """16 hex digits of sha256 over the sorted 'name shape' lines of a state dict: equal digests mean the
    same names with the same shapes (whatever the order: dlcore lists parameters before buffers)."""
    lines = sorted(f"{name} {tuple(int(d) for d in value.shape)}" for name, value in state_dict.items())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


#: name -> (parameter count, names_digest of state_dict()) of torchvision 0.29.1's builder with its defaults
#: (1000 classes), read off torchvision in a scratch script.
TORCHVISION = {
    "mobilenet_v2": (3504872, "e3eb10f890f74c6e"),
    "mobilenet_v3_small": (2542856, "8fee267f118ca2d7"),
    "mobilenet_v3_large": (5483032, "555a3f5e3bcc126e"),
    "resnext50_32x4d": (25028904, "20929ac81dfcc94f"),
    "wide_resnet50_2": (68883240, "03413d59409d9728"),
    "resnet101": (44549160, "dbc3ca74fffafc72"),
    "resnet152": (60192808, "7d486dbdc941506e"),
    "squeezenet1_0": (1248424, "142983e4c19c76ad"),
    "squeezenet1_1": (1235496, "3fbd2a746421cada"),
    "shufflenet_v2_x0_5": (1366792, "83434269737afc7f"),
    "shufflenet_v2_x1_0": (2278604, "c54ed350c00fa178"),
    "shufflenet_v2_x1_5": (3503624, "c70a4c3a755fe3db"),
    "shufflenet_v2_x2_0": (7393996, "20a856e8ae47211d"),
    "densenet121": (7978856, "9c659ec278435e95"),
    "efficientnet_b0": (5288548, "98a6d92c040c4bca"),
    "efficientnet_b1": (7794184, "391b882d956123d4"),
    "vit_b_16": (86567656, "2c2360f6707280a8"),
}


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_parameter_count_and_names_equal_torchvision(name):
    model = models.get_model(name)
    count, digest = TORCHVISION[name]
    assert model.num_parameters() == count
    assert names_digest(model.state_dict()) == digest, sorted(model.state_dict())[:8]


#: name -> (builder at reduced size with 10 classes, input side): what the forward/backward tests run
SMALL = {
    "mobilenet_v2": (lambda: models.mobilenet_v2(num_classes=10, width_mult=0.25), 32),
    "mobilenet_v3_small": (lambda: models.mobilenet_v3_small(num_classes=10, width_mult=0.25), 32),
    "mobilenet_v3_large": (lambda: models.mobilenet_v3_large(num_classes=10, width_mult=0.25), 32),
    "resnext50_32x4d": (lambda: models.resnext50_32x4d(num_classes=10, width_mult=0.25), 32),
    "wide_resnet50_2": (lambda: models.wide_resnet50_2(num_classes=10, width_mult=0.0625), 32),
    "resnet101": (lambda: models.resnet101(num_classes=10, width_mult=0.0625), 32),
    "squeezenet1_0": (lambda: models.squeezenet1_0(num_classes=10), 29),
    "squeezenet1_1": (lambda: models.squeezenet1_1(num_classes=10), 25),
    "shufflenet_v2_x0_5": (lambda: models.shufflenet_v2_x0_5(num_classes=10), 32),
    "densenet_small": (lambda: models.DenseNet(8, (2, 3, 2, 2), 16, num_classes=10), 32),
    "efficientnet_b0": (lambda: models.efficientnet_b0(num_classes=10), 32),
    "vit_small": (lambda: models.VisionTransformer(16, 4, 2, 2, 16, 32, num_classes=10), 16),
    "vit_small_repr": (lambda: models.VisionTransformer(16, 8, 1, 2, 8, 16, num_classes=10,
                                                        representation_size=6), 16),
}


def _input(side, batch=2, seed=0):
    return dlcore.Tensor(np.random.default_rng(seed).standard_normal((batch, 3, side, side)).astype(np.float32))


def _state_arrays(model):
    return {k: np.array(v._data if isinstance(v, dlcore.Tensor) else v) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_state_dict_round_trip_reproduces_eval_logits(name):
    build, side = SMALL[name]
    dlcore.manual_seed(0)
    src = build()
    src(_input(side, batch=4))  # a training-mode forward moves the BN running stats off their defaults
    _randomize_zero_heads(src)
    dlcore.manual_seed(1)
    dst = build()
    models.load_torch_state_dict(dst, _state_arrays(src))  # strict: every name present on both sides
    assert list(dst.state_dict()) == list(src.state_dict())
    src.eval(), dst.eval()
    x = _input(side, seed=2)
    expected = src(x).numpy()
    assert expected.shape == (2, 10) and np.isfinite(expected).all()
    assert np.abs(expected).max() > 0  # the comparison below means something
    np.testing.assert_array_equal(dst(x).numpy(), expected)


def _randomize_zero_heads(model):
    """ViT zero-initializes its head (torchvision's init): give it weights so its logits are not all 0."""
    if isinstance(model, models.VisionTransformer):
        nn.init.normal_(model.heads.head.weight, std=0.5)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_train_step_updates_every_parameter(name):
    build, side = SMALL[name]
    dlcore.manual_seed(0)
    model = build()
    _randomize_zero_heads(model)
    before = {k: p.numpy().copy() for k, p in model.named_parameters()}
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss = nn.functional.cross_entropy(model(_input(side)), dlcore.tensor(np.array([1, 7])))
    assert np.isfinite(loss.item())
    opt.zero_grad()
    loss.backward()
    missing = [k for k, p in model.named_parameters() if p.grad is None]
    assert not missing, missing
    opt.step()
    unchanged = [k for k, p in model.named_parameters() if np.array_equal(p.numpy(), before[k])]
    assert unchanged == SCALE_INVARIANT.get(name, []), unchanged


#: parameters whose gradient is 0 up to BN's eps: DenseNet's norm0 scale passes ReLU and max pooling
#: unchanged (positive scaling commutes with both) into batch norms that normalize it away (torchvision's too)
SCALE_INVARIANT = {"densenet_small": ["features.norm0.weight"]}


@pytest.mark.parametrize("name,config,side", [
    ("mobilenet_v2", {"width_mult": 0.25}, 32), ("mobilenet_v3_small", {"width_mult": 0.25}, 32),
    ("squeezenet1_1", {}, 25), ("shufflenet_v2_x0_5", {}, 32), ("efficientnet_b0", {}, 32),
    ("resnext50_32x4d", {"width_mult": 0.25}, 32),
])
def test_in_channels(name, config, side):
    model = models.get_model(name, num_classes=10, in_channels=1, **config)
    first_conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert first_conv.in_channels == 1
    x = dlcore.Tensor(np.random.default_rng(0).standard_normal((1, 1, side, side)).astype(np.float32))
    assert model.eval()(x).shape == (1, 10)


def test_vit_checks_image_size():
    model = models.VisionTransformer(32, 8, 1, 2, 8, 16, num_classes=10, in_channels=2)
    assert model.encoder.pos_embedding.shape == (1, 17, 8)  # 4x4 patches and the class token
    assert model.conv_proj.weight.shape == (8, 2, 8, 8)
    assert model(dlcore.randn(1, 2, 32, 32)).shape == (1, 10)
    with pytest.raises(ValueError, match="32x32"):
        model(dlcore.randn(1, 2, 48, 48))
    with pytest.raises(ValueError, match="multiple of patch_size"):
        models.VisionTransformer(30, 16, 1, 1, 8, 8)


def test_resnext_and_wide_resnet_bottleneck_widths():
    # torchvision's rule: 3x3 width = int(planes * width_per_group / 64) * groups
    resnext = models.resnext50_32x4d(width_mult=0.5)  # 32 planes: int(32 * 4 / 64) = 2 channels per group
    assert resnext.layer1[0].conv2.groups == 32 and resnext.layer1[0].conv2.weight.shape == (64, 2, 3, 3)
    wide = models.wide_resnet50_2(width_mult=0.25)
    assert wide.layer1[0].conv2.weight.shape == (32, 32, 3, 3) and wide.layer1[0].conv3.weight.shape == (64, 32, 1, 1)
    with pytest.raises(ValueError, match="no channels per group"):
        models.resnext50_32x4d(width_mult=0.125)


def test_efficientnet_stochastic_depth_probabilities():
    model = models.efficientnet_b0()
    probs = [m.p for m in model.modules() if isinstance(m, StochasticDepth)]
    assert len(probs) == 16  # one per MBConv block
    np.testing.assert_allclose(probs, [0.2 * i / 16 for i in range(16)])


def test_stochastic_depth_drops_whole_rows_in_training_only():
    layer = StochasticDepth(0.5, "row")
    x = dlcore.ones(64, 3, 2, 2)
    dlcore.manual_seed(0)
    y = layer(x).numpy()
    per_row = y.reshape(64, -1)
    assert set(np.unique(per_row)) <= {0.0, 2.0}  # survivors scaled by 1 / (1 - p)
    assert all(len(set(row)) == 1 for row in per_row)  # one coin per sample
    assert 10 < (per_row[:, 0] == 0).sum() < 54
    batch = StochasticDepth(0.5, "batch")(x).numpy()
    assert len(np.unique(batch)) == 1
    assert (StochasticDepth(1.0)(x).numpy() == 0).all()
    layer.eval()
    assert layer(x) is x
    assert stochastic_depth(x, 0.5, "row", training=False) is x and stochastic_depth(x, 0.0, "row") is x
    with pytest.raises(ValueError, match="mode"):
        StochasticDepth(0.1, "column")
    with pytest.raises(ValueError, match="probability"):
        StochasticDepth(1.5)


def test_make_divisible_is_torchvisions_rounding():
    assert [make_divisible(v) for v in (8, 20, 11, 1280, 32 * 0.25, 3)] == [8, 24, 16, 1280, 8, 8]
    assert make_divisible(43, 8) == 40 and make_divisible(37, 8) == 40  # rounds to nearest, 10% rule not hit


def test_registry():
    names = models.list_models()
    assert names == sorted(names) and len(names) == len(set(names))
    for name in TORCHVISION:
        assert name in names
    assert models.list_models(include="resnet*", exclude=["*101", "*152"]) == ["resnet18", "resnet34", "resnet50"]
    assert models.list_models(include=["vit_b_*", "squeezenet*"]) == ["squeezenet1_0", "squeezenet1_1", "vit_b_16",
                                                                      "vit_b_32"]
    assert models.get_model_builder("MobileNet_V2") is models.mobilenet_v2
    model = models.get_model("shufflenet_v2_x0_5", num_classes=3)
    assert model.fc.out_features == 3
    with pytest.raises(ValueError, match="unknown model 'resnet9'"):
        models.get_model("resnet9")
    assert models.register_model(models.resnet18) is models.resnet18  # registering the same builder again: fine

    def resnet18():  # another function under a taken name
        return None

    with pytest.raises(ValueError, match="already registered"):
        models.register_model(resnet18)


def test_builders_reject_bad_arguments():
    with pytest.raises(ValueError, match="num_classes"):
        models.mobilenet_v3_small(num_classes=0)
    with pytest.raises(ValueError, match="version"):
        models.SqueezeNet("1_2")
    with pytest.raises(ValueError, match="arch"):
        models.MobileNetV3("medium")
    with pytest.raises(ValueError, match="stride 1"):
        models.shufflenet.InvertedResidual(24, 48, 1)
