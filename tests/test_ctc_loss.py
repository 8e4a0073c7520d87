"""F.ctc_loss / nn.CTCLoss: values against a brute-force float64 reference that enumerates every alignment,
gradients by finite differences (float64), torch's argument forms and reductions."""
import itertools

import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
from dlcore import nn
from dlcore.autograd import gradcheck


def _collapse(path, blank):
    """The label sequence an alignment stands for: repeats merged, then blanks dropped."""
    merged = [c for i, c in enumerate(path) if i == 0 or c != path[i - 1]]
    return tuple(c for c in merged if c != blank)


def ctc_brute_force(log_probs, target, blank=0):
    """-log of the summed probability of every length-T path over the C classes that collapses to `target`."""
    steps, classes = log_probs.shape
    total = 0.0
    for path in itertools.product(range(classes), repeat=steps):
        if _collapse(path, blank) == tuple(target):
            total += np.exp(sum(log_probs[t, c] for t, c in enumerate(path)))
    return -np.log(total)


def _log_softmax(x, axis=-1):
    return x - np.log(np.exp(x).sum(axis, keepdims=True))


@pytest.fixture
def batch(rng):
    """3 samples, T = 5, C = 3 (brute force: 3^5 paths), with ragged input and target lengths and a repeat."""
    lp = _log_softmax(rng.standard_normal((5, 3, 3)))
    targets = np.array([[1, 2, 1], [2, 2, 0], [1, 0, 0]])  # sample 1 repeats a label; padding holds 0 = blank
    return lp, targets, np.array([5, 4, 3]), np.array([3, 2, 1])


def _reference(lp, targets, input_lengths, target_lengths, blank=0):
    return np.array([ctc_brute_force(lp[:input_lengths[n], n], targets[n, :target_lengths[n]], blank)
                     for n in range(lp.shape[1])])


def test_ctc_loss_matches_the_sum_over_all_alignments(batch):
    lp, targets, il, tl = batch
    ref = _reference(lp, targets, il, tl)
    got = F.ctc_loss(dlcore.tensor(lp), dlcore.tensor(targets), dlcore.tensor(il), dlcore.tensor(tl),
                     reduction="none")
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(F.ctc_loss(dlcore.tensor(lp), targets, tuple(il), tuple(tl), reduction="sum").item(),
                               ref.sum(), rtol=1e-12)
    # mean: each loss over its target length, then over the batch (torch's rule)
    np.testing.assert_allclose(F.ctc_loss(dlcore.tensor(lp), targets, il, tl).item(), (ref / tl).mean(), rtol=1e-12)


def test_ctc_loss_other_blank_and_unnormalized_log_probs(rng):
    lp = rng.standard_normal((4, 1, 3))  # not log_softmax: the loss is still -log(sum of path scores)
    targets = np.array([[0, 1]])
    got = F.ctc_loss(dlcore.tensor(lp), targets, (4,), (2,), blank=2, reduction="none")
    np.testing.assert_allclose(got.numpy(), [ctc_brute_force(lp[:, 0], (0, 1), blank=2)], rtol=1e-12)


def test_ctc_loss_concatenated_targets_and_unbatched_input(batch):
    lp, targets, il, tl = batch
    concatenated = np.concatenate([targets[n, :tl[n]] for n in range(3)])
    padded = F.ctc_loss(dlcore.tensor(lp), targets, il, tl, reduction="none").numpy()
    flat = F.ctc_loss(dlcore.tensor(lp), concatenated, il, tl, reduction="none").numpy()
    np.testing.assert_array_equal(flat, padded)
    one = F.ctc_loss(dlcore.tensor(lp[:, 0]), targets[0], il[0:1], tl[0:1], reduction="none")
    assert one.shape == ()
    np.testing.assert_allclose(one.item(), padded[0], rtol=1e-14)


def test_ctc_loss_gradient_by_finite_differences(batch):
    lp, targets, il, tl = batch
    for reduction in ("none", "sum", "mean"):
        x = dlcore.tensor(lp, requires_grad=True)
        assert gradcheck(lambda x, r=reduction: F.ctc_loss(x, targets, il, tl, reduction=r), (x,))
    # through log_softmax, as a model uses it (with rows past an input's length getting no gradient)
    logits = dlcore.tensor(lp * 1.7, requires_grad=True)
    assert gradcheck(lambda z: F.ctc_loss(z.log_softmax(2), targets, il, tl, reduction="none"), (logits,))
    F.ctc_loss(logits.log_softmax(2), targets, il, tl, reduction="sum").backward()
    assert np.all(logits.grad.numpy()[3:, 2] == 0) and np.all(logits.grad.numpy()[4:, 1] == 0)


