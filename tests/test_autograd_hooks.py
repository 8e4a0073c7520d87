"""Hooks, retain_graph, dlcore.autograd.grad and double backward (create_graph=True).

Double backward is checked the way the issue asks: the first derivative, built on the tape by
``grad(..., create_graph=True)``, is itself gradchecked against central finite differences in float64.
"""
import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
from dlcore import nn
from dlcore.autograd import grad, gradcheck


def f64(a, requires_grad=True):
    return dlcore.tensor(np.asarray(a, dtype=np.float64), dtype=np.float64, requires_grad=requires_grad)


def away_from_zero(rng, *shape):
    return rng.uniform(0.3, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def check_double_backward(f, arrays):
    inputs = [f64(a) for a in arrays]

    def first_derivative(*ts):
        gs = grad(f(*ts), ts, create_graph=True)
        return dlcore.cat([g.reshape(-1) for g in gs])

    assert gradcheck(first_derivative, inputs, atol=1e-5, rtol=1e-4)


# ---- double backward ----------------------------------------------------------------------------------
def test_double_backward_elementwise_ops(rng):
    x, y = away_from_zero(rng, 3, 4), rng.uniform(0.5, 2.0, (3, 4))

    def f(x, y):
        return (x * y + x / y + (x * x * 0.3).exp() + y.log() + y.sqrt() + x ** 3 + x.abs() * y + (x - y) * x
                + x.tanh() * y + F.sigmoid(x * y) + F.relu(x) * y + F.leaky_relu(x, 0.1) * x
                + (-x) * y.mean(dim=1, keepdim=True) + dlcore.where(x > 0, x * x, y)).sum()
    check_double_backward(f, [x, y])


def test_double_backward_linear_and_matmul(rng):
    x, w, b = rng.standard_normal((5, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)
    check_double_backward(lambda x, w, b: F.linear(x, w, b).tanh().sum(), [x, w, b])
    a, m, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    check_double_backward(lambda a, m, v: (F.sigmoid(a @ m) @ v).sum(), [a, m, v])
    check_double_backward(lambda a, m: ((a.reshape(6, 4).t() @ a.reshape(6, 4)) * m[:, :4]).sum() ** 2,
                          [a, m])


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1), dict(stride=1, padding=(0, 2), dilation=2),
                                dict(groups=2, padding=1)])
