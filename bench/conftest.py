"""Benchmarks are measurements, never pass/fail gates: run them with
`python -m pytest bench --benchmark-only`."""
