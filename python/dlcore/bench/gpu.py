"""GPU report (family "gpu"): our CUDA kernels vs the vendor libraries, same run.

* SGEMM GFLOP/s vs cupy.matmul (cuBLAS; CuPy keeps TF32 off unless CUPY_TF32=1)
  at 1024-8192 and on the network FC layers; our opt-in TF32 variant in its own
  column, labelled.
* Convolution (forward, backward data, backward weights) GFLOP/s vs cuDNN
  through PyTorch when torch with CUDA is installed (the column is "-" otherwise).
* Memory-bound kernels in GB/s (each input read once, each output written
  once) and as a fraction of the device's measured copy bandwidth (a large
  device-to-device copy, bytes read + written).

Timing: CUDA events around each call after warm-up, median of the repeats.
Every result is validated against a reference before it is timed.
"""
from __future__ import annotations

import statistics

import dlcore

from .common import load_shapes, print_table, summarize

GEMM_SQUARE = (1024, 2048, 4096, 8192)


def gpu_median_ms(fn, repeats: int, warmup: int = 3) -> float:
    """Median milliseconds of fn() on the current stream, timed with CUDA events after warm-up."""
    import cupy as cp

    for _ in range(warmup):
        fn()
    start, stop = cp.cuda.Event(), cp.cuda.Event()
    samples = []
    for _ in range(max(3, repeats)):
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        samples.append(cp.cuda.get_elapsed_time(start, stop))
    return statistics.median(samples)


