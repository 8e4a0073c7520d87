"""The PyTorch names a ported script calls: top-level functions, Tensor methods, devices, padding="same",
parameter groups, the schedulers, the DataLoader (workers, samplers, collate_fn, generator), Subset and
random_split; and the errors bad arguments give."""
import math

import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
from dlcore import nn, optim
from dlcore.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    get_worker_info,
    random_split,
)
from dlcore.optim import lr_scheduler


def t64(a, requires_grad=False):
    return dlcore.tensor(np.asarray(a, dtype=np.float64), dtype=np.float64, requires_grad=requires_grad)


# ---- functions and methods -----------------------------------------------------------------------------
def test_top_level_functions_match_numpy(rng):
    a = rng.standard_normal((3, 5))
    x = t64(a)
    np.testing.assert_allclose(dlcore.flatten(t64(rng.standard_normal((2, 3, 4))), 1).shape, (2, 12))
    v, i = dlcore.max(x, 1)
    np.testing.assert_array_equal(v.numpy(), a.max(1))
    np.testing.assert_array_equal(i.numpy(), a.argmax(1))
    assert dlcore.max(x).item() == a.max() and dlcore.min(x, 0).indices.tolist() == a.argmin(0).tolist()
    np.testing.assert_allclose(dlcore.sum(x, 1).numpy(), a.sum(1))
    np.testing.assert_allclose(dlcore.mean(x).item(), a.mean())
    np.testing.assert_allclose(dlcore.softmax(x, 1).numpy().sum(1), 1)
    np.testing.assert_allclose(dlcore.relu(x).numpy(), np.maximum(a, 0))
    np.testing.assert_allclose(dlcore.where(x > 0, x, 0.0).numpy(), np.where(a > 0, a, 0))
    np.testing.assert_allclose(dlcore.clamp(x, -0.5, 0.5).numpy(), np.clip(a, -0.5, 0.5))
    np.testing.assert_allclose(dlcore.maximum(x, -x).numpy(), np.abs(a))
    vals, idx = dlcore.topk(x, 2)
    np.testing.assert_allclose(vals.numpy(), -np.sort(-a, 1)[:, :2])
    np.testing.assert_array_equal(idx.numpy(), np.argsort(-a, 1, kind="stable")[:, :2])
    s = dlcore.sort(x, dim=0, descending=True)
    np.testing.assert_allclose(s.values.numpy(), -np.sort(-a, 0))
    np.testing.assert_allclose(dlcore.std(x, 1).numpy(), a.std(1, ddof=1))
    np.testing.assert_allclose(x.var(unbiased=False).item(), a.var())
    np.testing.assert_allclose(dlcore.logsumexp(x, 1).numpy(), np.log(np.exp(a).sum(1)))
    np.testing.assert_array_equal(dlcore.eye(2, 3).numpy(), np.eye(2, 3))
    np.testing.assert_allclose(dlcore.linspace(0, 1, 5).numpy(), np.linspace(0, 1, 5))
    r = dlcore.randint(3, 7, (100,))
    assert r.dtype == np.int64 and 3 <= int(r.min()) and int(r.max()) < 7
    assert sorted(dlcore.randperm(6).tolist()) == list(range(6)) and dlcore.randint(5, (2, 2)).shape == (2, 2)
    assert dlcore.is_tensor(x) and dlcore.numel(x) == 15 and dlcore.equal(x, x.clone())
    assert dlcore.allclose(x, x + 1e-9) and dlcore.isclose(x, x).all().item()
    assert dlcore.float is dlcore.float32 and dlcore.long is dlcore.int64
    assert "max" not in dlcore.__all__ and "where" in dlcore.__all__  # `from dlcore import *` keeps builtins


