"""Rprop, ASGD, Adafactor and LBFGS: their first steps against the documented formulas (float64), and
convergence where the method guarantees it."""
import math

import numpy as np
import pytest

import dlcore
from dlcore import optim


def _quadratic(rng, n=6):
    a = rng.standard_normal((n, n))
    hessian = a @ a.T + n * np.eye(n)
    b = rng.standard_normal(n)
    return hessian, b, np.linalg.solve(hessian, b)


def _loss(x, hessian, b):
    return 0.5 * (x * (dlcore.tensor(hessian) @ x)).sum() - (dlcore.tensor(b) * x).sum()


def _grad_step(opt, x, hessian, b):
    opt.zero_grad()
    _loss(x, hessian, b).backward()
    opt.step()


def test_rprop_steps_follow_the_sign_rule(rng):
    hessian, b, _ = _quadratic(rng)
    x0 = rng.standard_normal(6)
    x = dlcore.tensor(x0.copy(), requires_grad=True)
    opt = optim.Rprop([x], lr=0.1, etas=(0.5, 1.2), step_sizes=(1e-6, 50))
    g1 = hessian @ x0 - b
    _grad_step(opt, x, hessian, b)
    np.testing.assert_allclose(x.numpy(), x0 - 0.1 * np.sign(g1), rtol=1e-15)
    x1 = x.numpy().copy()
    g2 = hessian @ x1 - b
    _grad_step(opt, x, hessian, b)
    step = np.where(g1 * g2 > 0, 0.12, np.where(g1 * g2 < 0, 0.05, 0.1))
    np.testing.assert_allclose(x.numpy(), x1 - np.where(g1 * g2 < 0, 0, np.sign(g2)) * step, rtol=1e-15)


def test_asgd_rate_decays_and_average_starts_at_t0(rng):
    hessian, b, _ = _quadratic(rng)
    x0 = rng.standard_normal(6)
    x = dlcore.tensor(x0.copy(), requires_grad=True)
    lr, lambd, alpha = 0.05, 0.1, 0.75
    opt = optim.ASGD([x], lr=lr, lambd=lambd, alpha=alpha, t0=2)
    expected, eta, history = x0.copy(), lr, []
    for step in range(1, 6):
        g = hessian @ expected - b
        expected = expected * (1 - lambd * eta) - eta * g
        history.append(expected.copy())
        eta = lr / (1 + lambd * lr * step) ** alpha
        _grad_step(opt, x, hessian, b)
        np.testing.assert_allclose(x.numpy(), expected, rtol=1e-12)
    # ax: copies x while mu = 1 (steps 1-3), then averages: mu = 1 / (step - t0)
    ax = history[2].copy()
    ax += (history[3] - ax) * 1.0
    ax += (history[4] - ax) * 0.5
    np.testing.assert_allclose(opt.state[id(x)]["ax"], ax, rtol=1e-12)


def test_adafactor_factored_second_moment(rng):
    w0 = rng.standard_normal((4, 3))
    w = dlcore.tensor(w0.copy(), requires_grad=True)
    target = rng.standard_normal((4, 3))
    opt = optim.Adafactor([w], lr=0.01)
    ((w - dlcore.tensor(target)) ** 2).sum().backward()
    opt.step()
    g = 2 * (w0 - target)
    row, col = (g * g).mean(axis=1, keepdims=True), (g * g).mean(axis=0, keepdims=True)  # 1 - beta2_1 = 1
    update = g / np.sqrt(np.maximum(row @ col / row.mean(), np.finfo(float).eps ** 2))
    alpha = max(1e-3, np.sqrt((w0 ** 2).mean())) * 0.01
    denom = max(1.0, np.sqrt((update ** 2).mean()))
    np.testing.assert_allclose(w.numpy(), w0 - alpha / denom * update, rtol=1e-12)
    assert opt.state[id(w)]["row_var"].shape == (4, 1) and opt.state[id(w)]["col_var"].shape == (1, 3)
    with pytest.raises(ValueError, match="d must be >= 1"):
        optim.Adafactor([w], d=0.5)


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_lbfgs_solves_a_quadratic(rng, line_search):
    hessian, b, solution = _quadratic(rng, 8)
    x = dlcore.tensor(np.zeros(8), requires_grad=True)
    opt = optim.LBFGS([x], lr=1.0 if line_search else 0.2, max_iter=100, line_search_fn=line_search,
                      tolerance_grad=1e-12, tolerance_change=1e-14)

    def closure():
        opt.zero_grad()
        loss = _loss(x, hessian, b)
        loss.backward()
        return loss

    first = opt.step(closure)
    assert float(first) == 0.0  # step returns the closure's first loss
    for _ in range(3):
        opt.step(closure)
    np.testing.assert_allclose(x.numpy(), solution, rtol=1e-6, atol=1e-7)
    assert opt.state[id(x)]["func_evals"] >= opt.state[id(x)]["n_iter"]


