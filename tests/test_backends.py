"""dlcore.backends() tells the truth, and unavailable backends fail loudly."""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import dlcore


def test_backends_structure():
    info = dlcore.backends()
    for name in ("ref", "avx2", "avx512", "onednn", "cuda"):
        assert set(info[name]) >= {"built", "available"}
        if not info[name]["available"]:
            assert info[name]["reason"]
    assert info["ref"]["available"]
    assert info["auto"] in ("ref", "avx2", "avx512")
    assert info[info["auto"]]["available"]


def test_isa_availability_matches_cpu_flags():
    flags = ""
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    if not flags:
        pytest.skip("no /proc/cpuinfo flags to compare with")
    have = set(flags.split(":", 1)[1].split())
    info = dlcore.backends()
    if info["avx2"]["built"]:
        assert info["avx2"]["available"] == ({"avx2", "fma"} <= have)
    if info["avx512"]["built"]:
        assert info["avx512"]["available"] == ({"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= have)


def test_unavailable_isa_raises_not_falls_back():
    info = dlcore.backends()
    a = np.ones((2, 2), np.float32)
    for name in ("avx2", "avx512"):
        if not info[name]["available"]:
            with pytest.raises(dlcore.BackendUnavailableError, match=name):
                dlcore.kernels.gemm(a, a, backend=name)


@pytest.mark.parametrize("name", ["onednn", "cuda"])
def test_optional_backend_missing_is_a_clear_error(name):
    info = dlcore.backends()
    if info[name]["available"]:
        pytest.skip(f"{name} is available here")
    a = np.ones((2, 2), np.float32)
    with pytest.raises(dlcore.BackendUnavailableError, match=name):
        dlcore.kernels.gemm(a, a, backend=name)


def test_threads_roundtrip():
    before = dlcore.get_num_threads()
    try:
        dlcore.set_num_threads(1)
        assert dlcore.get_num_threads() == 1
        with pytest.raises(ValueError):
            dlcore.set_num_threads(0)
    finally:
        dlcore.set_num_threads(before)


def test_verbose_prints_the_choice():
    code = ("import numpy as np, dlcore; a = np.ones((3, 3), np.float32); "
            "dlcore.kernels.gemm(a, a, backend='ref')")
    env = dict(os.environ, DLCORE_VERBOSE="1")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert "dlcore: gemm -> gemm_ref_" in res.stderr


def test_wide_isa_code_stays_in_its_own_symbols():
    """No function outside an AVX-512 symbol may use zmm registers (ISA isolation)."""
    import shutil
    if shutil.which("objdump") is None:
        pytest.skip("objdump not installed")
    path = importlib.util.find_spec("dlcore._C").origin
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-C", path],
                         capture_output=True, text=True, check=True).stdout
    offenders = set()
    current = ""
    for line in out.splitlines():
        if line.endswith(">:"):
            current = line
        elif "%zmm" in line and "Avx512" not in current and "avx512" not in current:
            offenders.add(current)
    assert not offenders, f"zmm code outside AVX-512 functions: {sorted(offenders)[:5]}"
