"""Good neighbours (issue 17): dlcore.set_num_threads(n, blas=True) and dlcore.thread_limit align NumPy's
BLAS pool with ours through threadpoolctl, and restore it."""
import sys

import numpy as np
import pytest

import dlcore

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads():
    info = threadpoolctl.threadpool_info()
    return [i["num_threads"] for i in info if i["user_api"] == "blas"]


@pytest.fixture
def restore():
    before_ours, limiter = dlcore.get_num_threads(), threadpoolctl.threadpool_limits(limits=None)
    yield
    dlcore.set_num_threads(before_ours)
    limiter.restore_original_limits()


def test_set_num_threads_blas_limits_numpys_pool(restore):
    if not _blas_threads():
        pytest.skip("NumPy here has no BLAS that threadpoolctl can see")
    dlcore.set_num_threads(1, blas=True)
    assert dlcore.get_num_threads() == 1
    assert set(_blas_threads()) == {1}
    a = np.ones((64, 64), np.float32)
    assert (a @ a)[0, 0] == 64  # NumPy still works with its pool limited


def test_thread_limit_restores_both(restore):
    before_blas, before_ours = _blas_threads(), dlcore.get_num_threads()
    with dlcore.thread_limit(1):
        assert dlcore.get_num_threads() == 1
        assert set(_blas_threads()) <= {1}
    assert _blas_threads() == before_blas and dlcore.get_num_threads() == before_ours


def test_thread_limit_restores_after_an_exception(restore):
    before = dlcore.get_num_threads()
    with pytest.raises(KeyError):
        with dlcore.thread_limit(1, blas=False):
            raise KeyError("x")
    assert dlcore.get_num_threads() == before


def test_bad_count_raises_and_changes_nothing(restore):
    before = dlcore.get_num_threads()
    with pytest.raises(ValueError, match=">= 1"):
        dlcore.set_num_threads(0, blas=True)
    assert dlcore.get_num_threads() == before


def test_without_threadpoolctl_the_error_says_what_to_install(monkeypatch, restore):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    before = dlcore.get_num_threads()
    with pytest.raises(ImportError, match="pip install threadpoolctl"):
        dlcore.set_num_threads(1, blas=True)
    with pytest.raises(ImportError, match="threadpoolctl"):
        with dlcore.thread_limit(1):
            pass
    assert dlcore.get_num_threads() == before
