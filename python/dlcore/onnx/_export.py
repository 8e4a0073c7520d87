"""Trace -> ONNX graph -> checker -> file. The per-op converters live in _converters.py."""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from ._guards import check_inputs_used, guarded, refuse_projected_lstm
from ._trace import Tracer


def _require_onnx():
    try:
        import onnx
    except ImportError as exc:
        raise ImportError("dlcore.onnx.export needs the onnx package: pip install \"dlcore[onnx]\" "
                          "(or pip install onnx)") from exc
    return onnx


def _c_order(array):
    """A C-ordered copy or view that keeps a 0-d array 0-d (np.ascontiguousarray makes it shape (1,), and a scalar
    result computed from it, KLDivLoss's batchmean, then had rank 1 against the declared rank 0)."""
    return np.ascontiguousarray(array) if array.ndim else np.array(array)


class GraphBuilder:
    """Names values, collects nodes and initializers; what each converter writes into."""

    def __init__(self, onnx, opset, names):
        self.onnx, self.opset = onnx, opset
        self.nodes, self.initializers = [], []
        self.names = names          # id(Tensor or array) -> value name
        self._count = 0
        self._const_cache = {}
        self.records = []           # the whole trace, for converters that look at an op's consumers
        self.producer = {}          # id(result Tensor) -> its Record
        self.input_dependent = set()  # ids of the Tensors (and their arrays) computed from a graph input

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
        self.initializers.append(self.onnx.numpy_helper.from_array(_c_order(array), name))
        return name

    def node(self, op_type, inputs, n_outputs=1, outputs=None, **attrs):
        outputs = outputs or [self.fresh(op_type.lower()) for _ in range(n_outputs)]
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), list(outputs), **attrs))
        return outputs[0] if len(outputs) == 1 else outputs

    def param(self, obj, name):
        """Registers a parameter/buffer under its state-dict name (added as an initializer on first use)."""
        data = obj._data if isinstance(obj, Tensor) else obj
        self.initializers.append(self.onnx.numpy_helper.from_array(_c_order(
            np.asarray(data.get() if hasattr(data, "get") else data)), name))
        self.names[id(obj)] = name
        if isinstance(obj, Tensor):
            self.names[id(obj._data)] = name


def _elem_type(onnx, dtype):
    return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _input_dependent(records, inputs):
    """ids of every traced value (Tensor and its array) that depends on an input, in one pass in trace order; the
    others are constants whatever the input (zeros made inside a layer, and what is computed from them)."""
    depends = {id(v) for x in inputs for v in (x, x._data)}
    for rec in records:
        args = list(rec.args) + list(rec.kwargs.values())
        if any(id(a) in depends for a in args):
            depends.add(id(rec.result))
            if isinstance(rec.result, Tensor):
                depends.add(id(rec.result._data))
    return depends


def _flatten_tensors(obj):
    """The Tensors of a model's result in order: a Tensor, or (nested) tuples/lists of them (LSTM: out, (h, c))."""
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)) and obj:
        return [t for item in obj for t in _flatten_tensors(item)]
    raise TypeError(f"onnx export: the model must return a Tensor or a tuple of Tensors, got {type(obj).__name__}")


def _as_input(a, i):
    """A Tensor of the example input; integers (Embedding indices) as int64, the index type ONNX's Gather uses."""
    x = a if isinstance(a, Tensor) else Tensor(np.asarray(a))
    kind = x.dtype.kind
    if kind in "iu":
        return x if x.dtype == np.int64 else Tensor(x.numpy().astype(np.int64))
    if kind != "f":
        raise TypeError(f"onnx export: example input {i} must be floating point (or integer indices), got {x.dtype}")
    return x


def _names(base, count):
    if isinstance(base, str):
        return [base] if count == 1 else [f"{base}_{i}" for i in range(count)]
    if len(base) != count:
        raise ValueError(f"onnx export: {count} names needed, got {list(base)}")
    return list(base)


