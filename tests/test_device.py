"""Devices on any machine: Tensor.to / Module.to semantics, and clear errors where no GPU can be used.

The GPU side (results on "cuda" equal to the CPU's) is tests/test_cuda_python.py.
"""
import numpy as np
import pytest

import dlcore
from dlcore import nn, optim
from dlcore.data import DataLoader, TensorDataset

CUDA = dlcore.backends()["cuda"]
no_gpu = pytest.mark.skipif(CUDA["available"], reason="the CUDA backend is usable here")


# ---------------------------------------------------------------------------- Tensor.to
def test_to_cpu_is_identity():
    t = dlcore.randn(3, requires_grad=True)
    assert t.device == "cpu" and not t.is_cuda
    assert t.to("cpu") is t and t.to("cpu:0") is t and t.cpu() is t
    assert t.to(dlcore.float32) is t and t.to(device="cpu", dtype=np.float32) is t and t.to(t) is t


def test_to_copy_true_gives_a_new_array():
    t = dlcore.tensor([1.0, 2.0])
    c = t.to("cpu", copy=True)
    assert c is not t and c._data is not t._data
    c._data[0] = 5
    assert t.tolist() == [1.0, 2.0]


def test_to_float64_converts_and_the_gradient_comes_back_in_float32():
    x = dlcore.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x.to(dlcore.float64)
    assert y.dtype == np.float64 and y.device == "cpu" and not y.is_leaf
    np.testing.assert_array_equal(y.numpy(), [1.0, -2.0, 3.0])
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, -4.0, 6.0])
    assert x.double().dtype == np.float64 and x.double().float().dtype == np.float32


def test_to_an_integer_dtype_leaves_the_tape():
    x = dlcore.tensor([1.7, -2.2], requires_grad=True)
    n = x.to(dlcore.int64)
    assert n.dtype == np.int64 and not n.requires_grad and n.tolist() == [1, -2]
    assert x.long().tolist() == [1, -2]


def test_to_takes_another_tensors_device_and_dtype():
    x = dlcore.tensor([1.0, 2.0])
    assert x.to(dlcore.zeros(1, dtype=dlcore.float64)).dtype == np.float64


@pytest.mark.parametrize("device", ["gpu", "cuda:1", "cpu:3", "tpu", ""])
def test_unknown_devices_raise_value_error(device):
    with pytest.raises(ValueError, match="device"):
        dlcore.ones(2).to(device)


def test_bad_to_arguments_raise_type_error():
    with pytest.raises(TypeError, match="to\\(\\) expects"):
        dlcore.ones(2).to(3.5)
    with pytest.raises(TypeError, match="unexpected keyword"):
        dlcore.ones(2).to("cpu", memory_format=None)
    with pytest.raises(TypeError, match="device must be a string"):
        dlcore.zeros(2, device=0)


def test_creation_functions_take_device_cpu_and_like_functions_follow_the_input():
    for t in (dlcore.zeros(2, 3, device="cpu"), dlcore.ones(2, device="cpu"), dlcore.full((2,), 1.5, device="cpu"),
              dlcore.arange(4, device="cpu"), dlcore.randn(2, device="cpu"), dlcore.tensor([1.0], device="cpu")):
        assert isinstance(t._data, np.ndarray)
    x = dlcore.ones(2, 3, dtype=dlcore.float64)
    for made in (dlcore.zeros_like(x), dlcore.ones_like(x), dlcore.full_like(x, 7), dlcore.randn_like(x),
                 dlcore.rand_like(x)):
        assert made.shape == (2, 3) and made.dtype == np.float64 and made.device == "cpu"
    assert dlcore.full_like(x, 7).tolist() == [[7.0] * 3] * 2


def test_randn_like_draws_from_the_global_seed():
    x = dlcore.zeros(4, 2)
    dlcore.manual_seed(5)
    a = dlcore.randn_like(x)
    dlcore.manual_seed(5)
    np.testing.assert_array_equal(a.numpy(), dlcore.randn(4, 2).numpy())


def test_copy_into_a_tensor_and_comparisons_stay_on_device():
    t = dlcore.zeros(3)
    t.copy_(dlcore.tensor([1.0, 2.0, 3.0]))
    assert t.tolist() == [1.0, 2.0, 3.0] and (t > 1.5).tolist() == [False, True, True]


# ---------------------------------------------------------------------------- Module.to
def test_module_to_cpu_returns_self_and_keeps_parameter_objects():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    params = list(model.parameters())
    assert model.to("cpu") is model and model.cpu() is model
    assert list(model.parameters()) == params


