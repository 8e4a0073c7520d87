"""Attention and the Transformer encoder (nn/transformer.py): float64 NumPy references written here, finite
differences through attention, torch's mask conventions, parameter names, and bad input."""
import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
from dlcore import nn
from dlcore.autograd import gradcheck


def _t(a, grad=True):
    return dlcore.tensor(np.asarray(a, np.float64), requires_grad=grad)


def _softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _attention(q, k, v, add=None):
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if add is not None:
        s = s + add
    return _softmax(s) @ v


def test_scaled_dot_product_attention_masks(rng):
    q, k, v = rng.standard_normal((2, 3, 5, 8)), rng.standard_normal((2, 3, 7, 8)), rng.standard_normal((2, 3, 7, 4))
    np.testing.assert_allclose(F.scaled_dot_product_attention(_t(q), _t(k), _t(v)).numpy(), _attention(q, k, v),
                               rtol=1e-12)
    keep = rng.random((5, 7)) > 0.3
    keep[:, 0] = True  # every query keeps a key
    got = F.scaled_dot_product_attention(_t(q), _t(k), _t(v), attn_mask=dlcore.tensor(keep)).numpy()
    np.testing.assert_allclose(got, _attention(q, k, v, np.where(keep, 0, -np.inf)), rtol=1e-12)  # True = attend
    bias = rng.standard_normal((5, 7))
    np.testing.assert_allclose(F.scaled_dot_product_attention(_t(q), _t(k), _t(v), attn_mask=_t(bias)).numpy(),
                               _attention(q, k, v, bias), rtol=1e-12)
    square = rng.standard_normal((1, 2, 4, 8))
    causal = F.scaled_dot_product_attention(_t(square), _t(square), _t(square), is_causal=True).numpy()
    np.testing.assert_allclose(causal, _attention(square, square, square, np.where(np.tri(4) > 0, 0, -np.inf)),
                               rtol=1e-12)
    gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=dlcore.tensor(keep)),
              [_t(q), _t(k), _t(v)])
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(_t(q), _t(k), _t(v), attn_mask=dlcore.tensor(keep), is_causal=True)


