"""Conv1d/2d/3d and ConvTranspose1d/2d/3d."""

from __future__ import annotations

from .base import (
    INFER,
    REQUIRED,
    Kind,
    LayerError,
    Out,
    check_size,
    choice,
    flag,
    integer,
    ints,
    number,
    optional,
    prod,
    register,
    schema,
    spatial_input,
    times,
)

SPATIAL = {1: "L", 2: "HW", 3: "DHW"}


def conv_out(i: int, k: int, s: int, pl: int, pr: int, d: int) -> int:
    """out = ⌊(i + pl + pr − d·(k − 1) − 1) / s⌋ + 1"""
    return (i + pl + pr - d * (k - 1) - 1) // s + 1


def unread(i: int, o: int, k: int, s: int, pl: int, d: int) -> int:
    """Input positions after the last window, u = pl + i − ((o − 1)·s + d·(k − 1) + 1), counted as
    lost only when
    u > max(0, s − k_eff): a stride larger than the window skips s − k_eff positions between any two
    windows
    by design (a 1×1 stride-2 downsample reads every other row), and that gap at the end is no
    rounding loss."""
    u = max(0, pl + i - ((o - 1) * s + d * (k - 1) + 1))
    return u if u > max(0, s - (d * (k - 1) + 1)) else 0


def gaps(names, k, s, d) -> list[str]:
    """``explain`` lines for dims whose stride is larger than the window: the positions it skips
    by design."""
    out = []
    for name, kk, ss, dd in zip(names, k, s, d):
        keff = dd * (kk - 1) + 1
        if ss > keff:
            out.append(
                f"{name}: stride {ss} > window {keff}: {ss - keff} input position(s) "
                "between neighbouring windows are never read"
                " (by design, as in a strided 1×1 downsample)"
            )
    return out


def padding_reader(n: int):
    lists = ints(n, lo=0)

    @schema({"anyOf": [lists.schema, {"enum": ["same", "valid"]}]})
    def read(v, key):
        if v in ("same", "valid"):
            return v
        try:
            return lists(v, key)
        except LayerError:
            raise LayerError(
                f"{key} must be a non-negative integer, a list of {n} of them, 'same' or "
                f"'valid', found {v!r}",
                key,
            ) from None

    return read


def check_groups(a: dict) -> int:
    g = a["groups"]
    for key in ("in_channels", "out_channels"):
        if a[key] % g:
            raise LayerError(f"{key} ({a[key]}) must be divisible by groups ({g})", "groups")
    return g


def channels(a: dict, x, n: int):
    """(batch dims, spatial sizes, groups) of a conv's input, in_channels inferred or checked."""
    batch, c, sp = spatial_input(x, n)
    check_size(a, "in_channels", c, "channels", x)
    return batch, sp, check_groups(a)


