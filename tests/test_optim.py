"""Each optimizer's updates against its reference formula, step by step (float64)."""
import math

import numpy as np
import pytest

import dlcore
from dlcore import nn, optim


def run(make_opt, steps=4, seed=0):
    """Runs `steps` updates with fixed pseudo-gradients; returns the parameter after each step and the grads."""
    rng = np.random.default_rng(seed)
    p = dlcore.tensor(rng.standard_normal(7), requires_grad=True)
    opt = make_opt([p])
    history, grads = [p.numpy().copy()], []
    for _ in range(steps):
        g = rng.standard_normal(7)
        p.grad = dlcore.tensor(g)
        opt.step()
        grads.append(g)
        history.append(p.numpy().copy())
    return history, grads


def reference(update, state, steps_history, grads):
    p = steps_history[0].copy()
    for t, g in enumerate(grads, start=1):
        p = update(p, g, state, t)
        np.testing.assert_allclose(steps_history[t], p, rtol=1e-12, atol=1e-14, err_msg=f"step {t}")


@pytest.mark.parametrize("momentum,nesterov,wd,damp", [(0, False, 0, 0), (0.9, False, 0.01, 0), (0.9, True, 0.1, 0),
                                                       (0.5, False, 0, 0.3)])
def test_sgd(momentum, nesterov, wd, damp):
    hist, grads = run(lambda ps: optim.SGD(ps, lr=0.1, momentum=momentum, nesterov=nesterov, weight_decay=wd,
                                           dampening=damp))

    def update(p, g, s, t):
        g = g + wd * p
        if momentum:
            s["b"] = g.copy() if t == 1 else momentum * s["b"] + (1 - damp) * g
            g = g + momentum * s["b"] if nesterov else s["b"]
        return p - 0.1 * g
    reference(update, {}, hist, grads)


@pytest.mark.parametrize("cls,wd", [(optim.Adam, 0.0), (optim.Adam, 0.1), (optim.AdamW, 0.1)])
def test_adam_adamw(cls, wd):
    hist, grads = run(lambda ps: cls(ps, lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=wd))

    def update(p, g, s, t):
        if cls is optim.AdamW:
            p = p * (1 - 0.01 * wd)
        else:
            g = g + wd * p
        s["m"] = 0.8 * s.get("m", 0) + 0.2 * g
        s["v"] = 0.95 * s.get("v", 0) + 0.05 * g * g
        return p - 0.01 * (s["m"] / (1 - 0.8 ** t)) / (np.sqrt(s["v"] / (1 - 0.95 ** t)) + 1e-6)
    reference(update, {}, hist, grads)


