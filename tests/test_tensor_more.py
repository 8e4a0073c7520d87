"""The Tensor methods of _tensor_more.py: values against float64 NumPy references, gradients by finite
differences (float64), torch's rules at the special points (ties, NaN, 0 * log 0, sinc at 0) as torch 2.14 gives
them, and the in-place forms."""
import math

import numpy as np
import pytest

import dlcore
from dlcore.autograd import gradcheck


def _t(a, grad=True):
    return dlcore.tensor(np.asarray(a, np.float64), requires_grad=grad)


@pytest.fixture
def x(rng):
    return rng.standard_normal((3, 4))


@pytest.fixture
def y(rng):
    return rng.standard_normal((3, 4))


_SIGMOID = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731

# name: (method call, NumPy reference, input maker from a standard normal array)
UNARY = {
    "asinh": (lambda t: t.asinh(), np.arcsinh, lambda v: 30 * v),
    "acosh": (lambda t: t.acosh(), np.arccosh, lambda v: np.abs(v) + 1.2),
    "atanh": (lambda t: t.atanh(), np.arctanh, np.tanh),
    "erfc": (lambda t: t.erfc(), lambda v: 1 - np.vectorize(math.erf)(v), lambda v: v),
    "deg2rad": (lambda t: t.deg2rad(), np.deg2rad, lambda v: v),
    "rad2deg": (lambda t: t.rad2deg(), np.rad2deg, lambda v: v),
    "logit": (lambda t: t.logit(), lambda v: np.log(v / (1 - v)), _SIGMOID),
    "logit_eps": (lambda t: t.logit(eps=0.2), lambda v: np.log(np.clip(v, .2, .8) / (1 - np.clip(v, .2, .8))),
                  _SIGMOID),
    "sinc": (lambda t: t.sinc(), np.sinc, lambda v: v),
    "nansum": (lambda t: t.nansum(1), lambda v: np.nansum(v, 1), lambda v: v),
    "nanmean": (lambda t: t.nanmean(0, keepdim=True), lambda v: np.nanmean(v, 0, keepdims=True), lambda v: v),
    "float_power": (lambda t: t.float_power(3), lambda v: v ** 3, lambda v: v),
    "rot90": (lambda t: t.rot90(), np.rot90, lambda v: v),
    "rot90_k3": (lambda t: t.rot90(3, (1, 0)), lambda v: np.rot90(v, 3, (1, 0)), lambda v: v),
    "rot90_k2": (lambda t: t.rot90(2), lambda v: np.rot90(v, 2), lambda v: v),
    "fliplr": (lambda t: t.fliplr(), np.fliplr, lambda v: v),
    "flipud": (lambda t: t.flipud(), np.flipud, lambda v: v),
    "ravel": (lambda t: t.ravel(), np.ravel, lambda v: v),
    "unflatten": (lambda t: t.unflatten(1, (2, -1)), lambda v: v.reshape(3, 2, 2), lambda v: v),
    "msort": (lambda t: t.msort(), lambda v: np.sort(v, 0), lambda v: v),
    "select": (lambda t: t.select(1, -1), lambda v: v[:, -1], lambda v: v),
    "logsumexp": (lambda t: t.logsumexp(1), lambda v: np.log(np.exp(v).sum(1)), lambda v: v),
    "moveaxis": (lambda t: t.moveaxis(0, 1), lambda v: np.moveaxis(v, 0, 1), lambda v: v),
}


@pytest.mark.parametrize("name", UNARY)
def test_unary_values_and_gradients(name, x):
    call, reference, make = UNARY[name]
    data = make(x)
    data[1, 1] = 0.0 if name in ("sinc", "asinh", "deg2rad") else data[1, 1]  # the special point
    np.testing.assert_allclose(call(_t(data, False)).numpy(), reference(data), rtol=1e-12, atol=1e-14)
    assert gradcheck(call, (_t(data),))


