"""dlcore.linalg's matrix functions: values against NumPy (float64), gradients by finite differences."""
import numpy as np
import pytest

import dlcore
from dlcore import linalg


def _t(a, grad=True):
    return dlcore.tensor(a, requires_grad=grad)


@pytest.fixture
def mats(rng):
    a = rng.standard_normal((2, 4, 4)) + 3 * np.eye(4)
    spd = a @ a.swapaxes(-1, -2) + np.eye(4)
    return a, spd, rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4))


def test_solve_inv_det(mats):
    a, _, b, v = mats
    np.testing.assert_allclose(linalg.solve(_t(a), _t(b)).numpy(), np.linalg.solve(a, b), rtol=1e-12)
    np.testing.assert_allclose(linalg.solve(_t(a), _t(v)).numpy(), np.linalg.solve(a, v[..., None])[..., 0],
                               rtol=1e-12)
    right = linalg.solve(_t(a), _t(b.swapaxes(-1, -2)), left=False).numpy()
    np.testing.assert_allclose(right @ a, b.swapaxes(-1, -2), atol=1e-12)
    np.testing.assert_allclose(linalg.inv(_t(a)).numpy(), np.linalg.inv(a), rtol=1e-12)
    np.testing.assert_allclose(linalg.det(_t(a)).numpy(), np.linalg.det(a), rtol=1e-12)
    sign, logabs = linalg.slogdet(_t(-a))
    np.testing.assert_allclose(sign.numpy() * np.exp(logabs.numpy()), np.linalg.det(-a), rtol=1e-12)
    # B broadcast over A's batch: a matrix, and a vector of A's size (torch's rule tells them apart)
    np.testing.assert_allclose(linalg.solve(_t(a), _t(b[0])).numpy(), np.linalg.solve(a, b[0]), rtol=1e-12)
    np.testing.assert_allclose(linalg.solve(_t(a), _t(v[0])).numpy(), np.linalg.solve(a, v[0][:, None])[..., 0],
                               rtol=1e-12)
    for fn, args in [(linalg.solve, (a, b)), (linalg.solve, (a, v)), (linalg.solve, (a, b[0])),
                     (linalg.solve, (a, v[0])), (linalg.inv, (a,)), (linalg.det, (a,)),
                     (lambda m: linalg.slogdet(m)[1], (a,)), (lambda m: linalg.matrix_power(m, -2), (a,)),
                     (lambda m: linalg.matrix_power(m, 3), (a,))]:
        assert dlcore.autograd.gradcheck(fn, [_t(x) for x in args])


def test_cholesky_and_triangular_solves(mats):
    _, spd, b, _ = mats
    lower = linalg.cholesky(_t(spd)).numpy()
    np.testing.assert_allclose(lower, np.linalg.cholesky(spd), rtol=1e-12)
    np.testing.assert_allclose(linalg.cholesky(_t(spd), upper=True).numpy(), lower.swapaxes(-1, -2))
    for upper in (False, True):
        tri = lower.swapaxes(-1, -2) if upper else lower
        x = linalg.solve_triangular(_t(tri), _t(b), upper=upper).numpy()
        np.testing.assert_allclose(tri @ x, b, atol=1e-12)
        assert dlcore.autograd.gradcheck(lambda m, r, u=upper: linalg.solve_triangular(m, r, upper=u),
                                         [_t(tri), _t(b)])
    unit = np.tril(lower, -1) + np.eye(4)
    x = linalg.solve_triangular(_t(lower), _t(b), upper=False, unitriangular=True).numpy()
    np.testing.assert_allclose(unit @ x, b, atol=1e-12)
    assert dlcore.autograd.gradcheck(lambda m: linalg.cholesky(m @ m.transpose(-1, -2)), [_t(lower)])


