"""Fuzzing every dlcore.kernels function and Python-layer entry, crash-safe.

A fuzzed call is a small JSON-able description: ``{"op", "seed", "backend",
"mutations": [...]}``. ``build(desc)`` turns it into arguments, always the
same ones: it takes one of the op table's valid samples (tests/optable.py;
made once per process from a seed fixed by the op's name), picked with
``seed``, and applies the mutations -- NaN/Inf/huge/denormal
values, another dtype, a noncontiguous view, a dimension set to 0/1/+1 or
removed or added, the batch set to 0 everywhere, an absurd integer
(2^31, 2^62, 2^63-1, -1, 0 ...) or float (inf, nan, 1e30, -1 ...) for a
hyper-parameter, a wrong Python type, ``out=`` aliasing an input. Hypothesis
draws the descriptions.

The oracle, per call: no crash and no hang (the process survives; a call
running over CALL_TIMEOUT_S is a hang); either a clean exception (TypeError,
ValueError, RuntimeError incl. BackendUnavailableError, MemoryError,
OverflowError) or a result; for an unmutated call the result matches the
float64 reference; for a values-only mutation the output shapes are those
of the unmutated call; inputs are never written (except ``out=`` and batch
norm's running statistics). An unclear message (pybind11's "incompatible
function arguments" / "Unable to cast", an AttributeError from a layer given
a non-Tensor) is a finding too: tests/test_fuzz.py fails on any, except
those matching ALLOWED_UNCLEAR (each with its justification).

Calls run in child processes (``python fuzz.py run ...``), each writing the
call it is about to make to a log first, so a crash or hang is reported with
the exact call; ``python fuzz.py repro '<desc json>'`` replays one. Known
crashes that the C++ fixes have not landed for yet (KNOWN_CRASHES) are
probed once per session in a subprocess: while one still crashes, the calls
it covers are skipped and counted; once fixed, they are fuzzed like any other.

Profiles: ``quick`` (the normal suite, fixed seed, 300 calls, ~5 s quiet)
and ``long`` (``DLCORE_FUZZ=long``: >= 20,000 calls in batches of 2,000,
each batch in its own child process).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

CALL_TIMEOUT_S = 20
#: Address-space cap for a fuzz child: an absurd size that passes the checks fails to allocate
#: (MemoryError) instead of eating the shared machine's memory.
CHILD_MEMORY_BYTES = 6 << 30

ABSURD_INTS = [-1, 0, 1, 2, 3, 7, 2**31 - 1, 2**31, 2**32 + 1, 2**61 + 1, 2**62, 2**63 - 1, -(2**63), 2**64]
ABSURD_FLOATS = [0.0, -0.0, -1.0, 1e-30, 1e30, 3.4e38, float("inf"), float("-inf"), float("nan"), 0.75, 2.0]
SPECIAL_VALUES = [np.nan, np.inf, -np.inf, 3e38, -3e38, 1e-40, 0.0, -0.0, 1e20, -1e20]
WRONG_TYPES = ["none", "str", "float", "list", "scalar_array", "bool"]
DTYPES = ["float64", "float16", "int32", "int64", "uint8", "bool", "complex64"]
MUTATIONS = ["values", "dtype", "noncontig", "dim", "rank", "batch0", "int", "float", "type", "alias", "none"]

CLEAN = (TypeError, ValueError, RuntimeError, MemoryError, OverflowError)
UNCLEAR = ("incompatible function arguments", "Unable to cast", "unable to cast")
#: Unclear messages accepted, with why (regex on the message -> justification). Empty: every argument the
#: fuzz mutates is converted with a message naming it (kernels/_dispatch.py int_arg/float_arg/bool_arg,
#: bindings/args.h, the layer functions' Tensor check).
ALLOWED_UNCLEAR: dict = {}


def _unclear(msg):
    import re

    return any(u in msg for u in UNCLEAR) and not any(re.search(p, msg) for p in ALLOWED_UNCLEAR)


# ----------------------------------------------------------------------------------------- building
def _kernel_spec(name):
    from optable import BY_NAME
    return BY_NAME[name]


def _slots(sample):
    """Every mutable slot of a call: ("a", i) positional, ("k", name) keyword, with its value."""
    out = [(("a", i), v) for i, v in enumerate(sample.args)]
    out += [(("k", k), v) for k, v in sample.kwargs.items()]
    return out


def _get(args, kwargs, slot):
    return args[slot[1]] if slot[0] == "a" else kwargs[slot[1]]


def _set(args, kwargs, slot, value):
    if slot[0] == "a":
        args[slot[1]] = value
    else:
        kwargs[slot[1]] = value


def _is_int_like(v):
    return (isinstance(v, (int, np.integer)) and not isinstance(v, bool)) or (
        isinstance(v, tuple) and len(v) > 0 and all(isinstance(e, (int, np.integer)) for e in v))


def _pick(rng, items):
    return items[int(rng.integers(len(items)))]


def _mutate(rng, kind, args, kwargs, slots, values_only):
    arrays = [s for s, _ in slots if isinstance(_get(args, kwargs, s), np.ndarray)]
    floats32 = [s for s in arrays if _get(args, kwargs, s).dtype == np.float32]
    if kind == "values" and floats32:
        s = _pick(rng, floats32)
        a = _get(args, kwargs, s).copy()
        if a.size:
            idx = rng.integers(0, a.size, size=max(1, a.size // 7))
            a.reshape(-1)[idx] = rng.choice(SPECIAL_VALUES, size=idx.size)
        _set(args, kwargs, s, a)
        return "values"
    values_only[0] = False
    if kind == "dtype" and arrays:
        s = _pick(rng, arrays)
        _set(args, kwargs, s, _get(args, kwargs, s).astype(_pick(rng, DTYPES)))
    elif kind == "noncontig" and arrays:
        s = _pick(rng, arrays)
        a = _get(args, kwargs, s)
        if a.ndim:
            wide = np.full(a.shape[:-1] + (2 * a.shape[-1],), np.nan if a.dtype.kind in "fc" else 0, a.dtype)
            wide[..., ::2] = a
            _set(args, kwargs, s, wide[..., ::2] if rng.random() < 0.7 else wide[..., ::-1][..., ::2])
    elif kind == "dim" and arrays:
        s = _pick(rng, arrays)
        a = _get(args, kwargs, s)
        if a.ndim:
            shape = list(a.shape)
            axis = int(rng.integers(a.ndim))
            shape[axis] = int(_pick(rng, [0, 1, shape[axis] + 1, max(shape[axis] - 1, 0), 2 * shape[axis] + 1]))
            _set(args, kwargs, s, _fill(rng, shape, a.dtype))
    elif kind == "rank" and arrays:
        s = _pick(rng, arrays)
        a = _get(args, kwargs, s)
        shape = list(a.shape)
        if rng.random() < 0.5 and shape:
            shape.pop(int(rng.integers(len(shape))))
        else:
            shape.insert(int(rng.integers(len(shape) + 1)), int(_pick(rng, [1, 2, 3])))
        _set(args, kwargs, s, _fill(rng, shape, a.dtype))
    elif kind == "batch0":
        # batch 0 on every array and shape argument with the same leading size (an empty batch, consistent)
        lead = None
        for s in arrays:
            v = _get(args, kwargs, s)
            if v.ndim >= 2:
                lead = v.shape[0]
                break
        if lead is not None:
            for s, _ in slots:
                cur = _get(args, kwargs, s)
                if isinstance(cur, np.ndarray) and cur.ndim >= 2 and cur.shape[0] == lead:
                    _set(args, kwargs, s, np.zeros((0,) + cur.shape[1:], cur.dtype))
                elif isinstance(cur, tuple) and len(cur) == 4 and cur[0] == lead:
                    _set(args, kwargs, s, (0,) + tuple(cur[1:]))
    elif kind == "int":
        ints = [s for s, v in slots if _is_int_like(_get(args, kwargs, s))]
        if ints:
            s = _pick(rng, ints)
            v = _get(args, kwargs, s)
            if isinstance(v, tuple):
                v = list(v)
                v[int(rng.integers(len(v)))] = int(_pick(rng, ABSURD_INTS))
                _set(args, kwargs, s, tuple(v))
            else:
                _set(args, kwargs, s, int(_pick(rng, ABSURD_INTS)))
    elif kind == "float":
        floats = [s for s, v in slots if isinstance(_get(args, kwargs, s), float)]
        if floats:
            _set(args, kwargs, _pick(rng, floats), float(_pick(rng, ABSURD_FLOATS)))
    elif kind == "type":
        s = _pick(rng, [s for s, _ in slots])
        t = _pick(rng, WRONG_TYPES)
        _set(args, kwargs, s, {"none": None, "str": "x", "float": 1.5, "list": [1, 2], "bool": True,
                               "scalar_array": np.float32(1.0)}[t])
    elif kind == "alias":
        # out= (gemm) or an input passed twice: the same memory as two arguments
        if "out" in kwargs and arrays:
            kwargs["out"] = _get(args, kwargs, _pick(rng, [s for s in arrays if s != ("k", "out")] or arrays))
        elif len(arrays) >= 2:
            a, b = arrays[0], arrays[1]
            _set(args, kwargs, b, _get(args, kwargs, a))
    return kind


def _fill(rng, shape, dtype):
    a = rng.standard_normal(shape) * 2 + 0.1
    if np.dtype(dtype).kind in "iub":
        a = np.abs(a) * 3
    return a.astype(dtype)


_POOLS = {}


def _pool(spec):
    """The op's valid samples, made once per process from a seed fixed by the op's name (building
    them computes float64 references: the expensive part of a call)."""
    if spec.name not in _POOLS:
        _POOLS[spec.name] = spec.samples(np.random.default_rng(zlib.crc32(spec.name.encode())))
    return _POOLS[spec.name]


def build(desc):
    """desc -> (spec, valid sample, args, kwargs, values_only). Deterministic in desc."""
    spec = _kernel_spec(desc["op"])
    rng = np.random.default_rng(desc["seed"])
    if desc.get("layer"):
        from optable import Sample
        _, arrays, _, kw = spec.layer
        sample = Sample(tuple(a.astype(np.float32) for a in arrays), dict(kw), None)
    else:
        samples = _pool(spec)
        sample = samples[int(rng.integers(len(samples)))]
    args = [a.copy() if isinstance(a, np.ndarray) else a for a in sample.args]
    kwargs = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in sample.kwargs.items()}
    slots = _slots(sample)
    values_only = [True]
    for kind in desc["mutations"]:
        if kind != "none":
            _mutate(rng, kind, args, kwargs, slots, values_only)
    return spec, sample, args, kwargs, values_only[0] and desc["mutations"] != []


# ----------------------------------------------------------------------------------------- known crashes
def _conv_depthwise_empty(spec, args, kwargs):
    if not spec.name.startswith("conv2d"):
        return False
    shapes = [a.shape for a in args if isinstance(a, np.ndarray)] + [a for a in args if isinstance(a, tuple)]
    return any(len(s) == 4 and s[0] == 0 for s in shapes)


def _huge_int(spec, args, kwargs):
    if not spec.name.startswith(("conv2d", "max_pool", "avg_pool", "lrn", "maxout")):
        return False
    vals = list(args) + list(kwargs.values())
    flat = [e for v in vals for e in (v if isinstance(v, tuple) else (v,)) if isinstance(v, (int, tuple))]
    return any(isinstance(e, (int, np.integer)) and not isinstance(e, bool) and abs(int(e)) >= 2**30 for e in flat)


#: (name, predicate(spec, args, kwargs), a repro that crashes the interpreter while the bug is there).
#: Reported in the issue; csrc fixes are the harden-core branch's. The probe decides at run time.
KNOWN_CRASHES = [
    ("conv2d on an empty batch (depthwise N=0 divides by zero)", _conv_depthwise_empty,
     "import numpy as np, dlcore\n"
     "dlcore.kernels.conv2d_forward(np.zeros((0, 4, 8, 8), np.float32), np.ones((4, 1, 3, 3), np.float32), groups=4)\n"
     "dlcore.kernels.conv2d_backward_data(np.zeros((0, 4, 6, 6), np.float32), np.ones((4, 1, 3, 3), np.float32),"
     " (0, 4, 8, 8), groups=4)\n"
     "dlcore.kernels.conv2d_backward_weights(np.zeros((0, 4, 8, 8), np.float32), np.zeros((0, 4, 6, 6), np.float32),"
     " (4, 1, 3, 3), groups=4)\n"),
    ("geometry/size arithmetic overflowing int64 (hyper-parameters >= 2^30)", _huge_int,
     "import numpy as np, dlcore\n"
     "x = np.ones((1, 2, 5, 5), np.float32)\n"
     "for call in [lambda: dlcore.kernels.maxout_backward(np.ones((1, 1, 5), np.float32),"
     " np.zeros((1, 1, 5), np.int32), 2**61 + 1),\n"
     "             lambda: dlcore.kernels.max_pool2d_forward(x, 3, 1, 2**62),\n"
     "             lambda: dlcore.kernels.avg_pool2d_forward(x, 3, 2**62, 1),\n"
     "             lambda: dlcore.kernels.conv2d_forward(x, np.ones((2, 2, 3, 3), np.float32), padding=2**62),\n"
     "             lambda: dlcore.kernels.conv2d_forward(x, np.ones((2, 2, 3, 3), np.float32), dilation=2**62),\n"
     "             lambda: dlcore.kernels.conv2d_forward(x, np.ones((2, 2, 3, 3), np.float32), stride=2**63 - 1)]:\n"
     "    try:\n"
     "        out = call()\n"
     "    except (ValueError, TypeError, OverflowError, MemoryError, RuntimeError):\n"
     "        continue\n"
     "    raise SystemExit(f'returned instead of raising: {out if not hasattr(out, \"shape\") else out.shape}')\n"
     "# an LRN size beyond the data is valid (KERNEL_API: the window is clipped): it must return, not crash or hang\n"
     "dlcore.kernels.lrn_forward(x, 2**62, region='within')\n"
     "dlcore.kernels.lrn_forward(x, 2**31 + 1, region='within')\n"),
]
_PROBED = {}


def still_crashes(index):
    """Runs KNOWN_CRASHES[index]'s repro in a child: True while it crashes, hangs or misbehaves."""
    if index not in _PROBED:
        try:
            r = subprocess.run([sys.executable, "-c", KNOWN_CRASHES[index][2]], env=child_env(expect_crash=True),
                               capture_output=True, timeout=60, preexec_fn=_limit_memory)
            _PROBED[index] = r.returncode != 0
        except subprocess.TimeoutExpired:
            _PROBED[index] = True
    return _PROBED[index]


