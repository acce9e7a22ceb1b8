"""The graph layers torch.nn lacks as modules: Add, Mul, Sub, Div (broadcasting, or with a
constant), Maximum and Minimum, Cat, Stack, Split and Chunk (several outputs), Unbind; MatMul
and Parameter live in ``matmul.py`` and are registered here, in their place."""

from __future__ import annotations

from .base import (
    REQUIRED,
    Kind,
    LayerError,
    Out,
    contiguous,
    dims,
    integer,
    norm_dim,
    number,
    optional,
    register,
    schema,
)
from .matmul import MatMul, Parameter, _param_shape, broadcast
from .views import DropsDim, Strided


class Elementwise2(Kind):
    """Add and Mul of two or more tensors, or of one tensor and ``value``; Sub and Div of two, or
    of one and ``value``."""

    inputs = (1, None)

    def infer(self, a, xs, names=()):
        if len(xs) == 1 and a["value"] is None:
            raise LayerError(
                "takes two or more inputs, or one and a constant 'value'; list them in "
                "'from', e.g. from: [conv2, input]",
                "from",
            )
        if self.type in ("Div", "Sub") and len(xs) > 2:
            raise LayerError(
                f"takes one tensor and another (or a constant 'value'), but from lists {len(xs)}",
                "from",
            )
        if len(xs) > 1 and a["value"] is not None and self.type in ("Div", "Sub"):
            raise LayerError("takes a second tensor or 'value', not both", "value")
        if self.type == "Div" and len(xs) == 1 and a["value"] == 0:
            raise LayerError("value is 0: dividing by zero gives no finite values", "value")
        return Out(shape=broadcast(xs, list(names)), rf="same")

    def explain(self, a, xs, out):
        what = {"Add": "sum", "Sub": "difference", "Mul": "product", "Div": "quotient"}[self.type]
        same = all(tuple(x) == tuple(out) for x in xs)
        const = "" if a["value"] is None else f" and the constant {a['value']}"
        return [
            f"element-wise {what} of {len(xs)} tensor{'s' if len(xs) > 1 else ''}{const}"
            + ("" if same else f", broadcast to {dims(out)} (sizes of 1 stretch)")
        ]

    def saves(self, a, xs, out, grads):
        if self.type in ("Add", "Sub") or len(xs) == 1:
            return []
        if self.type == "Div":  # a / b keeps b for a's gradient, a and b (b's own, once) for b's
            return ([("in", 1)] if grads[0] or grads[1] else []) + ([("in", 0)] if grads[1] else [])
        # (x0 · x1) · x2 ...: each product keeps the factor the other side's gradient needs
        items, acc_grad, acc, shape = [], grads[0], ("in", 0), tuple(xs[0])
        for k in range(1, len(xs)):
            if acc_grad:
                items.append(("in", k))
            if grads[k]:
                items.append(acc)
            acc_grad = acc_grad or grads[k]
            if tuple(xs[k]) != shape:  # the product so far: linear in k
                shape = broadcast([shape, xs[k]], ["0", str(k)])
            acc = ("new", shape, "act") if k + 1 < len(xs) else None
        return items

    def module(self, kwargs):
        return self.type, {"value": kwargs["value"]}

    def forward_temps(self, a, xs, out, grads=(), strides=()):
        # (x0 + x1) + x2 ...: the partial sum before the last is made and dropped (a product's
        # partials are kept for backward: ``saves``)
        if len(xs) < 3:
            return []
        acc = _partials(xs)
        if self.type == "Mul":  # the partial products no gradient needs (``saves`` keeps the rest)
            some = any(grads)
            return [
                ("before", acc[j], "act")
                for j in range(1, len(xs) - 1)
                if some and not grads[j + 1]
            ]
        return [("before", acc[-2], "act")]

    def backward(self, a, xs, out, grads):
        # each gradient is made at the output's shape and summed down to a broadcast input's
        # after (autograd's sum_to); Div's divisor gradient, -g * ((a / b) / b), comes first
        def given(k):  # the incoming gradient itself, or its sum down to a broadcast input
            return ("pass", k) if tuple(xs[k]) == tuple(out) else ("pass", k, out)

        if self.type == "Add" or len(xs) == 1 and self.type == "Sub":
            return [given(k) for k, g in enumerate(grads) if g]
        if len(xs) == 1:  # times or over a constant
            return [("grad", 0)] if grads[0] else []
        if self.type == "Sub":
            return [given(0)] * grads[0] + [("grad", 1, out)] * grads[1]
        if self.type == "Div":
            other = [("tmp", out, "act")] * 3 + [("grad", 1, out), ("free",)]
            return other * grads[1] + [("grad", 0, out)] * grads[0]
        if len(xs) == 2:
            return [("grad", k, out) for k, g in enumerate(grads) if g]
        # (x0 · x1) · x2 ...: one node per product, the outer first; each hands the partial
        # product's gradient on to the next
        acc = _partials(xs)
        before = [False]  # before[k]: whether any of x0 .. x(k-1) needs a gradient
        for g in grads:
            before.append(before[-1] or g)
        items = []
        for k in range(len(xs) - 1, 0, -1):
            if before[k]:
                items.append(("next", acc[k]) if k > 1 else ("grad", 0, acc[1]))
            if grads[k]:
                items.append(("grad", k, acc[k]))
            if k > 1:
                items.append(("release",))
        return items


