"""The Python layer on the GPU: the same model code, moved with .to("cuda"), gives the CPU's results.

Skipped as a whole unless the CUDA backend is usable here (built, a GPU, CuPy).
Every check runs the same module, from the same seed, once on the CPU (our CPU
kernels, the reference here) and once on the GPU (dlcore._cuda), and compares
outputs, input and parameter gradients, buffers and optimizer steps within
float32 tolerance. CPU-only device checks (errors without a GPU) live in
tests/test_device.py.
"""
import numpy as np
import pytest

import dlcore

_INFO = dlcore.backends()["cuda"]
if not _INFO["available"]:
    pytest.skip(f"CUDA backend not usable here: {_INFO['reason']}", allow_module_level=True)
cp = pytest.importorskip("cupy")
from dlcore import _cuda, nn, optim  # noqa: E402  (only importable-and-usable past the skip)
from dlcore.nn import functional as F  # noqa: E402


def assert_close(got, ref, rtol=1e-4, what=""):
    """|got - ref| <= atol + rtol * |ref|, atol scaled by the largest |ref| (float32 sums cancel)."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != {ref.shape}"
    assert np.all(np.isfinite(got)), f"{what}: non-finite values"
    atol = 0.1 * rtol * (1.0 + (np.abs(ref).max() if ref.size else 0.0))
    err = np.abs(got - ref)
    bound = atol + rtol * np.abs(ref)
    assert np.all(err <= bound), f"{what}: max err {err.max():.3g}, worst ratio {np.max(err / bound):.3g}"


def assert_all_close(got: dict, ref: dict, rtol=1e-4):
    assert got.keys() == ref.keys()
    for name in ref:
        assert_close(got[name], ref[name], rtol, what=name)


# ---------------------------------------------------------------------------- Tensor.to
def test_to_round_trip_keeps_values_dtype_and_returns_self_when_unchanged(rng):
    a = rng.standard_normal((3, 5)).astype(np.float32)
    t = dlcore.tensor(a)
    g = t.to("cuda")
    assert g.device == "cuda" and g.is_cuda and isinstance(g._data, cp.ndarray) and g.dtype == np.float32
    assert g.to("cuda") is g and g.to("cuda:0") is g and g.cuda() is g
    back = g.cpu()
    assert back.device == "cpu" and isinstance(back._data, np.ndarray)
    np.testing.assert_array_equal(back.numpy(), a)
    both = t.to("cuda", dlcore.float64)
    assert both.device == "cuda" and both.dtype == np.float64
    np.testing.assert_array_equal(both.numpy(), a.astype(np.float64))
    assert "device='cuda:0'" in repr(g)
    ints = dlcore.tensor([1, 2, 3]).cuda()
    assert ints.dtype == np.int64 and ints.tolist() == [1, 2, 3]


def test_gradient_flows_back_through_to(rng):
    w = rng.standard_normal(6).astype(np.float32)
    x = dlcore.tensor(rng.standard_normal(6).astype(np.float32), requires_grad=True)  # CPU leaf
    y = x.to("cuda") * dlcore.tensor(w, device="cuda")
    assert y.device == "cuda" and not y.is_leaf
    y.sum().backward()
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), w, rtol=1e-6)

    z = dlcore.tensor(rng.standard_normal(4).astype(np.float32), requires_grad=True, device="cuda")  # GPU leaf
    (z.cpu().double() ** 2).sum().backward()
    assert z.grad.device == "cuda" and z.grad.dtype == np.float32
    np.testing.assert_allclose(z.grad.numpy(), 2 * z.numpy(), rtol=1e-6)


def test_creation_functions_follow_the_device_and_the_seed():
    dlcore.manual_seed(3)
    cpu = dlcore.randn(4, 5)
    dlcore.manual_seed(3)
    gpu = dlcore.randn(4, 5, device="cuda")
    assert gpu.device == "cuda"
    np.testing.assert_array_equal(gpu.numpy(), cpu.numpy())  # drawn on the host, then copied
    for made in (dlcore.zeros_like(gpu), dlcore.ones_like(gpu), dlcore.full_like(gpu, 2.5), dlcore.randn_like(gpu),
                 dlcore.rand_like(gpu), dlcore.zeros(2, device="cuda"), dlcore.arange(5, device="cuda")):
        assert made.device == "cuda"
    assert dlcore.full_like(gpu, 2.5).numpy().tolist() == [[2.5] * 5] * 4


def test_mixed_devices_raise_naming_both():
    a, b = dlcore.ones(3), dlcore.ones(3, device="cuda")
    with pytest.raises(RuntimeError, match="cpu and cuda"):
        a + b
    with pytest.raises(RuntimeError, match="cuda and cpu"):
        b * a
    with pytest.raises(RuntimeError, match="same device"):
        dlcore.cat([a, b])
    conv = nn.Conv2d(2, 3, 3)  # stays on the CPU
    with pytest.raises(RuntimeError, match="cuda and cpu"):
        conv(dlcore.randn(1, 2, 5, 5, device="cuda"))
    with pytest.raises(RuntimeError, match="same device"):
        F.cross_entropy(dlcore.randn(2, 3, device="cuda"), dlcore.tensor([0, 1]))


# ---------------------------------------------------------------------------- Module.to
def test_module_to_moves_parameters_grads_and_buffers_in_place():
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 3))
    params = list(model.parameters())
    model(dlcore.randn(2, 2, 3, 3)).sum().backward()
    assert model.to("cuda") is model
    assert list(model.parameters()) == params  # the same Parameter objects
    assert all(p.device == "cuda" and p.grad.device == "cuda" for p in params)
    assert all(b.device == "cuda" for b in model.buffers())
    assert model.cpu() is model and all(p.device == "cpu" for p in model.parameters())


def test_conv2d_layer_runs_on_the_cuda_conv_kernels(monkeypatch):
    calls = []
    for name in ("conv2d_forward", "conv2d_backward_data", "conv2d_backward_weights"):
        original = getattr(_cuda, name)
        monkeypatch.setattr(_cuda, name, lambda *a, _f=original, _n=name: calls.append(_n) or _f(*a))
    conv = nn.Conv2d(3, 4, 3, padding=1).to("cuda")
    x = dlcore.randn(2, 3, 6, 6, device="cuda", requires_grad=True)
    y = conv(x)
    assert y.device == "cuda"
    y.sum().backward()
    assert calls == ["conv2d_forward", "conv2d_backward_data", "conv2d_backward_weights"]


# ---------------------------------------------------------------------------- layers: GPU == CPU
def _bn_eval(bn_cls, c):
    m = bn_cls(c)
    r = np.random.default_rng(5)
    m.running_mean._data[...] = r.standard_normal(c).astype(np.float32)
    m.running_var._data[...] = r.uniform(0.5, 2.0, c).astype(np.float32)
    m.weight._data[...] = r.uniform(0.5, 1.5, c).astype(np.float32)
    return m.eval()


def _probs(*shape):
    return lambda r: 1 / (1 + np.exp(-r.standard_normal(shape))).astype(np.float32)


def _normal(*shape):
    return lambda r: r.standard_normal(shape).astype(np.float32)


def _labels(n, c):
    return lambda r: r.integers(0, c, n).astype(np.int64)


# name -> (module factory, input makers). Every float input requires grad.
LAYERS = {
    "linear": (lambda: nn.Linear(7, 5), [_normal(4, 7)]),
    "linear_3d_no_bias": (lambda: nn.Linear(6, 3, bias=False), [_normal(2, 5, 6)]),
    "conv": (lambda: nn.Conv2d(3, 6, 3), [_normal(2, 3, 9, 9)]),
    "conv_stride_pad_groups": (lambda: nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), [_normal(2, 4, 9, 8)]),
    "conv_rect_dilated_no_bias": (lambda: nn.Conv2d(3, 4, (3, 5), stride=(2, 1), padding=(1, 2), dilation=2,
                                                    bias=False), [_normal(2, 3, 11, 10)]),
    "conv_depthwise": (lambda: nn.Conv2d(4, 4, 3, padding=1, groups=4), [_normal(3, 4, 7, 7)]),
    "batchnorm2d_train": (lambda: nn.BatchNorm2d(3), [_normal(4, 3, 5, 5)]),
    "batchnorm2d_eval": (lambda: _bn_eval(nn.BatchNorm2d, 3), [_normal(4, 3, 5, 5)]),
    "batchnorm1d_train": (lambda: nn.BatchNorm1d(5), [_normal(8, 5)]),
    "batchnorm1d_eval": (lambda: _bn_eval(nn.BatchNorm1d, 5), [_normal(8, 5)]),
    "maxpool": (lambda: nn.MaxPool2d(2), [_normal(2, 3, 8, 8)]),
    "maxpool_pad_ceil": (lambda: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), [_normal(2, 3, 10, 9)]),
    "avgpool": (lambda: nn.AvgPool2d(2), [_normal(2, 3, 8, 8)]),
    "avgpool_pad_exclude": (lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
                            [_normal(2, 3, 9, 9)]),
    "relu": (lambda: nn.ReLU(), [_normal(3, 17)]),
    "leaky_relu": (lambda: nn.LeakyReLU(0.1), [_normal(3, 17)]),
    "prelu": (lambda: nn.PReLU(3, init=0.2), [_normal(2, 3, 4, 4)]),
    "elu": (lambda: nn.ELU(0.7), [_normal(3, 17)]),
    "sigmoid": (lambda: nn.Sigmoid(), [_normal(3, 17)]),
    "tanh": (lambda: nn.Tanh(), [_normal(3, 17)]),
    "maxout": (lambda: nn.Maxout(2), [_normal(2, 6, 3, 3)]),
    "lrn": (lambda: nn.LocalResponseNorm(5, alpha=1e-2, beta=0.75, k=2.0), [_normal(2, 7, 4, 4)]),
    "dropout_eval": (lambda: nn.Dropout(0.5).eval(), [_normal(4, 33)]),
    "dropout_train": (lambda: nn.Dropout(0.3), [_normal(4, 33)]),  # same seed: same Philox mask on both
    "softmax": (lambda: nn.Softmax(dim=1), [_normal(4, 9)]),
    "log_softmax": (lambda: nn.LogSoftmax(dim=1), [_normal(4, 9)]),
    "flatten": (lambda: nn.Flatten(), [_normal(2, 3, 4)]),
    "cross_entropy": (lambda: nn.CrossEntropyLoss(), [_normal(6, 5), _labels(6, 5)]),
    "cross_entropy_smoothing_sum": (lambda: nn.CrossEntropyLoss(label_smoothing=0.1, reduction="sum"),
                                    [_normal(6, 5), _labels(6, 5)]),
    "cross_entropy_weight": (lambda: nn.CrossEntropyLoss(weight=np.linspace(0.5, 2, 5).astype(np.float32)),
                             [_normal(6, 5), _labels(6, 5)]),
    "nll": (lambda: nn.NLLLoss(), [_normal(6, 5), _labels(6, 5)]),
    "mse": (lambda: nn.MSELoss(), [_normal(4, 3), _normal(4, 3)]),
    "l1": (lambda: nn.L1Loss(reduction="sum"), [_normal(4, 3), _normal(4, 3)]),
    "bce": (lambda: nn.BCELoss(), [_probs(4, 3), _probs(4, 3)]),
    "bce_logits": (lambda: nn.BCEWithLogitsLoss(pos_weight=dlcore.tensor([1.0, 2.0, 0.5])),
                   [_normal(4, 3), _probs(4, 3)]),
}


def forward_backward(factory, makers, device, dtype=np.float32):
    """Output, every gradient and buffer (host arrays) of one forward/backward on `device`."""
    dlcore.manual_seed(0)
    module = factory().to(device, dtype)
    r = np.random.default_rng(1)
    arrays = [m(r) for m in makers]
    inputs = [dlcore.tensor(a.astype(dtype) if a.dtype.kind == "f" else a, device=device,
                            requires_grad=a.dtype.kind == "f") for a in arrays]
    dlcore.manual_seed(1)  # dropout draws its seed from here
    out = module(*inputs)
    assert out.device == device
    weight = np.asarray(r.standard_normal(out.shape), dtype=out.dtype)
    (out * dlcore.tensor(weight, device=device)).sum().backward()
    result = {"out": out.numpy()}
    result.update({f"d_input{i}": t.grad.numpy() for i, t in enumerate(inputs) if t.grad is not None})
    result.update({f"d_{n}": p.grad.numpy() for n, p in module.named_parameters()})
    result.update({n: b.numpy() for n, b in module.named_buffers()})
    return result


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_forward_backward_matches_cpu(name):
    factory, makers = LAYERS[name]
    ref = forward_backward(factory, makers, "cpu")
    got = forward_backward(factory, makers, "cuda")
    assert_all_close(got, ref)


@pytest.mark.parametrize("name", ["conv_stride_pad_groups", "batchnorm2d_train", "batchnorm2d_eval", "maxpool_pad_ceil",
                                  "avgpool_pad_exclude", "maxout", "lrn", "prelu", "log_softmax", "cross_entropy",
                                  "nll", "bce", "dropout_train"])
def test_float64_reference_formulas_run_on_cupy(name):
    """float64 runs the NumPy-formula path (not the kernels); with CuPy arrays it must give the CPU's numbers."""
    factory, makers = LAYERS[name]
    ref = forward_backward(factory, makers, "cpu", np.float64)
    got = forward_backward(factory, makers, "cuda", np.float64)
    assert_all_close(got, ref, rtol=1e-9)