def child_env(expect_crash=False):
    path = os.pathsep.join(p for p in sys.path if p)
    env = dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    return expected_crash_env(env) if expect_crash else env


def expected_crash_env(env):
    """Under .ci/run's sanitizer step, a child that crashes on purpose (a known crash's probe or
    repro) writes its sanitizer report as expected-*, so the step counts only real findings."""
    for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        opts = [o for o in env.get(key, "").split(":") if o]
        for i, opt in enumerate(opts):
            if opt.startswith("log_path="):
                head, tail = os.path.split(opt[len("log_path="):])
                opts[i] = "log_path=" + os.path.join(head, "expected-" + tail)
        if opts:
            env[key] = ":".join(opts)
    return env


def _limit_memory():
    if "asan" in os.environ.get("LD_PRELOAD", ""):
        return  # AddressSanitizer reserves terabytes of shadow address space: no RLIMIT_AS under it
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY_BYTES, CHILD_MEMORY_BYTES))
    except (ImportError, ValueError, OSError):
        pass


# ----------------------------------------------------------------------------------------- one call
def _snapshot(args, kwargs):
    return [(i, a.copy()) for i, a in enumerate(args) if isinstance(a, np.ndarray)]


def run_call(desc, skip):
    """Runs one described call; returns (outcome, detail). Outcomes: ok, ok-ref (matched the reference),
    clean (documented exception), unclear (clean type, pybind11 message), skip, FAIL."""
    import dlcore

    if desc.get("selftest_crash"):
        os.abort()
    spec, sample, args, kwargs, values_only = build(desc)
    for i, (_, pred, _) in enumerate(KNOWN_CRASHES):
        if i in skip and pred(spec, args, kwargs):
            return "skip", KNOWN_CRASHES[i][0]
    before = _snapshot(args, kwargs)
    backend = desc["backend"]
    if desc.get("layer"):
        return _run_layer(spec, args, kwargs, backend, "type" in desc["mutations"])
    try:
        out = spec.kernel(*args, **kwargs, backend=backend)
    except dlcore.BackendUnavailableError as exc:
        return "clean", f"BackendUnavailableError: {exc}"
    except CLEAN as exc:
        msg = f"{type(exc).__name__}: {exc}"
        return ("unclear" if _unclear(str(exc)) else "clean"), msg[:300]
    except Exception as exc:  # noqa: BLE001 - any other exception type is a finding
        return "FAIL", f"unexpected {type(exc).__name__}: {str(exc)[:300]}"
    outs = out if isinstance(out, tuple) else (out,)
    # inputs are never written (out= and batch norm's running stats are outputs by contract)
    written_ok = {3, 4} if spec.name == "batch_norm_forward_training" else set()
    for i, a in before:
        if i in written_ok or any(o is args[i] for o in outs if isinstance(o, np.ndarray)):
            continue
        if kwargs.get("out") is not None and np.shares_memory(args[i], kwargs["out"]):
            continue
        if not np.array_equal(a, args[i], equal_nan=a.dtype.kind in "fc"):
            return "FAIL", f"input {i} was modified"
    for o in outs:
        if o is not None and not isinstance(o, np.ndarray):
            return "FAIL", f"returned {type(o).__name__}"
        if o is not None and o.dtype not in (np.float32, np.int32, np.uint8, np.int64):
            return "FAIL", f"returned dtype {o.dtype}"
    if not desc["mutations"] or desc["mutations"] == ["none"]:
        if backend in spec.backends or backend == "auto":
            from optable import compare
            try:
                compare(spec, sample, outs, f"{spec.name}[{backend}]")
            except AssertionError as exc:
                return "FAIL", f"wrong result: {str(exc)[:400]}"
            return "ok-ref", ""
    if values_only:
        exp = sample.expect if spec.name != "dropout_forward" else (None, None)
        exp = exp if isinstance(exp, tuple) else (exp,)
        for o, e in zip(outs, exp):
            if e is not None and o is not None and o.shape != e.shape:
                return "FAIL", f"NaN/Inf inputs changed the output shape {o.shape} != {e.shape}"
    return "ok", ""