def test_eigh_values_vectors_and_gradient(mats):
    _, spd, _, _ = mats
    w, v = linalg.eigh(_t(spd))
    np.testing.assert_allclose(w.numpy(), np.linalg.eigvalsh(spd), rtol=1e-12)
    np.testing.assert_allclose(v.numpy() @ np.apply_along_axis(np.diag, -1, w.numpy()) @ v.numpy().swapaxes(-1, -2),
                               spd, atol=1e-10)
    sym = lambda m: (m + m.transpose(-1, -2)) / 2  # noqa: E731  the gradient is the symmetric part's
    assert dlcore.autograd.gradcheck(lambda m: linalg.eigvalsh(sym(m)), [_t(spd)])
    # eigenvectors up to sign: a sign-invariant function of them (V diag(w) V^T ... and |v|^4)
    assert dlcore.autograd.gradcheck(lambda m: (linalg.eigh(sym(m))[1] ** 4).sum(-1), [_t(spd)])


def test_bad_shapes_raise(mats):
    a = mats[0]
    with pytest.raises(ValueError, match="square"):
        linalg.inv(_t(a[..., :3]))
    with pytest.raises(ValueError, match="not positive-definite"):
        linalg.cholesky(_t(-np.eye(3)))


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 5, 3)])
def test_svd_pinv_and_matrix_norms(rng, shape):
    a = rng.standard_normal(shape)
    u, s, vh = linalg.svd(_t(a), full_matrices=False)
    np.testing.assert_allclose(s.numpy(), np.linalg.svd(a, compute_uv=False), rtol=1e-12)
    np.testing.assert_allclose((u.numpy() * s.numpy()[..., None, :]) @ vh.numpy(), a, atol=1e-12)
    np.testing.assert_allclose(linalg.pinv(_t(a)).numpy(), np.linalg.pinv(a), atol=1e-12)
    for order in ("fro", "nuc", 2, -2, 1, -1, np.inf, -np.inf):
        np.testing.assert_allclose(linalg.matrix_norm(_t(a), order).numpy(), np.linalg.norm(a, order, axis=(-2, -1)),
                                   rtol=1e-12, err_msg=str(order))
    assert dlcore.autograd.gradcheck(linalg.svdvals, [_t(a, True)])
    # U and V are defined up to a sign per column: differentiate sign-invariant functions of them
    assert dlcore.autograd.gradcheck(lambda m: linalg.svd(m, full_matrices=False)[0] ** 2, [_t(a, True)])
    assert dlcore.autograd.gradcheck(lambda m: linalg.svd(m, full_matrices=False)[2] ** 2, [_t(a, True)])
    assert dlcore.autograd.gradcheck(linalg.pinv, [_t(a, True)])
    assert dlcore.autograd.gradcheck(lambda m: linalg.matrix_norm(m, "nuc"), [_t(a, True)])


@pytest.mark.parametrize("shape", [(5, 3), (4, 4), (2, 6, 3)])
def test_qr(rng, shape):
    a = rng.standard_normal(shape)
    q, r = linalg.qr(_t(a))
    np.testing.assert_allclose(q.numpy() @ r.numpy(), a, atol=1e-12)
    np.testing.assert_allclose(np.abs(r.numpy()), np.abs(np.linalg.qr(a)[1]), atol=1e-12)
    assert np.allclose(np.tril(r.numpy(), -1), 0)
    assert dlcore.autograd.gradcheck(lambda m: linalg.qr(m)[0], [_t(a, True)])
    assert dlcore.autograd.gradcheck(lambda m: linalg.qr(m)[1], [_t(a, True)])


def test_lstsq_rank_and_refusals(rng):
    a, b = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    np.testing.assert_allclose(linalg.lstsq(_t(a), _t(b)).solution.numpy(), np.linalg.lstsq(a, b, rcond=None)[0],
                               atol=1e-12)
    low_rank = a @ a.T
    assert linalg.matrix_rank(_t(low_rank)).item() == np.linalg.matrix_rank(low_rank) == 3
    np.testing.assert_allclose(linalg.norm(_t(a), "nuc").numpy(), np.linalg.norm(a, "nuc"))
    with pytest.raises(NotImplementedError, match="full_matrices"):
        linalg.svd(_t(a))
    with pytest.raises(NotImplementedError, match="wide"):
        linalg.qr(_t(a.T, True))[1].sum().backward()


