"""python -m dlcore.bench [families...] [--threads N] [--quick] [--repeats R]

Prints, per kernel family, dlcore against the references measured in the same
run (NumPy; oneDNN when built), as GFLOP/s or GB/s and fractions of this
machine's measured peak.
"""
from __future__ import annotations

import argparse
import importlib
import os

import dlcore

from . import common
from .common import machine_header

#: family name -> module under dlcore.bench providing run(args)
FAMILIES = {"gemm": "gemm", "conv": "conv", "eltwise": "eltwise", "poolrn": "poolrn", "gpu": "gpu", "dist": "dist",
            "lowbit": "lowbit", "bf16": "bf16", "train": "train", "recurrent": "recurrent"}
#: run only when named: dist is started under mpirun (python -m dlcore.bench dist)
NOT_BY_DEFAULT = ("dist",)


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
    parser.add_argument("--json", default=None, help="also write every row, the machine and its peaks here")
    parser.add_argument("--plot", default=None, help="draw the rows on this machine's roofline into this PNG")
    parser.add_argument("--train-models", default=None, help="train: comma-separated models (default: all)")
    parser.add_argument("--train-unfused", action="store_true", help="train: dlcore optimizers with fused=False")
    parser.add_argument("--lowbit-batch", type=int, default=2, help="lowbit: minibatch of the conv layers")
    parser.add_argument("--settle", type=float, default=common.SETTLE_SECONDS,
                        help="seconds of quiet before each timed block (lets other libraries' "
                             "spinning threads go idle; 0 for a fast smoke run)")
    from . import dist

    dist.add_arguments(parser)
    args = parser.parse_args(argv)
    unknown = [f for f in args.families if f not in FAMILIES]
    if unknown:
        parser.error(f"unknown families {unknown}; choose from {list(FAMILIES)}")
    common.SETTLE_SECONDS = args.settle
    if args.threads:
        dlcore.set_num_threads(args.threads)
    if args.plot:
        from ..plot import _figure

        _figure(1, 1)  # no matplotlib: say so before the benchmarks run
    if _launcher_rank() == 0:  # under mpirun, one header
        print(machine_header(dlcore.get_num_threads()))
    results = {}
    for family in args.families or [f for f in FAMILIES if f not in NOT_BY_DEFAULT]:
        results[family] = importlib.import_module(f"dlcore.bench.{FAMILIES[family]}").run(args)
    if (args.json or args.plot) and _launcher_rank() == 0:
        from . import report

        if args.json:
            import sys

            report.write_json(args.json, results, dlcore.get_num_threads(),
                              list(sys.argv[1:] if argv is None else argv))
            print(f"wrote {args.json}")
        if args.plot:
            print(f"wrote {report.write_roofline(args.plot, results, dlcore.get_num_threads())}")
    return 0


def _launcher_rank() -> int:
    """This process's rank as the MPI launcher says (Open MPI, PMI/PMIx: MPICH, Intel MPI, Slurm); 0 alone."""
    for var in ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
