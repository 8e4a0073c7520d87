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
