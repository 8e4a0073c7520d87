"""Convolution report: every conv layer of AlexNet, VGG-16, ResNet-50 and LeNet,
forward / backward-data / backward-weights, dlcore vs a NumPy im2col + matmul
implementation (and oneDNN when built), interleaved in one run.

The topologies' minibatches (50-256) are scaled down to MB images so the full
report fits a 2-core machine; the per-layer GFLOP/s hardly depends on it once
a layer has a few thousand output pixels.

A second table times MobileNet v1's depthwise 3x3 layers (Howard et al. 2017,
table 1; not in the shared shape list), which run on their own kernels; the
medians of the first table stay over the four networks' layers only.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

import dlcore
from dlcore.kernels import conv2d_backward_data, conv2d_backward_weights, conv2d_forward

from .common import compare, fma_peak_gflops, load_shapes, onednn_primitive_time, print_table, recheck_peak, summarize

NETS = ("alexnet", "vgg_16", "resnet_50", "lenet_caffe")
MB = 2  # images per minibatch in this report (the topologies use 50-256)
QUICK_LAYERS = ("alexnet:conv2", "alexnet:conv3", "vgg_16:conv3_2", "resnet_50:res2a_branch2b",
                "resnet_50:res3a_branch2c", "resnet_50:res4a_branch2b", "lenet_caffe:conv2")
PASSES = ("fwd", "bwd_d", "bwd_w")
# MobileNet v1 at 224x224: its distinct depthwise layers (channels, input size, stride), 3x3, padding 1.
MOBILENET_DEPTHWISE = ((32, 112, 1), (64, 112, 2), (128, 56, 1), (128, 56, 2), (256, 28, 1), (256, 28, 2),
                       (512, 14, 1), (512, 14, 2), (1024, 7, 1))


# ---------------------------------------------------------------------------
# The NumPy reference: im2col (a strided view copied into a column buffer) + matmul
# ---------------------------------------------------------------------------
class NumpyConv:
    """im2col + BLAS convolution for one layer; the fair baseline (what Caffe does)."""

    def __init__(self, layer):
        self.g, self.k, self.s, self.p = layer["g"], (layer["kh"], layer["kw"]), layer["stride"], layer["pad"]
        self.out = (layer["oh"], layer["ow"])

    def _pad(self, x):
        ph, pw = self.p
        return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x

    def _cols(self, x):
        """(N, G, Cg*KH*KW, OH*OW) column buffer of x."""
        xp = self._pad(x)
        n, c, _, _ = xp.shape
        (kh, kw), (sh, sw), (oh, ow) = self.k, self.s, self.out
        s0, s1, s2, s3 = xp.strides
        view = as_strided(xp, (n, c, kh, kw, oh, ow), (s0, s1, s2, s3, s2 * sh, s3 * sw))
        return view.reshape(n, self.g, c // self.g * kh * kw, oh * ow)

    def forward(self, x, w):
        o = w.shape[0]
        y = np.matmul(w.reshape(self.g, o // self.g, -1), self._cols(x))
        return y.reshape(x.shape[0], o, *self.out)

    def backward_data(self, dy, w, x_shape):
        n, c, h, wd = x_shape
        o = w.shape[0]
        (kh, kw), (sh, sw), (oh, ow), (ph, pw) = self.k, self.s, self.out, self.p
        wg = w.reshape(self.g, o // self.g, -1)
        dcols = np.matmul(wg.transpose(0, 2, 1), dy.reshape(n, self.g, o // self.g, oh * ow))
        dcols = dcols.reshape(n, c, kh, kw, oh, ow)
        dxp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw), np.float32)
        for i in range(kh):  # col2im
            for j in range(kw):
                dxp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] += dcols[:, :, i, j]
        return dxp[:, :, ph:ph + h, pw:pw + wd]

    def backward_weights(self, x, dy, w_shape):
        n, o = dy.shape[0], dy.shape[1]
        dyg = dy.reshape(n, self.g, o // self.g, -1)
        dw = np.matmul(dyg, self._cols(x).transpose(0, 1, 3, 2)).sum(axis=0)
        return dw.reshape(w_shape), dy.sum(axis=(0, 2, 3))


# ---------------------------------------------------------------------------
def layers(quick: bool):
    for r in load_shapes("shapes_conv"):
        if r["net"] not in NETS or (quick and r["name"] not in QUICK_LAYERS):
            continue
        yield {"name": r["name"], "mb": int(r["mb"]), "ic": int(r["ic"]), "ih": int(r["ih"]), "iw": int(r["iw"]),
               "oc": int(r["oc"]),
               "kh": int(r["kh"]), "kw": int(r["kw"]), "stride": (int(r["sh"]), int(r["sw"])),
               "pad": (int(r["ph"]), int(r["pw"])), "g": int(r["g"]), "oh": int(r["oh"]), "ow": int(r["ow"])}


def depthwise_layers(quick: bool):
    for c, size, stride in MOBILENET_DEPTHWISE[1:2] if quick else MOBILENET_DEPTHWISE:
        out = (size + 2 - 3) // stride + 1
        yield {"name": f"mobilenet_v1:dw {c}x{size}x{size} s{stride}", "mb": MB, "ic": c, "ih": size, "iw": size,
               "oc": c, "kh": 3, "kw": 3, "stride": (stride, stride), "pad": (1, 1), "g": c, "oh": out, "ow": out}


def pass_functions(layer, x, w, dy, backend):
    """pass name -> a no-argument call of dlcore's kernel on `backend`."""
    hp = dict(stride=layer["stride"], padding=layer["pad"], groups=layer["g"], backend=backend)
    return {
        "fwd": lambda: conv2d_forward(x, w, **hp),
        "bwd_d": lambda: conv2d_backward_data(dy, w, x.shape, **hp),
        "bwd_w": lambda: conv2d_backward_weights(x, dy, w.shape, bias=False, **hp)[0],
    }


