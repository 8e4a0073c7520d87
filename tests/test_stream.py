"""The machine-bandwidth probe used by the benchmark report."""
import pytest

from dlcore import _C
from dlcore.bench.common import stream_bandwidth_gbs


@pytest.mark.parametrize("kind", ["copy", "triad"])
def test_stream_bandwidth_is_a_plausible_rate(kind):
    # 8 MiB arrays, one thread: any machine moves between 0.1 and 10000 GB/s.
    gbs = _C.stream_bandwidth(kind, 1, 8 << 20)
    assert 0.1 < gbs < 10000


def test_common_returns_copy_and_triad():
    bw = stream_bandwidth_gbs(1, nbytes=8 << 20)
    assert set(bw) == {"copy", "triad"} and all(v > 0.1 for v in bw.values())


def test_stream_bad_arguments():
    with pytest.raises(ValueError, match="copy"):
        _C.stream_bandwidth("scale", 1, 8 << 20)
    with pytest.raises(ValueError, match="threads"):
        _C.stream_bandwidth("copy", 0, 8 << 20)
    with pytest.raises(ValueError, match="1 MiB"):
        _C.stream_bandwidth("copy", 1, 1000)
