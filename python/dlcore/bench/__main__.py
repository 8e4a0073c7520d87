"""python -m dlcore.bench [families...] [--threads N] [--quick] [--repeats R]

Prints, per kernel family, dlcore against the references measured in the same
run (NumPy; oneDNN when built), as GFLOP/s or GB/s and fractions of this
machine's measured peak.
"""
from __future__ import annotations

import argparse
import importlib

import dlcore

from . import common
from .common import machine_header

#: family name -> module under dlcore.bench providing run(args)
FAMILIES = {"gemm": "gemm", "conv": "conv", "eltwise": "eltwise", "poolrn": "poolrn", "gpu": "gpu", "bf16": "bf16"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlcore.bench", description=__doc__.splitlines()[0])
    parser.add_argument("families", nargs="*", default=[], help=f"any of {', '.join(FAMILIES)} (default: all)")
    parser.add_argument("--threads", type=int, default=None, help="threads for dlcore (default: all cores)")
    parser.add_argument("--quick", action="store_true", help="fewer and smaller shapes")
    parser.add_argument("--repeats", type=int, default=5, help="timed samples per case (median reported)")
    parser.add_argument("--backend", default="auto", help="dlcore backend to time (default: auto)")
    parser.add_argument("--sections", default="gemm,conv,memory",
                        help="gpu: which parts of the GPU report to run (comma-separated)")
    parser.add_argument("--tune", action="store_true", help="gemm: sweep the cache block sizes instead")
    parser.add_argument("--settle", type=float, default=common.SETTLE_SECONDS,
                        help="seconds of quiet before each timed block (lets other libraries' "
                             "spinning threads go idle; 0 for a fast smoke run)")
    args = parser.parse_args(argv)
    unknown = [f for f in args.families if f not in FAMILIES]
    if unknown:
        parser.error(f"unknown families {unknown}; choose from {list(FAMILIES)}")
    common.SETTLE_SECONDS = args.settle
    if args.threads:
        dlcore.set_num_threads(args.threads)
    print(machine_header(dlcore.get_num_threads()))
    for family in args.families or list(FAMILIES):
        importlib.import_module(f"dlcore.bench.{FAMILIES[family]}").run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
