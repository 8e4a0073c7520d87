"""binarize(model): XNOR-Net layers -> packed XNOR + popcount inference layers."""
from __future__ import annotations

import copy

from ..nn import Module
from ..nn.binary import BinaryConv2d, BinaryLinear, PackedBinaryConv2d, PackedBinaryLinear


def binarize(model, backend="auto"):
    """A copy of `model` (eval mode) whose BinaryConv2d / BinaryLinear layers run packed.

    Weights become sign bits packed along input channels in 64-bit words
    (32x smaller than float32) plus one float32 alpha per output channel; the
    other layers (the float first and last layers, batch norm, pooling) stay.
    """
    if not isinstance(model, Module):
        raise TypeError(f"binarize: expected an nn.Module, got {type(model).__name__}")
    model = copy.deepcopy(model).eval()
    found = _replace(model, backend)
    if not found:
        raise ValueError("binarize: the model has no BinaryConv2d or BinaryLinear layer")
    return model


def _replace(module, backend):
    found = 0
    for name, child in list(module._modules.items()):
        if isinstance(child, BinaryConv2d):
            module._modules[name] = PackedBinaryConv2d(child, backend)
            found += 1
        elif isinstance(child, BinaryLinear):
            module._modules[name] = PackedBinaryLinear(child, backend)
            found += 1
        else:
            found += _replace(child, backend)
    return found
