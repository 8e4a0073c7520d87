"""End-to-end training: a small problem to near-zero loss; one epoch on the built-in digits."""
import os

import numpy as np
import pytest

import dlcore
from dlcore import nn, optim
from dlcore.train import evaluate, fit, lenet5, mlp


def test_fits_a_small_problem_to_near_zero_loss():
    dlcore.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 5)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)  # XOR-like, not linearly separable
    model = nn.Sequential(nn.Linear(5, 32), nn.Tanh(), nn.Linear(32, 2))
    opt = optim.Adam(model.parameters(), lr=0.02)
    xt = dlcore.tensor(x)
    for _ in range(400):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xt), y)
        loss.backward()
        opt.step()
    assert loss.item() < 0.02


def test_one_epoch_on_builtin_digits_is_well_above_chance():
    pytest.importorskip("sklearn")
    dlcore.manual_seed(0)
    train, test = dlcore.data.Digits(train=True), dlcore.data.Digits(train=False)
    model = mlp(64, 100, 10)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    history = fit(model, dlcore.data.DataLoader(train, batch_size=32, shuffle=True, seed=0), opt, epochs=1,
                  test_loader=dlcore.data.DataLoader(test, batch_size=256), progress=False, log=None)
    assert history[0]["test_acc"] > 0.7  # chance is 0.1


def test_lenet_forward_backward_shapes():
    model = lenet5()
    x = dlcore.randn(2, 1, 28, 28)
    out = model(x)
    assert out.shape == (2, 10)
    nn.functional.cross_entropy(out, np.array([1, 2])).backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())


def test_main_job_prints_accuracy(capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("tqdm")
    from dlcore.train import main

    acc = main(["--epochs", "2"])
    out = capsys.readouterr().out
    assert "test accuracy" in out and acc > 0.8


def _development_mnist():
    """mnist.npz from $DLCORE_MNIST_NPZ, or the shared copy beside the main checkout or a worktree."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.environ.get("DLCORE_MNIST_NPZ", ""),
                  os.path.join(here, "..", "..", "shared", "data", "mnist.npz"),         # /work/main/tests
                  os.path.join(here, "..", "..", "..", "shared", "data", "mnist.npz")]   # /work/wt/<name>/tests
    return next((c for c in candidates if c and os.path.exists(c)), None)


MNIST_NPZ = _development_mnist()


@pytest.mark.skipif(MNIST_NPZ is None, reason="development copy of MNIST (shared/data/mnist.npz) absent")
def test_mlp_learns_real_mnist_subset():
    with np.load(MNIST_NPZ) as f:
        x = (f["x_train"][:3000, None] / np.float32(255)).astype(np.float32)
        y = f["y_train"][:3000].astype(np.int64)
        xt = (f["x_test"][:1000, None] / np.float32(255)).astype(np.float32)
        yt = f["y_test"][:1000].astype(np.int64)
    dlcore.manual_seed(0)
    model = mlp(784, 100, 10)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train = dlcore.data.DataLoader(dlcore.data.TensorDataset(x, y), batch_size=54, shuffle=True, seed=0)
    fit(model, train, opt, epochs=2, progress=False, log=None)
    _, acc = evaluate(model, dlcore.data.DataLoader(dlcore.data.TensorDataset(xt, yt), batch_size=500))
    assert acc > 0.85
