"""Vision Transformer (Dosovitskiy et al. 2020) with torchvision's names: ``conv_proj`` (patch embedding),
``class_token``, ``encoder.pos_embedding``, ``encoder.layers.encoder_layer_{i}`` (``ln_1``, ``self_attention``,
``ln_2``, ``mlp.0`` / ``mlp.3``), ``encoder.ln``, ``heads.head``. Pre-norm blocks, LayerNorm eps 1e-6."""
from __future__ import annotations

import math
from collections import OrderedDict
from functools import partial

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..nn.module import Parameter
from ..random import default_generator
from ..tensor import cat
from ._common import check_args

LayerNorm = partial(nn.LayerNorm, eps=1e-6)

#: name -> (patch_size, num_layers, num_heads, hidden_dim, mlp_dim), torchvision's
CONFIGS = {"vit_b_16": (16, 12, 12, 768, 3072), "vit_b_32": (32, 12, 12, 768, 3072),
           "vit_l_16": (16, 24, 16, 1024, 4096), "vit_l_32": (32, 24, 16, 1024, 4096),
           "vit_h_14": (14, 32, 16, 1280, 5120)}


def _trunc_normal_(param, std, bound=2.0):
    """normal(0, std) redrawn where it falls outside [-bound, bound] (torch.nn.init.trunc_normal_'s absolute
    cut-off; dlcore.nn.init has no trunc_normal_ yet)."""
    gen = default_generator()
    values = gen.normal(0.0, std, param.shape)
    outside = np.abs(values) > bound
    while outside.any():
        values[outside] = gen.normal(0.0, std, int(outside.sum()))
        outside = np.abs(values) > bound
    with no_grad():
        param._data[...] = values.astype(param.dtype)


class MLPBlock(nn.Sequential):
    """Linear(hidden, mlp_dim), GELU, Dropout, Linear(mlp_dim, hidden), Dropout: items 0..4 as torchvision's."""

    def __init__(self, in_dim, mlp_dim, dropout):
        super().__init__(nn.Linear(in_dim, mlp_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_dim, in_dim),
                         nn.Dropout(dropout))
        for m in (self[0], self[3]):  # torchvision's init
            nn.init.xavier_uniform_(m.weight)
            nn.init.normal_(m.bias, std=1e-6)


class EncoderBlock(nn.Module):
    """x + attention(ln_1(x)), then + mlp(ln_2(.)) (pre-norm)."""

    def __init__(self, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout):
        super().__init__()
        self.num_heads = num_heads
        self.ln_1 = LayerNorm(hidden_dim)
        self.self_attention = nn.MultiheadAttention(hidden_dim, num_heads, dropout=attention_dropout,
                                                    batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = LayerNorm(hidden_dim)
        self.mlp = MLPBlock(hidden_dim, mlp_dim, dropout)

    def forward(self, input):
        if input.ndim != 3:
            raise ValueError(f"EncoderBlock: expected (batch, seq_length, hidden_dim), got {input.shape}")
        x = self.ln_1(input)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x) + input
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    """Learned position embedding added to the tokens, dropout, encoder blocks, final LayerNorm."""

    def __init__(self, seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout):
        super().__init__()
        self.pos_embedding = Parameter(np.zeros((1, seq_length, hidden_dim), dtype=np.float32))
        nn.init.normal_(self.pos_embedding, std=0.02)  # from BERT, as torchvision
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.Sequential(OrderedDict(
            (f"encoder_layer_{i}", EncoderBlock(num_heads, hidden_dim, mlp_dim, dropout, attention_dropout))
            for i in range(num_layers)))
        self.ln = LayerNorm(hidden_dim)

    def forward(self, input):
        if input.ndim != 3:
            raise ValueError(f"Encoder: expected (batch, seq_length, hidden_dim), got {input.shape}")
        return self.ln(self.layers(self.dropout(input + self.pos_embedding)))


