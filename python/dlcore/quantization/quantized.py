"""Post-training static int8 quantization of Sequential models (any other Module: modules.py).

prepare(model) attaches observers at every quantization point (the model's
input and the output of each Conv2d / Linear, after its ReLU when one
follows); calibrate(prepared, loader) runs float batches through it;
convert(prepared) builds a QuantizedSequential:

* Conv2d / Linear: per-output-channel symmetric int8 weights, uint8 input
  with a zero point, int32 accumulation on dlcore's int8 kernels
  (``conv2d_u8s8`` / ``gemm_u8s8s32``), then  real = acc * s_in * s_w[o] + bias,
  the following ReLU fused, and requantization to the next layer's uint8
  (or float32 output for the last layer);
* MaxPool2d / Flatten / Dropout / Identity / ReLU work on the uint8 values
  directly (max and reshape commute with the monotonic quantization).

* a BatchNorm2d right after a Conv2d is folded into it (eval-mode running
  statistics, ``fold_batchnorm``);
* Linear weights are packed once for the int8 GEMM (``gemm_u8s8s32_pack``) and
  quantize / requantize / dequantize run in C++ (``dlcore.kernels.quantize_u8``...).

Any other layer raises ValueError naming it.
"""
from __future__ import annotations

import copy

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..kernels import lowbit as K
from ..nn.utils.fusion import fuse_conv_bn_weights
from ..tensor import Tensor
from .modules import PreparedModule, _pair, convert_module
from .observers import MinMaxObserver, dequantize_u8, quantize_weight_per_channel

FORMAT = "dlcore.quantized_sequential/1"
_PASSTHROUGH = (nn.Dropout, nn.Identity)
_SUPPORTED = "Conv2d (+ BatchNorm2d, folded), Linear, ReLU, MaxPool2d, Flatten, Dropout, Identity (in nested Sequential containers)"


def _leaves(module, prefix=""):
    if isinstance(module, nn.Sequential):
        for name, child in module.named_children():
            yield from _leaves(child, f"{prefix}{name}.")
    else:
        yield prefix.rstrip(".") or type(module).__name__, module


def fold_batchnorm(conv, bn):
    """A Conv2d equal to eval-mode ``bn(conv(x))``: the BatchNorm's running statistics folded into it.

    w' = w * g / sqrt(var + eps) per output channel, b' = (b - mean) * g / sqrt(var + eps) + beta
    (g, beta = 1, 0 without affine): nn.utils.fuse_conv_bn_weights, computed in float64.
    """
    if not bn.track_running_stats or bn.running_mean is None:
        raise ValueError("quantization: a BatchNorm2d without running statistics cannot be folded into its Conv2d")
    if bn.num_features != conv.out_channels:
        raise ValueError(f"quantization: BatchNorm2d({bn.num_features}) does not follow a Conv2d with "
                         f"{conv.out_channels} output channels")
    folded = copy.deepcopy(conv)
    folded.weight, folded.bias = fuse_conv_bn_weights(conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps,
                                                      bn.weight, bn.bias)
    return folded


def _plan(model):
    """The model as a list of steps (kind, name, module, fused_relu); raises for unsupported layers."""
    if not isinstance(model, nn.Sequential):
        raise ValueError(f"quantization: the model must be an nn.Sequential, got {type(model).__name__}")
    leaves = list(_leaves(model))
    steps, i = [], 0
    while i < len(leaves):
        name, m = leaves[i]
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            j = i + 1
            if isinstance(m, nn.Conv2d) and j < len(leaves) and isinstance(leaves[j][1], nn.BatchNorm2d):
                m = fold_batchnorm(m, leaves[j][1])  # Conv2d -> BatchNorm2d: one conv (eval-mode statistics)
                j += 1
            relu = j < len(leaves) and isinstance(leaves[j][1], nn.ReLU)
            steps.append(("conv" if isinstance(m, nn.Conv2d) else "linear", name, m, relu))
            i = j + 1 if relu else j
            continue
        if isinstance(m, nn.ReLU):
            steps.append(("relu", name, m, False))
        elif isinstance(m, nn.MaxPool2d):
            if m.dilation not in (1, (1, 1)) or m.ceil_mode or m.return_indices:
                raise ValueError(f"quantization: layer '{name}' (MaxPool2d) uses dilation/ceil_mode/return_indices, "
                                 "which the quantized max pool does not support")
            steps.append(("maxpool", name, m, False))
        elif isinstance(m, nn.Flatten):
            steps.append(("flatten", name, m, False))
        elif isinstance(m, _PASSTHROUGH):
            pass
        else:
            raise ValueError(f"quantization: layer '{name}' ({type(m).__name__}) is not supported; "
                             f"supported: {_SUPPORTED}")
        i += 1
    if not any(kind in ("conv", "linear") for kind, *_ in steps):
        raise ValueError("quantization: the model has no Conv2d or Linear layer to quantize")
    return steps


