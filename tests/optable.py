"""The op table: one entry per dlcore.kernels function, and the ONE float64
reference of each op family. Every test file imports its references from here.

An ``OpSpec`` says, for one kernel:
  * ``samples(rng)``: calls to make (odd sizes, strides/padding not 1/0), each a
    ``Sample`` of float32 arguments plus the float64 ``expect`` (a reference
    result or tuple of them, ``None`` for an output not checked) and tolerances;
  * ``errors``: bad calls with the exception type and message they must raise;
  * ``arrays``: the positions of the array arguments (for the noncontiguous and
    dtype tests); ``backends``: where it runs (others must refuse it cleanly);
    ``dtypes``: the float dtypes it takes (every other one is a TypeError);
  * ``layer``: the Python-layer function and float64 inputs its gradient is
    checked through (``None`` when the op is a backward pass or has no layer).

tests/test_ops.py stamps the generic tests out over every op x backend present
(ref, avx2, avx512, onednn, cuda); tests/fuzz.py draws its calls from the same
table. Conventions (DESIGN.md §6): float64 truth, atol + rtol * |ref|, random
data never all zero, outputs poisoned where the kernel takes ``out=``.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from dlcore.ops._philox import dropout_mask
from opcheck import assert_close


# -------------------- pooling
def pool_out_size(n, k, s, p, ceil_mode):
    span = n + 2 * p - k
    if span < 0:
        return 0
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def pool_geometry(shape, k, s, p, ceil_mode):
    _, _, h, w = shape
    return pool_out_size(h, k[0], s[0], p[0], ceil_mode), pool_out_size(w, k[1], s[1], p[1], ceil_mode)


def pool_windows(xp, k, s, oh, ow):
    """(N, C, OH, OW, kh, kw) view of a padded array."""
    view = np.lib.stride_tricks.sliding_window_view(xp, k, axis=(2, 3))
    return view[:, :, : (oh - 1) * s[0] + 1 : s[0], : (ow - 1) * s[1] + 1 : s[1]]


def pool_padded(x, k, s, p, fill):
    n, c, h, w = x.shape
    # Room for ceil_mode windows that run past the right/bottom padding.
    out = np.full((n, c, h + 2 * p[0] + k[0] + s[0], w + 2 * p[1] + k[1] + s[1]), fill, np.float64)
    out[:, :, p[0] : p[0] + h, p[1] : p[1] + w] = x
    return out


def _max_pool_ref(x, k, s, p, ceil_mode):
    oh, ow = pool_geometry(x.shape, k, s, p, ceil_mode)
    win = pool_windows(pool_padded(x.astype(np.float64), k, s, p, -np.inf), k, s, oh, ow)
    flat = win.reshape(win.shape[:4] + (-1,))
    arg = np.argmax(flat, axis=-1)  # first maximum (and first NaN) wins
    y = np.take_along_axis(flat, arg[..., None], -1)[..., 0]
    ih = np.arange(oh)[:, None] * s[0] - p[0] + arg // k[1]
    iw = np.arange(ow)[None, :] * s[1] - p[1] + arg % k[1]
    return y, (ih * x.shape[3] + iw).astype(np.int64)


def pool_divisors(shape, k, s, p, ceil_mode, count_include_pad):
    _, _, h, w = shape
    oh, ow = pool_geometry(shape, k, s, p, ceil_mode)

    def axis(n, o, kk, ss, pp):
        start = np.arange(o) * ss - pp
        end = np.minimum(start + kk, n + pp)
        if count_include_pad:
            return end - start
        return np.minimum(start + kk, n) - np.maximum(start, 0)

    return np.outer(axis(h, oh, k[0], s[0], p[0]), axis(w, ow, k[1], s[1], p[1])).astype(np.float64)


def _avg_pool_ref(x, k, s, p, ceil_mode, count_include_pad):
    oh, ow = pool_geometry(x.shape, k, s, p, ceil_mode)
    win = pool_windows(pool_padded(x.astype(np.float64), k, s, p, 0.0), k, s, oh, ow)
    return win.sum(axis=(-1, -2)) / pool_divisors(x.shape, k, s, p, ceil_mode, count_include_pad)


def max_pool_backward_ref(dy, idx, shape):
    n, c, h, w = shape
    dx = np.zeros((n * c, h * w))
    rows = np.repeat(np.arange(n * c), idx[0, 0].size)
    np.add.at(dx, (rows, idx.reshape(-1)), dy.astype(np.float64).reshape(-1))
    return dx.reshape(shape)


def _avg_pool_backward_ref(dy, shape, k, s, p, ceil_mode, count_include_pad):
    n, c, h, w = shape
    oh, ow = dy.shape[2:]
    g = dy.astype(np.float64) / pool_divisors(shape, k, s, p, ceil_mode, count_include_pad)
    dxp = pool_padded(np.zeros(shape), k, s, p, 0.0)
    for r in range(k[0]):
        for q in range(k[1]):
            dxp[:, :, r : r + (oh - 1) * s[0] + 1 : s[0], q : q + (ow - 1) * s[1] + 1 : s[1]] += g
    return dxp[:, :, p[0] : p[0] + h, p[1] : p[1] + w]




def _pair(v):
    return (v, v) if np.isscalar(v) else tuple(v)


def max_pool_ref(x, k, s=None, p=0, ceil_mode=False):
    """(y, flat indices h*W + w) of max pooling; k, s, p int or (h, w); s None = k."""
    k = _pair(k)
    return _max_pool_ref(x, k, k if s is None else _pair(s), _pair(p), ceil_mode)


def avg_pool_ref(x, k, s=None, p=0, ceil_mode=False, count_include_pad=True):
    k = _pair(k)
    return _avg_pool_ref(x, k, k if s is None else _pair(s), _pair(p), ceil_mode, count_include_pad)


def avg_pool_backward_ref(dy, shape, k, s=None, p=0, ceil_mode=False, count_include_pad=True):
    k = _pair(k)
    return _avg_pool_backward_ref(dy, shape, k, k if s is None else _pair(s), _pair(p), ceil_mode,
                                  count_include_pad)


# -------------------- convolution

def pair(v):
    return (v, v) if np.isscalar(v) else tuple(v)


def pad4(p):
    if np.isscalar(p):
        return (p, p, p, p)
    return (p[0], p[0], p[1], p[1]) if len(p) == 2 else tuple(p)


def conv_geometry(x_shape, w_shape, stride, padding, dilation):
    (sh, sw), (dh, dw), (pt, pb, pl, pr) = pair(stride), pair(dilation), pad4(padding)
    _, _, h, w = x_shape
    _, _, kh, kw = w_shape
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
    return (sh, sw), (dh, dw), (pt, pb, pl, pr), oh, ow


def conv_taps(x_shape, w_shape, stride, padding, dilation):
    """Yields (kh, kw, row slice, col slice) of the padded input each kernel tap reads."""
    (sh, sw), (dh, dw), _, oh, ow = conv_geometry(x_shape, w_shape, stride, padding, dilation)
    for p in range(w_shape[2]):
        for q in range(w_shape[3]):
            yield p, q, slice(p * dh, p * dh + sh * (oh - 1) + 1, sh), slice(q * dw, q * dw + sw * (ow - 1) + 1, sw)


def conv_padded(x, padding):
    pt, pb, pl, pr = pad4(padding)
    return np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))


def conv_ref(x, w, b, stride, padding, dilation, groups):
    x, w = x.astype(np.float64), w.astype(np.float64)
    *_, oh, ow = conv_geometry(x.shape, w.shape, stride, padding, dilation)
    xp = conv_padded(x, padding)
    cg, og = w.shape[1], w.shape[0] // groups
    y = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for g in range(groups):
        xg, wg = xp[:, g * cg:(g + 1) * cg], w[g * og:(g + 1) * og]
        for p, q, rs, cs in conv_taps(x.shape, w.shape, stride, padding, dilation):
            y[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", xg[:, :, rs, cs], wg[:, :, p, q])
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
    return y


def conv_backward_data_ref(dy, w, x_shape, stride, padding, dilation, groups):
    dy, w = dy.astype(np.float64), w.astype(np.float64)
    pt, pb, pl, pr = pad4(padding)
    n, c, h, wd = x_shape
    dxp = np.zeros((n, c, h + pt + pb, wd + pl + pr))
    cg, og = w.shape[1], w.shape[0] // groups
    for g in range(groups):
        dyg, wg = dy[:, g * og:(g + 1) * og], w[g * og:(g + 1) * og]
        for p, q, rs, cs in conv_taps(x_shape, w.shape, stride, padding, dilation):
            dxp[:, g * cg:(g + 1) * cg, rs, cs] += np.einsum("nohw,oc->nchw", dyg, wg[:, :, p, q])
    return dxp[:, :, pt:pt + h, pl:pl + wd]


def conv_backward_weights_ref(x, dy, w_shape, stride, padding, dilation, groups):
    x, dy = x.astype(np.float64), dy.astype(np.float64)
    xp = conv_padded(x, padding)
    cg, og = w_shape[1], w_shape[0] // groups
    dw = np.zeros(w_shape)
    for g in range(groups):
        xg, dyg = xp[:, g * cg:(g + 1) * cg], dy[:, g * og:(g + 1) * og]
        for p, q, rs, cs in conv_taps(x.shape, w_shape, stride, padding, dilation):
            dw[g * og:(g + 1) * og, :, p, q] = np.einsum("nohw,nchw->oc", dyg, xg[:, :, rs, cs])
    return dw, dy.sum(axis=(0, 2, 3))




# -------------------- LRN

def window_sum(a, axes, before, after):
    """Sum of a over a window reaching `before` back and `after` forward on each axis (zeros outside)."""
    pad = [(0, 0)] * a.ndim
    for ax in axes:
        pad[ax] = (before, after)
    p = np.pad(a, pad)
    out = np.zeros_like(a)
    size = before + after + 1
    if len(axes) == 1:
        ax = axes[0]
        for d in range(size):
            out += np.take(p, np.arange(d, d + a.shape[ax]), axis=ax)
        return out
    h, w = a.shape[2:]
    for dh in range(size):
        for dw in range(size):
            out += p[:, :, dh : dh + h, dw : dw + w]
    return out


def parts(x, size, alpha, beta, k, region, alpha_over_size):
    x = x.astype(np.float64)
    axes = (1,) if region == "across" else (2, 3)
    n = size if region == "across" else size * size
    a = alpha / n if alpha_over_size else alpha
    s = k + a * window_sum(x * x, axes, size // 2, (size - 1) // 2)
    return x, s, a, axes


def lrn_ref(x, size, alpha, beta, k, region="across", alpha_over_size=True):
    x, s, _, _ = parts(x, size, alpha, beta, k, region, alpha_over_size)
    return x * s**-beta


def lrn_backward_ref(dy, x, size, alpha, beta, k, region="across", alpha_over_size=True):
    x, s, a, axes = parts(x, size, alpha, beta, k, region, alpha_over_size)
    dy = dy.astype(np.float64)
    t = dy * x * s ** (-beta - 1)
    mirrored = window_sum(t, axes, (size - 1) // 2, size // 2)
    first, second = dy * s**-beta, 2 * a * beta * x * mirrored
    # Scale for the tolerance: the terms, not their (possibly cancelling) difference.
    scale = np.abs(first) + 2 * a * abs(beta) * np.abs(x) * window_sum(np.abs(t), axes, (size - 1) // 2, size // 2)
    return first - second, scale


# -------------------- batch norm
BN_EPS = 1e-5


def batch_norm_ref(x, w, b, dy, eps=BN_EPS):
    x = x.astype(np.float64)
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = x.mean(axis=axes)
    var = ((x - mean.reshape(shape)) ** 2).mean(axis=axes)
    invstd = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean.reshape(shape)) * invstd.reshape(shape)
    w64 = np.ones_like(mean) if w is None else w.astype(np.float64)
    b64 = np.zeros_like(mean) if b is None else b.astype(np.float64)
    y = xhat * w64.reshape(shape) + b64.reshape(shape)
    dy = dy.astype(np.float64)
    db = dy.sum(axis=axes)
    dw = (dy * xhat).sum(axis=axes)
    m = x.size / x.shape[1]
    dx = (w64 * invstd).reshape(shape) * (dy - db.reshape(shape) / m - xhat * dw.reshape(shape) / m)
    return dict(y=y, mean=mean, var=var, invstd=invstd, dx=dx, dw=dw, db=db)


# -------------------- softmax
def softmax_ref(x, axis):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax_ref(x, axis):
    x = x.astype(np.float64)
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def softmax_backward_ref(dy, y, axis):
    y, dy = y.astype(np.float64), dy.astype(np.float64)
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))


def log_softmax_backward_ref(dy, y, axis):
    p, dy = np.exp(y.astype(np.float64)), dy.astype(np.float64)
    return dy - p * dy.sum(axis=axis, keepdims=True)


def cross_entropy_ref(logits, target, label_smoothing=0.0):
    """(per-sample loss, log-probabilities)."""
    lp = log_softmax_ref(logits, -1)
    n, c = logits.shape
    loss = -(1 - label_smoothing) * lp[np.arange(n), target] - label_smoothing / c * lp.sum(axis=1)
    return loss, lp


def cross_entropy_backward_ref(dloss, log_probs, target, label_smoothing=0.0):
    n, c = log_probs.shape
    onehot = np.full((n, c), label_smoothing / c)
    onehot[np.arange(n), target] += 1 - label_smoothing
    return dloss.astype(np.float64)[:, None] * (np.exp(log_probs.astype(np.float64)) - onehot)


# -------------------- eltwise (x: the forward input, y: the forward output)
def sigmoid_ref(x):
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))


ELTWISE = {  # name -> (float64 forward of x, float64 backward of (dy, x, y))
    "relu": (lambda x, s=0.0: np.where(x > 0, x, s * x) if s else np.maximum(x, 0),
             lambda dy, x, s=0.0: dy * np.where(x > 0, 1.0, s)),
    "sigmoid": (sigmoid_ref, lambda dy, y: dy * y * (1 - y)),
    "tanh": (np.tanh, lambda dy, y: dy * (1 - y * y)),
    "elu": (lambda x, a=1.0: np.where(x > 0, x, a * np.expm1(np.minimum(x, 0))),
            lambda dy, x, a=1.0: dy * np.where(x > 0, 1.0, a * np.exp(np.minimum(x, 0)))),
    "abs": (np.abs, lambda dy, x: dy * np.sign(x)),
}


def prelu_ref(x, w):
    x = x.astype(np.float64)
    wb = w.astype(np.float64).reshape((1, -1) + (1,) * (x.ndim - 2)) if w.size > 1 else float(w[0])
    return np.where(x > 0, x, wb * x)


def prelu_backward_ref(dy, x, w):
    x, dy = x.astype(np.float64), dy.astype(np.float64)
    wb = w.astype(np.float64).reshape((1, -1) + (1,) * (x.ndim - 2)) if w.size > 1 else float(w[0])
    contrib = np.where(x > 0, 0.0, dy * x)
    dw = contrib.sum(axis=tuple(i for i in range(x.ndim) if i != 1)) if w.size > 1 else contrib.sum().reshape(1)
    return np.where(x > 0, dy, wb * dy), dw


def maxout_ref(x, pool):
    """(y, winning index in [0, pool)) over groups of `pool` consecutive channels."""
    n, c = x.shape[:2]
    grouped = x.astype(np.float64).reshape((n, c // pool, pool) + x.shape[2:])
    return grouped.max(axis=2), grouped.argmax(axis=2)


def maxout_backward_ref(dy, idx, pool):
    n, g = dy.shape[:2]
    out = np.zeros((n, g, pool) + dy.shape[2:])
    np.put_along_axis(out, np.expand_dims(idx, 2).astype(np.int64), np.expand_dims(dy, 2).astype(np.float64), 2)
    return out.reshape((n, g * pool) + dy.shape[2:])


def gemm_ref(a, b, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, c=None):
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    out = alpha * ((a64.T if trans_a else a64) @ (b64.T if trans_b else b64))
    return out if not beta else out + beta * c.astype(np.float64)


def dropout_ref(x, p, seed):
    """(y, mask): the exact Philox mask (dlcore.ops._philox, itself checked against Random123's answers)."""
    mask = dropout_mask(x.size, p, seed).reshape(x.shape)
    scale = 1.0 / (1.0 - np.float64(np.float32(p))) if p < 1 else 0.0  # the kernel divides by float32 1 - p
    return np.where(mask, x.astype(np.float64) * scale, 0.0), mask


# -------------------- recurrent layers (one direction over the sequence; gate order i,f,g,o / r,z,n as torch)
RNN_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _time_order(steps, reverse):
    return range(steps - 1, -1, -1) if reverse else range(steps)


def recurrent_ref(gx, w_hh, b_hh, h0, c0, mode, reverse=False):
    """float64 (out, gates): out (L, N, H) or LSTM (L, N, 2H) [h | c]; gates (L, N, 4H): LSTM i, f, g, o;
    GRU r, z, n, h W_hn^T + b_hn; None for RNN."""
    gx, w = gx.astype(np.float64), w_hh.astype(np.float64)
    b = 0.0 if b_hh is None else b_hh.astype(np.float64)
    steps, n, hid = gx.shape[0], h0.shape[0], h0.shape[1]
    out = np.zeros((steps, n, 2 * hid if mode == "LSTM" else hid))
    gates = None if mode.startswith("RNN") else np.zeros((steps, n, 4 * hid))
    h = h0.astype(np.float64)
    c = None if c0 is None else c0.astype(np.float64)
    for t in _time_order(steps, reverse):
        gh = h @ w.T + b
        x = gx[t]
        if mode == "LSTM":
            i, f, g, o = (x[:, k * hid:(k + 1) * hid] + gh[:, k * hid:(k + 1) * hid] for k in range(4))
            i, f, g, o = sigmoid_ref(i), sigmoid_ref(f), np.tanh(g), sigmoid_ref(o)
            c = f * c + i * g
            h = o * np.tanh(c)
            out[t] = np.concatenate([h, c], axis=1)
            gates[t] = np.concatenate([i, f, g, o], axis=1)
        elif mode == "GRU":
            r = sigmoid_ref(x[:, :hid] + gh[:, :hid])
            z = sigmoid_ref(x[:, hid:2 * hid] + gh[:, hid:2 * hid])
            hn = gh[:, 2 * hid:]
            cand = np.tanh(x[:, 2 * hid:] + r * hn)
            h = (1 - z) * cand + z * h
            out[t] = h
            gates[t] = np.concatenate([r, z, cand, hn], axis=1)
        else:
            h = np.tanh(x + gh) if mode == "RNN_TANH" else np.maximum(x + gh, 0)
            out[t] = h
    return out, gates


def recurrent_backward_ref(dout, out, gates, w_hh, h0, c0, mode, reverse=False):
    """float64 (d_gx, d_gh (GRU) or None, dh0, dc0 (LSTM) or None) by backpropagation through time from
    the saved out and gates (what the kernel receives)."""
    dout, out, gates, w, h0, c0 = (None if a is None else a.astype(np.float64)
                                   for a in (dout, out, gates, w_hh, h0, c0))
    steps, n, hid = out.shape[0], h0.shape[0], h0.shape[1]
    d_gx = np.zeros((steps, n, w.shape[0]))
    d_gh = np.zeros_like(d_gx) if mode == "GRU" else None
    dh, dc = np.zeros((n, hid)), (np.zeros((n, hid)) if mode == "LSTM" else None)
    order = list(_time_order(steps, reverse))
    for k in range(steps - 1, -1, -1):
        t = order[k]
        prev = out[order[k - 1]] if k > 0 else None
        h_prev = h0 if prev is None else prev[:, :hid]
        dh = dh + dout[t, :, :hid]
        if mode == "LSTM":
            c_prev = c0 if prev is None else prev[:, hid:]
            i, f, g, o = (gates[t][:, j * hid:(j + 1) * hid] for j in range(4))
            tc = np.tanh(out[t][:, hid:])
            dc = dc + dout[t, :, hid:] + dh * o * (1 - tc * tc)
            d_gx[t] = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                                      dh * tc * o * (1 - o)], axis=1)
            dc = dc * f
            dh = d_gx[t] @ w
        elif mode == "GRU":
            r, z, cand, hn = (gates[t][:, j * hid:(j + 1) * hid] for j in range(4))
            d_cand = dh * (1 - z) * (1 - cand * cand)
            d_r = d_cand * hn * r * (1 - r)
            d_z = dh * (h_prev - cand) * z * (1 - z)
            d_gx[t] = np.concatenate([d_r, d_z, d_cand], axis=1)
            d_gh[t] = np.concatenate([d_r, d_z, d_cand * r], axis=1)
            dh = dh * z + d_gh[t] @ w
        else:
            h = out[t]
            d_gx[t] = dh * (1 - h * h) if mode == "RNN_TANH" else dh * (h > 0)
            dh = d_gx[t] @ w
    return d_gx, d_gh, dh, dc



