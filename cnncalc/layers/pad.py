"""ZeroPad, ConstantPad, ReflectionPad and ReplicationPad, in 1, 2 and 3 dims."""

from __future__ import annotations

from .base import REQUIRED, Kind, LayerError, Out, dims, number, register, schema


def padding_reader(n: int, lo: int | None):
    one = {"type": "integer"} if lo is None else {"type": "integer", "minimum": lo}

    @schema({"anyOf": [one, {"type": "array", "items": one, "minItems": 2 * n, "maxItems": 2 * n}]})
    def read(v, key):
        items = [v] * (2 * n) if isinstance(v, int) and not isinstance(v, bool) else v
        if (
            not isinstance(items, list)
            or len(items) != 2 * n
            or not all(
                isinstance(p, int) and not isinstance(p, bool) and (lo is None or p >= lo)
                for p in items
            )
        ):
            kind = "an integer" if lo is None else "a non-negative integer"
            raise LayerError(
                f"{key} must be {kind} or a list of {2 * n} of them (left, right, top, "
                f"bottom, ...), found {v!r}",
                key,
            )
        return tuple(items)

    return read


class Pad(Kind):
    @property
    def autocast(self):  # reflection (1-D, 2-D) and replication pads run in float32 under autocast
        mode = self.type[: -len("Pad1d")]
        return "fp32" if mode == "Replication" or (mode == "Reflection" and self.n < 3) else ""

    def infer(self, a, x):
        n, p = self.n, a["padding"]
        if self.ndims and len(x) not in self.ndims:
            raise LayerError(
                f"expects a {n + 1}-D or {n + 2}-D input, but the incoming tensor "
                f"{dims(x)} is {len(x)}-D"
            )
        if len(x) < n:
            raise LayerError(
                f"pads the last {n} dims, but the incoming tensor {dims(x)} is {len(x)}-D"
            )
        pairs = [(p[2 * j], p[2 * j + 1]) for j in range(n)][
            ::-1
        ]  # (left, right) per dim, first dim first
        out = list(x)
        for j, (pl, pr) in enumerate(pairs):
            d = len(x) - n + j
            if self.mode == "reflect" and (pl >= x[d] or pr >= x[d]):
                raise LayerError(
                    f"reflection padding ({pl}, {pr}) must be smaller than dim {d} of the "
                    f"incoming tensor {dims(x)}",
                    "padding",
                )
            out[d] = x[d] + pl + pr
            if out[d] < 1:
                raise LayerError(
                    f"padding ({pl}, {pr}) leaves dim {d} of the incoming tensor {dims(x)} "
                    f"with size {out[d]}",
                    "padding",
                )
        return Out(shape=tuple(out), rf=[(1, 1, pl) for pl, _ in pairs])

    def saves(self, a, xs, out, grads):
        return [] if self.mode == "constant" else [("in", 0)]

    def explain(self, a, x, out):
        n, p = self.n, a["padding"]
        pairs = [(p[2 * j], p[2 * j + 1]) for j in range(n)][::-1]
        how = {
            "constant": "zeros" if "Zero" in self.type else f"the value {a.get('value')}",
            "reflect": "mirrored values",
            "replicate": "copies of the edge",
        }
        lines = [
            f"dim {len(x) - n + j}: {x[len(x) - n + j]} + {pl} + {pr} = {out[len(x) - n + j]}"
            for j, (pl, pr) in enumerate(pairs)
        ]
        return lines + [
            f"padding (left, right per dim, the last dim first) is filled with {how[self.mode]}"
        ]


for _n in (1, 2, 3):
    register(
        Pad(
            f"ZeroPad{_n}d",
            {"padding": (padding_reader(_n, None), REQUIRED)},
            n=_n,
            mode="constant",
            ndims=(),
        ),
        Pad(
            f"ConstantPad{_n}d",
            {"padding": (padding_reader(_n, None), REQUIRED), "value": (number(), REQUIRED)},
            n=_n,
            mode="constant",
            ndims=(),
        ),
        Pad(
            f"ReflectionPad{_n}d",
            {"padding": (padding_reader(_n, None), REQUIRED)},
            n=_n,
            mode="reflect",
            ndims=(_n + 1, _n + 2),
        ),
        Pad(
            f"ReplicationPad{_n}d",
            {"padding": (padding_reader(_n, None), REQUIRED)},
            n=_n,
            mode="replicate",
            ndims=(_n + 1, _n + 2),
        ),
    )
