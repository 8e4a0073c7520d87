"""Post-training static int8 quantization of any Module (a class with its own forward()), by swapping layers.

``quantize_static(model, loader)`` takes this path for every model that is not an ``nn.Sequential``
(a Sequential gets the all-int8 ``QuantizedSequential`` of quantized.py). What is covered:

* every ``nn.Conv2d`` and ``nn.Linear`` (exactly those classes) anywhere in the module tree is
  replaced by a ``QuantizedConv2d`` / ``QuantizedLinear``: it takes float32 input, quantizes it to
  uint8 with the qparams its input observer recorded during calibration, runs dlcore's int8 kernel
  (``conv2d_u8s8``, or ``gemm_u8s8s32`` on weights packed once) with per-output-channel symmetric
  int8 weights, and returns float32 (real = acc * s_in * s_w[o] + bias, then the fused ReLU);
* inside ``nn.Sequential`` containers, where the data flow is visible, ``Conv2d -> BatchNorm2d``
  is folded into one convolution (eval-mode statistics) and a ``ReLU`` right after a Conv2d /
  Linear (or its BatchNorm2d) is fused; the folded BatchNorm2d and fused ReLU become ``nn.Identity``;
* everything else runs as before, in float32: the code of ``forward()`` (``F.relu``, ``view``,
  ``torch.flatten``-style reshapes, additions of residual branches ...), parameter-free modules
  (pooling, activations, Flatten, Dropout), and BatchNorm layers that could not be folded
  (a BatchNorm2d used from ``forward()`` directly: the data flow is not visible, so it is kept).

Not covered (ValueError naming the layer): a module holding parameters of its own that is not
Conv2d, Linear or BatchNorm1d/2d (``Embedding``, ``LayerNorm``, ``BinaryConv2d``, a Conv2d subclass,
a custom layer with a Parameter): it would stay float32 silently. A Conv2d or Linear instance
reachable from two places of the tree (shared weights), and Conv2d padding given as a string.
A layer that saw no calibration batch raises RuntimeError naming it. Layers whose weights are read
directly by ``forward()`` (``self.conv.weight``, weight tying) see int8 buffers instead: not supported.

Save / load: ``dlcore.save(qmodel.state_dict(), path)``, then
``load_quantized(Net(), dlcore.load(path))`` rebuilds the same structure from a fresh float model
and loads the arrays into it.
"""
from __future__ import annotations

import copy

import numpy as np

from .. import nn
from ..kernels import lowbit as K
from ..tensor import Tensor
from .observers import MinMaxObserver, quantize_weight_per_channel

_QUANTIZED_TYPES = (nn.Conv2d, nn.Linear)
_FLOAT_PARAM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d)  # kept float32 (eval) where they cannot be folded