def test_tensor_method_spellings(rng, mats):
    _, spd, b, _ = mats
    lower = np.linalg.cholesky(spd)
    for upper in (False, True):
        factor = _t(lower.swapaxes(-1, -2) if upper else lower)
        np.testing.assert_allclose(_t(b).cholesky_solve(factor, upper=upper).numpy(), np.linalg.solve(spd, b),
                                   rtol=1e-11)
        np.testing.assert_allclose(factor.cholesky_inverse(upper=upper).numpy(), np.linalg.inv(spd), rtol=1e-11)
    assert dlcore.autograd.gradcheck(lambda r, f: r.cholesky_solve(f), [_t(b, True), _t(lower, True)])
    a = rng.standard_normal((4, 3))
    u, s, v = _t(a).svd()
    np.testing.assert_allclose((u.numpy() * s.numpy()) @ v.numpy().T, a, atol=1e-12)  # V, not V^T
    np.testing.assert_allclose(_t(a).pinverse().numpy(), np.linalg.pinv(a), atol=1e-12)
    np.testing.assert_array_equal(_t(np.array([-1.0, 0.0, 2.0])).angle().numpy(), [np.pi, 0.0, 0.0])
    # Gamma_2(2.5) = pi^(1/2) Gamma(2.5) Gamma(2), Gamma(2.5) = 0.75 sqrt(pi)
    np.testing.assert_allclose(_t(np.array([2.5])).mvlgamma(2).numpy(),
                               [0.5 * np.log(np.pi) + np.log(0.75 * np.sqrt(np.pi))], rtol=1e-12)


def test_solve_second_derivative_with_a_broadcast_right_hand_side(mats):
    a, _, b, _ = mats

    def first(m, r):
        (gm, gr) = dlcore.autograd.grad((linalg.solve(m, r) ** 2).sum(), [m, r], create_graph=True)
        return dlcore.cat([gm.reshape(-1), gr.reshape(-1)])

    assert dlcore.autograd.gradcheck(first, [_t(a, True), _t(b[0], True)])


def test_solve_refuses_mismatched_shapes_clearly(mats):
    a = mats[0]
    with pytest.raises(ValueError, match="B needs 4 rows"):
        linalg.solve(_t(a), _t(np.ones(3)))
    with pytest.raises(ValueError, match="B needs 4 columns"):
        linalg.solve(_t(a), _t(np.ones((2, 3))), left=False)


# ---- matrix_exp ---------------------------------------------------------------------------------------------
def _expm_taylor(a, terms=80):
    out, term = np.eye(a.shape[-1]), np.eye(a.shape[-1])
    for k in range(1, terms):
        term = term @ a / k
        out = out + term
    return out


@pytest.mark.parametrize("scale", (1e-3, 0.7, 3.0, 25.0))  # 25: ||A||_1 past theta_13, so A is scaled and squared
def test_matrix_exp_values(rng, scale):
    # symmetric matrices against V exp(w) V^T; general ones against the Taylor series (small norms) and
    # exp(A) exp(-A) = I (any norm); batched, each matrix with its own scaling.
    sym = rng.standard_normal((3, 5, 5)) * scale
    sym = sym + sym.swapaxes(-1, -2)
    w, v = np.linalg.eigh(sym)
    want = (v * np.exp(w)[..., None, :]) @ v.swapaxes(-1, -2)
    np.testing.assert_allclose(linalg.matrix_exp(_t(sym, False)).numpy(), want, rtol=1e-11,
                               atol=1e-13 * np.abs(want).max())
    a = rng.standard_normal((2, 3, 3)) * scale
    got = linalg.matrix_exp(_t(a, False)).numpy()
    if scale < 2:
        np.testing.assert_allclose(got, np.stack([_expm_taylor(m) for m in a]), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(got @ linalg.matrix_exp(_t(-a, False)).numpy(),
                                   np.broadcast_to(np.eye(3), a.shape), atol=1e-13 * np.abs(got).max())
    got32 = linalg.matrix_exp(_t(a.astype(np.float32), False)).numpy()
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, got, rtol=2e-5 * max(1, scale), atol=1e-6 * np.abs(got).max())


