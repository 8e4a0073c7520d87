"""The course features: pruning, kl_div / distillation, FGSM, freezing, plots, explain."""
import numpy as np
import pytest

import dlcore
from dlcore import nn, optim
from dlcore.nn import functional as F
from dlcore.nn.utils import prune


def small_mlp(seed=0):
    dlcore.manual_seed(seed)
    return nn.Sequential(nn.Linear(7, 17), nn.ReLU(), nn.Linear(17, 3))


def batch(n=33, seed=1):
    rng = np.random.default_rng(seed)
    return dlcore.tensor(rng.standard_normal((n, 7)).astype(np.float32)), dlcore.tensor(rng.integers(0, 3, n))


def train_steps(model, opt, steps=5):
    x, y = batch()
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()


# ---- pruning ------------------------------------------------------------------------------------
@pytest.mark.parametrize("make_opt", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
    lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.01),
])
def test_pruned_weights_stay_zero_through_training(make_opt):
    model = small_mlp()
    opt = make_opt(model.parameters())  # built before pruning: it holds the same Parameter objects
    train_steps(model, opt, 2)
    prune.global_unstructured(prune.prunable(model), amount=0.6)
    masks = [m.weight_mask.numpy().copy() for m, _ in prune.prunable(model)]
    assert prune.sparsity(model) == pytest.approx(0.6, abs=1 / (7 * 17 + 17 * 3))
    train_steps(model, opt, 6)
    model(batch()[0])  # the forward recomputes weight = orig * mask
    for (m, _), mask in zip(prune.prunable(model), masks):
        assert np.all(m.weight.numpy()[mask == 0] == 0)
        assert np.any(m.weight.numpy()[mask == 1] != 0)
        assert np.all(m.weight_orig.grad.numpy()[mask == 0] == 0)  # no gradient reaches pruned entries
    for m, name in prune.prunable(model):
        prune.remove(m, name)
    assert not prune.is_pruned(model)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert prune.sparsity(model) == pytest.approx(0.6, abs=0.01)
    assert "forward" not in model[0].__dict__


def test_l1_unstructured_picks_smallest_and_accumulates():
    lin = nn.Linear(5, 4)
    w = np.arange(1, 21, dtype=np.float32).reshape(4, 5) * np.where(np.arange(20) % 2, -1, 1).reshape(4, 5)
    lin.weight._data[...] = w
    prune.l1_unstructured(lin, "weight", amount=0.25)
    kept = lin.weight.numpy() != 0
    assert kept.sum() == 15 and np.all(np.abs(w[~kept]) <= 5)
    prune.l1_unstructured(lin, "weight", amount=10)  # int: 10 entries zero in total, already-pruned first
    assert (lin.weight.numpy() == 0).sum() == 10 and np.all(np.abs(w[lin.weight.numpy() == 0]) <= 10)
    sd = lin.state_dict()
    assert set(sd) == {"weight_orig", "bias", "weight_mask"}


def test_global_pruning_uses_one_threshold():
    a, b = nn.Linear(4, 4), nn.Linear(4, 4)
    a.weight._data[...] = np.float32(0.01) * np.arange(1, 17, dtype=np.float32).reshape(4, 4)  # all small
    b.weight._data[...] = np.arange(1, 17, dtype=np.float32).reshape(4, 4)
    prune.global_unstructured([(a, "weight"), (b, "weight")], amount=0.5)
    assert np.all(a.weight.numpy() == 0) and np.all(b.weight.numpy() != 0)


@pytest.mark.parametrize("bad, exc", [(1.5, ValueError), (-0.1, ValueError), ("half", TypeError), (99, ValueError)])
def test_prune_bad_amount(bad, exc):
    with pytest.raises(exc, match="amount"):
        prune.l1_unstructured(nn.Linear(3, 3), "weight", amount=bad)


def test_prune_errors_name_the_problem():
    with pytest.raises(ValueError, match="no parameter 'nope'"):
        prune.l1_unstructured(nn.Linear(3, 3), "nope", 0.5)
    with pytest.raises(ValueError, match="not pruned"):
        prune.remove(nn.Linear(3, 3), "weight")
    with pytest.raises(TypeError, match="pairs"):
        prune.global_unstructured([nn.Linear(3, 3)], 0.5)


