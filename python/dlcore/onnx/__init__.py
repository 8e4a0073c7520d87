"""ONNX export (extra ``onnx``: ``pip install "dlcore[onnx]"``).

``dlcore.onnx.export(model, example_input, path, opset=17)`` runs one forward
pass of `model` in eval mode on `example_input`, records every autograd
Function it ran (the trace), converts each with one converter per op
(``_converters.py``) into an ONNX graph whose initializers are the model's
parameters and buffers, checks it with ``onnx.checker`` and writes it.
An op without a converter raises ``NotImplementedError`` naming it.

The example input may be a tuple (several graph inputs: a Transformer's src
and tgt; integer ones, Embedding indices, become int64), and the model may
return a tuple of Tensors (an LSTM's output, (h_n, c_n)). Tensor comparisons
and dlcore.maximum/minimum, which are not autograd Functions, are traced too
(``_trace.py``), so masks follow the run's input. Values a forward reads
outside dlcore's ops would be frozen into the graph: ``_guards.py`` refuses
the layers known to do so and any input that no output depends on.

``import dlcore`` and ``import dlcore.onnx`` work without the onnx package;
``export`` then raises ImportError saying what to install.
"""
from ._export import SUPPORTED_OPS, export

__all__ = ["SUPPORTED_OPS", "export"]
