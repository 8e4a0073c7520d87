"""More of torch's tensor API (_tensor_math.py, ops/math_more.py): nonzero, masked_select, scatter/index_add
and friends, repeat_interleave, unique, bincount, diagonals, norms and cdist, diff, take, binary elementwise
functions, addmm/baddbmm/kron/cross, tensor_split, median/cummax/cummin, nan_to_num, clamp with tensor bounds.

Values against float64 NumPy references written here, integer outputs exactly (int64), finite-difference
gradients, torch's conventions (checked against torch 2.14 when written) and the bad-argument errors."""
import numpy as np
import pytest

import dlcore
from dlcore.autograd import gradcheck


def _t(a, grad=False):
    return dlcore.tensor(np.asarray(a, np.float64), requires_grad=grad)


def _i(a):
    return dlcore.tensor(np.asarray(a, np.int64))


def _exact(got, want):
    """Integer results: same values, shape and int64."""
    assert got.dtype == np.int64, got.dtype
    np.testing.assert_array_equal(got.numpy(), np.asarray(want))
    assert got.shape == np.asarray(want).shape


# ---- selection by value -------------------------------------------------------------------------------------
def test_nonzero_argwhere_count_nonzero():
    a = np.array([[0, 3, 0], [2, 0, 5]])
    _exact(_i(a).nonzero(), [[0, 1], [1, 0], [1, 2]])
    rows, cols = dlcore.nonzero(_i(a), as_tuple=True)
    _exact(rows, [0, 1, 1])
    _exact(cols, [1, 0, 2])
    _exact(dlcore.argwhere(_t(a)), [[0, 1], [1, 0], [1, 2]])
    _exact(_i(np.zeros((2, 0, 3))).nonzero(), np.zeros((0, 3)))
    _exact(_i(5).nonzero(), np.zeros((1, 0)))  # torch: a 0-d tensor gives (count, 0)
    _exact(_i(5).nonzero(as_tuple=True)[0], [0])
    _exact(_i(a).count_nonzero(), 3)
    _exact(dlcore.count_nonzero(_i(a), dim=0), [1, 1, 1])
    _exact(_i(a).count_nonzero((0, 1)), 3)


def test_masked_select_and_take(rng):
    x = rng.standard_normal((3, 4))
    mask = rng.random(4) > 0.5
    mask[0] = True
    got = _t(x).masked_select(dlcore.tensor(mask))  # the mask broadcasts over rows
    np.testing.assert_array_equal(got.numpy(), x[np.broadcast_to(mask, x.shape)])
    gradcheck(lambda a: a.masked_select(dlcore.tensor(mask)), [_t(x, True)])
    idx = np.array([[0, -1], [5, 0]])
    np.testing.assert_array_equal(dlcore.take(_t(x), _i(idx)).numpy(), x.reshape(-1)[idx])
    gradcheck(lambda a: a.take(_i(idx)), [_t(x, True)])  # a repeated index: gradients add
    with pytest.raises(TypeError, match="mask must be a bool"):
        _t(x).masked_select(_t(mask))
    with pytest.raises(ValueError, match="does not broadcast"):
        _t(x).masked_select(dlcore.tensor(np.ones(3, bool)))
    with pytest.raises(IndexError, match="take: index out of range"):
        _t(x).take(_i([12]))


# ---- scatter and index writes -------------------------------------------------------------------------------
def _scatter_ref(x, dim, index, src, add):
    out = x.copy()
    for pos in np.ndindex(*index.shape):
        target = list(pos)
        target[dim] = index[pos]
        value = src[pos] if np.ndim(src) else src
        out[tuple(target)] = out[tuple(target)] + value if add else value
    return out


