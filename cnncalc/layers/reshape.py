"""Layers that move elements between dims: Flatten, Unflatten, Upsample, PixelShuffle,
PixelUnshuffle (the views are in ``views``)."""

from __future__ import annotations

import math

from .base import (
    REQUIRED,
    Kind,
    LayerError,
    Out,
    choice,
    dim_list,
    dims,
    flag,
    int_list,
    integer,
    norm_dim,
    number,
    optional,
    prod,
    register,
    schema,
    times,
    view_strides,
)


class Flatten(Kind):
    """torch.flatten: a view where the strides allow one (torch's reshape), else a contiguous
    copy."""

    view = True
    strided = True

    def layout(self, a, x, stride, out):
        return view_strides(x, stride, out)

    def infer(self, a, x):
        s = norm_dim(a["start_dim"], len(x), "start_dim")
        e = norm_dim(a["end_dim"], len(x), "end_dim")
        if s > e:
            raise LayerError(
                f"start_dim ({a['start_dim']}) comes after end_dim ({a['end_dim']}) for "
                f"the {len(x)}-D incoming tensor",
                "start_dim",
            )
        if not x:
            return Out(shape=(1,))
        return Out(shape=(*x[:s], prod(x[s : e + 1]), *x[e + 1 :]), flattened=tuple(x[s : e + 1]))

    def explain(self, a, x, out):
        if not x:
            return ["a scalar becomes a 1-element vector"]
        s, e = a["start_dim"] % len(x), a["end_dim"] % len(x)
        run = x[s : e + 1]
        return [
            f"dims {s}..{e} {list(run)} become one: {times(run)} = {prod(run):,}; "
            f"{dims(x)} -> {dims(out)}"
        ]


class Unflatten(Kind):
    view = True
    strided = True

    def layout(self, a, x, stride, out):
        return view_strides(x, stride, out)  # splitting one dim is always a view

    def infer(self, a, x):
        d = norm_dim(a["dim"], len(x), "dim")
        sizes = list(a["unflattened_size"])
        if sizes.count(-1) > 1 or any(v < 1 and v != -1 for v in sizes):
            raise LayerError(
                f"unflattened_size must hold positive sizes and at most one -1, found {sizes}",
                "unflattened_size",
            )
        known = prod(v for v in sizes if v != -1)
        if -1 in sizes:
            if x[d] % known:
                raise LayerError(
                    f"unflattened_size {sizes} does not divide dim {d} of size {x[d]}",
                    "unflattened_size",
                )
            sizes[sizes.index(-1)] = x[d] // known
        elif known != x[d]:
            raise LayerError(
                f"unflattened_size {sizes} holds {known} elements, but dim {d} of the "
                f"incoming tensor {dims(x)} has {x[d]}",
                "unflattened_size",
            )
        return Out(shape=(*x[:d], *sizes, *x[d + 1 :]))


_MODE_DIMS = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}


@schema(
    {
        "anyOf": [
            {"type": "number", "exclusiveMinimum": 0},
            {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0}},
        ]
    }
)
def _scale(v, key):
    if isinstance(v, list):
        return tuple(number(0.0, lo_open=True)(s, key) for s in v)
    return number(0.0, lo_open=True)(v, key)