BINARY = {
    "logaddexp2": (lambda a, b: a.logaddexp2(b), np.logaddexp2),
    "fmax": (lambda a, b: a.fmax(b), np.fmax),
    "fmin": (lambda a, b: a.fmin(b), np.fmin),
    "xlogy": (lambda a, b: a.xlogy(b.abs() + 0.1), lambda a, b: a * np.log(np.abs(b) + 0.1)),
    "dist": (lambda a, b: a.dist(b, 3), lambda a, b: (np.abs(a - b) ** 3).sum() ** (1 / 3)),
    "addcmul": (lambda a, b: a.addcmul(b, a, value=0.5), lambda a, b: a + 0.5 * b * a),
    "addcdiv": (lambda a, b: a.addcdiv(a, b.abs() + 1, value=2), lambda a, b: a + 2 * a / (np.abs(b) + 1)),
    "where": (lambda a, b: a.where(a > b, b * 2), lambda a, b: np.where(a > b, a, 2 * b)),
    "subtract": (lambda a, b: a.subtract(b), np.subtract),
    "multiply": (lambda a, b: a.multiply(b), np.multiply),
    "divide": (lambda a, b: a.divide(b.abs() + 1), lambda a, b: a / (np.abs(b) + 1)),
}


@pytest.mark.parametrize("name", BINARY)
def test_binary_values_and_gradients(name, x, y):
    call, reference = BINARY[name]
    np.testing.assert_allclose(call(_t(x, False), _t(y, False)).numpy(), reference(x, y), rtol=1e-12)
    assert gradcheck(call, (_t(x), _t(y)))


def test_copysign_values_and_torchs_gradient():
    a, b = _t([1.5, -2.0, 0.0, 3.0]), _t([-1.0, -0.0, -2.0, 0.0])
    out = a.copysign(b)
    np.testing.assert_array_equal(out.numpy(), np.copysign(a.numpy(), b.numpy()))
    out.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [-1.0, 1.0, 0.0, 1.0])  # 0 where self is 0, as torch
    assert b.grad is None or not b.grad.numpy().any()


def test_special_points_follow_torch():
    x, y = _t([0.0, 0.0, 1.0]), _t([0.0, 2.0, 2.0])
    out = x.xlogy(y)
    np.testing.assert_array_equal(out.numpy(), [0.0, 0.0, math.log(2)])
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, math.log(2), math.log(2)])  # torch 2.14's
    s = _t([0.0, 0.5])
    s.sinc().sum().backward()
    assert s.grad.numpy()[0] == 0.0
    a, b = _t([1.0, 2.0, np.nan, np.nan]), _t([1.0, np.nan, 1.0, np.nan])
    m = a.fmax(b)
    np.testing.assert_array_equal(m.numpy(), [1.0, 2.0, 1.0, np.nan])
    m.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 1.0, 1.0, 1.0])  # torch 2.14: NaN passes to both sides
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 1.0, 1.0, 1.0])
    a = _t([0.0])
    a.asinh().backward()
    assert a.grad.item() == 1.0


def test_matrix_vector_products(rng):
    m, v, u, c = (rng.standard_normal(s) for s in ((3, 4), (4,), (3,), (3, 4)))
    np.testing.assert_allclose(_t(m).mv(_t(v)).detach().numpy(), m @ v, rtol=1e-12)
    f = lambda c, m, v: c.addmv(m, v, beta=0.5, alpha=2)  # noqa: E731
    np.testing.assert_allclose(f(_t(u), _t(m), _t(v)).detach().numpy(), 0.5 * u + 2 * m @ v, rtol=1e-12)
    assert gradcheck(f, (_t(u), _t(m), _t(v)))
    g = lambda c, p, q: c.addr(p, q, beta=0.5, alpha=2)  # noqa: E731
    np.testing.assert_allclose(g(_t(c), _t(u), _t(v)).detach().numpy(), 0.5 * c + 2 * np.outer(u, v), rtol=1e-12)
    assert gradcheck(g, (_t(c), _t(u), _t(v)))


