"""What a trace cannot see: layers and inputs whose values are read outside dlcore's autograd Functions.

A forward that turns an input's values into NumPy arrays (EmbeddingBag's bags, some losses' target masks,
MultiheadAttention's key_padding_mask) makes constants of the example's values; the graph would then answer
with them for any other input. These checks raise, naming the layer or input, instead.
"""
from __future__ import annotations


def check_inputs_used(nodes, in_names, out_names):
    """An input no output depends on had its values read outside dlcore's ops (an attention mask turned into a
    NumPy array, .numpy()): the graph would answer with the example's values for any other input."""
    read = {i for node in nodes for i in node.input} | set(out_names)
    unused = [name for name in in_names if name not in read]
    if unused:
        raise RuntimeError(f"onnx export: no output depends on input(s) {unused}: the model read their values "
                           f"outside dlcore's traced ops (e.g. a mask converted to an array), which the graph would "
                           f"freeze; pass only inputs that flow through dlcore ops")


def refuse_projected_lstm(model):
    """An LSTM with proj_size runs composed per-step ops that would export as an unrolled graph of the traced
    length; ONNX's LSTM op has no projection, so say so instead."""
    for m in (model.modules() if hasattr(model, "modules") else ()):
        if getattr(m, "mode", None) == "LSTM" and getattr(m, "proj_size", 0):
            raise NotImplementedError(f"onnx export: LSTM with proj_size={m.proj_size} is not supported (ONNX's "
                                      f"LSTM op has no output projection)")


def _embedding_bag(module, args):
    """Bags and padding mask are laid out in NumPy from the index values; 2-D input (a bag per row) without
    padding_idx is computed in the graph."""
    indices = args[0] if args else None
    if getattr(indices, "ndim", 2) != 2 or len(args) > 1 and args[1] is not None:
        return "with 1-D input and offsets (its bags are laid out from the index values); pass 2-D input"
    if module.padding_idx is not None:
        return "with padding_idx (its mask is made from the index values)"
    return None


def _target_masks(what):
    def reason(module, args):
        return f"({what} from the target's values)"
    return reason


def _poisson_nll(module, args):
    return "with full=True (its Stirling term is computed from the target's values)" if module.full else None


def _reasons():
    """Layer class -> reason(module, forward args): why this call cannot be traced, or None."""
    from .. import nn

    return {nn.EmbeddingBag: _embedding_bag,
            nn.CosineEmbeddingLoss: _target_masks("its +1/-1 masks are computed"),
            nn.HingeEmbeddingLoss: _target_masks("its +1/-1 masks are computed"),
            nn.MultiLabelMarginLoss: _target_masks("its label sets are read"),
            nn.PoissonNLLLoss: _poisson_nll}


def guarded(model):
    """Forward pre-hooks (their handles) on the layers listed in _reasons: they raise during the trace."""
    reasons = _reasons()

    def hook_for(reason):
        def hook(module, args):
            why = reason(module, args)
            if why is not None:
                raise NotImplementedError(f"onnx export: {type(module).__name__} {why} is not supported: the values "
                                          f"are read outside the graph")
        return hook

    modules = model.modules() if hasattr(model, "modules") else ()
    return [m.register_forward_pre_hook(hook_for(reasons[type(m)])) for m in modules if type(m) in reasons]
