"""Conv2d / Linear followed by ReLU inside nn.Sequential, run as one fused Function (issue 17).

The rule. ``Sequential.forward`` runs a ``Conv2d`` or ``Linear`` and the ``ReLU`` right after it as one
``F.conv2d(..., activation="relu")`` / ``F.linear(..., activation="relu")`` call when all of these hold:

* the two modules are exactly ``nn.Conv2d`` / ``nn.Linear`` and ``nn.ReLU`` (not subclasses, which may
  compute something else; not the quantized or binary layers);
* neither has a forward pre-hook, forward hook or backward hook, and neither has its ``forward`` replaced
  on the instance (pruning, ``dlcore.explain``'s tracer): a hook must see the layer's own output, before
  the ReLU, exactly as without fusion;
* no ``fusion_disabled()`` block is active (``dlcore.onnx`` export traces with one, so the exported graph
  holds the same Conv / Gemm and Relu nodes as before).

The fused result is bitwise the unfused one (the kernels add the bias and apply the same ReLU formula to
each output tile before storing it), and so are the gradients (dy masked by y > 0, then the layer's own
backward). ``ReLU(inplace=True)`` is no exception: dlcore's ReLU never writes into its input, and the
layer's output it would read is held by nothing else.
"""
from __future__ import annotations

import contextlib
import threading

from . import functional as F


class _State(threading.local):
    disabled = 0  # nesting depth of fusion_disabled() on this thread (a class default: see _backends._State)


_state = _State()


@contextlib.contextmanager
def fusion_disabled():
    """Inside this block nn.Sequential runs every module on its own (for tracers and exporters)."""
    depth = _state.disabled
    _state.disabled = depth + 1
    try:
        yield
    finally:
        _state.disabled = depth


def fusion_enabled() -> bool:
    return not _state.disabled


def _plain(m) -> bool:
    """No hooks and no per-instance forward: calling m is exactly m's class forward."""
    return not (m._forward_pre_hooks or m._forward_hooks or m._backward_hooks or "forward" in m.__dict__)


_TYPES = []  # [Conv2d, Linear, ReLU], filled on first use (modules.py imports this module)


def _fusable_types():
    if not _TYPES:
        from .modules import Conv2d, Linear, ReLU

        _TYPES.extend((Conv2d, Linear, ReLU))
    return _TYPES


def relu_fusable(layer, nxt) -> bool:
    """Whether Sequential may run `layer` and `nxt` as one fused call (the rule above)."""
    conv, linear, relu = _fusable_types()
    t = type(layer)
    return ((t is conv or t is linear) and type(nxt) is relu and _plain(layer) and _plain(nxt)
            and fusion_enabled())


def forward_relu(layer, input):
    """relu(layer(input)) as one fused Function, for a layer relu_fusable accepted."""
    if type(layer) is _fusable_types()[0]:  # Conv2d
        input, padding = layer.padded(input)
        return F.conv2d(input, layer.weight, layer.bias, layer.stride, padding, layer.dilation, layer.groups,
                        activation="relu")
    return F.linear(input, layer.weight, layer.bias, activation="relu")
