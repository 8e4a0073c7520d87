"""Shared fixtures: which of our CPU backends can run here, and RNG seeding."""
import os
import zlib

import numpy as np
import pytest

import dlcore

_INFO = dlcore.backends()
#: Our CPU backends this machine can run (ref always; avx2/avx512 when the CPU has them).
CPU_BACKENDS = [name for name in ("ref", "avx2", "avx512") if _INFO[name]["available"]]


def pytest_report_header(config):
    usable = [k for k in ("ref", "avx2", "avx512", "onednn", "cuda") if _INFO[k]["available"]]
    header = f"dlcore backends usable here: {', '.join(usable)} (auto -> {_INFO['auto']}, cpu {_INFO['cpu']})"
    emulated = [k for k, v in _INFO.items() if isinstance(v, dict) and v.get("emulated")]
    if emulated:  # the ISA emulation test build (CMake DLCORE_ISA_EMULATION=ON)
        header += f"\nISA tiers EMULATED (SIMDe / AMX emulator, correctness only): {', '.join(emulated)}"
    return header


@pytest.fixture(params=CPU_BACKENDS)
def cpu_backend(request):
    """Each of our CPU implementations that can run on this machine."""
    return request.param


@pytest.fixture
def rng(request):
    """A generator seeded from the test's id: stable across runs and processes
    (crc32, not hash(), which Python randomizes per process), so a failure
    reproduces. DLCORE_TEST_SEED=<n> mixes in n to explore other draws."""
    seed = zlib.crc32(request.node.nodeid.encode()) ^ int(os.environ.get("DLCORE_TEST_SEED", "0"))
    return np.random.default_rng(seed)
