"""torch's top-level runtime switches as dlcore has them (dlcore/_runtime.py)."""
import numpy as np
import pytest

import dlcore


def test_compile_returns_the_model_and_works_as_a_decorator():
    model = dlcore.nn.Linear(2, 3)
    assert dlcore.compile(model) is model
    assert dlcore.compile(model, mode="max-autotune", fullgraph=True) is model

    @dlcore.compile(dynamic=True)
    def double(x):
        return x * 2

    assert double(dlcore.ones(2)).tolist() == [2.0, 2.0]


def test_precision_and_determinism_settings_are_recorded():
    before = dlcore.get_float32_matmul_precision()
    dlcore.set_float32_matmul_precision("high")
    assert dlcore.get_float32_matmul_precision() == "high"
    dlcore.set_float32_matmul_precision(before)
    with pytest.raises(RuntimeError, match="highest"):
        dlcore.set_float32_matmul_precision("fast")
    dlcore.use_deterministic_algorithms(True)
    assert dlcore.are_deterministic_algorithms_enabled()
    dlcore.use_deterministic_algorithms(False)


def test_inference_mode_records_nothing():
    w = dlcore.ones(3, requires_grad=True)
    with dlcore.inference_mode():
        assert dlcore.is_inference_mode_enabled() and not dlcore.is_grad_enabled()
        assert not (w * 2).requires_grad
    assert dlcore.is_grad_enabled() and not dlcore.is_inference_mode_enabled()

    @dlcore.inference_mode()
    def predict(x):
        return x * w

    assert not predict(dlcore.ones(3)).requires_grad
    with dlcore.inference_mode(False):
        assert (w * 2).requires_grad


def test_generator_is_a_numpy_generator_with_torchs_methods():
    g = dlcore.Generator().manual_seed(7)
    assert g.initial_seed() == 7
    first = dlcore.randint(0, 1000, (5,), generator=g).tolist()
    state = g.get_state()
    second = dlcore.randint(0, 1000, (5,), generator=g).tolist()
    g.set_state(state)
    assert dlcore.randint(0, 1000, (5,), generator=g).tolist() == second
    assert dlcore.randint(0, 1000, (5,), generator=dlcore.Generator().manual_seed(7)).tolist() == first
    loader = dlcore.data.DataLoader(dlcore.data.TensorDataset(dlcore.arange(10)), batch_size=10, shuffle=True,
                                    generator=dlcore.Generator().manual_seed(1))
    assert sorted(next(iter(loader))[0].tolist()) == list(range(10))


def test_seeds_info_dtype_and_print_options():
    dlcore.manual_seed(123)
    assert dlcore.initial_seed() == 123
    s = dlcore.seed()
    assert dlcore.initial_seed() == s
    assert dlcore.finfo(dlcore.float32).eps == np.finfo(np.float32).eps and dlcore.finfo().bits == 32
    assert dlcore.iinfo(dlcore.int64).max == 2 ** 63 - 1
    assert dlcore.get_default_dtype() == np.float32
    dlcore.set_default_dtype(dlcore.float32)
    with pytest.raises(NotImplementedError, match="float32"):
        dlcore.set_default_dtype(dlcore.float64)
    try:
        dlcore.set_printoptions(precision=2)
        assert repr(dlcore.tensor([1.23456])) == "tensor([1.23])"
        dlcore.set_printoptions(threshold=4, edgeitems=1)
        assert "..." in repr(dlcore.arange(10))
    finally:
        dlcore.set_printoptions(profile="default")
    assert repr(dlcore.tensor([1.23456])) == "tensor([1.2346])"


def test_logspace_randint_like_poisson():
    np.testing.assert_allclose(dlcore.logspace(0, 2, 3).numpy(), [1, 10, 100])
    x = dlcore.zeros(4, 5)
    r = dlcore.randint_like(x, 3, 7)
    assert r.shape == (4, 5) and r.numpy().min() >= 3 and r.numpy().max() < 7
    counts = dlcore.poisson(dlcore.full((20000,), 3.0))
    assert abs(counts.numpy().mean() - 3.0) < 5 * (3.0 / 20000) ** 0.5
    with pytest.raises(ValueError, match="non-negative"):
        dlcore.poisson(dlcore.tensor([-1.0]))