def _prune(nodes, initializers, outputs):
    """Drops the nodes and initializers no graph output depends on (a converter that fused an op with the ops
    before it, as the recurrent layers do with their input projection, leaves those behind)."""
    needed, kept = set(outputs), []
    for node in reversed(nodes):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    return kept[::-1], [i for i in initializers if i.name in needed]


def _symbolic_axes(dynamic_axes, dynamic_batch, names):
    """{value name: {axis: dim name}}: torch's dynamic_axes when given, else axis 0 as "batch" (dynamic_batch)."""
    if dynamic_axes is None:
        return {name: ({0: "batch"} if dynamic_batch else {}) for name in names}
    unknown = set(dynamic_axes) - set(names)
    if unknown:
        raise ValueError(f"onnx export: dynamic_axes names {sorted(unknown)} are not among the inputs and outputs "
                         f"{names}")
    axes = {name: {} for name in names}
    for name, spec in dynamic_axes.items():
        axes[name] = dict(spec) if isinstance(spec, dict) else {int(a): f"{name}_dim{a}" for a in spec}
    return axes


def _inferred_or(inferred, declared, ndim):
    """The inferred output type when it has the output's rank and every axis a size or a symbolic name."""
    if inferred is None or not inferred.type.tensor_type.HasField("shape"):
        return declared
    dims = inferred.type.tensor_type.shape.dim
    if len(dims) != ndim or any(not (d.HasField("dim_value") or d.HasField("dim_param")) for d in dims):
        return declared
    return inferred


