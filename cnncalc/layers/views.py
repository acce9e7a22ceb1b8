"""Layers that view (or copy) their input in a new shape, with torch's stride rules: View/Reshape,
ViewAs/ReshapeAs, Contiguous, Permute, Transpose, Squeeze/Unsqueeze, Expand, Slice,
Select."""

from __future__ import annotations

from .base import (
    REQUIRED,
    Kind,
    LayerError,
    Out,
    contiguous,
    dim_list,
    dims,
    integer,
    norm_dim,
    optional,
    prod,
    register,
    schema,
    view_strides,
)
from .reshape import ChannelShuffle  # a copy, registered here in its place among the views


def _view_or_copy(view_only: bool, x, stride, out, hint: str, key: str):
    """The strides of ``out`` as a view of ``x``; where none exists a view layer refuses (torch's
    rule) and a
    reshape copies into a contiguous tensor (None)."""
    s = view_strides(x, stride, out)
    if s is None and view_only:
        raise LayerError(
            f"the incoming tensor {dims(x)} is not laid out contiguously (strides "
            f"{list(stride)}, after a permute or "
            f"transpose), so no view of it has the shape {dims(out)}; {hint}",
            key,
        )
    return s


class Strided(Kind):
    """A view of its input (no copy where torch makes none): ``layout`` gives its strides from
    the input's."""

    view = True
    strided = True


@schema({"type": "array", "items": {"type": "integer", "minimum": -1}})
def _shape(v, key):
    if isinstance(v, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in v):
        return tuple(v)
    raise LayerError(f"{key} must be a list of integers (one of them may be -1), found {v!r}", key)


class View(Strided):
    """View (a view of the same storage, torch's stride rule) and Reshape (a view where one
    exists, else a copy)."""

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
                    f"shape {shape} is invalid for the {n:,} elements of the incoming "
                    f"tensor {dims(x)}",
                    "shape",
                )
            shape[shape.index(-1)] = n // known
        elif known != n:
            raise LayerError(
                f"shape {shape} holds {known:,} elements, but the incoming tensor "
                f"{dims(x)} has {n:,}",
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
            f" (the -1 becomes {out[spec.index(-1)]:,} = {prod(x):,} / "
            f"{prod(s for s in spec if s != -1):,})"
            if -1 in spec
            else ""
        )
        return [f"{dims(x)} -> {dims(out)}: the same {prod(x):,} values in a new shape{inferred}"]


class ViewAs(Strided):
    """``x.view_as(other)`` / ``x.reshape_as(other)``: the first input in the second's shape (its
    values unread)."""

    shape_only = (1,)  # the other tensor gives its shape alone

    inputs = (2, 2)

    def infer(self, a, xs, names=()):
        x, like = xs
        if prod(x) != prod(like):
            raise LayerError(
                f"'{names[0]}' {dims(x)} has {prod(x):,} elements, but '{names[1]}' "
                f"{dims(like)} has {prod(like):,}: no view of one has the other's shape",
                "from",
            )
        return Out(shape=tuple(like))

    def layout(self, a, x, stride, out):
        return _view_or_copy(self.type == "ViewAs", x, stride, out, "use ReshapeAs", "from")

    def module(self, kwargs):
        return "ViewAs", {"reshape": self.type == "ReshapeAs"}

    def explain(self, a, xs, out):
        return [
            f"{dims(xs[0])} -> {dims(out)}: the same {prod(xs[0]):,} values in the shape "
            "of the second input"
        ]


class Contiguous(Strided):
    """``x.contiguous()``: the same values, copied into a contiguous layout where they are not."""

    def infer(self, a, x):
        return Out(shape=x, rf="same")

    def layout(self, a, x, stride, out):
        return None

    def explain(self, a, x, out):
        return [
            f"keeps the shape {dims(x)}; lays the values out contiguously (a copy only "
            "after a permute or transpose)"
        ]


class Permute(Strided):
    def infer(self, a, x):
        order = [norm_dim(d, len(x), "dims") for d in a["dims"]]
        if len(order) != len(x) or sorted(order) != list(range(len(x))):
            raise LayerError(
                f"dims {list(a['dims'])} must name each of the {len(x)} dims of the "
                f"incoming tensor {dims(x)} once",
                "dims",
            )
        return Out(shape=tuple(x[d] for d in order))

    def layout(self, a, x, stride, out):
        return tuple(stride[d % len(x)] for d in a["dims"])

    def grad_layout(self, a, xs, out, k, strides):  # the gradient permuted back
        s, back = strides or contiguous(out), [0] * len(out)
        for i, d in enumerate(a["dims"]):
            back[d % len(out)] = s[i]
        return tuple(back)

    def explain(self, a, x, out):
        return [
            f"dims reordered as {list(a['dims'])}: {dims(x)} -> {dims(out)} (a view: no "
            "values move)"
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

    def grad_layout(self, a, xs, out, k, strides):  # the gradient transposed back
        return self.layout(a, out, strides or contiguous(out), xs[k])

    def explain(self, a, x, out):
        return [
            f"dims {a['dim0']} and {a['dim1']} swap: {dims(x)} -> {dims(out)} (a view: no "
            "values move)"
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


class Expand(Strided):
    """torch.expand: size-1 dims stretched (and new leading dims added) without copying; -1 keeps
    a dim."""

    passes_grad = False  # its backward sums the repeats

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
                    f"cannot expand dim {i - lead} of size {have} to {s} (only size-1 dims "
                    "stretch)",
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

    passes_grad = False  # its backward writes the slice into zeros

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
            f"dim {d}: positions {r.start}, {r.start + r.step}, ... below {r.stop} of "
            f"{x[d]}: {len(r)} kept (a view)"
        ]


class DropsDim(Strided):
    """A view without one of the input's dims (Select, Unbind): its layout drops that dim's
    stride."""

    passes_grad = False  # its backward writes the part into zeros (or stacks)

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
    ),
    Select("Select", {"dim": (integer(None), REQUIRED), "index": (integer(None), REQUIRED)}),
)