@pytest.mark.parametrize("cls,wd", [(optim.Adam, 0.1), (optim.AdamW, 0.1)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_amsgrad(cls, wd, dtype):
    # Adam(..., amsgrad=True) raised TypeError (PyTorch's argument); float32 must leave the fused kernel
    rng = np.random.default_rng(1)
    p = dlcore.tensor(rng.standard_normal(7).astype(dtype), requires_grad=True)
    opt = cls([p], lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=wd, amsgrad=True)
    ref, s = p.numpy().astype(np.float64), {"m": 0.0, "v": 0.0, "vmax": 0.0}
    for t in range(1, 6):
        g = rng.standard_normal(7) * (3.0 if t == 2 else 0.1)  # a large step: vmax must outlive it
        p.grad = dlcore.tensor(g.astype(dtype))
        opt.step()
        if cls is optim.AdamW:
            ref = ref * (1 - 0.01 * wd)
        else:
            g = g + wd * ref
        s["m"] = 0.8 * s["m"] + 0.2 * g
        s["v"] = 0.95 * s["v"] + 0.05 * g * g
        s["vmax"] = np.maximum(s["vmax"], s["v"])
        ref = ref - 0.01 * (s["m"] / (1 - 0.8 ** t)) / (np.sqrt(s["vmax"] / (1 - 0.95 ** t)) + 1e-6)
        np.testing.assert_allclose(p.numpy(), ref, rtol=1e-12 if dtype == np.float64 else 1e-5, err_msg=f"step {t}")
    with pytest.raises(RuntimeError, match="amsgrad"):
        q = dlcore.tensor(np.ones(3, np.float32), requires_grad=True)
        q.grad = dlcore.ones(3)
        cls([q], amsgrad=True, fused=True).step()


def test_step_takes_a_closure_and_returns_its_loss():
    # optimizer.step(closure) raised TypeError
    p = dlcore.tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with dlcore.no_grad():  # the closure still records its graph, as in PyTorch
        loss = opt.step(closure)
    assert float(loss) == 5.0
    np.testing.assert_allclose(p.numpy(), [0.8, -1.6])


def test_adagrad():
    hist, grads = run(lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.2))

    def update(p, g, s, t):
        s["sum"] = s.get("sum", 0.2) + g * g
        return p - 0.1 / (1 + (t - 1) * 0.01) * g / (np.sqrt(s["sum"]) + 1e-10)
    reference(update, {}, hist, grads)


def test_adadelta():
    hist, grads = run(lambda ps: optim.Adadelta(ps, lr=0.5, rho=0.8, eps=1e-4))

    def update(p, g, s, t):
        s["v"] = 0.8 * s.get("v", 0) + 0.2 * g * g
        d = np.sqrt(s.get("u", 0) + 1e-4) / np.sqrt(s["v"] + 1e-4) * g
        s["u"] = 0.8 * s.get("u", 0) + 0.2 * d * d
        return p - 0.5 * d
    reference(update, {}, hist, grads)


@pytest.mark.parametrize("momentum,centered", [(0, False), (0.9, True)])
def test_rmsprop(momentum, centered):
    hist, grads = run(lambda ps: optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-6, momentum=momentum,
                                               centered=centered))

    def update(p, g, s, t):
        s["v"] = 0.9 * s.get("v", 0) + 0.1 * g * g
        avg = s["v"]
        if centered:
            s["ga"] = 0.9 * s.get("ga", 0) + 0.1 * g
            avg = avg - s["ga"] ** 2
        avg = np.sqrt(avg) + 1e-6
        if momentum:
            s["b"] = momentum * s.get("b", 0) + g / avg
            return p - 0.01 * s["b"]
        return p - 0.01 * g / avg
    reference(update, {}, hist, grads)


def test_l1_regularization():
    hist, grads = run(lambda ps: optim.SGD(ps, lr=0.1, l1=0.05))
    reference(lambda p, g, s, t: p - 0.1 * (g + 0.05 * np.sign(p)), {}, hist, grads)


def test_zero_grad_and_state_dict_round_trip():
    p = dlcore.tensor(np.ones(3), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = dlcore.tensor(np.ones(3))
    opt.step()
    saved = opt.state_dict()
    opt2 = optim.Adam([p], lr=0.5)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == 0.1
    np.testing.assert_array_equal(opt2.state[id(p)]["exp_avg"], opt.state[id(p)]["exp_avg"])
    opt.zero_grad()
    assert p.grad is None
    with pytest.raises(ValueError, match="shape"):
        bad = opt.state_dict()
        bad["state"][0]["exp_avg"] = np.zeros(4)
        opt2.load_state_dict(bad)


def test_schedulers():
    p = dlcore.tensor(np.ones(1), requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    step = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    lrs = []
    for _ in range(5):
        step.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [1.0, 0.5, 0.5, 0.25, 0.25]
    opt = optim.SGD([p], lr=1.0)
    exp = optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
    exp.step()
    exp.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.81)
    opt = optim.SGD([p], lr=1.0)
    cos = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.1)
    for _ in range(2):
        cos.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi / 2)) / 2)


def test_bad_hyperparameters():
    p = dlcore.tensor(np.ones(1), requires_grad=True)
    with pytest.raises(ValueError):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])


def test_lambda_lr_per_group_applies_epoch_zero_at_construction():
    # LambdaLR was missing (warm-up schedules); PyTorch sets base * lambda(0) when it is made
    p, q = dlcore.tensor([1.0], requires_grad=True), dlcore.tensor([1.0], requires_grad=True)
    opt = optim.SGD([{"params": [p]}, {"params": [q], "lr": 1.0}], lr=0.1)
    sched = optim.lr_scheduler.LambdaLR(opt, [lambda e: min(1.0, (e + 1) / 3), lambda e: 0.5 ** e])
    seen = []
    for _ in range(4):
        seen.append(sched.get_last_lr())
        opt.step()
        sched.step()
    np.testing.assert_allclose(seen, [[0.1 / 3, 1.0], [0.2 / 3, 0.5], [0.1, 0.25], [0.1, 0.125]], rtol=1e-12)
    assert set(sched.state_dict()) == {"base_lrs", "last_epoch"}  # no functions in a checkpoint
    with pytest.raises(ValueError, match="2 parameter groups"):
        optim.lr_scheduler.LambdaLR(opt, [lambda e: 1.0])


