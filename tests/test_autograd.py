"""Gradient checks of the tensor ops (float64 finite differences + float32 vs float64)."""
import numpy as np
import pytest

import dlcore
from gradcheck_util import check_grad
from opcheck import randn


def pos(rng, *shape):
    return np.abs(randn(rng, *shape, dtype=np.float64)) + 0.5


@pytest.mark.parametrize("shapes", [((3, 7), (3, 7)), ((9, 1), (1, 17)), ((2, 3, 5), (5,)), ((7,), ())])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_broadcasting_arithmetic(rng, op, shapes):
    a = randn(rng, *shapes[0], dtype=np.float64)
    b = pos(rng, *shapes[1]) if op == "div" else randn(rng, *shapes[1], dtype=np.float64)
    fn = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
          "div": lambda x, y: x / y}[op]
    out = check_grad(fn, a, b)
    np.testing.assert_allclose(out.numpy(), fn(a, b))


@pytest.mark.parametrize("name", ["neg", "exp", "log", "sqrt", "abs", "pow_scalar", "pow_tensor", "rsub", "rdiv"])
def test_unary_ops(rng, name):
    x = pos(rng, 3, 9) if name in ("log", "sqrt", "pow_tensor", "rdiv") else randn(rng, 3, 9, dtype=np.float64)
    fns = {"neg": lambda t: -t, "exp": lambda t: t.exp(), "log": lambda t: t.log(), "sqrt": lambda t: t.sqrt(),
           "abs": lambda t: t.abs(), "pow_scalar": lambda t: t ** 3, "pow_tensor": lambda t: t ** (t * 0.5),
           "rsub": lambda t: 2.0 - t, "rdiv": lambda t: 1.5 / t}
    check_grad(fns[name], x)


@pytest.mark.parametrize("shapes", [((7, 9), (9, 5)), ((2, 3, 9), (9, 4)), ((2, 3, 4), (2, 4, 5)), ((9,), (9, 3)),
                                    ((3, 9), (9,)), ((1, 3, 4), (2, 4, 5))])
def test_matmul(rng, shapes):
    a = randn(rng, *shapes[0], dtype=np.float64)
    b = randn(rng, *shapes[1], dtype=np.float64)
    out = check_grad(lambda x, y: x @ y, a, b)
    np.testing.assert_allclose(out.numpy(), a @ b, rtol=1e-12)


@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (1, True), ((0, 2), False), (-1, True)])
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_sum_mean(rng, op, dim, keepdim):
    x = randn(rng, 3, 5, 7, dtype=np.float64)
    out = check_grad(lambda t: getattr(t, op)(dim=dim, keepdim=keepdim), x)
    np.testing.assert_allclose(out.numpy(), getattr(np, op)(x, axis=dim, keepdims=keepdim))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int64])
def test_mean_is_numpys_mean_bitwise(rng, dtype):
    # Mean sums and divides itself for float32/float64 (NumPy's _mean step for step, without its Python
    # wrapper): the value, dtype and kind (0-d array or scalar) must stay numpy.mean's; the others call it.
    import itertools

    for shape in [(7,), (3, 5), (2, 3, 17), (1,), (4, 1, 9), (129, 33)]:
        x = rng.standard_normal(shape) * 10 ** rng.uniform(-3, 3, shape)
        x = (x * 100).astype(dtype) if dtype == np.int64 else x.astype(dtype)
        dims = [None] + [d for r in range(1, len(shape) + 1) for d in itertools.combinations(range(len(shape)), r)]
        for dim, keepdim in itertools.product(dims, (False, True)):
            got = dlcore.tensor(x).mean(dim=dim, keepdim=keepdim).numpy()
            want = np.asarray(x.mean(axis=dim, keepdims=keepdim))
            assert got.dtype == want.dtype and got.shape == want.shape, (shape, dim, keepdim)
            np.testing.assert_array_equal(got, want, err_msg=f"{shape} dim={dim} keepdim={keepdim}")


@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (1, True), (-1, False)])
def test_max(rng, dim, keepdim):
    x = randn(rng, 3, 5, 7, dtype=np.float64)
    if dim is None:
        out = check_grad(lambda t: t.max(), x)
        assert out.item() == x.max()
        return
    out = check_grad(lambda t: t.max(dim=dim, keepdim=keepdim).values, x)
    np.testing.assert_array_equal(out.numpy(), x.max(axis=dim, keepdims=keepdim))
    idx = dlcore.tensor(x).max(dim=dim, keepdim=keepdim).indices.numpy()
    np.testing.assert_array_equal(idx, x.argmax(axis=dim) if not keepdim else np.expand_dims(x.argmax(axis=dim), dim))


@pytest.mark.parametrize("name", ["reshape", "view", "flatten", "transpose", "permute", "T", "unsqueeze",
                                  "getitem_slice", "getitem_fancy", "getitem_bool", "getitem_repeat"])
