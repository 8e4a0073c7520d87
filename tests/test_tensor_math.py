"""torch's tensor math beyond the core (_tensor_math.py, ops/math_more.py): values against NumPy in float64,
finite-difference gradients, torch's conventions (rounding has zero gradient, ties share amax's gradient,
prod's gradient at zeros), the dlcore.<name> functions, and bad arguments."""
import numpy as np
import pytest

import dlcore
from dlcore.autograd import gradcheck


def _t(a, grad=True):
    return dlcore.tensor(np.asarray(a, np.float64), requires_grad=grad)


UNARY = {  # name: (NumPy reference, input sampler)
    "sin": (np.sin, lambda r: r.uniform(-4, 4, (3, 5))),
    "cos": (np.cos, lambda r: r.uniform(-4, 4, (3, 5))),
    "tan": (np.tan, lambda r: r.uniform(-1.2, 1.2, (3, 5))),
    "asin": (np.arcsin, lambda r: r.uniform(-0.9, 0.9, (3, 5))),
    "acos": (np.arccos, lambda r: r.uniform(-0.9, 0.9, (3, 5))),
    "atan": (np.arctan, lambda r: r.uniform(-4, 4, (3, 5))),
    "sinh": (np.sinh, lambda r: r.uniform(-3, 3, (3, 5))),
    "cosh": (np.cosh, lambda r: r.uniform(-3, 3, (3, 5))),
    "log1p": (np.log1p, lambda r: r.uniform(-0.9, 4, (3, 5))),
    "expm1": (np.expm1, lambda r: r.uniform(-3, 3, (3, 5))),
    "log2": (np.log2, lambda r: r.uniform(0.1, 4, (3, 5))),
    "log10": (np.log10, lambda r: r.uniform(0.1, 4, (3, 5))),
    "exp2": (np.exp2, lambda r: r.uniform(-3, 3, (3, 5))),
    "rsqrt": (lambda x: 1 / np.sqrt(x), lambda r: r.uniform(0.2, 4, (3, 5))),
    "reciprocal": (lambda x: 1 / x, lambda r: r.uniform(0.2, 4, (3, 5)) * r.choice([-1, 1], (3, 5))),
    "erf": (None, lambda r: r.uniform(-3, 3, (3, 5))),
    "square": (np.square, lambda r: r.uniform(-3, 3, (3, 5))),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_elementwise_values_gradients_and_functions(name, rng):
    ref, sample = UNARY[name]
    x = sample(rng)
    if ref is None:  # erf: against math.erf
        import math

        ref = np.vectorize(math.erf)
    got = getattr(_t(x, False), name)().numpy()
    np.testing.assert_allclose(got, ref(x), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(getattr(dlcore, name)(_t(x, False)).numpy(), got)
    gradcheck(lambda a: getattr(a, name)(), [_t(x)])
    y32 = getattr(dlcore.tensor(x.astype(np.float32)), name)()
    assert y32.dtype == np.float32


def test_rounding_has_zero_gradient_and_tests_for_nan(rng):
    x = _t(rng.uniform(-5, 5, (4, 3)) + np.array([0.5, 1.5, 2.25]))
    for name, ref in (("floor", np.floor), ("ceil", np.ceil), ("trunc", np.trunc), ("round", np.round)):
        y = getattr(x, name)()
        np.testing.assert_array_equal(y.numpy(), ref(x.numpy()))
        y.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros((4, 3)))
        x.grad = None
    np.testing.assert_array_equal(_t([2.5, 3.5, -0.5], False).round().numpy(), [2.0, 4.0, -0.0])  # half to even
    np.testing.assert_allclose(_t([1.234567], False).round(decimals=2).numpy(), [1.23])
    np.testing.assert_allclose(x.frac().numpy(), x.numpy() - np.trunc(x.numpy()))
    v = dlcore.tensor(np.array([1.0, np.nan, np.inf, -np.inf], np.float32))
    assert v.isnan().tolist() == [False, True, False, False]
    assert v.isinf().tolist() == [False, False, True, True]
    assert dlcore.isfinite(v).tolist() == [True, False, False, False]
    assert dlcore.tensor(np.array([3, -2])).floor().tolist() == [3, -2]


def test_flip_roll_repeat_tile(rng):
    x = rng.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(_t(x, False).flip(0, 2).numpy(), x[::-1, :, ::-1])
    np.testing.assert_array_equal(_t(x, False).roll(2, 1).numpy(), np.roll(x, 2, axis=1))
    np.testing.assert_array_equal(_t(x, False).roll((1, -3), (0, 2)).numpy(), np.roll(x, (1, -3), axis=(0, 2)))
    np.testing.assert_array_equal(_t(x, False).roll(5).numpy(), np.roll(x, 5))
    np.testing.assert_array_equal(_t(x, False).repeat(2, 1, 1, 3).numpy(), np.tile(x, (2, 1, 1, 3)))
    np.testing.assert_array_equal(dlcore.tile(_t(x, False), (2,)).numpy(), np.tile(x, (1, 1, 2)))
    gradcheck(lambda a: a.flip(-1), [_t(x)])
    gradcheck(lambda a: a.roll((1, -3), (0, 2)), [_t(x)])
    gradcheck(lambda a: a.repeat(2, 1, 1, 3), [_t(x)])
    with pytest.raises(ValueError, match="at least one per dim"):
        _t(x).repeat(2, 2)


def test_index_select_narrow_unbind_movedim(rng):
    x = rng.standard_normal((3, 5, 2))
    idx = np.array([4, 0, 4, -1])
    np.testing.assert_array_equal(_t(x, False).index_select(1, dlcore.tensor(idx)).numpy(), x[:, idx])
    gradcheck(lambda a: a.index_select(1, dlcore.tensor(idx)), [_t(x)])  # repeated index: gradients add
    np.testing.assert_array_equal(_t(x, False).narrow(1, -3, 2).numpy(), x[:, 2:4])
    parts = dlcore.unbind(_t(x, False), 2)
    assert len(parts) == 2 and np.array_equal(parts[1].numpy(), x[:, :, 1])
    np.testing.assert_array_equal(_t(x, False).movedim(0, -1).numpy(), np.moveaxis(x, 0, -1))
    np.testing.assert_array_equal(_t(x, False).movedim((0, 1), (2, 0)).numpy(), np.moveaxis(x, (0, 1), (2, 0)))
    np.testing.assert_array_equal(_t(x, False).swapaxes(0, 2).numpy(), np.swapaxes(x, 0, 2))
    with pytest.raises(IndexError, match="out of range"):
        _t(x).index_select(1, dlcore.tensor(np.array([5])))
    with pytest.raises(TypeError, match="1-D integer"):
        _t(x).index_select(1, dlcore.tensor(np.array([1.0])))
    with pytest.raises(IndexError, match="exceed"):
        _t(x).narrow(1, 4, 2)


def test_cumulative_sums_products_and_prod(rng):
    x = rng.uniform(-2, 2, (3, 4))
    np.testing.assert_allclose(_t(x, False).cumsum(1).numpy(), np.cumsum(x, 1), rtol=1e-14)
    np.testing.assert_allclose(_t(x, False).cumprod(0).numpy(), np.cumprod(x, 0), rtol=1e-14)
    np.testing.assert_allclose(_t(x, False).prod().numpy(), np.prod(x), rtol=1e-14)
    np.testing.assert_allclose(_t(x, False).prod(1, keepdim=True).numpy(), np.prod(x, 1, keepdims=True))
    gradcheck(lambda a: a.cumsum(0), [_t(x)])
    gradcheck(lambda a: a.cumprod(1), [_t(x)])
    gradcheck(lambda a: a.prod(0), [_t(x)])
    gradcheck(lambda a: a.prod().reshape(1), [_t(x)])
    z = _t([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0]])  # exact gradients at zeros (a division by x would give nan)
    z.prod(1).sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(), [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0]])
    c = _t([1.0, 0.0, 2.0, 3.0])
    c.cumprod(0).sum().backward()  # d/dx1 of 1 + x0 x1 + x0 x1 x2 + x0 x1 x2 x3 = x0 (1 + x2 + x2 x3) = 9
    np.testing.assert_array_equal(c.grad.numpy(), [1.0, 9.0, 0.0, 0.0])


