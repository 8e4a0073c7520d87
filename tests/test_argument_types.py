"""Wrong argument types get a clear TypeError/ValueError naming the argument (issue 18: the fuzz's
"unclear" messages), never pybind11's "incompatible function arguments" or an AttributeError from inside.

Kernel wrappers convert scalar hyper-parameters once (dlcore/kernels/_dispatch.py int_arg, float_arg,
bool_arg; int-or-tuple ones are bindings/args.h's); layer functions check their Tensor arguments at entry.
"""
import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F

K = dlcore.kernels
X = np.random.default_rng(3).standard_normal((2, 4, 5, 5)).astype(np.float32)

KERNEL_CASES = [
    # (call, exception, message)
    (lambda: K.lrn_forward(X, 2.5), TypeError, "lrn_forward: size must be an int, got float"),
    (lambda: K.lrn_forward(X, True), TypeError, "size must be an int, got bool"),
    (lambda: K.lrn_forward(X, 2**64), ValueError, "size = 18446744073709551616 is outside the int64 range"),
    (lambda: K.lrn_forward(X, 3, alpha="1"), TypeError, "alpha must be a real number, got str"),
    (lambda: K.lrn_forward(X, 3, region=None), TypeError, "region must be 'across' or 'within'"),
    (lambda: K.lrn_backward(X, X, 3, alpha_over_size="yes"), TypeError, "alpha_over_size must be a bool"),
    (lambda: K.softmax_forward(X, 1.0), TypeError, "softmax_forward: axis must be an int, got float"),
    (lambda: K.log_softmax_forward(X, 2**63), ValueError, "axis = .* is outside the int64 range"),
    (lambda: K.relu_forward(X, None), TypeError, "negative_slope must be a real number, got NoneType"),
    (lambda: K.elu_forward(X, [1.0]), TypeError, "alpha must be a real number, got list"),
    (lambda: K.maxout_forward(X, 2.0), TypeError, "pool_size must be an int, got float"),
    (lambda: K.gemm(X[0, 0], X[0, 0], trans_a=2), TypeError, "trans_a must be a bool"),
    (lambda: K.gemm(X[0, 0], X[0, 0], alpha="2"), TypeError, "gemm: alpha must be a real number"),
    (lambda: K.max_pool2d_forward(X, 2, ceil_mode="no"), TypeError, "ceil_mode must be a bool"),
    (lambda: K.conv2d_forward(X, X[:2, :, :3, :3], groups=2.0), TypeError, "groups must be an int, got float"),
    (lambda: K.conv2d_forward(X, X[:2, :, :3, :3], groups=2**64), ValueError, "groups = .* outside the int64"),
    (lambda: K.dropout_forward(X, "0.5", 7), TypeError, "p must be a real number, got str"),
    (lambda: K.dropout_forward(X, 0.5, -1), ValueError, r"seed = -1 must be in \[0, 2\*\*64\)"),
    (lambda: K.cross_entropy_forward(X[0, 0], np.zeros(5, np.int64), label_smoothing=None), TypeError,
     "label_smoothing must be a real number"),
]


@pytest.mark.parametrize("i", range(len(KERNEL_CASES)))
def test_kernel_scalar_arguments_are_named(i):
    call, exc, match = KERNEL_CASES[i]
    with pytest.raises(exc, match=match) as info:
        call()
    assert "incompatible function arguments" not in str(info.value)


def test_scalars_of_numpy_types_are_accepted():
    y = K.lrn_forward(X, np.int64(3), alpha=np.float32(1e-4), alpha_over_size=np.bool_(True))
    np.testing.assert_array_equal(y, K.lrn_forward(X, 3))
    np.testing.assert_array_equal(K.softmax_forward(X, np.int32(1)), K.softmax_forward(X, 1))


@pytest.mark.parametrize("fn,args", [
    (F.relu, ("x",)), (F.sigmoid, ([1.0, 2.0],)), (F.softmax, (None,)), (F.linear, (1.5, "w")),
    (F.max_pool2d, ([[1.0]], 2)), (F.local_response_norm, ("x", 3)), (F.maxout, (True, 2)),
])
def test_layer_functions_name_a_non_tensor_argument(fn, args):
    with pytest.raises(TypeError, match=rf"{fn.__name__}\(\): argument 'input' must be a dlcore.Tensor, got"):
        fn(*args)


def test_layer_weight_and_bias_are_checked_and_optional_bias_may_be_none():
    x = dlcore.randn(3, 4)
    w = dlcore.randn(2, 4)
    with pytest.raises(TypeError, match="linear\\(\\): argument 'weight' must be a dlcore.Tensor, got str"):
        F.linear(x, "w")
    with pytest.raises(TypeError, match="argument 'bias' must be a dlcore.Tensor, got list"):
        F.linear(x, w, [0.0, 0.0])
    assert F.linear(x, w, None).shape == (3, 2)
    assert F.linear(input=x, weight=w).shape == (3, 2)
