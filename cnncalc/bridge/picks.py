"""Modules for the picking and sampling kinds: Index, TopK, Gather, GridSample, Roll,
TensorUnfold, Maximum and Minimum, and Upsample with antialias (``Interpolate``)."""

from __future__ import annotations

import torch
from torch import nn


class TopK(nn.Module):
    """``torch.topk``: (values, indices)."""

    def __init__(self, k, dim=-1, largest=True, sorted=True, at_most=False):
        super().__init__()
        self.k, self.dim, self.largest, self.sorted = k, dim, largest, sorted
        self.at_most = at_most

    def forward(self, x):
        k = min(self.k, x.shape[self.dim]) if self.at_most else self.k
        return tuple(torch.topk(x, k, self.dim, self.largest, self.sorted))


class Gather(nn.Module):
    """``torch.gather`` along ``dim``; the index is read as int64 (``.long()``, as the forwards
    that compute it in floating point write)."""

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x, index):
        return torch.gather(x, self.dim, index.long())


class GridSample(nn.Module):
    """``F.grid_sample(x, grid)``."""

    def __init__(self, mode="bilinear", padding_mode="zeros", align_corners=False):
        super().__init__()
        self.mode, self.padding_mode, self.align_corners = mode, padding_mode, align_corners

    def forward(self, x, grid):
        return nn.functional.grid_sample(
            x, grid, self.mode, self.padding_mode, align_corners=self.align_corners
        )


class Index(nn.Module):
    """``x[index]`` along ``dim``."""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = dim

    def forward(self, x, index):
        return x[(slice(None),) * self.dim + (index,)]


class Roll(nn.Module):
    """``torch.roll(x, shifts, dims)``."""

    def __init__(self, shifts, dims=None):
        super().__init__()
        self.shifts, self.dims = list(shifts), list(dims or ())

    def forward(self, x):
        return torch.roll(x, self.shifts, self.dims)


class TensorUnfold(nn.Module):
    """``x.unfold(dimension, size, step)``."""

    def __init__(self, dimension, size, step):
        super().__init__()
        self.dimension, self.size, self.step = dimension, size, step

    def forward(self, x):
        return x.unfold(self.dimension, self.size, self.step)


class Interpolate(nn.Module):
    """``F.interpolate`` with ``antialias`` (nn.Upsample has no such argument)."""

    def __init__(self, **kw):
        super().__init__()
        self.kw = kw

    def forward(self, x):
        return nn.functional.interpolate(x, **self.kw)


class Maximum(nn.Module):
    def forward(self, a, b):
        return torch.maximum(a, b)


class Minimum(nn.Module):
    def forward(self, a, b):
        return torch.minimum(a, b)