def test_lbfgs_first_iteration_is_a_scaled_gradient_step(rng):
    hessian, b, _ = _quadratic(rng)
    x0 = rng.standard_normal(6)
    x = dlcore.tensor(x0.copy(), requires_grad=True)
    opt = optim.LBFGS([x], lr=0.5, max_iter=1)
    g = hessian @ x0 - b

    def closure():
        opt.zero_grad()
        loss = _loss(x, hessian, b)
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_allclose(x.numpy(), x0 - min(1.0, 1.0 / np.abs(g).sum()) * 0.5 * g, rtol=1e-14)
    with pytest.raises(RuntimeError, match="closure"):
        opt.step(None)
    with pytest.raises(ValueError, match="line_search_fn"):
        optim.LBFGS([x], line_search_fn="armijo")


def test_cubic_minimum_of_a_cubic():
    from dlcore.optim.lbfgs import _cubic_minimum

    f = lambda t: (t - 0.3) ** 2 * (t + 2)  # noqa: E731  local minimum at 0.3
    df = lambda t: 2 * (t - 0.3) * (t + 2) + (t - 0.3) ** 2  # noqa: E731
    assert _cubic_minimum(0.0, f(0.0), df(0.0), 1.0, f(1.0), df(1.0)) == pytest.approx(0.3, abs=1e-12)
    assert math.isclose(_cubic_minimum(0.0, 0.0, 3.0, 1.0, 2.0, 3.0), 0.5)  # no interior minimum: midpoint


# ---- Muon ---------------------------------------------------------------------------------------------------
def _muon_reference(w, grads, lr, weight_decay, momentum, nesterov, adjust):
    """torch.optim.Muon's update written out in float64 (its Newton-Schulz run in float64, not bfloat16)."""
    a, b, c = 3.4445, -4.775, 2.0315
    rows, cols = w.shape
    scale = {None: math.sqrt(max(1, rows / cols)), "match_rms_adamw": 0.2 * math.sqrt(max(rows, cols)),
             "spectral_unclamped": math.sqrt(rows / cols)}[adjust]
    w, buf = w.copy(), np.zeros_like(w)
    for g in grads:
        buf = momentum * buf + (1 - momentum) * g
        u = (1 - momentum) * g + momentum * buf if nesterov else buf
        x = u.T if rows > cols else u
        x = x / max(np.linalg.norm(x), 1e-7)
        for _ in range(5):
            gram = x @ x.T
            x = a * x + (b * gram + c * gram @ gram) @ x
        w = w * (1 - lr * weight_decay) - lr * scale * (x.T if rows > cols else x)
    return w


@pytest.mark.parametrize("shape,kw", [((7, 3), {}), ((3, 17), dict(nesterov=False)),
                                      ((5, 5), dict(adjust_lr_fn="match_rms_adamw", weight_decay=0.01)),
                                      ((33, 4), dict(adjust_lr_fn="spectral_unclamped", momentum=0.9, lr=0.02))])
def test_muon_steps_match_the_formula(rng, shape, kw):
    w0 = rng.standard_normal(shape)
    grads = [rng.standard_normal(shape) for _ in range(3)]
    p = dlcore.nn.Parameter(dlcore.tensor(w0))
    opt = optim.Muon([p], **kw)
    for g in grads:
        p.grad = dlcore.tensor(g)
        opt.step()
    args = dict(lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True, adjust_lr_fn=None) | kw
    want = _muon_reference(w0, grads, args["lr"], args["weight_decay"], args["momentum"], args["nesterov"],
                           args["adjust_lr_fn"])
    np.testing.assert_allclose(p.numpy(), want, rtol=1e-12, atol=1e-14)
    assert np.abs(p.numpy() - w0).max() > 1e-4  # it moved


def test_muon_update_is_near_orthogonal(rng):
    # 5 quintic steps put every singular value of the update in about (0.5, 1.5) (not at 1: torch's doc),
    # from a gradient whose singular values spread 100x (each step multiplies a small one by about a = 3.44,
    # so 5 steps lift those down to ~1/400 of the Frobenius norm; below, they stay small).
    u, _, vt = np.linalg.svd(rng.standard_normal((20, 7)), full_matrices=False)
    g = (u * np.geomspace(0.1, 10, 7)) @ vt
    s = np.linalg.svd(optim.optimizers_more.newton_schulz(g.astype(np.float32)), compute_uv=False)
    assert s.min() > 0.5 and s.max() < 1.5, s
    assert np.linalg.svd(g, compute_uv=False).max() / np.linalg.svd(g, compute_uv=False).min() > 99


def test_muon_rejects_what_it_cannot_take():
    w, bias = dlcore.nn.Parameter(dlcore.zeros(3, 4)), dlcore.nn.Parameter(dlcore.zeros(4))
    with pytest.raises(ValueError, match="only 2-D parameters"):
        optim.Muon([w, bias])
    opt = optim.Muon([w])
    with pytest.raises(ValueError, match="only 2-D parameters"):
        opt.add_param_group({"params": [bias]})
    assert len(opt.param_groups) == 1
    with pytest.raises(ValueError, match="adjust_lr_fn"):
        optim.Muon([w], adjust_lr_fn="nope")
    with pytest.raises(ValueError, match="ns_steps"):
        optim.Muon([w], ns_steps=0)
    with pytest.raises(ValueError, match="lr must be >= 0"):
        optim.Muon([w], lr=-1.0)
