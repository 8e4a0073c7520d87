"""One converter per traced op: (GraphBuilder, Record) -> the ONNX value name of the op's output.

Each reads the op's arguments as the trace recorded them and, where forward
derived something (pool geometry, adaptive sizes), the Function node itself.
Shapes that ONNX cannot express the way dlcore computes them raise
NotImplementedError naming the op and the shapes, never a silently different graph.
"""
from __future__ import annotations

import math

import numpy as np

from ..nn import binary
from ..ops import (
    activation,
    activation_more,
    arith,
    clamp,
    conv,
    conv3d,
    conv_transpose,
    copy,
    dropout,
    embedding,
    fold,
    layer_norm,
    linear,
    lrn,
    math_more,
    norm,
    pool,
    pool3d,
    recurrent,
    reduce,
    resample,
    resample3d,
    select,
    shape,
    softmax,
)
from ..ops._common import pair
from ..ops.conv import conv_padding
from ..tensor import Tensor
from ._trace import Compare, Extremum


def _shape(a):
    return tuple(a.shape)


def _dtype(a):
    return (a._data if isinstance(a, Tensor) else a).dtype


def _ints(name, values):
    return np.asarray(values, dtype=np.int64)


def _unsupported(rec, why):
    raise NotImplementedError(f"onnx export: op '{rec.op.__name__}' {why}")


# ---- dense and convolution -------------------------------------------------------------
def _linear(g, rec):
    x, w = rec.args[0], rec.args[1]
    b = rec.args[2] if len(rec.args) > 2 else None
    inputs = [g.value(x), g.value(w)] + ([g.value(b)] if b is not None else [])
    return g.node("Gemm", inputs, transB=1)


def _matmul(g, rec):
    return g.node("MatMul", [g.value(rec.args[0]), g.value(rec.args[1])])


def _conv(g, rec):
    x, w = rec.args[0], rec.args[1]
    b = rec.args[2] if len(rec.args) > 2 else None
    p = rec.node.params
    top, bottom, left, right = p["padding"]
    return g.node("Conv", [g.value(x), g.value(w)] + ([g.value(b)] if b is not None else []),
                  kernel_shape=list(_shape(w)[2:]), strides=list(p["stride"]), pads=[top, left, bottom, right],
                  dilations=list(p["dilation"]), group=p["groups"])


def _then_relu(convert):
    """A fused layer + ReLU Function (F.conv2d / F.linear with activation="relu") as the layer's node, then Relu."""
    def fused(g, rec):
        return g.node("Relu", [convert(g, rec)])
    return fused


def _conv_transpose(g, rec):
    x, w = rec.args[0], rec.args[1]
    b = rec.args[2] if len(rec.args) > 2 else None
    kw = rec.kwargs
    top, bottom, left, right = conv_padding(kw.get("padding", 0))
    return g.node("ConvTranspose", [g.value(x), g.value(w)] + ([g.value(b)] if b is not None else []),
                  kernel_shape=list(_shape(w)[2:]), strides=list(pair(kw.get("stride", 1))),
                  pads=[top, left, bottom, right], dilations=list(pair(kw.get("dilation", 1))),
                  output_padding=list(pair(kw.get("output_padding", 0))), group=int(kw.get("groups", 1)))


def _one_hot_kernels(channels, kh, kw, dtype):
    """(C*kh*kw, 1, kh, kw): output channel c*kh*kw + i*kw + j of a group-per-channel Conv picks input channel c at
    kernel offset (i, j), which is im2col's column order; the same weight in ConvTranspose sums blocks back."""
    k = kh * kw
    return np.tile(np.eye(k, dtype=dtype).reshape(k, 1, kh, kw), (channels, 1, 1, 1))


def _unfold(g, rec):
    x, ((kh, kw), (dh, dw), (ph, pw), (sh, sw)) = rec.args[:2]
    c = _shape(x)[1]
    cols = g.node("Conv", [g.value(x), g.const(_one_hot_kernels(c, kh, kw, _dtype(x)), "unfold_kernels")],
                  kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw], dilations=[dh, dw], group=c)
    return g.node("Reshape", [cols, g.const(_ints("shape", [0, c * kh * kw, -1]))])


def _fold(g, rec):
    cols, (h, w), ((kh, kw), (dh, dw), (ph, pw), (sh, sw)) = rec.args[:3]
    c = _shape(cols)[1] // (kh * kw)
    oh, ow = (fold._blocks(h, kh, dh, ph, sh), fold._blocks(w, kw, dw, pw, sw))
    blocks = g.node("Reshape", [g.value(cols), g.const(_ints("shape", [0, c * kh * kw, oh, ow]))])
    summed = g.node("ConvTranspose", [blocks, g.const(_one_hot_kernels(c, kh, kw, _dtype(cols)), "fold_kernels")],
                    kernel_shape=[kh, kw], strides=[sh, sw], dilations=[dh, dw], group=c)
    # ConvTranspose covers the rows the blocks reach; the padded image may have more (zeros), then crop the padding
    reach_h, reach_w = (oh - 1) * sh + dh * (kh - 1) + 1, (ow - 1) * sw + dw * (kw - 1) + 1
    extra_h, extra_w = h + 2 * ph - reach_h, w + 2 * pw - reach_w
    if extra_h or extra_w:
        summed = g.node("Pad", [summed, g.const(_ints("pads", [0, 0, 0, 0, 0, 0, extra_h, extra_w]))])
    if ph or pw:
        summed = g.node("Slice", [summed, g.const(_ints("starts", [ph, pw])), g.const(_ints("ends", [ph + h, pw + w])),
                                  g.const(_ints("axes", [2, 3]))])
    return summed


# ---- 3-D convolution and pooling: the node's Geometry holds what forward derived ------------------------------
def _pads_3d(before, after):
    return list(before) + list(after)


def _conv3d(g, rec):
    x, w = rec.args[:2]
    b = rec.args[2] if len(rec.args) > 2 else None
    geo = rec.node.geometry
    return g.node("Conv", [g.value(x), g.value(w)] + ([g.value(b)] if b is not None else []),
                  kernel_shape=list(geo.kernel), strides=list(geo.stride), dilations=list(geo.dilation),
                  pads=_pads_3d([lo for lo, _ in geo.padding], [hi for _, hi in geo.padding]), group=geo.groups)


def _conv_transpose3d(g, rec):
    x, w = rec.args[:2]
    b = rec.args[2] if len(rec.args) > 2 else None
    geo = rec.node.geometry  # the convolution this one transposes
    output_padding = rec.kwargs.get("output_padding", 0)
    output_padding = [output_padding] * 3 if isinstance(output_padding, int) else list(output_padding)
    return g.node("ConvTranspose", [g.value(x), g.value(w)] + ([g.value(b)] if b is not None else []),
                  kernel_shape=list(geo.kernel), strides=list(geo.stride), dilations=list(geo.dilation),
                  pads=_pads_3d([lo for lo, _ in geo.padding], [hi for _, hi in geo.padding]),
                  output_padding=output_padding, group=geo.groups)