def test_masked_scatter_and_take_along_dim(rng, x):
    mask = rng.random((3, 4)) > 0.5
    source = rng.standard_normal(12)
    expected = x.copy()
    expected[mask] = source[:mask.sum()]
    f = lambda a, s: a.masked_scatter(dlcore.tensor(mask), s)  # noqa: E731
    np.testing.assert_array_equal(f(_t(x), _t(source)).detach().numpy(), expected)
    assert gradcheck(f, (_t(x), _t(source)))
    row_mask = np.array([True, False, True, False])  # broadcast along the rows
    expected = x.copy()
    expected[:, row_mask] = source[:6].reshape(3, 2)
    np.testing.assert_array_equal(_t(x).masked_scatter(dlcore.tensor(row_mask), _t(source)).detach().numpy(),
                                  expected)
    with pytest.raises(RuntimeError, match="source has only"):
        _t(x).masked_scatter(dlcore.tensor(np.ones((3, 4), bool)), _t(source[:5]))
    idx = rng.integers(0, 4, (3, 2))
    np.testing.assert_array_equal(_t(x).take_along_dim(dlcore.tensor(idx), 1).detach().numpy(),
                                  np.take_along_axis(x, idx, 1))
    assert gradcheck(lambda a: a.take_along_dim(dlcore.tensor(idx), 1), (_t(x),))
    flat = rng.integers(0, 12, 5)
    np.testing.assert_array_equal(_t(x).take_along_dim(dlcore.tensor(flat)).detach().numpy(), x.ravel()[flat])
    row = rng.integers(0, 3, (1, 4))  # broadcast over the other dim
    np.testing.assert_array_equal(_t(x).take_along_dim(dlcore.tensor(row), 0).detach().numpy(),
                                  np.take_along_axis(x, row, 0))


def test_inplace_forms_write_storage_and_keep_the_graph(x):
    a = _t(x)
    b = a * 2
    b.exp_()
    assert b._version[0] == 1
    np.testing.assert_allclose(b.detach().numpy(), np.exp(2 * x), rtol=1e-15)
    b.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), 2 * np.exp(2 * x), rtol=1e-14)
    c = _t(x, False)
    storage = c.numpy()
    assert c.sigmoid_() is c and np.shares_memory(storage, c.numpy())
    np.testing.assert_allclose(storage, _SIGMOID(x), rtol=1e-15)
    d = _t(np.abs(x), False)
    d.addcmul_(d, d, value=2).sqrt_()
    np.testing.assert_allclose(d.numpy(), np.sqrt(np.abs(x) + 2 * x * x), rtol=1e-14)
    with pytest.raises(RuntimeError, match="leaf"):
        _t(x).abs_()
    with pytest.raises(RuntimeError, match="can't be cast"):
        dlcore.tensor([1, 4]).sqrt_()


def test_metadata_aliases_and_comparisons(x):
    t = dlcore.tensor(x.astype(np.float32))
    assert (t.nbytes, t.itemsize, t.ndimension(), t.get_device(), t.is_cpu) == (48, 4, 2, -1, True)
    assert t.is_signed() and not dlcore.tensor(np.uint8(3)).is_signed() and not t.is_complex()
    assert dlcore.tensor([2.0]).is_nonzero() and not t.is_pinned() and t.pin_memory() is t
    assert t.is_same_size(t * 2) and t.data_ptr() == t.numpy().__array_interface__["data"][0]
    assert t.new(2, 3).shape == (2, 3) and t.new([1, 2]).dtype == np.float32 and t.new_empty(4).shape == (4,)
    r = _t(x)
    r.retain_grad()
    assert r.retains_grad
    assert t.equal(t.clone()) and not t.equal(t + 1) and not t.equal(t[:1])
    assert t.allclose(t + 1e-9) and not t.allclose(t + 1e-3)
    np.testing.assert_array_equal(t.isclose(t + 1e-3, atol=1e-2).numpy(), np.ones((3, 4), bool))
    lo, hi = t.aminmax(dim=1)
    np.testing.assert_array_equal(lo.numpy(), x.astype(np.float32).min(1))
    np.testing.assert_array_equal(hi.numpy(), x.astype(np.float32).max(1))
    assert [tuple(p.shape) for p in t.hsplit(2)] == [(3, 2), (3, 2)]
    assert [tuple(p.shape) for p in t.vsplit([1])] == [(1, 4), (2, 4)]
    assert [tuple(p.shape) for p in t.reshape(1, 3, 4).dsplit(4)] == [(1, 3, 1)] * 4
    np.testing.assert_array_equal(t.greater(0).numpy(), x.astype(np.float32) > 0)
    np.testing.assert_array_equal(t.divide(0.3, rounding_mode="floor").numpy(),
                                  np.floor(x.astype(np.float32) / np.float32(0.3)))
    np.testing.assert_array_equal(dlcore.tensor([7, -7]).divide(2, rounding_mode="trunc").numpy(), [3, -3])
    assert t.broadcast_to(2, 3, 4).shape == (2, 3, 4) and t.positive() is t