def _mha_reference(m, query, key, value, drop=None, pad=None):
    """torch's MultiheadAttention in NumPy from m's weights ((L, N, E) inputs; drop: True = masked)."""
    w, b = m.in_proj_weight.numpy(), m.in_proj_bias.numpy()
    e, h = m.embed_dim, m.num_heads
    proj = [x @ w[i * e:(i + 1) * e].T + b[i * e:(i + 1) * e] for i, x in enumerate((query, key, value))]
    heads = [p.reshape(p.shape[0], p.shape[1], h, e // h).transpose(1, 2, 0, 3) for p in proj]
    add = np.zeros((query.shape[1], 1, query.shape[0], key.shape[0]))
    if drop is not None:
        add = add + np.where(drop, -np.inf, 0)
    if pad is not None:
        add = add + np.where(pad, -np.inf, 0)[:, None, None, :]
    out = _attention(*heads, add).transpose(2, 0, 1, 3).reshape(query.shape[0], query.shape[1], e)
    return out @ m.out_proj.weight.numpy().T + m.out_proj.bias.numpy()


def test_multihead_attention_against_reference(rng):
    m = nn.MultiheadAttention(12, 3, dtype=np.float64)
    assert [n for n, _ in m.named_parameters()] == ["in_proj_weight", "in_proj_bias", "out_proj.weight",
                                                    "out_proj.bias"]
    q, kv = rng.standard_normal((5, 2, 12)), rng.standard_normal((7, 2, 12))
    drop = rng.random((5, 7)) > 0.7
    drop[:, 0] = False
    pad = np.array([[False] * 5 + [True] * 2, [False] * 7])
    out, weights = m(_t(q), _t(kv), _t(kv), attn_mask=dlcore.tensor(drop), key_padding_mask=dlcore.tensor(pad))
    np.testing.assert_allclose(out.numpy(), _mha_reference(m, q, kv, kv, drop, pad), rtol=1e-11, atol=1e-12)
    assert weights.shape == (2, 5, 7) and not weights.numpy()[0, :, 5:].any()  # padded keys get no weight
    np.testing.assert_allclose(weights.numpy().sum(-1), 1.0, rtol=1e-12)
    bf = nn.MultiheadAttention(12, 3, batch_first=True, dtype=np.float64)
    bf.load_state_dict(m.state_dict())
    out_bf, _ = bf(_t(q.transpose(1, 0, 2)), _t(kv.transpose(1, 0, 2)), _t(kv.transpose(1, 0, 2)),
                   attn_mask=dlcore.tensor(drop), key_padding_mask=dlcore.tensor(pad), need_weights=False)
    np.testing.assert_allclose(out_bf.numpy(), out.numpy().transpose(1, 0, 2), rtol=1e-12)
    single, _ = m(_t(q[:, 1]), _t(kv[:, 1]), _t(kv[:, 1]))  # unbatched (L, E)
    np.testing.assert_allclose(single.numpy(), _mha_reference(m, q[:, 1:], kv[:, 1:], kv[:, 1:])[:, 0],
                               rtol=1e-11, atol=1e-12)
    small = nn.MultiheadAttention(4, 2, dtype=np.float64)
    x = rng.standard_normal((3, 2, 4))
    gradcheck(lambda a: small(a, a, a, need_weights=False)[0], [_t(x)])


def test_encoder_layers_train_and_follow_torchs_structure(rng):
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True, norm_first=True)
    encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8))
    names = [n for n, _ in encoder.named_parameters()]
    assert names[:4] == ["layers.0.self_attn.in_proj_weight", "layers.0.self_attn.in_proj_bias",
                         "layers.0.self_attn.out_proj.weight", "layers.0.self_attn.out_proj.bias"]
    assert "layers.1.linear2.weight" in names and names[-2:] == ["norm.weight", "norm.bias"]
    assert encoder.layers[0].self_attn is not encoder.layers[1].self_attn  # deep copies, as torch
    # a toy task attention solves: each position outputs the mean of the sequence's first feature
    dlcore.manual_seed(0)
    head = nn.Linear(8, 1)
    opt = dlcore.optim.Adam(list(encoder.parameters()) + list(head.parameters()), lr=1e-2)
    x = rng.standard_normal((32, 6, 8)).astype(np.float32)
    target = np.repeat(x[:, :, :1].mean(axis=1, keepdims=True), 6, axis=1)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = F.mse_loss(head(encoder(dlcore.tensor(x))), dlcore.tensor(target))
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.2 * losses[0], (losses[0], losses[-1])


def test_attention_errors():
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(10, 3)
    m = nn.MultiheadAttention(8, 2)
    x = dlcore.randn(3, 2, 8)
    with pytest.raises(ValueError, match="kdim 4"):
        nn.MultiheadAttention(8, 2, kdim=4)(x, x, x)
    with pytest.raises(ValueError, match="sequence length"):
        m(x, x, x[:2])
    with pytest.raises(ValueError, match="attn_mask of shape"):
        m(x, x, x, attn_mask=dlcore.tensor(np.zeros((2, 2), bool)))
    with pytest.raises(ValueError, match="key_padding_mask of shape"):
        m(x, x, x, key_padding_mask=dlcore.tensor(np.zeros((3, 3), bool)))
    with pytest.raises(TypeError, match="bool or floating"):
        m(x, x, x, attn_mask=dlcore.tensor(np.zeros((3, 3), np.int64)))
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


def _layer_norm(x, ln):
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + ln.eps) * ln.weight.numpy() + ln.bias.numpy()


