"""Observers: record a tensor's range during calibration, turn it into (scale, zero_point).

Activations are asymmetric uint8: real = scale * (q - zero_point), q in [0, 255],
with 0.0 exactly representable (zero padding and ReLU stay exact).
"""
from __future__ import annotations

import numpy as np


def qparams_u8(lo, hi):
    """(scale, zero_point) of uint8 covering [min(lo, 0), max(hi, 0)]."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < 1e-12:
        return 1.0, 0
    scale = (hi - lo) / 255.0
    zero_point = int(np.clip(round(-lo / scale), 0, 255))
    return scale, zero_point


class MinMaxObserver:
    """The running minimum and maximum over every calibration batch."""

    def __init__(self):
        self.lo, self.hi, self.batches = np.inf, -np.inf, 0

    def __call__(self, x):
        x = np.asarray(x)
        self.lo = min(self.lo, float(x.min()))
        self.hi = max(self.hi, float(x.max()))
        self.batches += 1

    def calculate_qparams(self):
        if self.batches == 0:
            raise RuntimeError(f"{type(self).__name__}: no calibration data was observed (run calibrate() first)")
        return qparams_u8(self.lo, self.hi)


class PercentileObserver(MinMaxObserver):
    """The mean over batches of the `percentile`-th largest and (100 - percentile)-th values.

    Clipping the rare extremes gives a finer scale to the bulk of the values
    (the idea of TensorRT's percentile calibration).
    """

    def __init__(self, percentile=99.99):
        super().__init__()
        if not 50.0 < percentile <= 100.0:
            raise ValueError(f"PercentileObserver: percentile must be in (50, 100], got {percentile}")
        self.percentile = percentile
        self._lo_sum = self._hi_sum = 0.0

    def __call__(self, x):
        x = np.asarray(x, dtype=np.float32).reshape(-1)
        lo, hi = np.percentile(x, [100.0 - self.percentile, self.percentile])
        self._lo_sum += float(lo)
        self._hi_sum += float(hi)
        self.batches += 1

    def calculate_qparams(self):
        if self.batches == 0:
            raise RuntimeError("PercentileObserver: no calibration data was observed (run calibrate() first)")
        return qparams_u8(self._lo_sum / self.batches, self._hi_sum / self.batches)


def quantize_u8(x, scale, zero_point):
    """float -> uint8 with round-to-nearest-even and saturation."""
    q = np.rint(np.asarray(x, dtype=np.float32) / np.float32(scale)) + zero_point
    return np.clip(q, 0, 255).astype(np.uint8)


def dequantize_u8(q, scale, zero_point):
    return (q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)


def quantize_weight_per_channel(w, reduce_range=True):
    """Symmetric int8 per output channel (axis 0): (w_q int8, scale float32 per channel).

    reduce_range keeps weights in [-63, 63] (7 bits), which the AVX2 vpmaddubsw
    kernel multiplies without int16 saturation (oneDNN does the same on CPUs
    without VNNI); otherwise [-127, 127].
    """
    w = np.asarray(w, dtype=np.float32)
    qmax = 63 if reduce_range else 127
    amax = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    scale = np.where(amax > 0, amax / qmax, 1.0).astype(np.float32)
    q = np.rint(w / scale.reshape((-1,) + (1,) * (w.ndim - 1)))
    return np.clip(q, -qmax, qmax).astype(np.int8), scale
