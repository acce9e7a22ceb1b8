"""Picking and sampling: the k largest values and their indices (``torch.topk``), ``torch.gather``
and bilinear or nearest sampling at a grid of points (``F.grid_sample``): no parameters, no MACs
(FlopCounterMode counts no product in any of them)."""

from __future__ import annotations

from .base import REQUIRED, Kind, LayerError, Out, choice, dims, flag, integer, norm_dim, register


class TopK(Kind):
    """``torch.topk(x, k, dim)``: two outputs, the values (``:0``) and their int64 indices
    (``:1``), each the input's shape with ``k`` along ``dim``. With ``at_most``, ``k`` is a bound:
    ``min(k, n)`` of the ``n`` values along ``dim`` (a forward's ``min(k, x.shape[dim])``)."""

    def infer(self, a, x):
        d = norm_dim(a["dim"], len(x), "dim")
        n = x[d] if x else 1
        if a["at_most"]:
            a = {**a, "k": min(a["k"], n)}
        if a["k"] > n:
            raise LayerError(
                f"k ({a['k']}) is more than the {n} values along dim {a['dim']} of {dims(x)}", "k"
            )
        shape = (*x[:d], a["k"], *x[d + 1 :]) if x else ()
        return Out(shape=shape, outputs=[shape, shape], mixes_dim=d if x else None)

    def saves(self, a, xs, out, grads):
        return [("new", out, "int64")]  # the indices, for the backward's scatter

    def explain(self, a, x, out):
        which = "largest" if a["largest"] else "smallest"
        k = out[norm_dim(a["dim"], len(x), "dim")] if x else a["k"]
        bound = f" (k = min({a['k']:,}, {x[a['dim']]:,}))" if a["at_most"] and x else ""
        return [
            f"the {k:,} {which} values{bound} along dim {a['dim']} and their indices: "
            f"{dims(x)} -> 2 x {dims(out)}; no MACs"
        ]

    def module(self, kwargs):
        return "TopK", kwargs


class Gather(Kind):
    """``torch.gather(x, dim, index)``: ``from: [x, index]``; the output has the index's shape."""

    inputs = (2, 2)

    def infer(self, a, xs, names=()):
        x, index = xs
        d = norm_dim(a["dim"], len(x), "dim")
        if len(index) != len(x):
            raise LayerError(
                f"the index {dims(index)} must have as many dims as the input {dims(x)}", "from"
            )
        for i, (s, t) in enumerate(zip(x, index)):
            if i != d and t > s:
                raise LayerError(
                    f"the index {dims(index)} is larger than the input {dims(x)} in dim {i} "
                    f"(only dim {d}, the gathered one, may differ)",
                    "from",
                )
        return Out(shape=tuple(index), mixes_dim=d)

    def saves(self, a, xs, out, grads):
        return [("in", 1)]  # the index, for the backward's scatter-add

    def explain(self, a, xs, out):
        x, index = xs
        return [f"picks {dims(index)} values of {dims(x)} along dim {a['dim']}; no MACs"]

    def module(self, kwargs):
        return "Gather", kwargs


class GridSample(Kind):
    """``F.grid_sample(x, grid)``: ``from: [x, grid]``; x (N, C, H, W) sampled at grid
    (N, Ho, Wo, 2) gives (N, C, Ho, Wo) (and in 3-D likewise)."""

    inputs = (2, 2)

    def infer(self, a, xs, names=()):
        x, grid = xs
        if len(x) not in (4, 5):
            raise LayerError(f"the input must be 4-D or 5-D (N, C, ...), found {dims(x)}", "from")
        n = len(x) - 2
        if len(grid) != len(x) or grid[-1] != n or grid[0] != x[0]:
            want = f"({x[0]}, {', '.join(['*'] * n)}, {n})"
            raise LayerError(
                f"the grid must be {want} for the input {dims(x)}, found {dims(grid)}", "from"
            )
        if a["mode"] == "bicubic" and n == 3:
            raise LayerError("mode bicubic samples only 4-D inputs", "mode")
        return Out(shape=(x[0], x[1], *grid[1:-1]))

    def saves(self, a, xs, out, grads):
        return [("in", 0), ("in", 1)]

    def explain(self, a, xs, out):
        x, grid = xs
        pts = dims(grid[1:-1])
        return [f"{a['mode']} samples of {dims(x)} at the {pts} grid points: {dims(out)}; no MACs"]

    def module(self, kwargs):
        return "GridSample", kwargs


register(
    TopK(
        "TopK",
        {
            "k": (integer(1), REQUIRED),
            "dim": (integer(None), -1),
            "largest": (flag, True),
            "sorted": (flag, True),
            "at_most": (flag, False),
        },
    ),
    Gather("Gather", {"dim": (integer(None), REQUIRED)}),
    GridSample(
        "GridSample",
        {
            "mode": (choice("bilinear", "nearest", "bicubic"), "bilinear"),
            "padding_mode": (choice("zeros", "border", "reflection"), "zeros"),
            "align_corners": (flag, False),
        },
    ),
)
