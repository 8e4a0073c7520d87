"""``dlcore.nn.utils`` (torch.nn.utils): gradient clipping, parameter/vector conversion, weight and spectral
normalization (parametrized and legacy), parametrizations, BatchNorm fusion, functional_call, pruning, and
``rnn`` (PackedSequence and its helpers)."""
from .. import prune
from . import fusion, parametrizations, parametrize, rnn, stateless
from .clip_grad import clip_grad_norm_, clip_grad_value_
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .fusion import fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, fuse_linear_bn_weights
from .stateless import functional_call
from .weight_norm import remove_spectral_norm, remove_weight_norm, spectral_norm, weight_norm

__all__ = ["clip_grad_norm_", "clip_grad_value_", "functional_call", "fuse_conv_bn_eval", "fuse_conv_bn_weights",
           "fuse_linear_bn_eval", "fuse_linear_bn_weights", "fusion", "parameters_to_vector", "parametrizations",
           "parametrize", "prune", "remove_spectral_norm", "rnn", "remove_weight_norm", "spectral_norm", "stateless",
           "vector_to_parameters", "weight_norm"]
