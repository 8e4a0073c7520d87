"""pytest-benchmark suite for the CUDA kernels (not run by CI; needs a GPU and CuPy).

python -m pytest bench/test_gpu_bench.py --benchmark-only
Each case synchronizes the device inside the timed call, so the figures are
wall-clock per launch; python -m dlcore.bench gpu gives event-timed medians.
"""
import pytest

import dlcore

_INFO = dlcore.backends()["cuda"]
if not _INFO["available"]:
    pytest.skip(f"CUDA backend not usable here: {_INFO['reason']}", allow_module_level=True)
cp = pytest.importorskip("cupy")
from dlcore import _cuda  # noqa: E402


def _timed(benchmark, fn):
    def call():
        fn()
        cp.cuda.get_current_stream().synchronize()

    benchmark(call)


@pytest.mark.parametrize("n", [1024, 2048, 4096])
def test_sgemm(benchmark, n):
    a = cp.random.standard_normal((n, n), dtype=cp.float32)
    out = cp.empty_like(a)
    _timed(benchmark, lambda: _cuda.gemm(a, a, False, False, 1.0, 0.0, out, "cuda"))


@pytest.mark.parametrize("n", [1024, 2048, 4096])
def test_cublas_sgemm(benchmark, n):
    a = cp.random.standard_normal((n, n), dtype=cp.float32)
    out = cp.empty_like(a)
    _timed(benchmark, lambda: cp.matmul(a, a, out=out))


@pytest.mark.parametrize("direction", ["forward", "backward_data", "backward_weights"])
def test_conv_resnet_3x3(benchmark, direction):
    x = cp.random.standard_normal((16, 64, 56, 56), dtype=cp.float32)
    w = cp.random.standard_normal((64, 64, 3, 3), dtype=cp.float32)
    dy = cp.random.standard_normal((16, 64, 56, 56), dtype=cp.float32)
    fn = {
        "forward": lambda: _cuda.conv2d_forward(x, w, None, 1, 1, 1, 1, "cuda"),
        "backward_data": lambda: _cuda.conv2d_backward_data(dy, w, x.shape, 1, 1, 1, 1, "cuda"),
        "backward_weights": lambda: _cuda.conv2d_backward_weights(x, dy, w.shape, 1, 1, 1, 1, True, "cuda"),
    }[direction]
    _timed(benchmark, fn)


def test_softmax_rows(benchmark):
    x = cp.random.standard_normal((4096, 1000), dtype=cp.float32)
    _timed(benchmark, lambda: _cuda.softmax_forward(x, -1, "cuda"))
