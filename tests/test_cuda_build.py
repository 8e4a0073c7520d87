"""The CUDA backend's build and its behaviour without a GPU (runs everywhere).

- With nvcc on PATH, one kernel file compiles for sm_80 (cheap: the whole
  module is built by `pip install .` anyway; this catches a broken toolchain
  or header early, in seconds).
- An installed dlcore built where nvcc exists must contain dlcore._cuda.
- dlcore._cuda imports without a driver or GPU and then says why it cannot
  run; `import dlcore` never loads it.
- The Philox generator behind dropout matches the Random123 known answers
  (host code, no GPU needed).
"""
import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

import dlcore

ROOT = pathlib.Path(__file__).resolve().parents[1]
NVCC = shutil.which("nvcc")
HAS_CUDA_MODULE = importlib.util.find_spec("dlcore._cuda") is not None


@pytest.mark.skipif(NVCC is None, reason="nvcc is not on PATH")
@pytest.mark.skipif(not (ROOT / "csrc" / "cuda").is_dir(), reason="no source tree next to the tests")
def test_a_kernel_file_compiles_for_ampere(tmp_path):
    cmd = [NVCC, "-std=c++17", "-O1", "-arch=sm_80", f"-I{ROOT / 'csrc'}", "-c",
           str(ROOT / "csrc" / "cuda" / "dropout.cu"), "-o", str(tmp_path / "dropout.o")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "dropout.o").stat().st_size > 0


@pytest.mark.skipif(NVCC is None, reason="nvcc is not on PATH")
def test_installed_package_has_the_cuda_module():
    source_tree = pathlib.Path(dlcore.__file__).resolve().is_relative_to(ROOT / "python")
    if source_tree:
        pytest.skip("dlcore runs from the source tree (PYTHONPATH=python): the module is copied in by hand")
    assert HAS_CUDA_MODULE, "nvcc is present, so `pip install .` (DLCORE_CUDA=AUTO) should have built dlcore._cuda"


def test_import_dlcore_does_not_load_cuda():
    code = "import sys, dlcore; print('dlcore._cuda' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ),
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(not HAS_CUDA_MODULE, reason="dlcore._cuda was not built")
def test_cuda_module_imports_and_probes_anywhere():
    from dlcore import _cuda

    reason = _cuda.probe()
    assert isinstance(reason, str)
    info = dlcore.backends()["cuda"]
    assert info["built"]
    assert info["available"] == (reason == "")
    if reason:
        assert reason in info["reason"]
        with pytest.raises(dlcore.BackendUnavailableError, match="not usable here"):
            dlcore.kernels.gemm([[1.0]], [[1.0]], backend="cuda")
    else:
        assert info["device"] and info["compute_capability"]


# Random123's known-answer tests for Philox-4x32-10 (kat_vectors).
PHILOX_KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.skipif(not HAS_CUDA_MODULE, reason="dlcore._cuda was not built")
@pytest.mark.parametrize("counter,key,expected", PHILOX_KAT)
def test_philox_known_answers(counter, key, expected):
    from dlcore import _cuda

    assert tuple(_cuda.philox4x32_10(list(counter), list(key))) == expected


@pytest.mark.skipif(not HAS_CUDA_MODULE, reason="dlcore._cuda was not built")
def test_gpu_mask_rule_is_the_cpu_mask():
    # philox.h's rule on the host (8 rounds) against the CPU kernels' NumPy reference.
    from dlcore import _cuda
    from dlcore.ops._philox import dropout_mask

    for p, seed in ((0.3, 42), (0.5, 2**40 + 3)):
        want = dropout_mask(700, p, seed)
        got = np.array([_cuda.dropout_keep_host(seed, i, p) for i in range(700)], np.uint8)
        np.testing.assert_array_equal(got, want)


@pytest.mark.skipif(not HAS_CUDA_MODULE, reason="dlcore._cuda was not built")
def test_dropout_rule_keeps_one_minus_p():
    from dlcore import _cuda

    kept = sum(_cuda.dropout_keep_host(42, i, 0.3) for i in range(20000))
    assert abs(kept / 20000 - 0.7) < 0.015
    assert all(_cuda.dropout_keep_host(42, i, 0.0) for i in range(100))
    assert not any(_cuda.dropout_keep_host(42, i, 1.0) for i in range(100))
