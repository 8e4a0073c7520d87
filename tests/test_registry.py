"""Every dispatch registry entry can decline, with a reason, and forcing one that declines raises it.

``_C.registry_entries()`` lists every entry of every family's registry
(csrc/dispatch/registry.h). An entry declines for one of two reasons: its ISA
cannot run here (the registry says why, the same text for every family), or
its ``declines()`` refuses inputs its algorithm does not handle (conv's
1x1/depthwise/narrow/gather, gemm's dtype, int8 maddubs). An entry with no
``declines()`` is the catch-all of its ISA and must come last among that
ISA's entries: otherwise it would hide the ones after it.
"""
from collections import defaultdict

import numpy as np
import pytest

import dlcore
from dlcore import _C

ENTRIES = _C.registry_entries()
#: registry op name -> [(name, isa, declines_inputs, unavailable)] in list order (bf16 conv lists share
#: the float32 op names: they are listed under "<op>@bf16")
LISTS = defaultdict(list)
for _e in ENTRIES:
    _key = _e["op"] + ("@bf16" if "_bf16_gemm_" in _e["name"] else "")
    LISTS[_key].append(_e)


def test_every_kernel_family_is_listed():
    ops = {e["op"] for e in ENTRIES}
    api = set(dlcore.kernels.__all__) - {"last_dispatch"}
    # every float32 kernel of the API has a registry (the oneDNN / CUDA modules have none of ours)
    assert api <= ops, f"kernels without a listed registry: {sorted(api - ops)}"
    assert {"gemm_u8s8s32", "conv2d_u8s8", "binary_gemm", "binary_conv2d", "binary_pack"} <= ops


def test_every_entry_has_a_reason_to_decline():
    for op, entries in LISTS.items():
        assert entries[-1]["isa"] == "ref", f"{op}: the portable reference must be last"
        by_isa = defaultdict(list)
        for e in entries:
            by_isa[e["isa"]].append(e)
        for isa, mine in by_isa.items():
            # all but the ISA's last entry refuse some inputs; the last is the ISA's catch-all
            for e in mine[:-1]:
                assert e["declines_inputs"], f"{op}: {e['name']} has no declines() but is not {isa}'s last entry"
        for e in entries:
            assert isinstance(e["unavailable"], str)
            runs_here = dlcore.backends().get(e["isa"], {}).get("available", e["isa"] == "ref")
            assert (e["unavailable"] == "") == runs_here, e
            # the reason an entry cannot run names what is missing
            if e["unavailable"]:
                assert "lacks" in e["unavailable"] or "not compiled" in e["unavailable"], e


MISSING = sorted({e["isa"] for e in ENTRIES if e["unavailable"]} & {"avx512", "avx2"})


@pytest.mark.skipif(not MISSING, reason="every float32 ISA runs on this CPU: none declines for its ISA")
@pytest.mark.parametrize("isa", MISSING)
def test_forcing_an_isa_this_cpu_lacks_raises_the_reason(isa, rng):
    reason = next(e["unavailable"] for e in ENTRIES if e["isa"] == isa)
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    calls = [
        lambda: dlcore.kernels.relu_forward(x, backend=isa),
        lambda: dlcore.kernels.max_pool2d_forward(x, 2, backend=isa),
        lambda: dlcore.kernels.lrn_forward(x, 3, backend=isa),
        lambda: dlcore.kernels.softmax_forward(x.reshape(6, 25), backend=isa),
        lambda: dlcore.kernels.gemm(x.reshape(6, 25), x.reshape(25, 6), backend=isa),
    ]
    for call in calls:
        with pytest.raises(dlcore.BackendUnavailableError, match="not available") as info:
            call()
        assert reason in str(info.value)


