"""dlcore.nn: Module plumbing, layers' gradients (finite differences, float64), init, repr."""
import math

import numpy as np
import pytest

import dlcore
from dlcore import nn
from dlcore.autograd import gradcheck
from opcheck import randn


def layer_gradcheck(module, x):
    module.double()
    inputs = [dlcore.tensor(x.astype(np.float64), requires_grad=True)] + list(module.parameters())
    gradcheck(lambda *args: module(inputs[0]), inputs)


@pytest.mark.parametrize("make,shape", [
    (lambda: nn.Linear(9, 5), (3, 9)),
    (lambda: nn.Conv2d(3, 4, 3, padding=1, stride=2), (2, 3, 7, 5)),
    (lambda: nn.PReLU(3), (2, 3, 5)),
    (lambda: nn.BatchNorm1d(5), (7, 5)),
    (lambda: nn.BatchNorm2d(3), (4, 3, 3, 3)),
    (lambda: nn.Sequential(nn.Conv2d(2, 6, 3), nn.ELU(), nn.Maxout(2), nn.MaxPool2d(2), nn.Flatten(),
                           nn.Linear(12, 4), nn.Tanh(), nn.Linear(4, 3), nn.LogSoftmax(dim=1)), (2, 2, 6, 7)),
    (lambda: nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.LeakyReLU(0.1), nn.LocalResponseNorm(3),
                           nn.AvgPool2d(2), nn.Sigmoid(), nn.Flatten(), nn.Linear(16, 2), nn.Softmax(dim=1)),
     (2, 3, 4, 4)),
])
def test_layer_gradients(rng, make, shape):
    layer_gradcheck(make(), randn(rng, *shape, dtype=np.float64))


def test_module_registration_and_state_dict():
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2, bias=False))
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight"]
    # PyTorch's order: module by module, its parameters then its buffers
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                        "1.running_var", "1.num_batches_tracked", "3.weight"]
    assert len(list(model.children())) == 4
    assert model.num_parameters() == 12 + 3 + 3 + 3 + 6
    assert "total" in model.summary() and "27" in model.summary()
    assert repr(model).startswith("Sequential(\n  (0): Linear(in_features=4, out_features=3, bias=True)")
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_assigning_a_parameter_where_none_was_registered(rng):
    """Conv2d(bias=False) registers bias None; assigning a Parameter later must be what forward reads (PyTorch)."""
    conv = nn.Conv2d(2, 3, 3, bias=False)
    b = rng.standard_normal(3).astype(np.float32) + 1.0
    conv.bias = nn.Parameter(b)
    assert conv.bias is conv._parameters["bias"]
    x = dlcore.Tensor(rng.standard_normal((1, 2, 5, 5)).astype(np.float32))
    with dlcore.no_grad():
        with_bias = conv(x).numpy()
        conv.bias = None
        without = conv(x).numpy()
    np.testing.assert_allclose(with_bias - without, np.broadcast_to(b[:, None, None], (1, 3, 3, 3)), rtol=1e-5,
                               atol=1e-5)
    assert "bias" not in dict(conv.named_parameters())
    lin = nn.Linear(3, 2, bias=False)
    lin.register_buffer("bias", np.ones(2, np.float32))  # a buffer where None was registered: read as the buffer
    assert lin.bias is lin._buffers["bias"]


def test_shared_modules_as_torch_lists_them():
    """A layer reachable by two paths: named_modules/parameters/children once (first name), state_dict under
    both names (torch.nn.Module's rules), and a state dict saved that way loads back."""
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert [n for n, _ in model.named_modules()] == ["", "0", "1"]
    assert [n for n, _ in model.named_modules(remove_duplicate=False)] == ["", "0", "1", "2"]
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert [n for n, _ in model.named_parameters(remove_duplicate=False)] == ["0.weight", "0.bias", "2.weight",
                                                                             "2.bias"]
    assert [n for n, _ in model.named_children()] == ["0", "1"]
    state = model.state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert model.load_state_dict(state) == ([], [])
    calls = []
    model.apply(calls.append)
    assert len(calls) == 3  # shared, ReLU, the Sequential: each once