# =========================================================================== the table
ALL_BACKENDS = ("ref", "avx2", "avx512", "onednn", "cuda")
OURS = ("ref", "avx2", "avx512", "cuda")  # oneDNN has no primitive for these (README: runs_on_ours)


@dataclasses.dataclass
class Sample:
    args: tuple
    kwargs: dict
    expect: Any                      # float64 result or tuple (None entries are not compared)
    rtol: float = 1e-5
    atol: float = 1e-6
    exact: tuple = ()                # output positions compared exactly (indices, masks)
    none: tuple = ()                 # output positions that must be None (e.g. db when bias=False)


@dataclasses.dataclass
class OpSpec:
    name: str
    samples: Callable                # rng -> list[Sample]
    arrays: tuple = (0,)             # positions of float32 array arguments
    errors: list = dataclasses.field(default_factory=list)   # (args, kwargs, exc, match)
    backends: tuple = ALL_BACKENDS
    layer: Any = None                # (callable on Tensors, float64 arrays, functional name, kwargs) or None
    dtypes: tuple = ("float32",)     # dtypes of the float array arguments it takes (others: TypeError)

    @property
    def kernel(self):
        import dlcore.kernels as K
        return getattr(K, self.name)


def rnd(rng, *shape, scale=1.0, shift=0.0):
    """float32 normal data, never all zero."""
    return (rng.standard_normal(shape) * scale + shift).astype(np.float32)