def test_indexing_max_and_reductions_match_cpu(rng):
    a = rng.standard_normal((5, 6)).astype(np.float32)

    def run(device):
        t = dlcore.tensor(a, device=device, requires_grad=True)
        values, indices = t.max(dim=1)
        out = t[[0, 2, 2], 1:4].sum() * 2 + values.sum() + t.mean(dim=0).sum() + t.max() + t.T[1].abs().sum()
        out.backward()
        return {"out": out.numpy(), "grad": t.grad.numpy(), "indices": indices.numpy()}

    assert_all_close(run("cuda"), run("cpu"))


def test_cuda_gaps_list_exactly_the_kernel_ops_dlcore_cuda_lacks():
    from dlcore.ops._common import CUDA_GAPS

    api_ops = set(dlcore.kernels.__all__) - {"last_dispatch", "vexp", "vlog", "vtanh",
                                                 "cast_f32_to_bf16", "cast_bf16_to_f32"}  # as test_functional's
    missing = {op for op in api_ops if not hasattr(_cuda, op)}
    assert missing == set(CUDA_GAPS)
    assert dlcore.backends()["cuda"]["runs_on_cupy"] == sorted(CUDA_GAPS)
    with dlcore.backend("cuda", strict=True), pytest.raises(dlcore.BackendUnavailableError, match="maxout_forward"):
        F.maxout(dlcore.randn(2, 4, device="cuda"), 2)