def test_double_backward_conv2d(rng, kw):
    c = 2  # small: gradcheck differentiates the whole first derivative per element
    x = rng.standard_normal((1, c, 6, 5))
    w = rng.standard_normal((2, c // kw.get("groups", 1), 3, 3))
    b = rng.standard_normal(2)
    check_double_backward(lambda x, w, b: (F.conv2d(x, w, b, **kw).tanh() ** 2).sum(), [x, w, b])


def test_double_backward_losses(rng):
    logits, t = rng.standard_normal((4, 5)), np.array([1, 0, 4, 2])
    p = rng.uniform(0.1, 0.9, (4, 5))
    check_double_backward(lambda x: F.cross_entropy(x, t), [logits])
    check_double_backward(lambda x: F.cross_entropy(x, t, label_smoothing=0.1, reduction="sum"), [logits])
    check_double_backward(lambda x: F.cross_entropy(x, t, weight=np.arange(1.0, 6.0)), [logits])
    check_double_backward(lambda x, q: F.cross_entropy(x, q.softmax(1)), [logits, rng.standard_normal((4, 5))])
    check_double_backward(lambda x: F.nll_loss(F.log_softmax(x, 1), t), [logits])
    check_double_backward(lambda x, y: F.mse_loss(x.tanh(), y), [logits, p])
    check_double_backward(lambda x, y: F.l1_loss(x * x, y, reduction="sum"), [logits, p])
    check_double_backward(lambda x: F.binary_cross_entropy(F.sigmoid(x), p), [logits])
    check_double_backward(lambda x: F.binary_cross_entropy_with_logits(x, p), [logits])
    check_double_backward(lambda x: (F.softmax(x, 1) * F.log_softmax(x, 0)).sum(), [logits])


def test_gradient_penalty_trains_the_critic_weights(rng):
    """WGAN-GP: the penalty on the input gradient's norm, differentiated w.r.t. the critic's weights."""
    x = rng.standard_normal((3, 2, 6, 6))
    w1, b1, w2 = rng.standard_normal((4, 2, 3, 3)) * 0.5, rng.standard_normal(4), rng.standard_normal((1, 36)) * 0.3

    def penalty(w1, b1, w2):
        xi = f64(x)
        h = F.leaky_relu(F.conv2d(xi, w1, b1, stride=2, padding=1), 0.2)
        out = F.linear(h.flatten(1), w2).sum()
        (g,) = grad(out, xi, create_graph=True)
        return ((g.flatten(1).norm(2, dim=1) - 1) ** 2).mean()

    assert gradcheck(penalty, [f64(w1), f64(b1), f64(w2)], atol=1e-6, rtol=1e-4)

    # the float32 run (conv kernels forward and backward) agrees with float64
    def run(dtype):
        ws = [dlcore.tensor(a.astype(dtype), requires_grad=True) for a in (w1, b1, w2)]
        xi = dlcore.tensor(x.astype(dtype), requires_grad=True)
        h = F.leaky_relu(F.conv2d(xi, ws[0], ws[1], stride=2, padding=1), 0.2)
        (g,) = grad(F.linear(h.flatten(1), ws[2]).sum(), xi, create_graph=True)
        ((g.flatten(1).norm(2, dim=1) - 1) ** 2).mean().backward()
        assert ws[1].grad is None  # the bias only moves the piecewise-constant slope pattern: no gradient
        return [ws[0].grad.numpy(), ws[2].grad.numpy()]
    for a, b in zip(run(np.float32), run(np.float64)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_hessian_vector_product_is_exact(rng):
    x = f64(rng.standard_normal(6))
    v = rng.standard_normal(6)
    (g,) = grad((x ** 4).sum() + (x[:3] * x[3:]).sum(), x, create_graph=True)
    (hv,) = grad(g, x, grad_outputs=dlcore.tensor(v, dtype=np.float64))
    xs = x.numpy()
    expected = 12 * xs ** 2 * v + np.concatenate([v[3:], v[:3]])
    np.testing.assert_allclose(hv.numpy(), expected, rtol=1e-12)
    assert x.grad is None  # grad() leaves .grad alone


def test_ops_without_double_backward_raise_clearly():
    x = dlcore.randn(1, 3, 4, 4, requires_grad=True)
    out = F.local_response_norm(x, 3).sum()
    with pytest.raises(RuntimeError, match="double backward .* not implemented for LocalResponseNorm"):
        grad(out, x, create_graph=True)


def test_backward_with_create_graph_leaves_a_differentiable_grad():
    x = f64([1.0, 2.0])
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    g = x.grad
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0])


# ---- grad() arguments and retain_graph ------------------------------------------------------------------
def test_grad_arguments_are_checked():
    x, y = dlcore.randn(3, requires_grad=True), dlcore.randn(3, requires_grad=True)
    out = (x * 2).sum()
    with pytest.raises(RuntimeError, match="not used in the graph"):
        grad(out, [x, y], retain_graph=True)
    gx, gy = grad(out, [x, y], allow_unused=True, retain_graph=True)
    assert gy is None and gx.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad(out, dlcore.randn(3), retain_graph=True)
    with pytest.raises(RuntimeError, match="grad_outputs is needed"):
        grad(x * 2, x)
    with pytest.raises(ValueError, match="does not match output shape"):
        grad(x * 2, x, grad_outputs=dlcore.ones(2))
    with pytest.raises(TypeError, match="must be Tensors"):
        grad(out, [x.numpy()])


def test_retain_graph_allows_a_second_backward():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


# ---- hooks ----------------------------------------------------------------------------------------------
def test_tensor_hooks_fire_in_order_and_can_replace_the_gradient():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    seen = []
    h.register_hook(lambda g: seen.append(("first", g.tolist())) or g * 2)
    h.register_hook(lambda g: seen.append(("second", g.tolist())))
    handle = x.register_hook(lambda g: seen.append(("leaf", g.tolist())))
    (h * h).sum().backward()
    # dL/dh = 2h = [6, 12]; doubled by the first hook; x gets 3 * that
    assert seen == [("first", [6.0, 12.0]), ("second", [12.0, 24.0]), ("leaf", [36.0, 72.0])]
    assert x.grad.tolist() == [36.0, 72.0]
    handle.remove()
    x.grad = None
    (x * 1).sum().backward()
    assert len(seen) == 3 and x.grad.tolist() == [1.0, 1.0]
    with pytest.raises(RuntimeError, match="does not require grad"):
        dlcore.ones(2).register_hook(lambda g: g)
    with pytest.raises(TypeError, match="callable"):
        x.register_hook(3)
    y = x * 1
    y.register_hook(lambda g: dlcore.ones(5))
    with pytest.raises(RuntimeError, match="shape"):
        y.sum().backward()


def test_module_hooks_fire_in_order_with_the_right_gradients(rng):
    dlcore.manual_seed(0)
    l1, l2 = nn.Linear(4, 3), nn.Linear(3, 2)
    model = nn.Sequential(l1, nn.Tanh(), l2)
    events = []
    for name, m in (("l1", l1), ("l2", l2)):
        m.register_forward_pre_hook(lambda mod, args, name=name: events.append(("pre", name)))
        m.register_forward_hook(lambda mod, args, out, name=name: events.append(("fwd", name, out.shape)))
        m.register_full_backward_hook(
            lambda mod, gin, gout, name=name: events.append(("bwd", name, gin[0], gout[0])))
    x = dlcore.tensor(rng.standard_normal((5, 4)).astype(np.float32), requires_grad=True)
    w = dlcore.tensor(rng.standard_normal((5, 2)).astype(np.float32))
    (model(x) * w).sum().backward()
    assert [e[:2] for e in events] == [("pre", "l1"), ("fwd", "l1"), ("pre", "l2"), ("fwd", "l2"),
                                       ("bwd", "l2"), ("bwd", "l1")]
    _, _, gin2, gout2 = events[4]
    np.testing.assert_allclose(gout2.numpy(), w.numpy())                       # dL/d(l2 output)
    np.testing.assert_allclose(gin2.numpy(), w.numpy() @ l2.weight.numpy(), rtol=1e-5)  # dL/d(l2 input)
    _, _, gin1, _ = events[5]
    np.testing.assert_allclose(gin1.numpy(), x.grad.numpy(), rtol=1e-6)


def test_module_hooks_can_replace_inputs_outputs_and_grad_input():
    m = nn.Linear(2, 2)
    x = dlcore.ones(1, 2, requires_grad=True)
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    assert np.allclose(m(x).numpy(), m.bias.numpy())
    h1.remove()
    h2 = m.register_forward_hook(lambda mod, args, out: out * 0 + 5)
    assert m(x).tolist() == [[5.0, 5.0]]
    h2.remove()
    m.register_full_backward_hook(lambda mod, gin, gout: (gin[0] * 10,))
    m(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 10 * m.weight.numpy().sum(0, keepdims=True), rtol=1e-6)
    # the first layer of a model (input not requiring grad): grad_input is (None,)
    seen = []
    first = nn.Linear(2, 2)
    first.register_full_backward_hook(lambda mod, gin, gout: seen.append((gin, gout[0].shape)))
    first(dlcore.ones(3, 2)).sum().backward()
    assert seen == [((None,), (3, 2))]
    with pytest.raises(TypeError, match="callable"):
        first.register_forward_hook("no")
