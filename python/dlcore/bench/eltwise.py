"""Eltwise report: relu/sigmoid/tanh/elu, batch norm, softmax, dropout vs NumPy, in GB/s.

Shapes come from the shipped CSVs with the minibatch scaled down (stated in
the header): ReLU & co. on conv outputs (shapes_conv.csv), batch norm on
shapes_bnorm.csv, softmax on shapes_softmax.csv. Bytes moved are the
minimum (each input read once, each output written once); the fraction is
of this machine's measured copy bandwidth (common.stream_bandwidth_gbs).
"""
from __future__ import annotations

import numpy as np

import dlcore
from dlcore import kernels as K

from .common import (
    ONEDNN_TABLE_COLUMNS,
    compare,
    contenders,
    load_shapes,
    onednn_columns,
    onednn_implements,
    print_table,
    stream_bandwidth_gbs,
    summarize,
    summarize_families,
)

CONV_LAYERS = ("resnet_50:conv1", "resnet_50:res2a_branch2b", "vgg_16:conv1_2", "alexnet:conv1")


def _numpy_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _numpy_bn_inference(x, w, b, rm, rv, eps):
    s = (1, -1, 1, 1)
    scale = (w / np.sqrt(rv + eps)).reshape(s)
    return (x - rm.reshape(s)) * scale + b.reshape(s)


def _numpy_bn_training(x, w, b, eps):
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w.reshape(1, -1, 1, 1) + b.reshape(1, -1, 1, 1)


def _numpy_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _numpy_dropout(x, p, rng):
    mask = rng.random(x.shape, dtype=np.float32) >= p
    return x * mask / (1 - p), mask


def _onednn(op: str, fn):
    """`fn` (a backend="onednn" call) when dlcore._onednn implements `op` here, else None."""
    return fn if onednn_implements(op) else None


#: Report op -> kernel family, for the per-family medians.
FAMILY = {"relu": "activations", "sigmoid": "activations", "tanh": "activations", "elu": "activations",
          "dropout": "dropout", "dropout bwd": "dropout", "bn inference": "batch norm", "bn training": "batch norm",
          "softmax": "softmax"}


def cases(mb: int, quick: bool):
    """(op, shape label, bytes moved, ours, numpy, float64 reference or None, oneDNN or None) per case."""
    rng = np.random.default_rng(0)
    conv = {r["name"]: r for r in load_shapes("shapes_conv")}
    for name in CONV_LAYERS[:2] if quick else CONV_LAYERS:
        r = conv[name]
        x = rng.standard_normal((mb, int(r["oc"]), int(r["oh"]), int(r["ow"])), dtype=np.float32)
        label = f"{name} out"
        nb = 8 * x.size
        yield ("relu", label, nb, lambda x=x: K.relu_forward(x), lambda x=x: np.maximum(x, 0),
               lambda x=x: np.maximum(x, 0), _onednn("relu_forward", lambda x=x: K.relu_forward(x, backend="onednn")))
        if name == CONV_LAYERS[0]:
            yield ("sigmoid", label, nb, lambda x=x: K.sigmoid_forward(x), lambda x=x: _numpy_sigmoid(x),
                   lambda x=x: _numpy_sigmoid(x.astype(np.float64)),
                   _onednn("sigmoid_forward", lambda x=x: K.sigmoid_forward(x, backend="onednn")))
            yield ("tanh", label, nb, lambda x=x: K.tanh_forward(x), lambda x=x: np.tanh(x),
                   lambda x=x: np.tanh(x.astype(np.float64)),
                   _onednn("tanh_forward", lambda x=x: K.tanh_forward(x, backend="onednn")))
            yield ("elu", label, nb, lambda x=x: K.elu_forward(x), lambda x=x: np.where(x > 0, x, np.expm1(x)),
                   lambda x=x: np.where(x > 0, x, np.expm1(x.astype(np.float64))),
                   _onednn("elu_forward", lambda x=x: K.elu_forward(x, backend="onednn")))
        # Dropout: x read, y and the uint8 mask written (forward); dy and mask read, dx written (backward).
        mask = K.dropout_forward(x, 0.5, 1)[1]
        yield ("dropout", label, 9 * x.size, lambda x=x: K.dropout_forward(x, 0.5, 1)[0],
               lambda x=x: _numpy_dropout(x, 0.5, rng)[0], None,
               _onednn("dropout_forward", lambda x=x: K.dropout_forward(x, 0.5, 1, backend="onednn")[0]))
        yield ("dropout bwd", label, 9 * x.size, lambda x=x, m=mask: K.dropout_backward(x, m, 0.5),
               lambda x=x, m=mask: x * m / np.float32(0.5), lambda x=x, m=mask: x.astype(np.float64) * m / 0.5, None)
    for r in load_shapes("shapes_bnorm")[: 2 if quick else 4]:
        c = int(r["ic"])
        x = rng.standard_normal((mb, c, int(r["ih"]), int(r["iw"])), dtype=np.float32)
        w, b = rng.standard_normal(c, dtype=np.float32), rng.standard_normal(c, dtype=np.float32)
        rm, rv = rng.standard_normal(c, dtype=np.float32), rng.random(c, dtype=np.float32) + 0.5
        yield ("bn inference", r["name"], 8 * x.size,
               lambda x=x, w=w, b=b, rm=rm, rv=rv: K.batch_norm_forward_inference(x, w, b, rm, rv),
               lambda x=x, w=w, b=b, rm=rm, rv=rv: _numpy_bn_inference(x, w, b, rm, rv, 1e-5),
               lambda x=x, w=w, b=b, rm=rm, rv=rv: _numpy_bn_inference(x.astype(np.float64), w, b, rm, rv, 1e-5),
               _onednn("batch_norm_forward_inference", lambda x=x, w=w, b=b, rm=rm, rv=rv:
                       K.batch_norm_forward_inference(x, w, b, rm, rv, backend="onednn")))
        yield ("bn training", r["name"], 8 * x.size,
               lambda x=x, w=w, b=b: K.batch_norm_forward_training(x, w, b)[0],
               lambda x=x, w=w, b=b: _numpy_bn_training(x, w, b, 1e-5),
               lambda x=x, w=w, b=b: _numpy_bn_training(x.astype(np.float64), w, b, 1e-5),
               _onednn("batch_norm_forward_training", lambda x=x, w=w, b=b:
                       K.batch_norm_forward_training(x, w, b, backend="onednn")[0]))
    for r in load_shapes("shapes_softmax")[: 3 if quick else 8]:
        n, c, sp = int(r["N"]), int(r["C"]), int(r["spatial"])
        if sp != 1:
            continue
        x = rng.standard_normal((min(n, 8 * mb), c), dtype=np.float32) * 3
        yield ("softmax", f"{x.shape[0]}x{c}", 8 * x.size, lambda x=x: K.softmax_forward(x),
               lambda x=x: _numpy_softmax(x), lambda x=x: _numpy_softmax(x.astype(np.float64)),
               _onednn("softmax_forward", lambda x=x: K.softmax_forward(x, backend="onednn")))