class VisionTransformer(nn.Module):
    """Patches of patch_size x patch_size (a strided conv to hidden_dim), a learned class token in front,
    the encoder, and the class token's output through ``heads`` (``head``; with representation_size,
    ``pre_logits`` + tanh first). Takes image_size x image_size inputs only (the position embedding is
    learned per position)."""

    def __init__(self, image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim, dropout=0.0,
                 attention_dropout=0.0, num_classes=1000, representation_size=None, in_channels=3):
        super().__init__()
        check_args("vision_transformer", num_classes, in_channels)
        if image_size % patch_size:
            raise ValueError(f"VisionTransformer: image_size {image_size} is not a multiple of patch_size "
                             f"{patch_size}")
        self.image_size, self.patch_size, self.hidden_dim, self.mlp_dim = image_size, patch_size, hidden_dim, mlp_dim
        self.attention_dropout, self.dropout, self.num_classes = attention_dropout, dropout, num_classes
        self.representation_size = representation_size
        self.conv_proj = nn.Conv2d(in_channels, hidden_dim, patch_size, stride=patch_size)
        self.seq_length = (image_size // patch_size) ** 2 + 1  # the patches and the class token
        self.class_token = Parameter(np.zeros((1, 1, hidden_dim), dtype=np.float32))
        self.encoder = Encoder(self.seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout,
                               attention_dropout)
        heads = OrderedDict()
        if representation_size is not None:
            heads["pre_logits"] = nn.Linear(hidden_dim, representation_size)
            heads["act"] = nn.Tanh()
        heads["head"] = nn.Linear(representation_size or hidden_dim, num_classes)
        self.heads = nn.Sequential(heads)
        self._init_weights()

    def _init_weights(self):
        """torchvision's: truncated-normal patch projection and pre-logits (std 1/sqrt(fan_in)), zero head."""
        fan_in = self.conv_proj.in_channels * self.patch_size ** 2
        _trunc_normal_(self.conv_proj.weight, math.sqrt(1 / fan_in))
        nn.init.zeros_(self.conv_proj.bias)
        if self.representation_size is not None:
            _trunc_normal_(self.heads.pre_logits.weight, math.sqrt(1 / self.hidden_dim))
            nn.init.zeros_(self.heads.pre_logits.bias)
        nn.init.zeros_(self.heads.head.weight)
        nn.init.zeros_(self.heads.head.bias)

    def _process_input(self, x):
        """(N, C, H, W) -> (N, patches, hidden_dim), patches in row-major order."""
        n, _, h, w = x.shape
        if (h, w) != (self.image_size, self.image_size):
            raise ValueError(f"VisionTransformer: expected {self.image_size}x{self.image_size} images, got {h}x{w}")
        x = self.conv_proj(x)
        return x.reshape(n, self.hidden_dim, -1).permute(0, 2, 1)

    def forward(self, x):
        x = self._process_input(x)
        x = cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.heads(self.encoder(x)[:, 0])


def _vit(name, image_size, num_classes, dropout, attention_dropout, in_channels):
    patch_size, num_layers, num_heads, hidden_dim, mlp_dim = CONFIGS[name]
    return VisionTransformer(image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim, dropout,
                             attention_dropout, num_classes, in_channels=in_channels)


def vit_b_16(num_classes=1000, image_size=224, dropout=0.0, attention_dropout=0.0, in_channels=3):
    return _vit("vit_b_16", image_size, num_classes, dropout, attention_dropout, in_channels)


def vit_b_32(num_classes=1000, image_size=224, dropout=0.0, attention_dropout=0.0, in_channels=3):
    return _vit("vit_b_32", image_size, num_classes, dropout, attention_dropout, in_channels)


def vit_l_16(num_classes=1000, image_size=224, dropout=0.0, attention_dropout=0.0, in_channels=3):
    return _vit("vit_l_16", image_size, num_classes, dropout, attention_dropout, in_channels)


def vit_l_32(num_classes=1000, image_size=224, dropout=0.0, attention_dropout=0.0, in_channels=3):
    return _vit("vit_l_32", image_size, num_classes, dropout, attention_dropout, in_channels)


def vit_h_14(num_classes=1000, image_size=224, dropout=0.0, attention_dropout=0.0, in_channels=3):
    return _vit("vit_h_14", image_size, num_classes, dropout, attention_dropout, in_channels)