class PreparedModel(nn.Module):
    """The float model with observers at its quantization points (prepare's result)."""

    def __init__(self, model, observer=MinMaxObserver):
        super().__init__()
        self.model = model
        self.steps = _plan(model)
        self.input_observer = observer()
        self.observers = {name: observer() for kind, name, *_ in self.steps if kind in ("conv", "linear")}

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=np.float32))
        self.input_observer(x._data)
        for kind, name, m, relu in self.steps:
            x = m(x)
            if kind in ("conv", "linear"):
                if relu:
                    x = nn.functional.relu(x)
                self.observers[name](x._data)
        return x


def prepare(model, observer=MinMaxObserver):
    """A copy of `model` (eval mode) with observers; `observer` is a class (MinMaxObserver, PercentileObserver).

    An nn.Sequential gives a PreparedModel (converted to an all-int8 QuantizedSequential); any other
    Module a PreparedModule (its Conv2d / Linear layers swapped for int8 ones: see modules.py).
    """
    model = copy.deepcopy(model).eval()
    if not isinstance(model, nn.Sequential):
        return PreparedModule(model, observer)
    return PreparedModel(model, observer)


def calibrate(prepared, loader, num_batches=None):
    """Runs float batches (x or (x, y) items) through `prepared` to fill its observers."""
    if not isinstance(prepared, (PreparedModel, PreparedModule)):
        raise TypeError(f"calibrate: expected the result of prepare(), got {type(prepared).__name__}")
    with no_grad():
        for i, batch in enumerate(loader):
            if num_batches is not None and i >= num_batches:
                break
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            prepared(x)
    return prepared


def convert(prepared, reduce_range=True):
    """The QuantizedSequential of a calibrated PreparedModel; for a PreparedModule, the model with int8 layers."""
    if isinstance(prepared, PreparedModule):
        return convert_module(prepared, reduce_range)
    if not isinstance(prepared, PreparedModel):
        raise TypeError(f"convert: expected the result of prepare(), got {type(prepared).__name__}")
    s_in, zp_in = prepared.input_observer.calculate_qparams()
    layers = [{"kind": "quantize", "scale": float(s_in), "zero_point": int(zp_in)}]
    for kind, name, m, relu in prepared.steps:
        if kind in ("conv", "linear"):
            wq, ws = quantize_weight_per_channel(m.weight._data, reduce_range)
            s_out, zp_out = prepared.observers[name].calculate_qparams()
            bias = m.bias._data.astype(np.float32) if m.bias is not None else np.zeros(wq.shape[0], np.float32)
            layer = {"kind": kind, "name": name, "weight": wq, "weight_scale": ws, "bias": bias, "relu": bool(relu),
                     "out_scale": float(s_out), "out_zero_point": int(zp_out)}
            if kind == "conv":
                if isinstance(m.padding, str) or (not isinstance(m.padding, int) and len(tuple(m.padding)) != 2):
                    raise ValueError(f"quantization: layer '{name}' (Conv2d) has padding={m.padding!r}; "
                                     "only an int or a pair is supported")
                if getattr(m, "padding_mode", "zeros") != "zeros":
                    raise ValueError(f"quantization: layer '{name}' (Conv2d) has padding_mode={m.padding_mode!r}; "
                                     "only 'zeros' is supported")
                layer.update(stride=list(_pair(m.stride, "stride", name)), padding=list(_pair(m.padding, "padding", name)),
                             dilation=list(_pair(m.dilation, "dilation", name)), groups=int(m.groups))
            layers.append(layer)
        elif kind == "maxpool":
            ks = _pair(m.kernel_size, "kernel_size", name)
            st = _pair(m.stride if m.stride is not None else m.kernel_size, "stride", name)
            layers.append({"kind": "maxpool", "name": name, "kernel_size": list(ks), "stride": list(st),
                           "padding": list(_pair(m.padding, "padding", name))})
        elif kind == "flatten":
            layers.append({"kind": "flatten", "name": name, "start_dim": int(m.start_dim), "end_dim": int(m.end_dim)})
        elif kind == "relu":
            layers.append({"kind": "relu", "name": name})
    return QuantizedSequential(layers)


