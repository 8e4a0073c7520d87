"""dlcore.nn.utils: weight/spectral normalization (parametrized and legacy), parametrize, functional_call,
parameter vectors and BatchNorm fusion, against float64 NumPy formulas."""
import numpy as np
import pytest

import dlcore
from dlcore import nn
from dlcore.nn.utils import parametrizations, parametrize


def _linear(rng, i=5, o=4):
    lin = nn.Linear(i, o)
    lin.weight = nn.Parameter(rng.standard_normal((o, i)))
    lin.bias = nn.Parameter(rng.standard_normal(o))
    return lin


def _norm_except(w, dim):
    if dim is None:
        return np.sqrt((w * w).sum())
    axes = tuple(i for i in range(w.ndim) if i != dim)
    return np.sqrt((w * w).sum(axis=axes, keepdims=True))


def test_weight_norm_parametrization_splits_and_recombines(rng):
    lin = _linear(rng)
    w = lin.weight.numpy().copy()
    parametrizations.weight_norm(lin)
    assert list(lin.state_dict()) == ["bias", "parametrizations.weight.original0", "parametrizations.weight.original1"]
    g = lin.parametrizations.weight.original0.numpy()
    np.testing.assert_allclose(g, _norm_except(w, 0))
    np.testing.assert_allclose(lin.weight.numpy(), w, rtol=1e-12)
    new_w = rng.standard_normal(w.shape)
    lin.weight = dlcore.tensor(new_w)  # stored through right_inverse
    np.testing.assert_allclose(lin.weight.numpy(), new_w, rtol=1e-12)
    x = dlcore.tensor(rng.standard_normal((3, 5)))
    chain = lin.parametrizations.weight
    assert dlcore.autograd.gradcheck(lambda gg, vv: dlcore.nn.functional.linear(
        x, gg * vv / (vv * vv).sum(dim=1, keepdim=True).sqrt()), [chain.original0, chain.original1])
    lin(x).sum().backward()
    assert chain.original0.grad is not None and chain.original1.grad is not None


