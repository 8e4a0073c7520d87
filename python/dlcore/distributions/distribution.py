"""The Distribution base class and the two helpers every distribution uses: ``broadcast_all`` (parameters to one
shape, numbers to tensors) and the validation of parameters and values (``validate_args``, on by default, as in
torch: a bad parameter or a value outside the support raises ValueError naming it)."""
from __future__ import annotations

import copy
import importlib

import numpy as np

from ..autograd import no_grad
from ..random import default_generator
from ..tensor import Tensor
from . import constraints

_tensor_module = importlib.import_module("..tensor", __package__)  # the module (dlcore.tensor is also a function)


def broadcast_all(*values):
    """The values as Tensors of one broadcast shape (numbers take the first tensor's float dtype, else float32).

    Broadcasting goes through ``expand``, so gradients flow back to the original parameters."""
    like = next((v for v in values if isinstance(v, Tensor)), None)
    dtype = like.dtype if like is not None and like.dtype.kind == "f" else _tensor_module.default_dtype
    tensors = [v if isinstance(v, Tensor) else Tensor(np.asarray(v, dtype=dtype)) for v in values]
    shape = np.broadcast_shapes(*(t.shape for t in tensors))
    return tuple(t if t.shape == shape else t.expand(*shape) for t in tensors)


def sum_rightmost(value, dims):
    """Sums the last ``dims`` dims (event dims of a log-density)."""
    for _ in range(dims):
        value = value.sum(-1)
    return value


def draw(shape, dtype, sampler):
    """A Tensor of ``sampler(rng, shape)`` drawn from dlcore's global generator (``dlcore.manual_seed`` fixes it)."""
    return Tensor(np.asarray(sampler(default_generator(), tuple(shape)), dtype=dtype))


def _describe(value):
    return f"Tensor of shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__


class Distribution:
    """torch.distributions.Distribution: batch_shape, event_shape, sample / rsample, log_prob, moments."""

    has_rsample = False
    has_enumerate_support = False
    #: Parameter name -> constraint, checked at construction when validation is on.
    arg_constraints: dict = {}
    support = None
    _validate_args = True

    @staticmethod
    def set_default_validate_args(value):
        """Turns argument and value validation on (torch's default) or off for every distribution."""
        if value not in (True, False):
            raise ValueError("set_default_validate_args: expected True or False")
        Distribution._validate_args = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape = tuple(batch_shape)
        self._event_shape = tuple(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            self._validate_parameters()

    # ---- validation (one place) ------------------------------------------------------------------------------
    def _validate_parameters(self):
        for name, constraint in self.arg_constraints.items():
            if name not in self.__dict__ and not hasattr(type(self), name):
                continue  # an alternative parametrisation not given (probs vs logits)
            value = getattr(self, name)
            if value is None:
                continue
            if not constraints._array(constraint.check(value)).all():
                raise ValueError(
                    f"Expected parameter {name} ({_describe(value)}) of distribution {self!r} to satisfy the "
                    f"constraint {constraint!r}, but found invalid values:\n{value}")

    def _validate_sample(self, value):
        """Raises ValueError when ``value`` cannot broadcast with batch_shape + event_shape or lies outside the
        support."""
        if not isinstance(value, Tensor):
            raise ValueError(f"The value argument to log_prob must be a Tensor, got {type(value).__name__}")
        event_dims = len(self._event_shape)
        if tuple(value.shape[value.ndim - event_dims:]) != self._event_shape:
            raise ValueError(f"The right-most size of value must match event_shape: {tuple(value.shape)} vs "
                             f"{self._event_shape}")
        try:
            np.broadcast_shapes(tuple(value.shape), self._batch_shape + self._event_shape)
        except ValueError as err:
            raise ValueError(f"Value of shape {tuple(value.shape)} is not broadcastable with batch_shape + "
                             f"event_shape {self._batch_shape + self._event_shape}") from err
        support = self.support
        if support is not None and not constraints._array(support.check(value)).all():
            raise ValueError(f"Expected value argument ({_describe(value)}) to be within the support "
                             f"({support!r}) of the distribution {self!r}, but found invalid values:\n{value}")

    def _checked(self, value):
        """``value`` as a Tensor of the parameters' dtype, validated when validation is on."""
        if not isinstance(value, Tensor):
            value = Tensor(np.asarray(value, dtype=self._dtype()))
        if self._validate_args:
            self._validate_sample(value)
        return value

    def _dtype(self):
        for name in self.arg_constraints:
            value = self.__dict__.get(name)
            if isinstance(value, Tensor):
                return value.dtype
        return _tensor_module.default_dtype

    # ---- shapes ----------------------------------------------------------------------------------------------
    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    def _extended_shape(self, sample_shape=()):
        if isinstance(sample_shape, int):
            sample_shape = (sample_shape,)
        return tuple(sample_shape) + self._batch_shape + self._event_shape

    def expand(self, batch_shape, _instance=None):
        """A view of this distribution with a larger batch_shape (parameters expanded, not copied)."""
        batch_shape = tuple(batch_shape)
        np.broadcast_shapes(batch_shape, self._batch_shape)  # raises for incompatible shapes
        new = _instance if _instance is not None else copy.copy(self)
        old_ndim = len(self._batch_shape)
        for name, value in list(vars(self).items()):
            if isinstance(value, Tensor) and tuple(value.shape[:old_ndim]) == self._batch_shape:
                setattr(new, name, value.expand(*(batch_shape + tuple(value.shape[old_ndim:]))))
        new._batch_shape = batch_shape
        return new

    # ---- sampling --------------------------------------------------------------------------------------------
    def sample(self, sample_shape=()):
        """A sample without gradient (drawn from dlcore's global generator)."""
        with no_grad():
            return self.rsample(sample_shape).detach()

    def rsample(self, sample_shape=()):
        raise NotImplementedError(f"{type(self).__name__} has no reparameterized sampler (rsample); use sample()")

    def sample_n(self, n):
        return self.sample((n,))

    # ---- densities and moments -------------------------------------------------------------------------------
    def log_prob(self, value):
        raise NotImplementedError(f"{type(self).__name__}.log_prob is not implemented")

    def cdf(self, value):
        raise NotImplementedError(f"{type(self).__name__}.cdf is not implemented")

    def icdf(self, value):
        raise NotImplementedError(f"{type(self).__name__}.icdf is not implemented")

    def entropy(self):
        raise NotImplementedError(f"{type(self).__name__}.entropy is not implemented")

    def enumerate_support(self, expand=True):
        raise NotImplementedError(f"{type(self).__name__} has no finite support to enumerate")

    @property
    def mean(self):
        raise NotImplementedError(f"{type(self).__name__}.mean is not implemented")

    @property
    def mode(self):
        raise NotImplementedError(f"{type(self).__name__}.mode is not implemented")

    @property
    def variance(self):
        raise NotImplementedError(f"{type(self).__name__}.variance is not implemented")

    @property
    def stddev(self):
        return self.variance.sqrt()

    def perplexity(self):
        return self.entropy().exp()

    def __repr__(self):
        shown = [(name.lstrip("_"), getattr(self, name, None)) for name in self.arg_constraints]
        args = ", ".join(f"{name}: {_short(value)}" for name, value in shown if isinstance(value, Tensor))
        return f"{type(self).__name__}({args})"


def _short(value):
    return f"{float(np.asarray(value.detach()).ravel()[0]):.4g}" if value.numel() == 1 else f"size {tuple(value.shape)}"