def pads(a: dict, k, d, n) -> list[tuple[int, int]]:
    """(left, right) padding per spatial dim; 'same' pads d·(k−1) in all, the odd one on the
    right."""
    p = a["padding"]
    if p == "same":
        if any(s != 1 for s in a["stride"]):
            raise LayerError(
                "padding 'same' needs stride 1 (torch refuses it), found stride "
                f"{list(a['stride'])}",
                "padding",
            )
        return [(t // 2, t - t // 2) for t in (dd * (kk - 1) for kk, dd in zip(k, d))]
    if p == "valid":
        return [(0, 0)] * n
    return [(q, q) for q in p]


class Conv(Kind):
    autocast = "low"
    size_keys = ("in_channels",)

    def blind(self, a):
        """A 1×1 conv with stride 1 and no padding maps each position to itself, whatever the
        size."""
        p = a["padding"]
        return all(v == 1 for v in (*a["kernel_size"], *a["stride"])) and (
            p in ("same", "valid") or not any(p)
        )

    def infer(self, a, x):
        n = self.n
        batch, sp, g = channels(a, x, n)
        k, s, d = a["kernel_size"], a["stride"], a["dilation"]
        pp = pads(a, k, d, n)
        mode = a["padding_mode"]
        for name, i, (pl, pr) in zip(SPATIAL[n], sp, pp):
            if mode == "reflect" and max(pl, pr) >= i:
                raise LayerError(
                    f"reflect padding of {max(pl, pr)} needs an input longer than that, "
                    f"but {name} is {i}",
                    "padding",
                )
            if mode == "circular" and max(pl, pr) > i:
                raise LayerError(
                    f"circular padding of {max(pl, pr)} wraps around {name} of size {i} "
                    "more than once",
                    "padding",
                )
        out = []
        for name, i, kk, ss, dd, (pl, pr) in zip(SPATIAL[n], sp, k, s, d, pp):
            keff = dd * (kk - 1) + 1
            if i + pl + pr < keff:
                raise LayerError(
                    f"kernel of effective size {keff} does not fit: input {name} is {i}"
                    + (f" + {pl + pr} padding = {i + pl + pr}" if pl + pr else "")
                    + f", smaller than {keff}",
                    "kernel_size",
                )
            out.append(conv_out(i, kk, ss, pl, pr, dd))
        cin, cout = a["in_channels"], a["out_channels"]
        params = [("weight", (cout, cin // g, *k))] + ([("bias", (cout,))] if a["bias"] else [])
        return Out(
            shape=(*batch, cout, *out),
            params=params,
            # macs = N · C_out · ∏out · (C_in / g) · ∏k
            macs=prod(batch) * cout * prod(out) * (cin // g) * prod(k),
            rf=[(dd * (kk - 1) + 1, ss, pl) for kk, ss, dd, (pl, _) in zip(k, s, d, pp)],
            unread=[
                unread(i, o, kk, ss, pl, dd)
                for i, o, kk, ss, dd, (pl, _) in zip(sp, out, k, s, d, pp)
            ],
        )

    def saves(self, a, xs, out, grads):
        # its input, for the weight's gradient; a padded copy where torch pads before the conv
        x, n = xs[0], self.n
        k, d, mode = a["kernel_size"], a["dilation"], a["padding_mode"]
        pp = pads(a, k, d, n)
        if mode == "zeros":
            if a["padding"] == "same" and any((pl + pr) % 2 for pl, pr in pp):
                return [
                    (
                        "new",
                        (*x[:-n], *(i + (pl + pr) % 2 for i, (pl, pr) in zip(x[-n:], pp))),
                        "act",
                    )
                ]
            return [("in", 0)]
        padded = ("new", (*x[:-n], *(i + pl + pr for i, (pl, pr) in zip(x[-n:], pp))), "act")
        return (
            [("in", 0), padded] if mode != "circular" and grads[0] else [padded]
        )  # the pad keeps its input

    def backward(self, a, xs, out, grads):
        # a conv that pads first: the padded input's gradient, then the pad's own backward
        padded = [i[1] for i in self.saves(a, xs, out, grads) if i[0] == "new"]
        if not padded or not grads[0]:
            return [("grad", 0)] * grads[0] + [("params",)]
        return [("tmp", padded[0], "act"), ("params",), ("release",), ("grad", 0), ("free",)]

    def explain(self, a, x, out):
        batch, c, sp = spatial_input(x, self.n)
        k, s, d, g = a["kernel_size"], a["stride"], a["dilation"], a["groups"]
        pp = pads(a, k, d, self.n)
        lines = []
        if a["padding"] == "same":
            lines.append(
                "padding 'same': d·(k − 1) zeros in all per dim, the odd one on the right, "
                "so out = in"
            )
        for name, i, o, kk, ss, dd, (pl, pr) in zip(
            SPATIAL[self.n], sp, out[-self.n :], k, s, d, pp
        ):
            pad = f"2·{pl}" if pl == pr else f"{pl} + {pr}"
            lines.append(f"{name}: out = ⌊({i} + {pad} − {dd}·({kk} − 1) − 1) / {ss}⌋ + 1 = {o}")
        lines += gaps(SPATIAL[self.n], k, s, d)
        cin, cout = a["in_channels"], a["out_channels"]
        per = times([f"({cin}/{g})" if g > 1 else cin, *k])
        lines.append(
            f"MACs: {prod(batch)} sample(s) · {cout} out channels · "
            f"{times(out[-self.n :])} positions · {per} per output"
            f" = {prod(batch) * cout * prod(out[-self.n :]) * (cin // g) * prod(k):,}"
        )
        return lines


class ConvTranspose(Kind):
    autocast = "low"
    size_keys = ("in_channels",)

    def infer(self, a, x):
        n = self.n
        batch, sp, g = channels(a, x, n)
        k, s, p, op, d = (
            a[key] for key in ("kernel_size", "stride", "padding", "output_padding", "dilation")
        )
        for oo, ss, dd in zip(op, s, d):
            if not (oo < ss or oo < dd):
                raise LayerError(
                    "output_padding must be smaller than stride or dilation, found "
                    f"output_padding {list(op)}, stride {list(s)}, dilation {list(d)}",
                    "output_padding",
                )
        out = []
        for name, i, kk, ss, pp, oo, dd in zip(SPATIAL[n], sp, k, s, p, op, d):
            o = (
                (i - 1) * ss - 2 * pp + dd * (kk - 1) + oo + 1
            )  # out = (i−1)·s − 2p + d·(k−1) + op + 1
            if o < 1:
                raise LayerError(
                    f"output {name} would be {o}: padding {pp} is too large for input {i}",
                    "padding",
                )
            out.append(o)
        cin, cout = a["in_channels"], a["out_channels"]
        params = [("weight", (cin, cout // g, *k))] + ([("bias", (cout,))] if a["bias"] else [])
        return Out(
            shape=(*batch, cout, *out),
            params=params,
            # macs = N · C_in · ∏in · (C_out / g) · ∏k
            macs=prod(batch) * cin * prod(sp) * (cout // g) * prod(k),
            rf=None,
        )

    def saves(self, a, xs, out, grads):
        return [("in", 0)]

    def storage_numel(self, a, xs, out):
        # torch's CPU kernel for a transposed 3-D conv on one sample leaves its output in a storage
        # at least as large as the input (measured: torch 2.13)
        x = xs[0]
        if self.n == 3 and (len(x) == 4 or x[0] == 1):
            return max(prod(x), prod(out))
        return prod(out)

    def explain(self, a, x, out):
        batch, c, sp = spatial_input(x, self.n)
        k, s, p, op, d, g = (
            a[key]
            for key in ("kernel_size", "stride", "padding", "output_padding", "dilation", "groups")
        )
        lines = [
            f"{name}: out = ({i} − 1)·{ss} − 2·{pp} + {dd}·({kk} − 1) + {oo} + 1 = {o}"
            for name, i, o, kk, ss, pp, oo, dd in zip(
                SPATIAL[self.n], sp, out[-self.n :], k, s, p, op, d
            )
        ]
        cin, cout = a["in_channels"], a["out_channels"]
        lines.append(
            f"MACs: {prod(batch)} sample(s) · {cin} in channels · {times(sp)} input "
            f"positions · {cout}/{g}·{times(k)} per input"
            f" = {prod(batch) * cin * prod(sp) * (cout // g) * prod(k):,}"
        )
        return lines


class StdConv(Conv):
    """A conv whose weight is standardised in the forward (timm's StdConv2d and ScaledStdConv2d,
    the NFNets' and BiT's): per output channel, ``(w - mean) / sqrt(var + eps)``, times ``gain``
    and ``scale`` where it has a gain. The conv's shape, its MACs (the standardisation counts
    none under FlopCounterMode), its weight and bias, and the gain ``(C_out, 1, 1, 1)``."""

    def infer(self, a, x):
        out = super().infer(a, x)
        if a["gain"]:
            out.params.append(("gain", (a["out_channels"], 1, 1, 1)))
        return out

    def explain(self, a, x, out):
        gain = f", times gain · {a['scale']:g}" if a["gain"] else ""
        return [
            *super().explain(a, x, out),
            f"its weight standardised per output channel in the forward (eps {a['eps']:g}"
            f"{gain}): no MACs of its own",
        ]


class FunctionalConv(Conv):
    """``F.conv2d(x, weight[, bias])`` of tensors other layers give (a Buffer: a blur pool's
    fixed filter): the weight's shape is the kernel's, ``(C_out, C_in / groups, *k)``; the
    conv's output and MACs; no parameters of its own."""

    inputs = (2, 3)
    size_keys = ()

    def blind(self, a):
        return False

    def _conv(self, a, xs):
        x, w = xs[0], xs[1]
        n = self.n
        if len(w) != n + 2:
            raise LayerError(
                f"the weight {list(w)} must be {n + 2}-D, (C_out, C_in / groups, *kernel)", "from"
            )
        if len(xs) == 3 and tuple(xs[2]) != (w[0],):
            raise LayerError(f"the bias {list(xs[2])} must be ({w[0]},), one per output", "from")
        g = a["groups"]
        c = x[-n - 1] if len(x) > n else 0
        if c != w[1] * g:
            raise LayerError(
                f"the weight {list(w)} takes {w[1] * g} channels in {g} group(s), but the "
                f"incoming tensor {list(x)} has {c}",
                "from",
            )
        kernel = {"in_channels": c, "out_channels": w[0], "kernel_size": tuple(w[2:])}
        return {**a, **kernel, "bias": False, "padding_mode": "zeros"}

    def infer(self, a, xs, names=()):
        out = super().infer(self._conv(a, xs), xs[0])
        out.params = []
        return out

    def explain(self, a, xs, out):
        return super().explain(self._conv(a, xs), xs[0], out)


def _args(n: int, transposed: bool) -> dict:
    """Constructor arguments in torch's order; a transposed conv adds output_padding and pads
    with zeros only."""
    args = {
        "in_channels": (optional(integer()), INFER),
        "out_channels": (integer(), REQUIRED),
        "kernel_size": (ints(n), REQUIRED),
        "stride": (ints(n), 1),
        "padding": (ints(n, lo=0) if transposed else padding_reader(n), 0),
    }
    if transposed:
        args["output_padding"] = (ints(n, lo=0), 0)
    else:
        args["dilation"] = (ints(n), 1)
    args["groups"] = (integer(), 1)
    args["bias"] = (flag, True)
    if transposed:
        args["dilation"] = (ints(n), 1)
    args["padding_mode"] = (
        choice("zeros") if transposed else choice("zeros", "reflect", "replicate", "circular"),
        "zeros",
    )
    return args


_STD = {"eps": (number(0.0), 1e-6), "gain": (flag, False), "scale": (number(None), 1.0)}

register(
    *(Conv(f"Conv{n}d", _args(n, False), n=n) for n in (1, 2, 3)),
    StdConv("StdConv2d", {**_args(2, False), **_STD}, n=2),
    FunctionalConv(
        "FunctionalConv2d",
        {
            k: v
            for k, v in _args(2, False).items()
            if k in ("stride", "padding", "dilation", "groups")
        },
        n=2,
    ),
    *(ConvTranspose(f"ConvTranspose{n}d", _args(n, True), n=n) for n in (1, 2, 3)),
)
