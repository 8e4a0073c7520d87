"""Recording one forward pass: every ``Function.apply`` call with its inputs, parameters and output.

While a Tracer is active, ``Function.apply_with_node`` (which every op's
``apply`` goes through) is wrapped to append a Record; nothing else changes,
so the traced forward computes exactly what an untraced one does.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..autograd.function import Function
from ..nn.fusion import fusion_disabled


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
        # nn.Sequential's Conv/Linear + ReLU fusion off: the graph keeps its separate Conv / Gemm and Relu ops
        self._no_fusion = fusion_disabled()
        self._no_fusion.__enter__()
        return self

    def __exit__(self, *exc):
        Function.apply_with_node = self._original
        self._no_fusion.__exit__(None, None, None)
        return False