# ---- sample builders (sizes odd, paddings and strides not 0/1)
def _eltwise(name, kw=None, saved="x"):
    fwd, bwd = ELTWISE[name]
    kw = kw or {}
    extra = tuple(kw.values())

    def fwd_samples(rng):
        out = []
        for shape in [(1,), (7,), (17,), (3, 33), (2, 3, 5, 7), (129,)]:
            x = rnd(rng, *shape, scale=2.0)
            x.flat[0] = 0.0
            out.append(Sample((x,), dict(kw), fwd(x.astype(np.float64), *extra), 1e-5, 1e-6))
        return out

    def bwd_samples(rng):
        out = []
        for shape in [(1,), (9,), (3, 17), (2, 3, 5, 7), (65,)]:
            x, dy = rnd(rng, *shape, scale=2.0), rnd(rng, *shape)
            x.flat[0] = 0.0  # the gradient at 0 is part of the contract (relu, abs: 0)
            s = fwd(x.astype(np.float64), *extra).astype(np.float32) if saved == "y" else x
            out.append(Sample((dy, s), dict(kw), bwd(dy.astype(np.float64), s.astype(np.float64), *extra),
                              1e-5, 1e-6))
        return out
    return fwd_samples, bwd_samples


def _layer(fname, *arrays, **kw):
    """(callable on Tensors, float64 arrays, functional name, its keyword arguments)."""
    import dlcore.nn.functional as F
    fn = getattr(F, fname)
    return (lambda *t: fn(*t, **kw)), list(arrays), fname, kw


