"""Model zoo: torchvision's classification models with its module names, so torchvision state dicts map 1:1.

Every builder takes ``num_classes=`` and ``in_channels=``; ResNets, VGG, AlexNet and MobileNets also ``width_mult=``
(channel counts scaled, same architecture; 1.0 is the paper's) and ``dropout=``
where torchvision has them. ``list_models()`` / ``get_model(name, **config)`` /
``get_model_builder(name)`` are torchvision.models' registry API.
``load_torch_state_dict(model, state_dict)`` copies a PyTorch/torchvision
state dict (torch tensors, NumPy arrays or dlcore tensors) into a model,
checking every name and shape first.

Example:
    >>> from dlcore import models
    >>> net = models.resnet18(num_classes=10)
    >>> net(dlcore.randn(2, 3, 32, 32)).shape
    (2, 10)
    >>> models.load_torch_state_dict(net, torchvision_resnet18.state_dict())  # doctest: +SKIP
"""
import functools

from .alexnet import AlexNet, alexnet
from .densenet import DenseNet, densenet121, densenet161, densenet169, densenet201
from .efficientnet import (
    EfficientNet,
    efficientnet_b0,
    efficientnet_b1,
    efficientnet_b2,
    efficientnet_b3,
    efficientnet_b4,
    efficientnet_b5,
    efficientnet_b6,
    efficientnet_b7,
)
from .lenet import LeNet5, lenet5
from .mobilenet import MobileNetV1, mobilenet_v1
from .mobilenet_v2 import MobileNetV2, mobilenet_v2
from .mobilenet_v3 import MobileNetV3, mobilenet_v3_large, mobilenet_v3_small
from .registry import get_model, get_model_builder, list_models, register_model
from .resnet import (
    BasicBlock,
    Bottleneck,
    ResNet,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnext50_32x4d,
    wide_resnet50_2,
)
from .se import SqueezeExcitation
from .shufflenet import (
    ShuffleNetV2,
    shufflenet_v2_x0_5,
    shufflenet_v2_x1_0,
    shufflenet_v2_x1_5,
    shufflenet_v2_x2_0,
)
from .squeezenet import SqueezeNet, squeezenet1_0, squeezenet1_1
from .torch_weights import load_torch_state_dict
from .vgg import VGG, vgg11, vgg11_bn, vgg16, vgg16_bn
from .vision_transformer import VisionTransformer, vit_b_16, vit_b_32, vit_h_14, vit_l_16, vit_l_32

__all__ = [
    # classes and blocks
    "AlexNet", "BasicBlock", "Bottleneck", "DenseNet", "EfficientNet", "LeNet5", "MobileNetV1", "MobileNetV2",
    "MobileNetV3", "ResNet", "ShuffleNetV2", "SqueezeExcitation", "SqueezeNet", "VGG", "VisionTransformer",
    # builders, torchvision's names
    "alexnet", "densenet121", "densenet161", "densenet169", "densenet201", "efficientnet_b0", "efficientnet_b1",
    "efficientnet_b2", "efficientnet_b3", "efficientnet_b4", "efficientnet_b5", "efficientnet_b6",
    "efficientnet_b7", "lenet5", "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small",
    "resnet101", "resnet152", "resnet18", "resnet34", "resnet50", "resnext50_32x4d", "shufflenet_v2_x0_5",
    "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0", "squeezenet1_0", "squeezenet1_1", "vgg11",
    "vgg11_bn", "vgg16", "vgg16_bn", "vit_b_16", "vit_b_32", "vit_h_14", "vit_l_16", "vit_l_32",
    "wide_resnet50_2",
    # weights and the registry
    "get_model", "get_model_builder", "list_models", "load_torch_state_dict", "register_model",
]

_NOT_BUILDERS = {"get_model", "get_model_builder", "list_models", "load_torch_state_dict", "register_model"}


def _accepting_weights(builder):
    """`builder` taking torchvision's ``weights=`` (and the older ``pretrained=``): None / False builds the
    randomly initialized model; a state dict (a mapping: torch tensors, arrays) is loaded into it, checked
    name by name. torchvision's weight enums / names are refused: their files are torch pickles, which dlcore
    does not download or unpickle - load the torchvision model's state_dict() instead."""

    @functools.wraps(builder)
    def build(*args, weights=None, progress=True, pretrained=False, **kwargs):
        del progress
        model = builder(*args, **kwargs)
        if pretrained:
            weights = "DEFAULT"
        if weights is None:
            return model
        if hasattr(weights, "items"):
            load_torch_state_dict(model, weights)
            return model
        raise ValueError(f"{builder.__name__}: weights={weights!r}: dlcore does not download torchvision's "
                         f"pretrained weights (torch pickles); build with weights=None and load a state dict: "
                         f"{builder.__name__}(weights=torchvision_model.state_dict()) or "
                         f"models.load_torch_state_dict(model, state_dict)")

    return build


for _name in __all__:  # the builders are the lower-case names of __all__ but the API functions
    if _name[0].islower() and _name not in _NOT_BUILDERS:
        globals()[_name] = register_model(_accepting_weights(globals()[_name]))
del _name