def test_function_forms_call_the_methods(x, y):
    a, b = _t(x, False), _t(y, False)
    np.testing.assert_array_equal(dlcore.fmax(a, b).numpy(), np.fmax(x, y))
    np.testing.assert_array_equal(dlcore.rot90(a, 1, (0, 1)).numpy(), np.rot90(x))
    np.testing.assert_allclose(dlcore.addcmul(a, a, b, value=3).numpy(), x + 3 * x * y, rtol=1e-15)
    np.testing.assert_allclose(dlcore.nansum(a).item(), x.sum(), rtol=1e-14)
    assert dlcore.aminmax(a).max.item() == x.max()
    assert "xlogy" in dlcore.__all__ and "take_along_dim" in dlcore.__all__


@pytest.fixture
def matrices(rng):
    return rng.standard_normal((2, 4, 4)) + 3 * np.eye(4)


LINALG = {
    "inverse": (lambda t: t.inverse(), np.linalg.inv),
    "det": (lambda t: t.det(), np.linalg.det),
    "logdet": (lambda t: t.logdet(), lambda a: np.log(np.linalg.det(a))),
    "slogdet": (lambda t: t.slogdet().logabsdet, lambda a: np.linalg.slogdet(a)[1]),
    "matrix_power_5": (lambda t: t.matrix_power(5), lambda a: np.linalg.matrix_power(a, 5)),
    "matrix_power_-2": (lambda t: t.matrix_power(-2), lambda a: np.linalg.matrix_power(a, -2)),
}


@pytest.mark.parametrize("name", LINALG)
def test_linear_algebra_values_and_gradients(name, matrices):
    call, reference = LINALG[name]
    a = matrices / 3 if name == "matrix_power_5" else matrices
    np.testing.assert_allclose(call(_t(a, False)).numpy(), reference(a), rtol=1e-11)
    assert gradcheck(call, (_t(a),))


def test_linear_algebra_special_cases(matrices):
    np.testing.assert_array_equal(_t(matrices, False).matrix_power(0).numpy(), np.broadcast_to(np.eye(4), (2, 4, 4)))
    flipped = matrices.copy()
    flipped[0, [0, 1]] = flipped[0, [1, 0]]  # one row swap: negative determinant
    sign, logabs = _t(flipped, False).slogdet()
    np.testing.assert_array_equal(sign.numpy(), np.linalg.slogdet(flipped)[0])
    assert np.isnan(_t(flipped, False).logdet().numpy()[0]) and np.isfinite(_t(flipped, False).logdet().numpy()[1])
    with pytest.raises(RuntimeError, match="square"):
        _t(np.ones((2, 3))).inverse()


QUANTILE_CASES = [(0.3, None, False), ([0.1, 0.5, 0.875], 1, False), ([0.25, 0.6], 0, True), (0.5, 1, True)]


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_as_numpy(interpolation, x):
    for q, dim, keepdim in QUANTILE_CASES:
        qt = dlcore.tensor(np.asarray(q, np.float64))
        got = _t(x, False).quantile(qt, dim=dim, keepdim=keepdim, interpolation=interpolation)
        want = np.quantile(x, q, axis=dim, keepdims=keepdim, method=interpolation)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-13, err_msg=f"{q} {dim} {keepdim}")
    assert gradcheck(lambda a: a.quantile(dlcore.tensor([0.1, 0.875], dtype=np.float64), 1,
                                          interpolation=interpolation), (_t(x),))


