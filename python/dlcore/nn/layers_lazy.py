"""Lazy layers (torch.nn.LazyLinear, LazyConv2d ...), nn.Buffer, DataParallel and NLLLoss2d.

A lazy layer is built without its input size; its first forward reads it from the input, creates the
parameters with the size-dependent default initialization, and the module becomes the ordinary layer
(``type(m)`` is then ``Linear``, ``Conv2d`` ...), as torch's. The Parameter objects created at
construction are the ones filled in (``UninitializedParameter`` turns into ``Parameter``), so an optimizer
built before the first forward trains them.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .layers import ConvTranspose2d
from .layers_3d import BatchNorm3d, Conv3d, ConvTranspose3d, InstanceNorm3d
from .layers_more import Conv1d, ConvTranspose1d, InstanceNorm1d, InstanceNorm2d
from .module import Buffer, Module, Parameter
from .modules import BatchNorm1d, BatchNorm2d, Conv2d, Linear, NLLLoss

__all__ = ["Buffer", "Container", "DataParallel", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d",
           "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
           "LazyConvTranspose3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d", "LazyLinear",
           "LazyModuleMixin", "NLLLoss2d", "UninitializedBuffer", "UninitializedParameter"]


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (no data until ``materialize``)."""

    def __init__(self, requires_grad=True, device=None, dtype=None):
        super().__init__(np.empty((0,), dtype=dtype or np.float32), requires_grad=requires_grad)

    def materialize(self, data):
        """Becomes an ordinary Parameter holding a copy of `data` (an array)."""
        self._data = np.array(data, copy=True)
        self.__class__ = Parameter

    def __repr__(self):
        return "<UninitializedParameter>"


class UninitializedBuffer(Tensor):
    """A buffer whose shape is not known yet (the running statistics of a lazy BatchNorm)."""

    def __init__(self, requires_grad=False, device=None, dtype=None):
        super().__init__(np.empty((0,), dtype=dtype or np.float32))

    def materialize(self, data):
        self._data = np.array(data, copy=True)
        self.__class__ = Tensor

    def __repr__(self):
        return "<UninitializedBuffer>"


class LazyModuleMixin:
    """The first call infers the input size, builds ``cls_to_become`` with it and takes over its state."""

    cls_to_become = None
    #: which input axis gives the missing size: -1 (Linear's features) or 1 (channels)
    _size_axis = 1

    def _lazy_init(self, *args, **kwargs):
        Module.__init__(self)
        self._lazy_args, self._lazy_kwargs = args, kwargs  # present until the first forward
        # a layer of the final kind, for the names of its parameters and buffers (groups divide the channels)
        probe = self.cls_to_become(int(kwargs.get("groups", args[5] if len(args) > 5 else 1)), *args, **kwargs)
        for name, value in probe._parameters.items():
            setattr(self, name, UninitializedParameter(value.requires_grad) if value is not None else None)
            if value is None:
                self.register_parameter(name, None)
        for name, value in probe._buffers.items():
            self.register_buffer(name, UninitializedBuffer() if value is not None and value.ndim else value,
                                 persistent=name not in probe._non_persistent_buffers)

    def has_uninitialized_params(self):
        """True until the first forward (also for a layer with no parameters, e.g. LazyInstanceNorm2d())."""
        return "_lazy_args" in self.__dict__

    def initialize_parameters(self, input):
        """Builds the real layer for `input`'s size and moves its initialized state into this module."""
        if not isinstance(input, Tensor) or input.ndim == 0:
            raise ValueError(f"{type(self).__name__}: the first input must be a Tensor with a size to infer")
        real = self.cls_to_become(int(input.shape[self._size_axis]), *self._lazy_args, **self._lazy_kwargs)
        for table, real_table in ((self._parameters, real._parameters), (self._buffers, real._buffers)):
            for name, value in real_table.items():
                mine = table.get(name)
                if isinstance(mine, (UninitializedParameter, UninitializedBuffer)):
                    mine.materialize(value._data.astype(input.dtype if value._data.dtype.kind == "f" else
                                                        value._data.dtype))
                else:
                    table[name] = value
        for key, value in real.__dict__.items():
            if key not in ("_parameters", "_buffers", "_modules", "training"):
                self.__dict__[key] = value
        for key in ("_lazy_args", "_lazy_kwargs"):
            self.__dict__.pop(key, None)
        self.__class__ = self.cls_to_become

    def __call__(self, *args, **kwargs):
        if self.has_uninitialized_params():
            self.initialize_parameters(args[0] if args else next(iter(kwargs.values())))
        return Module.__call__(self, *args, **kwargs)


def _lazy(name, real, size_axis=1, doc=""):
    def __init__(self, *args, **kwargs):
        LazyModuleMixin._lazy_init(self, *args, **kwargs)

    return type(name, (LazyModuleMixin, real), {"__init__": __init__, "cls_to_become": real, "_size_axis": size_axis,
                                                  "__doc__": doc or f"{real.__name__} with in_features / "
                                                                    f"in_channels inferred at the first forward."})


LazyLinear = _lazy("LazyLinear", Linear, -1, "LazyLinear(out_features, bias=True): Linear with in_features "
                                            "read from the first input's last axis.")
LazyConv1d = _lazy("LazyConv1d", Conv1d)
LazyConv2d = _lazy("LazyConv2d", Conv2d)
LazyConvTranspose1d = _lazy("LazyConvTranspose1d", ConvTranspose1d)
LazyConvTranspose2d = _lazy("LazyConvTranspose2d", ConvTranspose2d)
LazyBatchNorm1d = _lazy("LazyBatchNorm1d", BatchNorm1d)
LazyBatchNorm2d = _lazy("LazyBatchNorm2d", BatchNorm2d)
LazyInstanceNorm1d = _lazy("LazyInstanceNorm1d", InstanceNorm1d)
LazyInstanceNorm2d = _lazy("LazyInstanceNorm2d", InstanceNorm2d)
LazyConv3d = _lazy("LazyConv3d", Conv3d)
LazyConvTranspose3d = _lazy("LazyConvTranspose3d", ConvTranspose3d)
LazyBatchNorm3d = _lazy("LazyBatchNorm3d", BatchNorm3d)
LazyInstanceNorm3d = _lazy("LazyInstanceNorm3d", InstanceNorm3d)


class DataParallel(Module):
    """torch.nn.DataParallel's interface on one device: ``self.module`` runs the whole batch (torch does the
    same when one device is given). State dict names carry the ``module.`` prefix, as torch's. For several
    processes use dlcore.distributed.DistributedDataParallel."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if device_ids is not None and len(list(device_ids)) > 1:
            raise NotImplementedError("DataParallel over several devices is not supported: use "
                                      "dlcore.distributed.DistributedDataParallel (one process per device)")
        self.module = module
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


class NLLLoss2d(NLLLoss):
    """The deprecated name of NLLLoss on (N, C, H, W) log-probabilities."""


class Container(Module):
    """torch's deprecated Container: a Module holding the modules given as keywords."""

    def __init__(self, **kwargs):
        super().__init__()
        for key, value in kwargs.items():
            self.add_module(key, value)
