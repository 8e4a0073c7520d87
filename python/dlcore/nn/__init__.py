"""Layers, losses and containers (torch.nn's names)."""
from . import functional, init, utils
from .module import Module, Parameter
from .modules import (
    AvgPool2d, BatchNorm1d, BatchNorm2d, BCELoss, BCEWithLogitsLoss, Conv2d, CrossEntropyLoss, Dropout, ELU,
    Flatten, Identity, L1Loss, LeakyReLU, Linear, LocalResponseNorm, LogSoftmax, Maxout, MaxPool2d, MSELoss,
    NLLLoss, PReLU, ReLU, Sequential, Sigmoid, Softmax, Tanh,
)
from .binary import BinaryConv2d, BinaryLinear

__all__ = [
    "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "BCELoss", "BCEWithLogitsLoss", "Conv2d", "CrossEntropyLoss",
    "Dropout", "ELU", "Flatten", "Identity", "L1Loss", "LeakyReLU", "Linear", "LocalResponseNorm",
    "LogSoftmax", "Maxout", "MaxPool2d", "Module", "MSELoss", "NLLLoss", "Parameter", "PReLU", "ReLU",
    "Sequential", "Sigmoid", "Softmax", "Tanh", "functional", "init", "utils",
    "BinaryConv2d", "BinaryLinear",
]

# Containers and layers added for ported programs and the model zoo.
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList  # noqa: E402
from .layers import (  # noqa: E402
    AdaptiveAvgPool2d, AdaptiveMaxPool2d, ConvTranspose2d, Dropout2d, GELU, GroupNorm, LayerNorm, SiLU, Upsample,
)

__all__ += [
    "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "ConvTranspose2d", "Dropout2d", "GELU", "GroupNorm", "LayerNorm",
    "ModuleDict", "ModuleList", "ParameterDict", "ParameterList", "SiLU", "Upsample",
]

# More torch.nn layers: activations, losses, Embedding, 1-D convolution and pooling, padding (layers_more.py).
from .layers_more import (  # noqa: E402
    CELU, SELU, AvgPool1d, ConstantPad2d, Conv1d, CosineSimilarity, Embedding, Hardsigmoid, Hardswish, Hardtanh,
    HuberLoss, InstanceNorm2d, KLDivLoss, LogSigmoid, MaxPool1d, Mish, PixelShuffle, PixelUnshuffle,
    ReflectionPad2d, ReLU6, ReplicationPad2d, SmoothL1Loss, Softplus, Softsign, Unflatten, ZeroPad2d,
)

__all__ += [
    "AvgPool1d", "CELU", "ConstantPad2d", "Conv1d", "CosineSimilarity", "Embedding", "Hardsigmoid", "Hardswish",
    "Hardtanh", "HuberLoss", "InstanceNorm2d", "KLDivLoss", "LogSigmoid", "MaxPool1d", "Mish", "PixelShuffle",
    "PixelUnshuffle", "ReflectionPad2d", "ReLU6", "ReplicationPad2d", "SELU", "SmoothL1Loss", "Softplus",
    "Softsign", "Unflatten", "ZeroPad2d",
]

# Added later (layers_more.py): activations, 1-D adaptive pooling, Dropout1d, resizing aliases, im2col,
# Bilinear, PairwiseDistance, margin / embedding / NLL losses.
from .layers_more import (  # noqa: E402
    GLU, AdaptiveAvgPool1d, AdaptiveMaxPool1d, Bilinear, CosineEmbeddingLoss, Dropout1d, Fold, GaussianNLLLoss,
    Hardshrink, HingeEmbeddingLoss, MarginRankingLoss, MultiLabelSoftMarginLoss, PairwiseDistance, PoissonNLLLoss,
    Softmin, SoftMarginLoss, Softshrink, Tanhshrink, Threshold, TripletMarginLoss, Unfold, UpsamplingBilinear2d,
    UpsamplingNearest2d,
)