def test_kthvalue_cov_corrcoef_renorm_histc(rng, x):
    values, indices = _t(x, False).kthvalue(2, dim=1)
    np.testing.assert_array_equal(values.numpy(), np.sort(x, 1)[:, 1])
    np.testing.assert_array_equal(indices.numpy(), np.argsort(x, 1)[:, 1])
    assert gradcheck(lambda a: a.kthvalue(3, 0, keepdim=True).values, (_t(x),))
    np.testing.assert_allclose(_t(x, False).cov().numpy(), np.cov(x), rtol=1e-13)
    np.testing.assert_allclose(_t(x, False).cov(correction=0).numpy(), np.cov(x, ddof=0), rtol=1e-13)
    np.testing.assert_allclose(_t(x, False).corrcoef().numpy(), np.corrcoef(x), rtol=1e-13)
    assert gradcheck(lambda a: a.cov() + a.corrcoef(), (_t(x),))
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    expected = np.where(norms > 1.5, x * 1.5 / (norms + 1e-7), x)
    np.testing.assert_allclose(_t(x, False).renorm(2, 0, 1.5).numpy(), expected, rtol=1e-13)
    assert gradcheck(lambda a: a.renorm(2, 0, 1.5), (_t(x),))
    data = rng.standard_normal(50).astype(np.float32)
    np.testing.assert_array_equal(dlcore.tensor(data).histc(7).numpy(),
                                  np.histogram(data, 7, (data.min(), data.max()))[0])
    np.testing.assert_array_equal(dlcore.tensor(data).histc(4, -1, 1).numpy(), np.histogram(data, 4, (-1, 1))[0])


def test_dtype_names_and_random_draws():
    t = dlcore.tensor([1.5, 2.0])
    assert t.type() == "torch.FloatTensor" and t.double().type() == "torch.DoubleTensor"
    assert t.type("torch.LongTensor").dtype == np.int64 and t.type(np.float64).dtype == np.float64
    assert (t.byte().dtype, t.char().dtype, t.short().dtype) == (np.uint8, np.int8, np.int16)
    dlcore.manual_seed(0)
    probs = dlcore.tensor(np.linspace(0, 1, 2000))
    draws = probs.bernoulli()
    assert draws.dtype == probs.dtype and set(np.unique(draws.numpy())) <= {0.0, 1.0}
    assert draws.numpy()[0] == 0 and draws.numpy()[-1] == 1 and abs(draws.numpy().mean() - 0.5) < 0.05
    weights = dlcore.tensor([[0.0, 1.0, 3.0], [2.0, 0.0, 0.0]])
    picks = weights.multinomial(2000, replacement=True)
    assert picks.shape == (2, 2000) and picks.dtype == np.int64
    assert set(picks.numpy()[1]) == {0} and abs((picks.numpy()[0] == 2).mean() - 0.75) < 0.05
    distinct = weights[0].multinomial(2)
    assert sorted(distinct.tolist()) == [1, 2]
    with pytest.raises(RuntimeError, match="without replacement"):
        weights.multinomial(3)


def test_function_forms_of_the_statistics_and_linear_algebra(matrices, x):
    np.testing.assert_allclose(dlcore.det(_t(matrices, False)).numpy(), np.linalg.det(matrices), rtol=1e-12)
    np.testing.assert_allclose(dlcore.quantile(_t(x, False), 0.5).item(), np.median(x), rtol=1e-14)
    np.testing.assert_allclose(dlcore.cov(_t(x, False)).numpy(), np.cov(x), rtol=1e-13)