# ---- kl_div and distillation --------------------------------------------------------------------
def _softmax64(z, t=1.0):
    z = z / t
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_kl_div_equals_formula():
    rng = np.random.default_rng(3)
    p = _softmax64(rng.standard_normal((9, 5)))
    p[0, 2] = 0.0  # a zero target contributes 0
    logq = np.log(_softmax64(rng.standard_normal((9, 5))))
    pointwise = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1)) - logq), 0.0)
    x, t = dlcore.tensor(logq), dlcore.tensor(p)
    assert F.kl_div(x, t, reduction="batchmean").item() == pytest.approx(pointwise.sum() / 9, rel=1e-12)
    assert F.kl_div(x, t, reduction="sum").item() == pytest.approx(pointwise.sum(), rel=1e-12)
    assert F.kl_div(x, t, reduction="mean").item() == pytest.approx(pointwise.mean(), rel=1e-12)
    np.testing.assert_allclose(F.kl_div(x, t, reduction="none").numpy(), pointwise, rtol=1e-12, atol=1e-15)
    lt = dlcore.tensor(np.log(np.where(p > 0, p, 1e-300)))
    assert F.kl_div(x, lt, reduction="sum", log_target=True).item() == pytest.approx(pointwise.sum(), rel=1e-9)
    with pytest.raises(ValueError, match="same shape"):
        F.kl_div(x, dlcore.tensor(p[:3]))


@pytest.mark.parametrize("T, alpha", [(1.0, 0.5), (4.0, 0.9), (2.5, 1.0)])
def test_distillation_loss_equals_formula(T, alpha):
    rng = np.random.default_rng(4)
    s, t = rng.standard_normal((6, 4)) * 3, rng.standard_normal((6, 4)) * 3
    y = rng.integers(0, 4, 6)
    ps, pt = _softmax64(s, T), _softmax64(t, T)
    kl = (pt * (np.log(pt) - np.log(ps))).sum() / 6
    ce = -np.log(_softmax64(s)[np.arange(6), y]).mean()
    want = alpha * T * T * kl + (1 - alpha) * ce
    student = dlcore.tensor(s, requires_grad=True)
    got = F.distillation_loss(student, dlcore.tensor(t), dlcore.tensor(y), temperature=T, alpha=alpha)
    assert got.item() == pytest.approx(want, rel=1e-10)
    got.backward()
    # d/ds of the soft term is alpha * T * (ps - pt) / N; of the hard term (1-alpha) * (softmax(s) - onehot) / N
    onehot = np.eye(4)[y]
    grad = alpha * T * (ps - pt) / 6 + (1 - alpha) * (_softmax64(s) - onehot) / 6
    np.testing.assert_allclose(student.grad.numpy(), grad, rtol=1e-9, atol=1e-12)


def test_distillation_loss_gradcheck():
    from dlcore.autograd.gradcheck import gradcheck

    rng = np.random.default_rng(5)
    t, y = dlcore.tensor(rng.standard_normal((3, 5))), dlcore.tensor(rng.integers(0, 5, 3))
    s = dlcore.tensor(rng.standard_normal((3, 5)), requires_grad=True)
    assert gradcheck(lambda a: F.distillation_loss(a, t, y, temperature=3.0, alpha=0.7), (s,))


def test_distillation_loss_bad_arguments():
    s = dlcore.randn(2, 3)
    with pytest.raises(ValueError, match="temperature"):
        F.distillation_loss(s, s, [0, 1], temperature=0)
    with pytest.raises(ValueError, match="alpha"):
        F.distillation_loss(s, s, [0, 1], alpha=1.5)
    with pytest.raises(ValueError, match="differ"):
        F.distillation_loss(s, dlcore.randn(2, 4), [0, 1])


