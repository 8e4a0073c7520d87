"""dlcore.save / dlcore.load: checkpoints that cannot execute code when loaded.

Format: an uncompressed ``.npz`` (a zip of ``.npy`` files) read with
``allow_pickle=False``. The nested structure (dicts, lists, tuples, numbers,
strings, None) is a JSON document stored as the ``__dlcore__`` member; every
array is a member of its own, and the JSON records each array's SHA-256 so a
corrupted file is caught even where zip's CRC would not be checked. Writes go
to a temporary file in the same directory, are fsync'ed, then renamed over
the target, so a crash never leaves a half-written checkpoint under the name.

GPU arrays (a model on "cuda") are written as host arrays, so any checkpoint
loads on a machine without a GPU; ``load_state_dict`` copies them onto the
parameters' current device, and ``load(path, map_location="cuda")`` puts
every array on the GPU directly.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
import zlib

import numpy as np

from ._device import array_to, is_cuda_array, module_for_device, parse_device
from .tensor import Tensor

FORMAT = "dlcore-checkpoint"
#: 2: Tensors are stored as "tensor" entries and load as Tensors (version-1 files still load, as arrays)
VERSION = 2
_META_KEY = "__dlcore__"


class CheckpointError(ValueError):
    """A checkpoint file is corrupted, truncated, or not a dlcore checkpoint."""


def _digest(array):
    return hashlib.sha256(np.ascontiguousarray(array).view(np.uint8).reshape(-1).tobytes()).hexdigest()


def _encode_array(obj, arrays, kind="array"):
    if is_cuda_array(obj):
        obj = obj.get()  # checkpoints hold host arrays: they load without a GPU
    if obj.dtype.hasobject:
        raise TypeError("dlcore.save: object arrays cannot be saved (they would need pickle)")
    name = f"a{len(arrays)}"
    arrays[name] = obj
    return {"t": kind, "key": name, "sha256": _digest(obj)}


def _encode_tensor(tensor, arrays):
    """A Tensor is stored as its array, marked so that load gives a Tensor back (as torch.load does); a Parameter
    or a tensor requiring grad keeps that (state_dict's tensors are detached: they come back plain)."""
    node = _encode_array(tensor._data, arrays, kind="tensor")
    if tensor.requires_grad:
        node["requires_grad"] = True
    if type(tensor).__name__ == "Parameter":
        node["parameter"] = True
    return node


def _encode(obj, arrays):
    """obj -> a JSON-able node; arrays are appended to `arrays` and referenced by name."""
    if isinstance(obj, Tensor):
        return _encode_tensor(obj, arrays)
    if is_cuda_array(obj) or isinstance(obj, np.ndarray):
        return _encode_array(obj, arrays)
    if isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None:
        return {"t": "none"}
    if isinstance(obj, bool):
        return {"t": "bool", "v": obj}
    if isinstance(obj, int):
        return {"t": "int", "v": obj}
    if isinstance(obj, float):
        return {"t": "float", "v": repr(obj)}  # repr round-trips exactly, incl. inf/nan
    if isinstance(obj, str):
        return {"t": "str", "v": obj}
    if isinstance(obj, (list, tuple)):
        return {"t": type(obj).__name__, "items": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"dlcore.save: dict keys must be str or int, got {type(k).__name__}")
            items.append([k, _encode(v, arrays)])
        return {"t": "dict", "items": items}
    raise TypeError(f"dlcore.save: cannot save an object of type {type(obj).__name__}")


def save(obj, path):
    """Writes `obj` (e.g. ``model.state_dict()``, ``optimizer.state_dict()`` or a dict of them) to `path`.

    Atomic: the file at `path` is either the old one or the complete new one.
    """
    arrays = {}
    tree = _encode(obj, arrays)
    meta = json.dumps({"format": FORMAT, "version": VERSION, "tree": tree}).encode()
    arrays[_META_KEY] = np.frombuffer(meta, dtype=np.uint8)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


#: A state dict nests a few levels (checkpoint -> model -> param); far deeper is a forged file.
_MAX_DEPTH = 64
#: The JSON index of a checkpoint is small (names, numbers, hashes); 64 MiB is far beyond any real one.
_MAX_META_BYTES = 64 << 20
_SCALARS = {"bool": bool, "int": int, "str": str}


def _bad(path, what):
    return CheckpointError(f"{path}: corrupted checkpoint ({what})")


def _decode_array(node, archive, path, device):
    key, sha = node.get("key"), node.get("sha256")
    if not isinstance(key, str) or not isinstance(sha, str):
        raise _bad(path, "an array entry lacks its key or SHA-256")
    if key == _META_KEY or key not in archive.files:
        raise _bad(path, f"array '{key}' is missing")
    array = archive[key]
    if _digest(array) != sha:
        raise CheckpointError(f"{path}: array '{key}' does not match its SHA-256 (corrupted file)")
    return array_to(array, device)


def _decode_tensor(node, archive, path, device):
    flags = {k: node.get(k, False) for k in ("requires_grad", "parameter")}
    if any(type(v) is not bool for v in flags.values()):
        raise _bad(path, f"a tensor entry's flags are {flags}, not booleans")
    array = _decode_array(node, archive, path, device)
    requires_grad = flags["requires_grad"] and array.dtype.kind in "fc"
    if flags["parameter"]:
        from .nn.module import Parameter  # nn imports this package: not at the top

        return Parameter(Tensor(array), requires_grad=requires_grad)
    return Tensor(array, requires_grad=requires_grad)


def _decode(node, archive, path, device, depth=0):
    """One JSON node -> its value, checking the node's shape strictly: anything a
    real ``save`` cannot have written raises CheckpointError."""
    if depth > _MAX_DEPTH:
        raise _bad(path, f"entries nested deeper than {_MAX_DEPTH} levels")
    if not isinstance(node, dict) or not isinstance(node.get("t"), str):
        raise _bad(path, f"an entry is {type(node).__name__}, not a typed node")
    kind = node["t"]
    if kind == "array":
        return _decode_array(node, archive, path, device)
    if kind == "tensor":
        return _decode_tensor(node, archive, path, device)
    if kind == "none":
        return None
    if kind in _SCALARS:
        value = node.get("v")
        # bool is an int in Python: check it exactly, so {"t": "int", "v": true} is refused too
        if type(value) is not _SCALARS[kind]:
            raise _bad(path, f"a {kind} entry holds {type(value).__name__}")
        return value
    if kind == "float":
        value = node.get("v")
        if not isinstance(value, str):
            raise _bad(path, f"a float entry holds {type(value).__name__}")
        try:
            return float(value)  # float() parses numbers only: nothing is evaluated
        except ValueError:
            raise _bad(path, f"float entry {value[:40]!r}") from None
    if kind in ("list", "tuple", "dict"):
        items = node.get("items")
        if not isinstance(items, list):
            raise _bad(path, f"a {kind} entry has no item list")
        if kind != "dict":
            values = [_decode(v, archive, path, device, depth + 1) for v in items]
            return values if kind == "list" else tuple(values)
        out = {}
        for item in items:
            if (not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], (str, int))
                    or isinstance(item[0], bool)):
                raise _bad(path, "a dict item is not a [str-or-int key, value] pair")
            out[item[0]] = _decode(item[1], archive, path, device, depth + 1)
        return out
    raise CheckpointError(f"{path}: unknown entry type {kind!r}")


