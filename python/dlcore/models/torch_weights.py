"""Copy a PyTorch / torchvision state dict into a dlcore model.

The zoo uses torchvision's module names and PyTorch's layouts (Conv2d OIHW,
ConvTranspose2d (C_in, C_out/g, KH, KW), Linear (out, in), NCHW flatten order),
so the mapping is by name; this function accepts the spellings a checkpoint
may carry (a ``module.`` prefix from DataParallel/DDP, old checkpoints without
``num_batches_tracked``) and checks everything before writing anything.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor

_PREFIXES = ("module.", "_orig_mod.")  # DataParallel/DDP, torch.compile


def _to_numpy(value, name):
    """torch.Tensor / dlcore.Tensor / NumPy / CuPy array -> a NumPy array."""
    if isinstance(value, Tensor):
        value = value._data
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch.Tensor, without importing torch
        value = value.detach().cpu()
        if str(getattr(value, "dtype", "")) == "torch.bfloat16":
            value = value.float()
        value = value.numpy()
    elif hasattr(value, "get") and type(value).__module__.split(".")[0] == "cupy":
        value = value.get()
    if not hasattr(value, "shape"):
        try:
            value = np.asarray(value)
        except Exception as exc:  # pragma: no cover - exotic values
            raise TypeError(f"load_torch_state_dict: '{name}' is a {type(value).__name__}, not an array") from exc
    return np.asarray(value)


def _strip_prefix(keys):
    for prefix in _PREFIXES:
        if keys and all(k.startswith(prefix) for k in keys):
            return prefix
    return ""


def load_torch_state_dict(model, state_dict, strict=True):
    """Copies `state_dict` (name -> torch tensor / array) into `model`'s parameters and buffers, in place.

    Every name and shape is checked first; on any problem a ValueError lists
    all of them (missing names, unexpected names, shape mismatches) and the
    model is left unchanged. Values are cast to each parameter's dtype.
    ``num_batches_tracked`` missing from an old checkpoint is not an error.
    With ``strict=False`` missing/unexpected names are allowed (shapes are still
    checked) and ``(missing, unexpected)`` is returned.

    Returns:
        (missing, unexpected): lists of names (both empty when strict).
    """
    if not hasattr(state_dict, "items"):
        raise TypeError(f"load_torch_state_dict: state_dict must be a mapping, got {type(state_dict).__name__}")
    prefix = _strip_prefix(list(state_dict))
    source = {k[len(prefix):]: v for k, v in state_dict.items()}
    targets = dict(model._state_entries())  # what a torch state_dict holds (every name of a tied weight)
    missing = [k for k in targets if k not in source and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in source if k not in targets]
    problems = []
    updates = []
    for name, target in targets.items():
        if name not in source:
            continue
        value = _to_numpy(source[name], name)
        if tuple(value.shape) != tuple(target.shape):
            hint = ""
            if value.ndim == 4 and value.shape[:2][::-1] == tuple(target.shape[:2]):
                hint = " (input/output channels swapped: a ConvTranspose2d vs Conv2d weight?)"
            problems.append(f"'{name}': checkpoint shape {tuple(value.shape)} != model shape "
                            f"{tuple(target.shape)}{hint}")
            continue
        if value.dtype.kind not in "fiub":
            problems.append(f"'{name}': unsupported dtype {value.dtype}")
            continue
        updates.append((target, value))
    if strict and missing:
        problems.append(f"missing from the checkpoint: {missing}")
    if strict and unexpected:
        problems.append(f"not in the model: {unexpected}")
    if problems:
        raise ValueError(f"load_torch_state_dict into {type(model).__name__}: " + "; ".join(problems))
    from .._device import array_like

    for target, value in updates:
        target._data[...] = array_like(value.astype(target._data.dtype, copy=False), target._data)
    return missing, unexpected
