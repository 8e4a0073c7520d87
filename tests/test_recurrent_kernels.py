"""The fused recurrent kernels (dlcore.kernels.recurrent_forward / recurrent_backward) beyond the op table:
bitwise the same on 1, 2 and 3 threads, every output element written (recycled NaN-filled memory), and the
float32 layers that run on them held to float64 runs of the same layers, gradients of every input included."""
import numpy as np
import pytest

import dlcore
import dlcore.kernels as K
from dlcore import nn
from optable import RNN_CASES, _rnn_inputs, recurrent_ref

_INFO = dlcore.backends()
CPU_OURS = ("ref", "avx2", "avx512")


def _skip_unless_present(backend):
    if not _INFO[backend]["available"]:
        pytest.skip(f"backend {backend} not run here: {_INFO[backend].get('reason')}")
MODES = ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"]


def _run_both(rng, mode, steps, batch, hidden, reverse, backend):
    gx, w, b, h0, c0 = _rnn_inputs(rng, mode, steps, batch, hidden, True)
    out, gates = K.recurrent_forward(gx, w, b, h0, c0, mode=mode, reverse=reverse, backend=backend)
    dout = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    grads = K.recurrent_backward(dout, out, gates, w, h0, c0, mode=mode, reverse=reverse, backend=backend)
    return (out, gates) + tuple(grads)


@pytest.mark.parametrize("backend", CPU_OURS)
@pytest.mark.parametrize("mode", MODES)
def test_bitwise_the_same_on_1_2_3_threads(mode, backend):
    _skip_unless_present(backend)
    # big enough that the GEMMs and the cell passes split over threads (N x H = 2048 cells a step)
    before = dlcore.get_num_threads()
    results = []
    try:
        for nt in (1, 2, 3):
            dlcore.set_num_threads(nt)
            results.append(_run_both(np.random.default_rng(7), mode, 4, 16, 128, mode == "GRU", backend))
    finally:
        dlcore.set_num_threads(before)
    for nt, other in zip((2, 3), results[1:]):
        for i, (a, b) in enumerate(zip(results[0], other)):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_array_equal(a, b, err_msg=f"{mode}[{backend}] output {i}: 1 vs {nt} threads")


@pytest.mark.parametrize("mode", MODES)
def test_every_output_element_is_written(mode, rng):
    """The outputs are fresh, uninitialized arrays (from the host cache for 64 KiB and more): fill the first
    call's results with NaN and free them, so the second call gets that memory back, and must match."""
    first = _run_both(np.random.default_rng(3), mode, 8, 16, 130, False, "auto")  # RNN out: 66.5 KB
    want = [None if a is None else a.copy() for a in first]
    for a in first:
        if a is not None:
            a.fill(np.nan)
    del first
    again = _run_both(np.random.default_rng(3), mode, 8, 16, 130, False, "auto")
    for i, (a, b) in enumerate(zip(want, again)):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(b, a, err_msg=f"{mode} output {i} after NaN-filled memory")


@pytest.mark.parametrize("backend", CPU_OURS)
def test_the_chosen_implementation_is_the_backend_asked_for(backend, rng):
    _skip_unless_present(backend)
    gx, w, b, h0, c0 = _rnn_inputs(rng, "LSTM", 2, 3, 5, True)
    K.recurrent_forward(gx, w, b, h0, c0, mode="LSTM", backend=backend)
    assert K.last_dispatch() == f"recurrent_forward:recurrent_forward_{backend}"


def test_empty_batch_and_sequence(rng):
    for steps, batch in ((0, 3), (4, 0), (0, 0)):
        gx, w, b, h0, c0 = _rnn_inputs(rng, "LSTM", steps, batch, 3, True)
        out, gates = K.recurrent_forward(gx, w, b, h0, c0, mode="LSTM")
        assert out.shape == (steps, batch, 6) and gates.shape == (steps, batch, 12)
        d_gx, d_gh, dh0, dc0 = K.recurrent_backward(np.ones_like(out), out, gates, w, h0, c0, mode="LSTM")
        assert d_gx.shape == (steps, batch, 12) and d_gh is None
        np.testing.assert_array_equal(dh0, np.zeros((batch, 3), np.float32))
        np.testing.assert_array_equal(dc0, np.zeros((batch, 3), np.float32))