def _conv_cases():
    # (x shape, w shape, stride, padding, dilation, groups): batch 1 and 2, groups, depthwise, asym padding
    return [((2, 3, 9, 11), (5, 3, 3, 3), 1, 1, 1, 1), ((1, 4, 13, 7), (6, 2, 3, 2), 2, (1, 0, 2, 1), 1, 2),
            ((2, 6, 10, 10), (9, 2, 1, 1), 1, 0, 1, 3), ((1, 3, 7, 9), (4, 3, 3, 3), (2, 3), (0, 1), (1, 2), 1),
            ((2, 5, 9, 8), (5, 1, 3, 3), 1, 1, 1, 5), ((1, 17, 5, 5), (3, 17, 1, 1), 1, 0, 1, 1),
            ((2, 3, 9, 7), (5, 3, 3, 3), 1, 1, 1, 1), ((1, 4, 17, 15), (6, 2, 3, 2), (2, 1), (1, 0, 2, 1), (1, 2), 2),
            ((3, 6, 8, 9), (6, 1, 3, 3), 2, (1, 2), 2, 6), ((1, 1, 33, 31), (7, 1, 5, 5), 3, 2, 1, 1),
            ((2, 16, 7, 7), (8, 16, 1, 1), 1, 0, 1, 1)]


def _conv_tol(w_shape):
    """rtol of a float32 sum over C/groups * KH * KW terms."""
    red = w_shape[1] * w_shape[2] * w_shape[3]
    return 4e-6 * max(1, red) ** 0.5 * 3


def conv_fwd_samples(rng):
    out = []
    for i, (xs, ws, st, pd, dl, g) in enumerate(_conv_cases()):
        x, w, b = rnd(rng, *xs), rnd(rng, *ws), (rnd(rng, ws[0]) if i % 3 else None)  # some without bias
        kw = dict(stride=st, padding=pd, dilation=dl, groups=g)
        out.append(Sample((x, w, b), kw, conv_ref(x, w, b, st, pd, dl, g), _conv_tol(ws), 1e-5))
    return out


def conv_bwd_data_samples(rng):
    out = []
    for xs, ws, st, pd, dl, g in _conv_cases():
        w = rnd(rng, *ws)
        y = conv_ref(np.zeros(xs), w, None, st, pd, dl, g)
        dy = rnd(rng, *y.shape)
        kw = dict(stride=st, padding=pd, dilation=dl, groups=g)
        out.append(Sample((dy, w, xs), kw, conv_backward_data_ref(dy, w, xs, st, pd, dl, g), 1e-4, 1e-5))
    return out


def conv_bwd_weights_samples(rng):
    out = []
    for i, (xs, ws, st, pd, dl, g) in enumerate(_conv_cases()):
        x = rnd(rng, *xs)
        y = conv_ref(x, np.zeros(ws), None, st, pd, dl, g)
        dy = rnd(rng, *y.shape)
        bias = bool(i % 2)
        kw = dict(stride=st, padding=pd, dilation=dl, groups=g, bias=bias)
        dw, db = conv_backward_weights_ref(x, dy, ws, st, pd, dl, g)
        tol = 1e-4 * (y.size / ws[0]) ** 0.5
        out.append(Sample((x, dy, ws), kw, (dw, db if bias else None), 1e-4, tol, none=() if bias else (1,)))
    return out


POOL_CASES = [((2, 3, 9, 7), 3, 2, 1, False), ((1, 2, 10, 11), 3, 2, 0, True), ((2, 5, 8, 8), 2, None, 0, False),
              ((1, 3, 17, 15), (3, 2), (3, 1), (1, 0), True), ((1, 1, 7, 9), 4, 1, 2, True)]


