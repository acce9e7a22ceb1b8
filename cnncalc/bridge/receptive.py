"""Receptive fields measured in torch: the support of the input gradient of one output position.

The model is rebuilt in float64 with every weight positive and biases zero, so no gradient can
cancel; max pools become average pools of the same geometry (a max routes the gradient to one
element only; a Maximum or Minimum becomes a sum), element-wise layers and normalizations
become identities (as in the usual definition, statistics are not counted), and reflection or
replication padding becomes zero padding (what a border position reads is then the padding, not
a mirrored pixel). For a layer,
the gradient of a weighted sum over channels (positive weights, not all equal) at output
position p is taken with respect to a positive
input (uniform in [0.5, 1.5): an all-ones one would cancel the gradient of ``x / ||x||``); along
each spatial dim, the first and last input positions where it is non-zero must be the analytic
field [centre − (size − 1)/2, centre + (size − 1)/2], centre = start + p·jump, clipped to
the input. Positions are the first and last whose field lies inside the input (so padding cannot
hide what a window reads); where the field is wider than the input, the middle one, whose
support must then lie within the clipped field (a dilated window's taps may miss the border).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..layers import REGISTRY
from ..model import Analysis
from .build import build

_IDENTITY_PREFIXES = (
    "BatchNorm",
    "InstanceNorm",
    "GroupNorm",
    "LayerNorm",
    "RMSNorm",
    "LocalResponseNorm",
    "Dropout",
)


def _swap(type_: str, m: nn.Module) -> nn.Module:
    if type_ in ("Maximum", "Minimum"):  # a sum: the gradient reaches both (a pick, one)
        from .modules import Add

        return Add()
    if type_ == "Pointwise" and m.op == "square":  # kept: as an identity, a variance's sum of
        return m  # squared deviations would be a sum of deviations, which cancels
    if type_.startswith(_IDENTITY_PREFIXES) or REGISTRY[type_].pointwise:
        return nn.Identity()
    if type_.startswith("MaxPool"):
        return _Window(int(type_[-2]), m)
    if type_.startswith(("ReflectionPad", "ReplicationPad")):
        n = int(type_[-2])
        return getattr(nn, f"ZeroPad{n}d")(m.padding)
    if type_.startswith(("Conv", "ConvTranspose")):
        m.padding_mode = "zeros"
    if type_ == "StdConv2d":  # its geometry as a plain conv: a standardised weight of ones is 0
        c = nn.Conv2d(
            m.in_channels,
            m.out_channels,
            m.kernel_size,
            m.stride,
            m.padding,
            m.dilation,
            m.groups,
            bias=False,
        )
        with torch.no_grad():
            c.weight.fill_(1.0)
        return c.to(m.weight.dtype)
    return m


class _Window(nn.Module):
    """A max pool's windows as a depthwise conv of ones: the same geometry, dilation and ceil_mode
    included (ceil_mode by padding the end so the extra window exists), every element reached."""

    def __init__(self, n, pool):
        super().__init__()
        self.n, self.pool = n, pool

    def forward(self, x):
        from ..layers.pool import pool_out

        n, p = self.n, self.pool
        k, s, pad, d = (
            _tuple(v, n) for v in (p.kernel_size, p.stride or p.kernel_size, p.padding, p.dilation)
        )
        batched = x.dim() == n + 2
        x = x if batched else x.unsqueeze(0)
        extra = []
        for i, kk, ss, pp, dd in zip(x.shape[2:], k, s, pad, d):
            o = pool_out(i, kk, ss, pp, dd, p.ceil_mode)
            extra.append(max(0, (o - 1) * ss + dd * (kk - 1) + 1 - (i + 2 * pp)))
        x = nn.functional.pad(x, [v for e in reversed(extra) for v in (0, e)])
        c = x.shape[1]
        w = torch.ones((c, 1, *k), dtype=x.dtype)
        y = getattr(nn.functional, f"conv{n}d")(x, w, None, s, pad, d, c)
        return y if batched else y.squeeze(0)


def _tuple(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def _positions(f, d: int, i: int, o: int) -> tuple[int, int, bool]:
    """The first and last output positions whose whole field lies inside the input along dim d
    (there padding cannot hide what a window reads); the middle one where none does."""
    half = (f.size[d] - 1) / 2
    lo = max(0, math.ceil((half - f.start[d]) / f.jump[d]))
    hi = min(o - 1, math.floor((i - 1 - half - f.start[d]) / f.jump[d]))
    return (lo, hi, True) if lo <= hi else (o // 2, o // 2, False)


def agrees(expected, measured, interior) -> bool:
    """Equal extents where the field lies inside the input; where it does not, the measured support
    must lie within the clipped field (a dilated window's taps may all miss the border rows)."""
    for e, m, inside in zip(expected, measured, interior):
        if inside and e != m:
            return False
        if not inside and m is not None and (e is None or not e[0] <= m[0] <= m[1] <= e[1]):
            return False
    return True


def measure(a: Analysis, limit: int = 24) -> list[tuple]:
    """(layer, position, analytic extents, measured extents, interior flags) per check; extents per
    spatial dim, at two positions; ``agrees`` compares them."""
    candidates = [layer for layer in a.layers if layer.field is not None]
    if len(candidates) > limit:  # spread the checks over the net, the last layer included
        step = len(candidates) / limit
        candidates = [
            candidates[min(len(candidates) - 1, math.ceil((i + 1) * step) - 1)]
            for i in range(limit)
        ]
    if not candidates or any(x.kwargs.get("return_indices") for x in a.layers):
        return []  # (a pool's indices feed an unpooling: no gradient support to read)
    with torch.device("cpu"):
        model = build(a, "cpu").double()
    for n, p in model.named_parameters():
        with torch.no_grad():
            p.fill_(1.0 if not n.endswith("bias") else 0.0)
    for b in model.buffers():  # a fixed filter a conv reads (a Buffer): positive too
        if b.is_floating_point():
            b.fill_(1.0)
    model._steps = [
        (name, _swap(layer.type, m), inputs, drop)
        for (name, m, inputs, drop), layer in zip(model._steps, a.layers)
    ]
    model.eval()
    g = torch.Generator().manual_seed(0)  # positive, and not all equal: a normalization's
    x = torch.rand(a.input, generator=g, dtype=torch.float64) + 0.5  # gradient does not vanish
    x.requires_grad_(True)
    outs = {}

    def record(name, m, xs):
        y = m(*xs)
        outs[name] = y
        return y

    model(x, record)
    results = []
    for layer in candidates:
        y = outs[layer.name]
        y = y[0] if isinstance(y, tuple) else y
        f = layer.field
        n = len(f.size)
        sizes_in, sizes_out = a.input[-n:], y.shape[-n:]
        picks = [_positions(f, d, sizes_in[d], sizes_out[d]) for d in range(n)]
        interior = [inside for _, _, inside in picks]
        positions = list(zip(*((lo, hi) for lo, hi, _ in picks)))
        for pos in positions:
            at = y[(..., *pos)]  # summed over channels with positive weights, not all equal
            w = torch.rand(at.shape, generator=g, dtype=at.dtype) + 0.5  # (a centring cancels)
            (grad,) = torch.autograd.grad((at * w).sum(), x, retain_graph=True)
            measured, expected = [], []
            for d in range(n):
                axis = x.dim() - n + d
                mass = grad.abs().sum(dim=[j for j in range(x.dim()) if j != axis])
                nz = torch.nonzero(mass).flatten().tolist()
                measured.append((nz[0], nz[-1]) if nz else None)
                centre = f.start[d] + pos[d] * f.jump[d]
                lo, hi = centre - (f.size[d] - 1) / 2, centre + (f.size[d] - 1) / 2
                lo, hi = max(int(math.ceil(lo)), 0), min(int(math.floor(hi)), sizes_in[d] - 1)
                expected.append((lo, hi) if lo <= hi else None)
            results.append((layer.name, pos, expected, measured, interior))
    return results