def test_bitwise_and_integer_ops(rng):
    i, j = rng.integers(-20, 20, (3, 5)), rng.integers(1, 5, (3, 5))
    a, b = dlcore.tensor(i), dlcore.tensor(j)
    for name, ref in [("bitwise_and", np.bitwise_and), ("bitwise_or", np.bitwise_or), ("bitwise_xor", np.bitwise_xor),
                      ("gcd", np.gcd), ("lcm", np.lcm), ("bitwise_left_shift", np.left_shift),
                      ("bitwise_right_shift", np.right_shift)]:
        np.testing.assert_array_equal(getattr(a, name)(b).numpy(), ref(i, j), err_msg=name)
    np.testing.assert_array_equal(a.bitwise_not().numpy(), ~i)
    a.bitwise_xor_(b)
    np.testing.assert_array_equal(a.numpy(), i ^ j)
    with pytest.raises(RuntimeError, match="integer"):
        dlcore.tensor([1.0]).bitwise_and(dlcore.tensor([1.0]))


def test_elementwise_tests_and_steps():
    x = dlcore.tensor([-np.inf, -0.0, 0.0, 2.0, np.nan, np.inf], dtype=np.float64)
    np.testing.assert_array_equal(x.signbit().numpy(), [True, True, False, False, False, False])
    np.testing.assert_array_equal(x.isneginf().numpy(), [True, False, False, False, False, False])
    np.testing.assert_array_equal(x.isposinf().numpy(), [False] * 5 + [True])
    assert x.isreal().numpy().all()
    # torch's heaviside: NaN gives 0 (numpy's gives NaN)
    np.testing.assert_array_equal(x.heaviside(dlcore.tensor(0.5, dtype=np.float64)).numpy(), [0, .5, .5, 1, 0, 1])
    np.testing.assert_array_equal(x.nextafter(dlcore.tensor(np.zeros(6))).numpy()[3], np.nextafter(2.0, 0.0))
    m = _t([1.5, -2.0])
    out = m.ldexp(dlcore.tensor([3, -1]))
    np.testing.assert_array_equal(out.detach().numpy(), [12.0, -1.0])
    out.sum().backward()
    np.testing.assert_array_equal(m.grad.numpy(), [8.0, 0.5])


