"""grid_sample: sampling an image at arbitrary (normalized) coordinates, as torch.nn.functional.grid_sample
(spatial transformer networks, optical-flow warping, deformable sampling).

input (N, C, H, W), grid (N, Ho, Wo, 2) with (x, y) in [-1, 1] -> (N, C, Ho, Wo). Modes 'bilinear' and
'nearest'; padding 'zeros', 'border', 'reflection'; align_corners as torch (True: -1 and 1 are the centers
of the corner pixels; False: their outer edges). Differentiable w.r.t. input and grid (bilinear).
"""
from __future__ import annotations

from ..autograd import Function
from ._common import array_module, scatter_add


def _unnormalize(xp, coord, size, align_corners):
    """[-1, 1] -> pixel coordinates, and d pixel / d coord."""
    if align_corners:
        return (coord + 1) / 2 * (size - 1), (size - 1) / 2
    return ((coord + 1) * size - 1) / 2, size / 2


def _reflect(xp, x, low, high):
    """x reflected into [low, high] (as many times as needed), and d reflected / d x (+1 or -1)."""
    span = high - low
    if span <= 0:
        return xp.zeros_like(x), xp.zeros_like(x)
    shifted = xp.abs(x - low)
    flips = xp.floor(shifted / span)
    extra = shifted - flips * span
    even = (flips % 2) == 0
    reflected = xp.where(even, low + extra, high - extra)
    sign = xp.where(x < low, -1.0, 1.0) * xp.where(even, 1.0, -1.0)
    return reflected, sign


def _source(xp, coord, size, padding_mode, align_corners):
    """Pixel coordinates to sample along one axis, with the padding rule applied, and their derivative
    w.r.t. the normalized coordinate."""
    x, scale = _unnormalize(xp, coord, size, align_corners)
    slope = xp.full(x.shape, scale, dtype=x.dtype)
    if padding_mode == "reflection":
        low, high = (0.0, size - 1.0) if align_corners else (-0.5, size - 0.5)
        x, sign = _reflect(xp, x, low, high)
        slope = slope * sign
    if padding_mode in ("border", "reflection"):
        inside = (x >= 0) & (x <= size - 1)
        x = xp.clip(x, 0, size - 1)
        slope = slope * inside
    return x, slope


class GridSample(Function):
    def forward(self, x, grid, mode="bilinear", padding_mode="zeros", align_corners=False):
        xp = array_module(x)
        n, c, h, w = x.shape
        self.shape, self.mode, self.x = x.shape, mode, x
        gx, self.slope_x = _source(xp, grid[..., 0], w, padding_mode, align_corners)
        gy, self.slope_y = _source(xp, grid[..., 1], h, padding_mode, align_corners)
        self.batch = xp.arange(n).reshape(n, 1, 1)
        if mode == "nearest":
            ix, iy = xp.rint(gx).astype(xp.int64), xp.rint(gy).astype(xp.int64)  # rint: half to even, as torch
            self.corners = [(iy, ix, xp.ones_like(gx))]
        else:
            x0, y0 = xp.floor(gx), xp.floor(gy)
            wx1, wy1 = gx - x0, gy - y0
            x0, y0 = x0.astype(xp.int64), y0.astype(xp.int64)
            self.fractions = (wx1, wy1)
            self.corners = [(y0, x0, (1 - wy1) * (1 - wx1)), (y0, x0 + 1, (1 - wy1) * wx1),
                            (y0 + 1, x0, wy1 * (1 - wx1)), (y0 + 1, x0 + 1, wy1 * wx1)]
        out = xp.zeros((n, c) + gx.shape[1:], dtype=x.dtype)
        for iy, ix, weight in self.corners:
            out += self._gather(xp, x, iy, ix) * weight[:, None]
        return out

    def _valid(self, iy, ix):
        h, w = self.shape[2:]
        return (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)

    def _gather(self, xp, x, iy, ix):
        """x[n, :, iy, ix] as (N, C, Ho, Wo), zero where (iy, ix) is outside the image."""
        h, w = self.shape[2:]
        valid = self._valid(iy, ix)
        values = x[self.batch, :, xp.clip(iy, 0, h - 1), xp.clip(ix, 0, w - 1)]  # (N, Ho, Wo, C)
        return xp.moveaxis(values * valid[..., None], -1, 1)

    def backward(self, g):
        xp = array_module(g)
        dx = dgrid = None
        if self.needs_input_grad[0]:
            dx = self._input_grad(xp, g)
        if self.needs_input_grad[1]:
            dgrid = self._grid_grad(xp, g)
        return dx, dgrid

    def _input_grad(self, xp, g):
        n, c, h, w = self.shape
        dx = xp.zeros((n, h * w, c), dtype=g.dtype)
        g_last = xp.moveaxis(g, 1, -1)  # (N, Ho, Wo, C)
        for iy, ix, weight in self.corners:
            valid = self._valid(iy, ix)
            flat = xp.where(valid, iy * w + ix, 0)
            contribution = g_last * (weight * valid)[..., None]
            scatter_add(dx, (self.batch, flat), contribution)
        return xp.moveaxis(dx, -1, 1).reshape(self.shape)

    def _grid_grad(self, xp, g):
        if self.mode == "nearest":
            return xp.zeros(self.slope_x.shape + (2,), dtype=g.dtype)
        wx1, wy1 = self.fractions
        (y0, x0, _), (_, x1, _), (y1, _, _), _ = self.corners
        v00, v01 = self._gather(xp, self.x, y0, x0), self._gather(xp, self.x, y0, x1)
        v10, v11 = self._gather(xp, self.x, y1, x0), self._gather(xp, self.x, y1, x1)
        d_gx = ((v01 - v00) * (1 - wy1)[:, None] + (v11 - v10) * wy1[:, None]) * g  # d out / d pixel x
        d_gy = ((v10 - v00) * (1 - wx1)[:, None] + (v11 - v01) * wx1[:, None]) * g
        return xp.stack([d_gx.sum(axis=1) * self.slope_x, d_gy.sum(axis=1) * self.slope_y], axis=-1)