def max_pool_fwd_samples(rng):
    out = []
    for shape, k, s, p, cm in POOL_CASES:
        x = rnd(rng, *shape)
        x[0, 0, 0, :2] = 5.0  # a tie: the first index wins
        y, idx = max_pool_ref(x, k, s, p, cm)
        out.append(Sample((x, k, s, p), dict(ceil_mode=cm), (y, idx), 0, 0, exact=(1,)))
    return out


def max_pool_bwd_samples(rng):
    out = []
    for shape, k, s, p, cm in POOL_CASES:
        x = rnd(rng, *shape)
        y, idx = max_pool_ref(x, k, s, p, cm)
        dy = rnd(rng, *y.shape)
        out.append(Sample((dy, idx.astype(np.int32), shape), {}, max_pool_backward_ref(dy, idx, shape), 1e-6, 1e-6))
    return out


def avg_pool_fwd_samples(rng):
    out = []
    for (shape, k, s, p, cm), cip in [(case, cip) for case in POOL_CASES for cip in (True, False)]:
        x = rnd(rng, *shape)
        out.append(Sample((x, k, s, p), dict(ceil_mode=cm, count_include_pad=cip),
                          avg_pool_ref(x, k, s, p, cm, cip), 1e-5, 1e-6))
    return out


def avg_pool_bwd_samples(rng):
    out = []
    for (shape, k, s, p, cm), cip in [(case, cip) for case in POOL_CASES for cip in (True, False)]:
        y = avg_pool_ref(np.zeros(shape), k, s, p, cm, cip)
        dy = rnd(rng, *y.shape)
        out.append(Sample((dy, shape, k, s, p), dict(ceil_mode=cm, count_include_pad=cip),
                          avg_pool_backward_ref(dy, shape, k, s, p, cm, cip), 1e-5, 1e-6))
    return out


LRN_CASES = [((2, 7, 5, 3), 5, "across", True), ((1, 17, 3, 9), 7, "across", True),
             ((2, 3, 9, 8), 3, "within", True), ((1, 2, 7, 7), 5, "within", False), ((3, 9, 2, 2), 3, "across", False)]


def lrn_fwd_samples(rng):
    out = []
    for shape, size, region, aos in LRN_CASES:
        x = rnd(rng, *shape, scale=2.0)
        out.append(Sample((x, size, 0.5, 0.75, 1.5), dict(region=region, alpha_over_size=aos),
                          lrn_ref(x, size, 0.5, 0.75, 1.5, region, aos), 1e-4, 1e-5))
    return out


def lrn_bwd_samples(rng):
    out = []
    for shape, size, region, aos in LRN_CASES:
        x, dy = rnd(rng, *shape, scale=2.0), rnd(rng, *shape)
        dx, _ = lrn_backward_ref(dy, x, size, 0.5, 0.75, 1.5, region, aos)
        out.append(Sample((dy, x, size, 0.5, 0.75, 1.5), dict(region=region, alpha_over_size=aos), dx, 1e-4, 1e-5))
    return out


BN_SHAPES = [(7, 5), (3, 17, 5, 3), (2, 3, 9, 1)]


def bn_train_samples(rng):
    out = []
    for i, shape in enumerate(BN_SHAPES):
        c = shape[1]
        x = rnd(rng, *shape, scale=2.0, shift=0.5)
        w, b = (rnd(rng, c), rnd(rng, c)) if i != 1 else (None, None)
        r = batch_norm_ref(x, w, b, np.zeros(shape))
        out.append(Sample((x, w, b), {}, (r["y"], r["mean"], r["invstd"]), 1e-4, 1e-4))
    return out


def bn_infer_samples(rng):
    out = []
    for shape in BN_SHAPES:
        c = shape[1]
        x, w, b, rm, rv = rnd(rng, *shape), rnd(rng, c), rnd(rng, c), rnd(rng, c), np.abs(rnd(rng, c)) + 0.5
        bs = (1, -1) + (1,) * (len(shape) - 2)
        y = ((x - rm.reshape(bs)) / np.sqrt(rv.astype(np.float64).reshape(bs) + BN_EPS) * w.reshape(bs)
             + b.reshape(bs))
        out.append(Sample((x, w, b, rm, rv), {}, y, 1e-4, 1e-5))
    return out


def bn_bwd_samples(rng):
    out = []
    for shape in BN_SHAPES:
        c = shape[1]
        for affine in (True, False):
            x, dy = rnd(rng, *shape, scale=2.0, shift=0.5), rnd(rng, *shape)
            w = rnd(rng, c) if affine else None
            r = batch_norm_ref(x, w, None, dy)
            args = (dy, x, w, r["mean"].astype(np.float32), r["invstd"].astype(np.float32))
            exp = (r["dx"], r["dw"], r["db"]) if affine else (r["dx"], None, None)
            out.append(Sample(args, {}, exp, 1e-3, 1e-4, none=() if affine else (1, 2)))
    return out


SOFTMAX_CASES = [((7,), -1), ((3, 17), -1), ((2, 33, 5), 1), ((4, 3, 2, 9), 0), ((2, 65), 0)]


def _softmax_samples(log, backward):
    def samples(rng):
        out = []
        for shape, axis in SOFTMAX_CASES:
            x, dy = rnd(rng, *shape, scale=3.0), rnd(rng, *shape)
            y = (log_softmax_ref if log else softmax_ref)(x, axis)
            if not backward:
                out.append(Sample((x, axis), {}, y, 1e-5, 2e-5 if log else 1e-6))
            else:
                y32 = y.astype(np.float32)
                ref = (log_softmax_backward_ref if log else softmax_backward_ref)(dy, y32, axis)
                out.append(Sample((dy, y32, axis), {}, ref, 1e-4, 1e-5))
        return out
    return samples


def ce_fwd_samples(rng):
    out = []
    for (n, c), ls in zip([(1, 1), (3, 7), (4, 33), (9, 129)], [0.0, 0.1, 0.0, 0.2]):
        logits, t = rnd(rng, n, c, scale=3.0), rng.integers(0, c, n).astype(np.int64)
        out.append(Sample((logits, t), dict(label_smoothing=ls), cross_entropy_ref(logits, t, ls), 1e-5, 1e-5))
    return out


def ce_bwd_samples(rng):
    out = []
    for (n, c), ls in zip([(1, 1), (3, 7), (4, 33), (9, 129)], [0.0, 0.1, 0.0, 0.2]):
        logits, t, dl = rnd(rng, n, c, scale=3.0), rng.integers(0, c, n).astype(np.int64), rnd(rng, n)
        lp = log_softmax_ref(logits, -1).astype(np.float32)
        out.append(Sample((dl, lp, t), dict(label_smoothing=ls), cross_entropy_backward_ref(dl, lp, t, ls), 1e-5,
                          1e-6))
    return out