def run(args) -> list[dict]:
    threads = dlcore.get_num_threads()
    mb = 2 if args.quick else 8
    copy = stream_bandwidth_gbs(threads)["copy"]
    print(f"\n## eltwise (float32), {threads} threads, minibatch scaled to {mb}; "
          f"measured copy bandwidth {copy:.1f} GB/s")
    if not onednn_implements("relu_forward"):
        print("# oneDNN not available here: no oneDNN column")
    else:
        print("# oneDNN timed in the same interleaved run, plain NCHW in and out (onednn GB/s); "
              "'onednn prim' = its primitive alone (last_call_info)")
    rows = []
    for kind, shape, nbytes, ours, numpy_fn, ref64, onednn_fn in cases(mb, args.quick):
        if ref64 is not None:  # validate before timing
            got, want = ours(), ref64()
            err = np.max(np.abs(got - want)) / max(1e-30, np.max(np.abs(want)))
            if err > 1e-4:
                raise AssertionError(f"{kind} {shape}: relative error {err:.2e}")
        t = compare(contenders(ours, numpy_fn, onednn_fn), repeats=args.repeats)
        gbs = nbytes / t["dlcore"] / 1e9
        rows.append({"op": kind, "shape": shape, "mb": f"{nbytes / 1e6:.1f}", "dlcore": gbs,
                     "numpy": nbytes / t["numpy"] / 1e9, "copy": gbs / copy, "ratio": t["numpy"] / t["dlcore"],
                     **onednn_columns(nbytes, t, onednn_fn)})
    print_table(rows, [("op", "op", ""), ("shape", "shape", ""), ("mb", "MB moved", ""),
                       ("dlcore", "dlcore GB/s", ".1f"), ("numpy", "numpy GB/s", ".1f"),
                       ("copy", "of copy bw", ".0%"), ("ratio", "dlcore/numpy", ".1f")] + ONEDNN_TABLE_COLUMNS)
    for kind in ("relu", "bn inference", "dropout", "dropout bwd"):
        summarize([r for r in rows if r["op"] == kind], "copy", f"{kind} fraction of copy bandwidth")
    summarize(rows, "ratio", "dlcore/numpy over all cases")
    summarize_families(rows, lambda r: FAMILY[r["op"]])
    return rows
