"""The fused multi-tensor optimizer steps (dlcore._C sgd_step / adam_step / adadelta_step, used by
dlcore.optim for float32 NumPy parameters) against the unfused formulas in float64, on odd sizes."""
import numpy as np
import pytest

import dlcore
from dlcore import _C, optim

_INFO = dlcore.backends()
SIZES = [(1,), (3,), (7, 17), (33,), (129, 3), (40_001,)]  # 40001: several 16K tiles, the 2-thread path


def _backends():
    for name in ("ref", "avx2", "avx512"):
        reason = None if _INFO[name]["available"] else f"{name} is not available on this CPU (not run here)"
        yield pytest.param(name, marks=pytest.mark.skipif(reason is not None, reason=reason or ""))


BACKENDS = list(_backends())


def _data(rng, n_steps=3):
    """Parameters and n_steps gradients per parameter, random and never zero."""
    params = [rng.standard_normal(s).astype(np.float32) for s in SIZES]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in SIZES] for _ in range(n_steps)]
    return params, grads


# ---- float64 references: PyTorch's formulas -------------------------------------------------------------
def _ref_reg(p, g, wd, l1):
    return g + wd * p + l1 * np.sign(p)


def ref_sgd(params, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, l1=0.0):
    ps = [p.astype(np.float64) for p in params]
    bufs = [None] * len(ps)
    for step in grads:
        for i, g in enumerate(step):
            g = _ref_reg(ps[i], g.astype(np.float64), weight_decay, l1)
            if momentum:
                bufs[i] = g.copy() if bufs[i] is None else momentum * bufs[i] + (1 - dampening) * g
                g = g + momentum * bufs[i] if nesterov else bufs[i]
            ps[i] = ps[i] - lr * g
    return ps


def ref_adam(params, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False, l1=0.0):
    b1, b2 = betas
    ps = [p.astype(np.float64) for p in params]
    ms = [np.zeros_like(p) for p in ps]
    vs = [np.zeros_like(p) for p in ps]
    for t, step in enumerate(grads, 1):
        for i, g in enumerate(step):
            g = g.astype(np.float64)
            if decoupled:
                g = _ref_reg(ps[i], g, 0.0, l1)
                ps[i] = ps[i] * (1 - lr * weight_decay)
            else:
                g = _ref_reg(ps[i], g, weight_decay, l1)
            ms[i] = b1 * ms[i] + (1 - b1) * g
            vs[i] = b2 * vs[i] + (1 - b2) * g * g
            ps[i] = ps[i] - lr * (ms[i] / (1 - b1 ** t)) / (np.sqrt(vs[i] / (1 - b2 ** t)) + eps)
    return ps


def ref_adadelta(params, grads, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, l1=0.0):
    ps = [p.astype(np.float64) for p in params]
    vs = [np.zeros_like(p) for p in ps]
    us = [np.zeros_like(p) for p in ps]
    for step in grads:
        for i, g in enumerate(step):
            g = _ref_reg(ps[i], g.astype(np.float64), weight_decay, l1)
            vs[i] = rho * vs[i] + (1 - rho) * g * g
            d = np.sqrt(us[i] + eps) / np.sqrt(vs[i] + eps) * g
            us[i] = rho * us[i] + (1 - rho) * d * d
            ps[i] = ps[i] - lr * d
    return ps


def _close(got, want):
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)


CASES = [
    ("sgd", dict(lr=0.1)),
    ("sgd", dict(lr=0.05, momentum=0.9)),
    ("sgd", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01, l1=0.003)),
    ("sgd", dict(lr=0.05, momentum=0.8, weight_decay=0.02, nesterov=True)),
    ("adam", dict(lr=0.01)),
    ("adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, l1=0.01)),
    ("adamw", dict(lr=0.01, weight_decay=0.1)),
    ("adadelta", dict(lr=1.0)),
    ("adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.05, l1=0.01)),
]
_OPT = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW, "adadelta": optim.Adadelta}


def _reference(kind, params, grads, kw):
    if kind == "sgd":
        return ref_sgd(params, grads, **kw)
    if kind in ("adam", "adamw"):
        return ref_adam(params, grads, decoupled=kind == "adamw", **kw)
    return ref_adadelta(params, grads, **kw)


def _run_optimizer(kind, params, grads, kw, fused):
    ts = [dlcore.from_numpy(p.copy()) for p in params]
    for t in ts:
        t.requires_grad = True
    opt = _OPT[kind](ts, fused=fused, **kw)
    for step in grads:
        for t, g in zip(ts, step):
            t.grad = dlcore.from_numpy(g.copy())
        opt.step()
    return [t._data for t in ts], opt