def test_module_to_float64_casts_parameters_grads_and_buffers_in_place():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    opt = optim.SGD(model.parameters(), lr=0.1)  # built before the cast: it must still hold the parameters
    model(dlcore.randn(5, 3)).sum().backward()
    weight = model[0].weight
    assert model.to(dlcore.float64) is model and model[0].weight is weight
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in model.parameters())
    floating = [b for b in model.buffers() if np.issubdtype(b.dtype, np.floating)]
    assert floating and all(b.dtype == np.float64 for b in floating)
    # Integer buffers (BatchNorm's num_batches_tracked) keep their dtype, as in PyTorch.
    assert all(b.dtype == np.int64 for b in model.buffers() if not np.issubdtype(b.dtype, np.floating))
    opt.step()
    assert weight.dtype == np.float64
    assert model.float() is model and weight.dtype == np.float32


def test_module_to_an_integer_dtype_raises():
    with pytest.raises(TypeError, match="floating-point"):
        nn.Linear(2, 2).to(dlcore.int64)


def test_loss_class_weights_are_buffers_moved_with_the_module():
    loss_fn = nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0])
    assert [name for name, _ in loss_fn.named_buffers()] == ["weight"]
    loss_fn.to(dlcore.float32)
    assert loss_fn.weight.dtype == np.float32
    logits = dlcore.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    expected = nn.NLLLoss(weight=[1.0, 2.0, 3.0])(logits.log_softmax(1), [0, 2])
    assert loss_fn(logits, [0, 2]).item() == pytest.approx(expected.item())


def test_data_loader_delivers_on_its_device():
    loader = DataLoader(TensorDataset(np.arange(6, dtype=np.float32).reshape(3, 2), np.arange(3)), batch_size=2,
                        device="cpu")
    x, y = next(iter(loader))
    assert x.device == "cpu" and x.tolist() == [[0.0, 1.0], [2.0, 3.0]] and y.tolist() == [0, 1]


def test_fit_moves_batches_to_the_requested_device():
    from dlcore.train import evaluate, model_device

    model = nn.Linear(2, 3)
    assert model_device(model) == "cpu" and model_device(nn.ReLU()) == "cpu"
    loader = DataLoader(TensorDataset(np.ones((4, 2), np.float32), np.zeros(4, np.int64)), batch_size=2)
    loss, accuracy = evaluate(model, loader, device="cpu")
    assert np.isfinite(loss) and 0 <= accuracy <= 1


# ---------------------------------------------------------------------------- no GPU: clear errors
@no_gpu
def test_to_cuda_without_a_gpu_raises_the_backend_reason():
    t = dlcore.ones(2)
    with pytest.raises(dlcore.BackendUnavailableError, match="cannot use device 'cuda'") as info:
        t.to("cuda")
    message = str(info.value)  # the reason dlcore.backends() gives (worded by the import check when not built)
    assert CUDA["reason"] in message or (not CUDA["built"] and "not built" in message)
    for move in (t.cuda, lambda: t.to("cuda:0"), lambda: dlcore.zeros(2, device="cuda"),
                 lambda: dlcore.randn(2, device="cuda"), lambda: dlcore.tensor([1.0], device="cuda")):
        with pytest.raises(dlcore.BackendUnavailableError):
            move()
    assert isinstance(dlcore.BackendUnavailableError("x"), RuntimeError)


@no_gpu
def test_module_to_cuda_without_a_gpu_raises_and_leaves_the_module_on_the_cpu():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    with pytest.raises(dlcore.BackendUnavailableError, match="cannot use device 'cuda'"):
        model.to("cuda")
    with pytest.raises(dlcore.BackendUnavailableError):
        model.cuda()
    assert all(isinstance(t._data, np.ndarray) for t in list(model.parameters()) + list(model.buffers()))


@no_gpu
def test_loader_load_and_train_command_refuse_cuda_without_a_gpu(tmp_path):
    from dlcore.train import main

    with pytest.raises(dlcore.BackendUnavailableError):
        DataLoader(TensorDataset(np.ones((2, 1))), device="cuda")
    dlcore.save({"a": np.ones(2)}, tmp_path / "c.npz")
    with pytest.raises(dlcore.BackendUnavailableError):
        dlcore.load(tmp_path / "c.npz", map_location="cuda")
    with pytest.raises(dlcore.BackendUnavailableError):
        main(["--device", "cuda", "--epochs", "1", "--no-progress"])


def test_train_command_rejects_a_cpu_backend_with_device_cuda():
    from dlcore.train import main

    with pytest.raises(SystemExit):
        main(["--device", "cuda", "--backend", "ref", "--epochs", "1"])
