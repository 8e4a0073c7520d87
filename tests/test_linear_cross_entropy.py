"""F.linear_cross_entropy / nn.LinearCrossEntropyLoss: the chunked path equals the reference one."""
import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
from dlcore import nn


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("chunk", [1, 5, 64])
def test_chunked_equals_reference(rng, reduction, chunk):
    x, w, b = rng.standard_normal((37, 8)), rng.standard_normal((50, 8)), rng.standard_normal(50)
    y = rng.integers(0, 50, 37)
    y[3] = -100  # ignored

    def run(options):
        leaves = [dlcore.tensor(a, requires_grad=True) for a in (x, w, b)]
        loss = F.linear_cross_entropy(leaves[0], leaves[1], dlcore.tensor(y), linear_bias=leaves[2],
                                      reduction=reduction, options=options)
        loss.backward()
        return loss.item(), [t.grad.numpy() for t in leaves]

    ref_loss, ref_grads = run(None)
    loss, grads = run(nn.LinearCrossEntropyOptions(batch_chunk_size=chunk))
    logits = x @ w.T + b
    logp = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) - \
        logits.max(1, keepdims=True)
    kept = y != -100
    expected = -logp[np.arange(37)[kept], y[kept]].sum() / (kept.sum() if reduction == "mean" else 1)
    assert ref_loss == pytest.approx(expected, rel=1e-12) and loss == pytest.approx(expected, rel=1e-12)
    for a, g in zip(ref_grads, grads):
        np.testing.assert_allclose(g, a, rtol=1e-11, atol=1e-13)


def test_module_and_fallback_warning(rng):
    loss_fn = nn.LinearCrossEntropyLoss(8, 10, bias=True, label_smoothing=0.1,
                                        options=nn.LinearCrossEntropyOptions(batch_chunk_size=4))
    assert list(loss_fn.state_dict()) == ["linear.weight", "linear.bias"]
    x, y = dlcore.randn(6, 8), dlcore.tensor(rng.integers(0, 10, 6))
    with pytest.warns(UserWarning, match="reference path"):
        got = loss_fn(x, y)
    want = F.cross_entropy(F.linear(x, loss_fn.linear.weight, loss_fn.linear.bias), y, label_smoothing=0.1)
    assert got.item() == pytest.approx(want.item(), rel=1e-6)
    with pytest.raises(NotImplementedError, match="out_features"):
        nn.LinearCrossEntropyLoss(8, 10, out_features=(3,))
