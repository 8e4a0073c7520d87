"""``parameters_to_vector`` / ``vector_to_parameters`` (torch.nn.utils.convert_parameters)."""
from __future__ import annotations

from ...tensor import Tensor, cat


def parameters_to_vector(parameters):
    """The parameters flattened and concatenated into one 1-D Tensor (on the tape: differentiable)."""
    parameters = list(parameters)
    if not parameters:
        raise ValueError("parameters_to_vector: no parameters")
    _check_one_device(parameters, "parameters_to_vector")
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Gives each parameter, in order, a copy of its slice of the 1-D `vec` as its data (sizes must add up
    exactly). As torch's ``param.data = ...``: graphs recorded before keep the old values they saved."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {vec.shape}")
    parameters = list(parameters)
    total = sum(p.numel() for p in parameters)
    if total != vec.numel():
        raise ValueError(f"vector_to_parameters: vec has {vec.numel()} elements, the parameters {total}")
    _check_one_device(parameters + [vec], "vector_to_parameters")
    start = 0
    for p in parameters:
        n = p.numel()
        p._data = vec._data[start:start + n].reshape(p.shape).astype(p.dtype, copy=True)
        start += n


def _check_one_device(tensors, who):
    devices = {str(t.device) for t in tensors}
    if len(devices) > 1:
        raise RuntimeError(f"{who}: tensors on several devices {sorted(devices)}")