def gemm_samples(rng):
    out = []
    # (17, 5, 300): a narrow B as it is (AVX2's dot tiles after a k-contiguous copy of B's columns)
    for (m, n, k), ta, tb, alpha in [((1, 1, 1), False, False, 1.0), ((7, 17, 33), True, False, 1.0),
                                     ((33, 9, 16), False, True, -0.5), ((65, 3, 129), True, True, 2.0),
                                     ((17, 5, 300), False, False, 0.75)]:
        a = rnd(rng, *((k, m) if ta else (m, k)))
        b = rnd(rng, *((n, k) if tb else (k, n)))
        tol = 2e-6 * np.sqrt(k) * 4
        out.append(Sample((a, b), dict(trans_a=ta, trans_b=tb, alpha=alpha), gemm_ref(a, b, ta, tb, alpha), tol,
                          tol * np.sqrt(k)))
        c = rnd(rng, m, n)
        out.append(Sample((a, b), dict(trans_a=ta, trans_b=tb, alpha=alpha, beta=0.5, out=c.copy()),
                          gemm_ref(a, b, ta, tb, alpha, 0.5, c), tol, tol * np.sqrt(k)))
    return out


def prelu_fwd_samples(rng):
    out = []
    for shape, wshape in [((3, 5, 7), (5,)), ((2, 4, 3, 3), (1,)), ((9, 17), (17,))]:
        x, w = rnd(rng, *shape), rnd(rng, *wshape, scale=0.3)
        out.append(Sample((x, w), {}, prelu_ref(x, w), 1e-6, 1e-7))
    return out


def prelu_bwd_samples(rng):
    out = []
    for shape, wshape in [((3, 5, 7), (5,)), ((2, 4, 3, 3), (1,)), ((9, 17), (17,))]:
        x, w, dy = rnd(rng, *shape), rnd(rng, *wshape, scale=0.3), rnd(rng, *shape)
        out.append(Sample((dy, x, w), {}, prelu_backward_ref(dy, x, w), 1e-5, 1e-5))
    return out


def maxout_fwd_samples(rng):
    out = []
    for shape, pool in [((2, 6, 5, 7), 3), ((3, 8), 2), ((1, 4, 17), 4), ((2, 9, 33), 1)]:
        x = rnd(rng, *shape)
        out.append(Sample((x, pool), {}, maxout_ref(x, pool), 0, 0, exact=(1,)))
    return out


def maxout_bwd_samples(rng):
    out = []
    for shape, pool in [((2, 6, 5, 7), 3), ((3, 8), 2), ((1, 4, 17), 4)]:
        x = rnd(rng, *shape)
        y, idx = maxout_ref(x, pool)
        dy = rnd(rng, *y.shape)
        out.append(Sample((dy, idx.astype(np.int32), pool), {}, maxout_backward_ref(dy, idx, pool), 0, 0))
    return out


def dropout_fwd_samples(rng):
    return [Sample((rnd(rng, *shape), p, seed), {}, None) for shape, p, seed in
            [((1,), 0.3, 1), ((17,), 0.5, 7), ((3, 129), 0.1, 2**40 + 3), ((2, 3, 5, 7), 0.9, 12345)]]


def _dropout_expect(sample):
    x, p, seed = sample.args
    return dropout_ref(x, p, seed)


def dropout_bwd_samples(rng):
    out = []
    for shape, p, seed in [((1,), 0.3, 1), ((33,), 0.5, 9), ((3, 65), 0.25, 5)]:
        dy = rnd(rng, *shape)
        y, mask = dropout_ref(dy, p, seed)
        out.append(Sample((dy, mask, p), {}, y, 1e-6, 0))
    return out


def _vmath(fn, lo, hi):
    def samples(rng):
        return [Sample((x,), {}, fn(x.astype(np.float64)), 4e-6, 1e-7)
                for x in (rng.uniform(lo, hi, n).astype(np.float32) for n in (1, 7, 17, 129))]
    return samples


_relu_f, _relu_b = _eltwise("relu")
_leaky_f, _leaky_b = _eltwise("relu", {"negative_slope": 0.1})
_sig_f, _sig_b = _eltwise("sigmoid", saved="y")
_tanh_f, _tanh_b = _eltwise("tanh", saved="y")
_elu_f, _elu_b = _eltwise("elu", {"alpha": 0.7})
_abs_f, _abs_b = _eltwise("abs")


#: (mode, steps, batch, hidden, reverse, bias): every mode both ways, batch 1/3/7, hidden 1/3/17/33, steps 0/1/5
RNN_CASES = [("LSTM", 5, 3, 17, False, True), ("LSTM", 1, 1, 1, True, False), ("LSTM", 5, 7, 33, True, True),
             ("GRU", 5, 3, 17, True, True), ("GRU", 1, 7, 3, False, False), ("GRU", 5, 1, 33, False, True),
             ("RNN_TANH", 5, 7, 3, False, True), ("RNN_TANH", 1, 1, 17, True, False),
             ("RNN_RELU", 5, 3, 33, True, True), ("RNN_RELU", 5, 1, 1, False, False),
             ("LSTM", 0, 3, 3, False, True), ("GRU", 5, 3, 17, False, True),
             # hidden whole panels of the micro-kernel (nr: ref 8, AVX2 16, AVX-512 32), batch past 12 rows
             ("LSTM", 4, 13, 32, False, True), ("GRU", 3, 5, 64, True, True), ("RNN_TANH", 3, 13, 16, False, True),
             ("RNN_RELU", 2, 3, 32, True, False)]


def _rnn_inputs(rng, mode, steps, batch, hidden, bias):
    gh = RNN_GATES[mode] * hidden
    gx = rnd(rng, steps, batch, gh)
    w = rnd(rng, gh, hidden, scale=0.7 / np.sqrt(hidden))  # keeps the states in the gates' sensitive range
    b = rnd(rng, gh, scale=0.3) if bias else None
    h0 = rnd(rng, batch, hidden, scale=0.5)
    c0 = rnd(rng, batch, hidden, scale=0.5) if mode == "LSTM" else None
    return gx, w, b, h0, c0


def recurrent_fwd_samples(rng):
    out = []
    for mode, steps, batch, hidden, reverse, bias in RNN_CASES:
        gx, w, b, h0, c0 = _rnn_inputs(rng, mode, steps, batch, hidden, bias)
        o, g = recurrent_ref(gx, w, b, h0, c0, mode, reverse)
        out.append(Sample((gx, w, b, h0, c0), dict(mode=mode, reverse=reverse), (o, g), 2e-5, 2e-6,
                          none=(1,) if g is None else ()))
    return out


def recurrent_bwd_samples(rng):
    out = []
    for mode, steps, batch, hidden, reverse, bias in RNN_CASES:
        gx, w, b, h0, c0 = _rnn_inputs(rng, mode, steps, batch, hidden, bias)
        o, g = recurrent_ref(gx, w, b, h0, c0, mode, reverse)
        o, g = o.astype(np.float32), None if g is None else g.astype(np.float32)
        dout = rnd(rng, *o.shape)
        exp = recurrent_backward_ref(dout, o, g, w, h0, c0, mode, reverse)
        none = tuple(i for i, e in enumerate(exp) if e is None)
        out.append(Sample((dout, o, g, w, h0, c0), dict(mode=mode, reverse=reverse), exp, 2e-5, 2e-5, none=none))
    return out


