"""python -m dlcore.bench lowbit: int8 GEMM / conv and binary conv against dlcore float32, same run.

Every contender is validated first (int8 and binary results exactly against
int64 NumPy, float32 against its own float64 reference), then timed
interleaved (common.compare: round-robin blocks, medians). Ops are counted as
2 per multiply-add for float32, int8 and binary (XNOR-Net counts a binary
multiply-add, one bit of XNOR + popcount, the same way), so GOP/s compare.
Peaks are this machine's measured loops (csrc/ops/quant/peak_lowbit_*.cpp).
Where dlcore._onednn is built, oneDNN's u8 x s8 matmul and convolution are a
column of the int8 tables (7-bit weights, which oneDNN multiplies exactly on
every CPU; validated exactly first), timed as a user calls them: plain
row-major / NCHW buffers in and out, oneDNN's layout reorders included
("dnnl prim": the share of its call inside the primitive itself).
"""
from __future__ import annotations

import numpy as np

import dlcore
from dlcore import _C
from dlcore.kernels import lowbit as K

from .common import compare, fma_peak_gflops, load_shapes, onednn_implements, onednn_module, print_table

ISA = _C.isa_info()
PEAK_LOOPS = [("avx2_maddubs", "avx2", "int8 vpmaddubsw+vpmaddwd+vpaddd ymm"),
              ("avx2_madd16", "avx2", "int16 vpmaddwd+vpaddd ymm"),
              ("avx_vnni", "avx_vnni", "int8 vpdpbusd ymm (AVX-VNNI)"),
              ("avx512_vnni", "avx512_vnni", "int8 vpdpbusd zmm (AVX512-VNNI)"),
              ("avx2_popcnt", "avx2", "binary XOR + vpshufb popcount ymm"),
              ("avx2_nibble", "avx2", "binary popcount(v^w) table vpshufb ymm"),
              ("avx512_vpopcnt", "avx512_vpopcnt", "binary XOR + vpopcntq zmm")]

# The binary loops; a kernel's fraction is taken of the fastest one this CPU runs (the nibble-table
# kernel's method, popcount(v XOR w) looked up per weight nibble, beats XOR + popcount on AVX2).
BINARY_PEAKS = ("avx2_popcnt", "avx2_nibble", "avx512_vpopcnt")

# AlexNet conv2-5 and the VGG-16 3x3 layers (VGG-19's list holds the same shapes).
BINARY_CONV_LAYERS = ("alexnet:conv2", "alexnet:conv3", "alexnet:conv4", "alexnet:conv5", "vgg_19:conv1_2",
                      "vgg_19:conv2_1", "vgg_19:conv2_2", "vgg_19:conv3_1", "vgg_19:conv3_2", "vgg_19:conv4_1",
                      "vgg_19:conv4_2", "vgg_19:conv5_1")


def peaks(threads):
    out = {}
    # The float32 reference is the machine's FMA peak probe (core/peak.cpp, best ISA), the one the
    # other reports divide by.
    fma = fma_peak_gflops(threads)
    rows = [{"loop": "fp32_fma", "what": f"float32 FMA ({_C.best_isa()})", "gops": fma, "note": ""}]
    for kind, isa, what in PEAK_LOOPS:
        if not ISA[isa]["available"]:
            rows.append({"loop": kind, "what": what, "gops": None, "note": f"not on this CPU ({ISA[isa].get('reason')})"})
            continue
        g = max(_C.lowbit_peak_gops(kind, threads, 20_000_000) for _ in range(3))
        out[kind] = g
        rows.append({"loop": kind, "what": what, "gops": g, "note": ""})
    for r in rows:
        r["x_fp32"] = r["gops"] / fma if r["gops"] else None
    print(f"\n## Peak loops ({threads} threads; GOP/s, 2 ops per multiply-add; best of 3)")
    print_table(rows, [("loop", "loop", ""), ("what", "instructions", ""), ("gops", "GOP/s", ".0f"),
                       ("x_fp32", "x fp32 FMA", ".2f"), ("note", "", "")])
    return out


def _int8_peak(pk):
    for kind in ("avx512_vnni", "avx_vnni", "avx2_maddubs"):
        if kind in pk:
            return pk[kind]
    return None


