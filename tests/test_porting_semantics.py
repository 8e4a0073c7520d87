"""Tensor semantics a PyTorch user relies on: one test per habit that used to be silently wrong (issue 19),
plus in-place ops on the tape, the number protocol, state_dict values, collation and empty batches."""
import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
from dlcore import nn, optim
from dlcore.data import DataLoader, Dataset, default_collate


def _model():
    dlcore.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def _loss(model, x):
    return (model(x) ** 2).sum()


# ---- habit: with no_grad(): p -= lr * p.grad --------------------------------------------------
def test_manual_sgd_step_with_inplace_operator_updates_the_weight():
    model = _model()
    x = dlcore.randn(5, 4)
    _loss(model, x).backward()
    before = [p.numpy().copy() for p in model.parameters()]
    storage = [p._data for p in model.parameters()]
    with dlcore.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    for p, b, s in zip(model.parameters(), before, storage):
        np.testing.assert_allclose(p.numpy(), b - 0.1 * p.grad.numpy(), rtol=1e-6)
        assert p._data is s  # updated in place, the optimizer's references stay valid


def test_inplace_on_a_leaf_that_requires_grad_raises_outside_no_grad():
    p = nn.Parameter(dlcore.randn(3))
    for op in (lambda: p.__isub__(1.0), lambda: p.add_(1.0), lambda: p.mul_(2), lambda: p.zero_(),
               lambda: p.copy_(dlcore.ones(3)), lambda: p.clamp_(0, 1), lambda: p.fill_(2.0),
               lambda: p.__setitem__(0, 5.0)):
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
            op()


# ---- habit: p.data -= ... / p.data = t ----------------------------------------------------------
def test_data_assignment_and_data_inplace_keep_an_array_and_train():
    model = _model()
    w = model[0].weight
    w.data = dlcore.zeros(3, 4)  # a Tensor assigned to .data: its storage, not a Tensor inside a Tensor
    assert isinstance(w.data, dlcore.Tensor) and isinstance(w._data, np.ndarray) and float(w.sum()) == 0
    repr(w)  # printing used to crash
    w.data -= 0.5 * dlcore.ones(3, 4)  # in place on the shared storage
    np.testing.assert_array_equal(w.numpy(), -0.5)
    opt = optim.Adam(model.parameters(), lr=0.1)
    before = w.numpy().copy()
    _loss(model, dlcore.randn(5, 4)).backward()
    opt.step()
    assert not np.allclose(w.numpy(), before)  # the optimizer still moves it


def test_data_assignment_shares_storage():
    p = nn.Parameter(dlcore.zeros(2))
    t = dlcore.ones(2)
    p.data = t
    t.add_(1)
    np.testing.assert_array_equal(p.numpy(), [2, 2])


# ---- habit: float64 input into a float32 model ---------------------------------------------------
@pytest.mark.parametrize("layer,shape", [(lambda: nn.Linear(4, 2), (3, 4)),
                                         (lambda: nn.Conv2d(2, 3, 3), (1, 2, 5, 5)),
                                         (lambda: nn.BatchNorm1d(4), (3, 4))])
def test_float64_input_into_float32_layer_raises(layer, shape):
    m = layer()
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
        m(dlcore.from_numpy(np.random.rand(*shape)))
    assert m(dlcore.from_numpy(np.random.rand(*shape).astype(np.float32))).dtype == np.float32


def test_python_lists_and_scalars_keep_the_tensor_dtype():
    t = dlcore.ones(2)
    assert (t + [1, 2]).dtype == np.float32
    assert (t + [1.5, 2.5]).dtype == np.float32
    assert ([1.5, 2.5] * t).dtype == np.float32
    i = dlcore.arange(3)
    assert (i + 0.5).dtype == np.float32 and np.allclose((i + 0.5).numpy(), [0.5, 1.5, 2.5])  # not truncated
    assert (i * 2).dtype == np.int64
    assert dlcore.from_numpy(np.random.rand(2)).dtype == np.float64  # as torch.from_numpy


