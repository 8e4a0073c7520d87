"""The ISA emulation test build (CMake DLCORE_ISA_EMULATION=ON, csrc/core/emulate): every tier above
AVX2 reports itself available *and emulated*, and the probes that run each emulated ISA's instructions
in a tight loop work; a normal build never says "emulated". The kernels' own tests (test_bf16,
test_lowbit, test_ops, test_gemm, test_conv, ...) run on the emulated tiers because they are
available; .ci/run's `emulate` step runs them there."""
import pytest

import dlcore
from dlcore import _C

INFO = dlcore.backends()
TIERS = ("avx512", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx", "avx512_vpopcnt")
EMULATED = [t for t in TIERS if INFO[t].get("emulated")]
needs_emulation = pytest.mark.skipif(not EMULATED, reason="not the ISA emulation build (DLCORE_ISA_EMULATION=OFF)")


def test_normal_build_never_claims_emulation():
    if EMULATED:
        pytest.skip("this is the ISA emulation build")
    assert all("emulated" not in INFO[t] for t in TIERS + ("ref", "avx2"))


@needs_emulation
def test_every_tier_is_emulated_and_says_so():
    assert set(EMULATED) == set(TIERS)
    for tier in TIERS:
        assert INFO[tier]["available"], INFO[tier]
        assert "emulated" in INFO[tier]["reason"]
    assert "AMX emulator" in INFO["amx"]["reason"]
    assert "emulated" not in INFO["avx2"] and "emulated" not in INFO["ref"]  # those run natively


@needs_emulation
@pytest.mark.parametrize("isa", ["avx512_bf16", "amx"])
def test_bf16_peak_probes_run_emulated(isa):
    # the AMX probe: LDTILECFG, TILEZERO, TILELOADD, TDPBF16PS, TILESTORED, TILERELEASE on the emulator
    assert _C.bf16_peak_gflops(isa, 1, 3) > 0


@needs_emulation
@pytest.mark.parametrize("kind", ["avx512_vnni", "avx_vnni", "avx512_vpopcnt"])
def test_lowbit_peak_probes_run_emulated(kind):
    assert _C.lowbit_peak_gops(kind, 1, 3) > 0
