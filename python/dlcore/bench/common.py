"""Shared benchmark machinery: timing, machine peaks, shapes and tables.

Rules the report follows (README "Benchmarks"): validate before timing;
interleave ours and the reference in the same run so machine noise hits
both; report medians; name the shapes; give GFLOP/s or GB/s and the
fraction of the peak this machine measures, not a datasheet figure.
"""
from __future__ import annotations

import csv
import os
import statistics
import time
from importlib import resources

import numpy as np

import dlcore
from dlcore import _C


def median_time(fn, repeats: int = 5, min_time: float = 0.05) -> float:
    """Median seconds per call of `fn` over `repeats` samples of >= min_time each."""
    fn()  # warm-up: page faults, packing buffers, thread pool
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(min_time / one))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    return statistics.median(samples)


# OpenBLAS's idle worker threads busy-wait for about 2^28 cycles (~0.1 s)
# after each call before they sleep, and GNU OpenMP's spin briefly too. A
# contender timed right after the other library's call would share the cores
# with those spinning threads (measured here: our 2-thread GEMM at n=1024 fell
# from 83 to 38 GFLOP/s). So each timed block starts after this pause.
SETTLE_SECONDS = 0.2


def compare(fns: dict, repeats: int = 5, min_time: float = 0.05, settle: float | None = None) -> dict:
    """Median seconds per call for each named fn, sampled round-robin (same noise for all).

    Contenders alternate block by block, so a slow period of the machine
    hits all of them; each block starts after `settle` seconds of quiet.
    """
    if settle is None:
        settle = SETTLE_SECONDS
    for fn in fns.values():
        fn()
    per_call = {}
    for name, fn in fns.items():
        time.sleep(settle)
        fn()
        t0 = time.perf_counter()
        fn()
        per_call[name] = max(1, int(min_time / max(time.perf_counter() - t0, 1e-7)))
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            inner = per_call[name]
            time.sleep(settle)
            fn()  # re-warm caches and this library's thread pool after the pause
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            samples[name].append((time.perf_counter() - t0) / inner)
    return {name: statistics.median(s) for name, s in samples.items()}


_PEAKS: dict = {}


def fma_peak_gflops(threads: int, again: bool = False) -> float:
    """This machine's FP32 FMA peak on `threads` threads (best ISA), measured once; `again` measures
    it once more and keeps the larger of the two."""
    key = ("fma", threads)
    if key not in _PEAKS or again:
        isa = _C.best_isa()
        its = 40_000_000 if isa != "ref" else 4_000_000
        _PEAKS[key] = max([_C.fma_peak_gflops(isa, threads, its) for _ in range(3)] + [_PEAKS.get(key, 0.0)])
    return _PEAKS[key]


def recheck_peak(rows: list, threads: int, peak: float, keys=("peak",)) -> float:
    """The FMA peak measured again after a report's rows; where it comes out higher, the rows' fractions
    of peak (`keys`) are rescaled to it. A peak taken while the shared host held back one of the cores
    reads low and puts every %peak beside it above 100% (the gemm report of 2026-12-06 measured 117
    GFLOP/s on 2 cores, against 232 an hour before). Returns the peak in use."""
    new = fma_peak_gflops(threads, again=True)
    if new > peak * 1.02:
        for row in rows:
            for key in keys:
                if key in row:
                    row[key] *= peak / new
        print(f"(FMA peak measured again after the rows: {new:.0f} GFLOP/s, not {peak:.0f}; %peak uses it)")
    return max(new, peak)


def stream_bandwidth_gbs(threads: int, nbytes: int = 128 << 20) -> dict:
    """This machine's STREAM-like copy and triad bandwidth in GB/s on `threads` threads, measured once.

    Measured in C++ with OpenMP (dlcore._C.stream_bandwidth, best of 5 passes
    over arrays of `nbytes` each): copy counts read + write bytes, triad two
    reads and a write, as STREAM does (write-allocate traffic not counted).
    """
    key = ("stream", threads, nbytes)
    if key not in _PEAKS:
        _PEAKS[key] = {kind: max(_C.stream_bandwidth(kind, threads, nbytes) for _ in range(2))
                       for kind in ("copy", "triad")}
    return _PEAKS[key]


def load_shapes(name: str) -> list[dict]:
    """Rows of a shipped shapes CSV (bench/shapes/<name>.csv) as dicts."""
    text = resources.files("dlcore.bench").joinpath("shapes", f"{name}.csv").read_text()
    return list(csv.DictReader(text.splitlines()))


def machine_header(threads: int) -> str:
    info = dlcore.backends()
    blas = "unknown BLAS"
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]["name"]
    except Exception:  # older NumPy: no dict mode
        pass
    return (f"# cpu: {info['cpu']}; threads: {threads}; dlcore auto -> {info['auto']}; "
            f"numpy {np.__version__} ({blas}); OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}")


