"""Attention and the Transformer with torch.nn's names, arguments, parameter names and defaults:
``F.scaled_dot_product_attention``, ``MultiheadAttention``, ``TransformerEncoderLayer``, ``TransformerEncoder``,
``TransformerDecoderLayer``, ``TransformerDecoder``, ``Transformer``.

Composed from recorded ops (linear, batched matmul, softmax, dropout, layer norm), so autograd differentiates
them with nothing of their own. Mask conventions are torch's, which differ between the two entry points:
``scaled_dot_product_attention``'s boolean ``attn_mask`` marks the positions that *take part*;
``MultiheadAttention``'s boolean ``attn_mask`` and ``key_padding_mask`` mark those that are *masked out*.
A float mask is added to the scores in both. Not supported: nested tensors.
"""
from __future__ import annotations

import copy
import math

import numpy as np

from ..ops._common import array_module
from ..tensor import Tensor, cat, default_dtype
from . import init
from .containers import ModuleList
from .module import Module, Parameter


def _functional():
    from . import functional

    return functional


def _as_mask(mask, name):
    """(array, is_bool) of a mask given as a Tensor or array."""
    data = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if data.dtype != np.bool_ and data.dtype.kind != "f":
        raise TypeError(f"{name} must be bool or floating, got {data.dtype}")
    return data, data.dtype == np.bool_


def _causal_mask(rows, cols):
    """Boolean (rows, cols): True where query i may attend key j (j <= i), torch's is_causal."""
    return np.tril(np.ones((rows, cols), dtype=bool))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """softmax(q k^T * scale + mask) v over the last two axes (..., L, E) x (..., S, E) -> (..., L, Ev).

    ``scale`` defaults to 1/sqrt(E). A boolean ``attn_mask`` keeps the True positions (the others get
    -inf before the softmax); a float one is added. ``is_causal`` lets query i see keys 0..i only.
    """
    F = _functional()
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"scaled_dot_product_attention: {name} must be a dlcore.Tensor, got {type(t).__name__}")
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: give attn_mask or is_causal, not both")
    length, source = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    scores = (query @ key.transpose(-2, -1)) * scale
    if is_causal:
        attn_mask = _causal_mask(length, source)
    if attn_mask is not None:
        data, is_bool = _as_mask(attn_mask, "scaled_dot_product_attention: attn_mask")
        if is_bool:
            scores = scores.masked_fill(Tensor(~data), float("-inf"))
        else:
            scores = scores + Tensor(data.astype(scores.dtype, copy=False))
    weights = F.softmax(scores, dim=-1)
    if dropout_p > 0:
        weights = F.dropout(weights, dropout_p, True)
    return weights @ value


