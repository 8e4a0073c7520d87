"""dlcore.func: the torch.func transforms, against closed forms (float64)."""
import numpy as np
import pytest

import dlcore
import dlcore.func as func


def _f(x):
    return (x.sin() ** 2).sum()


def test_grad_and_grad_of_grad(rng):
    x = rng.standard_normal(5)
    g = func.grad(_f)(dlcore.tensor(x))
    np.testing.assert_allclose(g.numpy(), np.sin(2 * x), rtol=1e-12)
    assert not g.requires_grad
    gg = func.grad(lambda t: func.grad(_f)(t).sum())(dlcore.tensor(x))
    np.testing.assert_allclose(gg.numpy(), 2 * np.cos(2 * x), rtol=1e-12)


def test_grad_argnums_pytrees_and_aux(rng):
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    ga, gb = func.grad(lambda p, q: (p * q).sum(), argnums=(0, 1))(dlcore.tensor(a), dlcore.tensor(b))
    np.testing.assert_allclose(ga.numpy(), b)
    np.testing.assert_allclose(gb.numpy(), a)
    params = {"w": dlcore.tensor(a), "extra": [dlcore.tensor(b)]}
    g = func.grad(lambda p: (p["w"] * p["extra"][0] ** 2).sum())(params)
    np.testing.assert_allclose(g["w"].numpy(), b ** 2)
    np.testing.assert_allclose(g["extra"][0].numpy(), 2 * a * b)
    gradient, (value, aux) = func.grad_and_value(lambda t: (_f(t), "aux"), has_aux=True)(dlcore.tensor(a))
    assert aux == "aux" and value.item() == pytest.approx((np.sin(a) ** 2).sum())
    with pytest.raises(RuntimeError, match="one-element"):
        func.grad(lambda t: t * 2)(dlcore.tensor(a))


def test_per_sample_gradients_with_vmap_and_functional_call(rng):
    model = dlcore.nn.Linear(3, 1).double()
    params = {k: v.detach() for k, v in model.named_parameters()}
    x, y = rng.standard_normal((6, 3)), rng.standard_normal(6)

    def loss(p, xi, yi):
        return ((func.functional_call(model, p, (xi.unsqueeze(0),)).squeeze() - yi) ** 2)

    grads = func.vmap(func.grad(loss), in_dims=(None, 0, 0))(params, dlcore.tensor(x), dlcore.tensor(y))
    residual = x @ params["weight"].numpy()[0] + params["bias"].numpy()[0] - y
    np.testing.assert_allclose(grads["weight"].numpy(), (2 * residual[:, None] * x)[:, None, :], rtol=1e-12)
    np.testing.assert_allclose(grads["bias"].numpy(), 2 * residual[:, None], rtol=1e-12)


def test_vmap_axes_and_tuple_outputs(rng):
    x = rng.standard_normal((3, 4))
    out = func.vmap(lambda r: (r.sum(), r * 2), in_dims=1, out_dims=(0, 1))(dlcore.tensor(x))
    np.testing.assert_allclose(out[0].numpy(), x.sum(0))
    np.testing.assert_allclose(out[1].numpy(), 2 * x)
    with pytest.raises(ValueError, match="one size"):
        func.vmap(lambda a, b: a + b)(dlcore.ones(2), dlcore.ones(3))


def test_jacobians_hessian_vjp_jvp(rng):
    x, v = rng.standard_normal(4), rng.standard_normal(4)
    fn = lambda t: t.sin() * t.sum()  # noqa: E731
    jac = np.diag(np.cos(x)) * x.sum() + np.sin(x)[:, None]
    np.testing.assert_allclose(func.jacrev(fn)(dlcore.tensor(x)).numpy(), jac, rtol=1e-12)
    np.testing.assert_allclose(func.jacfwd(fn)(dlcore.tensor(x)).numpy(), jac, rtol=1e-12)
    h = func.hessian(lambda t: (t ** 3).sum())(dlcore.tensor(x))
    np.testing.assert_allclose(h.numpy(), np.diag(6 * x), rtol=1e-12, atol=1e-14)
    out, vjp_fn = func.vjp(fn, dlcore.tensor(x))
    np.testing.assert_allclose(vjp_fn(dlcore.tensor(v))[0].numpy(), v @ jac, rtol=1e-12)
    _, jv = func.jvp(fn, (dlcore.tensor(x),), (dlcore.tensor(v),))
    np.testing.assert_allclose(jv.numpy(), jac @ v, rtol=1e-12)


def test_jacrev_refuses_a_number():
    with pytest.raises(TypeError, match="must be Tensors"):
        func.jacrev(lambda t: t)(3.0)