def _qname(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def _quant_backend(backend):
    # quantize/dequantize have ref and AVX2 entries; an int8-GEMM-only backend name runs them on "auto"
    return backend if backend in ("ref", "avx2") else "auto"


def _pair(v, what, name):
    if isinstance(v, int):
        return (v, v)
    v = tuple(v)
    if len(v) != 2:
        raise ValueError(f"quantization: layer '{name}' has {what}={v}; only an int or a pair is supported")
    return tuple(int(i) for i in v)


class _Point:
    """One quantization point: the slot (parent, attribute) of a Conv2d / Linear, with its fusions."""

    def __init__(self, name, parent, attr, module, relu, folded_bn=None):
        self.name, self.parent, self.attr = name, parent, attr
        self.module, self.relu, self.folded_bn = module, relu, folded_bn


def _plan(model):
    """(points, identity slots) of `model`; raises ValueError for what is not covered (module docstring)."""
    from .quantized import fold_batchnorm

    if type(model) in _QUANTIZED_TYPES:
        raise ValueError(f"quantization: the model is a bare {type(model).__name__}; wrap it in an nn.Sequential")
    points, identities, taken = [], [], {}
    slots = {}  # id(Conv2d/Linear) -> qualified names of every slot that holds it
    for prefix, parent in model.named_modules():
        for name, child in parent._modules.items():
            if child is not None and type(child) in _QUANTIZED_TYPES:
                slots.setdefault(id(child), []).append(_qname(prefix, name))
    for names in slots.values():
        if len(names) > 1:
            raise ValueError(f"quantization: layer '{names[0]}' is also reachable as '{names[1]}' (shared weights); "
                             "quantize_static cannot swap a shared layer safely")
    for prefix, parent in model.named_modules():  # Sequential containers: BN folding and ReLU fusion
        if not isinstance(parent, nn.Sequential):
            continue
        items = [(n, c) for n, c in parent._modules.items() if c is not None]
        i = 0
        while i < len(items):
            name, m = items[i]
            if type(m) not in _QUANTIZED_TYPES:
                i += 1
                continue
            j, folded, bn = i + 1, m, None
            if type(m) is nn.Conv2d and j < len(items) and type(items[j][1]) is nn.BatchNorm2d:
                bn = items[j][1]
                folded = fold_batchnorm(m, bn)
                identities.append((parent, items[j][0]))
                j += 1
            relu = j < len(items) and type(items[j][1]) is nn.ReLU
            if relu:
                identities.append((parent, items[j][0]))
                j += 1
            point = _Point(_qname(prefix, name), parent, name, folded, relu, bn)
            points.append(point)
            taken[id(m)] = point
            i = j
    for prefix, parent in model.named_modules():  # every other Conv2d / Linear: attributes used by forward()
        for name, child in parent._modules.items():
            if child is not None and type(child) in _QUANTIZED_TYPES and id(child) not in taken:
                point = _Point(_qname(prefix, name), parent, name, child, False)
                points.append(point)
                taken[id(child)] = point
    folded_bns = {id(p.folded_bn) for p in points if p.folded_bn is not None}
    for name, m in model.named_modules():
        if id(m) in taken or id(m) in folded_bns or isinstance(m, _FLOAT_PARAM_TYPES):
            continue
        own = [k for k, p in m._parameters.items() if p is not None]
        if own:
            raise ValueError(f"quantization: layer '{name or type(m).__name__}' ({type(m).__name__}) holds parameters "
                             f"{own} that quantize_static cannot quantize (it would stay float32); supported: "
                             "Conv2d and Linear (quantized), BatchNorm2d after a Conv2d in a Sequential (folded), "
                             "BatchNorm1d/2d elsewhere (kept float32), and layers without parameters")
    if not points:
        raise ValueError("quantization: the model has no Conv2d or Linear layer to quantize")
    for p in points:
        if isinstance(p.module, nn.Conv2d) and isinstance(p.module.padding, str):
            raise ValueError(f"quantization: layer '{p.name}' (Conv2d) has padding={p.module.padding!r}; "
                             "only an int or a pair is supported")
        if isinstance(p.module, nn.Conv2d) and p.module.padding_mode != "zeros":
            raise ValueError(f"quantization: layer '{p.name}' (Conv2d) has padding_mode="
                             f"{p.module.padding_mode!r}; only 'zeros' is supported")
    return points, identities


def _set(parent, attr, module):
    parent._modules[attr] = module


class ObservedLayer(nn.Module):
    """A Conv2d / Linear (BatchNorm folded, ReLU fused) that records its float input's range."""

    def __init__(self, name, module, relu, observer):
        super().__init__()
        self.module = module
        self.relu = relu
        self.name = name
        self.input_observer = observer()

    def forward(self, x):
        self.input_observer(x._data if isinstance(x, Tensor) else np.asarray(x))
        y = self.module(x)
        return nn.functional.relu(y) if self.relu else y


class PreparedModule(nn.Module):
    """prepare()'s result for a model that is not an nn.Sequential: the float model with observed layers."""

    def __init__(self, model, observer=MinMaxObserver):
        super().__init__()
        points, identities = _plan(model)
        for parent, attr in identities:
            _set(parent, attr, nn.Identity())
        for p in points:
            _set(p.parent, p.attr, ObservedLayer(p.name, p.module, p.relu, observer))
        self.model = model

    def forward(self, *args, **kwargs):
        # calibration batches may be NumPy arrays (as for a Sequential); the model's forward() wants Tensors
        args = tuple(Tensor(np.asarray(a, np.float32)) if isinstance(a, np.ndarray) else a for a in args)
        return self.model(*args, **kwargs)


class _QuantizedLayer(nn.Module):
    """float32 -> uint8 (the calibrated input qparams) -> int8 kernel -> float32 (+ bias, fused ReLU)."""

    def __init__(self, weight, weight_scale, bias, input_scale, input_zero_point, relu, backend="auto"):
        super().__init__()
        self.register_buffer("weight", np.ascontiguousarray(weight, dtype=np.int8))
        self.register_buffer("weight_scale", np.ascontiguousarray(weight_scale, dtype=np.float32))
        self.register_buffer("bias", np.ascontiguousarray(bias, dtype=np.float32))
        self.register_buffer("input_scale", np.array([input_scale], np.float64))
        self.register_buffer("input_zero_point", np.array([input_zero_point], np.int32))
        self.relu = bool(relu)
        self.backend = backend

    _consts = None  # (key, scale, zero point, mult), remade when a buffer is replaced or written in place

    def _constants(self):
        bufs = self._buffers
        key = tuple((id(bufs[n]._data), bufs[n]._version_counter()[0])
                    for n in ("input_scale", "input_zero_point", "weight_scale"))
        if self._consts is None or self._consts[0] != key:
            s = float(bufs["input_scale"]._data[0])
            zp = int(bufs["input_zero_point"]._data[0])
            if not (s > 0 and np.isfinite(s)) or not 0 <= zp <= 255:
                raise ValueError(f"{type(self).__name__}: invalid input qparams (scale {s}, zero point {zp})")
            mult = (np.float32(s) * bufs["weight_scale"]._data).astype(np.float32)
            self._consts = (key, s, zp, mult)
        return self._consts[1:]

    def _quantize(self, x):
        x = x._data if isinstance(x, Tensor) else np.asarray(x)
        s, zp, _ = self._constants()
        q = K.quantize_u8(np.ascontiguousarray(x, dtype=np.float32), s, zp, backend=_quant_backend(self.backend))
        return q, s, zp

    def _dequantize(self, acc, s):
        mult = self._constants()[2]
        return K.dequantize_s32(acc, mult, self._buffers["bias"]._data, self.relu,
                                backend=_quant_backend(self.backend))

    def nbytes(self):
        return sum(b._data.nbytes for b in self.buffers())


class QuantizedConv2d(_QuantizedLayer):
    """An int8 Conv2d taking and returning float32 (see the module docstring)."""

    def __init__(self, weight, weight_scale, bias, input_scale, input_zero_point, stride, padding, dilation, groups,
                 relu=False, backend="auto"):
        super().__init__(weight, weight_scale, bias, input_scale, input_zero_point, relu, backend)
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, int(groups)

    def forward(self, x):
        q, s, zp = self._quantize(x)
        acc = K.conv2d_u8s8(q, self.weight._data, zp, self.stride, self.padding, self.dilation, self.groups,
                            backend=self.backend)
        return Tensor(self._dequantize(acc, s))

    def extra_repr(self):
        o, i, kh, kw = self.weight.shape
        return (f"{i * self.groups}, {o}, kernel_size=({kh}, {kw}), stride={self.stride}, padding={self.padding}"
                + (", relu" if self.relu else ""))


class QuantizedLinear(_QuantizedLayer):
    """An int8 Linear taking and returning float32; weights packed once for the int8 GEMM.

    The packed copy is remade when the weight buffer changes (its version counter: in-place Tensor
    ops and ``load_state_dict`` bump it).
    """

    _packed = None

    def _packed_weight(self):
        w = self.weight
        key = (id(w._data), id(w._version_counter()), w._version_counter()[0])
        if self._packed is None or self._packed[0] != key:
            self._packed = (key, K.gemm_u8s8s32_pack(w._data, backend=self.backend))
        return self._packed[1]

    def forward(self, x):
        q, s, zp = self._quantize(x)
        n, k = self.weight.shape
        if q.ndim < 1 or q.shape[-1] != k:
            raise ValueError(f"QuantizedLinear: input of shape {q.shape} does not end in in_features={k}")
        lead = q.shape[:-1]
        acc = K.gemm_u8s8s32_packed(np.ascontiguousarray(q.reshape(-1, k)), self._packed_weight(), zp,
                                    backend=self.backend)
        return Tensor(self._dequantize(acc, s).reshape(lead + (n,)))

    def extra_repr(self):
        n, k = self.weight.shape
        return f"in_features={k}, out_features={n}" + (", relu" if self.relu else "")


def _quantized_layer(name, module, relu, input_scale, input_zero_point, reduce_range, backend="auto"):
    wq, ws = quantize_weight_per_channel(module.weight._data, reduce_range)
    bias = module.bias._data.astype(np.float32) if module.bias is not None else np.zeros(wq.shape[0], np.float32)
    if isinstance(module, nn.Conv2d):
        return QuantizedConv2d(wq, ws, bias, input_scale, input_zero_point, _pair(module.stride, "stride", name),
                               _pair(module.padding, "padding", name), _pair(module.dilation, "dilation", name),
                               module.groups, relu, backend)
    return QuantizedLinear(wq, ws, bias, input_scale, input_zero_point, relu, backend)


def convert_module(prepared, reduce_range=True, backend="auto"):
    """The quantized model (the user's own class, a copy) of a calibrated PreparedModule."""
    model = copy.deepcopy(prepared.model)
    for _prefix, parent in list(model.named_modules()):
        for attr, child in list(parent._modules.items()):
            if isinstance(child, ObservedLayer):
                try:
                    s, zp = child.input_observer.calculate_qparams()
                except RuntimeError:
                    raise RuntimeError(f"quantization: layer '{child.name}' saw no calibration data (is it called "
                                       "by forward()?)") from None
                _set(parent, attr, _quantized_layer(child.name, child.module, child.relu, float(s), int(zp),
                                                    reduce_range, backend))
    return model


def load_quantized(model, state_dict, backend="auto"):
    """Rebuilds a quantized model from ``qmodel.state_dict()`` (e.g. ``dlcore.load(path)``).

    `model`: a fresh float instance of the same class (its weights are replaced). For a state dict of a
    QuantizedSequential (format key) the result is a QuantizedSequential and `model` is not used.
    """
    from .quantized import FORMAT, QuantizedSequential
    if isinstance(state_dict, dict) and state_dict.get("format") == FORMAT:
        return QuantizedSequential.from_state_dict(state_dict, backend)
    model = copy.deepcopy(model).eval()
    points, identities = _plan(model)
    for parent, attr in identities:
        _set(parent, attr, nn.Identity())
    for p in points:
        # placeholders of the right shapes and dtypes; load_state_dict fills them (strict)
        _set(p.parent, p.attr, _quantized_layer(p.name, p.module, p.relu, 1.0, 0, True, backend))
    model.load_state_dict(state_dict)
    return model