def _rnn_error(mode="LSTM", gx=(2, 3, 8), w=(8, 2), b=None, h0=(3, 2), c0=(3, 2), **kw):
    arrays = tuple(None if s is None else np.zeros(s, np.float32) for s in (gx, w, b, h0, c0))
    return arrays, dict(mode=mode, **kw)


RNN_ERRORS = [(*_rnn_error(mode="LSTMX"), ValueError, "mode must be"),
              (*_rnn_error(w=(6, 2)), ValueError, r"w_hh of shape \(6, 2\) must be \(8, 2\)"),
              (*_rnn_error(gx=(2, 3, 6)), ValueError, r"gx has shape \(2, 3, 6\)"),
              (*_rnn_error(gx=(3, 8)), ValueError, "gx must have 3 dimensions"),
              (*_rnn_error(h0=(4, 2)), ValueError, r"h0 has shape \(4, 2\), expected \(3, 2\)"),
              (*_rnn_error(c0=None), ValueError, "LSTM needs c0"),
              (*_rnn_error(mode="GRU", gx=(2, 3, 6), w=(6, 2)), ValueError, "c0 is for LSTM only"),
              (*_rnn_error(b=(7,)), ValueError, r"b_hh has shape \(7,\)"),
              (*_rnn_error(w=(0, 0), gx=(2, 3, 0), h0=(3, 0), c0=(3, 0)), ValueError, "hidden size must be > 0")]
RNN_BWD_ERRORS = [
    ((np.zeros((2, 3, 4), np.float32), np.zeros((2, 3, 4), np.float32), None, np.zeros((8, 2), np.float32),
      np.zeros((3, 2), np.float32), np.zeros((3, 2), np.float32)), dict(mode="LSTM"), ValueError, "needs the gates"),
    ((np.zeros((2, 3, 5), np.float32), np.zeros((2, 3, 4), np.float32), np.zeros((2, 3, 8), np.float32),
      np.zeros((8, 2), np.float32), np.zeros((3, 2), np.float32), np.zeros((3, 2), np.float32)), dict(mode="LSTM"),
     ValueError, r"dout has shape \(2, 3, 5\)"),
    ((np.zeros((2, 3, 2), np.float32), np.zeros((2, 3, 2), np.float32), np.zeros((2, 3, 8), np.float32),
      np.zeros((2, 2), np.float32), np.zeros((3, 2), np.float32), None), dict(mode="RNN_TANH"), ValueError,
     "saves no gates")]


def _cat(*fns):
    return lambda rng: [s for f in fns for s in f(rng)]


def _g(shape, seed=0, scale=1.0, shift=0.0):
    """A float64 gradcheck input, fixed by seed (kinks away from 0 for relu/abs: shift/scale)."""
    r = np.random.default_rng(seed)
    return r.standard_normal(shape) * scale + shift


X4 = (2, 3, 5, 5)
BAD_DTYPE = np.zeros((2, 3, 4, 4), np.float64)
NDIM3 = np.zeros((2, 3, 4), np.float32)

