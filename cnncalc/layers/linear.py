"""Linear: y = x·Wᵀ + b on the last dimension."""

from __future__ import annotations

from .base import (
    INFER,
    REQUIRED,
    Kind,
    LayerError,
    Out,
    check_size,
    dims,
    flag,
    integer,
    optional,
    prod,
    register,
)


class Linear(Kind):
    autocast = "low"
    weight_for_input_grad = True  # addmm keeps weight.t() for the input's gradient alone
    size_keys = ("in_features",)

    def infer(self, a, x):
        if not x:
            raise LayerError(
                "expects an input of at least 1 dim, but the incoming tensor is a scalar"
            )
        given, last = a["in_features"], x[-1]
        if given is not None and given != last and len(x) > 2 and prod(x[1:]) == given:
            raise LayerError(
                f"in_features is {given}, but the incoming tensor {dims(x)} has {last} "
                "features in its last dim; "
                f"add a Flatten before this layer ({' × '.join(map(str, x[1:]))} = {given})",
                "in_features",
            )
        fin = check_size(a, "in_features", last, "features", x)
        fout = a["out_features"]
        params = [("weight", (fout, fin))] + ([("bias", (fout,))] if a["bias"] else [])
        # macs = ∏(all dims but the last) · in_features · out_features
        return Out(shape=(*x[:-1], fout), params=params, macs=prod(x[:-1]) * fin * fout)

    def saves(self, a, xs, out, grads):
        return [("in", 0)]  # for the weight's gradient (a 2-D view of it)

    def backward(self, a, xs, out, grads):
        # on more than 2 dims torch runs it on a 2-D view: the gradient is viewed so first
        first = [("viewgrad", (prod(out[:-1]), out[-1]))] if len(out) > 2 else []
        return [*first, *[("grad", 0)] * grads[0], ("params",)]

    def explain(self, a, x, out):
        rows = prod(x[:-1])
        return [
            f"acts on the last dim: {x[-1]} features -> {a['out_features']}; the other "
            f"dims {list(x[:-1])} stay",
            f"MACs: {rows} row(s) · {a['in_features']} in · {a['out_features']} out = "
            f"{rows * a['in_features'] * a['out_features']:,}",
        ]


register(
    Linear(
        "Linear",
        {
            "in_features": (optional(integer()), INFER),
            "out_features": (integer(), REQUIRED),
            "bias": (flag, True),
        },
    )
)