def test_matrix_exp_exact_cases():
    n = np.triu(np.arange(1.0, 17.0).reshape(4, 4), 1)  # nilpotent: the series stops at N^3 / 6
    np.testing.assert_allclose(linalg.matrix_exp(_t(n, False)).numpy(), np.eye(4) + n + n @ n / 2 + n @ n @ n / 6,
                               rtol=1e-14)
    rot = np.array([[0.0, -1.0], [1.0, 0.0]]) * 0.3  # a rotation generator
    np.testing.assert_allclose(linalg.matrix_exp(_t(rot, False)).numpy(),
                               [[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]], rtol=1e-15, atol=1e-16)
    assert linalg.matrix_exp(_t(np.zeros((2, 0, 0)), False)).shape == (2, 0, 0)
    assert np.isnan(linalg.matrix_exp(_t(np.array([[np.nan, 0.0], [0.0, 1.0]]), False)).numpy()).all()
    with pytest.raises(ValueError, match="square"):
        linalg.matrix_exp(_t(np.zeros((2, 3)), False))


def test_matrix_exp_gradients(rng):
    a = rng.standard_normal((2, 4, 4))
    assert dlcore.autograd.gradcheck(linalg.matrix_exp, [_t(a)])
    assert dlcore.autograd.gradcheck(linalg.matrix_exp, [_t(a * 4)])  # through the squarings
    # twice: the gradient (a matrix_exp of a block matrix on the tape) checked by finite differences
    g = rng.standard_normal((4, 4))

    def first(m):
        (grad,) = dlcore.autograd.grad((linalg.matrix_exp(m) * _t(g, False)).sum(), m, create_graph=True)
        return grad

    assert dlcore.autograd.gradcheck(first, [_t(a[0])])


def test_matrix_exp_as_method_and_function(rng):
    a = rng.standard_normal((3, 3))
    want = linalg.matrix_exp(_t(a, False)).numpy()
    np.testing.assert_array_equal(_t(a, False).matrix_exp().numpy(), want)
    np.testing.assert_array_equal(dlcore.matrix_exp(_t(a, False)).numpy(), want)


# ---- cond, multi_dot, vecdot, vander, tensorinv / tensorsolve, LinAlgError (against NumPy) ----------------
@pytest.mark.parametrize("p", (None, 2, -2, "fro", "nuc", 1, -1, np.inf, -np.inf))
def test_cond(rng, p):
    a = rng.standard_normal((2, 4, 4))
    np.testing.assert_allclose(linalg.cond(_t(a, False), p).numpy(), np.linalg.cond(a, p), rtol=1e-12)
    if p in (None, 2):
        assert dlcore.autograd.gradcheck(lambda m: linalg.cond(m, p), [_t(a)])


def test_multi_dot_vecdot_vander(rng):
    v, b = rng.standard_normal(4), rng.standard_normal((4, 30))
    c, w = rng.standard_normal((30, 2)), rng.standard_normal(2)
    for ts in ([v, b, c, w], [b.T, b, c], [b, c]):
        np.testing.assert_allclose(linalg.multi_dot([_t(x, False) for x in ts]).numpy(), np.linalg.multi_dot(ts),
                                   rtol=1e-12)
    with pytest.raises(ValueError, match="do not chain"):
        linalg.multi_dot([_t(b, False), _t(b, False)])
    a = rng.standard_normal((3, 5, 4))
    np.testing.assert_allclose(linalg.vecdot(_t(a, False), _t(v, False)).numpy(), (a * v).sum(-1), rtol=1e-14)
    np.testing.assert_allclose(linalg.vander(_t(v, False)).numpy(), np.vander(v, increasing=True), rtol=1e-14)
    np.testing.assert_allclose(linalg.vander(_t(a[0], False), N=6).numpy(),
                               np.stack([np.vander(r, 6, increasing=True) for r in a[0]]), rtol=1e-14)
    assert dlcore.autograd.gradcheck(lambda x: linalg.multi_dot([x, _t(b, False), _t(c, False)]), [_t(v)])


