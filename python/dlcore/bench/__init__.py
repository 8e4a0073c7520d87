"""The benchmark report: ``python -m dlcore.bench [family ...]``.

Each family module (gemm, ...) exposes ``run(args) -> list[dict]`` rows and
registers itself in ``FAMILIES``. Timing, peak probes and table printing live
in ``common``.
"""
