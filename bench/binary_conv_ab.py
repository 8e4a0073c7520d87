"""Before/after A/B of the binary convolution in one process: dlcore's float32 conv, binary (pack + conv)
with this tree's _C ("new") and with another build's _C ("old", e.g. main's), interleaved, the two binary
calls alternating order each round (the second one found the input in cache: a 10-15 % bias), medians.

    PYTHONPATH=python python bench/binary_conv_ab.py OLD_C_SO THREADS REPEATS [layer,layer...]
    e.g. PYTHONPATH=python python bench/binary_conv_ab.py /work/main/build-dev/_C*.so 2 21
"""
import importlib.util
import sys
import time

import numpy as np

import dlcore
from dlcore import _C as NEW
from dlcore.bench import lowbit as LB


def load(path):
    spec = importlib.util.spec_from_file_location("_C", path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


OLD = load(sys.argv[1])
th, reps = int(sys.argv[2]), int(sys.argv[3])
dlcore.set_num_threads(th)
OLD.set_num_threads(th)
rng = np.random.default_rng(0)
names = sys.argv[4].split(",") if len(sys.argv) > 4 else None


def ab_layer(s, reps):
    c, h, w, oc = int(s["ic"]), int(s["ih"]), int(s["iw"]), int(s["oc"])
    kh, st, pd, g = int(s["kh"]), int(s["sh"]), int(s["ph"]), int(s["g"])
    x = rng.standard_normal((2, c, h, w)).astype(np.float32)
    wt = rng.standard_normal((oc, c // g, kh, kh)).astype(np.float32)
    alpha = np.abs(wt).reshape(oc, -1).mean(1).astype(np.float32)
    fns = {"f32": lambda: dlcore.kernels.conv2d_forward(x, wt, None, stride=st, padding=pd, groups=g)}
    out = {}
    for tag, m in (("old", OLD), ("new", NEW)):
        wb = m.binary_pack(np.ascontiguousarray(wt.transpose(0, 2, 3, 1)).reshape(-1, c // g)).reshape(oc, kh, kh, -1)
        out[tag] = m.binary_conv2d(m.binary_pack_nchw(x, g), wb, c, st, pd, 1, g, alpha)
        fns[tag] = (lambda m=m, wb=wb: m.binary_conv2d(m.binary_pack_nchw(x, g), wb, c, st, pd, 1, g, alpha))
    impl = NEW.last_dispatch().split(":")[1]
    assert np.array_equal(out["old"], out["new"])
    ts = {k: [] for k in fns}
    for f in fns.values():
        f()
    orders = [["f32", "old", "new"], ["f32", "new", "old"]]  # alternate: each binary follows the other half the time
    for r in range(reps):
        for k in orders[r % 2]:
            t0 = time.perf_counter()
            fns[k]()
            ts[k].append(time.perf_counter() - t0)
    md = {k: np.median(v) for k, v in ts.items()}
    ops = 2.0 * 2 * oc * int(s["oh"]) * int(s["ow"]) * (c // g) * kh * kh
    print(f"{s['name']:15s} f32 {ops / md['f32'] * 1e-9:6.1f} GF/s  old x{md['f32'] / md['old']:5.2f}  "
          f"new x{md['f32'] / md['new']:5.2f}  new/old time {md['new'] / md['old']:.2f}  "
          f"new {ops / md['new'] * 1e-9:5.0f} GOP/s  {impl}", flush=True)


for row in LB._conv_rows(LB.BINARY_CONV_LAYERS, False):
    if not names or any(row["name"].endswith(n) for n in names):
        ab_layer(row, reps)
