"""The host cache behind large kernel outputs (csrc/core/host_cache.h, dlcore/_host_cache.py)."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import dlcore
from dlcore import kernels as K

MIB = 1 << 20
# 1.5 MiB of float32: above the cache's 64 KiB threshold, not a power of two.
BIG = (3, 131072)


@pytest.fixture
def cache():
    """A fresh cache with a known limit; the previous limit comes back afterwards."""
    limit = dlcore.host_cache_info()["limit"]
    dlcore.empty_host_cache()
    dlcore.set_host_cache_limit(256 * MIB)
    yield
    dlcore.set_host_cache_limit(limit)
    dlcore.empty_host_cache()


def _address(a):
    return a.__array_interface__["data"][0]


def test_freed_output_is_reused_and_fully_rewritten(cache, rng):
    x = rng.standard_normal(BIG, dtype=np.float32)
    y = K.relu_forward(x)
    first = _address(y)
    before = dlcore.host_cache_info()
    y[...] = np.nan  # poison the block before it goes back to the cache
    del y
    assert dlcore.host_cache_info()["cached_blocks"] == before["cached_blocks"] + 1
    y = K.relu_forward(x)
    after = dlcore.host_cache_info()
    assert _address(y) == first
    assert after["hits"] == before["hits"] + 1
    np.testing.assert_array_equal(y, np.maximum(x, 0))  # every poisoned element rewritten


def test_cached_outputs_are_aligned_and_writeable(cache, rng):
    for shape in (BIG, (7, 333, 1111)):
        y = K.relu_forward(rng.standard_normal(shape, dtype=np.float32))
        assert y.flags.c_contiguous and y.flags.writeable and y.dtype == np.float32
        align = 2 * MIB if y.nbytes >= 2 * MIB else 64
        assert _address(y) % align == 0


def test_small_outputs_stay_with_numpy(cache, rng):
    before = dlcore.host_cache_info()
    y = K.relu_forward(rng.standard_normal((7, 1000), dtype=np.float32))
    del y
    after = dlcore.host_cache_info()
    assert (after["hits"], after["misses"], after["cached_blocks"]) == (
        before["hits"], before["misses"], before["cached_blocks"])


def test_activation_sized_outputs_are_reused(cache, rng):
    # 64 KiB .. 1 MiB: LeNet-5's activations at batch 32 (issue 16); from glibc they were faulted in anew
    # every step. The threshold is 64 KiB: 16 pages.
    for shape in ((32, 6, 28, 28), (32, 16, 10, 10), (16, 1024)):
        x = rng.standard_normal(shape, dtype=np.float32)
        first = K.relu_forward(x)
        address = _address(first)
        del first
        before = dlcore.host_cache_info()
        y = K.relu_forward(x)
        assert _address(y) == address and dlcore.host_cache_info()["hits"] == before["hits"] + 1
        np.testing.assert_array_equal(y, np.maximum(x, 0))


def test_block_count_is_capped(cache, rng):
    # allocate() scans the freed blocks: at most 1024 are kept whatever the byte limit.
    keep = [K.relu_forward(rng.standard_normal(16384 + 1024 * (k % 7), dtype=np.float32)) for k in range(1100)]
    del keep
    assert dlcore.host_cache_info()["cached_blocks"] == 1024


def test_a_view_keeps_the_block_alive(cache, rng):
    x = rng.standard_normal(BIG, dtype=np.float32)
    y = K.relu_forward(x)
    view = y[1]
    blocks = dlcore.host_cache_info()["cached_blocks"]
    del y
    assert dlcore.host_cache_info()["cached_blocks"] == blocks  # still referenced by the view
    z = K.relu_forward(-x)  # must not receive the view's memory
    np.testing.assert_array_equal(view, np.maximum(x[1], 0))
    np.testing.assert_array_equal(z, np.maximum(-x, 0))
    del view
    assert dlcore.host_cache_info()["cached_blocks"] == blocks + 1


def test_limit_evicts_least_recently_freed(cache, rng):
    dlcore.set_host_cache_limit(4 * MIB)  # room for two 1.75 MiB size classes
    ys = [K.relu_forward(rng.standard_normal(BIG, dtype=np.float32)) for _ in range(4)]
    addresses = [_address(y) for y in ys]
    while ys:  # freed in order 0, 1, 2, 3
        ys.pop(0)
    info = dlcore.host_cache_info()
    assert info["cached_blocks"] == 2 and info["cached_bytes"] <= 4 * MIB
    # The two kept are the last two freed.
    assert _address(K.relu_forward(np.ones(BIG, np.float32))) in addresses[2:]


def test_empty_frees_every_cached_block(cache, rng):
    _two_outputs(rng)  # both freed on return
    assert dlcore.host_cache_info()["cached_blocks"] >= 2
    dlcore.empty_host_cache()
    info = dlcore.host_cache_info()
    assert info["cached_blocks"] == 0 and info["cached_bytes"] == 0


def test_limit_zero_turns_the_cache_off(cache, rng):
    dlcore.set_host_cache_limit(0)
    before = dlcore.host_cache_info()
    x = rng.standard_normal(BIG, dtype=np.float32)
    y = K.relu_forward(x)
    assert isinstance(y.base, np.ndarray)  # NumPy's memory, not a cached block
    assert _address(y) % 64 == 0
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    del y
    after = dlcore.host_cache_info()
    assert (after["hits"], after["misses"], after["cached_bytes"]) == (before["hits"], before["misses"], 0)


def test_bad_limits_raise():
    with pytest.raises(ValueError, match="nbytes must be >= 0"):
        dlcore.set_host_cache_limit(-1)
    for bad in (1.5, "1024", None):
        with pytest.raises(TypeError, match="nbytes must be an integer"):
            dlcore.set_host_cache_limit(bad)


def test_environment_sets_the_limit():
    code = "import dlcore; print(dlcore.host_cache_info()['limit'])"
    env = dict(os.environ, DLCORE_HOST_CACHE_BYTES=str(3 * MIB))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert int(out.stdout) == 3 * MIB


def test_concurrent_calls_get_distinct_blocks(cache, rng):
    xs = [rng.standard_normal(BIG, dtype=np.float32) for _ in range(4)]
    results, errors = [None] * 4, []

    def work(i):
        try:
            for _ in range(20):
                results[i] = K.relu_forward(xs[i])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({_address(r) for r in results}) == 4
    for x, y in zip(xs, results):
        np.testing.assert_array_equal(y, np.maximum(x, 0))


def _two_outputs(rng):
    x = rng.standard_normal(BIG, dtype=np.float32)
    return [K.relu_forward(x), K.sigmoid_forward(x)]