def test_tensorinv_tensorsolve_and_singular_errors(rng):
    t4 = rng.standard_normal((4, 6, 8, 3))
    np.testing.assert_allclose(linalg.tensorinv(_t(t4, False), 2).numpy(), np.linalg.tensorinv(t4, 2), rtol=1e-9)
    a, b = rng.standard_normal((2, 6, 4, 3, 4)), rng.standard_normal((6, 4))
    np.testing.assert_allclose(linalg.tensorsolve(_t(a, False), _t(b, False), dims=(0,)).numpy(),
                               np.linalg.tensorsolve(a, b, axes=(0,)), rtol=1e-9)
    a2 = rng.standard_normal((6, 4, 2, 3, 4))
    np.testing.assert_allclose(linalg.tensorsolve(_t(a2, False), _t(b, False)).numpy(),
                               np.linalg.tensorsolve(a2, b), rtol=1e-9)
    with pytest.raises(ValueError, match="prod"):
        linalg.tensorinv(_t(rng.standard_normal((2, 3, 4)), False), 1)
    with pytest.raises(linalg.LinAlgError):
        linalg.inv(_t(np.zeros((3, 3)), False))
    with pytest.raises(linalg.LinAlgError):
        linalg.solve(_t(np.ones((2, 2)), False), _t(np.ones(2), False))


# ---- LU -------------------------------------------------------------------------------------------------------
def test_lu_factor_and_lu(rng):
    a = rng.standard_normal((2, 3, 5, 5))
    packed, pivots = linalg.lu_factor(_t(a, False))
    assert pivots.numpy().dtype == np.int32 and pivots.shape == (2, 3, 5)
    p, lower, upper = linalg.lu(_t(a, False))
    p, lower, upper = p.numpy(), lower.numpy(), upper.numpy()
    np.testing.assert_allclose(p @ lower @ upper, a, atol=1e-13)
    np.testing.assert_array_equal(np.triu(lower, 1), 0)
    np.testing.assert_array_equal(np.diagonal(lower, axis1=-2, axis2=-1), 1)
    assert np.abs(lower).max() <= 1  # partial pivoting: every multiplier at most 1 in size
    np.testing.assert_array_equal(np.tril(upper, -1), 0)
    np.testing.assert_allclose(np.tril(packed.numpy(), -1) + np.triu(packed.numpy()), lower - np.eye(5) + upper,
                               atol=1e-15)
    np.testing.assert_array_equal(p.sum(-1), 1)
    np.testing.assert_array_equal(p.sum(-2), 1)
    # LAPACK's choices by hand: [[1, 2], [3, 4]] swaps rows 1 and 2 (pivot 3), then keeps row 2
    packed, pivots = linalg.lu_factor(_t(np.array([[1.0, 2.0], [3.0, 4.0]]), False))
    np.testing.assert_allclose(packed.numpy(), [[3.0, 4.0], [1 / 3, 2 / 3]], rtol=1e-15)
    np.testing.assert_array_equal(pivots.numpy(), [2, 2])
    singular = np.array([[0.0, 1.0, 2.0], [0.0, 3.0, 4.0], [0.0, 5.0, 7.0]])  # a zero column: factors anyway
    p, lower, upper = linalg.lu(_t(singular, False))
    np.testing.assert_allclose(p.numpy() @ lower.numpy() @ upper.numpy(), singular, atol=1e-14)
    assert upper.numpy()[0, 0] == 0
    with pytest.raises(ValueError, match="square"):
        linalg.lu_factor(_t(np.zeros((2, 3)), False))
    with pytest.raises(NotImplementedError, match="pivot=False"):
        linalg.lu_factor(_t(a, False), pivot=False)


def test_lu_solve_every_side(rng):
    a, b = rng.standard_normal((2, 4, 4)), rng.standard_normal((2, 4, 3))
    packed, pivots = linalg.lu_factor(_t(a, False))
    np.testing.assert_allclose(linalg.lu_solve(packed, pivots, _t(b, False)).numpy(), np.linalg.solve(a, b),
                               rtol=1e-10)
    np.testing.assert_allclose(linalg.lu_solve(packed, pivots, _t(b, False), adjoint=True).numpy(),
                               np.linalg.solve(a.swapaxes(-1, -2), b), rtol=1e-10)
    bt = b.swapaxes(-1, -2)
    np.testing.assert_allclose(linalg.lu_solve(packed, pivots, _t(bt, False), left=False).numpy() @ a, bt,
                               atol=1e-12)
    with pytest.raises(ValueError, match="rows"):
        linalg.lu_solve(packed, pivots, _t(rng.standard_normal((2, 3, 3)), False))


