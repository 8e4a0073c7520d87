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

import numpy as np

from ._device import array_to, is_cuda_array, module_for_device, parse_device
from .tensor import Tensor

FORMAT = "dlcore-checkpoint"
VERSION = 1
_META_KEY = "__dlcore__"


class CheckpointError(ValueError):
    """A checkpoint file is corrupted, truncated, or not a dlcore checkpoint."""


def _digest(array):
    return hashlib.sha256(np.ascontiguousarray(array).view(np.uint8).reshape(-1).tobytes()).hexdigest()


def _encode(obj, arrays):
    """obj -> a JSON-able node; arrays are appended to `arrays` and referenced by name."""
    if isinstance(obj, Tensor):
        obj = obj.data
    if is_cuda_array(obj):
        obj = obj.get()  # checkpoints hold host arrays: they load without a GPU
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise TypeError("dlcore.save: object arrays cannot be saved (they would need pickle)")
        name = f"a{len(arrays)}"
        arrays[name] = obj
        return {"t": "array", "key": name, "sha256": _digest(obj)}
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


def _decode(node, archive, path, device):
    kind = node.get("t")
    if kind == "array":
        array = archive[node["key"]]
        if _digest(array) != node["sha256"]:
            raise CheckpointError(f"{path}: array '{node['key']}' does not match its SHA-256 (corrupted file)")
        return array_to(array, device)
    if kind == "none":
        return None
    if kind in ("bool", "int", "str"):
        return node["v"]
    if kind == "float":
        return float(node["v"])
    if kind in ("list", "tuple"):
        items = [_decode(v, archive, path, device) for v in node["items"]]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {k: _decode(v, archive, path, device) for k, v in node["items"]}
    raise CheckpointError(f"{path}: unknown entry type {kind!r}")


def load(path, map_location="cpu", weights_only=True):
    """Reads a checkpoint written by ``dlcore.save``; arrays come back as NumPy arrays.

    ``weights_only`` is accepted for PyTorch's signature: a dlcore checkpoint never holds code, so
    loading is always weights-only (``False`` changes nothing).

    ``map_location="cuda"`` returns them as CuPy arrays on the GPU instead
    (``load_state_dict`` does not need it: it copies onto each parameter's device).

    Raises CheckpointError (a ValueError) for a truncated, corrupted or foreign
    file, FileNotFoundError when it does not exist. Nothing in the file is
    executed: no pickle is ever read.
    """
    path = os.fspath(path)
    device = parse_device(map_location)
    module_for_device(device)  # a missing GPU raises here, before the file is read
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if _META_KEY not in archive.files:
                raise CheckpointError(f"{path}: not a dlcore checkpoint (no {_META_KEY} entry)")
            meta = json.loads(archive[_META_KEY].tobytes().decode())
            if meta.get("format") != FORMAT:
                raise CheckpointError(f"{path}: not a dlcore checkpoint (format {meta.get('format')!r})")
            if meta.get("version", 0) > VERSION:
                raise CheckpointError(f"{path}: checkpoint version {meta['version']} is newer than this dlcore "
                                      f"reads ({VERSION})")
            return _decode(meta["tree"], archive, path, device)
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, ValueError, UnicodeDecodeError,
            json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: corrupted or truncated checkpoint ({type(exc).__name__}: {exc})") from exc
