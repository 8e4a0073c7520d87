"""dlcore.autograd.functional against float64 finite differences and closed forms (shapes and nesting as
torch.autograd.functional: block (i, j) of a Jacobian is outputs[i].shape + inputs[j].shape)."""
import numpy as np
import pytest

import dlcore
from dlcore.autograd import functional as F


def _numeric_jacobian(fn, arrays, j, eps=1e-6):
    """d fn / d arrays[j] by central differences (fn: arrays -> one array)."""
    out = np.asarray(fn(*arrays))
    jac = np.zeros(out.shape + arrays[j].shape)
    for idx in np.ndindex(arrays[j].shape):
        plus = [a.copy() for a in arrays]
        minus = [a.copy() for a in arrays]
        plus[j][idx] += eps
        minus[j][idx] -= eps
        jac[(...,) + idx] = (np.asarray(fn(*plus)) - np.asarray(fn(*minus))) / (2 * eps)
    return jac


def _on_arrays(fn):
    return lambda *arrays: fn(*[dlcore.tensor(a) for a in arrays]).numpy()


def _f(a, b):
    return (b * a).sin().sum(0) * a.exp()


@pytest.fixture
def ab(rng):
    return rng.standard_normal(3), rng.standard_normal((2, 3))


def test_jacobian_of_two_inputs_matches_finite_differences(ab):
    a, b = ab
    ja, jb = F.jacobian(_f, (dlcore.tensor(a), dlcore.tensor(b)))
    assert ja.shape == (3, 3) and jb.shape == (3, 2, 3)
    np.testing.assert_allclose(ja.numpy(), _numeric_jacobian(_on_arrays(_f), [a, b], 0), atol=1e-8)
    np.testing.assert_allclose(jb.numpy(), _numeric_jacobian(_on_arrays(_f), [a, b], 1), atol=1e-8)


def test_jacobian_of_several_outputs_is_nested_output_first(ab):
    a, _ = ab
    jac = F.jacobian(lambda x: (x.sin(), x.sum() * x), dlcore.tensor(a))
    assert isinstance(jac, tuple) and len(jac) == 2
    np.testing.assert_allclose(jac[0].numpy(), np.diag(np.cos(a)), atol=1e-15)
    np.testing.assert_allclose(jac[1].numpy(), a.sum() * np.eye(3) + a[:, None], atol=1e-15)


def _quartic(x):
    return (x ** 3).sum() * x.sum() + (x[0] * x[1]).exp()


def _quartic_hessian(x):
    s = x.sum()
    h = 6 * s * np.diag(x) + 3 * (x ** 2)[:, None] + 3 * (x ** 2)[None, :]
    e = np.exp(x[0] * x[1])
    h[0, 0] += x[1] ** 2 * e
    h[1, 1] += x[0] ** 2 * e
    h[0, 1] += e * (1 + x[0] * x[1])
    h[1, 0] += e * (1 + x[0] * x[1])
    return h


