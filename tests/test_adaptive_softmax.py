"""AdaptiveLogSoftmaxWithLoss: a proper distribution over the classes, its output the log_prob of the targets,
gradients by gradcheck, torch's shapes and argument checks."""
import numpy as np
import pytest

import dlcore
from dlcore import nn


@pytest.fixture
def asm():
    dlcore.manual_seed(0)
    return nn.AdaptiveLogSoftmaxWithLoss(8, 30, [4, 12, 20], div_value=2.0, head_bias=True).double()


def test_log_prob_is_a_distribution_and_forward_reads_it(rng, asm):
    x = rng.standard_normal((7, 8))
    target = np.array([0, 3, 4, 11, 12, 19, 29])  # one in the shortlist edge and in every cluster
    logp = asm.log_prob(dlcore.tensor(x)).numpy()
    assert logp.shape == (7, 30)
    np.testing.assert_allclose(np.exp(logp).sum(axis=1), 1.0, rtol=1e-12)
    out, loss = asm(dlcore.tensor(x), dlcore.tensor(target))
    np.testing.assert_allclose(out.numpy(), logp[np.arange(7), target], rtol=1e-12)
    assert loss.item() == pytest.approx(-logp[np.arange(7), target].mean())
    np.testing.assert_array_equal(asm.predict(dlcore.tensor(x)).numpy(), logp.argmax(axis=1))
    single, _ = asm(dlcore.tensor(x[2]), dlcore.tensor(np.int64(target[2])))
    assert single.item() == pytest.approx(logp[2, target[2]])


def test_gradients_and_shapes(rng, asm):
    assert [tuple(p.shape) for p in asm.parameters()] == [(7, 8), (7,), (4, 8), (8, 4), (2, 8), (8, 2), (1, 8),
                                                          (10, 1)]
    x = dlcore.tensor(rng.standard_normal((6, 8)), requires_grad=True)
    target = dlcore.tensor(np.array([1, 5, 13, 25, 2, 17]))
    assert dlcore.autograd.gradcheck(lambda a: asm(a, target).output, [x])


def test_bad_arguments(asm):
    with pytest.raises(ValueError, match="cutoffs"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 30, [12, 4])
    with pytest.raises(ValueError, match="cutoffs"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 30, [4, 30])
    with pytest.raises(IndexError, match=r"\[0, 30\)"):
        asm(dlcore.randn(2, 8, dtype=dlcore.float64), dlcore.tensor([1, 30]))