@pytest.mark.parametrize("dim", [0, 1, None])
def test_legacy_weight_norm_and_its_removal(rng, dim):
    lin = _linear(rng)
    w = lin.weight.numpy().copy()
    nn.utils.weight_norm(lin, dim=dim)
    assert sorted(lin.state_dict()) == ["bias", "weight_g", "weight_v"]
    assert lin.weight_g.shape == np.shape(_norm_except(w, dim))
    lin.weight_g = nn.Parameter(lin.weight_g.numpy() * 2)
    x = rng.standard_normal((3, 5))
    y = lin(dlcore.tensor(x)).numpy()
    np.testing.assert_allclose(y, x @ (2 * w).T + lin.bias.numpy(), rtol=1e-12)
    nn.utils.remove_weight_norm(lin)
    assert sorted(lin.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(lin.weight.numpy(), 2 * w, rtol=1e-12)
    with pytest.raises(ValueError, match="not found"):
        nn.utils.remove_weight_norm(lin)


def _sigma(w, dim=0):
    m = np.moveaxis(w, dim, 0).reshape(w.shape[dim], -1)
    return np.linalg.svd(m, compute_uv=False)[0]


@pytest.mark.parametrize("legacy", [False, True])
def test_spectral_norm_divides_by_the_largest_singular_value(rng, legacy):
    lin = _linear(rng, 7, 6)
    w = lin.weight.numpy().copy()
    (nn.utils.spectral_norm if legacy else parametrizations.spectral_norm)(lin)
    x = dlcore.tensor(rng.standard_normal((2, 7)))
    for _ in range(60):  # power iterations converge while training
        lin(x)
    np.testing.assert_allclose(lin.weight.numpy(), w / _sigma(w), rtol=1e-6)
    lin.eval()
    u = (lin.weight_u if legacy else lin.parametrizations.weight[0]._u).numpy().copy()
    lin(x)
    np.testing.assert_array_equal((lin.weight_u if legacy else lin.parametrizations.weight[0]._u).numpy(), u)
    keys = ["bias", "weight_orig", "weight_u", "weight_v"] if legacy else \
        ["bias", "parametrizations.weight.original", "parametrizations.weight.0._u", "parametrizations.weight.0._v"]
    assert list(lin.state_dict()) == keys


def test_legacy_spectral_norm_of_a_transposed_conv_uses_its_output_axis(rng):
    conv = nn.ConvTranspose2d(3, 4, 3)
    conv.weight = nn.Parameter(rng.standard_normal((3, 4, 3, 3)))
    w = conv.weight.numpy().copy()
    nn.utils.spectral_norm(conv)
    assert conv.weight_u.shape == (4,)
    x = dlcore.tensor(rng.standard_normal((1, 3, 4, 4)))
    for _ in range(60):
        conv(x)
    np.testing.assert_allclose(conv.weight.numpy(), w / _sigma(w, 1), rtol=1e-6)
    conv(x).sum().backward()
    assert conv.weight_orig.grad is not None
    nn.utils.remove_spectral_norm(conv)
    np.testing.assert_allclose(conv.weight.numpy(), w / _sigma(w, 1), rtol=1e-6)


class Symmetric(nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(0, 1)


class Scale(nn.Module):
    def forward(self, x):
        return x * 3

    def right_inverse(self, x):
        return x / 3


def test_register_parametrization_chain_cache_and_removal(rng):
    lin, other = _linear(rng, 4, 4), _linear(rng, 4, 4)
    w = lin.weight.numpy().copy()
    parametrize.register_parametrization(lin, "weight", Symmetric())
    parametrize.register_parametrization(lin, "weight", Scale())
    assert type(lin).__name__ == "ParametrizedLinear" and type(other) is nn.Linear
    assert parametrize.is_parametrized(lin, "weight") and not parametrize.is_parametrized(other)
    want = 3 * (np.triu(w) + np.triu(w, 1).T)
    np.testing.assert_allclose(lin.weight.numpy(), want, rtol=1e-12)
    with parametrize.cached():
        assert lin.weight is lin.weight  # computed once inside
    assert lin.weight is not lin.weight
    x = rng.standard_normal((2, 4))
    y = lin(dlcore.tensor(x))
    y.sum().backward()
    g = np.ones((2, 4)).T @ x  # dL/dW_effective
    np.testing.assert_allclose(lin.parametrizations.weight.original.grad.numpy(),
                               3 * (np.triu(g) + np.tril(g, -1).T), rtol=1e-12)
    parametrize.remove_parametrizations(lin, "weight")
    assert type(lin) is nn.Linear and list(lin.state_dict()) == ["bias", "weight"]  # torch's order too
    np.testing.assert_allclose(lin.weight.numpy(), want, rtol=1e-12)


def test_parametrization_errors(rng):
    lin = _linear(rng)

    class Shrink(nn.Module):
        def forward(self, x):
            return x[:1]

    with pytest.raises(ValueError, match="unsafe=True"):
        parametrize.register_parametrization(lin, "weight", Shrink())
    with pytest.raises(ValueError, match="no parameter or buffer 'nope'"):
        parametrize.register_parametrization(lin, "nope", Symmetric())
    with pytest.raises(TypeError, match="nn.Module"):
        parametrize.register_parametrization(lin, "weight", lambda x: x)
    with pytest.raises(ValueError, match="no parametrization"):
        parametrize.remove_parametrizations(lin, "weight")


def test_functional_call_swaps_for_one_call(rng):
    lin = _linear(rng)
    w = dlcore.tensor(rng.standard_normal((4, 5)), requires_grad=True)
    x = rng.standard_normal((3, 5))
    y = nn.utils.functional_call(lin, {"weight": w}, (dlcore.tensor(x),))
    np.testing.assert_allclose(y.numpy(), x @ w.numpy().T + lin.bias.numpy(), rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.ones((3, 4)).T @ x, rtol=1e-12)
    assert lin.weight.grad is None and isinstance(lin.weight, nn.Parameter)
    with pytest.raises(KeyError, match="no parameter or buffer"):
        nn.utils.functional_call(lin, {"wieght": w}, (dlcore.tensor(x),))
    with pytest.raises(KeyError, match="strict"):
        nn.utils.functional_call(lin, {"weight": w}, (dlcore.tensor(x),), strict=True)
    seq = nn.Sequential(nn.Linear(5, 2), nn.BatchNorm1d(2))
    mean = dlcore.tensor(np.array([5.0, -5.0], np.float32))
    seq.eval()
    nn.utils.functional_call(seq, {"1.running_mean": mean}, dlcore.randn(3, 5))
    assert not seq[1].running_mean.numpy().any()  # buffers swapped back too


def test_parameters_to_vector_and_back(rng):
    lin = _linear(rng)
    vec = nn.utils.parameters_to_vector(lin.parameters())
    np.testing.assert_array_equal(vec.numpy(), np.concatenate([lin.weight.numpy().ravel(), lin.bias.numpy()]))
    nn.utils.vector_to_parameters(vec * 2, lin.parameters())
    np.testing.assert_array_equal(nn.utils.parameters_to_vector(lin.parameters()).numpy(), 2 * vec.numpy())
    with pytest.raises(ValueError, match="23 elements, the parameters 24"):
        nn.utils.vector_to_parameters(dlcore.zeros(23, dtype=dlcore.float64), lin.parameters())


def _random_bn(rng, n, cls):
    bn = cls(n)
    bn.running_mean = dlcore.tensor(rng.standard_normal(n).astype(np.float32))
    bn.running_var = dlcore.tensor(rng.uniform(0.5, 2, n).astype(np.float32))
    bn.weight = nn.Parameter(rng.standard_normal(n).astype(np.float32))
    bn.bias = nn.Parameter(rng.standard_normal(n).astype(np.float32))
    return bn.eval()


@pytest.mark.parametrize("transpose", [False, True])
def test_fuse_conv_bn_eval_equals_conv_then_bn(rng, transpose):
    conv = (nn.ConvTranspose2d(3, 4, 3, stride=2) if transpose else nn.Conv2d(3, 4, 3, padding=1)).eval()
    bn = _random_bn(rng, 4, nn.BatchNorm2d)
    x = dlcore.tensor(rng.standard_normal((2, 3, 5, 5)).astype(np.float32))
    fused = nn.utils.fuse_conv_bn_eval(conv, bn, transpose=transpose)
    np.testing.assert_allclose(fused(x).numpy(), bn(conv(x)).numpy(), rtol=1e-4, atol=1e-5)
    lin, bn1 = nn.Linear(5, 4).eval(), _random_bn(rng, 4, nn.BatchNorm1d)
    x1 = dlcore.randn(3, 5)
    np.testing.assert_allclose(nn.utils.fuse_linear_bn_eval(lin, bn1)(x1).numpy(), bn1(lin(x1)).numpy(),
                               rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="evaluation only"):
        nn.utils.fuse_conv_bn_eval(conv.train(), bn)


# ---- orthogonal ------------------------------------------------------------------------------------------
def _positive_qr(m):
    q, r = np.linalg.qr(m)
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


def _assert_orthonormal(w):
    small = w @ w.swapaxes(-1, -2) if w.shape[-2] <= w.shape[-1] else w.swapaxes(-1, -2) @ w
    np.testing.assert_allclose(small, np.broadcast_to(np.eye(small.shape[-1]), small.shape), atol=1e-12)


@pytest.mark.parametrize("shape,omap", [((5, 5), None), ((5, 5), "cayley"), ((7, 3), None), ((3, 7), None),
                                        ((7, 3), "matrix_exp"), ((3, 7), "cayley"), ((4, 4), "householder")])
def test_orthogonal_starts_at_the_weight_and_stays_orthogonal(rng, shape, omap):
    # the trivialization's base is the weight made orthogonal (Q of QR, R's diagonal > 0); the parameter
    # starts at -I (householder: its diagonal signs the columns) or anything the maps send to the base
    lin = _linear(rng, shape[1], shape[0])
    w0 = lin.weight.numpy().copy()
    parametrizations.orthogonal(lin, orthogonal_map=omap)
    tall = w0 if shape[0] >= shape[1] else w0.T
    if shape[0] == shape[1]:
        np.testing.assert_allclose(lin.weight.numpy(), _positive_qr(w0), atol=1e-12)
    else:  # the first k columns of the completed base: the weight's own QR
        got = lin.weight.numpy() if shape[0] >= shape[1] else lin.weight.numpy().T
        np.testing.assert_allclose(got, _positive_qr(tall), atol=1e-12)
    opt = dlcore.optim.SGD(lin.parameters(), lr=0.1)
    x, target = dlcore.tensor(rng.standard_normal((8, shape[1]))), dlcore.tensor(rng.standard_normal((8, shape[0])))
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = ((lin(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    _assert_orthonormal(lin.weight.numpy())


def test_orthogonal_without_trivialization_and_assignment(rng):
    lin = _linear(rng, 3, 6)
    w0 = lin.weight.numpy().copy()
    parametrizations.orthogonal(lin, orthogonal_map="householder", use_trivialization=False)
    np.testing.assert_allclose(lin.weight.numpy(), _positive_qr(w0), atol=1e-12)  # from geqrf's reflectors
    batch = nn.Module()
    batch.weight = nn.Parameter(rng.standard_normal((2, 4, 4)))
    parametrizations.orthogonal(batch)
    _assert_orthonormal(batch.weight.numpy())
    q = _positive_qr(rng.standard_normal((2, 4, 4)))
    batch.weight = dlcore.tensor(q)  # an orthogonal value is kept as it is
    np.testing.assert_allclose(batch.weight.numpy(), q, atol=1e-12)
    with pytest.raises(NotImplementedError, match="use_trivialization"):  # as torch: no inverse to start from
        parametrizations.orthogonal(_linear(rng, 4, 4), use_trivialization=False)
    with pytest.raises(ValueError, match="orthogonal_map"):
        parametrizations.orthogonal(_linear(rng), orthogonal_map="qr")
    with pytest.raises(ValueError, match="matrix"):
        parametrizations.orthogonal(_linear(rng), "bias")


def test_householder_product_is_geqrf_q(rng):
    m = rng.standard_normal((6, 4))
    raw, tau = np.linalg.qr(m, mode="raw")  # LAPACK geqrf, transposed
    got = dlcore.linalg.householder_product(dlcore.tensor(raw.T.copy()), dlcore.tensor(tau)).numpy()
    np.testing.assert_allclose(np.abs(got), np.abs(np.linalg.qr(m)[0]), atol=1e-12)
    np.testing.assert_allclose(got.T @ got, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(got @ np.triu(raw.T[:4]), m, atol=1e-12)  # Q R = M
    a, t = rng.standard_normal((2, 5, 3)), rng.uniform(0.5, 1.5, (2, 3))
    assert dlcore.autograd.gradcheck(dlcore.linalg.householder_product,
                                     [dlcore.tensor(a, requires_grad=True), dlcore.tensor(t, requires_grad=True)])
    with pytest.raises(ValueError, match="n >= k"):
        dlcore.linalg.householder_product(dlcore.tensor(a.swapaxes(-1, -2)), dlcore.tensor(t))