def _run_layer(spec, args, kwargs, backend, type_mutated):
    """The op's dlcore.nn.functional entry on Tensors, forward and backward, under `backend`."""
    import dlcore
    import dlcore.nn.functional as F

    fname = spec.layer[2]
    try:
        with dlcore.backend(backend if backend in ("ref", "avx2", "avx512", "onednn") else "auto"):
            tensors = [dlcore.Tensor(a, requires_grad=a.dtype.kind == "f") if isinstance(a, np.ndarray) else a
                       for a in args]
            out = getattr(F, fname)(*tensors, **kwargs)
            if isinstance(out, tuple):
                out = out[0]
            if isinstance(out, dlcore.Tensor) and out.requires_grad and out.dtype.kind == "f":
                out.sum().backward()
    except dlcore.BackendUnavailableError as exc:
        return "clean", f"BackendUnavailableError: {exc}"
    except CLEAN as exc:
        msg = f"{type(exc).__name__}: {exc}"
        return ("unclear" if _unclear(str(exc)) else "clean"), msg[:300]
    except (AttributeError, IndexError) as exc:
        if not type_mutated:
            return "FAIL", f"layer {fname}: unexpected {type(exc).__name__}: {str(exc)[:300]}"
        # a str/None/list where a Tensor goes must raise TypeError naming the argument (nn/functional.py
        # checks at the entry): an AttributeError/IndexError from inside is unclear
        return "unclear", f"layer {fname}: {type(exc).__name__} on a non-Tensor argument: {str(exc)[:200]}"
    except Exception as exc:  # noqa: BLE001 - any other exception type is a finding
        return "FAIL", f"layer {fname}: unexpected {type(exc).__name__}: {str(exc)[:300]}"
    return "ok", ""