def test_tensor_methods_a_training_script_uses(rng):
    out = dlcore.tensor(rng.standard_normal((6, 4)).astype(np.float32))
    target = dlcore.tensor([0, 1, 2, 3, 0, 1])
    pred = out.argmax(dim=1, keepdim=True)
    correct = pred.eq(target.view_as(pred)).sum().item()
    assert correct == int((out.numpy().argmax(1) == target.numpy()).sum()) and isinstance(correct, int)
    assert out.size(0) == 6 and out.max(1)[1].shape == (6,) and out.expand_as(out).shape == out.shape
    assert out.type_as(t64([1.0])).dtype == np.float64 and target.float().dtype == np.float32
    assert out.new_zeros(2, 3).dtype == np.float32 and out.new_tensor([1, 2]).dtype == np.float32
    m = out.masked_fill(out < 0, 0.0)
    np.testing.assert_allclose(m.numpy(), np.maximum(out.numpy(), 0))
    g = out.gather(1, dlcore.tensor([[1], [0], [3], [2], [1], [0]]))
    np.testing.assert_allclose(g.numpy()[:, 0], out.numpy()[np.arange(6), [1, 0, 3, 2, 1, 0]])
    parts = out.chunk(3, dim=0)
    assert [p.shape for p in parts] == [(2, 4)] * 3 and len(out.split([1, 3], dim=1)) == 2
    assert out.norm().item() == pytest.approx(np.linalg.norm(out.numpy()), rel=1e-5)
    assert out.grad_fn is None and (out.requires_grad_() * 2).grad_fn is not None
    assert out.is_floating_point() and out.is_contiguous() and out.nelement() == 24 and out.element_size() == 4
    assert ((out > 0) & (out < 1)).dtype == np.bool_ and (~(out > 0)).dtype == np.bool_
    assert (target // 2).tolist() == [0, 0, 1, 1, 0, 0] and (target % 2).tolist() == [0, 1, 0, 1, 0, 1]


def test_gradients_through_the_new_ops(rng):
    a = rng.standard_normal((3, 4))
    checks = [
        lambda x: dlcore.where(x > 0, x * x, -x),
        lambda x: x.clamp(-0.5, 0.5) * x,
        lambda x: dlcore.maximum(x, x.t().t() * 0.5),
        lambda x: x.gather(1, dlcore.tensor([[0, 2], [1, 1], [3, 0]])),
        lambda x: dlcore.topk(x, 2, dim=1).values,
        lambda x: x.sort(0).values,
        lambda x: x.std(1),
        lambda x: x.norm(2, dim=1),
        lambda x: x.masked_fill(x < 0, 1.0),
        lambda x: dlcore.logsumexp(x, 0),
        lambda x: dlcore.cat(x.chunk(2, dim=1)[::-1], dim=1),
    ]
    for fn in checks:
        assert dlcore.autograd.gradcheck(fn, [t64(a, requires_grad=True)])


def test_edge_values_match_torch(rng):
    # full() took float32 for every fill value; min/argmin of uint8 negated (wrapping 0 to 0);
    # maximum/minimum dropped NaN; logsumexp of all -inf was nan and a tuple of dims raised
    assert dlcore.full((3,), -100).dtype == np.int64 and dlcore.full((2,), True).dtype == np.bool_
    assert dlcore.full((2,), 0.5).dtype == np.float32 and dlcore.full((2,), 1, dtype=np.float64).dtype == np.float64
    u = dlcore.tensor(np.array([[3, 0, 5], [7, 2, 1]], np.uint8))
    assert u.min().item() == 0 and u.argmin().item() == 1
    assert u.min(1).values.tolist() == [0, 1] and u.min(1).indices.tolist() == [1, 2]
    assert u.argmin(0, keepdim=True).tolist() == [[0, 0, 1]]
    nan = float("nan")
    x, y = dlcore.tensor([nan, 1.0, 3.0]), dlcore.tensor([0.0, nan, 2.0])
    np.testing.assert_array_equal(dlcore.maximum(x, y).numpy(), [nan, nan, 3.0])
    np.testing.assert_array_equal(dlcore.minimum(x, y).numpy(), [nan, nan, 2.0])
    inf = float("inf")
    np.testing.assert_array_equal(dlcore.logsumexp(t64([[-inf, -inf], [inf, 0.0]]), 1).numpy(), [-inf, inf])
    a = rng.standard_normal((2, 3, 4))
    np.testing.assert_allclose(dlcore.logsumexp(t64(a), (0, 2)).numpy(), np.log(np.exp(a).sum((0, 2))))
    assert dlcore.logsumexp(t64(a), (0, -1), keepdim=True).shape == (1, 3, 1)


def test_bad_arguments_raise_clearly():
    x = dlcore.randn(2, 3)
    with pytest.raises(TypeError, match="bool"):
        dlcore.where(x, x, x)
    with pytest.raises(ValueError, match="at least one"):
        x.clamp()
    with pytest.raises(TypeError, match="bool"):
        x.masked_fill(x, 0)
    with pytest.raises(ValueError, match="integer tensor"):
        x.gather(1, dlcore.tensor([[0.5]]))
    with pytest.raises(ValueError, match="k=4"):
        x.topk(4)
    with pytest.raises(ValueError, match="norm"):
        x.norm("nuc")  # any real p works (as torch's); matrix norms other than 'fro' do not
    with pytest.raises(ValueError, match="do not add up"):
        x.split([1, 1], dim=1)
    with pytest.raises(ValueError, match="unknown device"):
        dlcore.device("tpu")
    with pytest.raises(TypeError, match="randint"):
        dlcore.randint(3)


# ---- devices and conv padding ---------------------------------------------------------------------------------
def test_device_and_cuda_queries():
    dev = dlcore.device("cuda" if dlcore.cuda.is_available() else "cpu")
    assert dev.type in ("cpu", "cuda") and dlcore.ones(2).to(dev).device == dev
    assert dlcore.device("cuda:0").index == 0 and repr(dlcore.device("cpu")) == "device(type='cpu')"
    assert dlcore.cuda.device_count() == (1 if dlcore.cuda.is_available() else 0)
    assert dlcore.accelerator.is_available() == dlcore.cuda.is_available()
    assert nn.Linear(2, 2).to(dlcore.device("cpu")).weight.device == "cpu"


@pytest.mark.parametrize("k,dilation", [(3, 1), (4, 1), (5, 2), ((2, 5), 1)])
def test_conv_padding_same_keeps_the_size_and_matches_explicit_padding(rng, k, dilation):
    kh, kw = (k, k) if isinstance(k, int) else k
    x = t64(rng.standard_normal((2, 3, 7, 8)))
    w = t64(rng.standard_normal((4, 3, kh, kw)))
    y = F.conv2d(x, w, padding="same", dilation=dilation)
    assert y.shape == (2, 4, 7, 8)
    th, tw = dilation * (kh - 1), dilation * (kw - 1)  # PyTorch: the extra row/column goes bottom/right
    ref = F.conv2d(x, w, padding=(th // 2, th - th // 2, tw // 2, tw - tw // 2), dilation=dilation)
    np.testing.assert_allclose(y.numpy(), ref.numpy())
    assert F.conv2d(x, w, padding="valid").shape == (2, 4, 8 - kh, 9 - kw)
    with pytest.raises(ValueError, match="strided"):
        F.conv2d(x, w, padding="same", stride=2)
    with pytest.raises(ValueError, match="'same' or 'valid'"):
        F.conv2d(x, w, padding="full")


# ---- losses and optimizers ---------------------------------------------------------------------------------------
def test_every_loss_takes_reduction(rng):
    x = t64(rng.uniform(0.1, 0.9, (4, 3)))
    t = t64(rng.uniform(0.1, 0.9, (4, 3)))
    labels = dlcore.tensor([0, 2, 1, 2])
    losses = [lambda r: F.mse_loss(x, t, reduction=r), lambda r: F.l1_loss(x, t, reduction=r),
              lambda r: F.binary_cross_entropy(x, t, reduction=r),
              lambda r: F.binary_cross_entropy_with_logits(x, t, reduction=r),
              lambda r: F.cross_entropy(x, labels, reduction=r),
              lambda r: F.nll_loss(F.log_softmax(x, 1), labels, reduction=r)]
    modules = [nn.MSELoss, nn.L1Loss, nn.BCELoss, nn.BCEWithLogitsLoss, nn.CrossEntropyLoss, nn.NLLLoss]
    for fn, module in zip(losses, modules):
        none = fn("none").numpy()
        np.testing.assert_allclose(fn("sum").item(), none.sum())
        np.testing.assert_allclose(fn("mean").item(), none.mean())
        assert module(reduction="sum") is not None
        with pytest.raises(ValueError, match="reduction"):
            fn("avg")


def test_parameter_groups_take_their_own_options():
    dlcore.manual_seed(0)
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    opt = optim.SGD([{"params": a.parameters()}, {"params": b.parameters(), "lr": 0.5, "momentum": 0.0}],
                    lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5] and opt.param_groups[1]["momentum"] == 0.0
    wa, wb = a.weight.numpy().copy(), b.weight.numpy().copy()
    (a(dlcore.ones(1, 2)).sum() + b(dlcore.ones(1, 2)).sum()).backward()
    opt.step()
    np.testing.assert_allclose(wa - a.weight.numpy(), 0.1 * a.weight.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(wb - b.weight.numpy(), 0.5 * b.weight.grad.numpy(), rtol=1e-6)
    opt.add_param_group({"params": [nn.Parameter(dlcore.ones(1))], "lr": 0.01})
    assert opt.param_groups[2]["momentum"] == 0.9
    with pytest.raises(ValueError, match="lr must be >= 0"):
        optim.SGD([{"params": a.parameters(), "lr": -1}])


# ---- schedulers (PyTorch's formulas) -----------------------------------------------------------------------------
def _opt(**kw):
    return optim.SGD([nn.Parameter(dlcore.ones(1))], lr=0.1, momentum=0.9, **kw)


def test_multistep_lr():
    opt = _opt()
    s = lr_scheduler.MultiStepLR(opt, milestones=[2, 4], gamma=0.5)
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        s.step()
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.05, 0.05, 0.025, 0.025])


def test_reduce_lr_on_plateau():
    opt = _opt()
    s = lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5, cooldown=1, min_lr=0.02)
    lrs = []
    for metric in [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95]:
        s.step(metric)
        lrs.append(opt.param_groups[0]["lr"])
    # bad epochs > patience=1 halve the lr; a cooldown epoch follows each reduction; floor at min_lr
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.02])
    s2 = lr_scheduler.ReduceLROnPlateau(_opt(), mode="max", patience=0)
    s2.step(dlcore.tensor(1.0))
    s2.step(0.5)
    assert s2.get_last_lr() == [pytest.approx(0.01)]
    with pytest.raises(ValueError, match="factor"):
        lr_scheduler.ReduceLROnPlateau(_opt(), factor=1.5)