# ---- FGSM ---------------------------------------------------------------------------------------
def _trained_classifier():
    rng = np.random.default_rng(6)
    centers = rng.standard_normal((3, 7)).astype(np.float32)
    y = rng.integers(0, 3, 300)
    x = (centers[y] + rng.standard_normal((300, 7)).astype(np.float32) * 0.6).astype(np.float32)
    model = small_mlp(2)
    opt = optim.Adam(model.parameters(), lr=0.02)
    xt, yt = dlcore.tensor(x), dlcore.tensor(y)
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(model(xt), yt).backward()
        opt.step()
    return model, xt, yt


def test_fgsm_is_eps_sign_of_input_gradient_and_lowers_accuracy():
    model, x, y = _trained_classifier()
    model.zero_grad()
    eps = 0.8
    # the input gradient, computed independently: float64 finite differences of the loss per sample
    model64 = small_mlp(2).double()
    model64.load_state_dict({k: v.astype(np.float64) for k, v in model.state_dict().items()})
    grad = dlcore.attacks.input_gradient(model, x, y)
    x0 = x.numpy().astype(np.float64)[:5]
    for i in range(5):
        for j in range(7):
            d = np.zeros_like(x0)
            d[i, j] = 1e-6
            up = F.cross_entropy(model64(dlcore.tensor(x0 + d)), y[:5], reduction="sum").item()
            dn = F.cross_entropy(model64(dlcore.tensor(x0 - d)), y[:5], reduction="sum").item()
            assert (up - dn) / 2e-6 / len(y) == pytest.approx(grad[i, j], rel=1e-3, abs=1e-6)
    adv = dlcore.attacks.fgsm(model, x, y, eps)
    np.testing.assert_allclose(adv.numpy() - x.numpy(), eps * np.sign(grad), atol=1e-6)
    assert not adv.requires_grad
    assert all(p.grad is None for p in model.parameters())  # the attack leaves no parameter gradient
    assert all(p.requires_grad for p in model.parameters())  # and restores the flags
    with dlcore.no_grad():
        clean = (model(x).numpy().argmax(1) == y.numpy()).mean()
        attacked = (model(adv).numpy().argmax(1) == y.numpy()).mean()
    assert clean > 0.9 and attacked < clean - 0.2
    clipped = dlcore.attacks.fgsm(model, x, y, eps, clip=(-0.5, 0.5))
    assert clipped.numpy().min() >= -0.5 and clipped.numpy().max() <= 0.5
    with pytest.raises(ValueError, match="eps"):
        dlcore.attacks.fgsm(model, x, y, -0.1)


# ---- freezing -----------------------------------------------------------------------------------
@pytest.mark.parametrize("opt_cls", [optim.SGD, optim.Adam])
def test_frozen_parameters_get_no_gradient_and_are_not_updated(opt_cls):
    model = small_mlp()
    opt = opt_cls(model.parameters(), lr=0.1, weight_decay=0.1)  # decay would move them if they were visited
    train_steps(model, opt, 1)
    assert model[0].freeze() is model[0]
    assert all(p.grad is None and not p.requires_grad for p in model[0].parameters())
    before = [p.numpy().copy() for p in model.parameters()]
    train_steps(model, opt, 3)
    after = [p.numpy() for p in model.parameters()]
    assert all(p.grad is None for p in model[0].parameters())
    assert np.array_equal(before[0], after[0]) and np.array_equal(before[1], after[1])
    assert not np.array_equal(before[2], after[2])
    assert model.num_parameters(trainable_only=True) == 17 * 3 + 3
    model[0].unfreeze()
    train_steps(model, opt, 1)
    assert not np.array_equal(before[0], model[0].weight.numpy())


def test_requires_grad_false_and_parameter_groups():
    model = small_mlp()
    model[2].requires_grad_(False)
    opt = optim.SGD([{"params": model[0].parameters(), "lr": 0.0}, {"params": model[2].parameters()}], lr=0.1)
    before = [p.numpy().copy() for p in model.parameters()]
    train_steps(model, opt, 2)
    assert all(np.array_equal(b, p.numpy()) for b, p in zip(before, model.parameters()))  # lr 0 + frozen