def _partials(xs) -> list[tuple[int, ...]]:
    """The shapes of x0, x0·x1, x0·x1·x2, ...: broadcast one input at a time (linear in them)."""
    out = [tuple(xs[0])]
    for k in range(1, len(xs)):
        x = tuple(xs[k])
        out.append(out[-1] if x == out[-1] else broadcast([out[-1], x], ["0", str(k)]))
    return out


class Extremum(Kind):
    """Maximum and Minimum: the element-wise larger (smaller) of two tensors, broadcasting
    (``torch.maximum``; a clamp to tensor bounds is a Maximum then a Minimum); no MACs."""

    inputs = (2, 2)

    def infer(self, a, xs, names=()):
        return Out(shape=broadcast(xs, list(names)), rf="same")

    def explain(self, a, xs, out):
        what = "larger" if self.type == "Maximum" else "smaller"
        return [f"the {what} of the two, element by element: {dims(out)}"]


class Cat(Kind):
    passes_grad = True  # slices of the gradient

    def grad_layout(self, a, xs, out, k, strides):  # a slice keeps the gradient's strides
        return strides or contiguous(out)

    inputs = (1, None)

    def infer(self, a, xs, names=()):
        first = xs[0]
        d = norm_dim(a["dim"], len(first), "dim")
        for s, n in zip(xs[1:], names[1:]):
            if len(s) != len(first) or any(
                u != v for j, (u, v) in enumerate(zip(s, first)) if j != d
            ):
                raise LayerError(
                    f"cannot concatenate '{names[0]}' {dims(first)} with '{n}' {dims(s)} "
                    f"along dim {a['dim']}: all other dims must be equal",
                    "from",
                )
        out = list(first)
        out[d] = sum(s[d] for s in xs)
        return Out(shape=tuple(out), rf="same", mixes_dim=d)

    def explain(self, a, xs, out):
        d = a["dim"] % len(out)
        return [
            f"concatenated along dim {a['dim']}: {' + '.join(str(x[d]) for x in xs)} = "
            f"{out[d]}; the other dims stay"
        ]


@schema(
    {
        "anyOf": [
            {"type": "integer", "minimum": 1},
            {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1},
        ]
    }
)
def _sections(v, key):
    """One size (parts of that size, the last may be shorter) or a list of sizes (torch.split)."""
    if isinstance(v, int) and not isinstance(v, bool) and v >= 1:
        return v
    if (
        isinstance(v, list)
        and v
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in v)
    ):
        return tuple(v)
    raise LayerError(f"{key} must be a positive integer or a list of sizes, found {v!r}", key)


class Stack(Kind):
    """torch.stack: equal shapes joined along a new dim."""

    passes_grad = True  # views of the gradient

    def grad_layout(self, a, xs, out, k, strides):  # a select drops the stacked dim
        s, d = strides or contiguous(out), a["dim"] % len(out)
        return (*s[:d], *s[d + 1 :])

    inputs = (1, None)

    def infer(self, a, xs, names=()):
        first = xs[0]
        for s, n in zip(xs[1:], names[1:]):
            if tuple(s) != tuple(first):
                raise LayerError(
                    f"cannot stack '{names[0]}' {dims(first)} with '{n}' {dims(s)}: the "
                    "shapes must be equal",
                    "from",
                )
        d = norm_dim(a["dim"], len(first) + 1, "dim")
        return Out(shape=(*first[:d], len(xs), *first[d:]))

    def explain(self, a, xs, out):
        return [
            f"{len(xs)} tensors of shape {dims(xs[0])} stacked along a new dim {a['dim']}: "
            f"{dims(out)}"
        ]