def test_one_cycle_lr_follows_the_policy():
    opt = _opt()
    s = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.3)
    lrs, moms = [], []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        if len(lrs) < 10:
            s.step()
    def cos(a, b, pct):
        return b + (a - b) / 2 * (math.cos(math.pi * pct) + 1)
    up, total = 0.3 * 10 - 1, 9
    want = [cos(0.04, 1.0, i / up) if i <= up else cos(1.0, 0.04 / 1e4, (i - up) / (total - up)) for i in range(10)]
    np.testing.assert_allclose(lrs, want, rtol=1e-12)
    assert moms[0] == pytest.approx(0.95) and min(moms) == pytest.approx(0.85, abs=0.01) and moms[-1] > 0.94
    s.step()  # the last batch of `for batch: opt.step(); sched.step()`: total_steps steps are allowed (torch)
    with pytest.raises(ValueError, match="tried to step 11 times"):
        s.step()
    adam = optim.Adam([nn.Parameter(dlcore.ones(1))])
    lr_scheduler.OneCycleLR(adam, max_lr=0.01, epochs=2, steps_per_epoch=5)
    assert adam.param_groups[0]["betas"][0] == pytest.approx(0.95)
    with pytest.raises(ValueError, match="total_steps"):
        lr_scheduler.OneCycleLR(_opt(), max_lr=1.0)


