"""Recording one forward pass: every ``Function.apply`` call with its inputs, parameters and output.

While a Tracer is active, ``Function.apply_with_node`` (which every op's
``apply`` goes through) is wrapped to append a Record; nothing else changes,
so the traced forward computes exactly what an untraced one does.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from ..autograd.function import Function
from ..nn.fusion import fusion_disabled
from ..tensor import Tensor


class Compare:
    """Stands for a Tensor comparison (``x > 0``) in the trace. Comparisons are not autograd Functions, but the
    masks they make feed ``where`` (Threshold, Hardshrink, RReLU): traced, the mask is computed in the graph
    instead of being frozen as a constant of the example's values. kwargs["op"] is the ONNX op type."""


class Extremum:
    """Stands for dlcore.maximum / minimum in the trace: they run a ``where`` on a mask computed from the arrays
    outside any Function, which the graph would freeze; recorded, they become ONNX's Max / Min
    (kwargs["op"])."""


EXTREMA = {"maximum": "Max", "minimum": "Min"}

# Tensor method -> (ONNX op, whether the result is negated)
COMPARISONS = {"__gt__": ("Greater", False), "__ge__": ("GreaterOrEqual", False), "__lt__": ("Less", False),
               "__le__": ("LessOrEqual", False), "__eq__": ("Equal", False), "__ne__": ("Equal", True)}


@dataclass
class Record:
    op: type            # the Function subclass
    node: Function      # its instance after forward (holds what forward derived: geometry, sizes)
    args: tuple         # positional arguments as given (Tensors, arrays, numbers)
    kwargs: dict
    result: object      # the output Tensor
    keep: list = field(default_factory=list)


class Tracer:
    def __init__(self):
        self.records = []
        self._original = None

    def __enter__(self):
        original = Function.__dict__["apply_with_node"]
        records = self.records

        def traced(cls, *args, **kwargs):
            result, node = original.__func__(cls, *args, **kwargs)
            records.append(Record(cls, node, args, kwargs, result))
            return result, node

        self._original = original
        Function.apply_with_node = classmethod(traced)
        self._comparisons = {name: Tensor.__dict__[name] for name in COMPARISONS}
        for name, method in self._comparisons.items():
            setattr(Tensor, name, self._traced_comparison(method, *COMPARISONS[name]))
        # dlcore.maximum is functions.maximum imported into the package: both names are replaced
        import dlcore

        from .. import functions

        self._extrema = [(owner, name, getattr(owner, name)) for owner in (functions, dlcore) for name in EXTREMA]
        for owner, name, fn in self._extrema:
            setattr(owner, name, self._traced_extremum(fn, EXTREMA[name]))
        # nn.Sequential's Conv/Linear + ReLU fusion off: the graph keeps its separate Conv / Gemm and Relu ops
        self._no_fusion = fusion_disabled()
        self._no_fusion.__enter__()
        return self

    def _traced_comparison(self, method, op_type, negate):
        records = self.records

        def compare(a, b):
            result = method(a, b)
            # only comparisons with numbers or arrays are graph ops (x == None, x == "mean" are Python checks)
            if isinstance(result, Tensor) and isinstance(b, (Tensor, numbers.Number, np.ndarray)):
                records.append(Record(Compare, None, (a, b), {"op": op_type, "negate": negate}, result))
            return result
        return compare

    def _traced_extremum(self, fn, op_type):
        records = self.records

        def extremum(input, other):
            start = len(records)
            result = fn(input, other)
            del records[start:]  # the Where on the frozen mask (and a broadcast of `other`) it ran
            records.append(Record(Extremum, None, (input, other), {"op": op_type}, result))
            return result
        return extremum

    def __exit__(self, *exc):
        Function.apply_with_node = self._original
        for owner, name, fn in self._extrema:
            setattr(owner, name, fn)
        for name, method in self._comparisons.items():
            setattr(Tensor, name, method)
        self._no_fusion.__exit__(None, None, None)
        return False
