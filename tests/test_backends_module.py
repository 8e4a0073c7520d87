"""dlcore/_backends.py is the one backends module: it owns backend state, gap tables and module loading.

Two proofs that the old ``_backends`` <-> ``ops/_common`` cycle is gone:

* statically: every ``import`` of a dlcore module, at module level or inside
  a function, is read from the source; ``_backends`` reaches no dlcore
  module but ``_C`` and ``_onednn_loader``, and none of the backend
  plumbing modules can reach itself again;
* dynamically: each plumbing module is imported first, in a fresh process
  whose ``dlcore`` package is bare (its ``__init__`` not run, so it cannot
  pre-load anything), followed by the others in reverse order.
"""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dlcore
from dlcore import _backends
from dlcore.ops import _common

PACKAGE = Path(dlcore.__file__).parent
#: The modules that deal with backends; none may sit on an import cycle.
PLUMBING = ("dlcore._backends", "dlcore._onednn_loader", "dlcore.ops._common", "dlcore._device",
            "dlcore.kernels._dispatch")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, known: set) -> set:
    """The dlcore modules `path` imports anywhere in its body (relative imports resolved).

    ``from pkg import mod`` is an edge to ``pkg.mod`` (not to the package's ``__init__``); ``from mod
    import name`` an edge to ``mod``.
    """
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "dlcore")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "dlcore":
                continue
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.add(submodule if submodule in known else target)
    return found


@pytest.fixture(scope="module")
def graph():
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    extensions = {f"dlcore.{p.name.split('.')[0]}" for p in PACKAGE.glob("_*.so")}
    known = set(modules) | extensions
    return {name: {m for m in _imports(path, known) if m in known and m != name}
            for name, path in modules.items()}


def _reachable(graph, start):
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_backends_module_imports_only_the_cpu_module_and_the_onednn_loader(graph):
    assert _reachable(graph, "dlcore._backends") <= {"dlcore._C", "dlcore._onednn_loader"}
    assert _reachable(graph, "dlcore._onednn_loader") == set()


def test_no_backend_plumbing_module_is_on_an_import_cycle(graph):
    # __init__ files import their submodules: a package is not an edge back into a submodule.
    on_cycle = [m for m in PLUMBING if m in _reachable(graph, m)]
    assert on_cycle == [], f"import cycle through {on_cycle}"
    assert "dlcore._backends" in graph["dlcore.ops._common"]  # the one direction left


def test_ops_common_reexports_the_backends_module_objects():
    for name in ("backend", "backend_state", "current_backend", "kernel_backend", "cuda_gap", "ONEDNN_GAPS",
                 "CUDA_GAPS", "SUBSTITUTED_OPS"):
        assert getattr(_common, name) is getattr(_backends, name)
    assert dlcore.backend is _backends.backend and dlcore.current_backend is _backends.current_backend
    assert not hasattr(_common, "_state")  # one owner of the thread-local state


_BARE_IMPORT = """
import importlib, sys, types
pkg = types.ModuleType("dlcore")
pkg.__path__ = [{path!r}]
sys.modules["dlcore"] = pkg  # a bare package: dlcore/__init__.py is not run
for name in {order!r}:
    importlib.import_module(name)
print("ok")
"""


def test_each_plumbing_module_imports_first_in_a_fresh_process():
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    procs = []
    for first in PLUMBING:
        order = [first] + [m for m in reversed(PLUMBING) if m != first]
        code = _BARE_IMPORT.format(path=str(PACKAGE), order=order)
        procs.append((order, subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                                              stderr=subprocess.PIPE, text=True)))
    for order, proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and out.strip() == "ok", f"import order {order} failed:\n{err}"


def test_backend_grad_mode_autocast_and_fusion_state_are_per_thread():
    # Each is a thread-local with class defaults (a read of an attribute the thread never set must not
    # raise: that cost 1.2 us a read). A thread started inside all four blocks sees the defaults, and
    # what it sets stays its own.
    import threading

    from dlcore import _backends, amp
    from dlcore.autograd import grad_mode
    from dlcore.nn import fusion

    def state():
        return (_backends.backend_state(), grad_mode.is_grad_enabled(), amp.get_autocast_dtype(),
                fusion.fusion_enabled())

    defaults = (("auto", False), True, None, True)
    seen = []

    def worker():
        seen.append(state())
        with dlcore.backend("avx2", strict=True), dlcore.no_grad():
            seen.append(state())

    assert state() == defaults
    with dlcore.backend("ref", strict=True), dlcore.no_grad(), dlcore.autocast("cpu"), fusion.fusion_disabled():
        inside = state()
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        assert state() == inside
    assert inside == (("ref", True), False, dlcore.bfloat16, False)
    assert seen == [defaults, (("avx2", True), False, None, True)]
    assert state() == defaults