def _two_group_lrs(make, steps=9, adam=False):
    """The two groups' rates before each of `steps` batches of `opt.step(); sched.step()`."""
    groups = [{"params": [nn.Parameter(dlcore.ones(2))]}, {"params": [nn.Parameter(dlcore.ones(3))], "lr": 0.2}]
    opt = optim.Adam(groups, lr=0.1) if adam else optim.SGD(groups, lr=0.1, momentum=0.9)
    sched, out = make(opt), []
    for _ in range(steps):
        out.append((opt.param_groups[0]["lr"], opt.param_groups[1]["lr"]))
        opt.step()
        sched.step()
    return out


# The rates torch 2.14 gives for the same programs (torch.optim.lr_scheduler, printed to 15 digits).
_TORCH_SCHEDULES = {
    "lambda": (lambda o: lr_scheduler.LambdaLR(o, [lambda e: (e + 1) / 4 if e < 3 else 0.9 ** e,
                                                   lambda e: 1 / (e + 1)]),
               [(0.025, 0.2), (0.05, 0.1), (0.075, 0.066666666666667), (0.0729, 0.05), (0.06561, 0.04),
                (0.059049, 0.033333333333333), (0.0531441, 0.028571428571429), (0.04782969, 0.025),
                (0.043046721, 0.022222222222222)]),
    "warmup then cosine": (lambda o: lr_scheduler.SequentialLR(o, [
        lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=3),
        lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0.001)], milestones=[3]),
        [(0.01, 0.02), (0.04, 0.08), (0.07, 0.14), (0.1, 0.2), (0.09054634122156, 0.180997190940307),
         (0.06579634122156, 0.131247190940307), (0.03520365877844, 0.069752809059693),
         (0.01045365877844, 0.020002809059693), (0.001, 0.001)]),
    "warm restarts": (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2, eta_min=0.001),
                      [(0.1, 0.2), (0.0505, 0.1005), (0.1, 0.2), (0.085501785668734, 0.170857124728061),
                       (0.0505, 0.1005), (0.015498214331266, 0.030142875271939), (0.1, 0.2),
                       (0.096232036859309, 0.192426013484873), (0.085501785668734, 0.170857124728061)]),
    "cyclic": (lambda o: lr_scheduler.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.3], step_size_up=3,
                                               step_size_down=2, mode="triangular2"),
               [(0.01, 0.01), (0.04, 0.106666666666667), (0.07, 0.203333333333333), (0.1, 0.3), (0.055, 0.155),
                (0.01, 0.01), (0.025, 0.058333333333333), (0.04, 0.106666666666667), (0.055, 0.155)]),
    "polynomial": (lambda o: lr_scheduler.PolynomialLR(o, total_iters=6, power=2.0),
                   [(0.1, 0.2), (0.069444444444444, 0.138888888888889), (0.044444444444444, 0.088888888888889),
                    (0.025, 0.05), (0.011111111111111, 0.022222222222222), (0.002777777777778, 0.005555555555556),
                    (0.0, 0.0), (0.0, 0.0), (0.0, 0.0)]),
}


