"""Tensor.register_post_accumulate_grad_hook: fires once per backward, after the whole gradient is in .grad."""
import numpy as np
import pytest

import dlcore


def test_hook_sees_the_final_accumulated_gradient():
    rng = np.random.default_rng(0)
    w = dlcore.from_numpy(rng.standard_normal((3, 4))).requires_grad_()
    x = dlcore.from_numpy(rng.standard_normal((5, 3)))
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    loss = ((x @ w) * 2.0).sum() + (w * w).sum()        # w is used twice: both contributions come first
    loss.backward()
    expected = 2.0 * x.numpy().T @ np.ones((5, 4)) + 2.0 * w.numpy()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], expected, rtol=1e-12)
    (w * 3.0).sum().backward()                          # second backward: .grad accumulates, hook fires again
    assert len(seen) == 2
    np.testing.assert_allclose(seen[1], expected + 3.0, rtol=1e-12)


def test_hooks_fire_in_backward_order_and_remove():
    rng = np.random.default_rng(1)
    a = dlcore.from_numpy(rng.standard_normal(4)).requires_grad_()
    b = dlcore.from_numpy(rng.standard_normal(4)).requires_grad_()
    order = []
    ha = a.register_post_accumulate_grad_hook(lambda t: order.append("a"))
    b.register_post_accumulate_grad_hook(lambda t: order.append("b"))
    b.register_post_accumulate_grad_hook(lambda t: order.append("b2"))
    ((a * 2.0).exp() * b).sum().backward()               # b's gradient is final before a's (a is deeper)
    assert order == ["b", "b2", "a"]
    ha.remove()
    ha.remove()                                         # removing twice is harmless
    order.clear()
    (a * b).sum().backward()
    assert order == ["b", "b2"]


def test_hook_errors():
    w = dlcore.randn(3, requires_grad=True)
    with pytest.raises(TypeError, match="callable"):
        w.register_post_accumulate_grad_hook(3)
    with pytest.raises(RuntimeError, match="does not require grad"):
        dlcore.randn(3).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(print)


def test_layer_gradients_are_final_as_backward_reaches_them(monkeypatch):
    # A 3-layer chain: each weight's hook must run right after its own layer's backward, before the
    # layers below it run (not all at the end): that is what lets DDP overlap all-reduce with backward.
    from dlcore import nn
    from dlcore.ops import linear

    events = []
    original = linear.Linear.backward

    def logged_backward(self, grad):
        events.append("linear backward")
        return original(self, grad)

    monkeypatch.setattr(linear.Linear, "backward", logged_backward)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 3))
    for name, p in model.named_parameters():
        if name.endswith("weight"):
            p.register_post_accumulate_grad_hook(lambda t, name=name: events.append(name))
    model(dlcore.randn(7, 4)).sum().backward()
    assert events == ["linear backward", "4.weight", "linear backward", "2.weight", "linear backward", "0.weight"]
