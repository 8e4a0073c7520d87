"""Test helpers: float64 references, poisoned outputs, tolerances, gradient checks.

Conventions (DESIGN.md §6): the truth is a float64 NumPy computation; outputs
are poisoned with NaN before a kernel runs so an unwritten element fails;
tolerances are atol + rtol * |ref|.
"""
import numpy as np

#: Sizes that hit every remainder of 8- and 16-wide vectors and the unrolls.
ODD_SIZES = (1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 129)


def randn(rng, *shape, dtype=np.float32, scale=1.0):
    """Random normal data, never all zeros."""
    return (rng.standard_normal(shape) * scale).astype(dtype)


def poisoned(shape, dtype=np.float32):
    """An output buffer full of NaN: any element a kernel forgets to write fails."""
    return np.full(shape, np.nan, dtype=dtype)


def assert_close(actual, expected, *, rtol=1e-5, atol=1e-6, what=""):
    """|actual - expected| <= atol + rtol * |expected| elementwise, NaN never passes."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert np.all(np.isfinite(actual) == np.isfinite(expected)), f"{what}: non-finite values differ"
    finite = np.isfinite(expected)
    err = np.abs(actual - expected)
    bound = atol + rtol * np.abs(expected)
    bad = finite & ~(err <= bound)
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        raise AssertionError(
            f"{what}: {bad.sum()} of {bad.size} elements off; worst rel err "
            f"{np.max(err[finite] / (np.abs(expected[finite]) + atol)):.3g}; first at {idx}: "
            f"got {actual[idx]!r}, expected {expected[idx]!r}")


def numerical_grad(f, x, eps=1e-6):
    """Central finite differences of scalar f at float64 array x (modified in place, restored)."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat = x.reshape(-1)
    g = grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return grad


def at_threads(n, fn):
    """fn() with dlcore's thread count set to n, restored after."""
    import dlcore

    before = dlcore.get_num_threads()
    try:
        dlcore.set_num_threads(n)
        return fn()
    finally:
        dlcore.set_num_threads(before)


def gemm_reference(a, b, ta, tb, alpha, beta, c0):
    """alpha op(A) op(B) + beta C0 in float64, and the same over absolute values (an error scale)."""
    a64 = a.astype(np.float64).T if ta else a.astype(np.float64)
    b64 = b.astype(np.float64).T if tb else b.astype(np.float64)
    scale = abs(alpha) * (np.abs(a64) @ np.abs(b64)) + abs(beta) * np.abs(c0)
    return alpha * (a64 @ b64) + beta * c0.astype(np.float64), scale


def check_linear_relu_threads(x, w, bias, backend="auto"):
    """relu(x W^T + bias) by linear_forward (the fused epilogue) on 1, 2 and 3 threads: the same
    bits each time, bitwise gemm + bias then relu_forward, and within float32 rounding of float64."""
    import dlcore.kernels as K

    outs = [at_threads(t, lambda: K.linear_forward(x, w, bias, activation="relu", backend=backend)) for t in (1, 2, 3)]
    for o in outs[1:]:
        np.testing.assert_array_equal(outs[0], o)
    np.testing.assert_array_equal(outs[0], K.relu_forward(K.gemm(x, w, trans_b=True, backend=backend) + bias, 0.0))
    ref = np.maximum(x.astype(np.float64) @ w.T.astype(np.float64) + bias, 0.0)
    np.testing.assert_allclose(outs[0], ref, rtol=1e-4, atol=1e-4 * np.sqrt(x.shape[1]))