@pytest.mark.parametrize("name", sorted(_TORCH_SCHEDULES))
def test_schedules_give_torch_rates(name):
    make, want = _TORCH_SCHEDULES[name]
    np.testing.assert_allclose(_two_group_lrs(make), want, rtol=1e-12, atol=1e-15)


def test_cyclic_lr_cycles_momentum_and_schedules_save():
    opt = optim.Adam([nn.Parameter(dlcore.ones(2))], lr=0.5)
    s = lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=2)
    assert opt.param_groups[0]["lr"] == 0.01 and opt.param_groups[0]["betas"][0] == pytest.approx(0.9)
    s.step()
    assert opt.param_groups[0]["betas"][0] == pytest.approx(0.85)  # halfway up: momentum halfway down
    with pytest.raises(ValueError, match="cycle_momentum"):
        lr_scheduler.CyclicLR(optim.Adagrad([nn.Parameter(dlcore.ones(1))]), 0.01, 0.1)
    lam = lr_scheduler.LambdaLR(_opt(), lambda e: 0.5 ** e)
    lam.step()
    state = lam.state_dict()
    assert "lr_lambdas" not in state and state["last_epoch"] == 1  # functions are not saved (torch)
    with pytest.raises(ValueError, match="milestones"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.ConstantLR(opt)], milestones=[2])