def _pool3d_pads(geo, x):
    """Begin padding, and end padding reaching as far as the windows do (ceil_mode may pass the padding)."""
    sizes = _shape(x)[2:]
    return _pads_3d(geo.padding, [geo.padded_extent(n, i) - n - p for i, (n, p) in enumerate(zip(sizes, geo.padding))])


def _max_pool3d(g, rec):
    x = rec.args[0]
    options = dict(zip(("kernel_size", "stride", "padding", "dilation", "ceil_mode"), rec.args[1:]), **rec.kwargs)
    geo = pool3d.PoolGeometry("max_pool3d", _shape(x), options["kernel_size"], options.get("stride"),
                              options.get("padding", 0), options.get("dilation", 1), options.get("ceil_mode", False))
    return g.node("MaxPool", [g.value(x)], kernel_shape=list(geo.kernel), strides=list(geo.stride),
                  dilations=list(geo.dilation), pads=_pool3d_pads(geo, x), ceil_mode=0)


def _avg_pool3d(g, rec):
    """Zero-pad as far as the windows reach, average whole windows, rescale by kernel volume / dlcore's divisor
    (per output cell: torch's count_include_pad rule, ceil_mode overhang, divisor_override all in one array)."""
    x, node = rec.args[0], rec.node
    geo = node.geometry
    pads = _pool3d_pads(geo, x)
    padded = g.node("Pad", [g.value(x), g.const(_ints("pads", [0, 0] + pads[:3] + [0, 0] + pads[3:]))])
    mean = g.node("AveragePool", [padded], kernel_shape=list(geo.kernel), strides=list(geo.stride))
    volume = float(np.prod(geo.kernel))
    scale = (volume / _host(node.divisor).astype(np.float64)).astype(_dtype(x))[None, None]
    return g.node("Mul", [mean, g.const(scale, "avg_pool3d_scale")])


def _adaptive_max_pool3d(g, rec):
    x, out = rec.args[:2]
    return _adaptive_max_per_axis(g, g.value(x), [(2 + i, n, o) for i, (n, o) in enumerate(zip(_shape(x)[2:], out))])


def _separable3d(g, rec):
    """Adaptive average pooling in 3-D: one matrix per axis, applied as a single Einsum."""
    x = rec.args[0]
    m_d, m_h, m_w = (g.const(_host(m).astype(_dtype(x))) for m in rec.node.matrices)
    return g.node("Einsum", [g.value(x), m_d, m_h, m_w], equation="ncdhw,ad,bh,ew->ncabe")


# ---- activations ------------------------------------------------------------------------
def _leaky_relu(g, rec):
    slope = float(rec.args[1]) if len(rec.args) > 1 else 0.0
    if slope == 0.0:
        return g.node("Relu", [g.value(rec.args[0])])
    return g.node("LeakyRelu", [g.value(rec.args[0])], alpha=slope)


def _prelu(g, rec):
    x, w = rec.args
    data = w._data if isinstance(w, Tensor) else w
    slope = np.asarray(data.get() if hasattr(data, "get") else data)
    if slope.size != 1:  # (C,) over axis 1: broadcast as (C, 1, ..., 1) against (N, C, ...)
        slope = slope.reshape((-1,) + (1,) * (len(_shape(x)) - 2))
    return g.node("PRelu", [g.value(x), g.const(slope, "prelu_slope")])


def _elu(g, rec):
    return g.node("Elu", [g.value(rec.args[0])], alpha=float(rec.args[1]) if len(rec.args) > 1 else 1.0)


def _simple(op_type):
    def convert(g, rec):
        return g.node(op_type, [g.value(rec.args[0])])
    return convert