def test_tensor_tensor_arithmetic_promotes_as_pytorch():
    # NumPy's rules made float32 * int64-mask float64 (which then failed in the next float32 layer)
    x = dlcore.randn(3, requires_grad=True)
    mask = dlcore.tensor([1, 0, 1])
    y = x * mask
    assert y.dtype == np.float32 and (x * (mask > 0)).dtype == np.float32
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 0, 1])
    assert (dlcore.tensor([1, 2]) / dlcore.tensor([2, 4])).dtype == np.float32  # true division of ints
    assert (dlcore.tensor([1, 2]) / 2).dtype == np.float32
    scale = dlcore.tensor(2.0, dtype=np.float64)
    assert (dlcore.ones(2) * scale).dtype == np.float32  # a 0-d tensor does not widen a tensor with dims
    assert (dlcore.ones(3, dtype=np.float64) * mask).dtype == np.float64
    assert (dlcore.ones(2) + dlcore.ones(2, dtype=np.float64)).dtype == np.float64
    assert (mask + dlcore.tensor(np.array([1, 1, 1], np.int32))).dtype == np.int64
    # cat/stack went through NumPy's concatenate: float32 with int64 gave float64
    assert dlcore.cat([dlcore.ones(2, 2), dlcore.tensor([[1, 2]])]).dtype == np.float32
    assert dlcore.stack([dlcore.tensor([1, 2]), dlcore.ones(2)]).dtype == np.float32
    assert dlcore.cat([dlcore.ones(1), dlcore.ones(1, dtype=np.float64)]).dtype == np.float64


# ---- habit: float class labels --------------------------------------------------------------------
def test_float_class_targets_raise_instead_of_truncating():
    logits = dlcore.randn(2, 3)
    for fn in (F.cross_entropy, lambda x, t: F.nll_loss(F.log_softmax(x, 1), t)):
        with pytest.raises(TypeError, match="must be integers"):
            fn(logits, [0.9, 0.2])
        with pytest.raises(TypeError, match="must be integers"):
            fn(logits, dlcore.tensor([0.0, 1.0]))


def test_probability_targets_match_the_formula_and_gradcheck():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5))
    q = rng.random((4, 5))
    q /= q.sum(1, keepdims=True)
    w = rng.random(5) + 0.5
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    for kw, per in (({}, -(q * logp).sum(1)), ({"weight": w}, -(q * w * logp).sum(1)),
                    ({"label_smoothing": 0.2}, -((q * 0.8 + 0.2 / 5) * logp).sum(1))):
        got = F.cross_entropy(dlcore.tensor(x, dtype=np.float64), dlcore.tensor(q, dtype=np.float64), **kw)
        np.testing.assert_allclose(got.item(), per.mean(), rtol=1e-12)
    # one-hot probabilities equal class indices; float32 too
    onehot = np.eye(5, dtype=np.float32)[[1, 0, 4, 2]]
    xs = dlcore.tensor(x.astype(np.float32))
    np.testing.assert_allclose(F.cross_entropy(xs, dlcore.tensor(onehot)).item(),
                               F.cross_entropy(xs, dlcore.tensor([1, 0, 4, 2])).item(), rtol=1e-5)
    xt = dlcore.tensor(x, dtype=np.float64, requires_grad=True)
    qt = dlcore.tensor(q, dtype=np.float64, requires_grad=True)
    dlcore.autograd.gradcheck(lambda a, b: F.cross_entropy(a, b, reduction="none"), [xt, qt])
    with pytest.raises(TypeError, match="input's shape"):
        F.cross_entropy(xs, dlcore.tensor(onehot[:, :4]))


# ---- habit: a Dataset returning dicts --------------------------------------------------------------
class _DictSet(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"image": np.full((2, 2), i, np.float32), "label": i, "meta": {"w": float(i) / 2, "name": f"s{i}"},
                "pair": (i, np.arange(3) + i)}


def test_default_collate_handles_dicts_tuples_and_nesting():
    batch = next(iter(DataLoader(_DictSet(), batch_size=4)))
    assert set(batch) == {"image", "label", "meta", "pair"}
    assert batch["image"].shape == (4, 2, 2) and batch["image"].dtype == np.float32
    assert batch["label"].dtype == np.int64 and batch["label"].tolist() == [0, 1, 2, 3]
    assert batch["meta"]["w"].dtype == np.float64 and batch["meta"]["name"] == ["s0", "s1", "s2", "s3"]
    assert batch["pair"][0].tolist() == [0, 1, 2, 3] and batch["pair"][1].shape == (4, 3)
    assert isinstance(batch["pair"], tuple)
    out = default_collate([(dlcore.ones(2), 1), (dlcore.zeros(2), 2)])
    assert isinstance(out[0], dlcore.Tensor) and out[0].shape == (2, 2)
    with pytest.raises(TypeError, match="share their keys"):
        default_collate([{"a": 1}, {"b": 2}])
    with pytest.raises(TypeError, match="samples must be"):
        default_collate([object(), object()])


