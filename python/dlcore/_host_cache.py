"""The host cache: large kernel outputs reuse freed, already faulted-in blocks.

Every CPU kernel output of at least 64 KiB comes from a cache of freed blocks
(csrc/core/host_cache.h says why: a fresh array from glibc often costs a page
fault per page, about as long as a streaming kernel itself; LeNet-5 at batch
32 took 600 faults a step before the threshold came down from 1 MiB). At most
1024 freed blocks are kept. A freed output
stays cached while the cache holds at most ``limit`` bytes (default: an
eighth of physical memory, at most 4 GiB; the environment variable
``DLCORE_HOST_CACHE_BYTES`` sets it at import, 0 turns the cache off). Each
CPU extension module (``_C``, and ``_onednn`` when it is loaded) keeps its own
cache; these functions act on all of them. Like CuPy's memory pool on the GPU,
cached bytes count in the process's resident memory until emptied.
"""
from __future__ import annotations

import operator
import sys

from . import _C


def _modules():
    yield _C
    onednn = sys.modules.get("dlcore._onednn")  # only if something already loaded it
    if onednn is not None and hasattr(onednn, "host_cache_info"):
        yield onednn


def host_cache_info() -> dict:
    """Cached bytes and blocks, the limit, and allocation hits/misses, summed over the CPU modules."""
    total = {"cached_bytes": 0, "cached_blocks": 0, "hits": 0, "misses": 0}
    limit = None
    for module in _modules():
        info = module.host_cache_info()
        for key in total:
            total[key] += info[key]
        limit = info["limit"] if limit is None else limit
    total["limit"] = limit
    return total


def empty_host_cache() -> None:
    """Frees every cached block (arrays still alive are not touched)."""
    for module in _modules():
        module.empty_host_cache()


def set_host_cache_limit(nbytes: int) -> None:
    """Caps the bytes each module's cache keeps (0 turns caching off: outputs come from NumPy)."""
    try:
        nbytes = operator.index(nbytes)  # an int (or NumPy integer), never a silently truncated float
    except TypeError:
        raise TypeError(f"set_host_cache_limit: nbytes must be an integer, got {type(nbytes).__name__}") from None
    if nbytes < 0:
        raise ValueError(f"set_host_cache_limit: nbytes must be >= 0, got {nbytes}")
    if nbytes >= 2**64:  # the modules take a size_t: say so, not pybind11's "incompatible function arguments"
        raise ValueError(f"set_host_cache_limit: nbytes must be < 2**64, got {nbytes}")
    for module in _modules():
        module.set_host_cache_limit(nbytes)
