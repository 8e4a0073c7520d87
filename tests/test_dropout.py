"""Dropout: the exact Philox mask (vs a NumPy Philox), statistics, thread-count independence."""
import numpy as np
import pytest

import dlcore
from dlcore.kernels import dropout_backward, dropout_forward
from dlcore.ops._philox import DROPOUT_ROUNDS, dropout_mask, philox4x32
from opcheck import ODD_SIZES, assert_close, randn


def reference_mask(n, p, seed):
    return dropout_mask(n, p, seed)


def test_reference_philox_matches_random123_known_answers():
    # Random123 kat_vectors: philox4x32_10, counter 0 / key 0. The dropout mask
    # runs the same round function for DROPOUT_ROUNDS = 8 rounds.
    zero = philox4x32(np.array([0], np.uint64), 0, rounds=10)
    assert [int(w[0]) for w in zero] == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    assert DROPOUT_ROUNDS == 8


def test_mask_uses_eight_rounds():
    # Element 0 takes the low 16 bits of word 0 of call 0: with p just below
    # and just above that u16, it is kept and dropped (8 rounds, not 10).
    seed = 7
    u16 = int(philox4x32(np.array([0], np.uint64), seed, rounds=8)[0][0]) & 0xFFFF
    u16_ten = int(philox4x32(np.array([0], np.uint64), seed, rounds=10)[0][0]) & 0xFFFF
    assert u16 != u16_ten and 0 < u16 < 65535
    x = np.ones(1, np.float32)
    assert dropout_forward(x, (u16 - 0.5) / 65536, seed)[1][0] == 1
    assert dropout_forward(x, (u16 + 0.5) / 65536, seed)[1][0] == 0


@pytest.mark.parametrize("n", ODD_SIZES + (1000, 4097))
def test_exact_mask_and_values(cpu_backend, rng, n):
    x = randn(rng, n)
    p, seed = 0.3, 1234567890123
    y, mask = dropout_forward(x, p, seed, backend=cpu_backend)
    assert mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, reference_mask(n, p, seed))
    assert_close(y, x.astype(np.float64) * mask / (1 - np.float32(p)), rtol=1e-6, atol=0)
    dy = randn(rng, n)
    dx = dropout_backward(dy, mask, p, backend=cpu_backend)
    assert_close(dx, dy.astype(np.float64) * mask / (1 - np.float32(p)), rtol=1e-6, atol=0)


def test_large_arrays_take_the_streaming_path(cpu_backend, rng):
    # >= 4 MiB of output: non-temporal stores, split over threads at group boundaries.
    n = (1 << 20) + 129
    x = randn(rng, n)
    p, seed = 0.7, 99
    y, mask = dropout_forward(x, p, seed, backend=cpu_backend)
    np.testing.assert_array_equal(mask, reference_mask(n, p, seed))
    scale = 1 / (1 - np.float32(p))
    assert_close(y, x.astype(np.float64) * mask * scale, rtol=1e-6, atol=0)
    dx = dropout_backward(y, mask, p, backend=cpu_backend)
    assert_close(dx, y.astype(np.float64) * mask * scale, rtol=1e-6, atol=0)


def test_keep_probability_is_p_rounded_up_to_sixteen_bits(cpu_backend):
    # u16 >= ceil(p * 2^16): p = 2^-16 drops exactly the elements whose u16 is 0.
    n = 1 << 18
    ones = np.ones(n, np.float32)
    for p in (2.0**-16, 0.5, 1 - 2.0**-16):
        mask = dropout_forward(ones, p, 5, backend=cpu_backend)[1]
        np.testing.assert_array_equal(mask, reference_mask(n, p, 5))
    dropped = n - int(dropout_forward(ones, 2.0**-16, 5, backend=cpu_backend)[1].sum())
    assert 0 < dropped < 20  # expected n / 2^16 = 4


def test_same_mask_on_every_backend_and_thread_count(rng):
    x = randn(rng, 3, 50_001)
    before = dlcore.get_num_threads()
    masks = []
    try:
        for threads in (1, 2):
            dlcore.set_num_threads(threads)
            for backend in [b for b in ("ref", "avx2", "avx512") if dlcore.backends()[b]["available"]]:
                masks.append(dropout_forward(x, 0.5, 42, backend=backend)[1])
    finally:
        dlcore.set_num_threads(before)
    for m in masks[1:]:
        np.testing.assert_array_equal(m, masks[0])


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_kept_fraction_within_statistical_bounds(cpu_backend, p):
    n = 200_000
    _, mask = dropout_forward(np.ones(n, np.float32), p, seed=7, backend=cpu_backend)
    kept = mask.mean()
    sigma = np.sqrt(p * (1 - p) / n)
    assert abs(kept - (1 - p)) < 5 * sigma, f"kept {kept:.4f}, expected {1 - p} +- {5 * sigma:.4f}"
    other = dropout_forward(np.ones(n, np.float32), p, seed=8, backend=cpu_backend)[1]
    assert (other != mask).mean() > 0.5 * 2 * p * (1 - p)  # different seeds: (nearly) independent masks


def test_edge_probabilities(cpu_backend, rng):
    x = randn(rng, 1000)
    y, mask = dropout_forward(x, 0.0, 1, backend=cpu_backend)
    np.testing.assert_array_equal(y, x)
    assert mask.all()
    y, mask = dropout_forward(x, 1.0, 1, backend=cpu_backend)
    assert not mask.any() and np.all(y == 0)
    y, mask = dropout_forward(x.reshape(10, 100), 0.5, 2**64 - 1, backend=cpu_backend)
    assert y.shape == mask.shape == (10, 100)


def test_bad_inputs():
    x = np.ones(8, np.float32)
    with pytest.raises(ValueError, match="p must be"):
        dropout_forward(x, 1.5, 0)
    with pytest.raises(ValueError, match="p must be"):
        dropout_forward(x, float("nan"), 0)
    with pytest.raises(TypeError, match="float32"):
        dropout_forward(x.astype(np.float64), 0.5, 0)
    with pytest.raises(TypeError, match="uint8"):
        dropout_backward(x, np.ones(8, bool), 0.5)
    with pytest.raises(ValueError, match="same shape"):
        dropout_backward(x, np.ones(7, np.uint8), 0.5)
    with pytest.raises(ValueError, match="C-contiguous"):
        dropout_forward(np.ones((4, 4), np.float32)[:, 1], 0.5, 0)
    with pytest.raises(ValueError, match="seed = -1 must be in"):  # named, not pybind11's uint64 cast failure
        dropout_forward(x, 0.5, -1)
    with pytest.raises(ValueError, match="unknown backend"):
        dropout_forward(x, 0.5, 0, backend="fast")
