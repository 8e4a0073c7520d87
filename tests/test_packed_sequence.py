"""PackedSequence (dlcore.nn.utils.rnn, torch's names) and RNN/LSTM/GRU on packed input: each sequence of a
packed batch gives what it gives run alone, the states are each sequence's last, gradients pass a float64
gradcheck, and the helpers round-trip. (Held to torch in a scratch script: float64 outputs, states and every
gradient within 6e-16 relative, float32 within 3e-7.)"""
import numpy as np
import pytest

import dlcore
from dlcore import nn
from dlcore.autograd import gradcheck
from dlcore.nn.utils import rnn as R

LENGTHS = [3, 6, 1, 4]  # unsorted, with a length-1 sequence and equal batch sizes over several steps


def _t(a, grad=False):
    return dlcore.tensor(a, requires_grad=grad)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_each_packed_sequence_matches_running_it_alone(mode, dtype, rng):
    model = getattr(nn, mode)(3, 5, num_layers=2, bidirectional=True, dtype=dtype)
    seqs = [rng.standard_normal((n, 3)).astype(dtype) for n in LENGTHS]
    packed = R.pack_sequence([_t(s) for s in seqs], enforce_sorted=False)
    out, state = model(packed)
    h_n = state[0] if mode == "LSTM" else state
    padded, lengths = R.pad_packed_sequence(out, batch_first=True)
    assert lengths.numpy().tolist() == LENGTHS
    tol = dict(rtol=1e-12, atol=1e-13) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)
    for i, s in enumerate(seqs):
        alone, alone_state = model(_t(s[:, None, :]))
        np.testing.assert_allclose(padded.numpy()[i, :LENGTHS[i]], alone.numpy()[:, 0], **tol)
        assert np.all(padded.numpy()[i, LENGTHS[i]:] == 0)
        alone_h = alone_state[0] if mode == "LSTM" else alone_state
        np.testing.assert_allclose(h_n.numpy()[:, i], alone_h.numpy()[:, 0], **tol)
        if mode == "LSTM":
            np.testing.assert_allclose(state[1].numpy()[:, i], alone_state[1].numpy()[:, 0], **tol)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_packed_gradients_float64(mode, rng):
    model = getattr(nn, mode)(2, 3, bidirectional=True, dtype=np.float64)
    names = [n for n, _ in model.named_parameters()]
    lengths = [2, 4, 1]

    def run(x, h0, *params):
        for name, p in zip(names, params):
            model._parameters[name] = p
        packed = R.pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, state = model(packed, (h0, h0 * 0.5) if mode == "LSTM" else h0)
        h = state[0] if mode == "LSTM" else state
        padded, _ = R.pad_packed_sequence(out)
        return dlcore.cat([padded.reshape(-1), h.reshape(-1)])

    gradcheck(run, [_t(rng.standard_normal((4, 3, 2)), True), _t(rng.standard_normal((2, 3, 3)), True)]
              + [_t(p.numpy(), True) for p in model.parameters()])


def test_the_helpers_round_trip(rng):
    seqs = [_t(rng.standard_normal((n, 2))) for n in (3, 5, 2)]
    padded = R.pad_sequence(seqs)  # (L, N, *)
    assert padded.shape == (5, 3, 2)
    packed = R.pack_padded_sequence(padded, [3, 5, 2], enforce_sorted=False)
    assert packed.batch_sizes.tolist() == [3, 3, 2, 1, 1]
    assert packed.sorted_indices.tolist() == [1, 0, 2] and packed.unsorted_indices.tolist() == [1, 0, 2]
    # step-major rows, longest first: step 0 of sequences 1, 0, 2, then step 1 ...
    np.testing.assert_array_equal(packed.data.numpy()[:3], np.stack([s.numpy()[0] for s in (seqs[1], seqs[0],
                                                                                                 seqs[2])]))
    again, lengths = R.pad_packed_sequence(packed, batch_first=True, padding_value=-7.0, total_length=6)
    assert again.shape == (3, 6, 2) and lengths.numpy().tolist() == [3, 5, 2]
    assert np.all(again.numpy()[2, 2:] == -7.0)
    for s, u in zip(seqs, R.unpack_sequence(packed)):
        np.testing.assert_array_equal(u.numpy(), s.numpy())
    for s, u in zip(seqs, R.unpad_sequence(again, lengths, batch_first=True)):
        np.testing.assert_array_equal(u.numpy(), s.numpy())
    left = R.pad_sequence(seqs, batch_first=True, padding_value=1.5, padding_side="left")
    np.testing.assert_array_equal(left.numpy()[2, 3:], seqs[2].numpy())
    assert np.all(left.numpy()[2, :3] == 1.5)


def test_refusals(rng):
    x = _t(rng.standard_normal((4, 2, 3)))
    with pytest.raises(RuntimeError, match="enforce_sorted"):
        R.pack_padded_sequence(x, [2, 4])
    with pytest.raises(ValueError, match="exceeds"):
        R.pack_padded_sequence(x, [5, 4])
    with pytest.raises(ValueError, match="> 0"):
        R.pack_padded_sequence(x, [4, 0])
    packed = R.pack_padded_sequence(x, [4, 2])
    with pytest.raises(ValueError, match="total_length"):
        R.pad_packed_sequence(packed, total_length=3)
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=2)(packed)
    with pytest.raises(ValueError, match=r"\(sum of lengths, 5\)"):
        nn.GRU(5, 4)(packed)