# ---- habit: flatten of an empty batch ----------------------------------------------------------------
def test_empty_batch_flows_through_with_the_right_shapes():
    assert dlcore.zeros(0, 3, 4).flatten(1).shape == (0, 12)
    assert dlcore.flatten(dlcore.zeros(0, 2, 3, 3), 1).shape == (0, 18)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 5))
    x = dlcore.zeros(0, 1, 8, 8)
    y = model(x)
    assert y.shape == (0, 5)
    target = dlcore.tensor(np.zeros(0, np.int64))
    assert F.cross_entropy(y, target, reduction="sum").item() == 0
    assert F.cross_entropy(y, target, reduction="none").shape == (0,)


# ---- in-place ops on the tape ------------------------------------------------------------------------
def test_inplace_ops_on_non_leaf_tensors_are_recorded():
    x = dlcore.tensor(np.array([1.0, -2.0, 3.0]), dtype=np.float64, requires_grad=True)
    y = x * 2
    y += 1
    y *= x          # y = (2x + 1) * x
    y[0] = 10.0     # the first element no longer depends on x
    y.clamp_(-5, 100)
    y.sum().backward()
    # d/dx (2x^2 + x) = 4x + 1 where kept (elements 1, 2 both inside the clamp); 0 at index 0
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 4 * -2 + 1, 4 * 3 + 1])


def test_setitem_and_copy_give_gradients_to_the_source():
    v = dlcore.tensor(np.array([1.0, 2.0]), dtype=np.float64, requires_grad=True)
    buf = dlcore.zeros(4, dtype=np.float64)
    buf[1:3] = v * 3
    (buf * dlcore.tensor(np.arange(4.0), dtype=np.float64)).sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), [3.0, 6.0])
    w = dlcore.tensor(np.array([1.0, 2.0]), dtype=np.float64, requires_grad=True)
    out = dlcore.zeros(2, 2, dtype=np.float64)
    out.copy_(w)  # broadcast
    out.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [2.0, 2.0])


def _t64(values, requires_grad=True):
    return dlcore.tensor(np.array(values), dtype=np.float64, requires_grad=requires_grad)


def test_inplace_change_through_a_view_reaches_the_base_gradient():
    # the base's graph ignored changes made through a view: z = y[1:]; z.mul_(3); y.sum() gave x.grad
    # [1, 1, 1] (PyTorch [1, 3, 3]) with y's values already tripled
    x = _t64([1.0, 2.0, 3.0])
    y = x * 1
    y[1:].mul_(3)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 3.0, 3.0])
    x = _t64([1.0, 2.0, 3.0])
    y = x * 1
    z = y[1:]
    z.mul_(2)
    z.add_(x[0])  # twice through one view
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 2 * (5 + 7), 2 * 5 * 2, 2 * 7 * 2])
    x = _t64([[1.0, 2.0], [3.0, 4.0]])
    y = x * 1
    y.t()[0].mul_(5)  # a view of a view (permute, then index)
    y[:, 1] *= 3      # Python's y[:, 1] = y[:, 1].__imul__(3): raised "modified by an in-place operation"
    (y * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[10.0, 12.0], [30.0, 24.0]])
    x = _t64([1.0, 2.0, 3.0, 4.0])
    y = x * 2
    y.view(2, 2).add_(x[0])
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [60.0, 20.0, 28.0, 36.0])


def test_inplace_change_through_a_view_of_a_tensor_off_the_tape():
    # buf[1:3].copy_(x) with x requiring grad left buf off the tape: x got no gradient through buf
    x = _t64([1.0, 2.0])
    buf = dlcore.zeros(4, dtype=np.float64)
    buf[1:3].copy_(x * 3)
    assert buf.requires_grad and not buf.is_leaf
    (buf * dlcore.arange(4.0, dtype=np.float64)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 6.0])
    x = _t64([1.0, 2.0])
    grid = dlcore.zeros(2, 2, dtype=np.float64)
    grid[:, 0] += x
    grid.view(4)[1:].mul_(2)  # a view of a base that is on the tape by now
    (grid * grid).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 16.0])


def test_inplace_on_one_element_writes_the_tensor():
    # x[0] was a copy (NumPy returns a scalar for one element): x[0].fill_(5), x[1].add_(2) changed nothing
    x = dlcore.zeros(3)
    x[0].fill_(5)
    x[1].add_(2)
    x[2].copy_(dlcore.tensor(7.0))
    assert x.tolist() == [5.0, 2.0, 7.0] and float(x[0]) == 5.0 and x[1].shape == ()
    w = _t64(5.0)
    y = _t64([1.0, 2.0, 3.0]) * 1
    y[0].copy_(w * 2)
    y.sum().backward()
    assert w.grad.item() == 2.0  # was nan