def test_scatter_and_scatter_add(rng):
    x, src = rng.standard_normal((3, 5)), rng.standard_normal((2, 6))
    idx = np.array([[0, 1, 2, 0], [2, 0, 0, 1]])  # index smaller than src and x: only its region is used
    np.testing.assert_allclose(_t(x).scatter_add(0, _i(idx), _t(src)).numpy(), _scatter_ref(x, 0, idx, src, True))
    unique_idx = np.array([[0, 1, 2, 0], [2, 0, 1, 1]])  # no repeats per column: the written value is defined
    np.testing.assert_array_equal(dlcore.scatter(_t(x), 0, _i(unique_idx), _t(src)).numpy(),
                                  _scatter_ref(x, 0, unique_idx, src, False))
    col = np.array([[4, 0], [1, 1], [3, 2]])
    np.testing.assert_array_equal(_t(x).scatter(1, _i(col), 7.0).numpy(), _scatter_ref(x, 1, col, 7.0, False))
    np.testing.assert_array_equal(_t(x).scatter(-1, _i(col), value=7.0).numpy(), _scatter_ref(x, 1, col, 7.0, False))
    gradcheck(lambda a, s: a.scatter_add(0, _i(idx), s), [_t(x, True), _t(src, True)])
    gradcheck(lambda a, s: a.scatter(0, _i(unique_idx), s), [_t(x, True), _t(src, True)])
    gradcheck(lambda a: a.scatter(1, _i(col), 2.0), [_t(x, True)])


def test_scatter_in_place_on_and_off_the_tape(rng):
    x, src = rng.standard_normal((3, 5)), rng.standard_normal((2, 4))
    idx = np.array([[0, 1, 2, 0], [2, 0, 0, 1]])
    t = _t(x)
    assert t.scatter_add_(0, _i(idx), _t(src)) is t
    np.testing.assert_allclose(t.numpy(), _scatter_ref(x, 0, idx, src, True))
    t = _t(x)
    t.scatter_(1, _i(idx[:, :2]), -1.0)
    np.testing.assert_array_equal(t.numpy(), _scatter_ref(x, 1, idx[:, :2], -1.0, False))

    def written(a, s):
        b = a * 1
        b.scatter_add_(0, _i(idx), s)
        return b

    gradcheck(written, [_t(x, True), _t(src, True)])
    with pytest.raises(RuntimeError, match="leaf"):
        _t(x, True).scatter_add_(0, _i(idx), _t(src))


def test_scatter_errors(rng):
    x = _t(rng.standard_normal((3, 5)))
    with pytest.raises(TypeError, match="2-D integer tensor"):
        x.scatter_add(0, _t([[0.0]]), _t([[1.0]]))
    with pytest.raises(TypeError, match="2-D integer tensor"):
        x.scatter(0, _i([0, 1]), 1.0)
    with pytest.raises(IndexError, match="out of range"):
        x.scatter(0, _i([[3]]), 1.0)
    with pytest.raises(IndexError, match="dimension 2 out of range"):
        x.scatter(2, _i([[0]]), 1.0)
    with pytest.raises(ValueError, match="larger than src"):
        x.scatter_add(0, _i([[0, 1]]), _t([[1.0]]))
    with pytest.raises(ValueError, match="outside dim 0"):
        x.scatter(0, _i(np.zeros((1, 6))), 1.0)
    with pytest.raises(TypeError, match="src dtype"):
        x.scatter_add(0, _i([[0]]), dlcore.tensor(np.ones((1, 1), np.float32)))
    with pytest.raises(TypeError, match="src must be a Tensor"):
        x.scatter_add(0, _i([[0]]), 1.0)
    with pytest.raises(ValueError, match="reduce"):
        x.scatter(0, _i([[0]]), 1.0, reduce="multiply")


