"""Unfold and Fold: sliding blocks of a 2-D image as columns (im2col) and back; no MACs (torch
copies the windows, FlopCounterMode counts no product). TensorUnfold: ``x.unfold(dimension,
size, step)``, the windows along one dim as a view (HaloNet's key-value blocks)."""

from __future__ import annotations

from .base import REQUIRED, Kind, LayerError, Out, dims, integer, ints, norm_dim, prod, register
from .views import Strided

_TWO = ("H", "W")


def _blocks(a, sp) -> list[int]:
    """The number of windows along each spatial dim: ⌊(size + 2p − d·(k − 1) − 1) / s⌋ + 1."""
    out = []
    for name, i, k, d, p, s in zip(
        _TWO, sp, a["kernel_size"], a["dilation"], a["padding"], a["stride"]
    ):
        n = (i + 2 * p - d * (k - 1) - 1) // s + 1
        if n < 1:
            raise LayerError(
                f"no window of effective size {d * (k - 1) + 1} fits in {name} = {i}"
                + (f" + {2 * p} padding" if p else ""),
                "kernel_size",
            )
        out.append(n)
    return out


class Unfold(Kind):
    def infer(self, a, x):
        if len(x) not in (3, 4):
            raise LayerError(
                f"expects a 3-D (unbatched) or 4-D input, but the incoming tensor {dims(x)} is "
                f"{len(x)}-D"
            )
        c, sp = x[-3], x[-2:]
        blocks = _blocks(a, sp)
        return Out(shape=(*x[:-3], c * prod(a["kernel_size"]), prod(blocks)), rf=None)

    def explain(self, a, x, out):
        return [
            f"each {list(a['kernel_size'])} window of the {x[-3]} channels becomes a column of "
            f"{out[-2]} values; {out[-1]} windows"
        ]

    def module(self, kwargs):
        return "Unfold", kwargs


class Fold(Kind):
    def infer(self, a, x):
        if len(x) not in (2, 3):
            raise LayerError(
                f"expects a 2-D (unbatched) or 3-D input, but the incoming tensor {dims(x)} is "
                f"{len(x)}-D"
            )
        kk = prod(a["kernel_size"])
        if x[-2] % kk:
            raise LayerError(
                f"dim {len(x) - 2} of the incoming tensor {dims(x)} ({x[-2]}) must be divisible "
                f"by the kernel's {kk} positions",
                "kernel_size",
            )
        blocks = prod(_blocks(a, a["output_size"]))
        if x[-1] != blocks:
            raise LayerError(
                f"the incoming tensor {dims(x)} has {x[-1]} blocks, but output_size "
                f"{list(a['output_size'])} with these windows makes {blocks}",
                "output_size",
            )
        return Out(shape=(*x[:-2], x[-2] // kk, *a["output_size"]), rf=None)

    def module(self, kwargs):
        return "Fold", kwargs


_WINDOW = {
    "kernel_size": (ints(2), REQUIRED),
    "dilation": (ints(2), 1),
    "padding": (ints(2, lo=0), 0),
    "stride": (ints(2), 1),
}
register(
    Unfold("Unfold", dict(_WINDOW)),
    Fold("Fold", {"output_size": (ints(2), REQUIRED), **_WINDOW}),
)


class TensorUnfold(Strided):
    """``x.unfold(dimension, size, step)``: dim ``dimension`` becomes ⌊(n − size) / step⌋ + 1
    windows, a new last dim of ``size`` their elements; a view (no copy, no MACs)."""

    def infer(self, a, x):
        if not x:
            raise LayerError("a 0-D tensor has no dim to unfold", "dimension")
        d = norm_dim(a["dimension"], len(x), "dimension")
        if a["size"] > x[d]:
            raise LayerError(
                f"a window of size {a['size']} does not fit in dim {d} of size {x[d]}", "size"
            )
        n = (x[d] - a["size"]) // a["step"] + 1
        return Out(shape=(*x[:d], n, *x[d + 1 :], a["size"]), rf=None)

    def layout(self, a, x, stride, out):
        d = a["dimension"] % len(x)
        return (*stride[:d], stride[d] * a["step"], *stride[d + 1 :], stride[d])

    def explain(self, a, x, out):
        d = a["dimension"] % len(x)
        return [
            f"dim {d}: {out[d]} windows of {a['size']}, {a['step']} apart, as a view: "
            f"{dims(x)} -> {dims(out)}"
        ]


register(
    TensorUnfold(
        "TensorUnfold",
        {
            "dimension": (integer(None), REQUIRED),
            "size": (integer(), REQUIRED),  # 0 would give an empty window
            "step": (integer(), REQUIRED),
        },
    )
)