def test_ctc_loss_repeated_labels_need_a_blank_between(rng):
    lp = _log_softmax(rng.standard_normal((3, 1, 2)))
    # "1 1" fits T = 3 only as 1 b 1: a single path
    got = F.ctc_loss(dlcore.tensor(lp), [[1, 1]], (3,), (2,), reduction="none").item()
    np.testing.assert_allclose(got, -(lp[0, 0, 1] + lp[1, 0, 0] + lp[2, 0, 1]), rtol=1e-14)
    # with T = 2 there is no room for the blank: impossible
    assert np.isinf(F.ctc_loss(dlcore.tensor(lp[:2]), [[1, 1]], (2,), (2,), reduction="none").item())


def test_ctc_loss_impossible_targets_and_zero_infinity(rng):
    lp = dlcore.tensor(_log_softmax(rng.standard_normal((2, 2, 4))), requires_grad=True)
    targets, il, tl = [[1, 2, 3], [1, 0, 0]], (2, 2), (3, 1)  # sample 0: 3 labels in 2 steps
    loss = F.ctc_loss(lp, targets, il, tl, reduction="none")
    assert np.isinf(loss.numpy()[0]) and np.isfinite(loss.numpy()[1])
    zeroed = F.ctc_loss(lp, targets, il, tl, reduction="sum", zero_infinity=True)
    np.testing.assert_allclose(zeroed.item(), loss.numpy()[1], rtol=1e-14)
    zeroed.backward()
    assert np.all(lp.grad.numpy()[:, 0] == 0) and np.all(np.isfinite(lp.grad.numpy()))
    assert np.any(lp.grad.numpy()[:, 1] != 0)


def test_ctc_module_float32_agrees_with_float64(batch):
    lp, targets, il, tl = batch
    loss = nn.CTCLoss(reduction="sum")
    x32 = dlcore.tensor(lp.astype(np.float32), requires_grad=True)
    out = loss(x32, dlcore.tensor(targets), dlcore.tensor(il), dlcore.tensor(tl))
    assert out.dtype == np.float32
    out.backward()
    x64 = dlcore.tensor(lp, requires_grad=True)
    loss(x64, targets, il, tl).backward()
    np.testing.assert_allclose(out.item(), _reference(lp, targets, il, tl).sum(), rtol=1e-6)
    np.testing.assert_allclose(x32.grad.numpy(), x64.grad.numpy(), atol=1e-6)


@pytest.mark.parametrize("args, message", [
    (dict(targets=[[1, 3]]), "target labels"),
    (dict(targets=[[0, 1]]), "target labels"),
    (dict(input_lengths=(5,)), "input_lengths"),
    (dict(target_lengths=(2, 2)), "target_lengths"),
    (dict(targets=[1, 2, 1]), "1-D targets"),
    (dict(targets=[[1.0, 2.0]]), "integer"),
])
def test_ctc_loss_errors(args, message, rng):
    kwargs = dict(targets=[[1, 2]], input_lengths=(3,), target_lengths=(2,)) | args
    lp = dlcore.tensor(_log_softmax(rng.standard_normal((3, 1, 3))))
    with pytest.raises((ValueError, TypeError), match=message):
        F.ctc_loss(lp, **kwargs)


def test_ctc_loss_empty_inputs_as_torch(rng):
    lp = dlcore.tensor(_log_softmax(rng.standard_normal((3, 3, 4))), requires_grad=True)
    loss = F.ctc_loss(lp, [[1], [1], [2]], (0, 0, 3), (0, 1, 1), reduction="none")
    assert loss.numpy()[0] == 0 and np.isinf(loss.numpy()[1]) and np.isfinite(loss.numpy()[2])
    F.ctc_loss(lp, [[1], [1], [2]], (0, 0, 3), (0, 1, 1), reduction="sum", zero_infinity=True).backward()
    assert not lp.grad.numpy()[:, :2].any() and lp.grad.numpy()[:, 2].any()
