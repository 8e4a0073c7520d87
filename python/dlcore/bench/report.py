"""The report's files: ``--json out.json`` (every row, with the machine) and ``--plot roofline.png``.

The roofline places each timed row on this machine's measured roofline: the
FMA-throughput peak (horizontal) and the STREAM-like copy bandwidth (slanted).
GEMM and convolution rows carry their FLOPs and the bytes of their operands
(each read or written once: the ideal traffic), so they sit at their true
arithmetic intensity with dlcore, NumPy and oneDNN (when built) side by side.
Memory-bound families (eltwise, pooling, LRN) report GB/s; they are placed at
a nominal intensity of 1 operation per element, i.e. per 8 bytes moved (one
float32 read, one written), where the height of a point is its bandwidth / 8:
what their position says is the fraction of the copy roof they reach.
"""
from __future__ import annotations

import json
import os
import platform
import sys

import numpy as np

import dlcore

from .common import fma_peak_gflops, stream_bandwidth_gbs

COMPUTE_FAMILIES = ("gemm", "conv")
NOMINAL_BYTES_PER_OP = 8.0  # memory-bound rows: 1 op per float32 read + float32 written
CONTENDERS = ("dlcore", "numpy", "onednn")


def machine(threads: int) -> dict:
    """The fingerprint written with every report."""
    info = dlcore.backends()
    blas = "unknown"
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:  # older NumPy: no dict mode
        pass
    onednn = info.get("onednn", {})
    return {"cpu": info.get("cpu"), "auto": info.get("auto"), "threads": threads,
            "cpu_count": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0],
            "dlcore": dlcore.__version__, "numpy": np.__version__, "blas": blas,
            "onednn": onednn.get("version") if onednn.get("available") else None,
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}


def peaks(threads: int) -> dict:
    bw = stream_bandwidth_gbs(threads)
    return {"fma_gflops": fma_peak_gflops(threads), "copy_gbs": bw["copy"], "triad_gbs": bw["triad"]}


def _clean(value):
    """JSON-safe: NumPy scalars to Python numbers, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if np.isfinite(value) else None
    return value


def write_json(path: str, results: dict, threads: int, argv: list) -> None:
    """results: family -> rows (as the family's run() returned them)."""
    doc = {"command": ["python", "-m", "dlcore.bench", *argv], "machine": machine(threads),
           "peaks": peaks(threads), "families": results}
    with open(path, "w") as f:
        json.dump(_clean(doc), f, indent=1)


def roofline_points(results: dict) -> list[dict]:
    """One point per (row, contender) that ran: intensity (FLOP/byte) and GFLOP/s."""
    points = []
    for family, rows in results.items():
        if family == "gpu" or not isinstance(rows, list):
            continue  # another machine's roof
        for row in rows:
            if not isinstance(row, dict):
                continue
            for who in CONTENDERS:
                value = row.get(who)
                if not isinstance(value, (int, float)) or not value > 0:
                    continue
                if family in COMPUTE_FAMILIES:
                    if not row.get("flops") or not row.get("bytes"):
                        continue
                    points.append({"family": family, "who": who, "gflops": float(value),
                                   "intensity": row["flops"] / row["bytes"]})
                else:  # value is GB/s
                    points.append({"family": family, "who": who, "gflops": float(value) / NOMINAL_BYTES_PER_OP,
                                   "intensity": 1.0 / NOMINAL_BYTES_PER_OP})
    return points


def write_roofline(path: str, results: dict, threads: int) -> str:
    from ..plot import roofline

    p = peaks(threads)
    title = (f"{machine(threads)['cpu']}, {threads} threads: measured roofline "
             f"(memory-bound kernels at a nominal 1 op / 8 bytes)")
    return roofline(roofline_points(results), p["fma_gflops"], p["copy_gbs"], path, title=title)