# ---------------------------------------------------------------------------- optimizers
OPTIMIZERS = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.1),
    "sgd_momentum_wd": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=1e-2),
    "sgd_nesterov_l1": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, l1=1e-3),
    "adam": lambda ps: optim.Adam(ps, lr=1e-2, weight_decay=1e-2),
    "adamw": lambda ps: optim.AdamW(ps, lr=1e-2),
    "rmsprop_centered_momentum": lambda ps: optim.RMSprop(ps, lr=1e-2, momentum=0.5, centered=True),
    "adagrad": lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01),
    "adadelta": lambda ps: optim.Adadelta(ps, weight_decay=1e-3),
}


def optimizer_steps(name, device, steps=3):
    r = np.random.default_rng(7)
    params = [nn.Parameter(dlcore.tensor(r.standard_normal(s).astype(np.float32), device=device))
              for s in [(4, 3), (5,)]]
    opt = OPTIMIZERS[name](params)
    for _ in range(steps):
        for p in params:
            p.grad = dlcore.tensor(r.standard_normal(p.shape).astype(np.float32), device=device)
        opt.step()
    assert all(p.device == device for p in params)
    result = {f"p{i}": p.numpy() for i, p in enumerate(params)}
    for i, state in opt.state_dict()["state"].items():
        result.update({f"state{i}_{k}": (cp.asnumpy(v) if isinstance(v, cp.ndarray) else np.asarray(v))
                       for k, v in state.items()})
    return result


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_steps_match_cpu(name):
    assert_all_close(optimizer_steps(name, "cuda"), optimizer_steps(name, "cpu"), rtol=1e-5)


