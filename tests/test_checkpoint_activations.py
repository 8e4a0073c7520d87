"""dlcore.utils.checkpoint: gradient checkpointing gives the plain run's values and gradients, keeps no
activations, replays dropout, and reaches parameters and captured tensors."""
import numpy as np
import pytest

import dlcore
from dlcore import nn
from dlcore.utils.checkpoint import checkpoint, checkpoint_sequential


def _mlp(width, depth, dropout=0.0):
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.Tanh(), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


def _grads(model, x):
    return [p.grad.numpy().copy() for p in model.parameters()] + [x.grad.numpy().copy()]


def test_values_and_gradients_equal_the_plain_run_with_dropout_replayed():
    dlcore.manual_seed(3)
    model = _mlp(9, 3, dropout=0.4)
    x = dlcore.randn(5, 9, requires_grad=True)
    state = dlcore.get_rng_state()
    y = model(x)
    y.sum().backward()
    expected, after_plain = _grads(model, x), dlcore.rand(1).item()
    model.zero_grad()
    x.grad = None
    dlcore.set_rng_state(state)
    y2 = checkpoint(model, x)
    np.testing.assert_array_equal(y2.numpy(), y.numpy())
    y2.sum().backward()
    for want, got in zip(expected, _grads(model, x)):
        np.testing.assert_array_equal(got, want)
    assert dlcore.rand(1).item() == after_plain  # the rerun left the global generator where it was


def test_parameters_get_gradients_when_no_argument_requires_grad():
    model = _mlp(4, 2)
    checkpoint(model, dlcore.randn(3, 4)).sum().backward()
    assert all(p.grad is not None and np.abs(p.grad.numpy()).sum() > 0 for p in model.parameters())


def test_float64_gradcheck_through_a_checkpoint_with_tuple_output_and_captured_tensor(rng):
    a = dlcore.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = dlcore.tensor(rng.standard_normal((4,)), requires_grad=True)
    c = dlcore.tensor(rng.standard_normal((4,)), requires_grad=True)

    def f(x, y, z):
        captured = (z * 2).tanh()  # computed outside the segment, used inside it without being an argument

        def segment(u, v):
            return (u * v).sin() * captured, u.exp().sum(0), "not a tensor"

        p, q, s = checkpoint(segment, x, y)
        assert s == "not a tensor"
        return p.sum(1) * 2 + q.sum()

    assert dlcore.autograd.gradcheck(f, [a, b, c], eps=1e-6, atol=1e-6, rtol=1e-4)
    f(a, b, c).sum().backward()
    assert np.abs(c.grad.numpy()).sum() > 0


def test_autograd_grad_through_a_checkpoint_wrt_a_parameter():
    lin = nn.Linear(3, 2)
    x = dlcore.randn(4, 3)
    (gw,) = dlcore.autograd.grad(checkpoint(lin, x).sum(), lin.weight)
    (want,) = dlcore.autograd.grad(lin(x).sum(), lin.weight)
    np.testing.assert_allclose(gw.numpy(), want.numpy(), rtol=1e-6)
    assert lin.weight.grad is None


def test_nested_checkpoints_and_checkpoint_sequential_equal_the_plain_run():
    model = _mlp(6, 4)
    x = dlcore.randn(2, 6, requires_grad=True)
    model(x).sum().backward()
    expected = _grads(model, x)
    for run in (lambda: checkpoint_sequential(model, 3, x),
                lambda: checkpoint(lambda t: checkpoint(model[:6], t).relu() * 0 + model[6:](model[:6](t)), x)):
        model.zero_grad()
        x.grad = None
        run().sum().backward()
        for want, got in zip(expected, _grads(model, x)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def _tape_bytes(y):
    """Bytes of the arrays that y's recorded graph keeps (node attributes, computed tensors' data; not the
    leaves: parameters and x), each counted once."""
    seen_nodes, arrays, stack = set(), {}, [y]
    while stack:
        t = stack.pop()
        node = t._node
        if node is not None:
            arrays[id(t._data)] = t._data.nbytes
        if node is None or id(node) in seen_nodes or node.parents is None:
            continue
        seen_nodes.add(id(node))
        leaves = {id(p._data) for p in node.parents if p is not None and p._node is None}
        for value in vars(node).values():
            for v in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(v, np.ndarray) and id(v) not in leaves:
                    arrays[id(v)] = v.nbytes
        stack.extend(p for p in node.parents if p is not None)
    return sum(arrays.values())


def _held_after_forward(model, x, use_checkpoint):
    y = checkpoint(model, x) if use_checkpoint else model(x)
    held = _tape_bytes(y)
    y.sum().backward()
    return held


def test_activations_are_not_kept_between_forward_and_backward():
    model = _mlp(256, 6)
    x = dlcore.randn(512, 256, requires_grad=True)
    plain = _held_after_forward(model, x, False)
    saved = _held_after_forward(model, x, True)
    activation = 512 * 256 * 4
    assert plain > 6 * activation, plain  # every Linear and Tanh keeps its input or output
    assert saved <= activation, (plain, saved)  # the output alone


def test_outside_grad_mode_is_a_plain_call_and_bad_results_raise():
    lin = nn.Linear(2, 2)
    with dlcore.no_grad():
        assert not checkpoint(lin, dlcore.randn(1, 2)).requires_grad
    with pytest.raises(TypeError, match="must return a Tensor"):
        checkpoint(lambda t: {"y": t}, dlcore.randn(2, requires_grad=True))
    with pytest.raises(ValueError, match="segments"):
        checkpoint_sequential(_mlp(2, 1), 0, dlcore.randn(1, 2))