@pytest.mark.skipif(dlcore.backends()["auto"] == "ref", reason="auto is the reference here")
def test_auto_names_the_entries_whose_isa_is_missing(rng):
    """last_dispatch(detail=True) lists, before the chosen entry, each faster one and why it declined:
    for every family, entries of an ISA this CPU lacks say so."""
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    for op, call in [("max_pool2d_forward", lambda: dlcore.kernels.max_pool2d_forward(x, 2)),
                     ("relu_forward", lambda: dlcore.kernels.relu_forward(x)),
                     ("lrn_forward", lambda: dlcore.kernels.lrn_forward(x, 3))]:
        call()
        d = dlcore.kernels.last_dispatch(detail=True)
        assert d["op"] == op
        names = [e["name"] for e in LISTS[op]]
        chosen = names.index(d["implementation"])
        expected = [e for e in LISTS[op][:chosen]]
        assert [n for n, _ in d["declined"]] == [e["name"] for e in expected]
        for (_, why), e in zip(d["declined"], expected):
            assert why == e["unavailable"] and why


def test_forcing_an_entry_whose_declines_refuses_raises_the_reason(rng):
    """An ISA whose only entries refuse the inputs: conv's reference accepts, but a 1x1 conv forced onto a
    backend is served by its gemm1x1 entry; a non-1x1 one is refused by that entry and goes on to the next.
    Here: gemm's float32 entries refuse bf16 operands and say so in last_dispatch(detail=True)."""
    a = rng.standard_normal((3, 5)).astype(np.float32)
    b = rng.standard_normal((5, 7)).astype(np.float32)
    ab, bb = dlcore.kernels.cast_f32_to_bf16(a), dlcore.kernels.cast_f32_to_bf16(b)
    dlcore.kernels.gemm(ab, bb, backend="ref")
    d = dlcore.kernels.last_dispatch(detail=True)
    assert d["implementation"] == "gemm_bf16cvt_ref_4x8"
    assert dict(d["declined"])["gemm_ref_4x8"]


@pytest.mark.skipif(dlcore.backends()["auto"] == "ref", reason="auto is the reference here")
def test_softmax_rows_entry_declines_a_strided_axis(rng):
    """Softmax's two algorithms are entries per ISA: rows (axis innermost) declines any other axis, with the
    reason, and strided runs it; both match the reference."""
    isa = dlcore.backends()["auto"]
    x = rng.standard_normal((5, 7, 3)).astype(np.float32)
    y = dlcore.kernels.softmax_forward(x, 1, backend=isa)
    d = dlcore.kernels.last_dispatch(detail=True)
    assert d["implementation"] == f"softmax_{isa}_strided"
    assert "not the innermost (3 elements after it)" in dict(d["declined"])[f"softmax_{isa}_rows"]
    np.testing.assert_allclose(y, dlcore.kernels.softmax_forward(x, 1, backend="ref"), rtol=1e-6, atol=1e-7)
    dlcore.kernels.log_softmax_forward(x, -1, backend=isa)
    assert dlcore.kernels.last_dispatch() == f"log_softmax_forward:softmax_{isa}_rows"


@pytest.mark.skipif(dlcore.backends()["auto"] == "ref", reason="auto is the reference here")
@pytest.mark.parametrize("op", ["max_pool2d_forward", "avg_pool2d_forward"])
def test_pool_forward_shuffle_entry_declines_other_strides(op, rng):
    """Pooling forward's shuffle-load rows (strides 1 and 2 along W) and gathered rows (any stride) are
    entries per ISA: stride 3 is declined with the reason and runs gathered; all match the reference."""
    isa = dlcore.backends()["auto"]
    fn = getattr(dlcore.kernels, op)
    x = rng.standard_normal((2, 3, 11, 13)).astype(np.float32)
    for stride, algo in [(1, "shuffle"), (2, "shuffle"), (3, "gather"), ((2, 3), "gather")]:
        y = fn(x, 3, stride, 1, backend=isa)
        d = dlcore.kernels.last_dispatch(detail=True)
        assert d["implementation"] == f"{op}_{isa}_{algo}", (stride, d)
        if algo == "gather":
            assert "shuffle loads serve strides 1 and 2" in dict(d["declined"])[f"{op}_{isa}_shuffle"]
        y_ref = fn(x, 3, stride, 1, backend="ref")
        out = y if isinstance(y, tuple) else (y,)
        ref = y_ref if isinstance(y_ref, tuple) else (y_ref,)
        for a, b in zip(out, ref):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
