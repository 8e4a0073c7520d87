"""pytest-benchmark suite for LRN and pooling: dlcore and the NumPy versions on network layers.

Run: python -m pytest bench --benchmark-only (not part of CI). For the side-by-side report with
GB/s, ratios and fractions of the measured STREAM copy, use `python -m dlcore.bench poolrn`.
"""
import numpy as np
import pytest

from dlcore.bench import poolrn as ref
from dlcore.kernels import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    lrn_backward,
    lrn_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)

LRN = [("alexnet-norm1-mb8", (8, 96, 55, 55)), ("alexnet-norm2-mb8", (8, 256, 27, 27))]
POOL = [("alexnet-pool1-mb8", (8, 96, 55, 55), 3, 2, 0), ("resnet50-pool1-mb4", (4, 64, 112, 112), 3, 2, 1)]
AVG = [("resnet50-avepool5-mb16", (16, 2048, 7, 7), 7, 1, 0)]
HP = (5, 1e-4, 0.75, 1.0)


def data(shape):
    rng = np.random.default_rng(0)
    return rng.standard_normal(shape, dtype=np.float32)


@pytest.mark.parametrize("impl", ["dlcore", "numpy"])
@pytest.mark.parametrize("name,shape", LRN, ids=[c[0] for c in LRN])
def test_lrn_forward(benchmark, name, shape, impl):
    x = data(shape)
    benchmark.group = f"lrn fwd {name}"
    benchmark(lrn_forward, x, *HP) if impl == "dlcore" else benchmark(ref.np_lrn_forward, x, *HP)


@pytest.mark.parametrize("impl", ["dlcore", "numpy"])
@pytest.mark.parametrize("name,shape", LRN, ids=[c[0] for c in LRN])
def test_lrn_backward(benchmark, name, shape, impl):
    x, dy = data(shape), data(shape)
    benchmark.group = f"lrn bwd {name}"
    benchmark(lrn_backward, dy, x, *HP) if impl == "dlcore" else benchmark(ref.np_lrn_backward, dy, x, *HP)


@pytest.mark.parametrize("impl", ["dlcore", "numpy"])
@pytest.mark.parametrize("name,shape,k,s,p", POOL, ids=[c[0] for c in POOL])
def test_max_pool(benchmark, name, shape, k, s, p, impl):
    x = data(shape)
    y, idx = max_pool2d_forward(x, k, s, p)
    oh, ow = y.shape[2:]
    benchmark.group = f"maxpool fwd+bwd {name}"
    if impl == "dlcore":
        benchmark(lambda: max_pool2d_backward(max_pool2d_forward(x, k, s, p)[0], idx, shape))
    else:
        benchmark(lambda: ref.np_max_backward(ref.np_max_forward(x, (k, k), (s, s), (p, p), oh, ow)[0], idx, shape))


@pytest.mark.parametrize("impl", ["dlcore", "numpy"])
@pytest.mark.parametrize("name,shape,k,s,p", AVG, ids=[c[0] for c in AVG])
def test_avg_pool(benchmark, name, shape, k, s, p, impl):
    x = data(shape)
    y = avg_pool2d_forward(x, k, s, p)
    oh, ow = y.shape[2:]
    benchmark.group = f"avgpool fwd+bwd {name}"
    if impl == "dlcore":
        benchmark(lambda: avg_pool2d_backward(avg_pool2d_forward(x, k, s, p), shape, k, s, p))
    else:
        benchmark(lambda: ref.np_avg_backward(ref.np_avg_forward(x, (k, k), (s, s), (p, p), oh, ow), shape,
                                              (k, k), (s, s), (p, p)))