def test_index_add_copy_fill(rng):
    x, source = rng.standard_normal((3, 4)), rng.standard_normal((3, 3))
    idx = np.array([2, 0, 2])
    want = x.copy()
    for k, i in enumerate(idx):
        want[:, i] += 2 * source[:, k]  # repeats accumulate
    np.testing.assert_allclose(_t(x).index_add(1, _i(idx), _t(source), alpha=2).numpy(), want)
    gradcheck(lambda a, s: a.index_add(1, _i(idx), s, alpha=2), [_t(x, True), _t(source, True)])
    rows = rng.standard_normal((2, 4))
    want = x.copy()
    want[[2, 0]] = rows
    np.testing.assert_array_equal(dlcore.index_copy(_t(x), 0, _i([2, 0]), _t(rows)).numpy(), want)
    gradcheck(lambda a, s: a.index_copy(0, _i([2, 0]), s), [_t(x, True), _t(rows, True)])
    want = x.copy()
    want[:, [1, 3]] = -1.0
    np.testing.assert_array_equal(_t(x).index_fill(-1, _i([1, 3]), -1.0).numpy(), want)
    gradcheck(lambda a: a.index_fill(1, _i([1, 3]), -1.0), [_t(x, True)])
    t = _t(x)
    t.index_add_(1, _i(idx), _t(source)).index_fill_(0, _i([1]), 0.5)
    want = x.copy()
    np.add.at(want, (slice(None), idx), source)
    want[1] = 0.5
    np.testing.assert_allclose(t.numpy(), want)

    def written(a, s):
        b = a * 1
        b.index_copy_(0, _i([1]), s)
        b.index_fill_(1, _i([0, 3]), 5.0)
        return b

    gradcheck(written, [_t(x, True), _t(rows[:1], True)])
    with pytest.raises(ValueError, match=r"source of shape \(3, 2\), expected \(3, 3\)"):
        _t(x).index_add(1, _i(idx), _t(source[:, :2]))
    with pytest.raises(TypeError, match="index must be 1-D"):
        _t(x).index_copy(0, _i([[0]]), _t(rows[:1]))
    with pytest.raises(IndexError, match="out of range"):
        _t(x).index_fill(0, _i([3]), 1.0)
    with pytest.raises(ValueError, match="0-d tensor"):
        _t(x).index_fill(0, _i([0]), _t([1.0, 2.0]))


def test_repeat_interleave(rng):
    x = rng.standard_normal((3, 2))
    np.testing.assert_array_equal(_t(x).repeat_interleave(2).numpy(), np.repeat(x.reshape(-1), 2))
    got = dlcore.repeat_interleave(_t(x), _i([1, 0, 2]), dim=0)
    np.testing.assert_array_equal(got.numpy(), np.repeat(x, [1, 0, 2], axis=0))
    np.testing.assert_array_equal(_t(x).repeat_interleave(_i([3]), dim=-1).numpy(), np.repeat(x, 3, axis=1))
    _exact(dlcore.repeat_interleave(_i([2, 0, 1])), [0, 0, 2])  # counts alone: the repeated positions
    gradcheck(lambda a: a.repeat_interleave(_i([1, 0, 2]), dim=0), [_t(x, True)])
    with pytest.raises(ValueError, match="3 counts"):
        _t(x).repeat_interleave(_i([1, 2]), dim=0)
    with pytest.raises(ValueError, match=">= 0"):
        _t(x).repeat_interleave(-1)


def test_unique_and_bincount():
    a = np.array([[3, 1, 3], [1, 2, 2]])
    values, inverse, counts = _i(a).unique(return_inverse=True, return_counts=True)
    _exact(values, [1, 2, 3])
    _exact(inverse, [[2, 0, 2], [0, 1, 1]])  # the input's shape
    _exact(counts, [2, 2, 2])
    cols, inverse = dlcore.unique(_i(np.array([[3, 1, 3], [1, 2, 1]])), dim=1, return_inverse=True)
    _exact(cols, [[1, 3], [2, 1]])
    _exact(inverse, [1, 0, 1])
    np.testing.assert_array_equal(_t([2.5, -1.0, 2.5]).unique().numpy(), [-1.0, 2.5])
    _exact(_i([1, 1, 4]).bincount(), [0, 2, 0, 0, 1])
    _exact(dlcore.bincount(_i([1, 1, 4]), minlength=7), [0, 2, 0, 0, 1, 0, 0])
    _exact(_i(np.zeros(0)).bincount(), np.zeros(0))
    w = np.array([0.5, 0.25, 1.0], np.float32)
    got = _i([1, 1, 4]).bincount(dlcore.tensor(w))
    assert got.dtype == np.float32  # torch 2.x: the weights' dtype
    np.testing.assert_array_equal(got.numpy(), [0, 0.75, 0, 0, 1.0])
    with pytest.raises(ValueError, match="non-negative"):
        _i([1, -1]).bincount()
    with pytest.raises(TypeError, match="1-D integer"):
        _t([1.0]).bincount()
    with pytest.raises(ValueError, match="weights of shape"):
        _i([1, 2]).bincount(_t([1.0]))