class Upsample(Kind):
    def infer(self, a, x):
        if len(x) not in (3, 4, 5):
            raise LayerError(
                "expects a 3-D, 4-D or 5-D (N, C, ...) input, but the incoming tensor "
                f"{dims(x)} is {len(x)}-D"
            )
        mode, n = a["mode"], len(x) - 2
        if mode in _MODE_DIMS and _MODE_DIMS[mode] != len(x):
            raise LayerError(
                f"mode '{mode}' needs a {_MODE_DIMS[mode]}-D input, but the incoming "
                f"tensor {dims(x)} is {len(x)}-D",
                "mode",
            )
        if a["align_corners"] is not None and mode not in (
            "linear",
            "bilinear",
            "bicubic",
            "trilinear",
        ):
            raise LayerError(
                "align_corners can only be set with the modes linear, bilinear, bicubic "
                "and trilinear",
                "align_corners",
            )
        if a["antialias"] and (mode not in ("bilinear", "bicubic") or len(x) != 4):
            raise LayerError(
                "antialias takes the modes bilinear and bicubic, on a 4-D input", "antialias"
            )
        size, scale = a["size"], a["scale_factor"]
        if (size is None) == (scale is None):
            raise LayerError(
                "give exactly one of size and scale_factor", "size" if size is not None else None
            )
        if size is not None:
            if len(size) == 1:
                size = size * n
            if len(size) != n or any(s < 1 for s in size):
                raise LayerError(
                    f"size must be a positive integer or a list of {n} of them for a {n}-D "
                    f"spatial input, found {list(a['size'])}",
                    "size",
                )
            out = size
        else:
            scales = scale if isinstance(scale, tuple) else (scale,) * n
            if len(scales) != n:
                raise LayerError(
                    f"scale_factor must have {n} entries for a {n}-D spatial input, found "
                    f"{list(scales)}",
                    "scale_factor",
                )
            out = tuple(
                math.floor(float(i) * float(s)) for i, s in zip(x[2:], scales)
            )  # as torch: ⌊i · scale⌋ in double
            if any(o < 1 for o in out):
                raise LayerError(
                    f"scale_factor {a['scale_factor']} turns spatial size {list(x[2:])} "
                    f"into {list(out)}; sizes must stay above 0",
                    "scale_factor",
                )
        return Out(shape=(*x[:2], *out))

    def saves(self, a, xs, out, grads):
        return [("in", 0)] if a["mode"] == "area" else []  # area is adaptive average pooling

    def explain(self, a, x, out):
        if a["size"] is not None:
            return [
                f"size {list(a['size'])}: the spatial dims become {list(out[2:])} ({a['mode']})"
            ]
        scales = (
            a["scale_factor"]
            if isinstance(a["scale_factor"], tuple)
            else (a["scale_factor"],) * (len(x) - 2)
        )
        return [
            f"dim {j + 2}: ⌊{i} · {s}⌋ = {o} ({a['mode']})"
            for j, (i, s, o) in enumerate(zip(x[2:], scales, out[2:]))
        ]

    def module(self, kwargs):
        kw = dict(kwargs)
        if isinstance(kw["size"], tuple) and len(kw["size"]) == 1:
            kw["size"] = kw["size"][0]
        if kw.pop("antialias", False):  # F.interpolate's, which nn.Upsample does not take
            return "Interpolate", {**kw, "antialias": True}
        return "Upsample", kw


class UpsampleAs(Kind):
    """``F.interpolate(x, size=other.shape[2:], mode=...)``: the first input resized to the
    spatial size of the second (its values unread)."""

    inputs = (2, 2)
    shape_only = (1,)

    def infer(self, a, xs, names=()):
        x, like = xs
        if len(x) not in (3, 4, 5):
            raise LayerError(
                "expects a 3-D, 4-D or 5-D (N, C, ...) first input, but "
                f"'{names[0]}' {dims(x)} is {len(x)}-D",
                "from",
            )
        if len(like) != len(x):
            raise LayerError(
                f"'{names[1]}' {dims(like)} gives the size, but it has {len(like)} dims and "
                f"'{names[0]}' {dims(x)} has {len(x)}: the spatial dims must match in number",
                "from",
            )
        mode = a["mode"]
        if mode in _MODE_DIMS and _MODE_DIMS[mode] != len(x):
            raise LayerError(
                f"mode '{mode}' needs a {_MODE_DIMS[mode]}-D input, but '{names[0]}' "
                f"{dims(x)} is {len(x)}-D",
                "mode",
            )
        return Out(shape=(*x[:2], *like[2:]))

    def saves(self, a, xs, out, grads):
        return [("in", 0)] if a["mode"] == "area" else []

    def explain(self, a, xs, out):
        return [
            f"{dims(xs[0])} -> {dims(out)}: resized ({a['mode']}) to the spatial size of the "
            "second input"
        ]

    def module(self, kwargs):
        return "UpsampleAs", dict(kwargs)


