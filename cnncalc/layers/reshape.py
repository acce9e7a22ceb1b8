"""Layers that move elements between dims: Flatten, Unflatten, Upsample, PixelShuffle, PixelUnshuffle,
View/Reshape, Contiguous, Permute, Transpose, Squeeze/Unsqueeze, ChannelShuffle, Expand, Slice, Select."""

from __future__ import annotations

import math

from .base import (
    REQUIRED,
    Kind,
    LayerError,
    Out,
    Shape,
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
)


class Flatten(Kind):
    """torch.flatten: a view where the strides allow one (torch's reshape), else a contiguous copy."""

    view = True
    strided = True

    def layout(self, a, x, stride, out):
        return view_strides(x, stride, out)

    def infer(self, a, x):
        s = norm_dim(a["start_dim"], len(x), "start_dim")
        e = norm_dim(a["end_dim"], len(x), "end_dim")
        if s > e:
            raise LayerError(
                f"start_dim ({a['start_dim']}) comes after end_dim ({a['end_dim']}) for the {len(x)}-D incoming tensor",
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
            f"dims {s}..{e} {list(run)} become one: {times(run)} = {prod(run):,}; {dims(x)} -> {dims(out)}"
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
                f"unflattened_size {sizes} holds {known} elements, but dim {d} of the incoming tensor {dims(x)} has {x[d]}",
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
                f"expects a 3-D, 4-D or 5-D (N, C, ...) input, but the incoming tensor {dims(x)} is {len(x)}-D"
            )
        mode, n = a["mode"], len(x) - 2
        if mode in _MODE_DIMS and _MODE_DIMS[mode] != len(x):
            raise LayerError(
                f"mode '{mode}' needs a {_MODE_DIMS[mode]}-D input, but the incoming tensor {dims(x)} is {len(x)}-D",
                "mode",
            )
        if a["align_corners"] is not None and mode not in (
            "linear",
            "bilinear",
            "bicubic",
            "trilinear",
        ):
            raise LayerError(
                "align_corners can only be set with the modes linear, bilinear, bicubic and trilinear",
                "align_corners",
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
                    f"size must be a positive integer or a list of {n} of them for a {n}-D spatial input, found {list(a['size'])}",
                    "size",
                )
            out = size
        else:
            scales = scale if isinstance(scale, tuple) else (scale,) * n
            if len(scales) != n:
                raise LayerError(
                    f"scale_factor must have {n} entries for a {n}-D spatial input, found {list(scales)}",
                    "scale_factor",
                )
            out = tuple(
                math.floor(float(i) * float(s)) for i, s in zip(x[2:], scales)
            )  # as torch: ⌊i · scale⌋ in double
            if any(o < 1 for o in out):
                raise LayerError(
                    f"scale_factor {a['scale_factor']} turns spatial size {list(x[2:])} into {list(out)}; sizes must stay above 0",
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
        return "Upsample", kw


class PixelShuffle(Kind):
    def infer(self, a, x):
        if len(x) < 3:
            raise LayerError(
                f"expects an input of at least 3 dims (C, H, W), but the incoming tensor {dims(x)} is {len(x)}-D"
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
                f"channels {c} / {r}² = {c // (r * r)}; height {h} · {r} = {h * r}; width {w} · {r} = {w * r}: same number of values"
            ]
        r = a["downscale_factor"]
        return [
            f"channels {c} · {r}² = {c * r * r}; height {h} / {r} = {h // r}; width {w} / {r} = {w // r}: same number of values"
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
        },
    ),
    PixelShuffle("PixelShuffle", {"upscale_factor": (integer(), REQUIRED)}, up=True),
    PixelShuffle("PixelUnshuffle", {"downscale_factor": (integer(), REQUIRED)}, up=False),
)


# ---- views: View/Reshape, Permute, Transpose, Squeeze/Unsqueeze; and ChannelShuffle ------------