def _check_members(path, zf):
    """Reads each member's .npy header (not its data) and checks that the size it
    declares is the size stored, so a forged header (a 4 TiB shape, an object
    dtype) is refused before NumPy allocates anything for it."""
    for info in zf.infolist():
        if not info.filename.endswith(".npy"):
            raise _bad(path, f"member {info.filename!r} is not an array")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _bad(path, f"member {info.filename!r} uses compression method {info.compress_type}")
        with zf.open(info) as f:
            version = np.lib.format.read_magic(f)
            readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            if version not in readers:  # np.save writes 1.0, or 2.0 for a header over 64 KiB
                raise _bad(path, f"member {info.filename!r} has .npy version {version}")
            shape, _, dtype = readers[version](f, max_header_size=10000)
            offset = f.tell()
        if dtype.hasobject:
            raise _bad(path, f"member {info.filename!r} holds Python objects (a pickle)")
        count = 1
        for dim in shape:
            count *= dim
        if count * dtype.itemsize != info.file_size - offset:
            raise _bad(path, f"member {info.filename!r} declares {shape} {dtype} but stores "
                             f"{info.file_size - offset} bytes")


def load(path, map_location="cpu", weights_only=True):
    """Reads a checkpoint written by ``dlcore.save``: what was saved as a Tensor comes back as a Tensor (as
    torch.load; a Parameter as a Parameter, requires_grad kept), a NumPy array as an array (the optimizer's
    state), numbers, strings and containers as themselves.

    ``weights_only`` is accepted for PyTorch's signature: a dlcore checkpoint never holds code, so
    loading is always weights-only (``False`` changes nothing).

    ``map_location="cuda"`` puts every array (and Tensor) on the GPU instead
    (``load_state_dict`` does not need it: it copies onto each parameter's device).

    Raises CheckpointError (a ValueError) for a truncated, corrupted or foreign
    file, FileNotFoundError when it does not exist. Nothing in the file is
    executed: no pickle is ever read, and every header and index entry is
    checked before it is used (tests/test_checkpoint_corruption.py: over 200
    damaged files).
    """
    path = os.fspath(path)
    device = parse_device(map_location)
    module_for_device(device)  # a missing GPU raises here, before the file is read
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            _check_members(path, zf)
        with np.load(path, allow_pickle=False) as archive:
            if _META_KEY not in archive.files:
                raise CheckpointError(f"{path}: not a dlcore checkpoint (no {_META_KEY} entry)")
            raw = archive[_META_KEY]
            if raw.dtype != np.uint8 or raw.ndim != 1 or raw.size > _MAX_META_BYTES:
                raise _bad(path, f"index entry is {raw.dtype} {raw.shape}, not bytes")
            meta = json.loads(raw.tobytes().decode())
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                fmt = meta.get("format") if isinstance(meta, dict) else None
                raise CheckpointError(f"{path}: not a dlcore checkpoint (format {fmt!r})")
            version = meta.get("version")
            if type(version) is not int:
                raise _bad(path, f"version {version!r}")
            if version > VERSION:
                raise CheckpointError(f"{path}: checkpoint version {version} is newer than this dlcore "
                                      f"reads ({VERSION})")
            if "tree" not in meta:
                raise _bad(path, "no tree in the index")
            return _decode(meta["tree"], archive, path, device)
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, OSError, KeyError, ValueError,
            UnicodeDecodeError, RecursionError) as exc:
        # OSError covers a directory or unreadable path; RecursionError a JSON index nested to blow the
        # stack; NotImplementedError zipfile's unknown compression; zlib.error a damaged deflate stream
        raise CheckpointError(f"{path}: corrupted or truncated checkpoint ({type(exc).__name__}: {exc})") from exc