def gemm_section(args, pk, rng):
    shapes = load_shapes("shapes_ip")
    if args.quick:
        shapes = [s for s in shapes if s["name"] in ("Alexnet:ip2", "resnet:ip1", "lenet_caffe:ip1")]
    rows = []
    peak8 = _int8_peak(pk)
    with_dnnl = onednn_implements("gemm_u8s8s32")
    for s in shapes:
        n, k = int(s["N"]), int(s["K"])
        batches = sorted({int(b) for b in (s["mb_benchdnn_default"], s["mb_topology"]) if b})
        if args.quick:
            batches = batches[:1] + [64] if batches[0] != 64 else batches[:1]
        for m in batches:
            a_f = rng.standard_normal((m, k)).astype(np.float32)
            w_f = rng.standard_normal((n, k)).astype(np.float32)
            a8 = rng.integers(0, 256, (m, k), dtype=np.uint8)
            w7 = rng.integers(-63, 64, (n, k), dtype=np.int8)
            w8 = rng.integers(-128, 128, (n, k), dtype=np.int8)
            # validate
            ref7 = (a8[:4].astype(np.int64) - 3) @ w7.astype(np.int64).T
            assert np.array_equal(K.gemm_u8s8s32(a8[:4].copy(), w7, 3), ref7)
            impl7 = _C.last_dispatch().split(":")[1]
            ref8 = (a8[:4].astype(np.int64) - 3) @ w8.astype(np.int64).T
            assert np.array_equal(K.gemm_u8s8s32(a8[:4].copy(), w8, 3), ref8)
            impl8 = _C.last_dispatch().split(":")[1]
            pb7 = K.gemm_u8s8s32_pack(w7)  # once, as a quantized Linear does at convert time
            assert np.array_equal(K.gemm_u8s8s32_packed(a8[:4].copy(), pb7, 3), ref7)
            impl_p = _C.last_dispatch().split(":")[1]
            f64 = a_f[:2].astype(np.float64) @ w_f.astype(np.float64).T
            got = dlcore.kernels.gemm(a_f[:2].copy(), w_f, trans_b=True)
            assert np.abs(got - f64).max() <= 1e-3 * np.abs(f64).max()
            fns = {"f32": lambda: dlcore.kernels.gemm(a_f, w_f, trans_b=True),
                   "i8_7bit": lambda: K.gemm_u8s8s32(a8, w7, 3),
                   "i8_8bit": lambda: K.gemm_u8s8s32(a8, w8, 3),
                   "i8_packed": lambda: K.gemm_u8s8s32_packed(a8, pb7, 3)}
            if with_dnnl:
                assert np.array_equal(K.gemm_u8s8s32(a8[:4].copy(), w7, 3, backend="onednn"), _dnnl_expected(ref7))
                fns["dnnl"] = lambda: K.gemm_u8s8s32(a8, w7, 3, backend="onednn")
            t = compare(fns, repeats=args.repeats)
            ops = 2.0 * m * n * k
            dnnl = _dnnl_columns(t, ops, "i8_7bit", lambda: K.gemm_u8s8s32(a8, w7, 3, backend="onednn")) \
                if with_dnnl else {}
            if with_dnnl:
                dnnl["packed_dnnl"] = t["dnnl"] / t["i8_packed"]
            rows.append({"layer": s["name"], "m": m, "n": n, "k": k,
                         "f32": ops / t["f32"] * 1e-9, "i8_7": ops / t["i8_7bit"] * 1e-9,
                         "i8_8": ops / t["i8_8bit"] * 1e-9, "x7": t["f32"] / t["i8_7bit"],
                         "x8": t["f32"] / t["i8_8bit"], "i8_p": ops / t["i8_packed"] * 1e-9,
                         "xp": t["f32"] / t["i8_packed"],
                         "peak": ops / t["i8_7bit"] * 1e-9 / peak8 if peak8 else None,
                         "impls": f"{impl7} / {impl8} / packed {impl_p}", **dnnl})
            del a_f, w_f
    print("\n## int8 GEMM u8 x s8 -> s32 vs dlcore float32 GEMM on the FC layers (M = batch, N x K weights)")
    print("i8_7bit: weights in [-63, 63] (what quantize_static stores by default); i8_8bit: full int8 weights; "
          "i8 packed: 7-bit weights packed once (gemm_u8s8s32_pack, what quantized Linear layers run)")
    print_table(rows, [("layer", "layer", ""), ("m", "M", "d"), ("n", "N", "d"), ("k", "K", "d"),
                       ("f32", "f32 GF/s", ".1f"), ("i8_7", "i8 7-bit GOP/s", ".1f"), ("x7", "x f32", ".2f"),
                       ("i8_8", "i8 8-bit GOP/s", ".1f"), ("x8", "x f32", ".2f"),
                       ("i8_p", "i8 packed GOP/s", ".1f"), ("xp", "x f32", ".2f"), ("peak", "7-bit/i8 peak", ".2f"),
                       ("impls", "implementations", "")] + (_DNNL_COLS if with_dnnl else []))
    _median_line(rows, "x7", "int8 (7-bit weights) / float32")
    _median_line(rows, "x8", "int8 (8-bit weights) / float32")
    _median_line(rows, "xp", "int8 (7-bit weights, pre-packed) / float32")
    if with_dnnl:
        print("dnnl: oneDNN's u8 x s8 matmul, 7-bit weights; ours/dnnl = its time / dlcore's 7-bit per-call time "
              "(> 1: dlcore faster); dnnl prim: share of its call inside the primitive")
        _median_line(rows, "dnnl_x", "oneDNN int8 (7-bit weights) / float32")
        _median_line(rows, "ours_dnnl", "dlcore int8 / oneDNN int8 (both 7-bit, weights packed per call)")
        _median_line(rows, "packed_dnnl", "dlcore int8 pre-packed / oneDNN int8 (per call: its matmul has no "
                                          "pre-packed entry here)")
    else:
        print("oneDNN int8 column: dlcore._onednn is not available here")


