"""LRN and pooling report: dlcore vs vectorized NumPy in one run, GB/s and
fraction of this machine's measured STREAM copy bandwidth.

These kernels do little arithmetic per byte, so GB/s is the figure of merit.
Bytes counted are the minimum any implementation must move: every input read
once and every output written once (max-pool indices are int32).
Shapes are the network layers of shapes_lrn.csv / shapes_pool.csv with the
minibatch scaled down so that each input is about 32 MiB (8 MiB with
--quick): still far beyond this machine's caches.
"""
from __future__ import annotations

import numpy as np

import dlcore
from dlcore.kernels import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    lrn_backward,
    lrn_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)

from .common import (
    ONEDNN_TABLE_COLUMNS,
    compare,
    contenders,
    load_shapes,
    onednn_columns,
    onednn_implements,
    onednn_module,
    print_table,
    stream_bandwidth_gbs,
    summarize,
    summarize_families,
)

LRN_QUICK = ("alexnet:norm1", "alexnet:norm2")
POOL_QUICK = ("alexnet:max_pool1", "alexnet:max_pool2", "resnet_50:max_pool1", "resnet_50:ave_pool5")


def scaled_minibatch(per_image_bytes: int, topology_mb: int, quick: bool) -> int:
    target = (8 if quick else 32) << 20
    return int(max(1, min(topology_mb, round(target / per_image_bytes))))


# ----------------------------------------------------------------- NumPy versions
# Fair, vectorized NumPy: whole-tensor ufuncs over strided views, float32
# throughout, outputs preallocated where NumPy allows it.

def window_views(xp, k, s, oh, ow):
    for r in range(k[0]):
        for q in range(k[1]):
            yield r, q, xp[:, :, r : r + (oh - 1) * s[0] + 1 : s[0], q : q + (ow - 1) * s[1] + 1 : s[1]]


def pad(x, p, value):
    if p == (0, 0):
        return x
    return np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=value)


def np_max_forward(x, k, s, p, oh, ow):
    best = arg = None
    for r, q, v in window_views(pad(x, p, -np.inf), k, s, oh, ow):
        if best is None:
            best, arg = v.copy(), np.zeros(v.shape, np.int32)
        else:
            took = v > best
            np.copyto(best, v, where=took)
            np.copyto(arg, r * k[1] + q, where=took)
    ih = (np.arange(oh, dtype=np.int32) * s[0] - p[0])[:, None] + arg // k[1]
    iw = (np.arange(ow, dtype=np.int32) * s[1] - p[1])[None, :] + arg % k[1]
    return best, ih * np.int32(x.shape[3]) + iw


def np_max_backward(dy, idx, shape):
    n, c, h, w = shape
    flat = idx + (np.arange(n * c, dtype=np.int64) * (h * w)).reshape(n, c, 1, 1)
    return np.bincount(flat.ravel(), weights=dy.ravel(), minlength=n * c * h * w).astype(np.float32).reshape(shape)


def np_divisor(shape, k, s, p, oh, ow):
    def axis(size, o, kk, ss, pp):
        start = np.arange(o) * ss - pp
        return np.minimum(start + kk, size + pp) - start  # count_include_pad=True
    return np.outer(axis(shape[2], oh, k[0], s[0], p[0]), axis(shape[3], ow, k[1], s[1], p[1])).astype(np.float32)


def np_avg_forward(x, k, s, p, oh, ow):
    acc = np.zeros(x.shape[:2] + (oh, ow), np.float32)
    for _, _, v in window_views(pad(x, p, 0.0), k, s, oh, ow):
        acc += v
    acc /= np_divisor(x.shape, k, s, p, oh, ow)
    return acc


def np_avg_backward(dy, shape, k, s, p):
    oh, ow = dy.shape[2:]
    g = dy / np_divisor(shape, k, s, p, oh, ow)
    dxp = np.zeros((shape[0], shape[1], shape[2] + 2 * p[0], shape[3] + 2 * p[1]), np.float32)
    for _, _, v in window_views(dxp, k, s, oh, ow):
        v += g
    return dxp[:, :, p[0] : p[0] + shape[2], p[1] : p[1] + shape[3]]


def np_window_sum_channels(a, before, after):
    c = a.shape[1]
    padded = np.zeros((a.shape[0], c + before + after) + a.shape[2:], np.float32)
    padded[:, before : before + c] = a
    out = padded[:, 0:c].copy()
    for d in range(1, before + after + 1):
        out += padded[:, d : d + c]
    return out