def test_shape_ops(rng, name):
    x = randn(rng, 3, 4, 5, dtype=np.float64)
    fns = {
        "reshape": lambda t: t.reshape(4, 15), "view": lambda t: t.view(-1, 5), "flatten": lambda t: t.flatten(1),
        "transpose": lambda t: t.transpose(0, 2), "permute": lambda t: t.permute(2, 0, 1), "T": lambda t: t.T,
        "unsqueeze": lambda t: t.unsqueeze(1).squeeze(1),
        "getitem_slice": lambda t: t[1:, ::2, -1], "getitem_fancy": lambda t: t[[0, 2], :, [1, 3]],
        "getitem_bool": lambda t: t[x > 0], "getitem_repeat": lambda t: t[[0, 0, 1]],
    }
    out = check_grad(fns[name], x)
    if name == "getitem_repeat":
        np.testing.assert_array_equal(out.numpy(), x[[0, 0, 1]])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_stack(rng, dim):
    a, b = randn(rng, 3, 4, dtype=np.float64), randn(rng, 3, 4, dtype=np.float64)
    out = check_grad(lambda x, y: dlcore.cat([x, y * 2], dim=dim), a, b)
    np.testing.assert_allclose(out.numpy(), np.concatenate([a, b * 2], axis=dim))
    out = check_grad(lambda x, y: dlcore.stack([x, y], dim=dim), a, b)
    np.testing.assert_allclose(out.numpy(), np.stack([a, b], axis=dim))


def test_gradient_accumulates_over_reuse_and_backward_calls():
    x = dlcore.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x + x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() + 1)
    (x * 3).sum().backward()  # a second graph: grads add up like PyTorch
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() + 4)


def test_backward_twice_through_the_same_graph_raises():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_no_grad_records_nothing():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    with dlcore.no_grad():
        y = x * 2
    assert not y.requires_grad and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()
    assert dlcore.is_grad_enabled()


def test_backward_needs_gradient_for_non_scalar():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="non-scalar"):
        (x * 2).backward()
    with pytest.raises(ValueError, match="does not match"):
        (x * 2).backward(dlcore.ones(3))


def test_only_needed_gradients_are_computed():
    a = dlcore.tensor(np.ones((2, 3)), requires_grad=True)
    b = dlcore.tensor(np.ones((3, 2)))
    (a @ b).sum().backward()
    assert a.grad is not None and b.grad is None


def test_retain_grad_on_intermediate():
    x = dlcore.tensor([1.0, -2.0], requires_grad=True)
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.numpy())


class _Scale(dlcore.autograd.Function):
    """y = 2 * x; backward hands out an array the test keeps (`given`), or the same one to both inputs."""

    given = None

    def forward(self, x, z=None):
        return 2 * x if z is None else 2 * x + z

    def backward(self, grad):
        _Scale.given = 2 * grad
        return (_Scale.given,) if len(self.needs_input_grad) == 1 else (_Scale.given, _Scale.given)


class _FreshScale(_Scale):
    fresh_grads = True


def test_fresh_leaf_gradient_becomes_grad_without_a_copy():
    # Function.fresh_grads: the node's own new array becomes .grad as it is (conv, linear and batch norm
    # gradients of parameters); any other node's gradient is copied first.
    for cls, adopted in ((_FreshScale, True), (_Scale, False)):
        x = dlcore.tensor(np.ones(5, np.float32), requires_grad=True)
        cls.apply(x).sum().backward()
        assert (x.grad._data is cls.given) is adopted, cls.__name__
        np.testing.assert_array_equal(x.grad.numpy(), np.full(5, 2, np.float32))


def test_fresh_gradient_shared_or_kept_is_copied():
    # One array handed to two leaves: each gets its own .grad, so scaling one in place leaves the other.
    x = dlcore.tensor(np.ones(3, np.float32), requires_grad=True)
    z = dlcore.tensor(np.ones(3, np.float32), requires_grad=True)
    _FreshScale.apply(x, z).sum().backward()
    assert not np.shares_memory(x.grad._data, z.grad._data)
    x.grad.mul_(10)
    np.testing.assert_array_equal(z.grad.numpy(), np.full(3, 2, np.float32))
    # A tensor hook may keep the gradient it sees: .grad is then a copy of it.
    w = dlcore.tensor(np.ones(3, np.float32), requires_grad=True)
    seen = []
    w.register_hook(seen.append)
    _FreshScale.apply(w).sum().backward()
    assert not np.shares_memory(w.grad._data, seen[0]._data)
    # A second backward adds into .grad: a new array, the first one untouched.
    first = w.grad._data
    _FreshScale.apply(w).sum().backward()
    np.testing.assert_array_equal(first, np.full(3, 2, np.float32))
    np.testing.assert_array_equal(w.grad.numpy(), np.full(3, 4, np.float32))