def test_inplace_on_a_view_of_a_leaf_that_requires_grad_raises():
    p = nn.Parameter(dlcore.ones(3))
    with pytest.raises(RuntimeError, match="view of a leaf"):
        p[1:].mul_(2)  # silently changed the parameter behind autograd's back
    assert p.tolist() == [1.0, 1.0, 1.0]
    with dlcore.no_grad():
        p[1:].mul_(2)
    assert p.tolist() == [1.0, 2.0, 2.0]


def test_modifying_a_saved_tensor_in_place_raises_at_backward():
    x = dlcore.randn(3, requires_grad=True)
    h = x * 1
    y = h.exp()     # saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()
    x = dlcore.randn(3, requires_grad=True)
    h = x * 1
    z = h * h       # saves h
    h.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()
    # through a view: the view shares the version counter
    x = dlcore.randn(2, 3, requires_grad=True)
    y = (x * 1).exp()
    y.view(-1).add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_resnet_style_residual_add_in_place_is_allowed():
    dlcore.manual_seed(0)
    conv, bn = nn.Conv2d(2, 2, 3, padding=1), nn.BatchNorm2d(2)
    x = dlcore.randn(2, 2, 5, 5, requires_grad=True)
    out = bn(conv(x))
    out += x
    F.relu(out).sum().backward()
    ref_x = dlcore.Tensor(x.numpy().copy(), requires_grad=True)
    out2 = bn(conv(ref_x)) + ref_x
    conv.weight.grad = None
    F.relu(out2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), ref_x.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_inplace_outside_the_tape_and_dtype_rules():
    t = dlcore.arange(4)
    alias = t.detach()
    t += 1
    t.mul_(2)
    assert alias.tolist() == [2, 4, 6, 8]  # the storage changed, not the name
    with pytest.raises(RuntimeError, match="can't be cast"):
        t += 0.5
    f = dlcore.ones(3)
    f.sub_(dlcore.ones(3), alpha=2)
    f.div_(2)
    f[0] = 7
    f.fill_(3).zero_()
    assert f.tolist() == [0, 0, 0]
    with dlcore.no_grad():
        p = nn.Parameter(dlcore.ones(2))
        p.copy_(np.array([4.0, 5.0]))
        p.clamp_(max=4.5)
    assert p.tolist() == [4.0, 4.5]


# ---- number protocol and state_dict ---------------------------------------------------------------------
def test_one_element_tensor_works_as_a_python_number():
    loss = dlcore.tensor(0.25)
    assert float(loss) == 0.25 and f"{loss:.3f}" == "0.250" and f"{loss:.1f}" == "0.2"
    n = dlcore.tensor(3)
    assert int(n) == 3 and [10, 20, 30, 40][n] == 40 and range(5)[dlcore.tensor([2])] == 2
    assert bool(dlcore.tensor([1.0])) and not bool(dlcore.tensor(0))
    assert 100.0 * dlcore.tensor(3) / 4 == 75
    with pytest.raises(TypeError, match="integer tensors"):
        [1, 2][dlcore.tensor(1.0)]
    with pytest.raises(ValueError, match="one-element"):
        float(dlcore.ones(2))
    with pytest.raises(TypeError, match="format"):
        f"{dlcore.ones(2):.2f}"
    assert f"{dlcore.ones(2)}" == str(dlcore.ones(2))


def test_state_dict_values_are_tensors_sharing_storage():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    sd = model.state_dict()
    assert all(isinstance(v, dlcore.Tensor) for v in sd.values())
    assert sd["0.weight"]._data is model[0].weight._data and not sd["0.weight"].requires_grad
    sd["0.bias"].zero_()
    assert model[0].bias.tolist() == [0.0, 0.0]
    other = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    other.load_state_dict(sd)
    np.testing.assert_array_equal(other[0].weight.numpy(), model[0].weight.numpy())


