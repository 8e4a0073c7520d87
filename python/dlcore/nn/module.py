"""Module and Parameter: the containers of models (PyTorch's API shape)."""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from .._device import array_like, array_to, parse_device
from ..tensor import Tensor, _to_arguments


class Parameter(Tensor):
    """A tensor that a Module registers as trainable (requires_grad by default)."""

    def __init__(self, data, requires_grad=True):
        super().__init__(data._data if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Buffer(Tensor):
    """``self.name = nn.Buffer(tensor, persistent=True)`` registers a buffer (torch >= 2.5's spelling of
    register_buffer); the module keeps a plain Tensor sharing its data."""

    def __init__(self, data=None, *, persistent=True):
        super().__init__(np.empty((0,), np.float32) if data is None else
                         (data._data if isinstance(data, Tensor) else np.asarray(data)))
        self.persistent = persistent


def _host_array(value):
    """A NumPy array of a value without a NumPy dtype: a torch tensor (detached, on the CPU) or a list."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu()
    return np.asarray(value)


#: What load_state_dict returns: the keys the module has that the state dict lacks, and the reverse.
IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


# load_state_dict's errors are also RuntimeErrors, which is what torch raises for them: a ported
# `except RuntimeError:` around a checkpoint load catches them, and dlcore's own kinds stay.
class StateDictKeyError(KeyError, RuntimeError):
    """Missing or unexpected keys in a strict load_state_dict."""


class StateDictShapeError(ValueError, RuntimeError):
    """A checkpoint entry whose shape differs from the module's."""


class StateDictDtypeError(TypeError, RuntimeError):
    """A checkpoint entry of another dtype kind (float into int ...)."""


class Module:
    """Base class of layers and models.

    Assigning a Parameter or a Module to an attribute registers it;
    ``register_buffer`` registers non-trainable state (running statistics)
    that ``state_dict`` saves.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration -----------------------------------------------------
    def __setattr__(self, name, value):
        """PyTorch's rules: a Parameter or Module registers (replacing a plain attribute of that name); a
        registered buffer stays a buffer when a Tensor or None is assigned (`self.running_mean = new` keeps it
        saved); a registered parameter takes only a Parameter or None (a plain Tensor would silently drop it
        from parameters() and state_dict)."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("call Module.__init__() before assigning attributes")
        if isinstance(value, Buffer):
            for table in (self._parameters, self._modules):
                table.pop(name, None)
            self.register_buffer(name, Tensor(value._data), persistent=value.persistent)
        elif isinstance(value, (Parameter, Module)):
            target = self._parameters if isinstance(value, Parameter) else self._modules
            for table in (self._parameters, self._modules, self._buffers):
                if table is not target:
                    table.pop(name, None)
            self._register_in(target, name, value)  # a replaced entry keeps its place (state_dict order, torch)
        elif name in self._parameters:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                f"(dlcore.nn.Parameter or None expected)")
            self.register_parameter(name, None)
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor) and not hasattr(value, "__array__"):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' (Tensor or None expected)")
            self._buffers[name] = value if value is None or isinstance(value, Tensor) else Tensor(value)
        else:
            self._modules.pop(name, None)  # `self.shortcut = None` over a registered module unregisters it
            object.__setattr__(self, name, value)

    def _register_in(self, table, name, value):
        # A plain attribute of that name (register_parameter(name, None) leaves one, e.g. a Conv2d built with
        # bias=False) would shadow the table entry: `conv.bias = Parameter(b)` then read None in forward.
        self.__dict__.pop(name, None)
        table[name] = value

    def __getattr__(self, name):
        for table in ("_parameters", "_modules", "_buffers"):
            entries = self.__dict__.get(table)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for table in (self._parameters, self._modules, self._buffers):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    #: Names of this module's buffers that state_dict leaves out (register_buffer(..., persistent=False)).
    _non_persistent_buffers = frozenset()

    def register_buffer(self, name, array, persistent=True):
        """Non-trainable state (a Tensor, an array, or None): moved by ``to()``, saved in ``state_dict`` unless
        ``persistent=False`` (then it is neither saved nor expected by ``load_state_dict``, as PyTorch)."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"register_buffer: the name must be a non-empty string without '.', got {name!r}")
        self._register_in(self._buffers, name,
                          None if array is None else (array if isinstance(array, Tensor) else Tensor(array)))
        names = set(self._non_persistent_buffers)
        (names.add if not persistent else names.discard)(name)
        object.__setattr__(self, "_non_persistent_buffers", frozenset(names))

    def add_module(self, name, module):
        self._register_in(self._modules, name, module)

    # ---- traversal --------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(qualified name, module) for this module and every descendant, depth first (PyTorch's order).

        A module reachable by several paths is listed once, under its first name, unless
        ``remove_duplicate=False``.
        """
        if remove_duplicate:
            memo = set() if memo is None else memo
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, child in self._modules.items():
            if child is not None and child not in seen:
                seen.add(child)
                yield name, child

    def children(self):
        for _, child in self.named_children():
            yield child

    def _named_members(self, table, prefix, recurse, remove_duplicate):
        """(qualified name, entry) of one table (_parameters or _buffers) over this module or its tree."""
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        seen = set()
        for mod_prefix, module in modules:
            for name, entry in getattr(module, table).items():
                if entry is None or (remove_duplicate and id(entry) in seen):
                    continue
                seen.add(id(entry))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), entry

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(qualified name, Parameter), each shared parameter once unless ``remove_duplicate=False``."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target):
        """The module at dotted path `target` ("" is this module), e.g. ``model.get_submodule("layer1.0")``."""
        module = self
        for i, name in enumerate(target.split(".") if target else []):
            child = module._modules.get(name)
            if child is None:
                where = ".".join(target.split(".")[:i]) or type(self).__name__
                raise AttributeError(f"get_submodule: {where} has no submodule {name!r}")
            module = child
        return module

    def get_parameter(self, target):
        return self._get_member(target, "_parameters", "parameter")

    def get_buffer(self, target):
        return self._get_member(target, "_buffers", "buffer")

    def _get_member(self, target, table, what):
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        entry = getattr(module, table).get(name)
        if entry is None:
            raise AttributeError(f"get_{what}: {type(module).__name__} at {path or '(root)'!r} has no {what} "
                                 f"{name!r}")
        return entry

    def _state_entries(self, prefix=""):
        """(key, Tensor) of everything state_dict holds, in PyTorch's order and naming: per module (depth
        first, every path of a shared module, as torch's state_dict) its parameters, then its persistent
        buffers."""
        for mod_prefix, module in self.named_modules(prefix=prefix, remove_duplicate=False):
            dot = f"{mod_prefix}." if mod_prefix else ""
            for name, p in module._parameters.items():
                if p is not None:
                    yield dot + name, p
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent_buffers:
                    yield dot + name, b

    # ---- modes and gradients ------------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad._data[...] = 0

    def requires_grad_(self, flag=True):
        for p in self.parameters():
            p.requires_grad = bool(flag)
        return self

    def freeze(self):
        """Stops training this module: requires_grad False on every parameter, gradients dropped.

        Frozen parameters get no gradient in backward, so optimizers skip them
        (no weight decay or momentum either). Returns self, e.g.
        ``features = model.features.freeze()`` for transfer learning.
        """
        for p in self.parameters():
            p.requires_grad = False
            p.grad = None
        return self

    def unfreeze(self):
        """Undoes freeze(): every parameter requires grad again. Returns self."""
        return self.requires_grad_(True)

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- device and dtype ---------------------------------------------------
    def to(self, *args, **kwargs):
        """Moves and/or casts every parameter, gradient and buffer in place; returns self.

        ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)``,
        or keywords ``device=``/``dtype=``, as PyTorch's ``Module.to``. The
        Parameter objects stay the same (their ``.data`` is replaced), so an
        optimizer built before the move still holds them; a dtype applies to
        floating-point tensors only. Moving to "cuda" without a usable GPU
        raises ``dlcore.BackendUnavailableError`` before anything moves.

        Example:
            >>> # needs a GPU, so not run as a doctest:
            >>> model = nn.Sequential(nn.Linear(4, 2)).to("cuda")  # doctest: +SKIP
        """
        device, dtype, _ = _to_arguments(args, kwargs)
        device = None if device is None else parse_device(device)
        dtype = None if dtype is None else np.dtype(dtype)
        if dtype is not None and dtype.kind != "f":
            raise TypeError(f"Module.to only accepts floating-point dtypes, got {dtype}")

        def convert(array):
            if device is not None:
                array = array_to(array, device)
            if dtype is not None and array.dtype.kind == "f":
                array = array.astype(dtype, copy=False)
            return array

        return self._apply_to_arrays(convert)

    def cuda(self, device=None):
        return self.to("cuda" if device is None else device)

    def cpu(self):
        return self.to("cpu")

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    def _apply_to_arrays(self, convert):
        """Replaces the array of every parameter, its gradient and every buffer by convert(array)."""
        tensors = list(self.parameters()) + [p.grad for p in self.parameters() if p.grad is not None]
        tensors += list(self.buffers())
        converted = [convert(t._data) for t in tensors]  # all first: a failure leaves the module as it was
        for t, array in zip(tensors, converted):
            t._data = array
        return self

    # ---- state ------------------------------------------------------------
    def state_dict(self, *, destination=None, prefix="", keep_vars=False):
        """Name -> Tensor for every parameter and persistent buffer, in PyTorch's order and names: detached
        tensors sharing their storage (the Parameters themselves with ``keep_vars=True``).

        A module reachable by two paths (shared weights) appears under both, as in torch. A model on the GPU
        gives CuPy-backed tensors; ``dlcore.save`` writes them as host arrays.
        """
        state = OrderedDict() if destination is None else destination
        for name, t in self._state_entries(prefix):
            state[name] = t if keep_vars else t.detach()
        return state

    def load_state_dict(self, state_dict, strict=True):
        """Copies arrays into the parameters and buffers in place.

        Every key, shape and dtype kind is checked before anything is written,
        so a mismatched state dict raises and leaves the module unchanged.
        Returns ``(missing_keys, unexpected_keys)`` (a named tuple, as PyTorch's; both empty when strict).
        """
        targets = dict(self._state_entries())
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        if strict and (missing or unexpected):
            raise StateDictKeyError(f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        updates = []
        for name, target in targets.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            value = value._data if isinstance(value, Tensor) else value
            if not hasattr(value, "shape") or not isinstance(value.dtype, np.dtype):
                value = _host_array(value)  # a list, or another library's tensor (torch's state_dict)
            if tuple(value.shape) != target.shape:
                raise StateDictShapeError(f"load_state_dict: '{name}' has shape {tuple(value.shape)} in the checkpoint "
                                 f"but {target.shape} in the model")
            if value.dtype.kind != target.dtype.kind:
                raise StateDictDtypeError(f"load_state_dict: '{name}' has dtype {value.dtype} in the checkpoint "
                                f"but {target.dtype} in the model")
            updates.append((target, value))
        for target, value in updates:  # onto each target's own device (a CPU checkpoint into a GPU model)
            target._data[...] = array_like(value, target._data)
            target._version_counter()[0] += 1  # an in-place write (caches keyed on it, e.g. packed int8 weights)
        return IncompatibleKeys(missing, unexpected)

    # ---- calling and printing -------------------------------------------------
    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    # hook tables (nn/hooks.py); None until a hook is registered, so a plain call stays cheap
    _forward_pre_hooks = None
    _forward_hooks = None
    _backward_hooks = None

    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks or self._forward_hooks or self._backward_hooks:
            from .hooks import call_with_hooks

            return call_with_hooks(self, args, kwargs)
        return self.forward(*args, **kwargs)

    def register_forward_pre_hook(self, hook):
        """``hook(module, args)`` before forward; a non-None return replaces args. Returns a handle."""
        from .hooks import add_hook

        return add_hook(self, "_forward_pre_hooks", hook)

    def register_forward_hook(self, hook):
        """``hook(module, args, output)`` after forward; a non-None return replaces the output."""
        from .hooks import add_hook

        return add_hook(self, "_forward_hooks", hook)

    def register_full_backward_hook(self, hook):
        """``hook(module, grad_input, grad_output)`` (tuples of Tensors or None) during backward; a tuple it
        returns replaces grad_input. Modules returning one Tensor are supported."""
        from .hooks import add_hook

        return add_hook(self, "_backward_hooks", hook)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = []
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n" + "\n".join(lines) + "\n)"

    def num_parameters(self, trainable_only=False):
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def summary(self) -> str:
        """A table of each parameter's name, shape and count, with the total."""
        rows = [(name, "x".join(map(str, p.shape)), p.numel()) for name, p in self.named_parameters()]
        width = max([len(r[0]) for r in rows] + [9])
        lines = [f"{'parameter':<{width}}  {'shape':>14}  {'count':>10}", "-" * (width + 28)]
        lines += [f"{n:<{width}}  {s:>14}  {c:>10,}" for n, s, c in rows]
        lines += ["-" * (width + 28), f"{'total':<{width}}  {'':>14}  {self.num_parameters():>10,}"]
        return "\n".join(lines)
