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
_error: str | None = None


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


def load() -> str | None:
    """Loads libdnnl globally once; returns its path, or None when it cannot.

    Never raises: when the library is not found here, importing _onednn may
    still succeed through its RPATH or LD_LIBRARY_PATH; if that fails too,
    `why_not()` says what was looked for (optional_module adds it to the
    BackendUnavailableError).
    """
    global _loaded, _error
    if _loaded is None:
        path = find_library()
        try:
            ctypes.CDLL(path or SONAME, mode=ctypes.RTLD_GLOBAL)
            _loaded, _error = path or SONAME, None
        except OSError as exc:
            where = path or f"{SONAME} (no {DISTRIBUTION} distribution lists it)"
            _error = (f"cannot load oneDNN's {where}: {exc}; install it with "
                      f"'pip install {DISTRIBUTION}==2023.2.0' (not with --target, which drops its lib/)")
    return _loaded


def why_not() -> str | None:
    """Why the last load() failed, or None."""
    return _error
