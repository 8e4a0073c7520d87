"""GEMM report: dlcore vs NumPy (a @ b) in one run, GFLOP/s and fraction of peak."""
from __future__ import annotations

import numpy as np

import dlcore
from dlcore.kernels import gemm

from .common import compare, fma_peak_gflops, load_shapes, onednn_available, print_table, recheck_peak, summarize

SQUARE = (128, 256, 512, 1024, 2048, 4096)

# Convolution layers as the GEMMs they become (per image, im2col form):
# M = output channels, N = output pixels, K = input channels * kh * kw.
CONV_LAYERS = ("resnet_50:res2a_branch2b", "resnet_50:res3a_branch2b", "resnet_50:res4a_branch2b",
               "resnet_50:res5a_branch2b", "vgg_16:conv1_2", "vgg_16:conv3_2", "vgg_16:conv5_1",
               "alexnet:conv3", "resnet_50:res2a_branch2c")
# Classifier layers at inference minibatches (1: a matrix-vector product, 8): y = x W^T with few rows.
INFERENCE_LAYERS = ("resnet:ip1", "Alexnet:ip3")
INFERENCE_MINIBATCHES = (1, 8)


def cases(quick: bool):
    square = SQUARE[:4] if quick else SQUARE
    for n in square:
        yield {"name": f"square {n}", "m": n, "n": n, "k": n, "trans_b": False}
    fc = load_shapes("shapes_ip")
    for row in fc:
        # Fully connected: y = x @ W.T with x (mb, K) and W (N, K), at the topology minibatch.
        yield {"name": row["name"], "m": int(row["mb_topology"]), "n": int(row["N"]),
               "k": int(row["K"]), "trans_b": True}
    if quick:
        return
    for row in fc:
        if row["name"] in INFERENCE_LAYERS:
            for mb in INFERENCE_MINIBATCHES:
                yield {"name": f"{row['name']} mb{mb} (inference)", "m": mb, "n": int(row["N"]),
                       "k": int(row["K"]), "trans_b": True}
    conv = {r["name"]: r for r in load_shapes("shapes_conv")}
    for name in CONV_LAYERS:
        if name in conv:
            r = conv[name]
            g = int(r["g"])
            yield {"name": f"{name} (im2col)", "m": int(r["oc"]) // g, "n": int(r["oh"]) * int(r["ow"]),
                   "k": int(r["ic"]) // g * int(r["kh"]) * int(r["kw"]), "trans_b": False}


def tune(n: int = 1024, repeats: int = 5) -> list[dict]:
    """Sweeps the cache blocks (MC, KC) of the best ISA's micro-kernel on one thread.

    Timed by the thread's CPU time (`_C.gemm_tune_seconds(..., thread_cpu_time=True)`),
    which does not count the periods a busy machine deschedules it. The block
    sizes in csrc/gemm/ukernel_<isa>_*.cpp cite this sweep.
    """
    isa = dlcore.backends()["auto"]
    from dlcore import _C
    mr, nr = {"avx2": (6, 16), "avx512": (12, 32), "ref": (4, 8)}[isa]
    before = dlcore.get_num_threads()
    dlcore.set_num_threads(1)
    rows = []
    try:
        for mc in (mr * 12, mr * 24, mr * 32, mr * 40):
            for kc in (128, 192, 256, 320, 384):
                t = _C.gemm_tune_seconds(n, isa, mc, kc, 3072 // nr * nr, repeats, True)
                rows.append({"mc": mc, "kc": kc, "gflops": 2.0 * n ** 3 / t / 1e9})
    finally:
        dlcore.set_num_threads(before)
    rows.sort(key=lambda r: -r["gflops"])
    print(f"\n## GEMM block-size sweep: {isa}, n={n}, 1 thread, thread CPU time, best first")
    print_table(rows, [("mc", "MC", "d"), ("kc", "KC", "d"), ("gflops", "GFLOP/s", ".1f")])
    return rows


def run(args) -> list[dict]:
    if getattr(args, "tune", False):
        return tune()
    threads = dlcore.get_num_threads()
    peak = fma_peak_gflops(threads)
    with_onednn = onednn_available()
    print(f"\n## GEMM (float32), {threads} threads, measured FMA peak {peak:.0f} GFLOP/s"
          + ("; oneDNN matmul in the same run" if with_onednn else "; oneDNN not available: no oneDNN column"))
    rng = np.random.default_rng(0)
    rows = []
    for case in cases(args.quick):
        rows.append(gemm_case_row(case, args, rng, peak, with_onednn))
    recheck_peak(rows, threads, peak, ("peak", "np_peak"))
    print_table(rows, [("shape", "shape", ""), ("mnk", "M x N x K", ""), ("dlcore", "dlcore GF/s", ".1f"),
                       ("numpy", "numpy GF/s", ".1f"), ("ratio", "dlcore/numpy", ".2f"),
                       ("peak", "dlcore %peak", ".0%"), ("np_peak", "numpy %peak", ".0%")]
               + ([("onednn", "onednn GF/s", ".1f"), ("vs_onednn", "dlcore/onednn", ".2f")] if with_onednn else []))
    big = [r for r in rows if r["shape"].startswith("square") and int(r["shape"].split()[1]) >= 1024]
    summarize(big, "ratio", "dlcore/numpy at n=1024-4096")
    summarize([r for r in rows if ":" in r["shape"] and "(" not in r["shape"]], "ratio",
              "dlcore/numpy on network FC layers")
    summarize([r for r in rows if "inference" in r["shape"]], "ratio",
              "dlcore/numpy on FC layers at minibatch 1 and 8")
    summarize([r for r in rows if "im2col" in r["shape"]], "ratio", "dlcore/numpy on conv-as-GEMM shapes")
    if with_onednn:
        summarize(rows, "vs_onednn", "dlcore/onednn over all shapes")
    return rows


def gemm_case_row(case, args, rng, peak, with_onednn):
    """Validate, then time one GEMM shape (a function, so the closures bind this case's arrays)."""
    m, n, k = case["m"], case["n"], case["k"]
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if case["trans_b"] else (k, n), dtype=np.float32)
    out = np.empty((m, n), np.float32)
    bt = b.T if case["trans_b"] else b
    # Validate before timing.
    ref = a.astype(np.float64) @ bt.astype(np.float64)
    got = gemm(a, b, trans_b=case["trans_b"], out=out, backend=args.backend)
    err = np.max(np.abs(got - ref)) / max(1e-30, np.max(np.abs(ref)))
    if err > 1e-4:
        raise AssertionError(f"gemm {case['name']}: relative error {err:.2e}")
    contenders = {
        "dlcore": lambda: gemm(a, b, trans_b=case["trans_b"], out=out, backend=args.backend),
        "numpy": lambda: np.matmul(a, bt, out=out),
    }
    if with_onednn:
        got = gemm(a, b, trans_b=case["trans_b"], backend="onednn")
        if np.max(np.abs(got - ref)) / max(1e-30, np.max(np.abs(ref))) > 1e-4:
            raise AssertionError(f"onednn gemm {case['name']}: wrong result")
        contenders["onednn"] = lambda: gemm(a, b, trans_b=case["trans_b"], out=out, backend="onednn")
    t = compare(contenders, repeats=args.repeats)
    flops = 2.0 * m * n * k
    ours, theirs = flops / t["dlcore"] / 1e9, flops / t["numpy"] / 1e9
    row = {"shape": case["name"], "mnk": f"{m}x{n}x{k}", "dlcore": ours, "numpy": theirs,
           "ratio": ours / theirs, "peak": ours / peak, "np_peak": theirs / peak,
           "flops": flops, "bytes": 4.0 * (m * k + k * n + m * n)}
    if with_onednn:
        row["onednn"] = flops / t["onednn"] / 1e9
        row["vs_onednn"] = ours / row["onednn"]
    return row
