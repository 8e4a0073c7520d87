"""Where a model's time goes: ``dlcore.explain(model, example_input)`` and ``python -m dlcore.explain``.

One row per layer and pass (forward, then backward in the order it runs):
the kernels that ran (``op:implementation`` from the dispatch registry) and
why the faster implementations declined, the shapes, the time, GFLOP/s (layers
with a FLOP count: linear and convolution GEMMs) or GB/s (bytes the kernels
read and wrote), the percentage of this machine's measured peak (the FMA
throughput loop for compute-bound rows, the STREAM-like copy bandwidth for
memory-bound ones), and which of the two bounds the row: its arithmetic
intensity against the machine balance, peak GFLOP/s / copy GB/s.

How it measures: for the traced steps it wraps every ``dlcore.kernels``
function (time, arrays, the registry's choice and declines), every module's
``forward`` (inclusive time; a container's row holds only its own ops, e.g. a
residual add) and the backward of every autograd node, which belongs to the
innermost module running when the node was recorded. A row's time is the
median over ``repeats`` traced steps; the report's total is compared with the
median of as many untraced steps (forward + backward), timed the same way.
The patches are undone afterwards; do not run other dlcore work on other
threads meanwhile.

``dlcore.explain`` is this module, callable as the function ``explain``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import types
from collections import defaultdict

import numpy as np

__all__ = ["explain", "Explanation", "main"]

# Kernels whose FLOPs come from their shapes (the rest are memory-bound: no nominal FLOP count).
_UNTRACED = {"last_dispatch"}


def _gemm_flops(args, kwargs, out):
    a = args[0]
    k = a.shape[0] if kwargs.get("trans_a") else a.shape[1]
    return 2.0 * out.shape[0] * out.shape[1] * k


def _conv_flops(name, args, out):
    if name == "conv2d_forward":  # x, w -> y: 2 * |y| * C/g * KH * KW
        y, w = (out[0] if isinstance(out, tuple) else out), args[1]
        return 2.0 * y.size * (w.size // w.shape[0])
    if name == "conv2d_backward_data":  # dy, w
        dy, w = args[0], args[1]
        return 2.0 * dy.size * (w.size // w.shape[0])
    dy = args[1]  # conv2d_backward_weights(x, dy, weight_shape, ...) -> dw (, db)
    dw = out[0] if isinstance(out, tuple) else out
    return 2.0 * dy.size * (dw.size // dw.shape[0])


def _flops(name, args, kwargs, out):
    if name == "gemm":
        return _gemm_flops(args, kwargs, out)
    if name == "linear_forward":  # x (N, in), w (out, in) -> y (N, out)
        return 2.0 * out.size * args[0].shape[1]
    if name.startswith("conv2d_"):
        return _conv_flops(name, args, out)
    return 0.0


def _arrays(obj):
    if isinstance(obj, (tuple, list)):
        for o in obj:
            yield from _arrays(o)
    elif hasattr(obj, "nbytes") and hasattr(obj, "shape"):
        yield obj


def _nbytes(args, kwargs, out):
    """Bytes of the distinct arrays a kernel call read or wrote (each counted once)."""
    seen, total = set(), 0
    for a in list(_arrays(args)) + list(_arrays(list(kwargs.values()))) + list(_arrays(out)):
        if id(a) not in seen:
            seen.add(id(a))
            total += int(a.nbytes)
    return total


class _Tracer:
    """Installs the wrappers for one traced step; records into `events`, `fwd`, `bwd`."""

    def __init__(self, model, clock=time.perf_counter):
        self.model, self.clock = model, clock
        self.names = {id(m): (n or "(model)") for n, m in model.named_modules()}
        self.stack = []           # names of the modules whose forward is running
        self.owner = None         # the module a backward node belongs to, while it runs
        self.phase = "forward"
        self.reset()

    def reset(self):
        self.phase, self.owner = "forward", None
        self.fwd_incl = defaultdict(float)
        self.fwd_child = defaultdict(float)
        self.bwd = defaultdict(float)
        self.kernels = defaultdict(list)  # (layer, phase) -> [(op:impl, declined, seconds, flops, bytes)]
        self.shapes = {}

    # -- kernels ---------------------------------------------------------------------------------
    def _wrap_kernel(self, name, fn):
        from . import _C

        clock = self.clock

        def traced(*args, **kwargs):
            t0 = clock()
            out = fn(*args, **kwargs)
            dt = clock() - t0
            backend = kwargs.get("backend", "auto")
            on_ours = backend in ("auto", "ref", "avx2", "avx512") and all(
                type(a) is np.ndarray for a in _arrays(args))
            if on_ours:
                impl, declined = _C.last_dispatch(), _declined_text(_C.last_dispatch_declined())
            else:
                impl, declined = f"{name}:{backend if backend != 'auto' else 'cuda'}", ""
            layer = self.stack[-1] if self.phase == "forward" and self.stack else (self.owner or "(outside)")
            self.kernels[(layer, self.phase)].append(
                (impl, declined, dt, _flops(name, args, kwargs, out), _nbytes(args, kwargs, out)))
            return out

        traced.__wrapped__ = fn
        return traced

    # -- modules and nodes -----------------------------------------------------------------------
    def _wrap_forward(self, module):
        name, bound, clock = self.names[id(module)], module.forward, self.clock

        def forward(*args, **kwargs):
            self.stack.append(name)
            t0 = clock()
            try:
                out = bound(*args, **kwargs)
            finally:
                dt = clock() - t0
                self.stack.pop()
            self.fwd_incl[name] += dt
            if self.stack:
                self.fwd_child[self.stack[-1]] += dt
            if name not in self.shapes:
                self.shapes[name] = (_shape_of(args), _shape_of(out))
            return out

        return forward

    def _wrap_node(self, node):
        owner, bound, clock = (self.stack[-1] if self.stack else "(outside)"), node.backward, self.clock

        def backward(grad):
            self.phase, self.owner = "backward", owner
            t0 = clock()
            try:
                return bound(grad)
            finally:
                self.bwd[owner] += clock() - t0
                self.owner = None

        node.backward = backward  # an instance attribute: shadows the class's method for this node only
        self._nodes.append(node)  # node -> backward -> node is a cycle: __exit__ breaks it (no GC wait)

    def __enter__(self):
        from . import kernels as K
        from .autograd.function import Function

        names = list(K.__all__) + ["linear_forward"]  # linear_forward: a fused gemm of ours, not in __all__
        self._kernels = {n: getattr(K, n) for n in names if n not in _UNTRACED and callable(getattr(K, n))}
        for n, fn in self._kernels.items():
            setattr(K, n, self._wrap_kernel(n, fn))
        self._apply = Function.__dict__["apply_with_node"]
        original = self._apply.__func__
        tracer = self

        def apply_with_node(cls, *args, **kwargs):
            result, node = original(cls, *args, **kwargs)
            if result.requires_grad:
                tracer._wrap_node(node)
            return result, node

        Function.apply_with_node = classmethod(apply_with_node)
        self._nodes = []
        self._forwards = []
        for m in self.model.modules():
            had = "forward" in m.__dict__  # e.g. a pruned layer's own wrapper: wrap it, restore it
            self._forwards.append((m, had, m.__dict__.get("forward")))
            object.__setattr__(m, "forward", self._wrap_forward(m))
        return self

    def __exit__(self, *exc):
        from . import kernels as K
        from .autograd.function import Function

        for n, fn in self._kernels.items():
            setattr(K, n, fn)
        Function.apply_with_node = self._apply
        for node in self._nodes:
            node.__dict__.pop("backward", None)
        self._nodes = []
        for m, had, previous in self._forwards:
            if had:
                object.__setattr__(m, "forward", previous)
            else:
                m.__dict__.pop("forward", None)
        return False


def _shape_of(obj):
    from .tensor import Tensor

    if isinstance(obj, Tensor):
        return tuple(obj.shape)
    if isinstance(obj, (tuple, list)):
        shapes = [_shape_of(o) for o in obj]
        shapes = [s for s in shapes if s is not None]
        return shapes[0] if len(shapes) == 1 else (tuple(shapes) if shapes else None)
    return None


def _fmt_shape(s):
    if s is None:
        return "-"
    if s and isinstance(s[0], tuple):
        return ",".join(_fmt_shape(x) for x in s)
    return "x".join(map(str, s))


class Explanation:
    """The report: ``rows`` (dicts), ``total_ms`` (sum of the rows), ``step_ms`` (an untraced step), peaks.

    ``str(report)`` is the table; ``to_dict()`` is JSON-ready.
    """

    def __init__(self, rows, step_ms, peak_gflops, copy_gbs, threads, notes):
        self.rows, self.step_ms = rows, step_ms
        self.total_ms = sum(r["ms"] for r in rows)
        self.peak_gflops, self.copy_gbs, self.threads, self.notes = peak_gflops, copy_gbs, threads, notes

    def to_dict(self):
        return {"rows": self.rows, "total_ms": self.total_ms, "step_ms": self.step_ms,
                "peak_gflops": self.peak_gflops, "copy_gbs": self.copy_gbs, "threads": self.threads,
                "notes": self.notes}

    def __str__(self):
        cols = [("layer", "layer", ""), ("type", "type", ""), ("pass", "pass", ""), ("in", "input", ""),
                ("out", "output", ""), ("ms", "ms", ".3f"), ("gflops", "GFLOP/s", ".1f"), ("gbs", "GB/s", ".1f"),
                ("peak", "% peak", ".0%"), ("bound", "bound", ""), ("kernels", "kernels", "")]
        cells = [[h for _, h, _ in cols]]
        for r in self.rows:
            cells.append([format(r[k], f) if r.get(k) is not None else "-" for k, _, f in cols])
        widths = [max(len(c[i]) for c in cells) for i in range(len(cols))]
        lines = [f"# {self.threads} threads; measured FMA peak {self.peak_gflops:.0f} GFLOP/s, copy bandwidth "
                 f"{self.copy_gbs:.1f} GB/s (balance {self.peak_gflops / self.copy_gbs:.1f} FLOP/byte)"]
        lines += [f"# {n}" for n in self.notes]
        for j, row in enumerate(cells):
            lines.append("  ".join(c.ljust(w) if i in (0, 1, 2, 10) else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(row, widths))).rstrip())
            if j == 0:
                lines.append("  ".join("-" * w for w in widths))
        declined = [(r["layer"], r["pass"], r["declined"]) for r in self.rows if r["declined"]]
        if declined:
            lines.append("why the faster implementations declined:")
            lines += [f"  {layer} {p}: {why}" for layer, p, why in declined]
        lines.append(f"total {self.total_ms:.3f} ms over {len(self.rows)} rows; an untraced step "
                     f"(forward + backward) takes {self.step_ms:.3f} ms "
                     f"({self.total_ms / self.step_ms:.0%} of it is in the rows)")
        return "\n".join(lines)

    __repr__ = __str__


def _row(layer, kind, phase, seconds_list, events, shapes, peak, bw):
    ms = statistics.median(seconds_list) * 1e3
    # One traced step's kernel events (the events of all steps are equal up to timing).
    impls = list(dict.fromkeys(e[0] for e in events))
    declined = "; ".join(dict.fromkeys(e[1].rstrip("; ") for e in events if e[1]))
    flops, nbytes = sum(e[3] for e in events), sum(e[4] for e in events)
    sec = ms / 1e3
    row = {"layer": layer, "type": kind, "pass": phase, "in": _fmt_shape(shapes[0]), "out": _fmt_shape(shapes[1]),
           "ms": ms, "kernel_ms": sum(e[2] for e in events) * 1e3, "kernels": ", ".join(impls) or "numpy",
           "declined": declined, "flops": flops, "bytes": nbytes, "gflops": None, "gbs": None, "peak": None,
           "bound": None}
    if nbytes and sec > 0:
        row["gbs"] = nbytes / sec / 1e9
    if flops and sec > 0:
        row["gflops"] = flops / sec / 1e9
    if nbytes:
        compute = flops / nbytes >= peak / bw if flops else False
        row["bound"] = "compute" if compute else "memory"
        row["peak"] = row["gflops"] / peak if compute else (row["gbs"] or 0.0) / bw
    return row


_CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_CPU_PEAKS: dict = {}


def _cpu_peaks(threads):
    """(FMA GFLOP/s, copy GB/s) per CPU-second, for clock="cpu" rows (measured once per thread count).

    The C++ loops time themselves with the wall clock; on a loaded machine that
    undercounts what the cores do while this process runs. Each measurement is
    scaled by (wall time / CPU time) of its call: work per CPU-second, the unit of
    the clock="cpu" rows. (Approximate for the copy, whose call also allocates.)
    """
    from . import _C

    if threads not in _CPU_PEAKS:
        def per_cpu_second(fn):
            w0, c0 = time.perf_counter(), time.process_time()
            value = fn()
            return value * (time.perf_counter() - w0) / max(time.process_time() - c0, 1e-9)

        isa = _C.best_isa()
        its = 40_000_000 if isa != "ref" else 4_000_000
        fma = max(per_cpu_second(lambda: _C.fma_peak_gflops(isa, threads, its)) for _ in range(3))
        copy = max(per_cpu_second(lambda: _C.stream_bandwidth("copy", threads, 128 << 20)) for _ in range(2))
        _CPU_PEAKS[threads] = (fma, copy)
    return _CPU_PEAKS[threads]


def explain(model, example_input, *, target=None, loss_fn=None, backward=True, repeats=5, threads=None,
            clock="wall"):
    """Runs traced training steps of `model` on `example_input` and returns an ``Explanation``.

    Args:
        model: a Module (put it in the mode you want: train() or eval()).
        example_input: a Tensor (or array) batch, e.g. ``dlcore.randn(32, 1, 28, 28)``.
        target, loss_fn: with both, the step's scalar is ``loss_fn(model(x), target)`` (a "loss" row
            belongs to the model); otherwise backward starts from a gradient of ones on the output.
        backward: False times the forward pass only (under no_grad).
        repeats: traced (and untraced) steps; each row's time is their median.
        clock: "wall" (elapsed time, default) or "cpu" (CPU time of this process's threads: not
            inflated when other processes share the cores; with one kernel thread it is the
            time the step costs the machine).

    Example:
        >>> report = dlcore.explain(dlcore.train.lenet5(), dlcore.randn(8, 1, 28, 28))
        >>> print(report)   # doctest: +SKIP
        >>> len(report.rows) > 0
        True
    """
    from . import _C, get_num_threads
    from .autograd import no_grad
    from .bench.common import fma_peak_gflops, stream_bandwidth_gbs
    from .nn import Module
    from .tensor import Tensor, tensor

    if not isinstance(model, Module):
        raise TypeError(f"explain: expected a dlcore.nn.Module, got {type(model).__name__}")
    if not hasattr(_C, "last_dispatch_declined"):
        raise RuntimeError("explain: this dlcore._C predates last_dispatch_declined; rebuild the extension")
    if clock not in _CLOCKS:
        raise ValueError(f"explain: clock must be 'wall' or 'cpu', got {clock!r}")
    clock_name, clock = clock, _CLOCKS[clock]
    if int(repeats) < 1:
        raise ValueError(f"explain: repeats must be >= 1, got {repeats}")
    x = example_input if isinstance(example_input, Tensor) else tensor(example_input)
    threads = threads or get_num_threads()

    def step(tracer=None):
        if not backward:
            with no_grad():
                return model(x)
        out = model(x)
        if loss_fn is not None and target is not None:
            if tracer is None:
                out = loss_fn(out, target)
            else:  # the loss gets its own rows, "(loss)"
                tracer.stack.append("(loss)")
                t0 = clock()
                out = loss_fn(out, target)
                tracer.fwd_incl["(loss)"] += clock() - t0
                tracer.stack.pop()
                tracer.shapes.setdefault("(loss)", (None, tuple(out.shape)))
        if out.numel() == 1:
            out.backward()
        else:
            out.backward(np.ones(out.shape, dtype=out.dtype))
        model.zero_grad()

    for _ in range(3):  # warm-up: page faults, packed buffers, the host cache, the thread pool
        step()
    step_times = []
    tracer = _Tracer(model, clock)
    runs = []
    for _ in range(int(repeats)):  # untraced and traced steps alternate: the same machine noise hits both
        t0 = clock()
        step()
        step_times.append(clock() - t0)
        tracer.reset()
        with tracer:
            step(tracer)
        runs.append((dict(tracer.fwd_incl), dict(tracer.fwd_child), dict(tracer.bwd), dict(tracer.kernels)))
    shapes = tracer.shapes

    if clock_name == "cpu":
        peak, bw = _cpu_peaks(threads)
    else:
        peak, bw = fma_peak_gflops(threads), stream_bandwidth_gbs(threads)["copy"]
    kinds = {(n or "(model)"): type(m).__name__ for n, m in model.named_modules()}
    kinds["(loss)"] = getattr(loss_fn, "__name__", type(loss_fn).__name__)
    order = [(n or "(model)") for n, m in model.named_modules()] + ["(loss)"]
    leaves = {(n or "(model)") for n, m in model.named_modules() if not list(m.children())} | {"(loss)"}
    rows = []
    for name in order:  # forward, in module order; containers only for their own ops
        self_times = [r[0].get(name, 0.0) - r[1].get(name, 0.0) for r in runs]
        events = runs[-1][3].get((name, "forward"), [])
        if name not in runs[-1][0] or (name not in leaves and not events and name not in runs[-1][2]):
            continue  # a container without ops of its own (Sequential): its children have the rows
        label = name if name in leaves else f"{name} (own ops)"
        rows.append(_row(label, kinds[name], "forward", self_times, events, shapes.get(name, (None, None)), peak, bw))
    if backward:
        owners = [n for n in order if n in runs[-1][2]] + (["(outside)"] if "(outside)" in runs[-1][2] else [])
        owners = [n for n in owners if n != "(loss)"] + (["(loss)"] if "(loss)" in owners else [])
        for name in reversed(owners):  # the order backward runs
            label = name if name in leaves or name == "(outside)" else f"{name} (own ops)"
            in_s, out_s = shapes.get(name, (None, None))
            rows.append(_row(label, kinds.get(name, "-"), "backward", [r[2].get(name, 0.0) for r in runs],
                             runs[-1][3].get((name, "backward"), []), (out_s, in_s), peak, bw))
    notes = []
    for isa, info in _C.isa_info().items():
        if not info["available"]:
            notes.append(f"{isa} implementations not considered: {info.get('reason', 'not available')}")
        elif info.get("emulated"):  # the ISA emulation test build: those timings are not the ISA's
            notes.append(f"{isa} implementations {info['reason']}")
    if clock_name == "cpu":
        notes.append("times are CPU time of this process (clock='cpu'), not elapsed time; rates and peaks "
                     "are per CPU-second")
    return Explanation(rows, statistics.median(step_times) * 1e3, peak, bw, threads, notes)


# ---- command line ---------------------------------------------------------------------------------
_BUILTIN = {"mlp": ((1, 28, 28), "dlcore.train.mlp(784)"), "lenet": ((1, 28, 28), "dlcore.train.lenet5()"),
            "alexnet": ((3, 32, 32), "dlcore.train.small_alexnet()")}


def build_model(name):
    """(model, input C x H x W) for a built-in name or a dlcore.models (zoo) builder."""
    from . import train

    if name == "mlp":
        return train.mlp(784), _BUILTIN[name][0]
    if name == "lenet":
        return train.lenet5(), _BUILTIN[name][0]
    if name == "alexnet":
        return train.small_alexnet(), _BUILTIN[name][0]
    try:
        from . import models
    except ImportError:
        raise ValueError(f"unknown model {name!r}: this build has no dlcore.models (the model zoo); "
                         f"choose one of {', '.join(_BUILTIN)}") from None
    builder = getattr(models, name, None)
    if not callable(builder):
        raise ValueError(f"unknown model {name!r}: not in dlcore.models nor one of {', '.join(_BUILTIN)}")
    return builder(), (3, 224, 224)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m dlcore.explain",
                                     description="Per-layer forward/backward report: kernels, time, % of peak.")
    parser.add_argument("--model", default="lenet",
                        help="mlp, lenet, alexnet, or a dlcore.models builder such as resnet18")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--input", default=None, help="C x H x W of one input, e.g. 3x32x32 (default: the model's)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--forward-only", action="store_true")
    parser.add_argument("--clock", default="wall", choices=["wall", "cpu"],
                        help="wall: elapsed time; cpu: this process's CPU time (steadier on a shared machine)")
    parser.add_argument("--json", default=None, help="also write the report as JSON here")
    args = parser.parse_args(argv)

    import dlcore

    if args.threads:
        dlcore.set_num_threads(args.threads)
    try:
        model, chw = build_model(args.model)
    except ValueError as exc:
        parser.error(str(exc))
    if args.input:
        chw = tuple(int(v) for v in args.input.lower().split("x"))
    dlcore.manual_seed(0)
    x = dlcore.randn(args.batch_size, *chw)
    report = explain(model, x, backward=not args.forward_only, repeats=args.repeats, clock=args.clock)
    print(f"# {args.model}, input {args.batch_size}x{'x'.join(map(str, chw))}")
    print(report)
    if args.json:
        import json

        with open(args.json, "w") as f:
            json.dump({"model": args.model, "input": [args.batch_size, *chw], **report.to_dict()}, f, indent=1)
    return report


def _declined_text(declined):
    """The registry's [(implementation, reason), ...] of the last call as one line ("" when none declined)."""
    return "; ".join(f"{impl} declined: {why}" for impl, why in declined)


class _CallableModule(types.ModuleType):
    """Lets ``dlcore.explain(model, x)`` call the function while ``python -m dlcore.explain`` runs this file."""

    def __call__(self, *args, **kwargs):
        return explain(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

if __name__ == "__main__":
    main()
