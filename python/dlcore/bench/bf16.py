"""bfloat16 report: dlcore bf16 vs dlcore float32 vs oneDNN bf16, in one interleaved run.

* GEMM: square sizes and the networks' fully connected layers (y = x W^T at
  the topology minibatch); bf16 operands, float32 C.
* Convolution: forward / backward-data / backward-weights of a set of real
  layers (minibatch MB), bf16 x / w / dy, float32 results.
* End to end: images/s of a training step of the AlexNet-style CIFAR model
  (dlcore.train.small_alexnet) in float32 and under dlcore.autocast, and
  under torch.autocast("cpu", dtype=torch.bfloat16) when torch is installed.

GFLOP/s are also given as a fraction of the machine's measured bf16 peak:
the AMX tdpbf16ps loop or the vdpbf16ps loop (dlcore._C.bf16_peak_gflops);
on a CPU with neither, bf16 runs as float32 FMA (bf16 -> float32 while
packing) and the fraction is of the float32 FMA peak, which the header says.
"""
from __future__ import annotations

import time

import numpy as np

import dlcore
from dlcore import _C
from dlcore.kernels import conv2d_backward_data, conv2d_backward_weights, conv2d_forward, gemm

from .common import compare, fma_peak_gflops, load_shapes, onednn_implements, print_table, summarize

BF16 = dlcore.bfloat16
SQUARE = (1024, 2048, 4096)
QUICK_FC = ("Alexnet:ip3", "VGG16:ip2", "resnet:ip1", "lenet_caffe:ip1")  # --quick; else every FC layer
CONV_LAYERS = ("alexnet:conv2", "alexnet:conv3", "vgg_16:conv3_2", "resnet_50:res2a_branch2b",
               "resnet_50:res3a_branch2c", "resnet_50:res4a_branch2b")
MB = 2
_CHOSEN: dict = {}  # what dlcore ran for bf16, per table


def bf16_peak(threads: int) -> tuple[float, str]:
    """(GFLOP/s, what) of the best bf16 instruction here, or the float32 FMA peak with a note."""
    info = dlcore.backends()
    for isa, its in (("amx", 2_000_000), ("avx512_bf16", 20_000_000)):
        if info[isa]["available"]:
            return max(_C.bf16_peak_gflops(isa, threads, its) for _ in range(3)), f"{isa} loop"
    return fma_peak_gflops(threads), "float32 FMA (no AMX / AVX512-BF16 here)"


def _onednn_bf16(op: str) -> bool:
    """True when oneDNN is built and its `op` takes bf16 operands here (tried once, small)."""
    if not onednn_implements(op):
        return False
    try:
        a = np.ones((4, 4), BF16)
        if op == "gemm":
            gemm(a, a, backend="onednn")
        else:
            conv2d_forward(np.ones((1, 2, 4, 4), BF16), np.ones((2, 2, 3, 3), BF16), backend="onednn")
        return True
    except (TypeError, RuntimeError, ValueError) as exc:
        print(f"  oneDNN {op} bf16: not run ({exc})")
        return False


def gemm_rows(args, peak, with_onednn):
    rng = np.random.default_rng(0)
    cases = [(f"square {n}", n, n, n, False) for n in (SQUARE[:1] if args.quick else SQUARE)]
    for r in load_shapes("shapes_ip"):
        if not args.quick or r["name"] in QUICK_FC:
            cases.append((r["name"], int(r["mb_topology"]), int(r["N"]), int(r["K"]), True))
    rows = []
    for name, m, n, k, tb in cases:
        a32 = rng.standard_normal((m, k), dtype=np.float32)
        b32 = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
        a16, b16 = a32.astype(BF16), b32.astype(BF16)
        out = np.empty((m, n), np.float32)
        ref = a16.astype(np.float64) @ (b16.astype(np.float64).T if tb else b16.astype(np.float64))
        got = gemm(a16, b16, trans_b=tb, out=out, backend=args.backend)
        _CHOSEN["gemm"] = dlcore.kernels.last_dispatch()
        if np.max(np.abs(got - ref)) > 1e-5 * np.max(np.abs(ref)) * max(1.0, k ** 0.5):
            raise AssertionError(f"bf16 gemm {name}: wrong result")
        fns = {"bf16": lambda: gemm(a16, b16, trans_b=tb, out=out, backend=args.backend),
               "f32": lambda: gemm(a32, b32, trans_b=tb, out=out, backend=args.backend)}
        if with_onednn:
            fns["onednn"] = lambda: gemm(a16, b16, trans_b=tb, backend="onednn")
        t = compare(fns, repeats=args.repeats)
        gf = {key: 2.0 * m * n * k / sec / 1e9 for key, sec in t.items()}
        rows.append({"shape": name, "mnk": f"{m}x{n}x{k}", "bf16": gf["bf16"], "f32": gf["f32"],
                     "vs_f32": gf["bf16"] / gf["f32"], "peak": gf["bf16"] / peak, "onednn": gf.get("onednn"),
                     "vs_onednn": gf["bf16"] / gf["onednn"] if "onednn" in gf else None})
    return rows


