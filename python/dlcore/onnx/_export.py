"""Trace -> ONNX graph -> checker -> file. The per-op converters live in _converters.py."""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from ._trace import Tracer


def _require_onnx():
    try:
        import onnx
    except ImportError as exc:
        raise ImportError("dlcore.onnx.export needs the onnx package: pip install \"dlcore[onnx]\" "
                          "(or pip install onnx)") from exc
    return onnx


class GraphBuilder:
    """Names values, collects nodes and initializers; what each converter writes into."""

    def __init__(self, onnx, opset, names):
        self.onnx, self.opset = onnx, opset
        self.nodes, self.initializers = [], []
        self.names = names          # id(Tensor or array) -> value name
        self._count = 0
        self._const_cache = {}

    def fresh(self, hint="t"):
        self._count += 1
        return f"{hint}_{self._count}"

    def value(self, obj, dtype=None):
        """The ONNX value name of a traced Tensor, a parameter/buffer, or a constant (added as an initializer)."""
        if obj is None:
            return ""
        key = id(obj)
        if key in self.names:
            return self.names[key]
        if isinstance(obj, Tensor):
            if id(obj._data) in self.names:
                return self.names[id(obj._data)]
            return self.const(obj._data)
        if isinstance(obj, numbers.Number):
            return self.const(np.asarray(obj, dtype=dtype or np.float32))
        return self.const(obj)

    def const(self, array, hint="const"):
        """An initializer holding `array` (host copy); one per distinct object."""
        array = np.asarray(array.get() if hasattr(array, "get") else array)
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op_type, inputs, n_outputs=1, outputs=None, **attrs):
        outputs = outputs or [self.fresh(op_type.lower()) for _ in range(n_outputs)]
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), list(outputs), **attrs))
        return outputs[0] if len(outputs) == 1 else outputs

    def param(self, obj, name):
        """Registers a parameter/buffer under its state-dict name (added as an initializer on first use)."""
        data = obj._data if isinstance(obj, Tensor) else obj
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(
            np.asarray(data.get() if hasattr(data, "get") else data)), name))
        self.names[id(obj)] = name
        if isinstance(obj, Tensor):
            self.names[id(obj._data)] = name


def _elem_type(onnx, dtype):
    return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def export(model, example_input, path, opset=17, input_name="input", output_name="output", dynamic_batch=True):
    """Exports `model` to an ONNX file at `path` by tracing one forward pass on `example_input`.

    The model runs in eval mode (dropout off, batch norm on running statistics)
    and is put back in the mode it was in. Parameters and buffers become
    initializers named as in ``model.state_dict()``. With ``dynamic_batch``
    the first axis of the input and output is named "batch" (reshapes keep it
    symbolic). Raises NotImplementedError naming any op without a converter.

    Args:
        model: a dlcore.nn.Module (or any callable on one Tensor).
        example_input: a Tensor or array of the input's shape and dtype.
        path: where to write the .onnx file.
        opset: ONNX opset version, 13 to 21 (default 17).

    Returns:
        The onnx.ModelProto written.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "lenet5.onnx")
        >>> proto = dlcore.onnx.export(dlcore.models.lenet5(), dlcore.randn(1, 1, 28, 28), path)
        >>> [node.op_type for node in proto.graph.node][:3]
        ['Conv', 'Relu', 'MaxPool']
    """
    onnx = _require_onnx()
    from ._converters import CONVERTERS

    if not isinstance(opset, numbers.Integral) or not 13 <= opset <= 21:
        raise ValueError(f"onnx export: opset must be an int from 13 to 21, got {opset!r}")
    x = example_input if isinstance(example_input, Tensor) else Tensor(np.asarray(example_input))
    if x.dtype.kind != "f":
        raise TypeError(f"onnx export: example_input must be floating point, got {x.dtype}")
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with no_grad(), Tracer() as tracer:
            y = model(x)
    finally:
        if hasattr(model, "train"):
            model.train(was_training)
    if not isinstance(y, Tensor):
        raise TypeError(f"onnx export: the model must return one Tensor, got {type(y).__name__}")

    g = GraphBuilder(onnx, int(opset), {id(x): input_name})
    if hasattr(model, "named_parameters"):
        for name, p in list(model.named_parameters()) + list(model.named_buffers()):
            g.names.setdefault(id(p), name)
            g.names.setdefault(id(p._data), name)
    used_params = {}
    for rec in tracer.records:
        for a in list(rec.args) + list(rec.kwargs.values()):
            name = g.names.get(id(a)) if a is not None else None
            if name is not None and name != input_name and name not in used_params:
                used_params[name] = a
    # parameters become initializers under their state-dict names (only those the forward used)
    for name, obj in used_params.items():
        g.param(obj, name)
    for rec in tracer.records:
        convert = CONVERTERS.get(rec.op)
        if convert is None:
            raise NotImplementedError(f"onnx export: no converter for op '{rec.op.__name__}' "
                                      f"({rec.op.__module__}); supported: {', '.join(SUPPORTED_OPS)}")
        out = convert(g, rec)
        g.names[id(rec.result)] = out
    produced = {id(rec.result) for rec in tracer.records}
    if y is not x and id(y) not in produced:
        # an output no traced op made would be exported as a constant: refuse instead
        raise RuntimeError("onnx export: the model's output was not computed by any traced dlcore op "
                           "(was it made outside dlcore's autograd Functions, e.g. from .numpy()?)")
    out_name = g.value(y)
    if out_name == input_name or out_name in (i.name for i in g.initializers):
        out_name = g.node("Identity", [out_name])
    g.nodes.append(onnx.helper.make_node("Identity", [out_name], [output_name]))

    batch = "batch" if dynamic_batch else None
    in_shape = [batch or x.shape[0]] + list(x.shape[1:])
    out_shape = [batch or y.shape[0]] + list(y.shape[1:]) if y.ndim else []
    graph = onnx.helper.make_graph(
        g.nodes, type(model).__name__,
        [onnx.helper.make_tensor_value_info(input_name, _elem_type(onnx, x.dtype), in_shape)],
        [onnx.helper.make_tensor_value_info(output_name, _elem_type(onnx, y.dtype), out_shape)],
        initializer=g.initializers)
    proto = onnx.helper.make_model(graph, producer_name="dlcore",
                                   opset_imports=[onnx.helper.make_opsetid("", int(opset))])
    proto.ir_version = min(proto.ir_version, 8 if opset <= 17 else 9)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(path))
    return proto


def _supported():
    try:
        from ._converters import CONVERTERS
    except ImportError:  # pragma: no cover
        return ()
    return tuple(sorted(op.__name__ for op in CONVERTERS))


SUPPORTED_OPS = _supported()
