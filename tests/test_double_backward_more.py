"""Second derivatives (create_graph=True) of the activations, normalizations and rearrangements that
ops/double_backward_more.py covers: the gradient, itself differentiated by autograd, is checked against
central differences of the first-order gradient (float64)."""
import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F


def _first_gradient(fn, weight_seed=7):
    """x -> d/dx sum(fn(x) * w), kept on the tape, every input's gradient flattened and concatenated."""

    def first(*xs):
        out = fn(*xs)
        w = dlcore.tensor(np.random.default_rng(weight_seed).standard_normal(out.shape))
        grads = dlcore.autograd.grad((out * w).sum(), xs, create_graph=True)
        return dlcore.cat([g.reshape(-1) for g in grads])

    return first


def _away_from(values, kinks, margin=0.05):
    """Moves values within `margin` of a kink away from it (finite differences must not straddle one)."""
    for k in kinks:
        near = np.abs(values - k) < margin
        values[near] = k + margin * np.sign(values[near] - k + 1e-12) * 2
    return values


def _input(rng, shape, kinks=(0.0,)):
    return dlcore.tensor(_away_from(rng.standard_normal(shape) * 2, kinks), requires_grad=True)


ELEMENTWISE = {
    "elu": (lambda x: F.elu(x, alpha=0.7), (0.0,)),
    "gelu": (lambda x: F.gelu(x), ()),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), ()),
    "silu": (lambda x: F.silu(x), ()),
    "softplus": (lambda x: F.softplus(x, beta=2.0, threshold=3.0), (1.5,)),
    "mish": (lambda x: F.mish(x), ()),
    "logsigmoid": (lambda x: F.logsigmoid(x), ()),
    "softsign": (lambda x: F.softsign(x), (0.0,)),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 1.5) * x, (-0.5, 1.5)),
    "hardsigmoid": (lambda x: F.hardsigmoid(x) * x, (-3.0, 3.0)),
    "hardswish": (lambda x: F.hardswish(x), (-3.0, 3.0)),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_activation_second_derivative(rng, name):
    fn, kinks = ELEMENTWISE[name]
    x = _input(rng, (3, 7), kinks)
    assert dlcore.autograd.gradcheck(_first_gradient(fn), [x])


@pytest.mark.parametrize("channels", [1, 4])
def test_prelu_second_derivative(rng, channels):
    x = _input(rng, (2, 4, 3))
    w = dlcore.tensor(rng.uniform(0.1, 0.5, channels), requires_grad=True)
    assert dlcore.autograd.gradcheck(_first_gradient(lambda a, b: F.prelu(a, b) * a), [x, w])


NORMALIZATIONS = {
    "layer_norm": lambda x, w, b: F.layer_norm(x, (3, 5), w.reshape(3, 5), b.reshape(3, 5)),
    "group_norm": lambda x, w, b: F.group_norm(x, 2, w[:4], b[:4]),
    "batch_norm_training": lambda x, w, b: F.batch_norm(x, None, None, w[:4], b[:4], training=True),
    "batch_norm_eval": lambda x, w, b: F.batch_norm(
        x, dlcore.tensor(np.linspace(-1, 1, 4)), dlcore.tensor(np.linspace(0.5, 2, 4)), w[:4], b[:4]),
}


@pytest.mark.parametrize("name", sorted(NORMALIZATIONS))
def test_normalization_second_derivative(rng, name):
    x = dlcore.tensor(rng.standard_normal((3, 4, 3, 5)), requires_grad=True)
    w = dlcore.tensor(rng.standard_normal(15), requires_grad=True)
    b = dlcore.tensor(rng.standard_normal(15), requires_grad=True)
    fn = NORMALIZATIONS[name]
    assert dlcore.autograd.gradcheck(_first_gradient(lambda *t: fn(*t) ** 2), [x, w, b], atol=1e-5)