class Split(Strided):
    """torch.split (sizes, or one size repeated with a shorter last part) and torch.chunk: views
    along ``dim``."""

    passes_grad = False  # its backward concatenates the parts' gradients

    def module(self, kwargs):
        return "Split", kwargs

    def parts(self, a, x) -> list[int]:
        if not x:
            raise LayerError("cannot split a 0-D tensor")
        d = norm_dim(a["dim"], len(x), "dim")
        n = x[d]
        if self.type == "Chunk":
            size = -(-n // a["chunks"])
            return [min(size, n - i) for i in range(0, n, size)]
        sec = a["split_size_or_sections"]
        if isinstance(sec, int):
            return [min(sec, n - i) for i in range(0, n, sec)]
        if sum(sec) != n or any(s < 0 for s in sec):
            raise LayerError(
                f"split_size_or_sections {list(sec)} sums to {sum(sec)}, but dim "
                f"{a['dim']} of the incoming tensor {dims(x)} has {n}",
                "split_size_or_sections",
            )
        if any(s == 0 for s in sec):
            raise LayerError(
                f"split_size_or_sections {list(sec)} gives an empty part", "split_size_or_sections"
            )
        return list(sec)

    def infer(self, a, x):
        sizes = self.parts(a, x)
        d = a["dim"] % len(x)
        outs = [(*x[:d], s, *x[d + 1 :]) for s in sizes]
        return Out(shape=outs[0], outputs=outs, rf="same", mixes_dim=d)

    def layout(self, a, x, stride, out):
        return stride

    def explain(self, a, x, out):
        sizes = self.parts(a, x)
        d = a["dim"] % len(x)
        how = (
            f"into {a['chunks']} chunks of ⌈{x[d]}/{a['chunks']}⌉"
            if self.type == "Chunk"
            else "as " + " + ".join(map(str, sizes))
        )
        return [
            f"dim {a['dim']} ({x[d]}) split {how}: {len(sizes)} outputs, each a view of its part",
            *(
                f"output {k} (name it '{{name}}:{k}'): {dims((*x[:d], s, *x[d + 1 :]))}"
                for k, s in enumerate(sizes)
            ),
        ]


class Unbind(DropsDim):
    """torch.unbind: one output per position along ``dim``, that dim removed (views)."""

    def infer(self, a, x):
        if not x:
            raise LayerError("cannot unbind a 0-D tensor")
        d = norm_dim(a["dim"], len(x), "dim")
        if x[d] > 4096:
            raise LayerError(
                f"dim {a['dim']} has {x[d]:,} positions: more outputs than a spec can name (4,096)",
                "dim",
            )
        one = (*x[:d], *x[d + 1 :])
        return Out(shape=one, outputs=[one] * x[d], mixes_dim=None)

    def explain(self, a, x, out):
        d = a["dim"] % len(x)
        return [
            f"dim {a['dim']} ({x[d]}) taken apart: {x[d]} outputs '{{name}}:0' ... of "
            f"shape {dims(out)}, each a view"
        ]


_VALUE = {"value": (optional(number()), None)}

register(
    Elementwise2("Add", dict(_VALUE)),
    Elementwise2("Mul", dict(_VALUE)),
    Elementwise2("Sub", dict(_VALUE)),
    Elementwise2("Div", dict(_VALUE)),
    Extremum("Maximum", {}),
    Extremum("Minimum", {}),
    Stack("Stack", {"dim": (integer(None), 0)}),
    Cat("Cat", {"dim": (integer(None), 1)}),
    Split("Split", {"split_size_or_sections": (_sections, REQUIRED), "dim": (integer(None), 0)}),
    Split("Chunk", {"chunks": (integer(), REQUIRED), "dim": (integer(None), 0)}),
    MatMul("MatMul", {}),
    Unbind("Unbind", {"dim": (integer(None), 0)}),
    Parameter("Parameter", {"shape": (_param_shape, REQUIRED)}),
)