# ---- diagonals ----------------------------------------------------------------------------------------------
def test_diag_diagonal_diag_embed_trace(rng):
    v, m, y = rng.standard_normal(3), rng.standard_normal((3, 5)), rng.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(_t(v).diag().numpy(), np.diag(v))
    np.testing.assert_array_equal(dlcore.diag(_t(v), -2).numpy(), np.diag(v, -2))
    np.testing.assert_array_equal(_t(m).diag(1).numpy(), np.diag(m, 1))
    np.testing.assert_array_equal(_t(m).diag(-5).numpy(), np.diag(m, -5))  # past the corner: empty
    np.testing.assert_array_equal(_t(y).diagonal(1, 0, 2).numpy(), np.diagonal(y, 1, 0, 2))
    np.testing.assert_array_equal(dlcore.diagonal(_t(y), -1, -1, 1).numpy(), np.diagonal(y, -1, 2, 1))
    embedded = _t(y).diag_embed(1, 0, 2)
    assert embedded.shape == (5, 2, 5, 3)
    back = np.moveaxis(embedded.numpy(), (0, 2), (-2, -1))
    np.testing.assert_array_equal(np.diagonal(back, 1, -2, -1), y)
    assert np.count_nonzero(embedded.numpy()) == y.size
    np.testing.assert_allclose(dlcore.trace(_t(m)).numpy(), np.trace(m))
    gradcheck(lambda a: a.diag(1), [_t(v, True)])
    gradcheck(lambda a: a.diagonal(1, 0, 2), [_t(y, True)])
    gradcheck(lambda a: a.diag_embed(-1, 2, 0), [_t(y, True)])
    gradcheck(lambda a: a.trace().reshape(1), [_t(m, True)])
    with pytest.raises(ValueError, match="1-D or 2-D"):
        _t(y).diag()
    with pytest.raises(ValueError, match="must differ"):
        _t(y).diagonal(0, 1, -2)
    with pytest.raises(ValueError, match="2-D"):
        _t(v).trace()


# ---- norms, distances, differences --------------------------------------------------------------------------
NORMS = [2, 1, 3, 0.5, np.inf, -np.inf, 0, "fro"]


@pytest.mark.parametrize("p", NORMS, ids=str)
def test_norm_values_and_gradients(p, rng):
    x = rng.standard_normal((2, 3, 5))
    q = 2 if p == "fro" else p
    a = np.abs(x)
    if np.isinf(q):
        ref = (a.max if q > 0 else a.min)(axis=(0, 2))
    elif q == 0:
        ref = (x != 0).sum(axis=(0, 2)).astype(np.float64)
    else:
        ref = (a ** q).sum(axis=(0, 2)) ** (1 / q)
    np.testing.assert_allclose(_t(x).norm(p, dim=(0, 2)).numpy(), ref, rtol=1e-12)
    kept = dlcore.norm(_t(x), p, dim=(0, 2), keepdim=True)
    assert kept.shape == (1, 3, 1)
    if q != 0:
        gradcheck(lambda t: t.norm(p, dim=(0, 2)), [_t(x, True)])


def test_norm_defaults_zero_vectors_and_ties(rng):
    x = rng.standard_normal((4, 3))
    np.testing.assert_allclose(_t(x).norm().numpy(), np.sqrt((x * x).sum()), rtol=1e-14)
    np.testing.assert_allclose(dlcore.vector_norm(_t(x), 3, dim=-1).numpy(), (np.abs(x) ** 3).sum(-1) ** (1 / 3))
    assert dlcore.vector_norm(_t(x), dim=0, keepdim=True).shape == (1, 3)
    f32 = dlcore.tensor(x.astype(np.float32)).norm(dim=1)
    assert f32.dtype == np.float32
    z = _t(np.zeros((2, 3)), True)
    z.norm(dim=1).sum().backward()  # torch: a zero norm has gradient 0, not nan
    np.testing.assert_array_equal(z.grad.numpy(), np.zeros((2, 3)))
    t = _t([1.0, -3.0, 3.0], True)
    t.norm(np.inf).backward()  # ties share the gradient, with the sign of each entry
    np.testing.assert_array_equal(t.grad.numpy(), [0.0, -0.5, 0.5])
    with pytest.raises(TypeError, match="floating-point"):
        _i([1, 2]).norm()
    with pytest.raises(ValueError, match="nuc"):
        _t(x).norm("nuc")
    with pytest.raises(IndexError, match="dimension 2"):
        _t(x).norm(dim=2)