def view_strides(old: Shape, stride: tuple[int, ...], new: Shape) -> tuple[int, ...] | None:
    """torch's computeStride: the strides of ``new`` as a view of (old, stride), or None where no view exists."""
    if not old:
        return (1,) * len(new)
    out = [0] * len(new)
    view_d = len(new) - 1
    base = stride[-1]
    tensor_numel = view_numel = 1
    for d in range(len(old) - 1, -1, -1):
        tensor_numel *= old[d]
        if d == 0 or (old[d - 1] != 1 and stride[d - 1] != tensor_numel * base):
            while view_d >= 0 and (view_numel < tensor_numel or new[view_d] == 1):
                out[view_d] = view_numel * base
                view_numel *= new[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if d > 0:
                base = stride[d - 1]
                tensor_numel = view_numel = 1
    return tuple(out) if view_d == -1 else None


def _view_or_copy(view_only: bool, x, stride, out, hint: str, key: str):
    """The strides of ``out`` as a view of ``x``; where none exists a view layer refuses (torch's rule) and a
    reshape copies into a contiguous tensor (None)."""
    s = view_strides(x, stride, out)
    if s is None and view_only:
        raise LayerError(
            f"the incoming tensor {dims(x)} is not laid out contiguously (strides {list(stride)}, after a permute or "
            f"transpose), so no view of it has the shape {dims(out)}; {hint}",
            key,
        )
    return s


class Strided(Kind):
    """A view of its input (no copy where torch makes none): ``layout`` gives its strides from the input's."""

    view = True
    strided = True


@schema({"type": "array", "items": {"type": "integer", "minimum": -1}})
def _shape(v, key):
    if isinstance(v, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in v):
        return tuple(v)
    raise LayerError(f"{key} must be a list of integers (one of them may be -1), found {v!r}", key)


class View(Strided):
    """View (a view of the same storage, torch's stride rule) and Reshape (a view where one exists, else a copy)."""

    def infer(self, a, x):
        shape = list(a["shape"])
        n = prod(x)
        if shape.count(-1) > 1:
            raise LayerError(
                f"shape {shape} has more than one -1; only one size can be inferred", "shape"
            )
        if any(s < -1 or s == 0 for s in shape):
            raise LayerError(
                f"shape {shape} must hold positive sizes (and at most one -1)", "shape"
            )
        known = prod(s for s in shape if s != -1)
        if -1 in shape:
            if n % known:
                raise LayerError(
                    f"shape {shape} is invalid for the {n:,} elements of the incoming tensor {dims(x)}",
                    "shape",
                )
            shape[shape.index(-1)] = n // known
        elif known != n:
            raise LayerError(
                f"shape {shape} holds {known:,} elements, but the incoming tensor {dims(x)} has {n:,}",
                "shape",
            )
        return Out(shape=tuple(shape))

    def layout(self, a, x, stride, out):
        return _view_or_copy(
            self.type == "View",
            x,
            stride,
            out,
            "use Reshape, or a Contiguous layer before it",
            "shape",
        )

    def module(self, kwargs):
        return "View", {"shape": kwargs["shape"], "reshape": self.type == "Reshape"}

    def explain(self, a, x, out):
        spec = list(a["shape"])
        inferred = (
            f" (the -1 becomes {out[spec.index(-1)]:,} = {prod(x):,} / {prod(s for s in spec if s != -1):,})"
            if -1 in spec
            else ""
        )
        return [f"{dims(x)} -> {dims(out)}: the same {prod(x):,} values in a new shape{inferred}"]


class ViewAs(Strided):
    """``x.view_as(other)`` / ``x.reshape_as(other)``: the first input in the second's shape (its values unread)."""

    inputs = (2, 2)

    def infer(self, a, xs, names=()):
        x, like = xs
        if prod(x) != prod(like):
            raise LayerError(
                f"'{names[0]}' {dims(x)} has {prod(x):,} elements, but '{names[1]}' {dims(like)} has {prod(like):,}: "
                "no view of one has the other's shape",
                "from",
            )
        return Out(shape=tuple(like))

    def layout(self, a, x, stride, out):
        return _view_or_copy(self.type == "ViewAs", x, stride, out, "use ReshapeAs", "from")

    def module(self, kwargs):
        return "ViewAs", {"reshape": self.type == "ReshapeAs"}

    def explain(self, a, xs, out):
        return [
            f"{dims(xs[0])} -> {dims(out)}: the same {prod(xs[0]):,} values in the shape of the second input"
        ]


class Contiguous(Strided):
    """``x.contiguous()``: the same values, copied into a contiguous layout where they are not."""

    def infer(self, a, x):
        return Out(shape=x, rf="same")

    def layout(self, a, x, stride, out):
        return None

    def explain(self, a, x, out):
        return [
            f"keeps the shape {dims(x)}; lays the values out contiguously (a copy only after a permute or transpose)"
        ]


class Permute(Strided):
    def infer(self, a, x):
        order = [norm_dim(d, len(x), "dims") for d in a["dims"]]
        if len(order) != len(x) or sorted(order) != list(range(len(x))):
            raise LayerError(
                f"dims {list(a['dims'])} must name each of the {len(x)} dims of the incoming tensor {dims(x)} once",
                "dims",
            )
        return Out(shape=tuple(x[d] for d in order))

    def layout(self, a, x, stride, out):
        return tuple(stride[d % len(x)] for d in a["dims"])

    def explain(self, a, x, out):
        return [
            f"dims reordered as {list(a['dims'])}: {dims(x)} -> {dims(out)} (a view: no values move)"
        ]


class Transpose(Strided):
    def infer(self, a, x):
        i, j = norm_dim(a["dim0"], len(x), "dim0"), norm_dim(a["dim1"], len(x), "dim1")
        out = list(x)
        if x:
            out[i], out[j] = out[j], out[i]
        return Out(shape=tuple(out))

    def layout(self, a, x, stride, out):
        if not x:
            return ()
        s = list(stride)
        i, j = a["dim0"] % len(x), a["dim1"] % len(x)
        s[i], s[j] = s[j], s[i]
        return tuple(s)

    def explain(self, a, x, out):
        return [
            f"dims {a['dim0']} and {a['dim1']} swap: {dims(x)} -> {dims(out)} (a view: no values move)"
        ]


class Squeeze(Strided):
    def _kept(self, a, x):
        if a["dim"] is None:
            return [i for i, s in enumerate(x) if s != 1]
        drop = {norm_dim(d, len(x), "dim") for d in a["dim"]}
        return [i for i, s in enumerate(x) if not (i in drop and s == 1)]

    def infer(self, a, x):
        return Out(shape=tuple(x[i] for i in self._kept(a, x)))

    def layout(self, a, x, stride, out):
        return tuple(stride[i] for i in self._kept(a, x))

    def explain(self, a, x, out):
        which = (
            "every dim of size 1"
            if a["dim"] is None
            else f"dim {', '.join(str(d) for d in a['dim'])} where its size is 1"
        )
        return [f"removes {which}: {dims(x)} -> {dims(out)}"]


class Unsqueeze(Strided):
    def infer(self, a, x):
        d = norm_dim(a["dim"], len(x) + 1, "dim")
        return Out(shape=(*x[:d], 1, *x[d:]))

    def layout(self, a, x, stride, out):
        d = a["dim"] % (len(x) + 1)
        new = x[d] * stride[d] if d < len(x) else 1
        return (*stride[:d], new, *stride[d:])

    def explain(self, a, x, out):
        return [f"inserts a dim of size 1 at {a['dim']}: {dims(x)} -> {dims(out)}"]


class ChannelShuffle(Kind):
    pointwise = False

    def infer(self, a, x):
        if len(x) < 3:
            raise LayerError(
                f"expects an input of at least 3 dims (N, C, *), but the incoming tensor {dims(x)} is {len(x)}-D"
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
            f"the {c} channels, as {g} groups of {c // g}, are interleaved: channel j of group i moves to j·{g} + i"
        ]


class Expand(Strided):
    """torch.expand: size-1 dims stretched (and new leading dims added) without copying; -1 keeps a dim."""

    def infer(self, a, x):
        shape = list(a["shape"])
        if len(shape) < len(x):
            raise LayerError(
                f"shape {shape} has fewer dims than the incoming tensor {dims(x)}", "shape"
            )
        lead = len(shape) - len(x)
        out = []
        for i, s in enumerate(shape):
            if i < lead:
                if s < 1:
                    raise LayerError(
                        f"shape {shape}: a new leading dim must have a positive size, found {s}",
                        "shape",
                    )
                out.append(s)
                continue
            have = x[i - lead]
            if s == -1:
                out.append(have)
            elif s == have or have == 1:
                if s < 1:
                    raise LayerError(f"shape {shape} must hold positive sizes or -1", "shape")
                out.append(s)
            else:
                raise LayerError(
                    f"cannot expand dim {i - lead} of size {have} to {s} (only size-1 dims stretch)",
                    "shape",
                )
        return Out(shape=tuple(out))

    def layout(self, a, x, stride, out):
        lead = len(out) - len(x)
        return tuple(
            0 if i < lead or (x[i - lead] == 1 and o != 1) else stride[i - lead]
            for i, o in enumerate(out)
        )

    def explain(self, a, x, out):
        return [
            f"{dims(x)} -> {dims(out)}: size-1 dims repeat without copying (a view with stride 0)"
        ]


class Slice(Strided):
    """``x[start:end:step]`` along ``dim`` (Python's slice rules, clamped to the dim): a view."""

    def _range(self, a, x):
        d = norm_dim(a["dim"], len(x), "dim")
        if a["step"] < 1:
            raise LayerError(f"step must be a positive integer, found {a['step']}", "step")
        return d, range(*slice(a["start"], a["end"], a["step"]).indices(x[d]))

    def infer(self, a, x):
        if not x:
            raise LayerError("cannot slice a 0-D tensor")
        d, r = self._range(a, x)
        if len(r) == 0:
            raise LayerError(
                f"the slice {a['start']}:{a['end']}:{a['step']} of dim {d} (size {x[d]}) is empty",
                "start",
            )
        return Out(shape=(*x[:d], len(r), *x[d + 1 :]))

    def layout(self, a, x, stride, out):
        d, _ = self._range(a, x)
        return (*stride[:d], stride[d] * a["step"], *stride[d + 1 :])

    def explain(self, a, x, out):
        d, r = self._range(a, x)
        return [
            f"dim {d}: positions {r.start}, {r.start + r.step}, ... below {r.stop} of {x[d]}: {len(r)} kept (a view)"
        ]


class DropsDim(Strided):
    """A view without one of the input's dims (Select, Unbind): its layout drops that dim's stride."""

    def layout(self, a, x, stride, out):
        d = a["dim"] % len(x)
        return (*stride[:d], *stride[d + 1 :])


class Select(DropsDim):
    """``x[..., index]`` along ``dim``: that dim removed (a view)."""

    def infer(self, a, x):
        if not x:
            raise LayerError("cannot index a 0-D tensor")
        d = norm_dim(a["dim"], len(x), "dim")
        if not -x[d] <= a["index"] < x[d]:
            raise LayerError(
                f"index {a['index']} is out of range for dim {d} of size {x[d]}", "index"
            )
        return Out(shape=(*x[:d], *x[d + 1 :]))

    def explain(self, a, x, out):
        return [f"position {a['index']} of dim {a['dim']}: {dims(x)} -> {dims(out)} (a view)"]


register(
    View("View", {"shape": (_shape, REQUIRED)}),
    View("Reshape", {"shape": (_shape, REQUIRED)}),
    ViewAs("ViewAs", {}),
    ViewAs("ReshapeAs", {}),
    Contiguous("Contiguous", {}),
    Permute("Permute", {"dims": (dim_list, REQUIRED)}),
    Transpose("Transpose", {"dim0": (integer(None), REQUIRED), "dim1": (integer(None), REQUIRED)}),
    Squeeze("Squeeze", {"dim": (optional(dim_list), None)}),
    Unsqueeze("Unsqueeze", {"dim": (integer(None), REQUIRED)}),
    ChannelShuffle("ChannelShuffle", {"groups": (integer(), REQUIRED)}),
    Expand("Expand", {"shape": (_shape, REQUIRED)}),
    Slice(
        "Slice",
        {
            "dim": (integer(None), REQUIRED),
            "start": (optional(integer(None)), None),
            "end": (optional(integer(None)), None),
            "step": (integer(None), 1),
        },
    ),  # fmt: skip
    Select("Select", {"dim": (integer(None), REQUIRED), "index": (integer(None), REQUIRED)}),
)
