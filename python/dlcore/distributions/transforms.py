"""Bijective transforms for TransformedDistribution: Exp, Affine, Sigmoid, Tanh (the squashed-Gaussian policy's
last step) and their composition. Each gives ``y = t(x)``, ``x = t.inv(y)`` and log|dy/dx| elementwise."""
from __future__ import annotations

import math

import numpy as np

from ..nn.functional import softplus
from . import constraints
from .distribution import broadcast_all


class Transform:
    bijective = True
    #: +1 for increasing transforms, -1 for decreasing (cdf of a transformed distribution needs it)
    sign = 1
    event_dim = 0
    domain = constraints.real
    codomain = constraints.real

    def __call__(self, x):
        return self._call(x)

    @property
    def inv(self):
        return _Inverse(self)

    def _call(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def _inverse(self, y):  # pragma: no cover - abstract
        raise NotImplementedError

    def log_abs_det_jacobian(self, x, y):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        return type(self).__name__ + "()"


class _Inverse(Transform):
    def __init__(self, forward):
        self._forward = forward
        self.sign, self.event_dim = forward.sign, forward.event_dim
        self.domain, self.codomain = forward.codomain, forward.domain

    def __call__(self, y):
        return self._forward._inverse(y)

    @property
    def inv(self):
        return self._forward

    def log_abs_det_jacobian(self, y, x):
        return -self._forward.log_abs_det_jacobian(x, y)


class ExpTransform(Transform):
    codomain = constraints.positive

    def _call(self, x):
        return x.exp()

    def _inverse(self, y):
        return y.log()

    def log_abs_det_jacobian(self, x, y):
        return x


class AffineTransform(Transform):
    """y = loc + scale * x (``event_dim``: how many rightmost dims form one event, for the log-det sum)."""

    def __init__(self, loc, scale, event_dim=0):
        self.loc, self.scale, self.event_dim = loc, scale, event_dim

    @property
    def sign(self):
        scale = np.asarray(getattr(self.scale, "_data", self.scale))
        if (scale > 0).all():
            return 1
        if (scale < 0).all():
            return -1
        raise NotImplementedError("AffineTransform.sign: scale has mixed signs (or zeros): not monotone as a whole")

    def _call(self, x):
        return self.loc + self.scale * x

    def _inverse(self, y):
        return (y - self.loc) / self.scale

    def log_abs_det_jacobian(self, x, y):
        scale = self.scale if hasattr(self.scale, "_data") else broadcast_all(self.scale, x)[0]
        log_det = scale.abs().log()
        log_det = log_det.expand(*x.shape) if tuple(log_det.shape) != tuple(x.shape) else log_det
        for _ in range(self.event_dim):
            log_det = log_det.sum(-1)
        return log_det


class SigmoidTransform(Transform):
    codomain = constraints.unit_interval

    def _call(self, x):
        return x.sigmoid()

    def _inverse(self, y):
        return y.log() - (-y).log1p()

    def log_abs_det_jacobian(self, x, y):
        return -softplus(-x) - softplus(x)  # log(sigmoid(x) (1 - sigmoid(x))), stable for large |x|


class TanhTransform(Transform):
    codomain = constraints.interval(-1.0, 1.0)

    def _call(self, x):
        return x.tanh()

    def _inverse(self, y):
        return 0.5 * (y.log1p() - (-y).log1p())  # atanh

    def log_abs_det_jacobian(self, x, y):
        # log(1 - tanh(x)^2) = 2 (log 2 - x - softplus(-2x)): no cancellation where tanh(x) -> +-1
        return 2 * (math.log(2) - x - softplus(-2 * x))


class ComposeTransform(Transform):
    """parts[-1](... parts[0](x))."""

    def __init__(self, parts):
        self.parts = list(parts)
        self.event_dim = max((p.event_dim for p in self.parts), default=0)

    @property
    def sign(self):
        sign = 1
        for part in self.parts:
            sign *= part.sign
        return sign

    def _call(self, x):
        for part in self.parts:
            x = part(x)
        return x

    def _inverse(self, y):
        for part in reversed(self.parts):
            y = part.inv(y)
        return y

    def log_abs_det_jacobian(self, x, y):
        total = 0
        for part in self.parts:
            y_part = part(x)
            total = total + part.log_abs_det_jacobian(x, y_part)
            x = y_part
        return total