def test_non_persistent_buffers_and_buffer_assignment(rng):
    m = nn.Linear(3, 2)
    m.register_buffer("scratch", np.zeros(2, np.float32), persistent=False)
    m.register_buffer("count", np.zeros((), np.int64))
    assert [n for n, _ in m.named_buffers()] == ["scratch", "count"]
    assert list(m.state_dict()) == ["weight", "bias", "count"]
    result = m.load_state_dict({"weight": np.ones((2, 3), np.float32), "bias": np.ones(2, np.float32),
                                "count": np.ones((), np.int64)})
    assert result.missing_keys == [] and result.unexpected_keys == []
    with pytest.raises(KeyError, match="unexpected keys \\['scratch'\\]"):
        m.load_state_dict(dict(m.state_dict(), scratch=np.zeros(2, np.float32)))
    # assigning a Tensor to a buffer's name keeps it a buffer (a custom running statistic)
    m.count = dlcore.tensor(np.array(5, np.int64))
    assert m._buffers["count"] is m.count and int(m.state_dict()["count"].numpy()) == 5
    m.register_buffer("scratch", np.ones(2, np.float32))  # registered again, persistent by default
    assert "scratch" in m.state_dict()
    with pytest.raises(KeyError, match="without '.'"):
        m.register_buffer("a.b", np.zeros(1, np.float32))


def test_recurse_keep_vars_and_lookup_by_path():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.BatchNorm1d(3), nn.Linear(3, 1)))
    assert list(model.parameters(recurse=False)) == []
    assert [n for n, _ in model[1].named_parameters(prefix="head", recurse=False)] == []
    assert [n for n, _ in model[1][0].named_buffers(recurse=False)] == ["running_mean", "running_var",
                                                                        "num_batches_tracked"]
    assert model.state_dict(keep_vars=True)["0.weight"] is model[0].weight
    assert model.state_dict()["0.weight"] is not model[0].weight
    assert model.get_submodule("1.1") is model[1][1] and model.get_submodule("") is model
    assert model.get_parameter("1.1.bias") is model[1][1].bias
    assert model.get_buffer("1.0.running_var") is model[1][0].running_var
    with pytest.raises(AttributeError, match="no submodule '7'"):
        model.get_submodule("1.7")
    with pytest.raises(AttributeError, match="no parameter 'nope'"):
        model.get_parameter("0.nope")


def test_sequential_editing_as_torch():
    a, b, c, d = nn.Linear(1, 1), nn.ReLU(), nn.Linear(1, 1), nn.Tanh()
    seq = nn.Sequential(a, b, c)
    assert list(seq[1:]._modules) == ["1", "2"]  # a slice keeps the names (torch)
    del seq[0]
    assert list(seq._modules) == ["0", "1"] and seq[0] is b  # renumbered (torch)
    seq.insert(1, d)
    assert list(seq) == [b, d, c]
    assert seq.pop(0) is b and list(seq) == [d, c]
    seq.extend([a])
    seq[-1] = b
    assert list(seq) == [d, c, b] and list(seq._modules) == ["0", "1", "2"]
    with pytest.raises(TypeError, match="expected a Module"):
        seq.insert(0, "relu")


def test_parameter_list_and_dict(rng):
    plist = nn.ParameterList([nn.Parameter(rng.standard_normal(2).astype(np.float32)),
                              dlcore.tensor(rng.standard_normal(3).astype(np.float32))])
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in plist)
    pdict = nn.ParameterDict({"scale": np.ones(3, np.float32)})
    pdict["shift"] = np.zeros(3, np.float32)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.plist, self.pdict = plist, pdict

        def forward(self, x):
            return (x * self.pdict["scale"] + self.pdict["shift"] + self.plist[1]).sum() + self.plist[0].sum()

    net = Net()
    assert list(net.state_dict()) == ["plist.0", "plist.1", "pdict.scale", "pdict.shift"]
    net(dlcore.tensor(rng.standard_normal(3).astype(np.float32))).backward()
    assert all(p.grad is not None for p in net.parameters())
    with pytest.raises(IndexError):
        plist[2]
    with pytest.raises(KeyError):
        pdict["a.b"] = np.ones(1, np.float32)


def test_load_state_dict_checks_everything_before_writing():
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    before = {k: np.array(v) for k, v in b.state_dict().items()}
    bad = dict(a.state_dict())
    bad["bias"] = np.zeros(5, np.float32)
    with pytest.raises(ValueError, match="shape"):
        b.load_state_dict(bad)
    with pytest.raises(KeyError, match="missing"):
        b.load_state_dict({"weight": a.weight.numpy()})
    for wrong in ({"weight": a.weight.numpy()}, bad, dict(a.state_dict(), bias=np.zeros(2, np.int64))):
        with pytest.raises(RuntimeError, match="load_state_dict"):  # what torch raises: ported handlers catch it
            b.load_state_dict(wrong)
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    weight_array = b.weight._data
    b.load_state_dict(a.state_dict())
    assert b.weight._data is weight_array  # loaded in place (optimizers keep their references)
    np.testing.assert_array_equal(b.weight.numpy(), a.weight.numpy())


