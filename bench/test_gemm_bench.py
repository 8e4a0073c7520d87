"""pytest-benchmark suite for GEMM: dlcore and NumPy on the same shapes.

Run: python -m pytest bench --benchmark-only (not part of CI). For the
side-by-side report with ratios and fractions of peak, use
`python -m dlcore.bench gemm`.
"""
import numpy as np
import pytest

from dlcore.kernels import gemm

SHAPES = [  # (name, M, N, K, trans_b)
    ("square-512", 512, 512, 512, False),
    ("square-1024", 1024, 1024, 1024, False),
    ("square-2048", 2048, 2048, 2048, False),
    ("alexnet-ip1-mb256", 256, 4096, 9216, True),
    ("vgg16-ip2-mb64", 64, 4096, 4096, True),
    ("resnet-fc-mb50", 50, 1000, 2048, True),
]


@pytest.fixture(params=SHAPES, ids=[s[0] for s in SHAPES])
def operands(request):
    name, m, n, k, tb = request.param
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
    return a, b, tb, 2.0 * m * n * k


def test_gemm_dlcore(benchmark, operands):
    a, b, tb, flops = operands
    out = np.empty((a.shape[0], b.shape[0] if tb else b.shape[1]), np.float32)
    benchmark.group = f"gemm {a.shape}x{b.shape}"
    benchmark.extra_info["gflop"] = flops / 1e9
    benchmark(gemm, a, b, trans_b=tb, out=out)


def test_gemm_numpy(benchmark, operands):
    a, b, tb, flops = operands
    bt = b.T if tb else b
    out = np.empty((a.shape[0], bt.shape[1]), np.float32)
    benchmark.group = f"gemm {a.shape}x{b.shape}"
    benchmark.extra_info["gflop"] = flops / 1e9
    benchmark(np.matmul, a, bt, out=out)
