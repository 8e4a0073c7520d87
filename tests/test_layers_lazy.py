"""Lazy layers, nn.Buffer, DataParallel (one device), NLLLoss2d, SyncBatchNorm's name in nn."""
import numpy as np
import pytest

import dlcore
from dlcore import nn


@pytest.mark.parametrize("lazy, real, args, shape", [
    (nn.LazyLinear, nn.Linear, (4,), (3, 5)),
    (nn.LazyConv1d, nn.Conv1d, (4, 3), (2, 3, 9)),
    (nn.LazyConv2d, nn.Conv2d, (4, 3), (2, 6, 8, 8)),
    (nn.LazyConv2d, nn.Conv2d, (4, 3, 1, 1, 1, 2), (2, 6, 8, 8)),  # groups=2
    (nn.LazyConvTranspose1d, nn.ConvTranspose1d, (4, 3), (2, 3, 5)),
    (nn.LazyConvTranspose2d, nn.ConvTranspose2d, (4, 3), (2, 3, 5, 5)),
    (nn.LazyBatchNorm1d, nn.BatchNorm1d, (), (5, 3)),
    (nn.LazyBatchNorm2d, nn.BatchNorm2d, (), (2, 3, 4, 4)),
    (nn.LazyInstanceNorm2d, nn.InstanceNorm2d, (1e-5, 0.1, True), (2, 3, 4, 4)),
    (nn.LazyInstanceNorm1d, nn.InstanceNorm1d, (), (2, 3, 5)),  # no parameters at all: still initialized
    (nn.LazyConv3d, nn.Conv3d, (4, 2), (1, 3, 3, 4, 4)),
    (nn.LazyConvTranspose3d, nn.ConvTranspose3d, (2, 2), (1, 3, 2, 3, 3)),
    (nn.LazyBatchNorm3d, nn.BatchNorm3d, (), (2, 3, 2, 2, 2)),
    (nn.LazyInstanceNorm3d, nn.InstanceNorm3d, (1e-5, 0.1, True), (2, 3, 2, 3, 3)),
])
def test_lazy_layer_becomes_the_real_one(rng, lazy, real, args, shape):
    x = dlcore.tensor(rng.standard_normal(shape).astype(np.float32))
    m = lazy(*args)
    params_before = list(m.parameters())
    assert m.has_uninitialized_params()
    opt = dlcore.optim.SGD(params_before, lr=0.1) if params_before else None
    y = m(x)
    assert type(m) is real
    size = shape[-1] if real is nn.Linear else shape[1]
    reference = real(size, *args)
    shapes = [(k, v.shape) for k, v in m.state_dict().items()]
    assert shapes == [(k, v.shape) for k, v in reference.state_dict().items()]
    assert all(a is b for a, b in zip(params_before, m.parameters()))  # the same objects, now filled
    if params_before:
        y.sum().backward()
        before = [p.numpy().copy() for p in params_before]
        opt.step()  # the optimizer built before the first forward trains the materialized parameters
        assert any(not np.array_equal(b, p.numpy()) for b, p in zip(before, params_before))
    m.load_state_dict(reference.state_dict())
    np.testing.assert_allclose(m(x).numpy(), reference(x).numpy(), rtol=1e-6)


def test_lazy_linear_init_depends_on_the_inferred_size():
    dlcore.manual_seed(0)
    m = nn.LazyLinear(50)
    m(dlcore.zeros(2, 400))
    bound = 1 / np.sqrt(400)
    assert np.abs(m.weight.numpy()).max() <= bound and np.abs(m.weight.numpy()).max() > 0.9 * bound
    assert m.in_features == 400


def test_buffer_assignment_registers_buffers():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.kept = nn.Buffer(dlcore.ones(3))
            self.scratch = nn.Buffer(dlcore.zeros(2), persistent=False)

    m = Model()
    assert list(m.state_dict()) == ["kept"]
    assert [n for n, _ in m.named_buffers()] == ["kept", "scratch"]
    assert type(m.kept) is dlcore.Tensor


def test_data_parallel_on_one_device_and_names():
    inner = nn.Linear(2, 3)
    dp = nn.DataParallel(inner)
    x = dlcore.randn(4, 2)
    np.testing.assert_array_equal(dp(x).numpy(), inner(x).numpy())
    assert list(dp.state_dict()) == ["module.weight", "module.bias"]
    with pytest.raises(NotImplementedError, match="DistributedDataParallel"):
        nn.DataParallel(inner, device_ids=[0, 1])
    assert issubclass(nn.NLLLoss2d, nn.NLLLoss)
    assert nn.SyncBatchNorm.__name__ == "SyncBatchNorm"


def test_container_holds_keyword_modules():
    c = nn.Container(a=nn.Linear(2, 3), b=nn.ReLU())
    assert list(c.state_dict()) == ["a.weight", "a.bias"] and isinstance(c.b, nn.ReLU)