def print_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> None:
    """columns: (key, header, format spec)."""
    cells = [[h for _, h, _ in columns]]
    for r in rows:
        cells.append([format(r[k], f) if r.get(k) is not None else "-" for k, _, f in columns])
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for j, row in enumerate(cells):
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if j == 0:
            print("  ".join("-" * w for w in widths))


def summarize(rows: list[dict], key: str, label: str) -> None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    if vals:
        print(f"median {label}: {statistics.median(vals):.2f} over {len(vals)} shapes")


# --- oneDNN column ------------------------------------------------------------
def onednn_available() -> bool:
    """True when backend="onednn" can run here (dlcore._onednn built and libdnnl loadable)."""
    return bool(dlcore.backends()["onednn"]["available"])


def onednn_implements(op: str) -> bool:
    """True when backend="onednn" is available here and dlcore._onednn defines `op`."""
    if not onednn_available():
        return False
    from dlcore._backends import optional_module

    return hasattr(optional_module("onednn"), op)


def onednn_module():
    """dlcore._onednn itself (for its extra entry points outside KERNEL_API)."""
    from dlcore._backends import optional_module

    return optional_module("onednn")


def onednn_primitive_time(fn, repeats: int = 5, min_time: float = 0.05) -> float:
    """Median seconds that oneDNN spent inside its primitive(s) alone during `fn()`.

    `fn` makes one backend="onednn" kernel call. End-to-end timing (compare())
    includes the reorders between our plain NCHW and the blocked layout oneDNN
    prefers; this excludes them, i.e. what oneDNN's best layout would give.
    Equal to the end-to-end time (minus call overhead) when no reorder runs.
    """
    from dlcore.kernels._dispatch import module_for

    module = module_for("onednn", "gemm")
    fn()
    t0 = time.perf_counter()
    fn()
    inner = max(1, int(min_time / max(time.perf_counter() - t0, 1e-7)))
    samples = []
    for _ in range(repeats):
        total = 0.0
        for _ in range(inner):
            fn()
            total += module.last_call_info()["primitive_seconds"]
        samples.append(total / inner)
    return statistics.median(samples)


def contenders(ours, numpy_fn, onednn_fn=None) -> dict:
    """The functions one compare() run interleaves: dlcore, numpy and, when given, onednn."""
    fns = {"dlcore": ours, "numpy": numpy_fn}
    if onednn_fn is not None:
        fns["onednn"] = onednn_fn
    return fns


def onednn_columns(nbytes: float, t: dict, onednn_fn, primitive: bool = True) -> dict:
    """Row cells for the oneDNN column from a compare() result `t` (empty when oneDNN did not run).

    onednn: oneDNN GB/s end to end (plain NCHW in and out, reorders included);
    vs_onednn: ours / oneDNN speed (> 1: ours faster); onednn_prim: GB/s of
    oneDNN's primitive(s) alone, from onednn_primitive_time().
    """
    if onednn_fn is None or "onednn" not in t:
        return {"onednn": None, "vs_onednn": None, "onednn_prim": None}
    cells = {"onednn": nbytes / t["onednn"] / 1e9, "vs_onednn": t["onednn"] / t["dlcore"], "onednn_prim": None}
    if primitive:
        # oneDNN's reference kernels (e.g. LRN backward on plain NCHW) take seconds
        # per call at full size: one sample is enough to see that.
        slow = t["onednn"] > 0.5
        prim = onednn_primitive_time(onednn_fn, repeats=1 if slow else 5, min_time=0.0 if slow else 0.05)
        if prim > 0:
            cells["onednn_prim"] = nbytes / prim / 1e9
    return cells


#: Columns every report appends when oneDNN ran.
ONEDNN_TABLE_COLUMNS = [("onednn", "onednn GB/s", ".1f"), ("onednn_prim", "onednn prim GB/s", ".1f"),
                        ("vs_onednn", "dlcore/onednn", ".2f")]


def summarize_families(rows: list[dict], family_of) -> None:
    """Medians of dlcore/numpy ("ratio") and dlcore/onednn ("vs_onednn") per kernel family."""
    families: dict = {}
    for r in rows:
        families.setdefault(family_of(r), []).append(r)
    print("per-family medians (speed ratios, > 1 means dlcore is faster):")
    for fam, members in families.items():
        cells = []
        for key, label in (("ratio", "dlcore/numpy"), ("vs_onednn", "dlcore/onednn")):
            vals = [r[key] for r in members if r.get(key) is not None]
            cells.append(f"{label} {statistics.median(vals):.2f} ({len(vals)})" if vals else f"{label} -")
        print(f"  {fam:<14} " + "; ".join(cells))
