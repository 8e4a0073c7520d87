"""The benchmark report command runs end to end (figures are not checked: speed is
measured in bench/, never asserted in tests)."""
import subprocess
import sys


def test_gemm_report_runs():
    res = subprocess.run(
        [sys.executable, "-m", "dlcore.bench", "gemm", "--quick", "--repeats", "1", "--settle", "0",
         "--threads", "1"],
        capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "dlcore/numpy" in res.stdout
    assert "Alexnet:ip1" in res.stdout  # network FC shapes are read from the shipped CSV


def test_unknown_family_is_an_error():
    res = subprocess.run([sys.executable, "-m", "dlcore.bench", "nosuch"], capture_output=True, text=True)
    assert res.returncode != 0 and "unknown families" in res.stderr


def test_peak_measured_again_rescales_fractions(monkeypatch):
    # A peak taken in a slow period of the shared host reads low; measured again after the rows and
    # higher, it rescales every fraction of peak (and is kept); lower, nothing changes.
    from dlcore.bench import common
    readings = iter([50.0] * 3 + [100.0] * 3 + [80.0] * 3)
    monkeypatch.setattr(common._C, "fma_peak_gflops", lambda isa, threads, its: next(readings))
    monkeypatch.setattr(common, "_PEAKS", {})
    peak = common.fma_peak_gflops(7)
    assert peak == 50.0
    rows = [{"peak": 40.0 / peak, "np_peak": 20.0 / peak, "other": 3.0}]
    assert common.recheck_peak(rows, 7, peak, ("peak", "np_peak")) == 100.0
    assert rows == [{"peak": 0.4, "np_peak": 0.2, "other": 3.0}]
    assert common.recheck_peak(rows, 7, 100.0, ("peak", "np_peak")) == 100.0  # 80 measured: kept 100
    assert rows[0]["peak"] == 0.4 and common.fma_peak_gflops(7) == 100.0
