"""Reductions over dims: Mean, Sum, Amax and Norm (``x.mean((2, 3))`` is global average pooling)."""

from __future__ import annotations

from .base import (
    Kind,
    LayerError,
    Out,
    contiguous,
    dim_list,
    dims,
    flag,
    norm_dim,
    number,
    optional,
    prod,
    register,
)


class Reduce(Kind):
    def reduced(self, a, x) -> list[int]:
        if a["dim"] is None or not a["dim"]:
            return list(range(len(x)))  # every dim (torch: dim=None or an empty list)
        ds = [norm_dim(d, len(x), "dim") for d in a["dim"]]
        if len(set(ds)) != len(ds):
            raise LayerError(f"dim {list(a['dim'])} names a dim twice", "dim")
        return ds

    def infer(self, a, x):
        ds = self.reduced(a, x)
        if self.type == "Amax" and any(x[d] == 0 for d in ds):
            raise LayerError("cannot take the maximum over an empty dim", "dim")
        if a["keepdim"]:
            shape = tuple(1 if i in ds else s for i, s in enumerate(x))
        else:
            shape = tuple(s for i, s in enumerate(x) if i not in ds)
        n = len(x)
        spatial = [d for d in ds if d >= 2]
        rf = None if spatial else "same"
        return Out(
            shape=shape,
            rf=rf if a["keepdim"] or not ds else None,
            mixes_dim=min(ds) if ds and n else None,
        )

    def saves(self, a, xs, out, grads):
        return [("in", 0), ("out",)] if self.type in ("Amax", "Norm") else []

    def backward(self, a, xs, out, grads):
        # a sum's gradient is the incoming one expanded back (a view); the others compute one
        if not grads[0]:
            return []
        if self.type == "Sum":
            return [("expand", 0)]
        x = xs[0]
        if self.type == "Norm" and a.get("p", 2) == 1:  # sign(x) · g
            return [("tmp", x, "act"), ("grad", 0)]
        if self.type == "Norm":  # x · (g / norm), where the norm is not 0
            return [("tmp", x, "act"), ("tmp", out, "bool"), ("grad", 0)]
        if self.type == "Amax":  # the gradient shared among the maxima: x == max, their count
            return [("tmp", x, "bool"), ("tmp", out, "int64"), ("tmp", out, "act"), ("grad", 0)]
        return [("grad", 0)]

    def grad_layout(self, a, xs, out, k, strides):  # expanded: the reduced dims' strides are 0
        ds = self.reduced(a, xs[k])
        s = list(strides or contiguous(out))
        if not a["keepdim"]:
            for d in sorted(ds):
                s.insert(d, 0)
        return tuple(0 if i in ds else v for i, v in enumerate(s))

    def explain(self, a, x, out):
        ds = self.reduced(a, x)
        what = {
            "Mean": "the mean",
            "Sum": "the sum",
            "Amax": "the maximum",
            "Norm": f"the {a.get('p', 2)}-norm",
        }[self.type]
        over = " × ".join(str(x[d]) for d in ds) or "1"
        kept = "kept as size 1" if a["keepdim"] else "removed"
        return [
            f"{what} over dims {ds} ({over} = {prod(x[d] for d in ds):,} values each); "
            f"those dims are {kept}: {dims(out)}"
        ]

    def module(self, kwargs):
        if self.type == "Norm":
            return "Norm", {"p": kwargs["p"], "dim": kwargs["dim"], "keepdim": kwargs["keepdim"]}
        return "Reduce", {
            "op": self.type.lower(),
            "dim": kwargs["dim"],
            "keepdim": kwargs["keepdim"],
        }


_ARGS = {"dim": (optional(dim_list), None), "keepdim": (flag, False)}
register(
    Reduce("Mean", dict(_ARGS)),
    Reduce("Sum", dict(_ARGS)),
    Reduce("Amax", dict(_ARGS)),
    Reduce("Norm", {"p": (number(0.0, lo_open=True), 2.0), **_ARGS}),
)