def quantize_static(model, calibration_loader, observer=MinMaxObserver, num_batches=None, reduce_range=True):
    """prepare + calibrate + convert in one call.

    Returns a QuantizedSequential for an nn.Sequential, else a copy of `model` whose Conv2d / Linear
    layers are int8 (float32 in and out; what is covered: dlcore.quantization.modules).
    """
    return convert(calibrate(prepare(model, observer), calibration_loader, num_batches), reduce_range)


def _maxpool_u8(q, ks, st, pad):
    """Max pooling on uint8 as a running np.maximum over the kh x kw strided views (padding with 0, the minimum)."""
    if pad[0] or pad[1]:
        q = np.pad(q, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    h, w = q.shape[2:]
    oh, ow = (h - ks[0]) // st[0] + 1, (w - ks[1]) // st[1] + 1
    out = None
    for i in range(ks[0]):
        for j in range(ks[1]):
            v = q[:, :, i:i + st[0] * (oh - 1) + 1:st[0], j:j + st[1] * (ow - 1) + 1:st[1]]
            out = v.copy() if out is None else np.maximum(out, v, out=out)
    return out


class QuantizedSequential(nn.Module):
    """An int8 model: forward(float input) -> float32 output, running dlcore's int8 kernels.

    ``state_dict()`` is a plain dict of arrays, numbers and strings that
    ``dlcore.save`` writes; ``QuantizedSequential.from_state_dict(dlcore.load(path))``
    rebuilds the model.
    """

    def __init__(self, layers, backend="auto"):
        super().__init__()
        self.layers = layers
        self.backend = backend
        self._kernels = {}  # layer index -> (weight array packed, packed B, requantize mult, offset)

    def _quant_backend(self):
        # quantize/requantize have ref and AVX2 entries; an int8-GEMM-only backend name runs them on "auto"
        return self.backend if self.backend in ("ref", "avx2") else "auto"

    def _layer_kernels(self, i, layer, scale):
        """Per-layer constants made once: the packed Linear weights and the requantization factors.

        Rebuilt when the layer's weight array is replaced (load_state_dict); a weight changed in
        place is not seen: call ``refresh()`` after editing arrays.
        """
        cached = self._kernels.get(i)
        if cached is not None and cached[0] is layer["weight"] and cached[4] == scale:
            return cached
        packed = None
        if layer["kind"] == "linear":
            packed = K.gemm_u8s8s32_pack(layer["weight"], backend=self.backend)
        mult = (np.float32(scale) * layer["weight_scale"]).astype(np.float32)
        inv = np.float32(1.0 / layer["out_scale"])
        # the NumPy formula's factors, bit for bit: q = rint(acc * (mult * inv) + (bias * inv + zp))
        rq_mult = (mult * inv).astype(np.float32)
        rq_off = (layer["bias"] * inv + np.float32(layer["out_zero_point"])).astype(np.float32)
        cached = (layer["weight"], packed, mult, (rq_mult, rq_off), scale)
        self._kernels[i] = cached
        return cached

    def refresh(self):
        """Drops the packed weights and factors; the next forward rebuilds them from ``layers``."""
        self._kernels = {}

    def forward(self, x):
        x = x._data if isinstance(x, Tensor) else np.asarray(x)
        x = np.ascontiguousarray(x, dtype=np.float32)
        q, scale, zp = None, None, None
        out = x
        qb = self._quant_backend()
        for i, layer in enumerate(self.layers):
            kind = layer["kind"]
            if kind == "quantize":
                scale, zp = layer["scale"], layer["zero_point"]
                q = K.quantize_u8(out, scale, zp, backend=qb)
            elif kind in ("conv", "linear"):
                if q is None:
                    q = K.quantize_u8(out, scale, zp, backend=qb)
                _, packed, mult, (rq_mult, rq_off), _ = self._layer_kernels(i, layer, scale)
                if kind == "conv":
                    acc = K.conv2d_u8s8(q, layer["weight"], zp, tuple(layer["stride"]), tuple(layer["padding"]),
                                        tuple(layer["dilation"]), layer["groups"], backend=self.backend)
                else:
                    if q.ndim != 2:
                        raise ValueError(f"QuantizedSequential: layer '{layer['name']}' (Linear) got an input of "
                                         f"shape {q.shape}; flatten it first")
                    acc = K.gemm_u8s8s32_packed(np.ascontiguousarray(q), packed, zp, backend=self.backend)
                scale, zp = layer["out_scale"], layer["out_zero_point"]
                out, q = None, None
                if layer is not self.layers[-1]:
                    # requantize in one affine pass (C++): q = clip(rint(acc * m / s_out + (b / s_out + zp)));
                    # the fused ReLU is the clip at zp (real 0)
                    q = K.requantize_u8(acc, rq_mult, rq_off, zp if layer["relu"] else 0, backend=qb)
                else:
                    out = K.dequantize_s32(acc, mult, layer["bias"], layer["relu"], backend=qb)
            elif kind == "maxpool":
                if q is None:
                    q = K.quantize_u8(out, scale, zp, backend=qb)
                q = _maxpool_u8(q, layer["kernel_size"], layer["stride"], layer["padding"])
            elif kind == "flatten":
                if q is None:
                    q = K.quantize_u8(out, scale, zp, backend=qb)
                shape = q.shape
                end = layer["end_dim"] % len(shape)
                start = layer["start_dim"] % len(shape)
                q = q.reshape(shape[:start] + (-1,) + shape[end + 1:])
            elif kind == "relu":
                if q is None:
                    q = K.quantize_u8(out, scale, zp, backend=qb)
                q = np.maximum(q, np.uint8(zp))
        if q is not None:  # ended on a uint8 layer: dequantize
            out = dequantize_u8(q, scale, zp)
        return Tensor(np.ascontiguousarray(out, dtype=np.float32))

    def nbytes(self):
        """Bytes of the model's arrays (int8 weights, float32 scales and biases)."""
        return sum(v.nbytes for layer in self.layers for v in layer.values() if isinstance(v, np.ndarray))

    def state_dict(self):
        return {"format": FORMAT, "layers": [dict(layer) for layer in self.layers]}

    def load_state_dict(self, state_dict, strict=True):
        self.layers = QuantizedSequential.from_state_dict(state_dict).layers
        self.refresh()
        return [], []

    @classmethod
    def from_state_dict(cls, state, backend="auto"):
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise ValueError(f"QuantizedSequential.from_state_dict: not a quantized model (expected format {FORMAT!r})")
        layers = []
        for layer in state["layers"]:
            layer = dict(layer)
            for key, dtype in (("weight", np.int8), ("weight_scale", np.float32), ("bias", np.float32)):
                if key in layer:
                    arr = np.asarray(layer[key])
                    if arr.dtype != dtype:
                        raise TypeError(f"QuantizedSequential: '{layer.get('name')}.{key}' has dtype {arr.dtype}, "
                                        f"expected {np.dtype(dtype)}")
                    layer[key] = np.ascontiguousarray(arr)
            layers.append(layer)
        return cls(layers, backend)

    def extra_repr(self):
        return ", ".join(f"{layer['kind']}" + ("+relu" if layer.get("relu") else "") for layer in self.layers)