OPS = [
    OpSpec("gemm", gemm_samples, arrays=(0, 1),
           errors=[((np.ones((2, 3), np.float32), np.ones((4, 5), np.float32)), {}, ValueError, "inner dimensions")],
           layer=_layer("linear", _g((3, 5)), _g((4, 5), 1))),
    OpSpec("conv2d_forward", conv_fwd_samples, arrays=(0, 1, 2),
           errors=[((np.ones(X4, np.float32), np.ones((4, 3, 3, 3), np.float32)), {"stride": 0}, ValueError, "stride"),
                   ((np.ones(X4, np.float32), np.ones((4, 2, 3, 3), np.float32)), {}, ValueError, "input channels"),
                   ((NDIM3, np.ones((4, 3, 3, 3), np.float32)), {}, ValueError, "4 dimensions"),
                   ((np.ones((1, 4, 5, 5), np.float32), np.ones((2, 4, 3, 3), np.float32)), {"groups": 3}, ValueError,
                    "divisible by groups"),
                   ((np.ones((1, 4, 5, 5), np.float32), np.ones((2, 4, 7, 7), np.float32)), {}, ValueError,
                    "larger than the padded input"),
                   ((np.ones((1, 4, 5, 5), np.float32), np.ones((2, 4, 3, 3), np.float32), np.ones(3, np.float32)), {},
                    ValueError, "bias")],
           layer=_layer("conv2d", _g((2, 4, 6, 5)), _g((4, 2, 3, 2), 1), _g((4,), 2), stride=(2, 1), padding=1,
                        groups=2)),
    OpSpec("conv2d_backward_data", conv_bwd_data_samples, arrays=(0, 1),
           errors=[((np.ones((2, 4, 2, 2), np.float32), np.ones((4, 3, 3, 3), np.float32), X4), {}, ValueError,
                    r"dy has shape \(2, 4, 2, 2\)")]),
    OpSpec("conv2d_backward_weights", conv_bwd_weights_samples, arrays=(0, 1),
           errors=[((np.ones(X4, np.float32), np.ones((2, 4, 7, 7), np.float32), (4, 3, 3, 3)), {}, ValueError,
                    r"dy has shape \(2, 4, 7, 7\)")]),
    OpSpec("lrn_forward", lrn_fwd_samples,
           errors=[((np.ones(X4, np.float32), 0), {}, ValueError, "size"),
                   ((np.ones(X4, np.float32), 3), {"region": "diagonal"}, ValueError, "region"),
                   ((NDIM3, 3), {}, ValueError, "4 dimensions")],
           layer=_layer("local_response_norm", _g((2, 5, 3, 4)), size=3, alpha=0.5, beta=0.75, k=1.5)),
    OpSpec("lrn_backward", lrn_bwd_samples, arrays=(0, 1),
           errors=[((np.ones(X4, np.float32), np.ones((2, 3, 4, 5), np.float32), 3), {}, ValueError, "dy has shape")]),
    OpSpec("max_pool2d_forward", max_pool_fwd_samples,
           errors=[((np.ones(X4, np.float32), 2, 1, 2), {}, ValueError, "padding"),
                   ((np.ones(X4, np.float32), 0), {}, ValueError, "kernel_size"),
                   ((NDIM3, 2), {}, ValueError, "4 dimensions")],
           layer=_layer("max_pool2d", _g((2, 3, 7, 6)), kernel_size=3, stride=2, padding=1)),
    OpSpec("max_pool2d_backward", max_pool_bwd_samples, backends=OURS,
           errors=[((np.ones((1, 1, 2, 2), np.float32), np.full((1, 1, 2, 2), 99, np.int32), (1, 1, 4, 4)), {},
                    ValueError, "outside")]),
    OpSpec("avg_pool2d_forward", avg_pool_fwd_samples,
           errors=[((np.ones(X4, np.float32), 2, 1, 2), {}, ValueError, "padding"),
                   ((np.ones(X4, np.float32), 0), {}, ValueError, "kernel_size")],
           layer=_layer("avg_pool2d", _g((2, 3, 7, 6)), kernel_size=3, stride=2, padding=1)),
    OpSpec("avg_pool2d_backward", avg_pool_bwd_samples,
           errors=[((np.ones((1, 2, 3, 3), np.float32), (1, 2, 5, 5), 2, 2, 0), {}, ValueError, "dy")]),
    OpSpec("relu_forward", _cat(_relu_f, _leaky_f), errors=[((BAD_DTYPE,), {}, TypeError, "float32")],
           layer=_layer("relu", _g((3, 7), shift=0.05))),
    OpSpec("relu_backward", _cat(_relu_b, _leaky_b), arrays=(0, 1),
           errors=[((np.ones(3, np.float32), np.ones(4, np.float32)), {}, ValueError, "shape")]),
    OpSpec("prelu_forward", prelu_fwd_samples, arrays=(0, 1),
           errors=[((np.ones((2, 3), np.float32), np.ones(4, np.float32)), {}, ValueError, r"weight.*\(4,\)")]),
    OpSpec("prelu_backward", prelu_bwd_samples, arrays=(0, 1, 2),
           errors=[((np.ones((2, 3), np.float32), np.ones((2, 3), np.float32), np.ones(4, np.float32)), {},
                    ValueError, r"weight.*\(4,\)")]),
    OpSpec("sigmoid_forward", _sig_f, layer=_layer("sigmoid", _g((3, 7)))),
    OpSpec("sigmoid_backward", _sig_b, arrays=(0, 1)),
    OpSpec("tanh_forward", _tanh_f, layer=_layer("tanh", _g((3, 7)))),
    OpSpec("tanh_backward", _tanh_b, arrays=(0, 1)),
    OpSpec("elu_forward", _elu_f, layer=_layer("elu", _g((3, 7), shift=0.05), alpha=0.7)),
    OpSpec("elu_backward", _elu_b, arrays=(0, 1)),
    OpSpec("abs_forward", _abs_f),
    OpSpec("abs_backward", _abs_b, arrays=(0, 1)),
    OpSpec("maxout_forward", maxout_fwd_samples, backends=OURS,
           errors=[((np.ones((2, 5, 3), np.float32), 2), {}, ValueError, "divisible"),
                   ((np.ones((2, 4, 3), np.float32), 0), {}, ValueError, "pool_size")],
           layer=_layer("maxout", _g((2, 6, 3)), pool_size=3)),
    OpSpec("maxout_backward", maxout_bwd_samples, backends=OURS,
           errors=[((np.ones((1, 2, 3), np.float32), np.full((1, 2, 3), 7, np.int32), 2), {}, ValueError, "outside")]),
    OpSpec("vexp", _vmath(np.exp, -80, 80), backends=("ref", "avx2", "avx512")),
    OpSpec("vlog", _vmath(np.log, 1e-30, 1e30), backends=("ref", "avx2", "avx512")),
    OpSpec("vtanh", _vmath(np.tanh, -10, 10), backends=("ref", "avx2", "avx512")),
    OpSpec("batch_norm_forward_training", bn_train_samples, arrays=(0, 1, 2),
           errors=[((np.ones((2, 3, 4), np.float32), None, None), {}, ValueError, r"\(2, 3, 4\)"),
                   ((np.ones((2, 3), np.float32), np.ones(4, np.float32), None), {}, ValueError, "weight"),
                   ((np.ones((1, 3), np.float32), None, None, np.zeros(3, np.float32), np.ones(3, np.float32)), {},
                    ValueError, "more than one")]),
    OpSpec("batch_norm_forward_inference", bn_infer_samples, arrays=(0, 1, 2, 3, 4)),
    OpSpec("batch_norm_backward", bn_bwd_samples, arrays=(0, 1, 2, 3, 4)),
    OpSpec("softmax_forward", _softmax_samples(False, False),
           errors=[((np.ones((3, 4), np.float32), 2), {}, ValueError, "axis")],
           layer=_layer("softmax", _g((3, 7)), dim=1)),
    OpSpec("softmax_backward", _softmax_samples(False, True), arrays=(0, 1)),
    OpSpec("log_softmax_forward", _softmax_samples(True, False),
           errors=[((np.ones((3, 4), np.float32), -3), {}, ValueError, "axis")],
           layer=_layer("log_softmax", _g((3, 7)), dim=1)),
    OpSpec("log_softmax_backward", _softmax_samples(True, True), arrays=(0, 1)),
    OpSpec("cross_entropy_forward", ce_fwd_samples, backends=OURS,
           errors=[((np.ones((3, 4), np.float32), np.array([0, 1, 4])), {}, ValueError, "outside"),
                   ((np.ones((3, 4), np.float32), np.array([0, 1, -1])), {}, ValueError, "outside")]),
    OpSpec("cross_entropy_backward", ce_bwd_samples, arrays=(0, 1), backends=OURS),
    OpSpec("dropout_forward", dropout_fwd_samples, backends=OURS,
           errors=[((np.ones(3, np.float32), 1.5, 0), {}, ValueError, "p"),
                   ((np.ones(3, np.float32), -0.1, 0), {}, ValueError, "p")]),
    OpSpec("dropout_backward", dropout_bwd_samples, backends=OURS),
    OpSpec("recurrent_forward", recurrent_fwd_samples, arrays=(0, 1, 2, 3, 4), backends=("ref", "avx2", "avx512"),
           errors=RNN_ERRORS),
    OpSpec("recurrent_backward", recurrent_bwd_samples, arrays=(0, 1, 2, 3, 4, 5), backends=("ref", "avx2", "avx512"),
           errors=RNN_BWD_ERRORS),
]
OP_NAMES = [op.name for op in OPS]
BY_NAME = {op.name: op for op in OPS}


def expected(spec, sample):
    """The float64 expectation of a sample (dropout's depends on the mask the seed gives)."""
    if spec.name == "dropout_forward":
        return _dropout_expect(sample)
    return sample.expect


def compare(spec, sample, got, what):
    """Each output vs the float64 expectation: exact for indices/masks, else atol + rtol*|ref|."""
    exp = expected(spec, sample)
    exp = exp if isinstance(exp, tuple) else (exp,)
    assert len(got) == len(exp), f"{what}: {len(got)} outputs, expected {len(exp)}"
    for i, (g, e) in enumerate(zip(got, exp)):
        if i in sample.none:
            assert g is None, f"{what}: output {i} must be None"
            continue
        if e is None:
            continue
        if g is None:
            raise AssertionError(f"{what}: output {i} is None")
        if i in sample.exact or e.dtype.kind in "iub":
            np.testing.assert_array_equal(g, e, err_msg=f"{what}: output {i}")
        else:
            assert_close(g, e, rtol=sample.rtol, atol=sample.atol, what=f"{what}: output {i}")
