"""Fused multi-tensor optimizer step vs the per-parameter NumPy formulas, same optimizer state shapes,
interleaved, median of 15: PYTHONPATH=python python bench/optim_step.py [mnist_net|resnet18|lenet5|alexnet_cifar]"""
import os
import statistics
import sys
import time

import numpy as np

import dlcore
from dlcore import optim
from dlcore.bench.train import _dlcore_model

name = sys.argv[1] if len(sys.argv) > 1 else "mnist_net"
rng = np.random.default_rng(0)
for kind, mk in [("SGD m=0.9", lambda ps, f: optim.SGD(ps, lr=0.01, momentum=0.9, fused=f)),
                 ("Adam", lambda ps, f: optim.Adam(ps, lr=1e-3, fused=f)),
                 ("Adadelta", lambda ps, f: optim.Adadelta(ps, lr=1.0, fused=f))]:
    net = _dlcore_model(name)
    ps = list(net.parameters())
    for p in ps:
        p.grad = dlcore.from_numpy(rng.standard_normal(p.shape).astype(np.float32))
    opts = {f: mk(ps, f) for f in (True, False)}
    t = {True: [], False: []}
    for _ in range(15):
        for f in (True, False):
            t0 = time.perf_counter()
            opts[f].step()
            t[f].append(time.perf_counter() - t0)
    n = sum(p._data.size for p in ps)
    mt, mf = statistics.median(t[True]), statistics.median(t[False])
    print(f"{name} {kind}: {n} params, fused {mt*1e3:.2f} ms, unfused {mf*1e3:.2f} ms, {mf/mt:.1f}x")
print("load", os.getloadavg())