def test_lu_gradients(rng):
    a, b = rng.standard_normal((2, 4, 4)) + 2 * np.eye(4), rng.standard_normal((2, 4, 2))
    assert dlcore.autograd.gradcheck(lambda m: linalg.lu_factor(m)[0], [_t(a)])
    assert dlcore.autograd.gradcheck(lambda m: linalg.lu(m)[1] * 2 + linalg.lu(m)[2], [_t(a)])
    assert dlcore.autograd.gradcheck(lambda m, r: linalg.lu_solve(*linalg.lu_factor(m), r), [_t(a), _t(b)])
    assert dlcore.autograd.gradcheck(lambda m, r: linalg.lu_solve(*linalg.lu_factor(m), r, adjoint=True),
                                     [_t(a), _t(b)])


def test_ex_variants_report_info_instead_of_raising(rng):
    # info as LAPACK's: the first leading minor that is not positive-definite (cholesky), U's first zero
    # pivot (inv, solve); those matrices come back NaN, the others exact, and differentiable
    spd = rng.standard_normal((4, 4))
    spd = spd @ spd.T + np.eye(4)
    not_pd = spd.copy()
    not_pd[2, 2] = -100.0
    L, info = linalg.cholesky_ex(_t(np.stack([spd, not_pd]), False))
    np.testing.assert_array_equal(info.numpy(), [0, 3])
    np.testing.assert_allclose(L.numpy()[0], np.linalg.cholesky(spd), rtol=1e-13)
    assert np.isnan(L.numpy()[1]).all()
    singular = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
    good = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    a = np.stack([good, singular])
    inverse, info = linalg.inv_ex(_t(a, False))
    np.testing.assert_array_equal(info.numpy(), [0, 3])
    np.testing.assert_allclose(inverse.numpy()[0], np.linalg.inv(good), rtol=1e-12)
    assert np.isnan(inverse.numpy()[1]).all()
    b = rng.standard_normal((2, 3, 2))
    x, info = linalg.solve_ex(_t(a, False), _t(b, False))
    np.testing.assert_array_equal(info.numpy(), [0, 3])
    np.testing.assert_allclose(x.numpy()[0], np.linalg.solve(good, b[0]), rtol=1e-12)
    with pytest.raises(linalg.LinAlgError, match="singular"):
        linalg.inv_ex(_t(a, False), check_errors=True)
    with pytest.raises(linalg.LinAlgError, match="positive-definite"):
        linalg.cholesky(_t(not_pd, False))
    assert dlcore.autograd.gradcheck(lambda m: linalg.inv_ex(m).inverse, [_t(good)])


def test_new_factorizations_refuse_integer_tensors():
    # they compute in the input's dtype: an integer matrix would truncate (matrix_exp returned integers)
    a = dlcore.tensor(np.array([[3, 1], [1, 2]], dtype=np.int64))
    ones = dlcore.tensor(np.ones((2, 1), dtype=np.int64))
    for call in (lambda: linalg.matrix_exp(a), lambda: a.matrix_exp(), lambda: linalg.lu_factor(a),
                 lambda: linalg.lu(a), lambda: linalg.inv_ex(a), lambda: linalg.cholesky_ex(a),
                 lambda: linalg.solve_ex(a, ones), lambda: linalg.householder_product(a, dlcore.tensor(np.ones(2)))):
        with pytest.raises(TypeError, match="floating-point"):
            call()
    packed, pivots = linalg.lu_factor(dlcore.tensor(np.array([[3.0, 1.0], [1.0, 2.0]])))
    with pytest.raises(TypeError, match="floating-point"):
        linalg.lu_solve(packed, pivots, ones)