@pytest.mark.parametrize("p", [2, 1, 0.7, np.inf])
def test_cdist(p, rng):
    a, b = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 4, 3))
    diff = np.abs(a[:, :, None, :] - b[:, None, :, :])
    ref = diff.max(-1) if np.isinf(p) else (diff ** p).sum(-1) ** (1 / p)
    np.testing.assert_allclose(dlcore.cdist(_t(a), _t(b), p).numpy(), ref, rtol=1e-12)
    gradcheck(lambda s, t: dlcore.cdist(s, t, p), [_t(a, True), _t(b, True)])


def test_cdist_zero_distance_and_errors():
    x = _t(np.ones((2, 3)), True)
    dlcore.cdist(x, x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))  # torch: 0 at zero distance
    with pytest.raises(ValueError, match="cdist"):
        dlcore.cdist(_t(np.ones((2, 3))), _t(np.ones((2, 4))))


def test_diff(rng):
    x = rng.standard_normal((3, 6))
    np.testing.assert_allclose(_t(x).diff().numpy(), np.diff(x))
    np.testing.assert_allclose(dlcore.diff(_t(x), 2, 0).numpy(), np.diff(x, 2, 0))
    pre, post = rng.standard_normal((3, 1)), rng.standard_normal((3, 2))
    got = _t(x).diff(dim=1, prepend=_t(pre), append=_t(post))
    np.testing.assert_allclose(got.numpy(), np.diff(x, axis=1, prepend=pre, append=post))
    np.testing.assert_allclose(_t(x).diff(prepend=0.5).numpy(), np.diff(x, prepend=0.5))
    _exact(_i([1, 4, 9, 16]).diff(n=2), [2, 2])
    np.testing.assert_array_equal(dlcore.tensor(np.array([True, False, False])).diff().numpy(), [True, False])
    assert _t(x).diff(n=7).shape == (3, 0)
    gradcheck(lambda a, q: a.diff(2, 1, prepend=q), [_t(x, True), _t(pre, True)])
    with pytest.raises(ValueError, match="n must be >= 0"):
        _t(x).diff(-1)