# ---- habit: p.data is a detached Tensor on the same storage (PyTorch's .data) ---------------------
def test_data_is_a_detached_tensor_sharing_storage():
    p = nn.Parameter(dlcore.randn(3, 4))
    d = p.data
    assert type(d) is dlcore.Tensor and not d.requires_grad and d.is_leaf and d.grad is None
    assert d._data is p._data and d.shape == (3, 4) and d.dtype == p.dtype
    p.data.zero_()  # in place through .data, with grad enabled: allowed, as in PyTorch
    assert p.tolist() == [[0.0] * 4] * 3
    p.data.copy_(dlcore.full((3, 4), 2.0))
    np.testing.assert_array_equal(p.numpy(), 2.0)
    p.data.fill_(3.0)
    p.data.mul_(0.5)
    p.data[0] = 7.0
    np.testing.assert_array_equal(p.numpy()[0], 7.0)
    np.testing.assert_array_equal(p.numpy()[1:], 1.5)
    assert "Parameter containing" in repr(p) and "tensor(" in repr(p.data) and "requires_grad" not in repr(p.data)
    np.testing.assert_array_equal(p.data.cpu().numpy(), p.numpy())  # the old x.data.cpu().numpy() habit


def test_changes_through_data_are_invisible_to_autograd():
    """As in PyTorch: .data has its own version counter, so changing it after forward does not raise
    (detach() shares the counter and does raise)."""
    w = dlcore.randn(4, requires_grad=True)
    y = (w * w).sum()
    w.data.mul_(2.0)
    y.backward()  # no "modified by an in-place operation"
    np.testing.assert_allclose(w.grad.numpy(), 2 * w.numpy(), rtol=1e-6)  # the gradient sees the new storage
    y = (w * w).sum()
    w.detach().mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_sgd_habit_through_data_trains_and_optimizers_keep_working():
    model = _model()
    x = dlcore.randn(8, 4)
    first = float(_loss(model, x))
    for _ in range(20):
        model.zero_grad()
        _loss(model, x).backward()
        for p in model.parameters():
            p.data -= 0.05 * p.grad.data  # the pre-0.4 PyTorch habit
    assert float(_loss(model, x)) < first
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    storage = [p._data for p in model.parameters()]
    opt.zero_grad()
    _loss(model, x).backward()
    opt.step()
    assert all(p._data is s for p, s in zip(model.parameters(), storage))


def test_data_setter_refuses_nothing_silently():
    p = nn.Parameter(dlcore.zeros(2))
    p.data = dlcore.ones(2).data  # a .data Tensor assigned back: its storage
    assert p.tolist() == [1.0, 1.0] and p.requires_grad
    p.data = [4.0, 5.0]
    assert p.tolist() == [4.0, 5.0]


def test_out_of_range_dims_raise_instead_of_wrapping():
    # dim % ndim picked another axis: max(dim=2) of a 2-D tensor reduced dim 0, cat(dim=2) stacked rows,
    # squeeze(2) of (1, 3) dropped dim 0, unsqueeze(4) of 2-D inserted at 1
    x = dlcore.randn(2, 3)
    for op in (lambda: x.max(2), lambda: x.min(dim=-3), lambda: dlcore.cat([x, x], dim=2), lambda: x.flatten(3),
               lambda: dlcore.randn(1, 3).squeeze(2), lambda: x.unsqueeze(4), lambda: x.transpose(0, 2)):
        with pytest.raises(IndexError, match="Dimension out of range"):
            op()
    assert x.unsqueeze(-3).shape == (1, 2, 3) and x.unsqueeze(2).shape == (2, 3, 1)
    assert dlcore.cat([x, x], dim=-1).shape == (2, 6) and x.max(-1).values.shape == (2,)
    assert dlcore.tensor(3.0).unsqueeze(-1).shape == (1,) and dlcore.tensor(3.0).squeeze(0).shape == ()
    with pytest.raises(ValueError, match="non-empty"):
        dlcore.cat([])


def test_tensor_of_non_numeric_data_raises():
    # dlcore.tensor("abc") / tensor(None) made string/object tensors that failed later, far from the cause
    for data in ("abc", None, [None, 1], {"a": 1}):
        with pytest.raises(TypeError, match="tensor of numbers"):
            dlcore.tensor(data)
    assert dlcore.tensor([dlcore.tensor(1.0), dlcore.tensor(2.0)]).tolist() == [1.0, 2.0]


def test_contiguous_of_a_transposed_tensor_is_a_copy():
    # contiguous() returned the transposed view itself: y = x.t().contiguous(); y += 1 changed x
    x = dlcore.zeros(2, 3)
    y = x.t().contiguous()
    y += 1
    y[0] = 5.0
    assert x.tolist() == [[0.0] * 3] * 2 and y.is_contiguous()
    w = _t64([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    (w.t().contiguous().view(-1) * dlcore.arange(6.0, dtype=np.float64)).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [[0.0, 2.0, 4.0], [1.0, 3.0, 5.0]])
    c = dlcore.ones(3)
    assert c.contiguous() is c
