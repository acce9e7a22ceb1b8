"""MaxPool, AvgPool and the adaptive pools, in 1, 2 and 3 dims."""

from __future__ import annotations

from .base import (
    REQUIRED,
    Kind,
    LayerError,
    Out,
    flag,
    int_list,
    integer,
    ints,
    optional,
    register,
    schema,
    spatial_input,
)
from .conv import SPATIAL, gaps, unread


def pool_out(i: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    """out = ⌊(i + 2p − d·(k − 1) − 1 [+ s − 1 with ceil_mode]) / s⌋ + 1;
    with ceil_mode the last window must start inside the input or the left padding."""
    o = (i + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
    if ceil and (o - 1) * s >= i + p:
        o -= 1
    return o


def _indices(a: dict, out: Out) -> Out:
    """With ``return_indices`` the layer has two outputs: the pooled tensor and its argmax
    indices (int64, the same shape), which MaxUnpool takes."""
    if a.get("return_indices"):
        out.outputs = [out.shape, out.shape]
    return out


class Pool(Kind):
    @property
    def autocast(self):  # torch's autocast runs the 3-D pools in float32 (measured: torch 2.13)
        return "fp32" if self.n == 3 else ""

    def infer(self, a, x):
        n = self.n
        batch, c, sp = spatial_input(x, n)
        k, p = a["kernel_size"], a["padding"]
        s = a["stride"] or k
        d = a.get("dilation", (1,) * n)
        out = []
        for name, i, kk, ss, pp, dd in zip(SPATIAL[n], sp, k, s, p, d):
            if pp > kk // 2:
                raise LayerError(
                    f"padding {pp} is more than half the kernel size {kk} (torch allows at "
                    f"most {kk // 2})",
                    "padding",
                )
            if (
                self.type == "AvgPool3d" and i < kk
            ):  # torch checks this for 3-D average pooling only
                raise LayerError(
                    f"input {name} is {i}, smaller than the kernel size {kk} (AvgPool3d "
                    "checks it before padding)",
                    "kernel_size",
                )
            o = pool_out(i, kk, ss, pp, dd, a["ceil_mode"])
            if o < 1:
                keff = dd * (kk - 1) + 1
                raise LayerError(
                    f"window of effective size {keff} does not fit: input {name} is {i}"
                    + (f" + {2 * pp} padding = {i + 2 * pp}" if pp else "")
                    + f", smaller than {keff}",
                    "kernel_size",
                )
            out.append(o)
        return _indices(
            a,
            Out(
                shape=(*batch, c, *out),
                rf=[(dd * (kk - 1) + 1, ss, pp) for kk, ss, pp, dd in zip(k, s, p, d)],
                unread=[
                    unread(i, o, kk, ss, pp, dd)
                    for i, o, kk, ss, pp, dd in zip(sp, out, k, s, p, d)
                ],
            ),
        )

    def saves(self, a, xs, out, grads):
        if self.type.startswith("Max"):
            return [("in", 0), ("new", out, "int64")]  # the input and the argmax indices
        return [("in", 0)]

    def explain(self, a, x, out):
        batch, c, sp = spatial_input(x, self.n)
        k, p = a["kernel_size"], a["padding"]
        s = a["stride"] or k
        d = a.get("dilation", (1,) * self.n)
        lines = []
        if a["stride"] is None:
            lines.append(
                f"stride defaults to kernel_size {list(k)}: the windows sit side by side "
                "without overlapping"
            )
        ceil = a["ceil_mode"]
        for name, i, o, kk, ss, pp, dd in zip(SPATIAL[self.n], sp, out[-self.n :], k, s, p, d):
            if ceil:
                lines.append(
                    f"{name}: out = ⌈({i} + 2·{pp} − {dd}·({kk} − 1) − 1) / {ss}⌉ + 1 = "
                    f"{o} (ceil_mode; the last window must start inside the input or the "
                    "left padding)"
                )
            else:
                lines.append(
                    f"{name}: out = ⌊({i} + 2·{pp} − {dd}·({kk} − 1) − 1) / {ss}⌋ + 1 = {o}"
                )
        lines += gaps(SPATIAL[self.n], k, s, d)
        lines.append(f"channels stay {c}: a pool works on each channel alone")
        return lines


class Unpool(Kind):
    """MaxUnpool: ``from: [pooled, indices]`` (a MaxPool's two outputs with return_indices);
    out = (in − 1)·stride − 2·padding + kernel, or the forward's ``output_size`` (within a stride
    of that, as torch checks)."""

    inputs = (2, 2)

    def infer(self, a, xs, names=()):
        x, idx = xs
        if tuple(idx) != tuple(x):
            raise LayerError(
                f"the indices {list(idx)} must have the shape of the input {list(x)}", "from"
            )
        batch, c, sp = spatial_input(x, self.n)
        k, p = a["kernel_size"], a["padding"]
        s = a["stride"] or k
        default = [(i - 1) * ss - 2 * pp + kk for i, kk, ss, pp in zip(sp, k, s, p)]
        want = a["output_size"]
        if want is not None:
            want = list(want[-self.n :])
            if len(want) != self.n:
                raise LayerError(f"output_size must give {self.n} sizes", "output_size")
            for o, d, ss in zip(want, default, s):
                if not d - ss < o < d + ss:
                    raise LayerError(
                        f"output_size {o} must be within ({d - ss}, {d + ss}), a stride of {d}",
                        "output_size",
                    )
        out = want or default
        if any(o < 1 for o in out):
            raise LayerError(f"the output {out} would be empty", "kernel_size")
        return Out(shape=(*batch, c, *out), rf=None)

    def module(self, kwargs):
        return "Unpool", {**kwargs, "n": self.n}


class AdaptivePool(Kind):
    @property
    def autocast(self):  # as the 3-D pools
        return "fp32" if self.n == 3 else ""

    def infer(self, a, x):
        batch, c, sp = spatial_input(x, self.n)
        want = a["output_size"]
        shape = (*batch, c, *(i if o is None else o for i, o in zip(sp, want)))
        return _indices(a, Out(shape=shape, rf=None))

    def saves(self, a, xs, out, grads):
        if self.type.startswith("AdaptiveMax"):
            return [("in", 0), ("new", out, "int64")]
        if all(o == 1 for o in out[-self.n :]):
            return []  # torch takes the mean, whose backward needs no tensor
        return [("in", 0)]

    def explain(self, a, x, out):
        return [
            f"output_size {list(a['output_size'])}: the spatial size becomes "
            f"{list(out[-self.n :])} whatever the input; windows adapt to fit"
        ]


def output_size(n: int):
    one = {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]}

    @schema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1},
                {"type": "array", "items": one, "minItems": n, "maxItems": n},
            ]
        }
    )
    def read(v, key):
        items = [v] * n if not isinstance(v, list) else v
        if len(items) != n or not all(
            o is None or (isinstance(o, int) and not isinstance(o, bool) and o > 0) for o in items
        ):
            raise LayerError(
                f"{key} must be a positive integer or a list of {n} positive integers (or "
                f"nulls to keep a size), found {v!r}",
                key,
            )
        return tuple(items)

    return read