# ---- binary elementwise --------------------------------------------------------------------------------------
BINARY = {  # name: (NumPy reference, (a, b) sampler); b broadcasts against a
    "atan2": (np.arctan2, lambda r: (r.standard_normal((3, 4)), r.standard_normal(4))),
    "hypot": (np.hypot, lambda r: (r.standard_normal((3, 4)), r.standard_normal(4))),
    "logaddexp": (np.logaddexp, lambda r: (r.standard_normal((3, 4)) * 30, r.standard_normal(4))),
    "fmod": (np.fmod, lambda r: (r.uniform(-9, 9, (3, 4)), r.uniform(0.5, 2, 4) * r.choice([-1, 1], 4))),
    "remainder": (np.remainder, lambda r: (r.uniform(-9, 9, (3, 4)), r.uniform(0.5, 2, 4) * r.choice([-1, 1], 4))),
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_elementwise(name, rng):
    ref, sample = BINARY[name]
    a, b = sample(rng)
    np.testing.assert_allclose(getattr(_t(a), name)(_t(b)).numpy(), ref(a, b), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(getattr(dlcore, name)(_t(a), 0.75).numpy(), ref(a, 0.75), rtol=1e-12, atol=1e-14)
    gradcheck(lambda s, t: getattr(s, name)(t), [_t(a, True), _t(b, True)])
    assert getattr(dlcore.tensor(a.astype(np.float32)), name)(1.5).dtype == np.float32


def test_binary_integer_rules():
    a, b = np.array([-7, 7, -8]), np.array([3, -3, 3])
    _exact(_i(a).fmod(_i(b)), np.fmod(a, b))  # integers stay integers, each with its sign rule
    _exact(_i(a).remainder(3), np.remainder(a, 3))
    got = _i(a).atan2(_i(b))
    assert got.dtype == np.float32  # integers become the default float dtype, as torch
    np.testing.assert_allclose(got.numpy(), np.arctan2(a, b), rtol=1e-6)
    assert dlcore.arctan2(_t([1.0]), _t([1.0])).dtype == np.float64


def test_lerp_and_logical_ops(rng):
    s, e, w = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.random((3, 4))
    np.testing.assert_allclose(_t(s).lerp(_t(e), 0.3).numpy(), s + 0.3 * (e - s), rtol=1e-14)
    np.testing.assert_allclose(dlcore.lerp(_t(s), _t(e), _t(w)).numpy(), s + w * (e - s), rtol=1e-14)
    gradcheck(lambda a, b, c: a.lerp(b, c), [_t(s, True), _t(e, True), _t(w, True)])
    p, q = np.array([0, 2, 0, -1]), np.array([0.0, 0.0, 3.0, 0.5])
    for name, ref in (("logical_and", np.logical_and), ("logical_or", np.logical_or),
                      ("logical_xor", np.logical_xor)):
        got = getattr(dlcore, name)(_i(p), _t(q))
        assert got.dtype == np.bool_
        np.testing.assert_array_equal(got.numpy(), ref(p, q))
    np.testing.assert_array_equal(_i(p).logical_not().numpy(), np.logical_not(p))
    np.testing.assert_array_equal(_i(p).logical_and(1).numpy(), p != 0)


def test_nan_to_num(rng):
    x = np.array([np.nan, np.inf, -np.inf, 1.5], np.float32)
    big = np.finfo(np.float32)
    np.testing.assert_array_equal(dlcore.tensor(x).nan_to_num().numpy(), [0.0, big.max, big.min, 1.5])
    np.testing.assert_array_equal(dlcore.nan_to_num(_t(x), 1.0, 2.0, -3.0).numpy(), [1.0, 2.0, -3.0, 1.5])
    t = _t(x, True)
    t.nan_to_num().sum().backward()  # gradient only where the input was finite (torch)
    np.testing.assert_array_equal(t.grad.numpy(), [0, 0, 0, 1])
    _exact(_i([1, 2]).nan_to_num(), [1, 2])
    gradcheck(lambda a: a.nan_to_num(), [_t(rng.standard_normal(5), True)])


def test_clamp_with_tensor_bounds(rng):
    x, lo, hi = rng.standard_normal((3, 4)), rng.standard_normal(4) - 0.5, rng.standard_normal((3, 1)) + 1.5
    np.testing.assert_allclose(_t(x).clamp(_t(lo), _t(hi)).numpy(), np.minimum(np.maximum(x, lo), hi))
    np.testing.assert_allclose(dlcore.clamp(_t(x), max=_t(hi)).numpy(), np.minimum(x, hi))
    gradcheck(lambda a, b, c: a.clamp(b, c), [_t(x, True), _t(lo, True), _t(hi, True)])
    gradcheck(lambda a, b: a.clamp(min=b), [_t(x, True), _t(lo, True)])
    a, b = _t([0.0, 1.0, 2.0], True), _t([1.0, 1.0, 0.0], True)
    a.clamp(min=b).sum().backward()  # the bound gets its gradient; a tie shares it (torch 2.x)
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 0.5, 0.0])


# ---- products ----------------------------------------------------------------------------------------------
def test_addmm_baddbmm(rng):
    i, m1, m2 = rng.standard_normal(4), rng.standard_normal((3, 5)), rng.standard_normal((5, 4))
    np.testing.assert_allclose(_t(i).addmm(_t(m1), _t(m2), beta=0.5, alpha=2).numpy(), 0.5 * i + 2 * m1 @ m2,
                               rtol=1e-13)
    nan_input = np.full((3, 4), np.nan)
    np.testing.assert_allclose(dlcore.addmm(_t(nan_input), _t(m1), _t(m2), beta=0).numpy(), m1 @ m2, rtol=1e-13)
    gradcheck(lambda a, b, c: a.addmm(b, c, beta=0.5, alpha=2), [_t(i, True), _t(m1, True), _t(m2, True)])
    bi, b1, b2 = rng.standard_normal((3, 4)), rng.standard_normal((2, 3, 5)), rng.standard_normal((2, 5, 4))
    np.testing.assert_allclose(dlcore.baddbmm(_t(bi), _t(b1), _t(b2), alpha=0.5).numpy(), bi + 0.5 * b1 @ b2,
                               rtol=1e-13)
    gradcheck(lambda a, b, c: a.baddbmm(b, c), [_t(bi, True), _t(b1, True), _t(b2, True)])
    with pytest.raises(ValueError, match="addmm"):
        _t(i).addmm(_t(m1), _t(m1))
    with pytest.raises(ValueError, match="does not broadcast"):
        _t(np.ones((2, 3, 4))).addmm(_t(m1), _t(m2))
    with pytest.raises(ValueError, match="baddbmm"):
        _t(bi).baddbmm(_t(m1), _t(m2))


