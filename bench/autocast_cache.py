"""Inference under dlcore.autocast with the parameters' bf16 casts cached per region (the default) against
cache_enabled=False, interleaved in one run, 1 thread, medians of 7 x 10 forwards.

    PYTHONPATH=python python bench/autocast_cache.py

Training inside one region gains nothing: each optimizer step changes the weights in place, which drops
their cached casts; inference and several forwards per step on the same weights do.
"""
import statistics
import time

import numpy as np

import dlcore
import dlcore.train
from dlcore import nn


def main():
    dlcore.set_num_threads(1)
    rng = np.random.default_rng(0)
    models = {
        "lenet5 batch 64": (dlcore.train.lenet5(), (64, 1, 28, 28)),
        "mlp 3 x Linear(1024, 1024) batch 16": (
            nn.Sequential(nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 1024)),
            (16, 1024)),
    }
    for name, (model, shape) in models.items():
        x = dlcore.tensor(rng.standard_normal(shape).astype(np.float32))
        times = {True: [], False: []}
        for _ in range(7):
            for cache in (True, False):
                with dlcore.no_grad(), dlcore.autocast("cpu", cache_enabled=cache):
                    start = time.perf_counter()
                    for _ in range(10):
                        model(x)
                    times[cache].append((time.perf_counter() - start) / 10)
        on, off = statistics.median(times[True]), statistics.median(times[False])
        print(f"{name}: cached {on * 1e3:.2f} ms, uncached {off * 1e3:.2f} ms per forward: {off / on:.2f}x")


if __name__ == "__main__":
    main()