def _pools(n: int):
    common = {
        "kernel_size": (ints(n), REQUIRED),
        "stride": (optional(ints(n)), None),
        "padding": (ints(n, lo=0), 0),
    }
    maxpool = Pool(
        f"MaxPool{n}d",
        {
            **common,
            "dilation": (ints(n), 1),
            "return_indices": (flag, False),
            "ceil_mode": (flag, False),
        },
        n=n,
    )
    avg_args = {**common, "ceil_mode": (flag, False), "count_include_pad": (flag, True)}
    if n > 1:
        avg_args["divisor_override"] = (optional(integer()), None)
    avgpool = Pool(f"AvgPool{n}d", avg_args, n=n)
    adaptive_avg = AdaptivePool(
        f"AdaptiveAvgPool{n}d", {"output_size": (output_size(n), REQUIRED)}, n=n
    )
    adaptive_max = AdaptivePool(
        f"AdaptiveMaxPool{n}d",
        {"output_size": (output_size(n), REQUIRED), "return_indices": (flag, False)},
        n=n,
    )
    unpool = Unpool(
        f"MaxUnpool{n}d",
        {
            "kernel_size": (ints(n), REQUIRED),
            "stride": (optional(ints(n)), None),
            "padding": (ints(n, lo=0), 0),
            "output_size": (optional(int_list), None),
        },
        n=n,
    )
    return maxpool, avgpool, adaptive_avg, adaptive_max, unpool


for _n in (1, 2, 3):
    register(*_pools(_n))
