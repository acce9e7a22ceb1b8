"""Pointwise: torch's element-wise functions that torch.nn has no module for (``torch.exp``,
``x.pow(2)``, ``x.clamp(min=0)``, ...): the shape stays, no parameters, no MACs (FlopCounterMode
counts no product in them)."""

from __future__ import annotations

from .base import REQUIRED, Kind, LayerError, Out, choice, dims, number, optional, register

OPS = ("exp", "log", "abs", "sqrt", "rsqrt", "neg", "sin", "cos", "square", "reciprocal")
OPS += ("sign", "floor", "ceil", "round", "pow", "clamp", "log1p", "expm1", "erf")


class Pointwise(Kind):
    pointwise = True
    keeps_layout = True

    def infer(self, a, x):
        if a["op"] == "pow" and a["exponent"] is None:
            raise LayerError("op pow needs its exponent", "exponent")
        if a["op"] == "clamp" and a["min"] is None and a["max"] is None:
            raise LayerError("op clamp needs a min or a max", "min")
        if a["op"] not in ("pow", "clamp") and any(a[k] is not None for k in ("exponent", "min")):
            raise LayerError(f"op {a['op']} takes no exponent, min or max", "op")
        return Out(shape=x, rf="same")

    def explain(self, a, x, out):
        return [f"torch.{a['op']} on each value: the shape {dims(x)} stays; no MACs"]

    def module(self, kwargs):
        return "Pointwise", kwargs


register(
    Pointwise(
        "Pointwise",
        {
            "op": (choice(*OPS), REQUIRED),
            "exponent": (optional(number()), None),
            "min": (optional(number()), None),
            "max": (optional(number()), None),
        },
    )
)