# ours/dnnl: oneDNN's time / dlcore's (> 1: dlcore faster), both fed plain row-major / NCHW buffers.
_DNNL_COLS = [("dnnl", "dnnl i8 GOP/s", ".1f"), ("dnnl_x", "x f32", ".2f"), ("ours_dnnl", "ours/dnnl", ".2f"),
              ("dnnl_prim", "dnnl prim", ".0%"), ("dnnl_impl", "oneDNN impl", "")]


def _dnnl_expected(exact):
    """oneDNN's s32 result for the exact one: its accumulator passes through float32 (tests/test_onednn_int8.py)."""
    exact = np.asarray(exact, np.int64)
    return np.where(np.abs(exact) <= 2**24, exact, exact.astype(np.float32).astype(np.int64))


def _dnnl_columns(t, ops, ours, call):
    """oneDNN's row entries from compare()'s times `t` (keys "dnnl", `ours`, "f32"), and one call's split."""
    call()
    info = onednn_module().last_call_info()
    total = info["primitive_seconds"] + info["reorder_seconds"]
    return {"dnnl": ops / t["dnnl"] * 1e-9, "dnnl_x": t["f32"] / t["dnnl"], "ours_dnnl": t["dnnl"] / t[ours],
            "dnnl_prim": info["primitive_seconds"] / total if total > 0 else None, "dnnl_impl": info["impl"]}


def _median_line(rows, key, label):
    vals = [r[key] for r in rows if r.get(key)]
    if vals:
        print(f"median {label}: {np.median(vals):.2f}x over {len(vals)} shapes (min {min(vals):.2f}, "
              f"max {max(vals):.2f})")


QUICK_CONV_LAYERS = ("alexnet:conv2", "alexnet:conv3", "alexnet:conv5", "vgg_19:conv2_2", "vgg_19:conv3_2",
                     "vgg_19:conv4_2")


def _conv_rows(names, quick):
    shapes = {s["name"]: s for s in load_shapes("shapes_conv")}
    return [shapes[n] for n in names if n in shapes and (not quick or n in QUICK_CONV_LAYERS)]