@pytest.mark.parametrize("kind,kw", CASES)
def test_fused_optimizer_matches_float64_formulas(kind, kw, rng):
    params, grads = _data(rng)
    got, opt = _run_optimizer(kind, params, grads, kw, fused=True)
    _close(got, _reference(kind, params, grads, kw))
    unfused, _ = _run_optimizer(kind, params, grads, kw, fused=False)
    _close(got, [u.astype(np.float64) for u in unfused])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind,kw", [c for c in CASES if c[0] != "adamw"])
def test_each_backend_matches_float64_formulas(backend, kind, kw, rng):
    params, grads = _data(rng, n_steps=2)
    ps = [p.copy() for p in params]
    s1 = [np.full_like(p, np.nan) for p in params]  # poisoned: a fresh SGD buffer must be written, not read
    s2 = [np.zeros_like(p) for p in params]
    if kind != "sgd":
        s1 = [np.zeros_like(p) for p in params]
    for t, step in enumerate(grads, 1):
        if kind == "sgd":
            _C.sgd_step(ps, step, s1, [t == 1] * len(ps), kw["lr"], kw.get("momentum", 0.0), kw.get("dampening", 0.0),
                        kw.get("weight_decay", 0.0), kw.get("nesterov", False), kw.get("l1", 0.0), backend=backend)
        elif kind == "adam":
            b1, b2 = kw.get("betas", (0.9, 0.999))
            _C.adam_step(ps, step, s1, s2, [t] * len(ps), kw["lr"], b1, b2, kw.get("eps", 1e-8),
                         kw.get("weight_decay", 0.0), False, kw.get("l1", 0.0), backend=backend)
        else:
            _C.adadelta_step(ps, step, s1, s2, kw["lr"], kw.get("rho", 0.9), kw.get("eps", 1e-6),
                             kw.get("weight_decay", 0.0), kw.get("l1", 0.0), backend=backend)
        assert dlcore.kernels.last_dispatch().endswith(f"optim_step_{backend}")
    _close(ps, _reference(kind, params, grads, kw))


def test_results_do_not_depend_on_thread_count(rng):
    params, grads = _data(rng)
    before = dlcore.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            dlcore.set_num_threads(n)
            results.append(_run_optimizer("adam", params, grads, dict(lr=0.01, weight_decay=0.1), True)[0])
    finally:
        dlcore.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b)


def test_float64_parameters_take_the_numpy_formulas_and_fused_true_refuses(rng):
    p = dlcore.from_numpy(rng.standard_normal(5))
    p.requires_grad = True
    p.grad = dlcore.from_numpy(rng.standard_normal(5))
    want = p._data - 0.1 * p.grad._data
    optim.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p._data, want)
    with pytest.raises(RuntimeError, match="fused=True.*float32"):
        optim.SGD([p], lr=0.1, fused=True).step()


def test_parameters_without_gradient_are_left_alone(rng):
    a, b = (dlcore.from_numpy(rng.standard_normal(4).astype(np.float32)) for _ in range(2))
    a.grad = dlcore.from_numpy(np.ones(4, np.float32))
    before = b._data.copy()
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    opt.step()
    assert np.array_equal(b._data, before) and id(b) not in opt.state


def test_bad_arguments_raise_clear_errors():
    p, g, s = np.ones(3, np.float32), np.ones(3, np.float32), np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="1 params but 2 grads"):
        _C.sgd_step([p], [g, g], [s], [True], 0.1, 0.9)
    with pytest.raises(ValueError, match=r"grads\[0\] has shape \(4,\), params\[0\] has \(3,\)"):
        _C.sgd_step([p], [np.ones(4, np.float32)], [s], [True], 0.1, 0.9)
    with pytest.raises(TypeError, match=r"params\[0\] must be float32"):
        _C.adam_step([p.astype(np.float64)], [g], [s], [s.copy()], [1], 0.1)
    ro = p.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _C.adadelta_step([ro], [g], [s], [s.copy()])
    with pytest.raises(ValueError, match="shares memory"):
        _C.adadelta_step([p], [g], [s], [s])
    with pytest.raises(ValueError, match="lr must be finite"):
        _C.sgd_step([p], [g], [s], [True], float("nan"))
    with pytest.raises(ValueError, match=r"steps\[0\] must be >= 1"):
        _C.adam_step([p], [g], [s], [s.copy()], [0], 0.1)
    with pytest.raises(ValueError, match="not C-contiguous"):
        _C.sgd_step([np.ones((3, 2), np.float32).T], [np.ones((2, 3), np.float32)], [], [], 0.1)