def _decoder_layer_reference(layer, tgt, memory, tgt_drop=None, memory_pad=None):
    """torch's post-norm TransformerDecoderLayer (relu, no dropout) in NumPy from layer's weights."""
    x = _layer_norm(tgt + _mha_reference(layer.self_attn, tgt, tgt, tgt, drop=tgt_drop), layer.norm1)
    x = _layer_norm(x + _mha_reference(layer.multihead_attn, x, memory, memory, pad=memory_pad), layer.norm2)
    hidden = np.maximum(x @ layer.linear1.weight.numpy().T + layer.linear1.bias.numpy(), 0)
    return _layer_norm(x + hidden @ layer.linear2.weight.numpy().T + layer.linear2.bias.numpy(), layer.norm3)


def test_decoder_layer_against_reference(rng):
    layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.0, dtype=np.float64)
    assert [n for n, _ in layer.named_children()] == [
        "self_attn", "multihead_attn", "linear1", "dropout", "linear2", "norm1", "norm2", "norm3", "dropout1",
        "dropout2", "dropout3"]
    tgt, memory = rng.standard_normal((4, 2, 8)), rng.standard_normal((6, 2, 8))
    causal = nn.Transformer.generate_square_subsequent_mask(4, dtype=np.float64)
    np.testing.assert_array_equal(causal.numpy(), np.where(np.tri(4) > 0, 0.0, -np.inf))
    pad = np.array([[False] * 4 + [True] * 2, [False] * 6])
    out = layer(_t(tgt), _t(memory), tgt_mask=causal, memory_key_padding_mask=dlcore.tensor(pad))
    want = _decoder_layer_reference(layer, tgt, memory, tgt_drop=np.tri(4) == 0, memory_pad=pad)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-10, atol=1e-12)
    causal_flag = layer(_t(tgt), _t(memory), tgt_is_causal=True, memory_key_padding_mask=dlcore.tensor(pad))
    np.testing.assert_allclose(causal_flag.numpy(), want, rtol=1e-10, atol=1e-12)
    small = nn.TransformerDecoderLayer(4, 2, dim_feedforward=6, dropout=0.0, norm_first=True,
                                       activation=F.gelu, dtype=np.float64)
    gradcheck(lambda a, b: small(a, b, tgt_is_causal=True), [_t(rng.standard_normal((3, 2, 4))),
                                                            _t(rng.standard_normal((5, 2, 4)))])


def test_transformer_follows_torchs_names_and_checks_input(rng):
    model = nn.Transformer(8, 2, num_encoder_layers=1, num_decoder_layers=2, dim_feedforward=16, dropout=0.0,
                           batch_first=True, dtype=np.float64)
    names = list(model.state_dict())
    assert names[0] == "encoder.layers.0.self_attn.in_proj_weight"
    assert "encoder.norm.weight" in names and "decoder.layers.1.multihead_attn.out_proj.bias" in names
    assert names[-2:] == ["decoder.norm.weight", "decoder.norm.bias"] and "decoder.layers.1.norm3.bias" in names
    src, tgt = rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 3, 8))
    out = model(_t(src), _t(tgt), tgt_mask=model.generate_square_subsequent_mask(3, dtype=np.float64))
    memory = model.encoder(_t(src))
    again = model.decoder(_t(tgt), memory, tgt_is_causal=True)
    assert out.shape == (2, 3, 8)
    np.testing.assert_allclose(out.numpy(), again.numpy(), rtol=1e-12)
    # a later target position does not change an earlier one's output (the causal mask)
    changed = tgt.copy()
    changed[:, 2] += 1
    later = model(_t(src), _t(changed), tgt_is_causal=True)
    np.testing.assert_allclose(later.numpy()[:, :2], out.numpy()[:, :2], rtol=1e-12)
    with pytest.raises(ValueError, match="batch sizes"):
        model(_t(src), _t(tgt[:1]))
    with pytest.raises(ValueError, match="d_model"):
        model(_t(src[..., :4]), _t(tgt[..., :4]))
    with pytest.raises(TypeError, match="activation"):
        nn.TransformerDecoderLayer(8, 2, activation=3)