def conv_rows(args, peak, with_onednn):
    rng = np.random.default_rng(1)
    shapes = {r["name"]: r for r in load_shapes("shapes_conv")}
    rows = []
    for name in (CONV_LAYERS[:3] if args.quick else CONV_LAYERS):
        if name not in shapes:
            continue
        r = {k: (int(v) if v.isdigit() else v) for k, v in shapes[name].items()}
        hp = dict(stride=(r["sh"], r["sw"]), padding=(r["ph"], r["pw"]), groups=r["g"])
        x32 = rng.standard_normal((MB, r["ic"], r["ih"], r["iw"]), dtype=np.float32)
        w32 = rng.standard_normal((r["oc"], r["ic"] // r["g"], r["kh"], r["kw"]), dtype=np.float32)
        dy32 = rng.standard_normal((MB, r["oc"], r["oh"], r["ow"]), dtype=np.float32)
        x16, w16, dy16 = x32.astype(BF16), w32.astype(BF16), dy32.astype(BF16)
        k = r["ic"] // r["g"] * r["kh"] * r["kw"]
        flops = 2.0 * MB * r["oc"] * r["oh"] * r["ow"] * k

        def passes(x, w, dy, backend):
            return {"fwd": lambda: conv2d_forward(x, w, backend=backend, **hp),
                    "bwd_d": lambda: conv2d_backward_data(dy, w, x.shape, backend=backend, **hp),
                    "bwd_w": lambda: conv2d_backward_weights(x, dy, w.shape, bias=False, backend=backend, **hp)[0]}

        ours, f32 = passes(x16, w16, dy16, args.backend), passes(x32, w32, dy32, args.backend)
        theirs = passes(x16, w16, dy16, "onednn") if with_onednn else {}
        ref = passes(x16.astype(np.float32), w16.astype(np.float32), dy16.astype(np.float32), args.backend)
        for p in ("fwd", "bwd_d", "bwd_w"):
            want = ref[p]()
            ours[p]()
            _CHOSEN[p] = dlcore.kernels.last_dispatch()
            if np.max(np.abs(ours[p]() - want)) > 1e-5 * np.max(np.abs(want)) * max(1.0, k ** 0.5) * 4:
                raise AssertionError(f"bf16 conv {name} {p}: wrong result")
            fns = {"bf16": ours[p], "f32": f32[p]}
            if p in theirs:
                fns["onednn"] = theirs[p]
            t = compare(fns, repeats=args.repeats)
            gf = {key: flops / sec / 1e9 for key, sec in t.items()}
            rows.append({"layer": name, "pass": p, "bf16": gf["bf16"], "f32": gf["f32"],
                         "vs_f32": gf["bf16"] / gf["f32"], "peak": gf["bf16"] / peak, "onednn": gf.get("onednn"),
                         "vs_onednn": gf["bf16"] / gf["onednn"] if "onednn" in gf else None})
    return rows


def training_rows(args, batch=64, steps=None):
    """Images/s of training steps of small_alexnet on random 3x32x32 data: float32, dlcore autocast, torch."""
    from dlcore import nn, optim
    from dlcore.train import small_alexnet

    steps = steps or (3 if args.quick else 8)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((batch, 3, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    rows = []
    for mode in ("float32", "bf16 autocast"):
        dlcore.manual_seed(0)
        model = small_alexnet()
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step():
            opt.zero_grad()
            with dlcore.autocast("cpu", enabled=mode != "float32"):
                loss = nn.functional.cross_entropy(model(dlcore.tensor(x)), y)
            loss.backward()
            opt.step()

        rows.append({"who": f"dlcore {mode}", "img_s": _images_per_s(step, batch, steps)})
    try:
        import torch
    except ImportError:
        print("  torch not installed: no PyTorch row")
        return rows
    torch.set_num_threads(dlcore.get_num_threads())
    tn = torch.nn
    tm = tn.Sequential(
        tn.Conv2d(3, 32, 5, padding=2), tn.ReLU(), tn.LocalResponseNorm(5, 1e-4, 0.75, 2.0),
        tn.MaxPool2d(3, 2, ceil_mode=True), tn.Conv2d(32, 64, 5, padding=2), tn.ReLU(),
        tn.LocalResponseNorm(5, 1e-4, 0.75, 2.0), tn.MaxPool2d(3, 2, ceil_mode=True),
        tn.Conv2d(64, 64, 3, padding=1), tn.ReLU(), tn.MaxPool2d(2), tn.Flatten(), tn.Dropout(0.5),
        tn.Linear(64 * 4 * 4, 256), tn.ReLU(), tn.Linear(256, 10))
    topt = torch.optim.SGD(tm.parameters(), lr=0.01, momentum=0.9)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    for mode in ("float32", "bf16 autocast"):
        def tstep():
            topt.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode != "float32"):
                loss = tn.functional.cross_entropy(tm(tx), ty)
            loss.backward()
            topt.step()

        rows.append({"who": f"torch {torch.__version__} {mode}", "img_s": _images_per_s(tstep, batch, steps)})
    return rows


def _images_per_s(step, batch, steps):
    step()  # warm-up
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return batch / float(np.median(times))


def run(args) -> list[dict]:
    threads = dlcore.get_num_threads()
    peak, what = bf16_peak(threads)
    info = dlcore.backends()
    paths = ", ".join(f"{k}: {'yes' if info[k]['available'] else 'no'}" for k in ("amx", "avx512_bf16"))
    print(f"\n## bfloat16, {threads} threads; bf16 paths here: {paths}; bf16 peak {peak:.0f} GFLOP/s ({what})")
    gemm_onednn = _onednn_bf16("gemm")
    rows = gemm_rows(args, peak, gemm_onednn)
    print(f"\n### GEMM: bf16 a/b, float32 C (dlcore ran {_CHOSEN.get('gemm')})")
    cols = [("bf16", "bf16 GF/s", ".1f"), ("f32", "f32 GF/s", ".1f"), ("vs_f32", "bf16/f32", ".2f"),
            ("peak", "%bf16 peak", ".0%")]
    ocols = [("onednn", "onednn bf16 GF/s", ".1f"), ("vs_onednn", "dlcore/onednn", ".2f")]
    print_table(rows, [("shape", "shape", ""), ("mnk", "M x N x K", "")] + cols + (ocols if gemm_onednn else []))
    summarize([r for r in rows if r["shape"].startswith("square")], "vs_f32", "bf16/f32 at n=1024-4096")
    summarize([r for r in rows if ":" in r["shape"]], "vs_f32", "bf16/f32 on FC layers")
    if gemm_onednn:
        summarize(rows, "vs_onednn", "dlcore bf16/onednn bf16 over all GEMM shapes")
    conv_onednn = _onednn_bf16("conv2d_forward")
    crows = conv_rows(args, peak, conv_onednn)
    print(f"\n### Convolution, minibatch {MB}: bf16 x/w/dy, float32 results (dlcore ran "
          f"{', '.join(_CHOSEN.get(p, '-') for p in ('fwd', 'bwd_d', 'bwd_w'))})")
    print_table(crows, [("layer", "layer", ""), ("pass", "pass", "")] + cols + (ocols if conv_onednn else []))
    for p in ("fwd", "bwd_d", "bwd_w"):
        sel = [r for r in crows if r["pass"] == p]
        summarize(sel, "vs_f32", f"bf16/f32 {p}")
        if conv_onednn:
            summarize(sel, "vs_onednn", f"dlcore bf16/onednn bf16 {p}")
    trows = training_rows(args)
    print("\n### Training step, AlexNet-style CIFAR model (dlcore.train.small_alexnet), batch 64, random data")
    print_table(trows, [("who", "framework / precision", ""), ("img_s", "images/s", ".0f")])
    return rows + crows + trows
