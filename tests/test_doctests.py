"""Every docstring example in the dlcore package runs as a doctest.

Examples may use ``np``, ``dlcore``, ``nn`` and ``F`` (dlcore.nn.functional)
without importing them. GPU-only lines carry ``# doctest: +SKIP``.
"""
import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import dlcore


def _modules():
    for info in pkgutil.walk_packages(dlcore.__path__, "dlcore."):
        if info.name.startswith(("dlcore._cuda", "dlcore._onednn", "dlcore._C")):
            continue  # extension modules: their Python wrappers carry the examples
        yield info.name


def _doctests():
    finder = doctest.DocTestFinder(exclude_empty=True)
    seen = {}
    for name in _modules():
        module = importlib.import_module(name)
        for test in finder.find(module, name):
            if test.examples and test.name not in seen and (test.filename or "").endswith(".py"):
                seen[test.name] = test
    return sorted(seen.values(), key=lambda t: t.name)


DOCTESTS = _doctests()


def test_there_are_examples():
    assert len(DOCTESTS) >= 20, [t.name for t in DOCTESTS]


@pytest.mark.parametrize("test", DOCTESTS, ids=[t.name for t in DOCTESTS])
def test_docstring_example(test):
    test.globs.update(np=np, dlcore=dlcore, nn=dlcore.nn, F=dlcore.nn.functional)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    result = runner.run(test, out=report.append)
    assert result.failed == 0, "".join(report)