def test_kron_and_cross(rng):
    a, b, v = rng.standard_normal((2, 3)), rng.standard_normal((3, 1, 2)), rng.standard_normal(2)
    np.testing.assert_allclose(dlcore.kron(_t(a), _t(b)).numpy(), np.kron(a, b), rtol=1e-14)
    np.testing.assert_allclose(_t(v).kron(_t(a)).numpy(), np.kron(v, a), rtol=1e-14)
    gradcheck(lambda s, t: s.kron(t), [_t(a, True), _t(b, True)])
    p, q = rng.standard_normal((4, 3)), rng.standard_normal((1, 3))
    np.testing.assert_allclose(dlcore.cross(_t(p), _t(q), dim=1).numpy(), np.cross(p, q), rtol=1e-13)
    np.testing.assert_allclose(_t(p.T).cross(_t(q.T), dim=0).numpy(), np.cross(p, q).T, rtol=1e-13)
    np.testing.assert_allclose(_t(p).cross(_t(q)).numpy(), np.cross(p, q), rtol=1e-13)  # the first size-3 dim
    gradcheck(lambda s, t: s.cross(t, dim=-1), [_t(p, True), _t(q, True)])
    with pytest.raises(ValueError, match="has size 4"):
        _t(np.ones((3, 4))).cross(_t(np.ones((3, 4))), dim=1)
    with pytest.raises(ValueError, match="no dimension of size 3"):
        _t(np.ones(2)).cross(_t(np.ones(2)))


# ---- splits, strides, dtypes --------------------------------------------------------------------------------
def test_tensor_split_stride_half(rng):
    x = rng.standard_normal((7, 2))
    parts = _t(x).tensor_split(3)
    assert [p.shape[0] for p in parts] == [3, 2, 2]  # the first 7 % 3 parts one longer
    np.testing.assert_array_equal(np.concatenate([p.numpy() for p in parts]), x)
    parts = dlcore.tensor_split(_t(x), [1, 5, 9])  # indices past the end: empty parts
    assert [p.shape[0] for p in parts] == [1, 4, 2, 0]
    assert [p.shape[1] for p in _t(x).tensor_split(_i([1]), dim=1)] == [1, 1]
    assert [p.shape[0] for p in _t(x).tensor_split(9)] == [1] * 7 + [0, 0]
    gradcheck(lambda a: a.tensor_split(3)[1], [_t(x, True)])
    with pytest.raises(ValueError, match="sections must be > 0"):
        _t(x).tensor_split(0)
    y = _t(np.zeros((2, 3, 4)))
    assert y.stride() == (12, 4, 1) and y.stride(-2) == 4
    assert y.permute(2, 0, 1).stride() == (1, 12, 4)
    h = _t(x).half()
    assert h.dtype == np.float16


# ---- order statistics ---------------------------------------------------------------------------------------
def test_median(rng):
    x = rng.standard_normal((3, 6))
    ref_idx = np.argsort(x, axis=1, kind="stable")[:, 2]  # the lower of the two middle values (torch)
    values, indices = _t(x).median(1)
    np.testing.assert_array_equal(values.numpy(), x[np.arange(3), ref_idx])
    _exact(indices, ref_idx)
    values, indices = dlcore.median(_t(x), 0, keepdim=True)
    assert values.shape == (1, 6) and indices.shape == (1, 6)
    np.testing.assert_array_equal(values.numpy()[0], np.sort(x, 0)[1])
    np.testing.assert_array_equal(_t(x).median().numpy(), np.sort(x.reshape(-1))[8])
    with_nan = np.array([[3.0, np.nan, 1.0], [2.0, 0.0, 1.0]])
    values, indices = _t(with_nan).median(1)  # a NaN in the slice is its median (torch)
    np.testing.assert_array_equal(values.numpy(), [np.nan, 1.0])
    _exact(indices, [1, 2])
    gradcheck(lambda a: a.median(1).values, [_t(x, True)])
    gradcheck(lambda a: a.median().reshape(1), [_t(x, True)])
    _exact(_i([5, 1, 4, 2]).median(), 2)


