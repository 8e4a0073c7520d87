"""Shared fixtures: which of our CPU backends can run here, and RNG seeding."""
import numpy as np
import pytest

import dlcore

_INFO = dlcore.backends()
#: Our CPU backends this machine can run (ref always; avx2/avx512 when the CPU has them).
CPU_BACKENDS = [name for name in ("ref", "avx2", "avx512") if _INFO[name]["available"]]


def pytest_report_header(config):
    usable = [k for k in ("ref", "avx2", "avx512", "onednn", "cuda") if _INFO[k]["available"]]
    return f"dlcore backends usable here: {', '.join(usable)} (auto -> {_INFO['auto']}, cpu {_INFO['cpu']})"


@pytest.fixture(params=CPU_BACKENDS)
def cpu_backend(request):
    """Each of our CPU implementations that can run on this machine."""
    return request.param


@pytest.fixture
def rng(request):
    # A seed per test (stable across runs) so failures reproduce.
    seed = abs(hash(request.node.nodeid)) % (2**32)
    return np.random.default_rng(seed)