# ----------------------------------------------------------------------------------------- child runner
def _descs(seed, count, backends, ops):
    """count call descriptions drawn by Hypothesis from a fixed seed (a plain generator: no shrinking,
    since a description is already minimal and a crash is isolated by the log)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st

    out = []
    from optable import OPS

    layer_ops = [op.name for op in OPS if op.layer is not None]

    def mutations(n):  # n drawn uniformly: Hypothesis alone favours the empty list
        return st.lists(st.sampled_from(MUTATIONS), min_size=n, max_size=n)
    kernel_call = st.fixed_dictionaries({
        "op": st.sampled_from(ops),
        "seed": st.integers(0, 2**32 - 1),
        "backend": st.sampled_from(backends),
        # about a quarter valid calls (checked against the reference), the rest mutated
        "mutations": st.sampled_from([0, 1, 2, 3]).flatmap(mutations),
    })
    layer_call = st.fixed_dictionaries({
        "op": st.sampled_from(layer_ops),
        "layer": st.just(True),
        "seed": st.integers(0, 2**32 - 1),
        "backend": st.sampled_from(backends),
        "mutations": st.sampled_from([0, 1, 1, 2]).flatmap(mutations),
    })
    strategy = st.one_of(kernel_call, kernel_call, kernel_call, layer_call)  # 1 in 4 calls a layer entry

    seen = set()
    per_example = 25  # calls drawn per Hypothesis example: its per-example overhead dominates otherwise

    class Enough(Exception):
        pass

    @hseed(seed)
    @settings(max_examples=10 * (count // per_example + 1), database=None, phases=[Phase.generate],
              deadline=None, suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    @given(st.lists(strategy, min_size=per_example, max_size=per_example))
    def collect(descs):
        for desc in descs:
            key = json.dumps(desc, sort_keys=True)
            if key not in seen:  # Hypothesis repeats some draws: keep distinct calls
                seen.add(key)
                out.append(desc)
        if len(out) >= count:
            raise Enough
    try:
        collect()
    except Enough:
        pass
    return out[:count]


def child_main(seed, count, log_path, skip):
    import faulthandler

    import dlcore
    from optable import OP_NAMES

    info = dlcore.backends()
    backends = [b for b in ("ref", "avx2", "avx512", "onednn", "auto") if b == "auto" or info[b]["available"]]
    backends.append("nonexistent")
    descs = _descs(seed, count, backends, OP_NAMES)
    selftest = os.environ.get("DLCORE_FUZZ_SELFTEST_CRASH")
    if selftest:  # tests/test_fuzz.py checks that a crash is caught and reported with its call
        descs.insert(int(selftest), dict(descs[0], selftest_crash=True))
    stats, fails, unclear = {}, [], []
    with open(log_path, "w") as log:
        for desc in descs:
            log.write(json.dumps(desc) + "\n")
            log.flush()
            faulthandler.dump_traceback_later(CALL_TIMEOUT_S, exit=True)
            outcome, detail = run_call(desc, skip)
            faulthandler.cancel_dump_traceback_later()
            stats[outcome] = stats.get(outcome, 0) + 1
            if outcome == "FAIL":
                fails.append({"call": desc, "detail": detail})
            elif outcome == "unclear" and len(unclear) < 20:
                unclear.append({"call": desc, "detail": detail})
    print(json.dumps({"calls": len(descs), "stats": stats, "fails": fails, "unclear": unclear}))


def run_profile(total, batch, seed0=0, timeout_s=600):
    """Runs `total` calls in child processes of `batch` calls; returns a report dict.
    A crash or hang ends its batch and is reported with the call it was making; the next batch goes on."""
    skip = [i for i in range(len(KNOWN_CRASHES)) if still_crashes(i)]
    report = {"calls": 0, "stats": {}, "fails": [], "crashes": [], "unclear": [], "known_skipped":
              [KNOWN_CRASHES[i][0] for i in skip]}
    done, b = 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        while done < total:
            n = min(batch, total - done)
            log = os.path.join(tmp, f"batch{b}.log")
            cmd = [sys.executable, os.path.abspath(__file__), "run", str(seed0 + b), str(n), log,
                   ",".join(map(str, skip))]
            try:
                r = subprocess.run(cmd, env=child_env(), capture_output=True, text=True, timeout=timeout_s,
                                   preexec_fn=_limit_memory)
                rc, stdout, stderr = r.returncode, r.stdout, r.stderr
            except subprocess.TimeoutExpired as exc:
                rc, stdout, stderr = "timeout", exc.stdout or "", exc.stderr or ""
            ran = 0
            if os.path.exists(log):
                with open(log) as f:
                    lines = f.read().splitlines()
                ran = len(lines)
            if rc == 0:
                res = json.loads(stdout.strip().splitlines()[-1])
                report["calls"] += res["calls"]
                for k, v in res["stats"].items():
                    report["stats"][k] = report["stats"].get(k, 0) + v
                report["fails"] += res["fails"]
                report["unclear"] += res["unclear"][: max(0, 40 - len(report["unclear"]))]
            else:
                last = json.loads(lines[-1]) if ran else None
                err = stderr if isinstance(stderr, str) else stderr.decode(errors="replace")
                report["crashes"].append({"call": last, "returncode": rc, "stderr": err[-1500:]})
                report["calls"] += ran
                report["stats"]["crash"] = report["stats"].get("crash", 0) + 1
            done += n
            b += 1
    return report


def format_report(report):
    lines = [f"fuzz: {report['calls']} calls, outcomes {dict(sorted(report['stats'].items()))}"]
    if report["known_skipped"]:
        lines.append(f"  known crashes still present (their calls skipped): {report['known_skipped']}")
    for c in report["crashes"]:
        lines.append(f"  CRASH rc={c['returncode']}: {json.dumps(c['call'])}\n    {c['stderr'][-600:]}")
    for f in report["fails"][:30]:
        lines.append(f"  FAIL {json.dumps(f['call'])}: {f['detail']}")
    for u in report["unclear"][:5]:
        lines.append(f"  unclear message {json.dumps(u['call'])}: {u['detail'][:160]}")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1] == "run":
        skip = {int(i) for i in sys.argv[5].split(",") if i}
        child_main(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], skip)
    elif sys.argv[1] == "repro":
        print(run_call(json.loads(sys.argv[2]), set()))
    elif sys.argv[1] == "profile":
        total = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
        rep = run_profile(total, 2000)
        print(format_report(rep))
        sys.exit(1 if rep["crashes"] or rep["fails"] else 0)