def test_set_grad_enabled_is_a_context_manager_and_a_call():
    # PyTorch's `with torch.set_grad_enabled(phase == "train"):` raised (set_grad_enabled returned None)
    x = dlcore.randn(2, requires_grad=True)
    for train in (True, False):
        with dlcore.set_grad_enabled(train):
            assert (x * 2).requires_grad is train
        assert dlcore.is_grad_enabled()
    with dlcore.no_grad():
        with dlcore.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not dlcore.is_grad_enabled()
    dlcore.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        dlcore.set_grad_enabled(True)


def test_autograd_backward_takes_pytorch_arguments():
    # dlcore.autograd.backward was the internal (root, grad) function: a list of losses raised
    x = dlcore.tensor(np.array([1.0, 2.0]), dtype=np.float64, requires_grad=True)
    dlcore.autograd.backward([(x * x).sum(), x * 3], [None, dlcore.tensor(np.array([1.0, -1.0]))])
    np.testing.assert_allclose(x.grad.numpy(), [2 + 3, 4 - 3])
    dlcore.autograd.backward((x ** 3).sum())
    np.testing.assert_allclose(x.grad.numpy(), [5 + 3, 1 + 12])


def test_pow_gradient_with_exponent_zero_at_zero():
    # b * a ** (b - 1) was 0 * inf = nan at a = 0, b = 0; PyTorch gives 0
    x = dlcore.tensor(np.array([0.0, 1.5]), dtype=np.float64, requires_grad=True)
    e = dlcore.tensor(np.array([0.0, 0.0]), dtype=np.float64)
    ((x ** 0).sum() + (x ** e).sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


def test_indexing_gradients_basic_and_advanced(rng):
    """Basic indexing (slices, ints, None, ...) writes its gradient once; advanced indices accumulate repeats."""
    x = dlcore.tensor(rng.standard_normal((4, 5, 3)), requires_grad=True)
    w = rng.standard_normal((2, 1, 5, 2))
    (x[1:3, None, :, ::2] * dlcore.tensor(w)).sum().backward()
    want = np.zeros((4, 5, 3))
    want[1:3, :, ::2] = w[:, 0]
    np.testing.assert_array_equal(x.grad.numpy(), want)
    x.grad = None
    x[np.array([0, 2, 0]), ..., 1].sum().backward()  # row 0 picked twice: its gradient is 2
    want = np.zeros((4, 5, 3))
    want[[0, 2], :, 1] = [[2.0], [1.0]]
    np.testing.assert_array_equal(x.grad.numpy(), want)


def test_grad_runs_only_the_nodes_leading_to_its_inputs(rng):
    # As torch: grad(f(x), x) neither runs nor frees x's own graph, so a later backward still reaches a.
    a = dlcore.tensor(rng.standard_normal(4), requires_grad=True)
    x = a * 2
    (gx,) = dlcore.autograd.grad((x * x).sum(), x)
    np.testing.assert_allclose(gx.numpy(), 2 * x.numpy())
    assert a.grad is None
    (x * 5).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.full(4, 10.0))


def test_grad_through_one_input_to_another_and_beside_an_unrelated_branch(rng):
    a = dlcore.tensor(rng.standard_normal(3), requires_grad=True)
    b = dlcore.tensor(rng.standard_normal(3), requires_grad=True)
    w2 = a * 3
    w1 = w2 * w2
    v = b * 4  # its node must not run (nor be freed) for grad w.r.t. w1 and w2
    g1, g2 = dlcore.autograd.grad((w1 * 2 + v).sum(), [w1, w2])
    np.testing.assert_allclose(g1.numpy(), np.full(3, 2.0))
    np.testing.assert_allclose(g2.numpy(), 4 * w2.numpy())
    v.sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), np.full(3, 4.0))


def test_backward_with_inputs_accumulates_only_into_them(rng):
    a = dlcore.tensor(rng.standard_normal(3), requires_grad=True)
    b = dlcore.tensor(rng.standard_normal(3), requires_grad=True)
    w = a * b
    y = (w * w).sum()
    y.backward(inputs=[b], retain_graph=True)
    assert a.grad is None
    np.testing.assert_allclose(b.grad.numpy(), 2 * w.numpy() * a.numpy())
    dlcore.autograd.backward(y, inputs=a)
    np.testing.assert_allclose(a.grad.numpy(), 2 * w.numpy() * b.numpy())
    np.testing.assert_allclose(b.grad.numpy(), 2 * w.numpy() * a.numpy())  # unchanged by the second pass
    with pytest.raises(RuntimeError, match="does not require grad"):
        (a * 2).sum().backward(inputs=[dlcore.ones(3)])