def test_forward_matches_reference_on_every_table_case_in_auto(rng):
    for mode, steps, batch, hidden, reverse, bias in RNN_CASES:
        gx, w, b, h0, c0 = _rnn_inputs(rng, mode, steps, batch, hidden, bias)
        out, gates = K.recurrent_forward(gx, w, b, h0, c0, mode=mode, reverse=reverse)
        want, want_gates = recurrent_ref(gx, w, b, h0, c0, mode, reverse)
        np.testing.assert_allclose(out, want, rtol=2e-5, atol=2e-6)
        assert (gates is None) == (want_gates is None)


# ---- the layers on the fused kernels, against float64 runs of the same layers (the per-step NumPy path)
LAYERS = [("LSTM", {}), ("GRU", {}), ("RNN", {}), ("RNN", {"nonlinearity": "relu"})]


@pytest.mark.parametrize("mode,kw", LAYERS, ids=["LSTM", "GRU", "RNN_TANH", "RNN_RELU"])
@pytest.mark.parametrize("batch,hidden,steps", [(1, 1, 1), (3, 17, 5), (7, 33, 4)])
def test_float32_layer_on_the_fused_kernels_matches_float64(mode, kw, batch, hidden, steps, rng, monkeypatch):
    calls = _spy(monkeypatch)
    m64 = getattr(nn, mode)(5, hidden, bidirectional=True, dtype=np.float64, **kw)
    m32 = getattr(nn, mode)(5, hidden, bidirectional=True, **kw)
    m32.load_state_dict(m64.state_dict())
    x = rng.standard_normal((steps, batch, 5))
    h0 = rng.standard_normal((2, batch, hidden)) * 0.5
    c0 = rng.standard_normal((2, batch, hidden)) * 0.5
    w_out = rng.standard_normal((steps, batch, 2 * hidden))
    results = []
    for model, dtype in ((m64, np.float64), (m32, np.float32)):
        xt = dlcore.tensor(x.astype(dtype), requires_grad=True)
        ht = dlcore.tensor(h0.astype(dtype), requires_grad=True)
        ct = dlcore.tensor(c0.astype(dtype), requires_grad=True)
        y, state = model(xt, (ht, ct) if mode == "LSTM" else ht)
        h_n = state[0] if mode == "LSTM" else state
        loss = (y * dlcore.tensor(w_out.astype(dtype))).sum() + (h_n * h_n).sum()
        if mode == "LSTM":
            loss = loss + state[1].sum()
        loss.backward()
        grads = [xt.grad.numpy(), ht.grad.numpy()] + ([ct.grad.numpy()] if mode == "LSTM" else [])
        grads += [p.grad.numpy() for p in model.parameters()]
        results.append([y.numpy(), h_n.numpy()] + grads)
    # float32 ran both directions on the fused kernels, float64 on the per-step loop
    assert calls == ["recurrent_forward"] * 2 + ["recurrent_backward"] * 2, calls
    for i, (a, b) in enumerate(zip(*results)):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(a).max()), err_msg=f"output {i}")


def _spy(monkeypatch):
    """Records each call of the fused kernels (the layer looks them up in dlcore.kernels at call time)."""
    calls = []

    def recording(name, fn):
        def recorded(*args, **kwargs):
            calls.append(name)
            return fn(*args, **kwargs)
        return recorded
    for name in ("recurrent_forward", "recurrent_backward"):
        monkeypatch.setattr(K, name, recording(name, getattr(K, name)))
    return calls


def test_onednn_backend_keeps_the_per_step_loop(rng, monkeypatch):
    """oneDNN has no fused recurrent primitive: under dlcore.backend("onednn") the layer's step products run on
    oneDNN's GEMM as before, not silently on ours."""
    if not _INFO["onednn"]["available"]:
        pytest.skip(f"onednn unavailable: {_INFO['onednn'].get('reason')}")
    calls = _spy(monkeypatch)
    lstm = nn.LSTM(4, 6)
    x = dlcore.tensor(rng.standard_normal((3, 2, 4)).astype(np.float32))
    with dlcore.backend("onednn"):
        y, _ = lstm(x)
        y.sum().backward()
    assert calls == []
    y2, _ = lstm(x)
    assert calls == ["recurrent_forward"]
    np.testing.assert_allclose(y2.numpy(), y.numpy(), rtol=1e-5, atol=1e-6)


def test_an_in_place_change_of_the_fused_output_raises(rng):
    """The fused backward reads the states it returned: changing them in place before backward must raise
    (as torch's LSTM does), not give wrong gradients."""
    lstm = nn.LSTM(3, 4)
    y, _ = lstm(dlcore.tensor(rng.standard_normal((5, 2, 3)).astype(np.float32), requires_grad=True))
    y += 1
    with pytest.raises(RuntimeError, match="RecurrentLayer.*in-place"):
        y.sum().backward()