def test_batchnorm_eval_uses_running_stats(rng):
    bn = nn.BatchNorm1d(3)
    x = dlcore.tensor(randn(rng, 16, 3) * 2 + 1)
    bn(x)
    assert not np.allclose(bn.running_mean.numpy(), 0)
    bn.eval()
    y = bn(x).numpy()
    rm, rv = bn.running_mean.numpy(), bn.running_var.numpy()
    np.testing.assert_allclose(y, (x.numpy() - rm) / np.sqrt(rv + 1e-5), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="expects"):
        bn(dlcore.zeros(2, 3, 4, 4))


def test_dropout_module_is_identity_in_eval(rng):
    d = nn.Dropout(0.5)
    x = dlcore.tensor(randn(rng, 50, 20))
    assert (d(x).numpy() == 0).mean() > 0.3
    d.eval()
    np.testing.assert_array_equal(d(x).numpy(), x.numpy())


def test_init_functions():
    dlcore.manual_seed(0)
    w = dlcore.zeros(200, 300)
    nn.init.xavier_uniform_(w)
    bound = math.sqrt(6 / 500)
    assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > 0.9 * bound
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert abs(w.numpy().std() - math.sqrt(2 / 300)) < 0.05 * math.sqrt(2 / 300)
    nn.init.kaiming_uniform_(w, nonlinearity="relu")
    assert np.abs(w.numpy()).max() <= math.sqrt(6 / 300)
    nn.init.xavier_normal_(w)
    assert abs(w.numpy().std() - math.sqrt(2 / 500)) < 0.05 * math.sqrt(2 / 500)
    nn.init.constant_(w, 0.5)
    assert np.all(w.numpy() == 0.5)
    nn.init.zeros_(w)
    assert np.all(w.numpy() == 0)
    nn.init.ones_(w)
    assert np.all(w.numpy() == 1)


def test_losses_as_modules(rng):
    x = dlcore.tensor(randn(rng, 4, 3))
    t = np.array([0, 2, 1, 2])
    assert nn.CrossEntropyLoss(label_smoothing=0.1)(x, t).item() == pytest.approx(
        dlcore.nn.functional.cross_entropy(x, t, label_smoothing=0.1).item())
    assert nn.NLLLoss()(x.log_softmax(1), t).item() == pytest.approx(nn.CrossEntropyLoss()(x, t).item(), rel=1e-6)
    assert nn.MSELoss(reduction="sum")(x, dlcore.zeros(4, 3)).item() == pytest.approx(float((x.numpy() ** 2).sum()),
                                                                                     rel=1e-6)
    assert nn.L1Loss()(x, dlcore.zeros(4, 3)).item() == pytest.approx(float(np.abs(x.numpy()).mean()), rel=1e-6)
    p = x.sigmoid()
    y = dlcore.tensor(rng.random((4, 3)).astype(np.float32))
    assert nn.BCELoss()(p, y).item() == pytest.approx(nn.BCEWithLogitsLoss()(x, y).item(), rel=1e-5)


def test_clip_grad(rng):
    a = dlcore.tensor(randn(rng, 5), requires_grad=True)
    b = dlcore.tensor(randn(rng, 3), requires_grad=True)
    ((a * 10).sum() + (b * 10).sum()).backward()
    total = nn.utils.clip_grad_norm_([a, b], 1.0)
    assert total == pytest.approx(10 * math.sqrt(8), rel=1e-6)
    norm = math.sqrt(float((a.grad.numpy() ** 2).sum() + (b.grad.numpy() ** 2).sum()))
    assert norm == pytest.approx(1.0, rel=1e-4)
    nn.utils.clip_grad_value_([a, b], 0.1)
    assert np.abs(a.grad.numpy()).max() <= 0.1