def test_grad_clipping_matches_cpu(rng):
    grads = [rng.standard_normal(s).astype(np.float32) * 3 for s in [(7, 3), (11,)]]

    def run(device, clip):
        params = [nn.Parameter(dlcore.zeros(*g.shape, device=device)) for g in grads]
        for p, g in zip(params, grads):
            p.grad = dlcore.tensor(g, device=device)
        total = clip(params)
        return {"total": np.float64(total or 0.0), **{f"g{i}": p.grad.numpy() for i, p in enumerate(params)}}

    for clip in (lambda ps: optim.clip_grad_norm_(ps, 1.0), lambda ps: optim.clip_grad_norm_(ps, 2.0, float("inf")),
                 lambda ps: optim.clip_grad_value_(ps, 0.5)):
        assert_all_close(run("cuda", clip), run("cpu", clip), rtol=1e-5)


# ---------------------------------------------------------------------------- training end to end
def small_cnn():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=2), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(8 * 2 * 2, 5))


def train_small_cnn(device, make_optimizer, steps=20):
    """20 steps on a fixed random batch; returns (state dict as host arrays, losses)."""
    r = np.random.default_rng(11)
    x = dlcore.tensor(r.standard_normal((16, 3, 16, 16)).astype(np.float32), device=device)
    y = dlcore.tensor(r.integers(0, 5, 16), device=device)
    dlcore.manual_seed(0)
    model = small_cnn().to(device)  # moved before the optimizer is built, as in PyTorch
    opt = make_optimizer(model.parameters())
    scheduler = optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optim.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        scheduler.step()
        losses.append(loss.item())
    state = {k: (cp.asnumpy(v._data) if isinstance(v._data, cp.ndarray) else v._data) for k, v in model.state_dict().items()}
    return state, np.array(losses)