def copy_bandwidth_gbs(repeats: int, nbytes: int = 1 << 30) -> float:
    """Device-to-device copy of `nbytes`: (read + write) bytes / time."""
    import cupy as cp

    src = cp.ones(nbytes // 4, cp.float32)
    dst = cp.empty_like(src)
    ms = gpu_median_ms(lambda: cp.copyto(dst, src), repeats)
    return 2 * nbytes / (ms * 1e-3) / 1e9


def _rel_err(got, ref) -> float:
    import cupy as cp

    got, ref = got.astype(cp.float64), ref.astype(cp.float64)
    return float(cp.linalg.norm(got - ref) / max(float(cp.linalg.norm(ref)), 1e-30))


# ------------------------------------------------------------------------------ SGEMM
def gemm_cases(quick: bool):
    for n in GEMM_SQUARE[:3] if quick else GEMM_SQUARE:
        yield {"name": f"square {n}", "m": n, "n": n, "k": n, "trans_b": False}
    for row in load_shapes("shapes_ip"):
        # y = x @ W.T with x (mb, K) and W (N, K), at the topology minibatch
        yield {"name": row["name"], "m": int(row["mb_topology"]), "n": int(row["N"]), "k": int(row["K"]),
               "trans_b": True}


def run_gemm(args, cp, cuda) -> list[dict]:
    rng = cp.random.default_rng(0)
    rows = []
    for case in gemm_cases(args.quick):
        m, n, k, tb = case["m"], case["n"], case["k"], case["trans_b"]
        a = rng.standard_normal((m, k), dtype=cp.float32)
        b = rng.standard_normal((n, k) if tb else (k, n), dtype=cp.float32)
        bt = b.T if tb else b
        out = cp.empty((m, n), cp.float32)
        ours = lambda: cuda.gemm(a, b, False, tb, 1.0, 0.0, out, "cuda")  # noqa: E731
        ours()
        err = _rel_err(out, a.astype(cp.float64) @ bt.astype(cp.float64))
        if err > 1e-5:
            raise AssertionError(f"gemm {case['name']}: relative error {err:.2e}")
        flops = 2.0 * m * n * k
        t_ours = gpu_median_ms(ours, args.repeats)
        t_cublas = gpu_median_ms(lambda: cp.matmul(a, bt, out=out), args.repeats)
        cuda.set_allow_tf32(True)
        try:
            t_tf32 = gpu_median_ms(ours, args.repeats)
        finally:
            cuda.set_allow_tf32(False)
        rows.append({"shape": case["name"], "mnk": f"{m}x{n}x{k}", "ours": flops / t_ours / 1e6,
                     "cublas": flops / t_cublas / 1e6, "ratio": t_cublas / t_ours, "tf32": flops / t_tf32 / 1e6,
                     "err": err})
    print("\n### SGEMM (strict float32) vs cupy.matmul (cuBLAS, TF32 off)")
    print_table(rows, [("shape", "shape", ""), ("mnk", "M x N x K", ""), ("ours", "ours GF/s", ".0f"),
                       ("cublas", "cuBLAS GF/s", ".0f"), ("ratio", "ours/cuBLAS", ".2f"),
                       ("tf32", "ours TF32 GF/s (opt-in)", ".0f"), ("err", "rel err", ".1e")])
    summarize([r for r in rows if r["shape"].startswith("square")], "ratio", "ours/cuBLAS on square 1024-8192")
    summarize([r for r in rows if ":" in r["shape"]], "ratio", "ours/cuBLAS on network FC layers")
    return rows


# ------------------------------------------------------------------------ convolution
def _torch_cuda():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def _conv_validate(name, ops, ref, make_ref64, cp) -> float:
    """Largest relative error of our three passes against cuDNN; where the two
    disagree by more than float32 accumulation explains, float64 decides
    (make_ref64() builds the float64 references only then: they double the memory)."""
    worst = 0.0
    for key in ops:
        got = ops[key]()
        got = got[0] if isinstance(got, tuple) else got
        err = _rel_err(got, cp.asarray(ref[key]()))
        if err > 1e-4:
            exact = cp.asarray(make_ref64()[key]())
            ours, theirs = _rel_err(got, exact), _rel_err(cp.asarray(ref[key]()), exact)
            print(f"conv {name} {key}: ours vs cuDNN {err:.1e}; vs float64: ours {ours:.1e}, cuDNN {theirs:.1e}")
            if ours > 1e-4:
                print(f"WRONG: conv {name} {key}")
            err = ours
        worst = max(worst, err)
    return worst


def run_conv(args, cp, cuda) -> list[dict]:
    """Every layer of AlexNet, VGG-16, ResNet-50 and LeNet at the topology's minibatch
    (--quick: a few layers at minibatch 16), our three passes against cuDNN."""
    from .conv import layers

    torch = _torch_cuda()
    if torch is not None:
        torch.backends.cudnn.allow_tf32 = False  # compare float32 with float32
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.benchmark = True  # cuDNN's fastest algorithm for each shape
    rng = cp.random.default_rng(1)
    rows = []
    for layer in layers(args.quick):
        name, mb = layer["name"], (16 if args.quick else layer["mb"])
        ic, oc, g = layer["ic"], layer["oc"], layer["g"]
        x = rng.standard_normal((mb, ic, layer["ih"], layer["iw"]), dtype=cp.float32)
        w = rng.standard_normal((oc, ic // g, layer["kh"], layer["kw"]), dtype=cp.float32)
        hyper = (layer["stride"], layer["pad"], 1, g)
        y = cuda.conv2d_forward(x, w, None, *hyper, "cuda")
        dy = rng.standard_normal(y.shape, dtype=cp.float32)
        flops = 2.0 * mb * oc * y.shape[2] * y.shape[3] * (ic // g) * layer["kh"] * layer["kw"]
        ops = {
            "fwd": lambda: cuda.conv2d_forward(x, w, None, *hyper, "cuda"),
            "bwd_d": lambda: cuda.conv2d_backward_data(dy, w, x.shape, *hyper, "cuda"),
            "bwd_w": lambda: cuda.conv2d_backward_weights(x, dy, w.shape, *hyper, False, "cuda"),
        }
        row = {"shape": f"{name} (mb {mb})"}
        if torch is not None:
            F = torch.nn.functional

            def refs(dtype):
                tx, tw, tdy = (torch.as_tensor(a, device="cuda").to(dtype) for a in (x, w, dy))
                st, pd = layer["stride"], layer["pad"]
                return {
                    "fwd": lambda: F.conv2d(tx, tw, None, st, pd, 1, g),
                    "bwd_d": lambda: torch.nn.grad.conv2d_input(tx.shape, tw, tdy, st, pd, 1, g),
                    "bwd_w": lambda: torch.nn.grad.conv2d_weight(tx, tw.shape, tdy, st, pd, 1, g),
                }

            ref = refs(torch.float32)
            row["err"] = _conv_validate(name, ops, ref, lambda: refs(torch.float64), cp)
        for key, fn in ops.items():
            ms = gpu_median_ms(fn, args.repeats)
            row[key] = flops / ms / 1e9
            if torch is not None:
                ms_ref = gpu_median_ms(ref[key], args.repeats)
                row[f"{key}_cudnn"] = flops / ms_ref / 1e9
                row[f"{key}_ratio"] = ms_ref / ms
        rows.append(row)
        del x, w, y, dy
        cp.get_default_memory_pool().free_all_blocks()
    note = "cuDNN via PyTorch (TF32 off, cudnn.benchmark on)" if torch is not None else \
        "cuDNN column skipped: no torch with CUDA"
    print(f"\n### Convolution (implicit GEMM), TFLOP/s; {note}")
    cols = [("shape", "layer", "")]
    for key, label in (("fwd", "fwd"), ("bwd_d", "bwd data"), ("bwd_w", "bwd weights")):
        cols += [(key, f"{label} ours", ".1f"), (f"{key}_cudnn", "cuDNN", ".1f"), (f"{key}_ratio", "ratio", ".2f")]
    cols.append(("err", "max rel err", ".1e"))
    print_table(rows, cols)
    for key, label in (("fwd", "forward"), ("bwd_d", "backward data"), ("bwd_w", "backward weights")):
        summarize(rows, f"{key}_ratio", f"ours/cuDNN {label}")
    return rows


# ----------------------------------------------------------------------- memory-bound
#: Memory-bound kernels are timed on tensors of at least this many elements
#: (128 MB of float32): the network's per-sample shape, with the minibatch
#: raised until it gets there, so the figure is bandwidth, not launch latency.
MEMORY_ELEMS = 1 << 25


def _batch_for(per_sample: int, quick: bool) -> int:
    return max(1, -(-(MEMORY_ELEMS >> (3 if quick else 0)) // per_sample))


def run_memory_bound(args, cp, cuda, peak_gbs: float) -> list[dict]:
    """GB/s of each kernel counting each input read once and each output written once."""
    rng = cp.random.default_rng(2)
    rows = []

    def add(name, fn, nbytes):
        out = fn()  # ran once untimed: every output must be finite (tests/test_cuda.py checks the values)
        for o in out if isinstance(out, tuple) else (out,):
            if o is not None and o.dtype == cp.float32 and not bool(cp.isfinite(o).all()):
                raise AssertionError(f"{name}: non-finite output")
        gbs = nbytes / (gpu_median_ms(fn, args.repeats) * 1e-3) / 1e9
        rows.append({"kernel": name, "gbs": gbs, "peak": gbs / peak_gbs})

    def randn(*shape):
        return rng.standard_normal(shape, dtype=cp.float32)

    n = _batch_for(256 * 56 * 56, args.quick)
    x, dy = randn(n, 256, 56, 56), randn(n, 256, 56, 56)
    nb, tag = x.nbytes, f"{n}x256x56x56"
    add(f"relu fwd {tag}", lambda: cuda.relu_forward(x, 0.0, "cuda"), 2 * nb)
    add(f"relu bwd {tag}", lambda: cuda.relu_backward(dy, x, 0.0, "cuda"), 3 * nb)
    y, mask = cuda.dropout_forward(x, 0.5, 1, "cuda")
    add(f"dropout fwd p=0.5 {tag}", lambda: cuda.dropout_forward(x, 0.5, 1, "cuda"), 2 * nb + mask.nbytes)
    add(f"dropout bwd p=0.5 {tag}", lambda: cuda.dropout_backward(dy, mask, 0.5, "cuda"), 2 * nb + mask.nbytes)
    del x, dy, y, mask

    for row in load_shapes("shapes_softmax"):
        c, sp = int(row["C"]), int(row["spatial"])
        if sp > 1:
            continue  # the bench shapes' spatial softmaxes are covered by the CPU report
        r = _batch_for(c, args.quick)
        sx, sdy = randn(r, c), randn(r, c)
        sy = cuda.softmax_forward(sx, 1, "cuda")
        add(f"softmax fwd {r}x{c}", lambda sx=sx: cuda.softmax_forward(sx, 1, "cuda"), 2 * sx.nbytes)
        add(f"softmax bwd {r}x{c}", lambda sdy=sdy, sy=sy: cuda.softmax_backward(sdy, sy, 1, "cuda"), 3 * sx.nbytes)
        del sx, sdy, sy

    for row in load_shapes("shapes_bnorm")[:4]:
        c, h, w = int(row["ic"]), int(row["ih"]), int(row["iw"])
        nbn = _batch_for(c * h * w, args.quick)
        b, bdy = randn(nbn, c, h, w), randn(nbn, c, h, w)
        wt, bias = cp.ones(c, cp.float32), cp.zeros(c, cp.float32)
        rm, rv = cp.zeros(c, cp.float32), cp.ones(c, cp.float32)
        tag = f"{row['name']} {nbn}x{c}x{h}x{w}"
        _, mean, invstd = cuda.batch_norm_forward_training(b, wt, bias, None, None, 0.1, 1e-5, "cuda")
        # minimum traffic: read x (statistics), read x + write y (normalize)
        add(f"bn train fwd {tag}",
            lambda b=b, wt=wt, bias=bias: cuda.batch_norm_forward_training(b, wt, bias, None, None, 0.1, 1e-5,
                                                                           "cuda"), 3 * b.nbytes)
        add(f"bn inference {tag}",
            lambda b=b, wt=wt, bias=bias, rm=rm, rv=rv: cuda.batch_norm_forward_inference(b, wt, bias, rm, rv, 1e-5,
                                                                                          "cuda"), 2 * b.nbytes)
        # read x, dy (sums), read x, dy + write dx
        add(f"bn bwd {tag}", lambda b=b, bdy=bdy, wt=wt, mean=mean, invstd=invstd: cuda.batch_norm_backward(
            bdy, b, wt, mean, invstd, "cuda"), 5 * b.nbytes)
        del b, bdy

    for row in load_shapes("shapes_pool")[:3]:
        c, h, w = int(row["ic"]), int(row["ih"]), int(row["iw"])
        npool = _batch_for(c * h * w, args.quick)
        p_ = randn(npool, c, h, w)
        k, st = (int(row["kh"]), int(row["kw"])), (int(row["sh"]), int(row["sw"]))
        y, idx = cuda.max_pool2d_forward(p_, k, st, 0, False, "cuda")
        pdy = randn(*y.shape)
        tag = f"{row['name']} {npool}x{c}x{h}x{w}"
        add(f"maxpool fwd {tag}", lambda p_=p_, k=k, st=st: cuda.max_pool2d_forward(p_, k, st, 0, False, "cuda"),
            p_.nbytes + y.nbytes + idx.nbytes)
        add(f"maxpool bwd {tag}", lambda pdy=pdy, idx=idx, shp=p_.shape: cuda.max_pool2d_backward(pdy, idx, shp,
                                                                                                  "cuda"),
            pdy.nbytes + idx.nbytes + p_.nbytes)
        add(f"avgpool fwd {tag}", lambda p_=p_, k=k, st=st: cuda.avg_pool2d_forward(p_, k, st, 0, False, True,
                                                                                    "cuda"), p_.nbytes + y.nbytes)
        del p_, y, idx, pdy

    for row in load_shapes("shapes_lrn")[:2]:
        c, h, w, size = int(row["ic"]), int(row["ih"]), int(row["iw"]), int(row["local_size"])
        nl = _batch_for(c * h * w, args.quick)
        l_, ldy = randn(nl, c, h, w), randn(nl, c, h, w)
        tag = f"{row['name']} {nl}x{c}x{h}x{w}"
        add(f"lrn fwd {tag}", lambda l_=l_, size=size: cuda.lrn_forward(l_, size, 1e-4, 0.75, 1.0, "across", True,
                                                                         "cuda"), 2 * l_.nbytes)
        add(f"lrn bwd {tag}", lambda l_=l_, ldy=ldy, size=size: cuda.lrn_backward(ldy, l_, size, 1e-4, 0.75, 1.0,
                                                                                   "across", True, "cuda"),
            3 * l_.nbytes)
        del l_, ldy
    cp.get_default_memory_pool().free_all_blocks()

    print(f"\n### Memory-bound kernels, GB/s (bytes each input read + each output written once) "
          f"vs measured copy bandwidth {peak_gbs:.0f} GB/s; tensors >= {MEMORY_ELEMS * 4 >> 20} MB")
    print_table(rows, [("kernel", "kernel", ""), ("gbs", "GB/s", ".0f"), ("peak", "of copy bw", ".0%")])
    summarize(rows, "peak", "fraction of copy bandwidth")
    return rows


def run(args) -> list[dict]:
    info = dlcore.backends()["cuda"]
    if not info["available"]:
        print(f"\n## GPU: skipped ({info['reason']})")
        return []
    import cupy as cp

    from dlcore import _cuda as cuda

    peak = copy_bandwidth_gbs(args.repeats)
    print(f"\n## GPU: {info['device']} (compute capability {info['compute_capability']}, "
          f"{info['multiprocessors']} SMs), CUDA runtime {info['cuda_runtime']}, driver {info['cuda_driver']}, "
          f"CuPy {cp.__version__}; CUDA events, median of {max(3, args.repeats)} after warm-up")
    sections = set(getattr(args, "sections", "gemm,conv,memory").split(","))
    rows = []
    if "gemm" in sections:
        rows += run_gemm(args, cp, cuda)
    if "conv" in sections:
        rows += run_conv(args, cp, cuda)
    if "memory" in sections:
        rows += run_memory_bound(args, cp, cuda, peak)
    return rows