def test_amax_amin_share_ties(rng):
    x = rng.standard_normal((3, 4, 5))
    np.testing.assert_array_equal(_t(x, False).amax((0, 2)).numpy(), x.max(axis=(0, 2)))
    np.testing.assert_array_equal(_t(x, False).amin(-1, keepdim=True).numpy(), x.min(axis=-1, keepdims=True))
    np.testing.assert_array_equal(dlcore.amax(_t(x, False)).numpy(), x.max())
    gradcheck(lambda a: a.amax((0, 2)), [_t(x)])
    t = _t([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    t.amax(1).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


def test_tril_triu_and_products(rng):
    x = rng.standard_normal((2, 4, 5))
    np.testing.assert_array_equal(_t(x, False).tril(1).numpy(), np.tril(x, 1))
    np.testing.assert_array_equal(dlcore.triu(_t(x, False), -1).numpy(), np.triu(x, -1))
    gradcheck(lambda a: a.triu(), [_t(x)])
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    np.testing.assert_allclose(dlcore.mm(_t(a, False), _t(b, False)).numpy(), a @ b, rtol=1e-14)
    p, q = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 5))
    np.testing.assert_allclose(_t(p, False).bmm(_t(q, False)).numpy(), p @ q, rtol=1e-14)
    u, v = rng.standard_normal(4), rng.standard_normal(3)
    np.testing.assert_allclose(dlcore.outer(_t(u, False), _t(v, False)).numpy(), np.outer(u, v))
    np.testing.assert_allclose(_t(u, False).dot(_t(u[::-1].copy(), False)).numpy(), u @ u[::-1])
    with pytest.raises(ValueError, match="bmm"):
        _t(p).bmm(_t(b))