def test_batchnorm1d_takes_n_c_l_input(rng):
    # BatchNorm1d accepted (N, C, L) but the kernels took only 2-D/4-D input and raised
    x = randn(rng, 4, 3, 5, dtype=np.float64)
    bn = nn.BatchNorm1d(3).double()
    y = bn(dlcore.tensor(x))
    mean, var = x.mean((0, 2), keepdims=True), x.var((0, 2), keepdims=True)
    np.testing.assert_allclose(y.numpy(), (x - mean) / np.sqrt(var + 1e-5), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * mean.ravel(), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * x.var((0, 2), ddof=1), rtol=1e-12)
    bn.eval()
    np.testing.assert_allclose(bn(dlcore.tensor(x)).numpy(),
                               (x - bn.running_mean.numpy()[:, None]) / np.sqrt(bn.running_var.numpy()[:, None] + 1e-5),
                               rtol=1e-10)
    layer_gradcheck(nn.BatchNorm1d(3), x)
    y32 = nn.BatchNorm1d(3)(dlcore.tensor(x.astype(np.float32)))  # the float32 kernels take 2-D/4-D only
    np.testing.assert_allclose(y32.numpy(), (x - mean) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape,dim", [((5,), 0), ((3, 5), 1), ((2, 3, 4), 0), ((2, 3, 4, 5), 1)])
def test_softmax_without_dim_picks_pytorchs_implicit_dim(rng, shape, dim):
    # dim=None meant the last dim; PyTorch (deprecated, with a warning) takes dim 1 of (N, C, H, W)
    x = randn(rng, *shape, dtype=np.float64)
    e = np.exp(x - x.max(dim, keepdims=True))
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = nn.Softmax()(dlcore.tensor(x))
    np.testing.assert_allclose(y.numpy(), e / e.sum(dim, keepdims=True), rtol=1e-12)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = nn.functional.log_softmax(dlcore.tensor(x))
    np.testing.assert_allclose(y.numpy(), np.log(e / e.sum(dim, keepdims=True)), rtol=1e-10, atol=1e-12)


def test_attribute_assignment_registers_as_pytorch():
    # `self.shortcut = None` then `= nn.Linear(...)` left the attribute None (the plain attribute shadowed
    # the registered module); assigning a Tensor to a buffer dropped it from state_dict; assigning a plain
    # Tensor to a parameter silently unregistered it
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.shortcut = None
            self.shortcut = nn.Linear(2, 2)
            self.register_buffer("scale", dlcore.ones(2))
            self.scale = self.scale * 2
            self.w = nn.Parameter(dlcore.ones(2))

    b = Block()
    assert isinstance(b.shortcut, nn.Linear)
    assert list(b.state_dict()) == ["w", "scale", "shortcut.weight", "shortcut.bias"]  # torch's order
    assert b.scale.tolist() == [2.0, 2.0]
    with pytest.raises(TypeError, match="as parameter 'w'"):
        b.w = dlcore.zeros(2)
    b.w = None
    assert b.w is None and [n for n, _ in b.named_parameters()] == ["shortcut.weight", "shortcut.bias"]
    lin = nn.Linear(2, 3, bias=False)
    lin.bias = nn.Parameter(dlcore.ones(3))  # a bias added later is used
    np.testing.assert_allclose(lin(dlcore.zeros(1, 2)).numpy(), [[1.0, 1.0, 1.0]])
    b.shortcut = None
    assert b.shortcut is None and "shortcut.weight" not in b.state_dict()


def test_non_persistent_buffers_recurse_and_load_state_dict_result():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)
            self.register_buffer("table", dlcore.ones(3), persistent=False)
            self.register_buffer("count", dlcore.zeros(1))

    m = M()
    assert list(m.state_dict()) == ["count", "lin.weight", "lin.bias"]  # persistent=False raised TypeError
    assert [n for n, _ in m.named_buffers()] == ["table", "count"]
    assert list(m.parameters(recurse=False)) == [] and len(list(m.lin.parameters(recurse=False))) == 2
    result = m.load_state_dict({"lin.weight": dlcore.ones(2, 2)}, strict=False)
    assert result.missing_keys == ["count", "lin.bias"] and result.unexpected_keys == []
    assert m.double().table.dtype == np.float64  # still moves with the module


def test_sequential_slicing_keeps_names_and_edits_like_a_list():
    # a slice renumbered its children (a slice of Sequential(OrderedDict) lost .conv and its state-dict
    # names); item assignment, deletion, insert and extend raised
    from collections import OrderedDict

    s = nn.Sequential(OrderedDict([("conv", nn.Linear(2, 2)), ("act", nn.ReLU()), ("fc", nn.Linear(2, 1))]))
    assert list(s[1:]._modules) == ["act", "fc"] and isinstance(s[-2:].fc, nn.Linear)
    assert list(s[::2].state_dict()) == ["conv.weight", "conv.bias", "fc.weight", "fc.bias"]
    t = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid())
    t[0] = nn.Identity()
    del t[1]
    t.insert(1, nn.ReLU()).extend([nn.Tanh()])
    assert list(t._modules) == ["0", "1", "2", "3"]
    assert [type(m).__name__ for m in t] == ["Identity", "ReLU", "Sigmoid", "Tanh"]
    np.testing.assert_allclose(t(dlcore.tensor([-1.0, 1.0])).numpy(), np.tanh(1 / (1 + np.exp([0.0, -1.0]))))