def export(model, example_input, path, opset=17, input_name="input", output_name="output", dynamic_batch=True, *,
           input_names=None, output_names=None, opset_version=None, dynamic_axes=None, export_params=True,
           do_constant_folding=True, verbose=False):
    """Exports `model` to an ONNX file at `path` by tracing one forward pass on `example_input`.

    The model runs in eval mode (dropout off, batch norm on running statistics)
    and is put back in the mode it was in. Parameters and buffers become
    initializers named as in ``model.state_dict()`` (the recurrent layers'
    weights in ONNX's gate order get the suffix ``_onnx``). With
    ``dynamic_batch`` the first axis of every input and output is named
    "batch" (reshapes keep it symbolic; a sequence-first recurrent model's
    first axis is its length, which may vary too). Raises
    NotImplementedError naming any op without a converter.

    Args:
        model: a dlcore.nn.Module (or any callable on Tensors).
        example_input: a Tensor or array of the input's shape and dtype (floating point, or integer indices
            for an Embedding: exported as int64), or a tuple of them for a model of several inputs
            (a Transformer's src and tgt).
        path: where to write the .onnx file.
        opset: ONNX opset version, 13 to 21 (default 17).
        input_name, output_name: a name, suffixed _0, _1, ... when there are several inputs or outputs
            (the model may return a tuple of Tensors, e.g. an LSTM's output, (h_n, c_n)), or a list of names.
        dynamic_batch: name the first axis of inputs and outputs "batch" (symbolic).
        input_names, output_names, opset_version, dynamic_axes: torch.onnx.export's spellings, so that ported
            scripts run (``torch.onnx`` is this module under ``dlcore.install_as_torch()``). dynamic_axes
            ({name: {axis: "dim name"} or [axes]}) replaces dynamic_batch's rule: exactly those axes are
            symbolic. export_params must be True; do_constant_folding and verbose change nothing.

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

    if not export_params:
        raise ValueError("onnx export: export_params=False is not supported (parameters are always initializers)")
    opset = opset_version if opset_version is not None else opset
    input_name = input_names if input_names is not None else input_name
    output_name = output_names if output_names is not None else output_name
    if not isinstance(opset, numbers.Integral) or not 13 <= opset <= 21:
        raise ValueError(f"onnx export: opset must be an int from 13 to 21, got {opset!r}")
    refuse_projected_lstm(model)
    examples = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    xs = [_as_input(a, i) for i, a in enumerate(examples)]
    in_names = _names(input_name, len(xs))
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    guards = guarded(model)
    try:
        with no_grad(), Tracer() as tracer:
            result = model(*xs)
    finally:
        for handle in guards:
            handle.remove()
        if hasattr(model, "train"):
            model.train(was_training)
    ys = _flatten_tensors(result)
    out_names = _names(output_name, len(ys))

    g = GraphBuilder(onnx, int(opset), {})
    for x, name in zip(xs, in_names):
        g.names[id(x)] = g.names[id(x._data)] = name  # ops given the raw index array (embedding) find it too
    if hasattr(model, "named_parameters"):
        for name, p in list(model.named_parameters()) + list(model.named_buffers()):
            g.names.setdefault(id(p), name)
            g.names.setdefault(id(p._data), name)
    used_params = {}
    for rec in tracer.records:
        for a in list(rec.args) + list(rec.kwargs.values()):
            name = g.names.get(id(a)) if a is not None else None
            if name is not None and name not in in_names and name not in used_params:
                used_params[name] = a
    # parameters become initializers under their state-dict names (only those the forward used)
    for name, obj in used_params.items():
        g.param(obj, name)
    g.records = tracer.records
    g.producer = {id(rec.result): rec for rec in tracer.records}
    g.input_dependent = _input_dependent(tracer.records, xs)
    for rec in tracer.records:
        if id(rec.result) in g.names:
            continue  # converted already by the converter of the op it reads (a recurrent layer's h_n, c_n)
        convert = CONVERTERS.get(rec.op)
        if convert is None:
            raise NotImplementedError(f"onnx export: no converter for op '{rec.op.__name__}' "
                                      f"({rec.op.__module__}); supported: {', '.join(SUPPORTED_OPS)}")
        out = convert(g, rec)
        g.names[id(rec.result)] = out
        if isinstance(rec.result, Tensor):
            g.names.setdefault(id(rec.result._data), out)
    produced = {id(rec.result) for rec in tracer.records}
    for y in ys:
        if not any(y is x for x in xs) and id(y) not in produced:
            # an output no traced op made would be exported as a constant: refuse instead
            raise RuntimeError("onnx export: the model's output was not computed by any traced dlcore op "
                               "(was it made outside dlcore's autograd Functions, e.g. from .numpy()?)")
    init_names = {i.name for i in g.initializers}
    for y, name in zip(ys, out_names):
        value = g.value(y)
        if value in in_names or value in init_names:
            value = g.node("Identity", [value])
        g.nodes.append(onnx.helper.make_node("Identity", [value], [name]))
    nodes, initializers = _prune(g.nodes, g.initializers, out_names)
    check_inputs_used(nodes, in_names, out_names)

    symbolic = _symbolic_axes(dynamic_axes, dynamic_batch, in_names + out_names)

    def value_info(t, name):
        shape = [symbolic[name].get(axis, size) for axis, size in enumerate(t.shape)]
        return onnx.helper.make_tensor_value_info(name, _elem_type(onnx, t.dtype), shape)

    def make(outputs):
        graph = onnx.helper.make_graph(nodes, type(model).__name__,
                                       [value_info(x, n) for x, n in zip(xs, in_names)], outputs,
                                       initializer=initializers)
        proto = onnx.helper.make_model(graph, producer_name="dlcore",
                                       opset_imports=[onnx.helper.make_opsetid("", int(opset))])
        proto.ir_version = min(proto.ir_version, 8 if opset <= 17 else 9)
        return proto

    # Output shapes from ONNX's shape inference where it knows every axis (an LSTM's h_n has the batch on axis 1),
    # else the example's shape with the first axis "batch"
    untyped = [onnx.helper.make_tensor_value_info(n, _elem_type(onnx, y.dtype), None) for y, n in zip(ys, out_names)]
    inferred = {o.name: o for o in onnx.shape_inference.infer_shapes(make(untyped)).graph.output}
    proto = make([value_info(y, n) if dynamic_axes and n in dynamic_axes else
                  _inferred_or(inferred.get(n), value_info(y, n), y.ndim) for y, n in zip(ys, out_names)])
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