EINSUMS = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ij->j", [(3, 4)]),
    ("ij,ij->", [(3, 4), (3, 4)]),
    ("i,j", [(3,), (4,)]),  # implicit output: "ij"
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),  # broadcast leading dims, a size-1 one included
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),  # attention scores
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("abc->ca", [(2, 3, 4)]),  # a letter only one operand has (summed) and a permutation
]


@pytest.mark.parametrize("equation,shapes", EINSUMS)
def test_einsum_matches_numpy_and_differentiates(equation, shapes, rng):
    arrays = [rng.standard_normal(s) for s in shapes]
    got = dlcore.einsum(equation, *[_t(a, False) for a in arrays])
    np.testing.assert_allclose(got.numpy(), np.einsum(equation, *arrays), rtol=1e-12, atol=1e-12)
    gradcheck(lambda *ts: dlcore.einsum(equation, *ts).reshape(-1), [_t(a) for a in arrays])
    assert dlcore.einsum(equation, [_t(a, False) for a in arrays]).shape == got.shape  # a list of operands


def test_einsum_errors():
    with pytest.raises(ValueError, match="names 2 operands"):
        dlcore.einsum("ij,jk->ik", dlcore.randn(2, 2))
    with pytest.raises(ValueError, match="repeated subscripts"):
        dlcore.einsum("ii->i", dlcore.randn(2, 2))
    with pytest.raises(ValueError, match="subscripts 'ijk'"):
        dlcore.einsum("ijk->i", dlcore.randn(2, 2))


def test_in_place_fills_and_detach_():
    dlcore.manual_seed(0)
    t = dlcore.zeros(1000)
    t.uniform_(2.0, 3.0)
    assert 2.0 <= t.numpy().min() and t.numpy().max() < 3.0
    t.normal_(5.0, 0.1)
    assert abs(float(t.numpy().mean()) - 5.0) < 0.02
    x = dlcore.randn(3, requires_grad=True)
    y = (x * 2).detach_()
    assert not y.requires_grad and y.is_leaf
