"""Layers that keep the shape: activations, dropout, StochasticDepth, Identity, PReLU, Softmax."""

from __future__ import annotations

from .base import (
    REQUIRED,
    Kind,
    LayerError,
    Out,
    choice,
    dims,
    integer,
    norm_dim,
    number,
    optional,
    register,
)


class Elementwise(Kind):
    """Same shape out as in; no tensors; the receptive field passes through.

    ``keeps`` is what its backward needs: "in", "out" or "" (nothing)."""

    pointwise = True
    keeps_layout = True

    keeps = ""

    def saves(self, a, xs, out, grads):
        return {"in": [("in", 0)], "out": [("out",)], "": []}[self.keeps]

    def infer(self, a, x):
        if self.ndims and len(x) not in self.ndims:
            want = " or ".join(f"{d}-D" for d in self.ndims)
            raise LayerError(
                f"expects a {want} input, but the incoming tensor {dims(x)} is {len(x)}-D"
            )
        if "max_val" in a and a["max_val"] <= a["min_val"]:  # Hardtanh
            raise LayerError(
                f"max_val ({a['max_val']}) must be greater than min_val ({a['min_val']})", "max_val"
            )
        return Out(shape=x, rf="same")


def elementwise(type_: str, args: dict | None = None, ndims=(), keeps: str = "in") -> Kind:
    return Elementwise(type_, args or {}, ndims=ndims, keeps=keeps)


class Dropout(Elementwise):
    """Training mode: multiplies by a fresh noise tensor (per element, or per channel for
    Dropout1d/2d/3d)."""

    def shares_input(self, a):
        return a["p"] == 0  # torch returns the input itself

    def saves(self, a, xs, out, grads):
        x, p = xs[0], a["p"]
        if p == 0:
            return []
        if p == 1:
            return [("new", (), "act")]
        if self.type == "Dropout":
            return [("new", x, "act")]
        # torch adds a batch dim for Dropout1d on 2-D and Dropout3d on anything but 5-D; Dropout2d
        # never
        unbatched = (self.type == "Dropout1d" and len(x) == 2) or (
            self.type == "Dropout3d" and len(x) != 5
        )
        b = (1, *x[:1]) if unbatched else x[:2]
        return [("new", (*b, *(1,) * (len(x) + unbatched - 2)), "act")]


class StochasticDepth(Elementwise):
    """torchvision.ops.StochasticDepth: identity in eval; in training, each sample (``row``) or the
    whole
    batch (``batch``) is dropped with probability p and the rest scaled by 1/(1 − p)."""

    def shares_input(self, a):
        return a["p"] == 0

    def saves(self, a, xs, out, grads):
        x = xs[0]
        if a["p"] == 0:
            return []
        size = (x[0], *(1,) * (len(x) - 1)) if a["mode"] == "row" else (1,) * len(x)
        return [("new", size, "act")]

    def explain(self, a, x, out):
        unit = "sample" if a["mode"] == "row" else "batch"
        return [
            f"keeps the shape {dims(x)}: identity in eval; in training each {unit} "
            f"survives with probability {1 - a['p']:g}"
        ]


class PReLU(Kind):
    autocast = "low"
    pointwise = True

    def saves(self, a, xs, out, grads):
        return [("in", 0)]

    def backward(self, a, xs, out, grads):
        # one kernel makes the input's gradient (needed or not) and the weight's at the input's
        # shape, then summed to the weight's
        x = xs[0]
        first = [("grad", 0)] if grads[0] else [("tmp", x, "act")]
        return [*first, ("tmp", x, "act"), *([] if grads[0] else [("free",)]), ("params",)]

    def infer(self, a, x):
        m = a["num_parameters"]
        c = x[1] if len(x) > 1 else 1
        if m != 1 and m != c:
            raise LayerError(
                f"num_parameters is {m}, but the incoming tensor {dims(x)} has {c} channels",
                "num_parameters",
            )
        return Out(shape=x, params=[("weight", (m,))], rf="same")


class Softmax(Kind):
    pointwise = True

    def infer(self, a, x):
        d = a["dim"]
        # torch's implicit dim: 0 for 0-, 1- and 3-D inputs, else 1
        d = (0 if len(x) in (0, 1, 3) else 1) if d is None else norm_dim(d, len(x), "dim")
        a["dim"] = a["dim"] if a["dim"] is not None else d
        return Out(shape=x, rf="same", mixes_dim=d)

    def saves(self, a, xs, out, grads):
        return [("out",)]


class Identity(Kind):
    pointwise = True
    any_args = True  # torch's Identity takes and ignores any argument
    view = True
    keeps_layout = True

    def infer(self, a, x):
        return Out(shape=x, rf="same")

    def module(self, kwargs):
        return "Identity", {}


_P = {"p": (number(0.0, 1.0), 0.5)}
_ALPHA = {"alpha": (number(), 1.0)}

register(
    *(elementwise(t, keeps="out") for t in ("ReLU", "Sigmoid", "Tanh")),
    *(elementwise(t) for t in ("ReLU6", "SELU", "SiLU", "Mish", "Hardswish", "Hardsigmoid")),
    elementwise("LeakyReLU", {"negative_slope": (number(), 0.01)}),
    elementwise("ELU", _ALPHA),
    elementwise("CELU", _ALPHA),
    elementwise("GELU", {"approximate": (choice("none", "tanh"), "none")}),
    elementwise("Hardtanh", {"min_val": (number(), -1.0), "max_val": (number(), 1.0)}),
    elementwise("Softplus", {"beta": (number(), 1.0), "threshold": (number(), 20.0)}),
    Dropout("Dropout", _P, ndims=()),
    Dropout("Dropout1d", _P, ndims=(2, 3)),
    Dropout("Dropout2d", _P, ndims=()),
    Dropout("Dropout3d", _P, ndims=()),
    StochasticDepth(
        "StochasticDepth",
        {"p": (number(0.0, 1.0), REQUIRED), "mode": (choice("row", "batch"), REQUIRED)},
        ndims=(),
    ),
    PReLU("PReLU", {"num_parameters": (integer(), 1), "init": (number(), 0.25)}),
    Softmax("Softmax", {"dim": (optional(integer(None)), None)}),
    Softmax("LogSoftmax", {"dim": (optional(integer(None)), None)}),
    Identity("Identity", {}),
)
