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

from .common import compare, load_shapes, print_table, stream_bandwidth_gbs, summarize

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


def cases(mb: int, quick: bool):
    rng = np.random.default_rng(0)
    conv = {r["name"]: r for r in load_shapes("shapes_conv")}
    for name in CONV_LAYERS[:2] if quick else CONV_LAYERS:
        r = conv[name]
        x = rng.standard_normal((mb, int(r["oc"]), int(r["oh"]), int(r["ow"])), dtype=np.float32)
        label = f"{name} out"
        nb = 8 * x.size
        yield ("relu", label, nb, lambda x=x: K.relu_forward(x), lambda x=x: np.maximum(x, 0),
               lambda x=x: np.maximum(x, 0))
        if name == CONV_LAYERS[0]:
            yield ("sigmoid", label, nb, lambda x=x: K.sigmoid_forward(x), lambda x=x: _numpy_sigmoid(x),
                   lambda x=x: _numpy_sigmoid(x.astype(np.float64)))
            yield ("tanh", label, nb, lambda x=x: K.tanh_forward(x), lambda x=x: np.tanh(x),
                   lambda x=x: np.tanh(x.astype(np.float64)))
            yield ("elu", label, nb, lambda x=x: K.elu_forward(x), lambda x=x: np.where(x > 0, x, np.expm1(x)),
                   lambda x=x: np.where(x > 0, x, np.expm1(x.astype(np.float64))))
            yield ("dropout", label, 9 * x.size, lambda x=x: K.dropout_forward(x, 0.5, 1)[0],
                   lambda x=x: _numpy_dropout(x, 0.5, rng)[0], None)
    for r in load_shapes("shapes_bnorm")[: 2 if quick else 4]:
        c = int(r["ic"])
        x = rng.standard_normal((mb, c, int(r["ih"]), int(r["iw"])), dtype=np.float32)
        w, b = rng.standard_normal(c, dtype=np.float32), rng.standard_normal(c, dtype=np.float32)
        rm, rv = rng.standard_normal(c, dtype=np.float32), rng.random(c, dtype=np.float32) + 0.5
        yield ("bn inference", r["name"], 8 * x.size,
               lambda x=x, w=w, b=b, rm=rm, rv=rv: K.batch_norm_forward_inference(x, w, b, rm, rv),
               lambda x=x, w=w, b=b, rm=rm, rv=rv: _numpy_bn_inference(x, w, b, rm, rv, 1e-5),
               lambda x=x, w=w, b=b, rm=rm, rv=rv: _numpy_bn_inference(x.astype(np.float64), w, b, rm, rv, 1e-5))
        yield ("bn training", r["name"], 8 * x.size,
               lambda x=x, w=w, b=b: K.batch_norm_forward_training(x, w, b)[0],
               lambda x=x, w=w, b=b: _numpy_bn_training(x, w, b, 1e-5),
               lambda x=x, w=w, b=b: _numpy_bn_training(x.astype(np.float64), w, b, 1e-5))
    for r in load_shapes("shapes_softmax")[: 3 if quick else 8]:
        n, c, sp = int(r["N"]), int(r["C"]), int(r["spatial"])
        if sp != 1:
            continue
        x = rng.standard_normal((min(n, 8 * mb), c), dtype=np.float32) * 3
        yield ("softmax", f"{x.shape[0]}x{c}", 8 * x.size, lambda x=x: K.softmax_forward(x),
               lambda x=x: _numpy_softmax(x), lambda x=x: _numpy_softmax(x.astype(np.float64)))


def run(args) -> list[dict]:
    threads = dlcore.get_num_threads()
    mb = 2 if args.quick else 8
    copy = stream_bandwidth_gbs(threads)["copy"]
    print(f"\n## eltwise (float32), {threads} threads, minibatch scaled to {mb}; "
          f"measured copy bandwidth {copy:.1f} GB/s")
    rows = []
    for kind, shape, nbytes, ours, numpy_fn, ref64 in cases(mb, args.quick):
        if ref64 is not None:  # validate before timing
            got, want = ours(), ref64()
            err = np.max(np.abs(got - want)) / max(1e-30, np.max(np.abs(want)))
            if err > 1e-4:
                raise AssertionError(f"{kind} {shape}: relative error {err:.2e}")
        t = compare({"dlcore": ours, "numpy": numpy_fn}, repeats=args.repeats)
        gbs = nbytes / t["dlcore"] / 1e9
        rows.append({"op": kind, "shape": shape, "mb": f"{nbytes / 1e6:.1f}", "dlcore": gbs,
                     "numpy": nbytes / t["numpy"] / 1e9, "copy": gbs / copy, "ratio": t["numpy"] / t["dlcore"]})
    print_table(rows, [("op", "op", ""), ("shape", "shape", ""), ("mb", "MB moved", ""),
                       ("dlcore", "dlcore GB/s", ".1f"), ("numpy", "numpy GB/s", ".1f"),
                       ("copy", "of copy bw", ".0%"), ("ratio", "dlcore/numpy", ".1f")])
    for kind in ("relu", "bn inference", "dropout"):
        summarize([r for r in rows if r["op"] == kind], "copy", f"{kind} fraction of copy bandwidth")
    summarize(rows, "ratio", "dlcore/numpy over all cases")
    return rows
