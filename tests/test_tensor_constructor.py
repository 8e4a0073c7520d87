"""dlcore.Tensor(...) as torch.Tensor, the legacy float constructor, next to dlcore.tensor(...), which infers:
Python data gives float32, ints alone are a shape, no argument an empty tensor. Arrays, NumPy scalars and Tensors
keep their dtype (a documented difference: the library wraps its own arrays with Tensor(array))."""
import numpy as np
import pytest

import dlcore


@pytest.mark.parametrize("data, shape", [
    ([1, 2], (2,)), ([1.5, 2], (2,)), ([True, False], (2,)), ([[1, 2], [3, 4]], (2, 2)), ((2, 3), (2,)),
    (3.5, ()),
])
def test_python_data_gives_float32(data, shape):
    t = dlcore.Tensor(data)
    assert t.dtype == np.float32 and t.shape == shape
    np.testing.assert_array_equal(t.numpy(), np.asarray(data, dtype=np.float64))


def test_tensor_function_still_infers_int64():
    assert dlcore.tensor([1, 2]).dtype == np.int64
    assert dlcore.Tensor([1, 2]).dtype == np.float32


@pytest.mark.parametrize("size", [(2, 3), (5,), (0, 4), (1, 2, 3)])
def test_ints_alone_are_a_shape(size):
    t = dlcore.Tensor(*size)
    assert t.shape == size and t.dtype == np.float32 and not t.requires_grad


def test_no_argument_gives_an_empty_float_tensor():
    t = dlcore.Tensor()
    assert t.shape == (0,) and t.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.bool_, np.uint8, np.float32])
def test_arrays_scalars_and_tensors_keep_their_dtype_and_storage(dtype):
    a = np.arange(6).reshape(2, 3).astype(dtype)
    t = dlcore.Tensor(a)
    assert t.dtype == dtype and np.shares_memory(t.numpy(), a)
    assert dlcore.Tensor(a[0, 1]).dtype == dtype  # a NumPy scalar, as the ops' 0-d results
    again = dlcore.Tensor(t)
    assert again.dtype == dtype and np.shares_memory(again.numpy(), a)


def test_requires_grad_keyword_and_errors():
    assert dlcore.Tensor([1, 2], requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="negative"):
        dlcore.Tensor(2, -1)
    with pytest.raises(TypeError, match="ints only"):
        dlcore.Tensor(2, 3.0)
    with pytest.raises(TypeError, match="sizes follow an int"):
        dlcore.Tensor(np.zeros(2), 3)
    with pytest.raises(TypeError, match="numbers"):
        dlcore.Tensor(["a", "b"])