# Where torch 2.14 (float64) ends after 8 steps on f(w) = sum(a w^3 / 3 + b w) from w0 (printed to 17 digits);
# a cubic, so the gradient a w^2 + b changes along the way and every moment buffer matters.
_TORCH_ENDPOINTS = {
    "adamax": (lambda p: optim.Adamax(p, lr=0.05, weight_decay=0.1),
               [0.45870341655884056, -0.027652859103609845, 1.1593714449873849]),
    "nadam": (lambda p: optim.NAdam(p, lr=0.05, weight_decay=0.1),
              [0.5093368605127425, -0.06046836768801381, 1.1336778827318126]),
    "nadam_decoupled": (lambda p: optim.NAdam(p, lr=0.05, weight_decay=0.1, decoupled_weight_decay=True),
                        [0.4874783887270938, -0.04786739181315561, 1.0281496463463595]),
    "radam": (lambda p: optim.RAdam(p, lr=0.05, weight_decay=0.1),
              [0.6760523953845579, -0.20181614615626367, 1.4494128041587755]),
    "radam_decoupled": (lambda p: optim.RAdam(p, lr=0.05, betas=(0.8, 0.9), weight_decay=0.1,
                                              decoupled_weight_decay=True),
                        [0.6241579737369071, -0.1538473941129772, 1.38306569841474]),
    "sgd_maximize": (lambda p: optim.SGD(p, lr=0.01, momentum=0.9, maximize=True),
                     [0.926568782851871, -0.5763952013715099, 1.5068203715020716]),
    "adam_amsgrad_maximize": (lambda p: optim.Adam(p, lr=0.01, amsgrad=True, maximize=True, weight_decay=0.1),
                              [0.8803091201795888, -0.4794090290308345, 1.4224240888416266]),
}


@pytest.mark.parametrize("name", sorted(_TORCH_ENDPOINTS))
def test_optimizers_reach_torchs_endpoint(name):
    make, want = _TORCH_ENDPOINTS[name]
    a, b = np.array([0.5, 2.0, -0.3]), np.array([0.1, -1.0, 0.7])
    w = nn.Parameter(np.array([0.8, -0.4, 1.5]))
    opt = make([w])
    for _ in range(8):
        opt.zero_grad()
        (dlcore.tensor(a) * w * w * w / 3 + dlcore.tensor(b) * w).sum().backward()
        opt.step()
    # NAdam: torch keeps its momentum product as a float32 scalar; dlcore in float64 (5e-10 apart)
    np.testing.assert_allclose(w.numpy(), want, rtol=1e-8 if name.startswith("nadam") else 1e-13)


def test_maximize_is_not_in_the_fused_kernels():
    w = nn.Parameter(np.ones(3, np.float32))
    opt = optim.SGD([w], lr=0.1, maximize=True, fused=True)
    w.grad = dlcore.tensor(np.ones(3, np.float32))
    with pytest.raises(RuntimeError, match="maximize is not in the fused kernel"):
        opt.step()
    opt = optim.SGD([w], lr=0.1, maximize=True)  # fused=None: the NumPy formula, ascending
    opt.step()
    np.testing.assert_array_equal(w.numpy(), np.full(3, 1.1, np.float32))


def test_a_parameter_in_two_groups_raises():
    # it was silently updated twice per step (PyTorch raises)
    p, q = dlcore.tensor([1.0], requires_grad=True), dlcore.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p, q]}, {"params": [q], "lr": 0.5}], lr=0.1)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [p]})
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([q, q], lr=0.1)


def test_non_leaf_or_non_tensor_params_raise():
    # a non-leaf was accepted and updated in place, behind the leaf's back
    x = dlcore.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([x * 2], lr=0.1)
    with pytest.raises(TypeError, match="only optimize Tensors"):
        optim.Adam([[1.0]])