def _cumulative_ref(x, larger):
    """Running extreme and its index along the last axis; ties take the later index (torch)."""
    values, indices = np.empty_like(x), np.zeros(x.shape, np.int64)
    for pos in np.ndindex(*x.shape[:-1]):
        best, where = x[pos][0], 0
        for i, v in enumerate(x[pos]):
            if (v >= best) if larger else (v <= best):
                best, where = v, i
            values[pos][i], indices[pos][i] = best, where
    return values, indices


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_cummin(name, rng):
    x = rng.integers(0, 4, (3, 7)).astype(np.float64)  # many ties
    want_values, want_indices = _cumulative_ref(x, name == "cummax")
    values, indices = getattr(_t(x), name)(1)
    np.testing.assert_array_equal(values.numpy(), want_values)
    _exact(indices, want_indices)
    values, indices = getattr(dlcore, name)(_t(x.T), 0)
    _exact(indices, want_indices.T)
    gradcheck(lambda a: getattr(a, name)(1).values, [_t(rng.standard_normal((3, 7)), True)])
    values, indices = getattr(_t([1.0, np.nan, 5.0, 0.0]), name)(0)  # a NaN stays once seen (torch)
    np.testing.assert_array_equal(values.numpy(), [1.0, np.nan, np.nan, np.nan])
    _exact(indices, [0, 1, 1, 1])
    with pytest.raises(IndexError, match="out of range"):
        getattr(_t(x), name)(2)


@pytest.mark.parametrize("p", [2, 3, np.inf])
def test_norm_and_clamp_double_backward(p, rng):
    """create_graph=True through a norm (WGAN-GP's gradient penalty) and through clamp with tensor bounds."""
    def penalty_grad(x):
        (g,) = dlcore.autograd.grad(x.norm(p, dim=1).sum(), [x], create_graph=True)
        return g * x

    gradcheck(penalty_grad, [_t(rng.standard_normal((3, 4)), True)])

    def clamp_grad(x, lo):
        (g,) = dlcore.autograd.grad((x.clamp(min=lo) ** 2).sum(), [x], create_graph=True)
        return g

    gradcheck(clamp_grad, [_t(rng.standard_normal((3, 4)), True), _t(rng.standard_normal(4), True)])


def test_linalg_namespace(rng):
    x = rng.standard_normal((3, 4))
    np.testing.assert_allclose(dlcore.linalg.norm(_t(x)).numpy(), np.sqrt((x * x).sum()), rtol=1e-14)
    np.testing.assert_allclose(dlcore.linalg.norm(_t(x), 3, dim=1).numpy(), (np.abs(x) ** 3).sum(1) ** (1 / 3))
    np.testing.assert_allclose(dlcore.linalg.norm(_t(x[0]), np.inf).numpy(), np.abs(x[0]).max())
    np.testing.assert_allclose(dlcore.linalg.norm(_t(x), "fro").numpy(), np.sqrt((x * x).sum()), rtol=1e-14)
    np.testing.assert_allclose(dlcore.linalg.vector_norm(_t(x), 1).numpy(), np.abs(x).sum(), rtol=1e-14)
    p, q = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    np.testing.assert_allclose(dlcore.linalg.cross(_t(p), _t(q)).numpy(), np.cross(p, q), rtol=1e-13)
    # matrix ords over a 2-D input are matrix norms, as torch's (the spectral norm for 2, not the vector 2-norm)
    np.testing.assert_allclose(dlcore.linalg.norm(_t(x), 2).numpy(), np.linalg.norm(x, 2), rtol=1e-13)
    np.testing.assert_allclose(dlcore.linalg.norm(_t(x), "nuc").numpy(), np.linalg.norm(x, "nuc"), rtol=1e-13)
    with pytest.raises(ValueError, match="ord must be"):
        dlcore.linalg.norm(_t(x), "bogus")