def test_fused_relu_layers_second_derivative(rng):
    x = dlcore.tensor(rng.standard_normal((2, 3, 5, 5)), requires_grad=True)
    w = dlcore.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    b = dlcore.tensor(rng.standard_normal(4), requires_grad=True)
    conv = lambda a, c, d: F.conv2d(a, c, d, padding=1, activation="relu") ** 2  # noqa: E731
    assert dlcore.autograd.gradcheck(_first_gradient(conv), [x, w, b])
    lw = dlcore.tensor(rng.standard_normal((6, 5)), requires_grad=True)
    lin = lambda a, c: F.linear(a, c, activation="relu") ** 2  # noqa: E731
    assert dlcore.autograd.gradcheck(_first_gradient(lin), [x[0, 0].detach().requires_grad_(), lw])


def test_dropout_and_rearrangements_second_derivative(rng):
    x = dlcore.tensor(rng.standard_normal((4, 5)), requires_grad=True)

    def dropout(a):
        dlcore.manual_seed(5)  # the same mask at every evaluation
        return F.dropout(a, 0.3) ** 2

    rearranged = {
        "dropout": dropout,
        "flip": lambda a: a.flip((0, 1)) ** 3,
        "roll": lambda a: a.roll((1, -2), (0, 1)) ** 3 * a,
        "cumsum": lambda a: a.cumsum(1) ** 2,
        "tril": lambda a: a.tril(-1) ** 2 * a,
        "floor": lambda a: a.floor() * a * a,
    }
    for name, fn in rearranged.items():
        assert dlcore.autograd.gradcheck(_first_gradient(fn), [x]), name


def test_gradient_penalty_through_a_critic_trains(rng):
    """WGAN-GP's step: || d critic / d x || penalized, the critic's parameters differentiated through it."""
    critic = dlcore.nn.Sequential(dlcore.nn.Conv2d(1, 4, 3, padding=1), dlcore.nn.GroupNorm(2, 4),
                                  dlcore.nn.LeakyReLU(0.2), dlcore.nn.Flatten(), dlcore.nn.Linear(4 * 36, 8),
                                  dlcore.nn.LayerNorm(8), dlcore.nn.SiLU(), dlcore.nn.Linear(8, 1))
    x = dlcore.tensor(rng.standard_normal((5, 1, 6, 6)).astype(np.float32), requires_grad=True)
    (gx,) = dlcore.autograd.grad(critic(x).sum(), x, create_graph=True)
    penalty = ((gx.reshape(5, -1).norm(dim=1) - 1) ** 2).mean()
    penalty.backward()
    grads = dict(critic.named_parameters())
    assert grads.pop("7.bias").grad is None  # the output's bias does not move d critic / dx (torch: None too)
    for name, p in grads.items():
        assert p.grad is not None and np.isfinite(p.grad.numpy()).all() and np.abs(p.grad.numpy()).sum() > 0, name


@pytest.mark.parametrize("pool", ["max", "avg", "adaptive_avg", "adaptive_max", "adaptive_avg_uneven"])
def test_pool_second_derivative(rng, pool):
    x = dlcore.tensor(rng.permutation(2 * 3 * 7 * 7).reshape(2, 3, 7, 7) / 10.0, requires_grad=True)  # no ties
    fn = {
        "max": lambda a: F.max_pool2d(a, 3, 2, 1) ** 2,
        "avg": lambda a: F.avg_pool2d(a, 3, 2, 1, count_include_pad=False) ** 2 * F.avg_pool2d(a, 3, 2, 1),
        "adaptive_avg": lambda a: F.adaptive_avg_pool2d(a * a, 1) ** 2,
        "adaptive_max": lambda a: F.adaptive_max_pool2d(a, (3, 2)) ** 3,
        "adaptive_avg_uneven": lambda a: F.adaptive_avg_pool2d(a, (3, 2)) ** 3,
    }[pool]
    assert dlcore.autograd.gradcheck(_first_gradient(fn), [x])
    # third order: the pools' backward op has its own gradient
    y = fn(x).sum()
    (g,) = dlcore.autograd.grad(y, x, create_graph=True)
    (gg,) = dlcore.autograd.grad((g * g).sum(), x, create_graph=True)
    assert gg.requires_grad