class MultiheadAttention(Module):
    """torch.nn.MultiheadAttention: in_proj_weight (3E, E) (with kdim/vdim other than E: q_proj_weight (E, E),
    k_proj_weight (E, kdim), v_proj_weight (E, vdim) instead), in_proj_bias (3E,), out_proj (Linear E -> E),
    bias_k / bias_v (1, 1, E) with add_bias_kv; forward(query, key, value, key_padding_mask=None,
    need_weights=True, attn_mask=None, average_attn_weights=True, is_causal=False) -> (output, weights or None)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, dtype=None):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by num_heads {num_heads}")
        from .modules import Linear

        dtype = dtype or default_dtype
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.kdim, self.vdim = kdim or embed_dim, vdim or embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first, self.add_zero_attn = float(dropout), batch_first, add_zero_attn
        if self._qkv_same_embed_dim:  # torch's registration order, so named_parameters lists as torch's
            self.in_proj_weight = Parameter(np.empty((3 * embed_dim, embed_dim), dtype=dtype))
        else:
            self.q_proj_weight = Parameter(np.empty((embed_dim, embed_dim), dtype=dtype))
            self.k_proj_weight = Parameter(np.empty((embed_dim, self.kdim), dtype=dtype))
            self.v_proj_weight = Parameter(np.empty((embed_dim, self.vdim), dtype=dtype))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(np.empty((1, 1, embed_dim), dtype=dtype))
            self.bias_v = Parameter(np.empty((1, 1, embed_dim), dtype=dtype))
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self):
        """torch's: xavier-uniform projections, zero biases, xavier-normal bias_k / bias_v."""
        for name in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
            if getattr(self, name, None) is not None:
                init.xavier_uniform_(getattr(self, name))
        if self.out_proj.bias is not None:
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _project(self, x, part):
        F = _functional()
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight[part * e:(part + 1) * e]
        else:
            w = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)[part]
        b = None if self.in_proj_bias is None else self.in_proj_bias[part * e:(part + 1) * e]
        return F.linear(x, w, b)

    def _heads(self, x):
        """(N, L, E) -> (N, heads, L, head_dim)."""
        return x.reshape(x.shape[0], x.shape[1], self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        F = _functional()
        batched = query.ndim == 3
        # computed batch first (N, L, E), so reshapes keep the batch on the leading axis (ONNX dynamic batch)
        if not batched:  # unbatched (L, E)
            query, key, value = (t.unsqueeze(0) for t in (query, key, value))
            key_padding_mask = None if key_padding_mask is None else _unsqueeze_mask(key_padding_mask)
        elif not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        batch, length, e = query.shape
        if e != self.embed_dim or key.shape[2] != self.kdim or value.shape[2] != self.vdim:
            raise ValueError(f"MultiheadAttention: query, key, value of {e}, {key.shape[2]}, {value.shape[2]} "
                             f"features; expected embed_dim {self.embed_dim}, kdim {self.kdim}, vdim {self.vdim}")
        if key.shape[:2] != value.shape[:2]:
            raise ValueError(f"MultiheadAttention: key {tuple(key.shape)} and value {tuple(value.shape)} differ in "
                             f"batch or sequence length")
        masks = self._masks(attn_mask, key_padding_mask, is_causal, batch, length, key.shape[1])
        k, v = self._project(key, 1), self._project(value, 2)
        if self.bias_k is not None:  # one more key and value, the learned biases, that every query sees
            k = cat([k, self.bias_k.expand(batch, 1, e)], dim=1)
            v = cat([v, self.bias_v.expand(batch, 1, e)], dim=1)
            masks = [_extra_key(m) for m in masks]
        q, k, v = self._heads(self._project(query, 0)), self._heads(k), self._heads(v)
        if self.add_zero_attn:  # one more all-zero key and value
            zero = k.new_zeros((batch, self.num_heads, 1, self.head_dim))
            k, v = cat([k, zero], dim=2), cat([v, zero], dim=2)
            masks = [_extra_key(m) for m in masks]
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
        for mask in masks:
            scores = _apply_mask(scores, mask)
        weights = F.softmax(scores, dim=-1)
        attended = F.dropout(weights, self.dropout, True) if self.dropout > 0 and self.training else weights
        out = self.out_proj((attended @ v).permute(0, 2, 1, 3).reshape(batch, length, e))
        if not batched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        # torch returns the weights the values were averaged with: after dropout, in training
        w = attended.mean(dim=1) if average_attn_weights else attended
        return out, (w.squeeze(0) if not batched else w)

    def _masks(self, attn_mask, key_padding_mask, is_causal, batch, length, source):
        """The masks as arrays broadcasting against scores (N, heads, L, S), checked against torch's shapes:
        attn_mask (L, S) or (N*heads, L, S), key_padding_mask (N, S). True (bool) = masked out."""
        masks = []
        if is_causal and attn_mask is None:
            attn_mask = ~_causal_mask(length, source)
        if attn_mask is not None:
            data, _ = _as_mask(attn_mask, "MultiheadAttention: attn_mask")
            if data.shape == (batch * self.num_heads, length, source):
                data = data.reshape(batch, self.num_heads, length, source)
            elif data.shape != (length, source):
                raise ValueError(f"MultiheadAttention: attn_mask of shape {data.shape}, expected ({length}, "
                                 f"{source}) or ({batch * self.num_heads}, {length}, {source})")
            masks.append(data)
        if key_padding_mask is not None:
            data, _ = _as_mask(key_padding_mask, "MultiheadAttention: key_padding_mask")
            if data.shape != (batch, source):
                raise ValueError(f"MultiheadAttention: key_padding_mask of shape {data.shape}, expected "
                                 f"({batch}, {source})")
            masks.append(data.reshape(batch, 1, 1, source))
        return masks

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"


def _extra_key(mask):
    """A mask with one more key column, not masked (torch pads with 0 / False)."""
    xp = array_module(mask)
    return xp.pad(mask, [(0, 0)] * (mask.ndim - 1) + [(0, 1)])


def _apply_mask(scores, mask):
    """-inf where a bool mask is True; a float mask added."""
    if mask.dtype == np.bool_:
        return scores.masked_fill(Tensor(mask), float("-inf"))
    return scores + Tensor(mask.astype(scores.dtype, copy=False))


def _activation(activation, owner):
    """F.relu / F.gelu for torch's activation names; a callable (a function or a Module) as it is."""
    if isinstance(activation, str):
        if activation not in ("relu", "gelu"):
            raise ValueError(f"{owner}: activation must be 'relu', 'gelu' or a callable, got {activation!r}")
        return getattr(_functional(), activation)
    if not callable(activation):
        raise TypeError(f"{owner}: activation must be 'relu', 'gelu' or a callable, got {type(activation).__name__}")
    return activation


def _unsqueeze_mask(mask):
    data = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    return data[None]


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with dropout, a residual and LayerNorm (post-norm, or
    ``norm_first``), torch's submodule names: self_attn, linear1, dropout, linear2, norm1, norm2, dropout1,
    dropout2."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, dtype=None):
        super().__init__()
        from .layers import LayerNorm
        from .modules import Dropout, Linear

        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1, self.dropout2 = Dropout(dropout), Dropout(dropout)
        self.activation = _activation(activation, "TransformerEncoderLayer")

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._self_attention(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._feed_forward(self.norm2(x))
        x = self.norm1(x + self._self_attention(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._feed_forward(x))

    def _self_attention(self, x, mask, key_padding_mask, is_causal):
        out, _ = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=key_padding_mask, need_weights=False,
                                is_causal=is_causal)
        return self.dropout1(out)

    def _feed_forward(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """num_layers deep copies of encoder_layer (``layers.0`` ...), then ``norm`` when given."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers, self.norm = num_layers, norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return self.norm(x) if self.norm is not None else x


class TransformerDecoderLayer(Module):
    """Self-attention over the target, attention to the encoder's memory, then a feed-forward block, each with
    dropout, a residual and LayerNorm (post-norm, or ``norm_first``); torch's submodule names: self_attn,
    multihead_attn, linear1, dropout, linear2, norm1, norm2, norm3, dropout1, dropout2, dropout3."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, dtype=None):
        super().__init__()
        from .layers import LayerNorm
        from .modules import Dropout, Linear

        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1, self.dropout2, self.dropout3 = Dropout(dropout), Dropout(dropout), Dropout(dropout)
        self.activation = _activation(activation, "TransformerDecoderLayer")

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = tgt
        if self.norm_first:
            x = x + self._self_attention(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._cross_attention(self.norm2(x), memory, memory_mask, memory_key_padding_mask,
                                          memory_is_causal)
            return x + self._feed_forward(self.norm3(x))
        x = self.norm1(x + self._self_attention(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._cross_attention(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
        return self.norm3(x + self._feed_forward(x))

    def _self_attention(self, x, mask, key_padding_mask, is_causal):
        out, _ = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=key_padding_mask, need_weights=False,
                                is_causal=bool(is_causal))
        return self.dropout1(out)

    def _cross_attention(self, x, memory, mask, key_padding_mask, is_causal):
        out, _ = self.multihead_attn(x, memory, memory, attn_mask=mask, key_padding_mask=key_padding_mask,
                                     need_weights=False, is_causal=bool(is_causal))
        return self.dropout2(out)

    def _feed_forward(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoder(Module):
    """num_layers deep copies of decoder_layer (``layers.0`` ...), then ``norm`` when given."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.num_layers, self.norm = num_layers, norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return self.norm(x) if self.norm is not None else x


class Transformer(Module):
    """torch.nn.Transformer: ``encoder`` (TransformerEncoder, final LayerNorm) and ``decoder``
    (TransformerDecoder, final LayerNorm); every weight matrix xavier-uniform initialised, as torch's
    _reset_parameters. forward(src, tgt, ...) -> (T, N, E) (batch_first: (N, T, E))."""

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048,
                 dropout=0.1, activation="relu", custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, dtype=None):
        super().__init__()
        from .layers import LayerNorm

        options = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                       layer_norm_eps=layer_norm_eps, batch_first=batch_first, norm_first=norm_first, bias=bias,
                       dtype=dtype)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(TransformerEncoderLayer(d_model, nhead, **options), num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(TransformerDecoderLayer(d_model, nhead, **options), num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        batched = src.ndim == 3
        if src.ndim != tgt.ndim:
            raise ValueError(f"Transformer: src and tgt must both be batched or both unbatched, got shapes "
                             f"{src.shape} and {tgt.shape}")
        axis = 0 if self.batch_first else 1
        if batched and src.shape[axis] != tgt.shape[axis]:
            raise ValueError(f"Transformer: the batch sizes of src {src.shape} and tgt {tgt.shape} differ")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(f"Transformer: the feature sizes of src {src.shape} and tgt {tgt.shape} must equal "
                             f"d_model {self.d_model}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """(sz, sz) float mask: 0 where query i may attend key j (j <= i), -inf above the diagonal."""
        mask = np.triu(np.full((sz, sz), float("-inf"), dtype=dtype or default_dtype), k=1)
        return Tensor(mask) if device is None else Tensor(mask).to(device)
