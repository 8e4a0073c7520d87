"""Finds and loads libdnnl (PyPI onednn-cpu-gomp) before dlcore._onednn is imported.

pip installs the oneDNN wheel's shared library as a data file: into
``<prefix>/lib`` for a venv, the system or ``--user`` (``~/.local/lib``), and
into ``<target>/lib`` for ``--target``. The dynamic linker does not search
there, so the library is located from the installed distribution's RECORD
(``importlib.metadata``) and loaded with RTLD_GLOBAL; _onednn's own NEEDED
entry for libdnnl.so.3 then resolves to the already loaded copy. _onednn also
carries an RPATH ($ORIGIN/../../..) as a second line of defence.
"""
from __future__ import annotations

import ctypes
import os
from importlib import metadata

#: The runtime distribution and the soname _onednn links against.
DISTRIBUTION = "onednn-cpu-gomp"
SONAME = "libdnnl.so.3"

_loaded: str | None = None


def find_library() -> str | None:
    """Absolute path of libdnnl.so.3 from the installed onednn-cpu-gomp's RECORD, or None."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if os.path.basename(str(f)) == SONAME:
            path = os.path.realpath(str(dist.locate_file(f)))
            if os.path.exists(path):
                return path
    return None


def load() -> str:
    """Loads libdnnl globally once; returns its path.

    Raises ImportError saying why when the library cannot be found or loaded
    (optional_module turns that into BackendUnavailableError).
    """
    global _loaded
    if _loaded is None:
        path = find_library()
        if path is None:
            # Maybe it is on the linker's path anyway (LD_LIBRARY_PATH, a system install).
            path = SONAME
        try:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError as exc:
            raise ImportError(
                f"cannot load oneDNN's {SONAME} ({exc}); install it with "
                f"'pip install {DISTRIBUTION}==2023.2.0'") from exc
        _loaded = path
    return _loaded