__all__ += [
    "AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "Bilinear", "CosineEmbeddingLoss", "Dropout1d", "Fold",
    "GaussianNLLLoss", "GLU", "Hardshrink", "HingeEmbeddingLoss", "MarginRankingLoss", "MultiLabelSoftMarginLoss",
    "PairwiseDistance", "PoissonNLLLoss", "Softmin", "SoftMarginLoss", "Softshrink", "Tanhshrink", "Threshold",
    "TripletMarginLoss", "Unfold", "UpsamplingBilinear2d", "UpsamplingNearest2d",
]
from .layers_more import (  # noqa: E402
    AlphaDropout, ChannelShuffle, CircularPad1d, CircularPad2d, ConstantPad1d, ConvTranspose1d, EmbeddingBag,
    InstanceNorm1d, LPPool1d, LPPool2d, MultiLabelMarginLoss, MultiMarginLoss, ReflectionPad1d, ReplicationPad1d,
    RMSNorm, RReLU, Softmax2d, TripletMarginWithDistanceLoss, ZeroPad1d,
)

__all__ += [
    "AlphaDropout", "ChannelShuffle", "CircularPad1d", "CircularPad2d", "ConstantPad1d", "ConvTranspose1d",
    "EmbeddingBag", "InstanceNorm1d", "LPPool1d", "LPPool2d", "MultiLabelMarginLoss", "MultiMarginLoss",
    "ReflectionPad1d", "ReplicationPad1d", "RMSNorm", "RReLU", "Softmax2d", "TripletMarginWithDistanceLoss",
    "ZeroPad1d",
]
from .layers_more import CTCLoss  # noqa: E402

__all__ += ["CTCLoss"]

# Volumetric (N, C, D, H, W) layers and max unpooling (layers_3d.py).
from .layers_3d import (  # noqa: E402
    AdaptiveAvgPool3d, AdaptiveMaxPool3d, AvgPool3d, BatchNorm3d, CircularPad3d, ConstantPad3d, Conv3d,
    ConvTranspose3d, Dropout3d, FeatureAlphaDropout, InstanceNorm3d, LPPool3d, MaxPool3d, MaxUnpool1d, MaxUnpool2d,
    MaxUnpool3d, ReflectionPad3d, ReplicationPad3d, ZeroPad3d,
)

__all__ += [
    "AdaptiveAvgPool3d", "AdaptiveMaxPool3d", "AvgPool3d", "BatchNorm3d", "CircularPad3d", "ConstantPad3d", "Conv3d",
    "ConvTranspose3d", "Dropout3d", "FeatureAlphaDropout", "InstanceNorm3d", "LPPool3d", "MaxPool3d", "MaxUnpool1d",
    "MaxUnpool2d", "MaxUnpool3d", "ReflectionPad3d", "ReplicationPad3d", "ZeroPad3d",
]

from .adaptive import AdaptiveLogSoftmaxWithLoss  # noqa: E402
from .fractional_pool import FractionalMaxPool2d, FractionalMaxPool3d  # noqa: E402
from .linear_cross_entropy import LinearCrossEntropyLoss, LinearCrossEntropyOptions  # noqa: E402

__all__ += ["AdaptiveLogSoftmaxWithLoss", "FractionalMaxPool2d", "FractionalMaxPool3d", "LinearCrossEntropyLoss",
            "LinearCrossEntropyOptions"]

# Recurrent layers (recurrent.py).
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase  # noqa: E402

__all__ += ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase"]

# Attention and the Transformer encoder (transformer.py).
from .transformer import (  # noqa: E402
    MultiheadAttention, Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ += ["MultiheadAttention", "Transformer", "TransformerDecoder", "TransformerDecoderLayer",
            "TransformerEncoder", "TransformerEncoderLayer"]

# Lazy layers, nn.Buffer, DataParallel (one device), NLLLoss2d (layers_lazy.py); SyncBatchNorm on first use.
from .layers_lazy import (  # noqa: E402, F401  (re-exported through __all__)
    Buffer, Container, DataParallel, LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d, LazyConv1d, LazyConv2d,
    LazyConv3d, LazyConvTranspose1d, LazyConvTranspose2d, LazyConvTranspose3d, LazyInstanceNorm1d, LazyInstanceNorm2d,
    LazyInstanceNorm3d, LazyLinear, LazyModuleMixin, NLLLoss2d, UninitializedBuffer, UninitializedParameter,
)
from .layers_lazy import __all__ as _lazy_all  # noqa: E402

__all__ += _lazy_all


def __getattr__(name):  # SyncBatchNorm lives in dlcore.distributed, imported on first use
    if name == "SyncBatchNorm":
        from ..distributed.sync_batchnorm import SyncBatchNorm

        return SyncBatchNorm
    raise AttributeError(f"module 'dlcore.nn' has no attribute {name!r}")