def binary_section(args, pk, rng):
    mb = args.lowbit_batch
    rows = []
    for s in _conv_rows(BINARY_CONV_LAYERS, args.quick):
        c, h, w, oc = int(s["ic"]), int(s["ih"]), int(s["iw"]), int(s["oc"])
        kh, kw, st, pd, g = int(s["kh"]), int(s["kw"]), int(s["sh"]), int(s["ph"]), int(s["g"])
        x = rng.standard_normal((mb, c, h, w)).astype(np.float32)
        wt = rng.standard_normal((oc, c // g, kh, kw)).astype(np.float32)
        alpha = np.abs(wt).reshape(oc, -1).mean(1).astype(np.float32)
        wbits = K.binary_pack(np.ascontiguousarray(wt.transpose(0, 2, 3, 1)).reshape(-1, c // g)).reshape(
            oc, kh, kw, -1)
        # validate: the packed conv equals the float sign-convolution (zero padding), on image 0
        sx = np.where(x[:1] >= 0, 1, -1).astype(np.float32)
        sw = np.where(wt >= 0, 1, -1).astype(np.float32) * alpha.reshape(-1, 1, 1, 1)
        ref = dlcore.kernels.conv2d_forward(sx, sw, None, stride=st, padding=pd, groups=g)
        got = K.binary_conv2d(K.binary_pack_nchw(x[:1], g), wbits, c, st, pd, 1, g, alpha)
        assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max(), s["name"]
        impl = _C.last_dispatch().split(":")[1]

        def binary():
            return K.binary_conv2d(K.binary_pack_nchw(x, g), wbits, c, st, pd, 1, g, alpha)

        t = compare({"f32": lambda: dlcore.kernels.conv2d_forward(x, wt, None, stride=st, padding=pd, groups=g), "bin": binary,
                     "bin_conv_only": (lambda xb=K.binary_pack_nchw(x, g):
                                       K.binary_conv2d(xb, wbits, c, st, pd, 1, g, alpha))},
                    repeats=args.repeats)
        oh, ow = int(s["oh"]), int(s["ow"])
        ops = 2.0 * mb * oc * oh * ow * (c // g) * kh * kw
        peak = max((pk[k] for k in BINARY_PEAKS if k in pk), default=None)
        rows.append({"layer": s["name"], "shape": f"{c}x{h}x{w}->{oc} {kh}x{kw} s{st} p{pd} g{g}",
                     "f32": ops / t["f32"] * 1e-9, "bin": ops / t["bin"] * 1e-9, "x": t["f32"] / t["bin"],
                     "xc": t["f32"] / t["bin_conv_only"],
                     "peak": ops / t["bin_conv_only"] * 1e-9 / peak if peak else None, "impl": impl,
                     "wbytes": f"{wt.nbytes / (wbits.nbytes + alpha.nbytes):.1f}x"})
    print(f"\n## Binary conv (XNOR + popcount, sign(x) packed from float32 NCHW) vs dlcore float32 conv, batch {mb}")
    print("x: with the input packing (what a network pays); x conv: the packed conv alone")
    print_table(rows, [("layer", "layer", ""), ("shape", "shape", ""), ("f32", "f32 GF/s", ".1f"),
                       ("bin", "binary GOP/s", ".0f"), ("x", "x f32", ".2f"), ("xc", "x conv", ".2f"),
                       ("peak", "conv/popcnt peak", ".2f"), ("wbytes", "weights", ""), ("impl", "implementation", "")])
    _median_line(rows, "x", "binary (with packing) / float32")


# LeNet-5's convolutions (dlcore.train.lenet5, batch 64): few channels, where the direct kernel runs.
LENET_CONVS = [{"name": "lenet5:conv1", "mb": 64, "ic": 1, "ih": 28, "iw": 28, "oc": 6, "kh": 5, "kw": 5, "sh": 1,
                "ph": 2, "g": 1, "oh": 28, "ow": 28},
               {"name": "lenet5:conv2", "mb": 64, "ic": 6, "ih": 14, "iw": 14, "oc": 16, "kh": 5, "kw": 5, "sh": 1,
                "ph": 0, "g": 1, "oh": 10, "ow": 10}]


def int8_conv_section(args, rng):
    rows = []
    with_dnnl = onednn_implements("conv2d_u8s8")
    shapes = [dict(s, mb=args.lowbit_batch) for s in _conv_rows(
        ("alexnet:conv2", "alexnet:conv3", "alexnet:conv4", "alexnet:conv5", "vgg_19:conv3_2"), args.quick)]
    for s in shapes + LENET_CONVS:
        mb = int(s["mb"])
        c, h, w, oc = int(s["ic"]), int(s["ih"]), int(s["iw"]), int(s["oc"])
        kh, kw, st, pd, g = int(s["kh"]), int(s["kw"]), int(s["sh"]), int(s["ph"]), int(s["g"])
        x = rng.standard_normal((mb, c, h, w)).astype(np.float32)
        wt = rng.standard_normal((oc, c // g, kh, kw)).astype(np.float32)
        x8 = rng.integers(0, 256, x.shape, dtype=np.uint8)
        w7 = rng.integers(-63, 64, wt.shape, dtype=np.int8)
        y = K.conv2d_u8s8(x8[:1].copy(), w7, 5, st, pd, 1, g)
        impl = _C.last_dispatch().split(":")[1]
        fns = {"f32": lambda: dlcore.kernels.conv2d_forward(x, wt, None, stride=st, padding=pd, groups=g),
               "i8": lambda: K.conv2d_u8s8(x8, w7, 5, st, pd, 1, g)}
        if with_dnnl:  # two independent implementations agree (exactly, up to oneDNN's float32 past 2^24)
            assert np.array_equal(K.conv2d_u8s8(x8[:1].copy(), w7, 5, st, pd, 1, g, backend="onednn"),
                                  _dnnl_expected(y))
            fns["dnnl"] = lambda: K.conv2d_u8s8(x8, w7, 5, st, pd, 1, g, backend="onednn")
        t = compare(fns, repeats=args.repeats)
        ops = 2.0 * mb * oc * int(s["oh"]) * int(s["ow"]) * (c // g) * kh * kw
        dnnl = _dnnl_columns(t, ops, "i8", lambda: K.conv2d_u8s8(x8, w7, 5, st, pd, 1, g, backend="onednn")) \
            if with_dnnl else {}
        rows.append({"layer": s["name"], "mb": mb, "f32": ops / t["f32"] * 1e-9, "i8": ops / t["i8"] * 1e-9,
                     "x": t["f32"] / t["i8"], "impl": impl, **dnnl})
        del y
    print("\n## int8 conv (7-bit weights) vs dlcore float32 conv")
    print_table(rows, [("layer", "layer", ""), ("mb", "batch", "d"), ("f32", "f32 GF/s", ".1f"),
                       ("i8", "i8 GOP/s", ".1f"), ("x", "x f32", ".2f"), ("impl", "implementation", "")]
                + (_DNNL_COLS if with_dnnl else []))
    _median_line(rows, "x", "int8 conv / float32")
    if with_dnnl:
        print("dnnl: oneDNN's u8 x s8 convolution from/to NCHW (its layout reorders included); ours/dnnl = its "
              "time / dlcore's (> 1: dlcore faster)")
        _median_line(rows, "dnnl_x", "oneDNN int8 conv / float32")
        _median_line(rows, "ours_dnnl", "dlcore int8 conv / oneDNN int8 conv")
    else:
        print("oneDNN int8 column: dlcore._onednn is not available here")


class _LeNetModule(dlcore.nn.Module):
    """LeNet-5 as a Module with forward() around the same layers (quantize_static's module path)."""

    def __init__(self, seq):
        super().__init__()
        self.net = seq

    def forward(self, x):
        return self.net(x)


def lenet_section(args, rng):
    """LeNet-5 (dlcore.train.lenet5) float32 vs its int8 QuantizedSequential, end to end, batch 64 and 1,
    and the same layers as a Module subclass quantized layer by layer (float32 between the int8 layers)."""
    from dlcore.train import lenet5
    dlcore.manual_seed(0)
    model = lenet5().eval()
    calib = [rng.standard_normal((64, 1, 28, 28)).astype(np.float32) for _ in range(2)]
    q = dlcore.quantization.quantize_static(model, calib)
    qm = dlcore.quantization.quantize_static(_LeNetModule(model), calib)
    rows = []
    for mb in (64, 1):
        x = rng.standard_normal((mb, 1, 28, 28)).astype(np.float32)
        xt = dlcore.Tensor(x)

        def f32():
            with dlcore.no_grad():
                return model(xt)

        def i8_module():
            with dlcore.no_grad():
                return qm(xt)

        t = compare({"f32": f32, "i8": lambda: q(x), "i8_mod": i8_module}, repeats=args.repeats)
        rows.append({"batch": mb, "f32": mb / t["f32"], "i8": mb / t["i8"], "x": t["f32"] / t["i8"],
                     "i8_mod": mb / t["i8_mod"], "x_mod": t["f32"] / t["i8_mod"]})
    print("\n## LeNet-5 end to end: float32 model vs int8 QuantizedSequential (img/s, median)")
    print("int8 module: the same net as a Module subclass, quantize_static's layer-swapping path")
    print_table(rows, [("batch", "batch", "d"), ("f32", "f32 img/s", ".0f"), ("i8", "int8 img/s", ".0f"),
                       ("x", "x f32", ".2f"), ("i8_mod", "int8 module img/s", ".0f"), ("x_mod", "x f32", ".2f")])


def run(args):
    threads = dlcore.get_num_threads()
    if not hasattr(args, "lowbit_batch"):
        args.lowbit_batch = 2
    rng = np.random.default_rng(0)
    print("\n# lowbit: int8 and binary kernels vs dlcore float32 (interleaved, medians; other jobs may load "
          "the machine: compare the ratios)")
    pk = peaks(threads)
    gemm_section(args, pk, rng)
    int8_conv_section(args, rng)
    binary_section(args, pk, rng)
    lenet_section(args, rng)
