"""Connectionist temporal classification loss (Graves et al. 2006), torch.nn.functional.ctc_loss's definition.

A target l (length L) is extended with blanks to l' = (b, l1, b, l2, ..., b, lL, b) (S = 2L + 1 positions).
In log space, with y[t, c] = log_probs[t, c]:

    alpha[0, 0] = y[0, b],  alpha[0, 1] = y[0, l1]
    alpha[t, s] = logsumexp(alpha[t-1, s], alpha[t-1, s-1], alpha[t-1, s-2] if l'[s] != b and l'[s] != l'[s-2])
                  + y[t, l'[s]]
    beta[T-1, S-1] = y[T-1, b],  beta[T-1, S-2] = y[T-1, lL]
    beta[t, s]  = logsumexp(beta[t+1, s], beta[t+1, s+1], beta[t+1, s+2] if l'[s] != b and l'[s] != l'[s+2])
                  + y[t, l'[s]]
    loss = -logsumexp(alpha[T-1, S-1], alpha[T-1, S-2])

Both recursions include the emission at t, so the gradient of the loss w.r.t. y[t, c] is
``-exp(logsumexp_{s: l'[s] = c}(alpha[t, s] + beta[t, s]) - y[t, c] + loss)``: minus the posterior of
class c at time t. (torch's kernel returns ``exp(y) - posterior``, which is the gradient w.r.t. the logits of
a log_softmax; through log_softmax both give the same logit gradient, but only this one passes a finite
difference check on log_probs directly.)

Every sample runs in one batched array: the loop is over time only; label positions and the batch are array
axes. Samples with shorter inputs stop at their own T (alpha read at T_n - 1, beta started there); positions
past a sample's 2 L_n are never read. The sums run in float64 whatever the input dtype.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ._common import array_module

_NEG_INF = -np.inf


def extended_labels(targets, target_lengths, blank):
    """(N, 2 L + 1) labels with blanks between and around, plus the mask of positions that may skip from s - 2
    (a label different from the label two positions back: repeated labels need the blank in between)."""
    xp = array_module(targets)
    n, max_len = targets.shape
    ext = xp.full((n, 2 * max_len + 1), blank, dtype=np.int64)
    ext[:, 1::2] = targets
    # padding past a sample's length may hold anything: make it blank so gathers stay in range
    past_end = xp.arange(2 * max_len + 1)[None, :] > 2 * target_lengths[:, None]
    ext[past_end] = blank
    can_skip = xp.zeros(ext.shape, dtype=bool)
    can_skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    return ext, can_skip


def _logsumexp3(a, b, c):
    return np.logaddexp(np.logaddexp(a, b), c)


def _shift_right(x, k, fill=_NEG_INF):
    """x moved k positions along the last axis (x[..., s - k]), `fill` entering at the start."""
    out = np.full_like(x, fill)
    out[..., k:] = x[..., :-k]
    return out


def _shift_left(x, k, fill=_NEG_INF):
    """x[..., s + k], `fill` entering at the end."""
    out = np.full_like(x, fill)
    out[..., :-k] = x[..., k:]
    return out


def ctc_alpha(emit, can_skip, target_lengths):
    """Forward variables (T, N, S) from the emissions emit[t, n, s] = y[t, n, l'[n, s]]."""
    steps, n, width = emit.shape
    alpha = np.full(emit.shape, _NEG_INF)
    alpha[0, :, 0] = emit[0, :, 0]
    if width > 1:
        has_label = target_lengths > 0
        alpha[0, has_label, 1] = emit[0, has_label, 1]
    skip_mask = np.where(can_skip, 0.0, _NEG_INF)
    for t in range(1, steps):
        prev = alpha[t - 1]
        alpha[t] = _logsumexp3(prev, _shift_right(prev, 1), _shift_right(prev, 2) + skip_mask) + emit[t]
    return alpha


def ctc_beta(emit, can_skip, input_lengths, target_lengths):
    """Backward variables (T, N, S), each sample started at its own last step T_n - 1 (-inf after it)."""
    steps, n, width = emit.shape
    batch = np.arange(n)
    last, before_last = 2 * target_lengths, np.maximum(2 * target_lengths - 1, 0)
    start = np.full((n, width), _NEG_INF)
    start[batch, last] = emit[input_lengths - 1, batch, last]
    has_label = target_lengths > 0
    start[batch[has_label], before_last[has_label]] = emit[input_lengths[has_label] - 1, batch[has_label],
                                                            before_last[has_label]]
    # skipping from s + 2 to s is allowed when l'[s + 2] may skip back to s
    skip_mask = _shift_left(np.where(can_skip, 0.0, _NEG_INF), 2)
    beta = np.full(emit.shape, _NEG_INF)
    following = np.full((n, width), _NEG_INF)
    for t in range(steps - 1, -1, -1):
        step = _logsumexp3(following, _shift_left(following, 1), _shift_left(following, 2) + skip_mask) + emit[t]
        ends_here = (input_lengths - 1 == t)[:, None]
        after_end = (input_lengths - 1 < t)[:, None]
        beta[t] = np.where(ends_here, start, np.where(after_end, _NEG_INF, step))
        following = beta[t]
    return beta


class CTCLoss(Function):
    """Per-sample negative log likelihoods (N,) of targets under log_probs (T, N, C); the arguments are arrays:
    targets padded (N, L) int64, input_lengths and target_lengths (N,) int64."""

    def forward(self, log_probs, targets, input_lengths, target_lengths, blank=0, zero_infinity=False):
        if array_module(log_probs) is not np:
            raise NotImplementedError("ctc_loss runs on CPU (NumPy) tensors only")
        y = log_probs.astype(np.float64)
        ext, can_skip = extended_labels(targets, target_lengths, blank)
        emit = np.take_along_axis(y, np.broadcast_to(ext[None], (y.shape[0],) + ext.shape), axis=2)
        alpha = ctc_alpha(emit, can_skip, target_lengths)
        batch = np.arange(y.shape[1])
        # an empty input (torch allows it) reads step 0 here; its loss is set below and it gets no gradient
        last_step = np.maximum(input_lengths, 1) - 1
        final = alpha[last_step, batch]  # (N, S) at each sample's last step
        last = 2 * target_lengths
        tail = np.where(target_lengths > 0, final[batch, np.maximum(last - 1, 0)], _NEG_INF)
        nll = -np.logaddexp(final[batch, last], tail)
        nll = np.where(input_lengths == 0, np.where(target_lengths == 0, 0.0, np.inf), nll)
        self.saved = (y, ext, can_skip, emit, alpha, input_lengths, target_lengths, nll, zero_infinity)
        self.dtype = log_probs.dtype
        if zero_infinity:
            nll = np.where(np.isinf(nll), 0.0, nll)
        return nll.astype(log_probs.dtype)

    def backward(self, grad):
        y, ext, can_skip, emit, alpha, input_lengths, target_lengths, nll, zero_infinity = self.saved
        steps, n, classes = y.shape
        beta = ctc_beta(emit, can_skip, np.maximum(input_lengths, 1), target_lengths)
        log_ab = alpha + beta  # (T, N, S): log of the probability mass of paths through (t, s), times y[t, l'_s]
        peak = np.max(log_ab, axis=2, keepdims=True)
        peak = np.where(np.isfinite(peak), peak, 0.0)
        # sum over the positions s holding each class: one bincount over flat (t, n, class) indices
        flat = (np.arange(steps)[:, None, None] * n + np.arange(n)[None, :, None]) * classes + ext[None]
        mass = np.bincount(flat.ravel(), weights=np.exp(log_ab - peak).ravel(), minlength=steps * n * classes)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_mass = np.log(mass.reshape(steps, n, classes)) + peak
            dy = -np.exp(log_mass - y + nll[None, :, None]) * np.asarray(grad, np.float64)[None, :, None]
        running = np.arange(steps)[:, None] < input_lengths[None, :]
        dy = np.where(running[:, :, None], dy, 0.0)
        if zero_infinity:
            dy = np.where(np.isinf(nll)[None, :, None], 0.0, dy)
        return dy.astype(self.dtype), None, None, None