@pytest.mark.skipif(not dlcore.backends()["onednn"]["available"], reason="the oneDNN backend is not built here")
def test_max_pool_double_backward_under_onednn_refuses_clearly():
    x = dlcore.tensor(np.arange(2 * 36, dtype=np.float32).reshape(1, 2, 6, 6), requires_grad=True)
    with dlcore.backend("onednn"), pytest.raises(RuntimeError, match="argmax indices"):
        dlcore.autograd.grad(F.max_pool2d(x, 2).sum() ** 2, x, create_graph=True)


@pytest.mark.parametrize("name", ["diagonal", "diag_embed", "index_select", "repeat", "pad_constant", "pad_reflect",
                                  "interpolate_bilinear", "interpolate_nearest"])
def test_linear_op_second_derivative(rng, name):
    x = dlcore.tensor(rng.standard_normal((2, 3, 4, 5)), requires_grad=True)
    fn = {
        "diagonal": lambda a: a.diagonal(1, 2, 3) ** 3,
        "diag_embed": lambda a: a.diag_embed(-1) ** 3,
        "index_select": lambda a: a.index_select(3, dlcore.tensor([4, 0, 4])) ** 3,
        "repeat": lambda a: a.repeat(1, 2, 1, 1) ** 3,
        "pad_constant": lambda a: F.pad(a, (1, 2, 0, 1), value=0.5) ** 3,
        "pad_reflect": lambda a: F.pad(a, (1, 2, 2, 1), mode="reflect") ** 3,
        "interpolate_bilinear": lambda a: F.interpolate(a, size=(5, 7), mode="bilinear") ** 3,
        "interpolate_nearest": lambda a: F.interpolate(a, scale_factor=2) ** 3,
    }[name]
    assert dlcore.autograd.gradcheck(_first_gradient(fn), [x])


def test_conv_transpose_and_third_order_conv(rng):
    x = dlcore.tensor(rng.standard_normal((2, 4, 3, 3)), requires_grad=True)
    w = dlcore.tensor(rng.standard_normal((4, 3, 3, 2)), requires_grad=True)
    b = dlcore.tensor(rng.standard_normal(6), requires_grad=True)
    fn = lambda a, c, d: F.conv_transpose2d(a, c, d, stride=2, padding=1, output_padding=1, groups=2) ** 2  # noqa
    assert dlcore.autograd.gradcheck(_first_gradient(fn), [x, w, b])
    # third order through conv2d: the gradient of a second derivative
    xc = dlcore.tensor(rng.standard_normal((1, 2, 4, 4)), requires_grad=True)
    wc = dlcore.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)

    def second(a, c):
        (ga,) = dlcore.autograd.grad((F.conv2d(a, c, padding=1) ** 3).sum(), a, create_graph=True)
        return ga * ga

    assert dlcore.autograd.gradcheck(_first_gradient(second), [xc, wc])


@pytest.mark.parametrize("name", ["atan2", "hypot", "logaddexp", "fmod", "remainder"])
def test_binary_math_second_derivative(rng, name):
    a = dlcore.tensor(rng.uniform(0.5, 2.0, (3, 4)), requires_grad=True)
    b = dlcore.tensor(rng.uniform(0.7, 1.9, (4,)), requires_grad=True)  # broadcast
    fn = getattr(dlcore, name)
    assert dlcore.autograd.gradcheck(_first_gradient(lambda x, y: fn(x, y) ** 2 * x), [a, b])


@pytest.mark.parametrize("equation, shapes", [("ij,jk->ik", [(3, 4), (4, 2)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
                                              ("i,i->", [(5,), (5,)]), ("...ij,jk", [(2, 3, 4), (4, 2)]),
                                              ("ij,j,k->ik", [(3, 4), (4,), (2,)]), ("ij->j", [(3, 4)]),
                                              ("...ij,...jk->...ik", [(1, 3, 4), (2, 4, 5)])])
def test_einsum_second_derivative(rng, equation, shapes):
    operands = [dlcore.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    fn = lambda *ops: dlcore.einsum(equation, *ops) ** 2  # noqa: E731
    assert dlcore.autograd.gradcheck(_first_gradient(fn), operands)