def np_lrn_scale(x, size, alpha, k):
    s = np_window_sum_channels(x * x, size // 2, (size - 1) // 2)
    s *= np.float32(alpha / size)
    s += np.float32(k)
    return s


def np_lrn_forward(x, size, alpha, beta, k):
    return x * np.power(np_lrn_scale(x, size, alpha, k), np.float32(-beta))


def np_lrn_backward(dy, x, size, alpha, beta, k):
    s = np_lrn_scale(x, size, alpha, k)
    p = np.power(s, np.float32(-beta))
    t = dy * x * p / s
    acc = np_window_sum_channels(t, (size - 1) // 2, size // 2)
    return dy * p - np.float32(2 * alpha / size * beta) * x * acc


# ----------------------------------------------------------------- cases

def lrn_cases(quick):
    for r in load_shapes("shapes_lrn"):
        if quick and r["name"] not in LRN_QUICK:
            continue
        c, h, w = int(r["ic"]), int(r["ih"]), int(r["iw"])
        mb = scaled_minibatch(4 * c * h * w, int(r["mb"]), quick)
        yield {"name": r["name"], "shape": (mb, c, h, w), "size": int(r["local_size"]),
               "alpha": float(r["alpha"]), "beta": float(r["beta"]), "k": float(r["k"])}


def symmetric_padding(n, o, k, s, pl, pr):
    """The symmetric padding (PyTorch's) giving the CSV's output size, or None."""
    for p in sorted({pl, pr, max(pl, pr)}):
        if (n + 2 * p - k) // s + 1 == o and 2 * p <= k:
            return p
    return None


def pool_cases(quick):
    for r in load_shapes("shapes_pool"):
        if quick and r["name"] not in POOL_QUICK:
            continue
        c, h, w, oh, ow = (int(r[key]) for key in ("ic", "ih", "iw", "oh", "ow"))
        k, s = (int(r["kh"]), int(r["kw"])), (int(r["sh"]), int(r["sw"]))
        ph = symmetric_padding(h, oh, k[0], s[0], int(r["ph"]), int(r["ph_r"]))
        pw = symmetric_padding(w, ow, k[1], s[1], int(r["pw"]), int(r["pw_r"]))
        if ph is None or pw is None:
            continue
        mb = scaled_minibatch(4 * c * h * w, int(r["mb"]), quick)
        kind = "avg" if "ave" in r["name"].split(":")[1] else "max"
        yield {"name": r["name"], "kind": kind, "shape": (mb, c, h, w), "k": k, "s": s, "p": (ph, pw),
               "out": (oh, ow)}


# ----------------------------------------------------------------- measuring

def check(name, got, ref, rtol=1e-4, atol=1e-5):
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    bad = ~(np.abs(got - ref) <= atol + rtol * np.abs(ref))
    if bad.any():
        raise AssertionError(f"{name}: {bad.sum()} elements differ from the NumPy version")


def onednn_or_none(op, fn):
    """`fn` (a oneDNN call) when dlcore._onednn implements `op` here, else None (no column)."""
    return fn if onednn_implements(op) else None


def measure(name, op, shape, nbytes, ours, numpy_fn, args, copy_gbs, onednn_fn=None):
    t = compare(contenders(ours, numpy_fn, onednn_fn), repeats=args.repeats)
    g_ours, g_np = nbytes / t["dlcore"] / 1e9, nbytes / t["numpy"] / 1e9
    return {"layer": name, "op": op, "shape": "x".join(map(str, shape)), "dlcore": g_ours, "numpy": g_np,
            "ratio": g_ours / g_np, "copy": g_ours / copy_gbs, "ms": t["dlcore"] * 1e3,
            **onednn_columns(nbytes, t, onednn_fn)}


def lrn_rows(args, rng, copy_gbs):
    rows = []
    for case in lrn_cases(args.quick):
        rows += lrn_case_rows(case, args, rng, copy_gbs)
    return rows


def lrn_case_rows(case, args, rng, copy_gbs):
    """The forward and backward rows of one LRN case (a function, so the closures bind this case's arrays)."""
    x = rng.standard_normal(case["shape"], dtype=np.float32) * 10
    dy = rng.standard_normal(case["shape"], dtype=np.float32)
    hp = (case["size"], case["alpha"], case["beta"], case["k"])

    def fwd():
        return lrn_forward(x, *hp, backend=args.backend)

    def bwd():
        return lrn_backward(dy, x, *hp, backend=args.backend)

    check(case["name"], fwd(), np_lrn_forward(x, *hp))
    check(case["name"], bwd(), np_lrn_backward(dy, x, *hp), atol=1e-4)
    return [
        measure(case["name"], "lrn fwd", x.shape, 2 * x.nbytes, fwd, lambda: np_lrn_forward(x, *hp),
                args, copy_gbs, onednn_or_none("lrn_forward", lambda: lrn_forward(x, *hp, backend="onednn"))),
        measure(case["name"], "lrn bwd", x.shape, 3 * x.nbytes, bwd,
                lambda: np_lrn_backward(dy, x, *hp), args, copy_gbs,
                onednn_or_none("lrn_backward", lambda: lrn_backward(dy, x, *hp, backend="onednn"))),
    ]


def pool_rows(args, rng, copy_gbs):
    rows = []
    for case in pool_cases(args.quick):
        rows += pool_case_rows(case, args, rng, copy_gbs)
    return rows


def pool_case_rows(case, args, rng, copy_gbs):
    """The rows of one pooling case (a function, so the closures bind this case's arrays)."""
    rows = []
    shape, k, s, p = case["shape"], case["k"], case["s"], case["p"]
    oh, ow = case["out"]
    x = rng.standard_normal(shape, dtype=np.float32)
    dy = rng.standard_normal(shape[:2] + (oh, ow), dtype=np.float32)
    name = case["name"]
    if case["kind"] == "max":
        y, idx = max_pool2d_forward(x, k, s, p, backend=args.backend)
        y_np, idx_np = np_max_forward(x, k, s, p, oh, ow)
        check(name, y, y_np)
        if not np.array_equal(idx, idx_np):
            raise AssertionError(f"{name}: max-pool indices differ from the NumPy version")
        check(name, max_pool2d_backward(dy, idx, shape, backend=args.backend), np_max_backward(dy, idx, shape))
        out_bytes = dy.nbytes * 2  # values + int32 indices
        rows.append(measure(name, "maxpool fwd", shape, x.nbytes + out_bytes,
                            lambda: max_pool2d_forward(x, k, s, p, backend=args.backend),
                            lambda: np_max_forward(x, k, s, p, oh, ow), args, copy_gbs,
                            onednn_or_none("max_pool2d_forward",
                                           lambda: max_pool2d_forward(x, k, s, p, backend="onednn"))))
        # oneDNN cannot take our indices: its backward reruns the forward on x for
        # its own workspace (max_pool2d_backward_from_input), so it reads x too.
        rows.append(measure(name, "maxpool bwd*", shape, x.nbytes + out_bytes,
                            lambda: max_pool2d_backward(dy, idx, shape, backend=args.backend),
                            lambda: np_max_backward(dy, idx, shape), args, copy_gbs,
                            onednn_or_none("max_pool2d_backward_from_input",
                                           lambda: onednn_module().max_pool2d_backward_from_input(
                                               dy, x, k, s, p, False))))
    else:
        check(name, avg_pool2d_forward(x, k, s, p, backend=args.backend), np_avg_forward(x, k, s, p, oh, ow))
        check(name, avg_pool2d_backward(dy, shape, k, s, p, backend=args.backend),
              np_avg_backward(dy, shape, k, s, p))
        rows.append(measure(name, "avgpool fwd", shape, x.nbytes + dy.nbytes,
                            lambda: avg_pool2d_forward(x, k, s, p, backend=args.backend),
                            lambda: np_avg_forward(x, k, s, p, oh, ow), args, copy_gbs,
                            onednn_or_none("avg_pool2d_forward",
                                           lambda: avg_pool2d_forward(x, k, s, p, backend="onednn"))))
        rows.append(measure(name, "avgpool bwd", shape, x.nbytes + dy.nbytes,
                            lambda: avg_pool2d_backward(dy, shape, k, s, p, backend=args.backend),
                            lambda: np_avg_backward(dy, shape, k, s, p), args, copy_gbs,
                            onednn_or_none("avg_pool2d_backward",
                                           lambda: avg_pool2d_backward(dy, shape, k, s, p, backend="onednn"))))
    return rows


def run(args) -> list[dict]:
    threads = dlcore.get_num_threads()
    bw = stream_bandwidth_gbs(threads)
    print(f"\n## LRN and pooling (float32, NCHW), {threads} threads; measured STREAM copy {bw['copy']:.1f} GB/s, "
          f"triad {bw['triad']:.1f} GB/s")
    print(f"# minibatch scaled so each input is ~{8 if args.quick else 32} MiB (shape column); "
          "GB/s = (inputs read once + outputs written once) / time")
    if onednn_implements("lrn_forward"):
        print("# oneDNN timed in the same interleaved run, plain NCHW in and out (onednn GB/s); 'onednn prim' = "
              "its primitive(s) alone, without the reorders to its blocked layout")
        print("# maxpool bwd*: oneDNN has no backward from indices; its column is "
              "_onednn.max_pool2d_backward_from_input(dy, x, ...), which reruns the forward on x for its workspace")
    else:
        print("# oneDNN not available here: no oneDNN column")
    rng = np.random.default_rng(0)
    rows = lrn_rows(args, rng, bw["copy"]) + pool_rows(args, rng, bw["copy"])
    print_table(rows, [("layer", "layer", ""), ("op", "op", ""), ("shape", "N x C x H x W", ""),
                       ("ms", "dlcore ms", ".2f"), ("dlcore", "dlcore GB/s", ".1f"), ("numpy", "numpy GB/s", ".2f"),
                       ("ratio", "dlcore/numpy", ".1f"), ("copy", "dlcore/copy", ".0%")] + ONEDNN_TABLE_COLUMNS)
    summarize([r for r in rows if r["op"].startswith("lrn")], "ratio", "dlcore/numpy on LRN")
    summarize([r for r in rows if "pool" in r["op"]], "ratio", "dlcore/numpy on pooling")
    summarize(rows, "copy", "fraction of STREAM copy")
    summarize_families(rows, lambda r: r["op"].rstrip("*"))
    summarize_families(rows, lambda r: "lrn" if r["op"].startswith("lrn") else "pooling")
    return rows
