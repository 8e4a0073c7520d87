"""Parameter initialization (in place, outside the tape), PyTorch's formulas.

Values are drawn on the host from dlcore's generator (or `generator`) and then
written into the tensor on its device: a seed gives the same weights on the
CPU and on the GPU.
"""
from __future__ import annotations

import math

import numpy as np

from .._device import array_like
from ..autograd import no_grad
from ..random import default_generator


def _fans(tensor):
    if tensor.ndim < 2:
        raise ValueError(f"fan in/out needs a tensor with 2+ dims, got shape {tensor.shape}")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "sigmoid", "identity")


def calculate_gain(nonlinearity, param=None):
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "selu":
        return 3.0 / 4  # torch's choice for self-normalizing networks
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def _fill(tensor, values):
    with no_grad():
        tensor._data[...] = array_like(values.astype(tensor.dtype), tensor._data)
    return tensor


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    gen = generator or default_generator()
    return _fill(tensor, gen.uniform(a, b, tensor.shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    gen = generator or default_generator()
    return _fill(tensor, gen.normal(mean, std, tensor.shape))


def constant_(tensor, val):
    return _fill(tensor, np.full(tensor.shape, val))


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    fan_in, fan_out = _fans(tensor)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    fan_in, fan_out = _fans(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """U(-b, b), b = gain * sqrt(3 / fan) (He et al. 2015)."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Normal(mean, std) restricted to [a, b] (absolute bounds, as torch), drawn by inverting the CDF."""
    from ..distributions._special import erfinv_array

    if not a < b:
        raise ValueError(f"trunc_normal_: a ({a}) must be smaller than b ({b})")
    gen = generator or default_generator()
    cdf = lambda v: (1.0 + math.erf((v - mean) / std / math.sqrt(2.0))) / 2.0  # noqa: E731
    u = gen.uniform(2 * cdf(a) - 1, 2 * cdf(b) - 1, tensor.shape)
    return _fill(tensor, np.clip(mean + std * math.sqrt(2.0) * erfinv_array(u), a, b))


def orthogonal_(tensor, gain=1.0, generator=None):
    """A (semi-)orthogonal matrix (Saxe et al. 2013): the Q of a Gaussian matrix's QR, signs fixed by R's
    diagonal, over the tensor flattened to (rows, everything else)."""
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: needs a tensor with 2+ dims, got shape {tensor.shape}")
    gen = generator or default_generator()
    rows = tensor.shape[0]
    cols = tensor.numel() // rows if rows else 0
    flat = gen.normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """A 2-D tensor drawn from Normal(0, std) with ceil(sparsity * rows) zeros in each column (Martens 2010)."""
    if tensor.ndim != 2:
        raise ValueError(f"sparse_: only 2-D tensors are supported, got shape {tensor.shape}")
    gen = generator or default_generator()
    rows, cols = tensor.shape
    values = gen.normal(0.0, std, (rows, cols))
    zeros = int(math.ceil(sparsity * rows))
    for c in range(cols):
        values[gen.permutation(rows)[:zeros], c] = 0
    return _fill(tensor, values)


def eye_(tensor):
    """The identity matrix (2-D tensors), preserving the identity of the inputs in Linear layers."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {tensor.shape}")
    return _fill(tensor, np.eye(*tensor.shape))


def dirac_(tensor, groups=1):
    """The Dirac delta (3-, 4- or 5-D convolution weights): each output channel copies its input channel
    (per group), so the convolution starts as the identity."""
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_: only 3, 4 and 5-D tensors are supported, got shape {tensor.shape}")
    if tensor.shape[0] % groups:
        raise ValueError(f"dirac_: dim 0 ({tensor.shape[0]}) must be divisible by groups ({groups})")
    per_group = tensor.shape[0] // groups
    values = np.zeros(tensor.shape)
    center = tuple(k // 2 for k in tensor.shape[2:])
    for g in range(groups):
        for d in range(min(per_group, tensor.shape[1])):
            values[(g * per_group + d, d) + center] = 1
    return _fill(tensor, values)


def _deprecated(name, fn):
    def alias(*args, **kwargs):
        import warnings

        warnings.warn(f"nn.init.{name} is now deprecated in favor of nn.init.{name}_.", FutureWarning, stacklevel=2)
        return fn(*args, **kwargs)

    alias.__name__ = name
    return alias


uniform = _deprecated("uniform", uniform_)
normal = _deprecated("normal", normal_)
constant = _deprecated("constant", constant_)
eye = _deprecated("eye", eye_)
dirac = _deprecated("dirac", dirac_)
xavier_uniform = _deprecated("xavier_uniform", xavier_uniform_)
xavier_normal = _deprecated("xavier_normal", xavier_normal_)
kaiming_uniform = _deprecated("kaiming_uniform", kaiming_uniform_)
kaiming_normal = _deprecated("kaiming_normal", kaiming_normal_)
orthogonal = _deprecated("orthogonal", orthogonal_)
sparse = _deprecated("sparse", sparse_)