# Adam divides each step by sqrt(v): where a gradient is small, its last-bit CPU/GPU difference
# becomes a relative step difference, so 20 Adam steps drift a little further (seen: 1.04e-4) than SGD's.
@pytest.mark.parametrize("make_optimizer,rtol", [
    (lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-4), 1e-4),
    (lambda ps: optim.Adam(ps, lr=1e-2), 3e-4)], ids=["sgd", "adam"])
def test_small_cnn_trains_on_gpu_like_on_cpu(make_optimizer, rtol):
    cpu_state, cpu_losses = train_small_cnn("cpu", make_optimizer)
    gpu_state, gpu_losses = train_small_cnn("cuda", make_optimizer)
    assert gpu_losses[-5:].mean() < 0.8 * gpu_losses[:5].mean(), f"GPU loss did not decrease: {gpu_losses}"
    assert_close(gpu_losses, cpu_losses, rtol=1e-4, what="losses")
    assert_all_close(gpu_state, cpu_state, rtol=rtol)


def test_fit_with_a_cuda_data_loader_matches_cpu():
    from dlcore.data import DataLoader, TensorDataset
    from dlcore.train import fit

    r = np.random.default_rng(2)
    data = TensorDataset(r.standard_normal((40, 12)).astype(np.float32), r.integers(0, 3, 40))

    def run(device):
        dlcore.manual_seed(0)
        model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 3)).to(device)
        loader = DataLoader(data, batch_size=8, shuffle=True, seed=0, device=device)
        history = fit(model, loader, optim.SGD(model.parameters(), lr=0.1), epochs=2, test_loader=loader,
                      progress=False, log=None)
        assert all(p.device == device for p in model.parameters())
        return {k: np.array([row[k] for row in history]) for k in ("train_loss", "train_acc", "test_loss")}

    assert_all_close(run("cuda"), run("cpu"), rtol=1e-4)


def test_train_command_runs_with_device_cuda(capsys):
    pytest.importorskip("sklearn")
    from dlcore.train import main

    accuracy = main(["--device", "cuda", "--epochs", "2", "--no-progress"])
    assert "on cuda" in capsys.readouterr().out
    assert accuracy > 0.8


# ---------------------------------------------------------------------------- checkpoints
def test_checkpoint_saved_from_gpu_loads_on_cpu(tmp_path):
    dlcore.manual_seed(0)
    gpu_model = small_cnn().to("cuda")
    opt = optim.Adam(gpu_model.parameters())
    gpu_model(dlcore.randn(2, 3, 16, 16, device="cuda")).sum().backward()
    opt.step()
    dlcore.save({"model": gpu_model.state_dict(), "optim": opt.state_dict()}, tmp_path / "ckpt.npz")

    loaded = dlcore.load(tmp_path / "ckpt.npz")
    assert all(isinstance(v, np.ndarray) for v in loaded["model"].values())
    dlcore.manual_seed(1)  # different initial weights
    cpu_model = small_cnn()
    cpu_model.load_state_dict(loaded["model"])
    for (name, p), (_, q) in zip(cpu_model.state_dict().items(), gpu_model.state_dict().items()):
        np.testing.assert_array_equal(p, cp.asnumpy(q), err_msg=name)
    cpu_opt = optim.Adam(cpu_model.parameters())
    cpu_opt.load_state_dict(loaded["optim"])
    assert all(isinstance(v, np.ndarray) for s in cpu_opt.state.values() for v in s.values() if hasattr(v, "shape"))


def test_cpu_checkpoint_loads_into_gpu_model_on_its_device(tmp_path):
    dlcore.manual_seed(0)
    cpu_model = small_cnn()
    dlcore.save(cpu_model.state_dict(), tmp_path / "cpu.npz")
    dlcore.manual_seed(1)
    gpu_model = small_cnn().to("cuda")
    gpu_model.load_state_dict(dlcore.load(tmp_path / "cpu.npz"))
    for name, value in gpu_model.state_dict().items():
        assert isinstance(value, cp.ndarray), name
        np.testing.assert_array_equal(cp.asnumpy(value), cpu_model.state_dict()[name], err_msg=name)
    on_gpu = dlcore.load(tmp_path / "cpu.npz", map_location="cuda")
    assert all(isinstance(v, cp.ndarray) for v in on_gpu.values())