def _maxout(g, rec):
    x, k = rec.args[0], int(rec.args[1])
    n, c = _shape(x)[:2]
    rest = list(_shape(x)[2:])
    grouped = g.node("Reshape", [g.value(x), g.const(_ints("shape", [0, c // k, k] + rest))])
    return _reduce_node(g, "ReduceMax", grouped, [2], keepdims=0)


def _gelu(g, rec):
    x = g.value(rec.args[0])
    dt = _dtype(rec.args[0])
    c = lambda v: g.const(np.asarray(v, dtype=dt))  # noqa: E731
    approximate = rec.args[1] if len(rec.args) > 1 else "none"
    if approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.node("Mul", [g.node("Mul", [x, x]), x])
        inner = g.node("Mul", [g.node("Add", [x, g.node("Mul", [cube, c(0.044715)])]), c(math.sqrt(2 / math.pi))])
        half = g.node("Mul", [x, c(0.5)])
        return g.node("Mul", [half, g.node("Add", [g.node("Tanh", [inner]), c(1.0)])])
    erf = g.node("Erf", [g.node("Div", [x, c(math.sqrt(2.0))])])
    return g.node("Mul", [g.node("Mul", [x, c(0.5)]), g.node("Add", [erf, c(1.0)])])


def _silu(g, rec):
    x = g.value(rec.args[0])
    return g.node("Mul", [x, g.node("Sigmoid", [x])])


def _softplus_node(g, x, dt, beta=1.0, threshold=None, raw=None):
    """log(1 + exp(beta x)) / beta, and x where beta x > threshold (torch's linear region), as ONNX nodes."""
    c = lambda v: g.const(np.asarray(v, dtype=dt))  # noqa: E731
    z = x if beta == 1.0 else g.node("Mul", [x, c(beta)])
    soft = g.node("Softplus", [z])
    soft = soft if beta == 1.0 else g.node("Div", [soft, c(beta)])
    if threshold is None:
        return soft
    return g.node("Where", [g.node("Greater", [z, c(threshold)]), x, soft])


def _softplus(g, rec):
    beta, threshold = (list(rec.args[1:]) + [1.0, 20.0][len(rec.args) - 1:])[:2]
    return _softplus_node(g, g.value(rec.args[0]), _dtype(rec.args[0]), float(beta), float(threshold))


def _mish(g, rec):
    x = g.value(rec.args[0])
    return g.node("Mul", [x, g.node("Tanh", [_softplus_node(g, x, _dtype(rec.args[0]))])])


def _logsigmoid(g, rec):
    x = g.value(rec.args[0])
    return g.node("Neg", [_softplus_node(g, g.node("Neg", [x]), _dtype(rec.args[0]))])


def _hardtanh(g, rec):
    low, high = (list(rec.args[1:]) + [-1.0, 1.0][len(rec.args) - 1:])[:2]
    dt = _dtype(rec.args[0])
    return g.node("Clip", [g.value(rec.args[0]), g.const(np.asarray(low, dtype=dt)),
                           g.const(np.asarray(high, dtype=dt))])


def _hardsigmoid(g, rec):
    return g.node("HardSigmoid", [g.value(rec.args[0])], alpha=1.0 / 6, beta=0.5)


# ---- pooling ---------------------------------------------------------------------------------
def _pool_attrs(rec, x_shape, kernel_size, stride, padding, ceil_mode):
    k, s, p, out = pool._geometry(x_shape, kernel_size, stride, padding, ceil_mode)
    return dict(kernel_shape=list(k), strides=list(s), pads=[p[0], p[1], p[0], p[1]], ceil_mode=int(bool(ceil_mode)))


def _ceil_overhang(x_shape, k, s, p, out):
    """Rows/columns past the bottom/right padding that PyTorch's ceil_mode windows reach (0 without ceil_mode)."""
    return tuple(max(0, (out[i] - 1) * s[i] + k[i] - (x_shape[2 + i] + 2 * p[i])) for i in range(2))


def _max_pool(g, rec):
    x, kernel_size = rec.args[0], rec.args[1]
    stride = rec.args[2] if len(rec.args) > 2 else None
    padding = rec.args[3] if len(rec.args) > 3 else 0
    ceil_mode = rec.args[4] if len(rec.args) > 4 else False
    k, s, p, out = pool._geometry(_shape(x), kernel_size, stride, padding, ceil_mode)
    # ceil_mode as explicit end padding (ignored by MaxPool like the symmetric one) and a floor rule: ONNX's own
    # ceil rule lacks PyTorch's "the last window starts inside the input or left padding" correction
    eh, ew = _ceil_overhang(_shape(x), k, s, p, out)
    return g.node("MaxPool", [g.value(x)], kernel_shape=list(k), strides=list(s),
                  pads=[p[0], p[1], p[0] + eh, p[1] + ew], ceil_mode=0)


def _avg_pool(g, rec):
    x, kernel_size = rec.args[0], rec.args[1]
    stride = rec.args[2] if len(rec.args) > 2 else None
    padding = rec.args[3] if len(rec.args) > 3 else 0
    ceil_mode = rec.args[4] if len(rec.args) > 4 else False
    count_include_pad = rec.args[5] if len(rec.args) > 5 else True
    k, s, p, out = pool._geometry(_shape(x), kernel_size, stride, padding, ceil_mode)
    eh, ew = _ceil_overhang(_shape(x), k, s, p, out)
    if not (eh or ew) or (not count_include_pad):
        # the divisor ONNX uses is PyTorch's here: the window's size, or its count of input elements
        return g.node("AveragePool", [g.value(x)], kernel_shape=list(k), strides=list(s),
                      pads=[p[0], p[1], p[0] + eh, p[1] + ew], ceil_mode=0,
                      count_include_pad=int(bool(count_include_pad)))
    # ceil_mode windows past the padding with count_include_pad: PyTorch counts the padding but not the overhang,
    # a rule ONNX has not got. Zero-pad explicitly, sum-average over whole windows, rescale each output cell by
    # (kh*kw) / PyTorch's divisor (the divisors come from dlcore's own rule, pool._avg_divisors).
    h, w = _shape(x)[2:]
    padded = g.node("Pad", [g.value(x), g.const(_ints("pads", [0, 0, p[0], p[1], 0, 0, p[0] + eh, p[1] + ew]))],
                    mode="constant")
    mean = g.node("AveragePool", [padded], kernel_shape=list(k), strides=list(s))
    divisor = pool._avg_divisors(np, h, w, k, s, p, out, True, np.float64)
    scale = (k[0] * k[1] / divisor).astype(_dtype(x))[None, None]
    return g.node("Mul", [mean, g.const(scale)])


def _adaptive(kind):
    def convert(g, rec):
        x = rec.args[0]
        h, w = _shape(x)[2:]
        oh, ow = rec.node.output_size
        name = g.value(x)
        if (oh, ow) == (1, 1):
            return g.node(f"Global{kind}Pool", [name])
        if h % oh == 0 and w % ow == 0:
            k = [h // oh, w // ow]
            return g.node(f"{kind}Pool", [name], kernel_shape=k, strides=k)
        if oh % h == 0 and ow % w == 0:  # each output cell's window is one input cell: nearest upsampling
            scales = g.const(np.asarray([1, 1, oh // h, ow // w], dtype=np.float32))
            return g.node("Resize", [name, "", scales], mode="nearest", coordinate_transformation_mode="asymmetric",
                          nearest_mode="floor")
        if kind == "Average":
            return _adaptive_avg_matmul(g, name, _dtype(x), h, w, oh, ow)
        return _adaptive_max_slices(g, name, h, w, oh, ow)
    return convert


def _adaptive_avg_matmul(g, name, dtype, h, w, oh, ow):
    """Windows that neither tile nor replicate: y = A_h @ x @ A_w^T with PyTorch's averaging matrices
    (resample.adaptive_avg_matrix, the ones dlcore's forward uses); MatMul broadcasts over N and C."""
    a_h = g.const(resample.adaptive_avg_matrix(h, oh).astype(dtype))        # (OH, H)
    a_w_t = g.const(resample.adaptive_avg_matrix(w, ow).T.astype(dtype))    # (W, OW)
    return g.node("MatMul", [a_h, g.node("MatMul", [name, a_w_t])])


def _adaptive_max_slices(g, name, h, w, oh, ow):
    return _adaptive_max_per_axis(g, name, [(2, h, oh), (3, w, ow)])


def _adaptive_max_per_axis(g, name, axes):
    """Windows that neither tile nor replicate: the max over a window is the max over its rows of the max over
    its columns, so per (axis, size, output size): Slice each window, ReduceMax it (keepdims), Concat them."""
    for axis, size, out in axes:
        starts, ends = resample.adaptive_bounds(size, out)
        parts = []
        for a, b in zip(starts, ends):
            piece = g.node("Slice", [name, g.const(_ints("starts", [a])), g.const(_ints("ends", [b])),
                                     g.const(_ints("axes", [axis]))])
            parts.append(_reduce_node(g, "ReduceMax", piece, [axis], 1))
        name = g.node("Concat", parts, axis=axis)
    return name


def _interpolate(g, rec):
    node, x = rec.node, rec.args[0]
    h, w = _shape(x)[2:]
    if node.scales is not None:
        inputs = [g.value(x), "", g.const(np.asarray([1, 1, 1 / node.scales[0], 1 / node.scales[1]], np.float32))]
    else:
        # N and C from the run's input (a dynamic batch), the spatial size fixed
        leading = g.node("Slice", [g.node("Shape", [g.value(x)]), g.const(_ints("starts", [0])),
                                   g.const(_ints("ends", [2]))])
        inputs = [g.value(x), "", "", g.node("Concat", [leading, g.const(_ints("sizes", list(node.size)))], axis=0)]
    if node.mode == "nearest":
        return g.node("Resize", inputs, mode="nearest", coordinate_transformation_mode="asymmetric",
                      nearest_mode="floor")
    if not node.align_corners and 1 in node.size:
        _unsupported(rec, "bilinear to an output size of 1 (ONNX's pytorch_half_pixel maps it to 0)")
    return g.node("Resize", inputs, mode="linear",
                  coordinate_transformation_mode="align_corners" if node.align_corners else "pytorch_half_pixel")


def _pad(g, rec):
    x = rec.args[0]
    node = rec.node
    ndim = len(_shape(x))
    begins, ends = [0] * ndim, [0] * ndim
    for k in range(len(node.pad) // 2):
        begins[ndim - 1 - k], ends[ndim - 1 - k] = node.pad[2 * k], node.pad[2 * k + 1]
    mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[node.mode]
    if mode == "wrap" and g.opset < 19:  # Pad's "wrap" mode arrived in opset 19
        if min(begins + ends) < 0:
            _unsupported(rec, "mode='circular' with negative padding before opset 19")
        return _circular_pad(g, g.value(x), begins, ends)
    inputs = [g.value(x), g.const(_ints("pads", begins + ends))]
    if mode == "constant":
        inputs.append(g.const(np.asarray(node.value, dtype=_dtype(x))))
    return g.node("Pad", inputs, mode=mode)


def _circular_pad(g, name, begins, ends):
    """Circular padding per axis as Concat(last `begin` entries, x, first `end` entries)."""
    for axis, (b, e) in enumerate(zip(begins, ends)):
        if not (b or e):
            continue
        axes = g.const(_ints("axes", [axis]))
        parts = [name]
        if b:
            parts.insert(0, g.node("Slice", [name, g.const(_ints("starts", [-b])), g.const(_ints("ends", [_END])),
                                             axes]))
        if e:
            parts.append(g.node("Slice", [name, g.const(_ints("starts", [0])), g.const(_ints("ends", [e])), axes]))
        name = g.node("Concat", parts, axis=axis)
    return name


# ---- normalization ---------------------------------------------------------------------------
def _lrn(g, rec):
    x, size, alpha, beta, k = rec.args
    return g.node("LRN", [g.value(x)], size=int(size), alpha=float(alpha), beta=float(beta), bias=float(k))


def _batch_norm(g, rec):
    x, weight, bias, rm, rv = rec.args[:5]
    c = _shape(x)[1]
    dt = _dtype(x)
    w_name = g.value(weight) if weight is not None else g.const(np.ones(c, dt))
    b_name = g.value(bias) if bias is not None else g.const(np.zeros(c, dt))
    return g.node("BatchNormalization", [g.value(x), w_name, b_name, g.value(rm), g.value(rv)],
                  epsilon=float(rec.kwargs.get("eps", 1e-5)))


def _layer_norm(g, rec):
    x, weight, bias, normalized_shape = rec.args[:4]
    eps = rec.args[4] if len(rec.args) > 4 else 1e-5
    dt = _dtype(x)
    w_name = g.value(weight) if weight is not None else g.const(np.ones(normalized_shape, dt))
    if g.opset < 17:  # LayerNormalization arrived in opset 17
        return _layer_norm_composed(g, g.value(x), w_name, g.value(bias) if bias is not None else None,
                                    len(_shape(x)), len(normalized_shape), float(eps), dt)
    inputs = [g.value(x), w_name] + ([g.value(bias)] if bias is not None else [])
    return g.node("LayerNormalization", inputs, axis=-len(normalized_shape), epsilon=float(eps))


def _layer_norm_composed(g, x, w, b, ndim, normalized, eps, dt):
    """(x - mean) / sqrt(biased var + eps) * w + b over the last `normalized` axes, from opset-13 ops."""
    axes = list(range(ndim - normalized, ndim))
    centered = g.node("Sub", [x, _reduce_node(g, "ReduceMean", x, axes, 1)])
    var = _reduce_node(g, "ReduceMean", g.node("Mul", [centered, centered]), axes, 1)
    std = g.node("Sqrt", [g.node("Add", [var, g.const(np.asarray(eps, dtype=dt))])])
    y = g.node("Mul", [g.node("Div", [centered, std]), w])
    return g.node("Add", [y, b]) if b is not None else y


def _group_norm(g, rec):
    x, groups, weight, bias = rec.args[:4]
    eps = rec.args[4] if len(rec.args) > 4 else 1e-5
    shape_x, dt = _shape(x), _dtype(x)
    grouped = g.node("Reshape", [g.value(x), g.const(_ints("shape", [0, groups, -1]))])
    normed = g.node("InstanceNormalization", [grouped, g.const(np.ones(groups, dt)), g.const(np.zeros(groups, dt))],
                    epsilon=float(eps))
    y = g.node("Reshape", [normed, g.const(_ints("shape", [0] + list(shape_x[1:])))])
    channel = (-1,) + (1,) * (len(shape_x) - 2)
    if weight is not None:
        y = g.node("Mul", [y, g.node("Reshape", [g.value(weight), g.const(_ints("shape", channel))])])
    if bias is not None:
        y = g.node("Add", [y, g.node("Reshape", [g.value(bias), g.const(_ints("shape", channel))])])
    return y


def _softmax(op_type):
    def convert(g, rec):
        return g.node(op_type, [g.value(rec.args[0])], axis=int(rec.args[1]))
    return convert


# ---- comparisons, selection, elementwise math --------------------------------------------------------------
def _compare(g, rec):
    a, b = rec.args
    y = g.node(rec.kwargs["op"], [g.value(a), g.value(b, dtype=_dtype(a))])
    return g.node("Not", [y]) if rec.kwargs["negate"] else y


def _constant_choice(g, mask, when_all, when_none, out_shape):
    """The one side a constant, uniform mask picks (None otherwise): a mask made from shapes alone (EmbeddingBag's
    bags of a 2-D input) would else be a constant of the example's batch size."""
    if id(mask) in g.names or g.producer.get(id(mask)) is not None:
        return None
    values = _host(mask)
    picked = when_all if values.all() else when_none if not values.any() else None
    return picked if picked is not None and isinstance(picked, Tensor) and _shape(picked) == out_shape else None


def _extremum(g, rec):
    a, b = rec.args
    return g.node(rec.kwargs["op"], [g.value(a), g.value(b, dtype=_dtype(a))])


def _where(g, rec):
    cond, a, b = rec.args
    same = _constant_choice(g, cond, a, b, _shape(rec.result))
    if same is not None:
        return g.node("Identity", [g.value(same)])
    return g.node("Where", [g.value(cond), g.value(a), g.value(b)])


def _clamp(g, rec):
    x = rec.args[0]
    lo, hi = (list(rec.args[1:]) + [rec.kwargs.get("lo"), rec.kwargs.get("hi")][len(rec.args) - 1:])[:2]
    bound = lambda v: "" if v is None else g.const(np.asarray(v, dtype=_dtype(x)))  # noqa: E731
    return g.node("Clip", [g.value(x), bound(lo), bound(hi)])


def _sign_ste(g, rec):
    """sign with sign(0) = +1 (ONNX's Sign gives 0 there)."""
    x, dt = rec.args[0], _dtype(rec.args[0])
    c = lambda v: g.const(np.asarray(v, dtype=dt))  # noqa: E731
    return g.node("Where", [g.node("GreaterOrEqual", [g.value(x), c(0)]), c(1), c(-1)])


def _clamped_log(g, rec):
    """max(log x, floor): binary_cross_entropy's log, floored (at -100) instead of -inf at 0."""
    x, floor = rec.args[:2]
    return g.node("Max", [g.node("Log", [g.value(x)]), g.const(np.asarray(floor, dtype=_dtype(x)))])


def _rsqrt(g, rec):
    return g.node("Reciprocal", [g.node("Sqrt", [g.value(rec.args[0])])])


def _log_base(base):
    def convert(g, rec):
        x = rec.args[0]
        return g.node("Div", [g.node("Log", [g.value(x)]), g.const(np.asarray(math.log(base), dtype=_dtype(x)))])
    return convert


def _exp2(g, rec):
    x = rec.args[0]
    return g.node("Exp", [g.node("Mul", [g.value(x), g.const(np.asarray(math.log(2), dtype=_dtype(x)))])])


def _rounded(g, rec):
    x = rec.args[0]
    how = rec.args[1] if len(rec.args) > 1 else rec.kwargs.get("how", "floor")
    decimals = rec.args[2] if len(rec.args) > 2 else rec.kwargs.get("decimals", 0)
    if how == "round" and decimals:
        _unsupported(rec, f"round with decimals={decimals}")
    if how == "trunc":  # toward zero: floor of |x| with x's sign
        return g.node("Mul", [g.node("Sign", [g.value(x)]), g.node("Floor", [g.node("Abs", [g.value(x)])])])
    return g.node({"floor": "Floor", "ceil": "Ceil", "round": "Round"}[how], [g.value(x)])  # Round: half to even


def _flip(g, rec):
    x, dims = rec.args[0], rec.node.dims
    dims = [dims] if isinstance(dims, (int, np.integer)) else list(dims)
    n = len(dims)
    return g.node("Slice", [g.value(x), g.const(_ints("starts", [-1] * n)), g.const(_ints("ends", [_BEGIN] * n)),
                            g.const(_ints("axes", dims)), g.const(_ints("steps", [-1] * n))])


def _triangle(g, rec):
    x = rec.args[0]
    upper = rec.args[1] if len(rec.args) > 1 else rec.kwargs.get("upper", False)
    diagonal = rec.args[2] if len(rec.args) > 2 else rec.kwargs.get("diagonal", 0)
    if g.opset < 14:
        _unsupported(rec, "(tril/triu) needs opset 14 or later (Trilu)")
    return g.node("Trilu", [g.value(x), g.const(_ints("k", int(diagonal)))], upper=int(bool(upper)))


def _amax(g, rec):
    x, node = rec.args[0], rec.node
    dims = rec.args[1] if len(rec.args) > 1 else rec.kwargs.get("dims")
    minimum = rec.args[3] if len(rec.args) > 3 else rec.kwargs.get("minimum", False)
    ndim = len(_shape(x))
    axes = list(range(ndim)) if dims is None else ([dims] if isinstance(dims, (int, np.integer)) else list(dims))
    return _reduce_node(g, "ReduceMin" if minimum else "ReduceMax", g.value(x), [a % ndim for a in axes],
                        int(bool(node.keepdim)))


def _fill_where(g, rec):
    """masked_fill / index_fill: the mask is an argument (a traced comparison, or a constant of the shapes)."""
    x, value = rec.args[:2]
    mask = rec.args[2] if len(rec.args) > 2 else rec.kwargs.get("mask")
    if _constant_choice(g, mask, None, x, _shape(rec.result)) is not None:
        return g.node("Identity", [g.value(x)])
    fill = g.node("Cast", [g.value(value)], to=g.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(_dtype(x))))
    return g.node("Where", [g.value(mask), fill, g.value(x)])


def _log1p(g, rec):
    """log(1 + x): ONNX has no Log1p; the absolute error near 0 is float32's rounding of 1 + x (~6e-8)."""
    x = rec.args[0]
    return g.node("Log", [g.node("Add", [g.value(x), g.const(np.asarray(1, dtype=_dtype(x)))])])


def _expm1(g, rec):
    x = rec.args[0]
    return g.node("Sub", [g.node("Exp", [g.value(x)]), g.const(np.asarray(1, dtype=_dtype(x)))])


def _vector_norm(g, rec):
    x, node = rec.args[0], rec.node
    ndim, p = len(_shape(x)), float(node.p)
    dims = node.dims
    axes = list(range(ndim)) if dims is None else \
        [d % ndim for d in ([dims] if isinstance(dims, (int, np.integer)) else dims)]
    keep = int(bool(node.keepdim))
    name, dt = g.value(x), _dtype(x)
    if p == 2:
        return _reduce_node(g, "ReduceL2", name, axes, keep)
    if p == 1:
        return _reduce_node(g, "ReduceL1", name, axes, keep)
    if math.isinf(p):
        return _reduce_node(g, "ReduceMax" if p > 0 else "ReduceMin", g.node("Abs", [name]), axes, keep)
    if p == 0:  # the count of nonzeros
        nonzero = g.node("Cast", [g.node("Not", [g.node("Equal", [name, g.const(np.asarray(0, dtype=dt))])])],
                         to=g.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dt)))
        return _reduce_node(g, "ReduceSum", nonzero, axes, keep)
    powered = g.node("Pow", [g.node("Abs", [name]), g.const(np.asarray(p, dtype=dt))])
    return g.node("Pow", [_reduce_node(g, "ReduceSum", powered, axes, keep), g.const(np.asarray(1 / p, dtype=dt))])


def _einsum(g, rec):
    equation = ",".join(rec.node.terms) + "->" + rec.node.out
    return g.node("Einsum", [g.value(a) for a in rec.args], equation=equation)


def _repeat(g, rec):
    x, node = rec.args[0], rec.node
    name, extra = g.value(x), len(node.reps) - len(_shape(x))
    if extra:  # repeat may add leading axes
        name = g.node("Unsqueeze", [name, g.const(_ints("axes", list(range(extra))))])
    return g.node("Tile", [name, g.const(_ints("repeats", list(node.reps)))])


def _roll(g, rec):
    x, node = rec.args[0], rec.node
    shifts, dims = node.shifts, node.dims
    name, shape_x = g.value(x), _shape(x)
    if dims is None:  # torch rolls the flattened tensor, then restores the shape
        flat = g.node("Reshape", [name, g.const(_ints("shape", [-1]))])
        rolled = _roll_axis(g, flat, int(shifts), int(np.prod(shape_x)), 0)
        return g.node("Reshape", [rolled, g.const(_ints("shape", list(shape_x)))])
    shifts = shifts if isinstance(shifts, (tuple, list)) else (shifts,)
    dims = dims if isinstance(dims, (tuple, list)) else (dims,)
    for shift, axis in zip(shifts, dims):
        axis = int(axis) % len(shape_x)
        name = _roll_axis(g, name, int(shift), shape_x[axis], axis)
    return name


def _roll_axis(g, name, shift, size, axis):
    """Rolled by `shift` along `axis` (of `size`): the last `shift` entries, then the others."""
    shift %= size
    if not shift:
        return name
    axes = g.const(_ints("axes", [axis]))
    tail = g.node("Slice", [name, g.const(_ints("starts", [size - shift])), g.const(_ints("ends", [_END])), axes])
    head = g.node("Slice", [name, g.const(_ints("starts", [0])), g.const(_ints("ends", [size - shift])), axes])
    return g.node("Concat", [tail, head], axis=axis)


def _index_select(g, rec):
    x, node = rec.args[0], rec.node
    return g.node("Gather", [g.value(x), g.value(node.index)], axis=int(node.dim) % len(_shape(x)))


def _prod(g, rec):
    x, node = rec.args[0], rec.node
    ndim = len(_shape(x))
    axes = list(range(ndim)) if node.dim is None else [int(node.dim) % ndim]
    keep = 0 if node.dim is None else int(bool(node.keepdim))
    return _reduce_node(g, "ReduceProd", g.value(x), axes, keep)


def _cumsum(g, rec):
    x = rec.args[0]
    return g.node("CumSum", [g.value(x), g.const(_ints("axis", int(rec.node.dim)))])


# ---- embedding -------------------------------------------------------------------------------------
def _embedding(g, rec):
    """Rows of the table picked by the indices (padding_idx only matters to training)."""
    weight, indices = rec.args[:2]
    return g.node("Gather", [g.value(weight), g.value(indices)], axis=0)


# ---- recurrent layers ------------------------------------------------------------------------------
# dlcore (torch) gate blocks -> ONNX's: LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h; RNN one block
_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}


def _host(a):
    data = a._data if isinstance(a, Tensor) else a
    return np.asarray(data.get() if hasattr(data, "get") else data)


def _gate_rows(array, mode):
    """`array` (G*H, ...) with its gate blocks of H rows in ONNX's order."""
    blocks = np.split(_host(array), len(_GATE_ORDER[mode]), axis=0)
    return np.concatenate([blocks[k] for k in _GATE_ORDER[mode]], axis=0)


def _onnx_weight(g, array, like):
    """A weight or bias in ONNX's gate order, named after the parameter it comes from (suffix _onnx)."""
    base = g.names.get(id(like))
    name = f"{base}_onnx" if base and all(i.name != f"{base}_onnx" for i in g.initializers) else g.fresh("rnn_w")
    g.initializers.append(g.onnx.numpy_helper.from_array(np.ascontiguousarray(array), name))  # 3-D: never 0-d
    return name


def _input_projection(g, gx):
    """(x, w_ih, b_ih) when gx is nn's input projection x W_ih^T + b_ih (Reshape -> Linear -> Reshape of x), so the
    ONNX op gets x and W_ih itself; None otherwise."""
    back = g.producer.get(id(gx))
    if back is None or back.op is not shape.Reshape:
        return None
    lin = g.producer.get(id(back.args[0]))
    if lin is None or lin.op is not linear.Linear:
        return None
    front = g.producer.get(id(lin.args[0]))
    if front is None or front.op is not shape.Reshape or len(_shape(front.args[0])) != 3:
        return None
    return front.args[0], lin.args[1], (lin.args[2] if len(lin.args) > 2 else None)


def _untraced_zeros(g, t):
    """True for a state nobody passed in: zeros made inside the layer (maybe indexed), not a graph value; ONNX's
    default initial state is zeros of the run's batch, so leaving it out keeps the batch dynamic."""
    while True:
        rec = g.producer.get(id(t))
        if rec is None or rec.op is not shape.GetItem:
            break
        t = rec.args[0]
    return g.producer.get(id(t)) is None and id(t) not in g.names and not np.any(_host(t))


def _recurrent(g, rec):
    gx, w_hh, b_hh, h0, c0 = rec.args[:5]
    mode, reverse = rec.kwargs.get("mode", "LSTM"), rec.kwargs.get("reverse", False)
    steps, hidden = _shape(gx)[0], _shape(h0)[1]
    dt = _dtype(gx)
    projection = _input_projection(g, gx)
    if projection is not None:
        x, w_ih, b_ih = projection
        w = _onnx_weight(g, _gate_rows(w_ih, mode)[None], w_ih)
    else:  # gx made some other way: feed it as X through a permutation, which reorders its gate blocks exactly
        x, b_ih = gx, None
        width = _shape(gx)[2]
        w = g.const(np.eye(width, dtype=dt)[_gate_rows(np.arange(width), mode)][None], "rnn_gate_order")
    r = _onnx_weight(g, _gate_rows(w_hh, mode)[None], w_hh)
    inputs = [g.value(x), w, r]
    if b_hh is not None or b_ih is not None:
        rows = len(_GATE_ORDER[mode]) * hidden
        b_in = _gate_rows(b_ih, mode) if b_ih is not None else np.zeros(rows, dt)
        b_rec = _gate_rows(b_hh, mode) if b_hh is not None else np.zeros(rows, dt)
        inputs.append(g.const(np.concatenate([b_in, b_rec])[None], "rnn_bias"))
    else:
        inputs.append("")
    inputs.append("")  # sequence_lens: every sequence runs the whole length
    states = [h0] + ([c0] if mode == "LSTM" else [])
    axis0 = g.const(_ints("axes", [0]))
    for s in states:
        inputs.append("" if _untraced_zeros(g, s) else g.node("Unsqueeze", [g.value(s), axis0]))
    while inputs[-1] == "":
        inputs.pop()
    attrs = dict(hidden_size=hidden, direction="reverse" if reverse else "forward")
    if mode == "GRU":
        attrs["linear_before_reset"] = 1  # torch's GRU: r scales (h W_hn^T + b_hn), not h
    if mode.startswith("RNN"):
        attrs["activations"] = ["Relu" if mode == "RNN_RELU" else "Tanh"]
    op_type = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
    outputs = g.node(op_type, inputs, n_outputs=3 if mode == "LSTM" else 2, **attrs)
    y = g.node("Squeeze", [outputs[0], g.const(_ints("axes", [1]))])        # (L, 1, N, H) -> (L, N, H)
    finals = [g.node("Squeeze", [o, axis0]) for o in outputs[1:]]           # (1, N, H) -> (N, H)
    _claim_state_reads(g, rec, y, finals, hidden, 0 if reverse else steps - 1, steps, mode == "LSTM")
    return y


def _is_slice(index, expected):
    return isinstance(index, slice) and index == expected  # an array index compares elementwise


def _claim_state_reads(g, rec, y, finals, hidden, last, steps, is_lstm):
    """Names the layer's own reads of its output: the last step's h (and an LSTM's c) are ONNX's Y_h (Y_c), whatever
    the run's sequence length. dlcore's LSTM output packs each step's [h | c]; ONNX gives only the last c, so any
    other read of the c half is refused."""
    whole, h_half, c_half = slice(None), slice(None, hidden), slice(hidden, None)
    for r in g.records:
        if not any(a is rec.result for a in r.args):
            continue
        index = r.args[1] if r.op is shape.GetItem else None
        index = index if isinstance(index, tuple) else (index,)
        time, batch, feature = (tuple(index) + (whole, whole))[:3]
        name = None
        if r.op is shape.GetItem and _is_slice(batch, whole) and len(index) <= 3:
            at_last = isinstance(time, (int, np.integer)) and int(time) % steps == last
            if at_last and _is_slice(feature, h_half if is_lstm else whole):
                name = finals[0]
            elif at_last and is_lstm and _is_slice(feature, c_half):
                name = finals[1]
            elif is_lstm and _is_slice(time, whole) and _is_slice(feature, h_half):
                name = y
        if name is None and is_lstm:
            _unsupported(rec, f"(LSTM): its output is read as {r.op.__name__} {index!r}; ONNX's LSTM has the cell "
                              f"state of the last step only")
        if name is not None:
            g.names[id(r.result)] = name
            g.names.setdefault(id(r.result._data), name)


# ---- arithmetic, reductions, shapes ---------------------------------------------------------------
def _binary(op_type):
    def convert(g, rec):
        a, b = rec.args[:2]
        out = _shape(rec.result)
        return g.node(op_type, [_operand(g, a, b, out), _operand(g, b, a, out)])
    return convert


def _operand(g, a, other, out_shape):
    """a's value name; a value that no input changes and that repeats along the batch axis (the zero state a
    recurrent cell makes for the example's batch, EmbeddingBag's per-member scale) as one broadcasting row, when
    the other operand alone sets the result's shape, so the graph follows the run's batch."""
    if isinstance(a, Tensor) and a.ndim and id(a) not in g.input_dependent and not _is_parameter(g, a) and \
            tuple(getattr(other, "shape", ())) == out_shape:
        values = _host(a)  # what dlcore computed: the same for any input
        if values.size > 1 and (values == values.flat[0]).all():
            return g.const(np.full((1,) * values.ndim, values.flat[0], dtype=values.dtype))
        if values.shape[0] > 1 and (values == values[:1]).all():
            return g.const(np.ascontiguousarray(values[:1]))
    return g.value(a)


def _is_parameter(g, a):
    return g.producer.get(id(a)) is None and (id(a) in g.names or id(a._data) in g.names)


def _reduce_node(g, op_type, name, axes, keepdims):
    # ReduceSum takes axes as an input from opset 13, the others from opset 18
    if op_type == "ReduceSum" or g.opset >= 18:
        return g.node(op_type, [name, g.const(_ints("axes", axes))], keepdims=keepdims)
    return g.node(op_type, [name], axes=list(axes), keepdims=keepdims)


def _reduce(op_type):
    def convert(g, rec):
        node = rec.node
        if op_type == "ReduceMax":
            x = rec.args[0]
            if node.dim is None:
                return g.node("Reshape", [_reduce_node(g, op_type, g.value(x), list(range(len(_shape(x)))), 0),
                                          g.const(_ints("shape", []))]) if not node.keepdim else \
                    _reduce_node(g, op_type, g.value(x), list(range(len(_shape(x)))), 1)
            return _reduce_node(g, op_type, g.value(x), [node.dim], int(bool(node.keepdim)))
        return _reduce_node(g, op_type, g.value(rec.args[0]), list(node.dims), int(bool(node.keepdim)))
    return convert


def _reshape(g, rec):
    a, new_shape = rec.args[0], tuple(_shape(rec.result))
    old = _shape(a)
    if len(new_shape) == 2 and old and new_shape[0] == old[0] and len(old) >= 2:
        return g.node("Flatten", [g.value(a)], axis=1)  # x.flatten(1): keeps the batch axis symbolic
    target = list(new_shape)
    if old and target:
        # the leading axis carries the batch: 0 copies the input's size; a merged or split leading axis
        # (linear on (N, L, E) reshapes to (N*L, E) and back) is left for Reshape to infer (-1), which is
        # the same size at the example's batch and follows any other batch size
        target[0] = 0 if target[0] == old[0] else -1
    return g.node("Reshape", [g.value(a), g.const(_ints("shape", target))])


def _permute(g, rec):
    return g.node("Transpose", [g.value(rec.args[0])], perm=list(rec.node.axes))


def _expand(g, rec):
    return g.node("Expand", [g.value(rec.args[0]), g.const(_ints("shape", _shape(rec.result)))])


def _cat(g, rec):
    return g.node("Concat", [g.value(a) for a in rec.args], axis=int(rec.node.dim))


def _stack(g, rec):
    axes = g.const(_ints("axes", [rec.node.dim]))
    return g.node("Concat", [g.node("Unsqueeze", [g.value(a), axes]) for a in rec.args], axis=int(rec.node.dim))


_END, _BEGIN = np.iinfo(np.int64).max, np.iinfo(np.int64).min


def _expand_ellipsis(index, ndim):
    """index with its Ellipsis replaced by the full slices it stands for."""
    if not any(i is Ellipsis for i in index):
        return index
    at = next(k for k, i in enumerate(index) if i is Ellipsis)
    used = sum(1 for i in index if i is not None and i is not Ellipsis)
    return index[:at] + (slice(None),) * (ndim - used) + index[at + 1:]


def _slice_bounds(i):
    """(start, end, step) of a slice or an integer as ONNX's Slice takes them: Python's own values, negative ones
    counting from the end and open ends as the int64 extremes, so the bounds follow the run's axis sizes (a
    dynamic batch) instead of the example's."""
    if not isinstance(i, slice):
        return int(i), (int(i) + 1 if int(i) != -1 else _END), 1
    step = 1 if i.step is None else int(i.step)
    start = i.start if i.start is not None else (0 if step > 0 else _END)
    stop = i.stop if i.stop is not None else (_END if step > 0 else _BEGIN)
    return int(start), int(stop), step


def _getitem(g, rec):
    a, index = rec.args
    index = index if isinstance(index, tuple) else (index,)
    if any(not (i is Ellipsis or i is None or isinstance(i, (slice, int, np.integer))) for i in index):
        _unsupported(rec, f"with index {index!r}: only integers, slices, ... and None convert")
    index = _expand_ellipsis(index, len(_shape(a)))
    starts, ends, axes, steps, squeeze, new_axes = [], [], [], [], [], []
    axis = out_axis = 0
    for i in index:
        if i is None:  # a new axis of size 1 at this place of the output
            new_axes.append(out_axis)
            out_axis += 1
            continue
        if isinstance(i, slice) and i == slice(None):
            axis, out_axis = axis + 1, out_axis + 1
            continue
        start, stop, step = _slice_bounds(i)
        starts.append(start), ends.append(stop), axes.append(axis), steps.append(step)
        if isinstance(i, slice):
            out_axis += 1
        else:
            squeeze.append(axis)
        axis += 1
    y = g.value(a)
    if axes:
        y = g.node("Slice", [y, g.const(_ints("starts", starts)), g.const(_ints("ends", ends)),
                             g.const(_ints("axes", axes)), g.const(_ints("steps", steps))])
    if squeeze:
        y = g.node("Squeeze", [y, g.const(_ints("axes", squeeze))])
    if new_axes:
        y = g.node("Unsqueeze", [y, g.const(_ints("axes", new_axes))])
    if not (axes or squeeze or new_axes):
        y = g.node("Identity", [y])
    return y


def _to_copy(g, rec):
    src, dst = _dtype(rec.args[0]), rec.result.dtype
    if src == dst:
        return g.node("Identity", [g.value(rec.args[0])])
    return g.node("Cast", [g.value(rec.args[0])], to=g.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dst)))


def _training_only(what):
    def convert(g, rec):
        _unsupported(rec, f"runs only in training mode ({what}); the export runs the model in eval mode, so a "
                          f"module that ignores eval() called it")
    return convert


CONVERTERS = {
    linear.Linear: _linear,
    arith.MatMul: _matmul,
    conv.Conv2d: _conv,
    linear.LinearReLU: _then_relu(_linear),
    conv.Conv2dReLU: _then_relu(_conv),
    conv_transpose.ConvTranspose2d: _conv_transpose,
    activation.LeakyReLU: _leaky_relu,
    activation.PReLU: _prelu,
    activation.ELU: _elu,
    activation.Sigmoid: _simple("Sigmoid"),
    activation.Tanh: _simple("Tanh"),
    activation.Maxout: _maxout,
    activation_more.GELU: _gelu,
    activation_more.SiLU: _silu,
    activation_more.Softplus: _softplus,
    activation_more.Mish: _mish,
    activation_more.LogSigmoid: _logsigmoid,
    activation_more.Softsign: _simple("Softsign"),
    activation_more.Hardtanh: _hardtanh,
    activation_more.Hardsigmoid: _hardsigmoid,
    activation_more.Hardswish: _simple("HardSwish"),
    lrn.LocalResponseNorm: _lrn,
    pool.MaxPool2d: _max_pool,
    pool.AvgPool2d: _avg_pool,
    resample.AdaptiveAvgPool2d: _adaptive("Average"),
    resample.AdaptiveMaxPool2d: _adaptive("Max"),
    resample.Interpolate: _interpolate,
    resample.Pad: _pad,
    norm.BatchNormInference: _batch_norm,
    norm.BatchNormTraining: _training_only("batch statistics"),
    dropout.Dropout: _training_only("dropout"),
    layer_norm.LayerNorm: _layer_norm,
    layer_norm.GroupNorm: _group_norm,
    softmax.Softmax: _softmax("Softmax"),
    softmax.LogSoftmax: _softmax("LogSoftmax"),
    arith.Add: _binary("Add"),
    arith.Sub: _binary("Sub"),
    arith.Mul: _binary("Mul"),
    arith.Div: _binary("Div"),
    arith.Pow: _binary("Pow"),
    arith.Neg: _simple("Neg"),
    arith.Exp: _simple("Exp"),
    arith.Log: _simple("Log"),
    arith.Sqrt: _simple("Sqrt"),
    arith.Abs: _simple("Abs"),
    reduce.Sum: _reduce("ReduceSum"),
    reduce.Mean: _reduce("ReduceMean"),
    reduce.Max: _reduce("ReduceMax"),
    shape.Reshape: _reshape,
    shape.Permute: _permute,
    shape.Expand: _expand,
    shape.Cat: _cat,
    shape.Stack: _stack,
    shape.GetItem: _getitem,
    copy.ToCopy: _to_copy,
    recurrent.RecurrentLayer: _recurrent,
    embedding.Embedding: _embedding,
    Compare: _compare,
    Extremum: _extremum,
    select.Where: _where,
    select.Clamp: _clamp,
    binary.SignSTE: _sign_ste,
    math_more.Sin: _simple("Sin"),
    math_more.Cos: _simple("Cos"),
    math_more.Tan: _simple("Tan"),
    math_more.Asin: _simple("Asin"),
    math_more.Acos: _simple("Acos"),
    math_more.Atan: _simple("Atan"),
    math_more.Sinh: _simple("Sinh"),
    math_more.Cosh: _simple("Cosh"),
    math_more.Erf: _simple("Erf"),
    math_more.Reciprocal: _simple("Reciprocal"),
    math_more.Rsqrt: _rsqrt,
    clamp.ClampedLog: _clamped_log,
    math_more.Log2: _log_base(2),
    math_more.Log10: _log_base(10),
    math_more.Exp2: _exp2,
    math_more.Rounded: _rounded,
    math_more.Maximum: _binary("Max"),
    math_more.Minimum: _binary("Min"),
    math_more.Flip: _flip,
    math_more.Triangle: _triangle,
    math_more.Cumsum: _cumsum,
    math_more.AMax: _amax,
    math_more.Log1p: _log1p,
    math_more.Expm1: _expm1,
    math_more.VectorNorm: _vector_norm,
    math_more.Einsum: _einsum,
    math_more.Repeat: _repeat,
    math_more.Roll: _roll,
    math_more.IndexSelect: _index_select,
    math_more.Prod: _prod,
    shape.Alias: _simple("Identity"),
    conv3d.Conv3d: _conv3d,
    conv3d.ConvTranspose3d: _conv_transpose3d,
    pool3d.MaxPool3d: _max_pool3d,
    pool3d.AvgPool3d: _avg_pool3d,
    resample3d.Separable3d: _separable3d,
    resample3d.AdaptiveMaxPool3d: _adaptive_max_pool3d,
    fold.Unfold: _unfold,
    fold.Fold: _fold,
    math_more.FillWhere: _fill_where,
}