def test_sums_splits_logcumsumexp_and_nanmedian(rng, x):
    np.testing.assert_allclose(_t(x, False).sum_to_size(1, 4).numpy(), x.sum(0, keepdims=True), rtol=1e-14)
    np.testing.assert_allclose(_t(x, False).sum_to_size((3, 1)).numpy(), x.sum(1, keepdims=True), rtol=1e-14)
    assert gradcheck(lambda a: a.sum_to_size(4), (_t(x),))
    assert [tuple(p.shape) for p in _t(x).split_with_sizes([1, 3], dim=1)] == [(3, 1), (3, 3)]
    np.testing.assert_array_equal(_t(x, False).narrow_copy(1, 1, 2).numpy(), x[:, 1:3])
    big = 80 * x  # exp overflows without the shift
    np.testing.assert_allclose(_t(big, False).logcumsumexp(1).numpy(), np.logaddexp.accumulate(big, axis=1),
                               rtol=1e-13)
    assert gradcheck(lambda a: a.logcumsumexp(0), (_t(x),))
    nans = x.copy()
    nans[0, 1], nans[2, :] = np.nan, np.nan
    got = _t(nans, False).nanmedian(dim=1)
    lower_median = [np.sort(r[~np.isnan(r)])[(np.sum(~np.isnan(r)) - 1) // 2] if (~np.isnan(r)).any() else np.nan
                    for r in nans]
    np.testing.assert_array_equal(got.values.numpy(), lower_median)
    np.testing.assert_array_equal(nans[[0, 1], got.indices.numpy()[:2]], lower_median[:2])
    flat = nans.ravel()[~np.isnan(nans.ravel())]
    assert _t(nans, False).nanmedian().item() == np.sort(flat)[(flat.size - 1) // 2]


def test_index_put_put_and_fill_diagonal(rng):
    z, v = rng.standard_normal((4, 3, 2)), rng.standard_normal((3, 2))
    rows, cols = np.array([0, 2, 0]), np.array([1, 1, 1])
    expected = z.copy()
    np.add.at(expected, (rows, cols), v)
    f = lambda a, b: a.index_put((dlcore.tensor(rows), dlcore.tensor(cols)), b, accumulate=True)  # noqa: E731
    np.testing.assert_allclose(f(_t(z, False), _t(v, False)).numpy(), expected, rtol=1e-15)
    assert gradcheck(f, (_t(z), _t(v)))
    written = _t(z, False).index_put((dlcore.tensor([3, 1]),), dlcore.tensor(7.0, dtype=np.float64))
    expected = z.copy()
    expected[[3, 1]] = 7.0
    np.testing.assert_array_equal(written.numpy(), expected)
    expected = z.copy().ravel()
    expected[[0, 5, 23]] = [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(_t(z, False).put(dlcore.tensor([0, 5, 23]), [1.0, 2.0, 3.0]).numpy(),
                                  expected.reshape(z.shape))
    tall = np.zeros((7, 3))
    expected = tall.copy()
    np.fill_diagonal(expected, 2.0, wrap=True)
    np.testing.assert_array_equal(_t(tall, False).fill_diagonal_(2.0, wrap=True).numpy(), expected)


def test_random_fills_draw_in_place():
    dlcore.manual_seed(0)
    t = dlcore.zeros(4000, dtype=np.float64)
    storage = t.numpy()
    assert t.exponential_(2.0) is t and np.shares_memory(storage, t.numpy())
    assert abs(t.numpy().mean() - 0.5) < 0.05 and t.numpy().min() >= 0
    t.random_(3, 7)
    assert set(np.unique(t.numpy())) == {3.0, 4.0, 5.0, 6.0}
    t.geometric_(0.5)
    assert t.numpy().min() >= 1 and abs(t.numpy().mean() - 2) < 0.2
    t.bernoulli_(0.25)
    assert set(np.unique(t.numpy())) == {0.0, 1.0} and abs(t.numpy().mean() - 0.25) < 0.05
    t.log_normal_(0.0, 0.5)
    assert abs(np.log(t.numpy()).std() - 0.5) < 0.05
    assert np.isfinite(t.cauchy_().numpy()).all() and t._version[0] == 6
    with pytest.raises(RuntimeError, match="leaf"):
        dlcore.zeros(2, requires_grad=True).exponential_()


def test_transposes_and_real_valued_complex_api(rng):
    b = _t(rng.standard_normal((5, 3, 2)), False)
    np.testing.assert_array_equal(b.mT.numpy(), np.swapaxes(b.numpy(), -1, -2))
    assert b.mH.shape == (5, 2, 3) and b.adjoint().shape == (5, 2, 3) and b[0].H.shape == (2, 3)
    assert b.conj() is b and b.real is b and not (b.is_conj() or b.is_neg() or b.is_sparse or b.is_quantized)
    assert b.conj_physical() is not b and b.resolve_conj() is b


def test_addbmm_floor_divide_diagflat(rng, x):
    b1, b2 = rng.standard_normal((5, 3, 2)), rng.standard_normal((5, 2, 4))
    f = lambda c, p, q: c.addbmm(p, q, beta=0.5, alpha=2)  # noqa: E731
    np.testing.assert_allclose(f(_t(x), _t(b1), _t(b2)).detach().numpy(),
                               0.5 * x + 2 * np.einsum("bij,bjk->ik", b1, b2), rtol=1e-12)
    assert gradcheck(f, (_t(x), _t(b1), _t(b2)))
    np.testing.assert_array_equal(_t(x, False).floor_divide(0.3).numpy(), np.floor_divide(x, 0.3))
    np.testing.assert_array_equal(_t(x[:2, :2], False).diagflat(1).numpy(), np.diagflat(x[:2, :2], 1))


def test_unfold_windows_and_their_gradient(rng, x):
    b = rng.standard_normal((5, 3, 2))
    got = _t(b, False).unfold(0, 3, 2)
    windows = np.stack([b[0:3], b[2:5]])  # (count, 3, 3, 2) then the window dimension last
    np.testing.assert_array_equal(got.numpy(), np.moveaxis(windows, 1, -1))
    assert gradcheck(lambda a: a.unfold(1, 2, 1), (_t(x),))  # overlapping windows: gradients add up
    with pytest.raises(RuntimeError, match="size"):
        _t(x).unfold(1, 5, 1)


def test_scatters_into_slices(rng, x):
    expected = x.copy()
    expected[:, 2] = 1.0
    np.testing.assert_array_equal(_t(x, False).select_scatter(_t(np.ones(3), False), 1, 2).numpy(), expected)
    expected = x.copy()
    expected[:, 0:4:2] = 1.0
    np.testing.assert_array_equal(_t(x, False).slice_scatter(_t(np.ones((3, 2)), False), 1, 0, 4, 2).numpy(),
                                  expected)
    expected = x.copy()
    expected[[0, 1, 2], [1, 2, 3]] = [7.0, 8.0, 9.0]
    np.testing.assert_array_equal(_t(x, False).diagonal_scatter(_t([7.0, 8.0, 9.0], False), 1).numpy(), expected)
    b = rng.standard_normal((5, 3, 2))
    src = rng.standard_normal((2, 3))
    got = _t(b, False).diagonal_scatter(_t(src, False), 0, 0, 1)
    np.testing.assert_array_equal(np.diagonal(got.numpy(), 0, 0, 1), src)
    assert gradcheck(lambda a, s: a.diagonal_scatter(s, 1), (_t(x), _t(rng.standard_normal(3))))
    assert gradcheck(lambda a, s: a.slice_scatter(s, 1, 1, 3), (_t(x), _t(rng.standard_normal((3, 2)))))


def test_runs_mode_frexp_histogram(rng, x):
    values, inverse, counts = dlcore.tensor([1, 1, 2, 2, 2, 3, 1, 1]).unique_consecutive(return_inverse=True,
                                                                                        return_counts=True)
    assert values.tolist() == [1, 2, 3, 1] and counts.tolist() == [2, 3, 1, 2]
    assert inverse.tolist() == [0, 0, 1, 1, 1, 2, 3, 3]
    m = np.array([[2.0, 1.0, 2.0, 1.0, 0.0], [3.0, 3.0, 0.0, 0.0, 3.0]])
    mode = _t(m).mode(1)
    np.testing.assert_array_equal(mode.values.detach().numpy(), [1.0, 3.0])  # a tie: the smaller value
    np.testing.assert_array_equal(mode.indices.numpy(), [3, 4])  # the last occurrence
    source = _t(m)
    source.mode(1).values.sum().backward()  # (ties: no finite-difference check) the returned element gets it
    np.testing.assert_array_equal(source.grad.numpy(), [[0, 0, 0, 1, 0], [0, 0, 0, 0, 1]])
    mantissa, exponent = _t(x, False).frexp()
    np.testing.assert_array_equal(mantissa.numpy() * 2.0 ** exponent.numpy(), x)
    hist, edges = _t(x, False).histogram(5)
    ref_hist, ref_edges = np.histogram(x, 5)
    np.testing.assert_array_equal(hist.numpy(), ref_hist)
    np.testing.assert_allclose(edges.numpy(), ref_edges, rtol=1e-15)


def test_in_place_shape_changes_continue_the_graph():
    a = dlcore.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    x = a * 2
    assert x.t_() is x and x.shape == (3, 2)
    x.unsqueeze_(0).transpose_(1, 2).squeeze_(0)
    assert x.shape == (2, 3)
    (x * dlcore.tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), 2 * np.arange(6.0).reshape(2, 3))
    with pytest.raises(RuntimeError, match="leaf"):
        a.t_()
    r = dlcore.arange(6.0)
    r.resize_(2, 2)
    np.testing.assert_array_equal(r.numpy(), [[0, 1], [2, 3]])
    r.resize_as_(dlcore.zeros(5))
    np.testing.assert_array_equal(r.numpy(), [0, 1, 2, 3, 0])