class PixelShuffle(Kind):
    def infer(self, a, x):
        if len(x) < 3:
            raise LayerError(
                "expects an input of at least 3 dims (C, H, W), but the incoming tensor "
                f"{dims(x)} is {len(x)}-D"
            )
        *b, c, h, w = x
        if self.up:
            r = a["upscale_factor"]
            if c % (r * r):
                raise LayerError(
                    f"channels ({c}) must be divisible by upscale_factor² ({r * r})",
                    "upscale_factor",
                )
            return Out(shape=(*b, c // (r * r), h * r, w * r))
        r = a["downscale_factor"]
        if h % r or w % r:
            raise LayerError(
                f"height and width ({h}, {w}) must be divisible by downscale_factor ({r})",
                "downscale_factor",
            )
        return Out(shape=(*b, c * r * r, h // r, w // r))

    def explain(self, a, x, out):
        *b, c, h, w = x
        if self.up:
            r = a["upscale_factor"]
            return [
                f"channels {c} / {r}² = {c // (r * r)}; height {h} · {r} = {h * r}; width "
                f"{w} · {r} = {w * r}: same number of values"
            ]
        r = a["downscale_factor"]
        return [
            f"channels {c} · {r}² = {c * r * r}; height {h} / {r} = {h // r}; width {w} / "
            f"{r} = {w // r}: same number of values"
        ]


register(
    Flatten("Flatten", {"start_dim": (integer(None), 1), "end_dim": (integer(None), -1)}),
    Unflatten(
        "Unflatten", {"dim": (integer(None), REQUIRED), "unflattened_size": (int_list, REQUIRED)}
    ),
    Upsample(
        "Upsample",
        {
            "size": (optional(int_list), None),
            "scale_factor": (optional(_scale), None),
            "mode": (
                choice(
                    "nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact"
                ),
                "nearest",
            ),
            "align_corners": (optional(flag), None),
            "recompute_scale_factor": (optional(flag), None),
            "antialias": (flag, False),
        },
    ),
    UpsampleAs(
        "UpsampleAs",
        {
            "mode": (
                choice(
                    "nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact"
                ),
                "nearest",
            ),
            "align_corners": (optional(flag), None),
        },
    ),
    PixelShuffle("PixelShuffle", {"upscale_factor": (integer(), REQUIRED)}, up=True),
    PixelShuffle("PixelUnshuffle", {"downscale_factor": (integer(), REQUIRED)}, up=False),
)


class ChannelShuffle(Kind):
    pointwise = False

    def infer(self, a, x):
        if len(x) < 3:
            raise LayerError(
                "expects an input of at least 3 dims (N, C, *), but the incoming tensor "
                f"{dims(x)} is {len(x)}-D"
            )
        g, c = a["groups"], x[1]
        if c % g:
            raise LayerError(
                f"the {c} channels of the incoming tensor {dims(x)} do not divide into {g} groups",
                "groups",
            )
        return Out(shape=x, rf="same")

    def explain(self, a, x, out):
        g, c = a["groups"], x[1]
        return [
            f"the {c} channels, as {g} groups of {c // g}, are interleaved: channel j of "
            f"group i moves to j·{g} + i"
        ]


class Roll(Kind):
    """torch.roll: elements shifted cyclically along ``dims`` (the flattened tensor without
    them); the shape stays, a copy, no MACs."""

    def infer(self, a, x):
        shifts, ds = a["shifts"], a["dims"]
        if not ds:  # torch's default, dims=[]
            if len(shifts) != 1:
                raise LayerError(
                    f"{len(shifts)} shifts without dims: a roll of the flattened tensor takes one",
                    "shifts",
                )
            return Out(shape=x, rf=None)
        if len(shifts) != len(ds):
            raise LayerError(
                f"{len(shifts)} shifts for {len(ds)} dims: they must pair up", "shifts"
            )
        if not x:
            raise LayerError("a 0-D tensor has no dim to roll along", "dims")
        ds = [norm_dim(d, len(x), "dims") for d in ds]
        return Out(shape=x, rf="same" if all(d < 2 for d in ds) else None)

    def explain(self, a, x, out):
        if not a["dims"]:
            return [f"the {prod(x):,} values, flattened, move {a['shifts'][0]} places (cyclic)"]
        moves = ", ".join(f"{s} along dim {d}" for s, d in zip(a["shifts"], a["dims"]))
        return [f"values move cyclically, {moves}: {dims(x)} stays"]


register(Roll("Roll", {"shifts": (int_list, REQUIRED), "dims": (optional(dim_list), None)}))