def numpy_functions(layer, x, w, dy):
    ref = NumpyConv(layer)
    return {
        "fwd": lambda: ref.forward(x, w),
        "bwd_d": lambda: ref.backward_data(dy, w, x.shape),
        "bwd_w": lambda: ref.backward_weights(x, dy, w.shape)[0],
    }


def check_close(name, what, got, expected, k):
    """Validate before timing: float32 results against the NumPy ones (float32 too), scaled by K."""
    err = np.max(np.abs(got - expected)) / max(1e-30, np.max(np.abs(expected)))
    if not err <= 1e-5 * max(1.0, k ** 0.5) * 4:
        raise AssertionError(f"conv bench {name} {what}: relative error {err:.3g} vs NumPy")


def run(args) -> list[dict]:
    threads = dlcore.get_num_threads()
    peak = fma_peak_gflops(threads)
    have_onednn = dlcore.backends()["onednn"]["available"]
    print(f"\n## Convolution (float32), {threads} threads, minibatch {MB} (scaled down from the topologies' "
          f"50-256), measured FMA peak {peak:.0f} GFLOP/s; numpy = im2col + matmul"
          + ("; onednn = dlcore._onednn end to end with plain NCHW (its reorders included, as ours), "
             "'onednn prim' = its primitive alone in its preferred layout" if have_onednn
             else "; oneDNN not built/available here"))
    rng = np.random.default_rng(0)
    rows = time_layers(args, layers(args.quick), peak, have_onednn, rng)
    peak = recheck_peak(rows, threads, peak)
    columns = [("layer", "layer", ""), ("pass", "pass", ""), ("dlcore", "dlcore GF/s", ".1f"),
               ("peak", "%peak", ".0%"), ("numpy", "numpy GF/s", ".1f"), ("ratio", "dlcore/numpy", ".2f")]
    if have_onednn:
        columns += [("onednn", "onednn GF/s", ".1f"), ("onednn_prim", "onednn prim GF/s", ".1f"),
                    ("vs_onednn", "dlcore/onednn", ".2f")]
    print_table(rows, columns)
    summarize_passes(rows, have_onednn, "")
    print(f"\n### MobileNet v1 depthwise 3x3 layers, minibatch {MB} (one input channel per group)")
    dw_rows = time_layers(args, depthwise_layers(args.quick), peak, have_onednn, rng)
    recheck_peak(dw_rows, threads, peak)
    print_table(dw_rows, columns)
    summarize_passes(dw_rows, have_onednn, " depthwise")
    return rows + dw_rows


def summarize_passes(rows, have_onednn, label):
    for p in PASSES:
        sel = [r for r in rows if r["pass"] == p]
        summarize(sel, "ratio", f"dlcore/numpy{label} {p}")
        summarize(sel, "peak", f"fraction of peak{label} {p}")
        if have_onednn:
            summarize(sel, "vs_onednn", f"dlcore/onednn{label} {p}")


def time_layers(args, layer_list, peak, have_onednn, rng) -> list[dict]:
    rows = []
    for layer in layer_list:
        g = layer["g"]
        x = rng.standard_normal((MB, layer["ic"], layer["ih"], layer["iw"]), dtype=np.float32)
        w = rng.standard_normal((layer["oc"], layer["ic"] // g, layer["kh"], layer["kw"]), dtype=np.float32)
        dy = rng.standard_normal((MB, layer["oc"], layer["oh"], layer["ow"]), dtype=np.float32)
        ours = pass_functions(layer, x, w, dy, args.backend)
        theirs = numpy_functions(layer, x, w, dy)
        onednn = pass_functions(layer, x, w, dy, "onednn") if have_onednn else {}
        k = layer["ic"] // g * layer["kh"] * layer["kw"]
        flops = 2.0 * MB * layer["oc"] * layer["oh"] * layer["ow"] * k
        for p in PASSES:
            check_close(layer["name"], p, ours[p](), theirs[p](), k)
            fns = {"dlcore": ours[p], "numpy": theirs[p]}
            if p in onednn:
                fns["onednn"] = onednn[p]
            t = compare(fns, repeats=args.repeats)
            if "onednn" in fns:  # oneDNN's primitive alone, without the reorders to its blocked layout
                t["onednn_prim"] = onednn_primitive_time(fns["onednn"], repeats=3)
            gf = {name: flops / sec / 1e9 for name, sec in t.items()}
            rows.append({"layer": layer["name"], "pass": p, "dlcore": gf["dlcore"], "peak": gf["dlcore"] / peak,
                         "numpy": gf["numpy"], "ratio": gf["dlcore"] / gf["numpy"],
                         "onednn": gf.get("onednn"), "onednn_prim": gf.get("onednn_prim"),
                         "vs_onednn": gf["dlcore"] / gf["onednn"] if "onednn" in gf else None,
                         "flops": flops, "bytes": float(x.nbytes + w.nbytes + dy.nbytes)})
    return rows