# ---- data ------------------------------------------------------------------------------------------------------------
class _Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        info = get_worker_info()
        return np.float32(i * i), i, -1 if info is None else info.id, float(np.random.rand())


def test_workers_keep_order_and_seed_reproducibly():
    plain = [b[1].tolist() for b in DataLoader(_Squares(23), batch_size=4)]
    batches = list(DataLoader(_Squares(23), batch_size=4, num_workers=3))
    assert [b[1].tolist() for b in batches] == plain  # the order of num_workers=0
    assert {int(w) for b in batches for w in b[2].tolist()} == {0, 1, 2}  # real worker processes
    assert [b[2].tolist()[0] for b in batches[:3]] == [0, 1, 2]  # round-robin
    gen = lambda: np.random.default_rng(7)  # noqa: E731
    one = list(DataLoader(_Squares(23), batch_size=4, num_workers=2, shuffle=True, generator=gen()))
    two = list(DataLoader(_Squares(23), batch_size=4, num_workers=2, shuffle=True, generator=gen()))
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())
        np.testing.assert_array_equal(a[3].numpy(), b[3].numpy())  # workers seeded from the generator
    assert sorted(i for b in one for i in b[1].tolist()) == list(range(23))
    seen = []
    loader = DataLoader(_Squares(8), batch_size=2, num_workers=2, seed=3, shuffle=True,
                        worker_init_fn=lambda wid: np.random.seed(100 + wid), pin_memory=True)
    for b in loader:
        seen.append(b[3].numpy())
    assert len(seen) == 4


def test_worker_errors_surface_with_the_traceback():
    class Broken(_Squares):
        def __getitem__(self, i):
            if i == 5:
                raise KeyError("sample 5 is missing")
            return super().__getitem__(i)
    with pytest.raises(RuntimeError, match="sample 5 is missing"):
        list(DataLoader(Broken(8), batch_size=2, num_workers=2))


def test_samplers_collate_fn_subset_and_random_split():
    ds = TensorDataset(np.arange(10, dtype=np.float32), np.arange(10))
    assert [b[1].tolist() for b in DataLoader(ds, batch_size=4, sampler=SequentialSampler(ds))][0] == [0, 1, 2, 3]
    got = [i for b in DataLoader(ds, batch_size=3, sampler=SubsetRandomSampler([1, 5, 7])) for i in b[1].tolist()]
    assert sorted(got) == [1, 5, 7]
    bs = BatchSampler(RandomSampler(ds, generator=np.random.default_rng(0)), 4, drop_last=True)
    loader = DataLoader(ds, batch_sampler=bs)
    assert len(loader) == 2 and all(len(b[0]) == 4 for b in loader)
    raw = next(iter(DataLoader(ds, batch_size=3, collate_fn=lambda samples: samples)))
    assert isinstance(raw, list) and len(raw) == 3
    sub = Subset(ds, [9, 0, 3])
    assert len(sub) == 3 and sub[0][1] == 9
    assert next(iter(DataLoader(sub, batch_size=3)))[1].tolist() == [9, 0, 3]
    parts = random_split(ds, [7, 3], generator=np.random.default_rng(0))
    assert [len(p) for p in parts] == [7, 3]
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))
    assert [len(p) for p in random_split(ds, [0.5, 0.3, 0.2])] == [5, 3, 2]
    with pytest.raises(ValueError, match="summing"):
        random_split(ds, [5, 6])
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, sampler=SequentialSampler(ds), shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler"):
        DataLoader(ds, batch_sampler=bs, batch_size=4)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        DataLoader(ds, generator=3)
    with pytest.raises(NotImplementedError, match="persistent_workers"):
        DataLoader(ds, persistent_workers=True)
    assert dlcore.utils.data.DataLoader is DataLoader
