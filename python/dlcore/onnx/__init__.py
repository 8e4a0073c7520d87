"""ONNX export (extra ``onnx``: ``pip install "dlcore[onnx]"``).

``dlcore.onnx.export(model, example_input, path, opset=17)`` runs one forward
pass of `model` in eval mode on `example_input`, records every autograd
Function it ran (the trace), converts each with one converter per op
(``_converters.py``) into an ONNX graph whose initializers are the model's
parameters and buffers, checks it with ``onnx.checker`` and writes it.
An op without a converter raises ``NotImplementedError`` naming it.

``import dlcore`` and ``import dlcore.onnx`` work without the onnx package;
``export`` then raises ImportError saying what to install.
"""
from ._export import SUPPORTED_OPS, export

__all__ = ["SUPPORTED_OPS", "export"]
