"""im2col and its adjoint as autograd Functions: Unfold (N, C, H, W) -> (N, C*kh*kw, L) and Fold back,
torch.nn.functional.unfold / fold's layout (channel-major, then kernel row, kernel column; L blocks in row
order). Each one's backward is the other, so both are a loop over the kh*kw kernel offsets of strided
slices (no per-block Python loop)."""
from __future__ import annotations

from ..autograd import Function
from ._common import array_module


def _blocks(size, kernel, dilation, padding, stride):
    """How many blocks fit along an axis of `size` (torch's formula)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _offsets(geometry, blocks):
    """(i, j, row slice, column slice) of every kernel offset into the padded image."""
    (kh, kw), (dh, dw), _, (sh, sw) = geometry
    oh, ow = blocks
    for i in range(kh):
        for j in range(kw):
            yield i, j, slice(i * dh, i * dh + sh * (oh - 1) + 1, sh), slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)


def unfold(x, geometry):
    xp = array_module(x)
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = geometry
    n, c, h, w = x.shape
    blocks = (_blocks(h, kh, dh, ph, sh), _blocks(w, kw, dw, pw, sw))
    padded = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    cols = xp.empty((n, c, kh, kw) + blocks, dtype=x.dtype)
    for i, j, rows, columns in _offsets(geometry, blocks):
        cols[:, :, i, j] = padded[:, :, rows, columns]
    return cols.reshape(n, c * kh * kw, blocks[0] * blocks[1])


def fold(cols, output_size, geometry):
    xp = array_module(cols)
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = geometry
    h, w = output_size
    blocks = (_blocks(h, kh, dh, ph, sh), _blocks(w, kw, dw, pw, sw))
    n = cols.shape[0]
    c = cols.shape[1] // (kh * kw)
    cols = cols.reshape((n, c, kh, kw) + blocks)
    out = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i, j, rows, columns in _offsets(geometry, blocks):
        out[:, :, rows, columns] += cols[:, :, i, j]  # a slice's positions are distinct: no scatter conflicts
    return xp.ascontiguousarray(out[:, :, ph:ph + h, pw:pw + w])


class Unfold(Function):
    def forward(self, x, geometry):
        self.size, self.geometry = x.shape[2:], geometry
        return unfold(x, geometry)

    def backward(self, dcols):
        return fold(dcols, self.size, self.geometry)


class Fold(Function):
    def forward(self, cols, output_size, geometry):
        self.geometry = geometry
        return fold(cols, output_size, geometry)

    def backward(self, dy):
        return unfold(dy, self.geometry)
