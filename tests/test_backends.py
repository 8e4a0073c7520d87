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
    if info["avx512"].get("emulated"):
        assert info["avx512"]["available"] == ({"avx2", "fma"} <= have) and "emulated" in info["avx512"]["reason"]
    elif info["avx512"]["built"]:
        assert info["avx512"]["available"] == ({"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= have)
    # The low-precision tiers: /proc/cpuinfo's names for what each one needs.
    avx512 = {"avx512f", "avx512bw", "avx512vl", "avx512dq"}
    needs = {"avx512_vnni": avx512 | {"avx512_vnni"}, "avx_vnni": {"avx2", "fma", "avx_vnni"},
             "avx512_bf16": avx512 | {"avx512_bf16"}, "avx512_vpopcnt": avx512 | {"avx512_vpopcntdq"}}
    for tier, flags_needed in needs.items():
        if info[tier].get("emulated"):  # the ISA emulation test build runs them as AVX2 code
            assert info[tier]["available"] == ({"avx2", "fma"} <= have), (tier, info[tier])
            assert "emulated" in info[tier]["reason"]
        elif info[tier]["built"]:
            assert info[tier]["available"] == (flags_needed <= have), (tier, info[tier])
            assert info[tier]["available"] or info[tier]["reason"]
    if info["amx"].get("emulated"):
        assert info["amx"]["available"] and "AMX emulator" in info["amx"]["reason"]
    elif info["amx"]["built"] and not {"amx_tile", "amx_bf16", "amx_int8"} <= have:
        assert not info["amx"]["available"] and info["amx"]["reason"]


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


def test_wide_isa_code_cannot_leak_into_baseline_code():
    """AVX-512 code may sit only in functions the linker cannot merge across files.

    A function compiled with AVX-512 flags that has global or weak linkage
    (an inline function or template shared by several .cpp files) can be the
    copy the linker keeps for a baseline caller, which then crashes on CPUs
    without AVX-512. Kernel templates therefore live in anonymous namespaces
    (local symbols). This checks every function containing zmm instructions
    is a local symbol or an explicitly AVX-512-named entry point.
    """
    import shutil
    if shutil.which("objdump") is None:
        pytest.skip("objdump not installed")
    path = importlib.util.find_spec("dlcore._C").origin
    symbols = subprocess.run(["objdump", "-t", path], capture_output=True, text=True, check=True).stdout
    binding = {}
    for line in symbols.splitlines():
        parts = line.split()
        if len(parts) >= 6 and "F" in parts[2:4]:
            binding[parts[-1]] = parts[1]  # 'l' local, 'g' global, 'w' weak
    if not binding:
        pytest.skip("the module carries no symbol table (stripped)")
    disasm = subprocess.run(["objdump", "-d", "--no-show-raw-insn", path],
                            capture_output=True, text=True, check=True).stdout
    offenders, current = set(), ""
    for line in disasm.splitlines():
        if line.endswith(">:"):
            current = line[line.index("<") + 1:-2]
        elif "%zmm" in line:
            local = binding.get(current, binding.get(current.split("@")[0])) == "l"
            if not local and not any(tier in current.lower() for tier in ("avx512", "amx")):
                offenders.add(current)
    assert not offenders, f"zmm code in mergeable (global/weak) functions: {sorted(offenders)[:5]}"