def test_hessian_and_its_vector_products_match_the_closed_form(rng):
    x = rng.standard_normal(4)
    v = rng.standard_normal(4)
    want = _quartic_hessian(x)
    np.testing.assert_allclose(F.hessian(_quartic, dlcore.tensor(x)).numpy(), want, rtol=1e-12, atol=1e-12)
    value, hv = F.hvp(_quartic, dlcore.tensor(x), dlcore.tensor(v))
    np.testing.assert_allclose(hv.numpy(), want @ v, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(value.numpy(), _quartic(dlcore.tensor(x)).numpy())
    _, vh = F.vhp(_quartic, dlcore.tensor(x), dlcore.tensor(v))
    np.testing.assert_allclose(vh.numpy(), v @ want, rtol=1e-12, atol=1e-12)


def test_hessian_of_two_inputs_is_a_tuple_of_tuples(ab):
    a, b = ab
    h = F.hessian(lambda x, y: (x.sum() * y).exp().sum(), (dlcore.tensor(a), dlcore.tensor(b)))
    assert [[blk.shape for blk in row] for row in h] == [[(3, 3), (3, 2, 3)], [(2, 3, 3), (2, 3, 2, 3)]]
    grad_b = lambda x, y: np.exp(x.sum() * y) * x.sum()  # noqa: E731 - d/dy of the function
    np.testing.assert_allclose(h[1][1].numpy(), _numeric_jacobian(grad_b, [a, b], 1), atol=1e-7)


def test_vjp_and_jvp_match_the_jacobian(ab, rng):
    a, b = ab
    fn = lambda x: x.tanh() * x.sum() + x.sin()  # noqa: E731
    jac = _numeric_jacobian(_on_arrays(fn), [a], 0)
    v = rng.standard_normal(3)
    out, vj = F.vjp(fn, dlcore.tensor(a), dlcore.tensor(v))
    np.testing.assert_allclose(out.numpy(), _on_arrays(fn)(a))
    np.testing.assert_allclose(vj.numpy(), v @ jac, atol=1e-8)
    _, jv = F.jvp(fn, dlcore.tensor(a), dlcore.tensor(v))
    np.testing.assert_allclose(jv.numpy(), jac @ v, atol=1e-8)
    _, (va, vb) = F.vjp(lambda x, y: (x * y).sum(), (dlcore.tensor(a), dlcore.tensor(b)))
    np.testing.assert_allclose(va.numpy(), b.sum(0))
    np.testing.assert_allclose(vb.numpy(), np.broadcast_to(a, b.shape))


def test_unused_inputs_give_zeros_or_raise_when_strict(ab):
    a, b = ab
    ja, jb = F.jacobian(lambda x, y: x * 2, (dlcore.tensor(a), dlcore.tensor(b)))
    assert not jb.numpy().any() and jb.shape == (3, 2, 3)
    with pytest.raises(RuntimeError, match="strict"):
        F.jacobian(lambda x, y: x * 2, (dlcore.tensor(a), dlcore.tensor(b)), strict=True)


def test_create_graph_keeps_results_differentiable(rng):
    x = dlcore.tensor(rng.standard_normal(3), requires_grad=True)
    (jac,) = (F.jacobian(lambda t: t ** 3, x, create_graph=True),)
    jac.sum().backward()  # d/dx sum(diag(3 x^2)) = 6 x
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy())
    assert not F.jacobian(lambda t: t ** 3, x).requires_grad


def test_bad_arguments_raise_clearly(ab):
    a, _ = ab
    x = dlcore.tensor(a)
    with pytest.raises(TypeError, match="inputs must be Tensors"):
        F.jacobian(lambda t: t, [a])
    with pytest.raises(RuntimeError, match="v can be omitted"):
        F.vjp(lambda t: t * 2, x)
    with pytest.raises(ValueError, match="shapes"):
        F.jvp(lambda t: t * 2, x, dlcore.ones(4, dtype=dlcore.float64))
    with pytest.raises(RuntimeError, match="single-element"):
        F.hessian(lambda t: t * 2, x)
    with pytest.raises(ValueError, match="strategy"):
        F.jacobian(lambda t: t, x, strategy="sideways")


@pytest.mark.parametrize("name", ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "log1p", "expm1",
                                  "log2", "log10", "exp2", "rsqrt", "reciprocal", "erf"])
def test_elementwise_math_has_a_second_derivative(name, rng):
    fn = getattr(dlcore, name)
    x = rng.uniform(0.1, 0.8, 5)
    first = lambda z: F.vjp(lambda t: fn(t).sum(), dlcore.tensor(z))[1].numpy()  # noqa: E731
    second = F.hessian(lambda t: fn(t).sum(), dlcore.tensor(x)).numpy()
    np.testing.assert_allclose(np.diag(second), np.diag(_numeric_jacobian(first, [x], 0)), rtol=1e-6, atol=1e-8)