def test_clip_grad_norm_returns_a_tensor_and_checks_finiteness():
    # it returned a float: `clip_grad_norm_(...).item()` (a common log line) raised AttributeError
    p = nn.Parameter(dlcore.tensor([3.0, 4.0]))
    p.grad = dlcore.tensor([3.0, 4.0])
    total = nn.utils.clip_grad_norm_([p], 1.0)
    assert isinstance(total, dlcore.Tensor) and total.dtype == np.float32 and total.item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-5)
    p.grad = dlcore.tensor([float("nan"), 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert nn.utils.clip_grad_norm_([nn.Parameter(dlcore.ones(2))], 1.0).item() == 0.0  # no gradients


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding,k,dilation", [(1, 3, 1), ((2, 1), 3, 1), ("same", 4, 1), ("same", 3, 2)])
def test_conv2d_padding_mode(rng, mode, padding, k, dilation):
    # Conv2d(..., padding_mode="reflect") raised TypeError
    x = randn(rng, 2, 2, 6, 7, dtype=np.float64)
    conv = nn.Conv2d(2, 3, k, padding=padding, dilation=dilation, padding_mode=mode).double()
    if padding == "same":
        total = dilation * (k - 1)
        pads = ((total // 2, total - total // 2),) * 2
    else:
        ph, pw = (padding, padding) if isinstance(padding, int) else padding
        pads = ((ph, ph), (pw, pw))
    np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    xp = np.pad(x, ((0, 0), (0, 0)) + pads, mode=np_mode)
    ref = nn.functional.conv2d(dlcore.tensor(xp), conv.weight, conv.bias, dilation=dilation).numpy()
    np.testing.assert_allclose(conv(dlcore.tensor(x)).numpy(), ref, rtol=1e-12, atol=1e-12)
    fused = nn.Sequential(conv, nn.ReLU())  # the Conv2d + ReLU fusion pads the same way
    np.testing.assert_allclose(fused(dlcore.tensor(x)).numpy(), np.maximum(ref, 0), rtol=1e-12, atol=1e-12)
    layer_gradcheck(conv, x)


def test_layers_take_device_and_identity_takes_any_arguments():
    # nn.Linear(4, 2, device=device) (PyTorch's factory keyword) raised TypeError
    for layer in (nn.Linear(3, 2, device="cpu"), nn.Conv2d(3, 2, 3, device="cpu"), nn.BatchNorm2d(3, device="cpu"),
                  nn.LayerNorm(3, device="cpu"), nn.GroupNorm(1, 3, device="cpu"), nn.PReLU(device="cpu"),
                  nn.ConvTranspose2d(3, 2, 3, device="cpu")):
        assert all(p.device == "cpu" for p in layer.parameters())
    assert nn.Identity(54, unused_argument=0.1)(dlcore.ones(2)).tolist() == [1.0, 1.0]
    bn = nn.BatchNorm1d(2)
    bn(dlcore.randn(4, 2))
    bn.reset_running_stats()
    assert bn.running_mean.tolist() == [0.0, 0.0] and bn.running_var.tolist() == [1.0, 1.0]
    assert int(bn.num_batches_tracked) == 0


def test_softmax_takes_dtype(rng):
    # F.softmax(x, dim=-1, dtype=...) raised TypeError
    x = dlcore.tensor(randn(rng, 3, 4))
    y = nn.functional.softmax(x, dim=-1, dtype=np.float64)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), nn.functional.softmax(x.double(), dim=-1).numpy())
    assert x.log_softmax(1, dtype=np.float64).dtype == np.float64
    assert dlcore.softmax(x, 0, dtype=np.float64).dtype == np.float64


def test_shared_modules_and_tied_weights_as_pytorch():
    # modules() listed a shared module twice; state_dict kept a tied weight under its first name only, so a
    # PyTorch state dict of a model with tied weights had an "unexpected key" here
    shared = nn.Linear(2, 2)
    m = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(m.modules())) == 3 and len(list(m.parameters())) == 2
    assert list(m.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    enc, dec = nn.Linear(3, 3), nn.Linear(3, 3)
    dec.weight = enc.weight
    tied = nn.Sequential(enc, dec)
    assert list(tied.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert [n for n, _ in tied.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    sd = {k: dlcore.tensor(np.full(v.shape, i, np.float32)) for i, (k, v) in enumerate(tied.state_dict().items())}
    assert tied.load_state_dict(sd) == ([], [])
    del sd["1.weight"]  # strict: the tied weight is expected under both names (torch 2.14 raises too)
    with pytest.raises(KeyError, match=r"missing keys \['1.weight'\]"):
        tied.load_state_dict(sd)