def test_multihead_attention_kdim_vdim_bias_kv_zero_attn(rng):
    m = nn.MultiheadAttention(8, 2, kdim=5, vdim=3, add_bias_kv=True, add_zero_attn=True, dtype=np.float64)
    assert [n for n, _ in m.named_parameters()] == [
        "q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "bias_k", "bias_v", "out_proj.weight",
        "out_proj.bias"]  # torch's names and order; no in_proj_weight
    assert m.k_proj_weight.shape == (8, 5) and m.v_proj_weight.shape == (8, 3) and m.bias_k.shape == (1, 1, 8)
    q, k, v = rng.standard_normal((4, 2, 8)), rng.standard_normal((6, 2, 5)), rng.standard_normal((6, 2, 3))
    pad = np.array([[False] * 4 + [True] * 2, [False] * 6])
    drop = rng.random((4, 6)) > 0.7
    out, weights = m(_t(q), _t(k), _t(v), key_padding_mask=dlcore.tensor(pad), attn_mask=dlcore.tensor(drop),
                     average_attn_weights=False)
    # reference: project, append bias_k / bias_v as key 7, a zero key and value as key 8 (never masked)
    b = m.in_proj_bias.numpy()
    proj = [x @ w.numpy().T + b[i * 8:(i + 1) * 8] for i, (x, w) in
            enumerate(((q, m.q_proj_weight), (k, m.k_proj_weight), (v, m.v_proj_weight)))]
    for i, extra in ((1, m.bias_k.numpy()), (2, m.bias_v.numpy())):
        proj[i] = np.concatenate([proj[i], np.repeat(extra, 2, axis=1), np.zeros((1, 2, 8))])
    heads = [p.reshape(p.shape[0], 2, 2, 4).transpose(1, 2, 0, 3) for p in proj]
    masked = np.pad(drop, ((0, 0), (0, 2)))[None, None] | np.pad(pad, ((0, 0), (0, 2)))[:, None, None]
    scores = heads[0] @ np.swapaxes(heads[1], -1, -2) / 2.0 + np.where(masked, -np.inf, 0)
    want_w = _softmax(scores)
    want = (want_w @ heads[2]).transpose(2, 0, 1, 3).reshape(4, 2, 8) @ m.out_proj.weight.numpy().T
    np.testing.assert_allclose(weights.numpy(), want_w, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(out.numpy(), want + m.out_proj.bias.numpy(), rtol=1e-11, atol=1e-12)
    small = nn.MultiheadAttention(4, 2, kdim=3, vdim=2, add_bias_kv=True, add_zero_attn=True, dtype=np.float64)
    gradcheck(lambda a, b, c: small(a, b, c, need_weights=False)[0],
              [_t(rng.standard_normal((3, 2, 4))), _t(rng.standard_normal((5, 2, 3))),
               _t(rng.standard_normal((5, 2, 2)))])


def test_multihead_attention_returns_the_weights_after_dropout(rng):
    m = nn.MultiheadAttention(8, 2, dropout=0.5, dtype=np.float64)
    x = rng.standard_normal((6, 3, 8))
    out, weights = m(_t(x), _t(x), _t(x), average_attn_weights=False)
    w = weights.numpy()
    assert (w == 0).any() and not np.allclose(w.sum(-1), 1.0)  # dropped entries, survivors scaled by 2
    # the output is out_proj of these weights times the values, as torch's
    b = m.in_proj_bias.numpy()
    values = (x @ m.in_proj_weight.numpy()[16:].T + b[16:]).reshape(6, 3, 2, 4).transpose(1, 2, 0, 3)
    mixed = (w @ values).transpose(2, 0, 1, 3).reshape(6, 3, 8)
    want = mixed @ m.out_proj.weight.numpy().T + m.out_proj.bias.numpy()
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-11, atol=1e-12)
    m.eval()
    np.testing.assert_allclose(m(_t(x), _t(x), _t(x))[1].numpy().sum(-1), 1.0, rtol=1e-12)
