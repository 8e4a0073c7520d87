"""Packed variable-length sequences, with torch.nn.utils.rnn's names and arguments.

A ``PackedSequence`` holds a batch of sequences of different lengths without padding: ``data`` stacks, step by
step, the rows of the sequences still running at that step (longest first), ``batch_sizes[t]`` counts them.
RNN, LSTM and GRU take one and return one (``nn/recurrent.py``); the rows of a step are the first
``batch_sizes[t]`` of the batch sorted by length, so a layer runs each stretch of steps with the same batch
size as one fused call. Packing and unpacking are row gathers (``Tensor[index]``): gradients flow through them.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...tensor import Tensor, cat, stack, tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pack_sequence", "pad_sequence",
           "unpad_sequence", "unpack_sequence", "invert_permutation"]


class PackedSequence(NamedTuple):
    """data (sum(lengths), *), batch_sizes (max length,) int64 NumPy, sorted_indices / unsorted_indices (N,)
    int64 NumPy or None (None: the batch was already sorted by decreasing length)."""
    data: Tensor
    batch_sizes: np.ndarray
    sorted_indices: np.ndarray | None = None
    unsorted_indices: np.ndarray | None = None

    def to(self, *args, **kwargs):
        return self._replace(data=self.data.to(*args, **kwargs))

    @property
    def is_cuda(self):
        return self.data.device.type == "cuda"


def invert_permutation(permutation):
    if permutation is None:
        return None
    inverse = np.empty_like(permutation)
    inverse[permutation] = np.arange(permutation.size, dtype=permutation.dtype)
    return inverse


def _lengths(lengths, name):
    lengths = np.asarray(lengths.numpy() if isinstance(lengths, Tensor) else lengths)
    if lengths.ndim != 1 or lengths.size == 0 or lengths.dtype.kind not in "iu":
        raise ValueError(f"{name}: lengths must be a non-empty 1-D sequence of integers, got {lengths!r}")
    if lengths.min() <= 0:
        raise ValueError(f"{name}: every length must be > 0, got {lengths.tolist()}")
    return lengths.astype(np.int64)


def _batch_sizes(sorted_lengths):
    """batch_sizes[t] = how many of the (decreasing) lengths exceed t."""
    steps = np.arange(int(sorted_lengths[0]))
    return (sorted_lengths[None, :] > steps[:, None]).sum(axis=1).astype(np.int64)


def _packed_rows(batch_sizes, sorted_indices, batch):
    """For each packed row, its (step, original batch index) flattened as step * batch + index."""
    return np.concatenate([t * batch + sorted_indices[:b] for t, b in enumerate(batch_sizes)])


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Packs a padded batch (L, N, *) (batch_first: (N, L, *)) whose sequence i has lengths[i] steps.

    enforce_sorted=True requires lengths in decreasing order (as torch); False sorts them and records the
    permutation in sorted_indices / unsorted_indices."""
    lengths = _lengths(lengths, "pack_padded_sequence")
    if batch_first:
        input = input.transpose(0, 1)
    steps, batch = input.shape[0], input.shape[1]
    if lengths.size != batch:
        raise ValueError(f"pack_padded_sequence: {lengths.size} lengths for a batch of {batch}")
    if lengths.max() > steps:
        raise ValueError(f"pack_padded_sequence: a length of {lengths.max()} exceeds the {steps} padded steps")
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise RuntimeError("pack_padded_sequence: lengths must be sorted in decreasing order with "
                               "enforce_sorted=True; pass enforce_sorted=False to sort them")
        sorted_indices = None
        order = np.arange(batch, dtype=np.int64)
    else:
        order = np.argsort(-lengths, kind="stable").astype(np.int64)
        sorted_indices = order
    batch_sizes = _batch_sizes(lengths[order])
    flat = input.reshape(steps * batch, *input.shape[2:])
    data = flat[_packed_rows(batch_sizes, order, batch)]
    return PackedSequence(data, batch_sizes, sorted_indices, invert_permutation(sorted_indices))


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of pack_padded_sequence: (padded (L, N, *) or (N, L, *), lengths int64 (N,)) in the
    original batch order; total_length pads to that many steps (at least the longest sequence)."""
    data, batch_sizes = sequence.data, np.asarray(sequence.batch_sizes)
    batch, max_len = int(batch_sizes[0]), batch_sizes.size
    steps = max_len if total_length is None else int(total_length)
    if steps < max_len:
        raise ValueError(f"pad_packed_sequence: total_length {total_length} is less than the longest sequence "
                         f"({max_len})")
    order = sequence.sorted_indices if sequence.sorted_indices is not None else np.arange(batch, dtype=np.int64)
    # each (step, original index) slot reads its packed row, or the padding row appended after the data
    source = np.full(steps * batch, data.shape[0], dtype=np.int64)
    source[_packed_rows(batch_sizes, order, batch)] = np.arange(data.shape[0])
    pad = tensor(np.full((1, *data.shape[1:]), padding_value, dtype=data.dtype), device=data.device)
    padded = cat([data, pad], dim=0)[source].reshape(steps, batch, *data.shape[1:])
    lengths = np.empty(batch, dtype=np.int64)
    lengths[order] = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(axis=1)
    return (padded.transpose(0, 1) if batch_first else padded), tensor(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stacks tensors of shapes (L_i, *) into (max L, N, *) (batch_first: (N, max L, *)), padded with
    padding_value on the right (or the left)."""
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got {padding_side!r}")
    if len(sequences) == 0:
        raise ValueError("pad_sequence: got no sequences")
    longest = max(s.shape[0] for s in sequences)
    rows = []
    for s in sequences:
        missing = longest - s.shape[0]
        if missing:
            fill = tensor(np.full((missing, *s.shape[1:]), padding_value, dtype=s.dtype), device=s.device)
            s = cat([s, fill] if padding_side == "right" else [fill, s], dim=0)
        rows.append(s)
    return stack(rows, dim=0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of the N sequences of a padded batch, sequence i cut to lengths[i] steps."""
    lengths = _lengths(lengths, "unpad_sequence")
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, :int(n)] for i, n in enumerate(lengths)]


def pack_sequence(sequences, enforce_sorted=True):
    """Packs a list of tensors (L_i, *) (decreasing L_i unless enforce_sorted=False)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of the sequences of a PackedSequence, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths.numpy(), batch_first=True)
