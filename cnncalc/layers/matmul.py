"""Products and learned tensors: MatMul of two activations (batch dims broadcast) and Parameter
(a tensor a layer owns), with the broadcasting rule the element-wise merges share."""

from __future__ import annotations

from .base import (
    Kind,
    LayerError,
    Out,
    contiguous,
    dims,
    prod,
    schema,
    view_strides,
)


def broadcast(shapes, names) -> tuple[int, ...]:
    """torch's broadcasting: align on the right; each dim equal, or 1."""
    ndim = max(len(s) for s in shapes)
    out = []
    for j in range(ndim):
        sizes = [(s[len(s) - ndim + j], n) for s, n in zip(shapes, names) if len(s) - ndim + j >= 0]
        big = [(v, n) for v, n in sizes if v != 1]
        if any(v != big[0][0] for v, _ in big):
            (v1, n1), (v2, n2) = big[0], next((v, n) for v, n in big if v != big[0][0])
            raise LayerError(
                f"cannot broadcast '{n1}' {dims(shapes[names.index(n1)])} with '{n2}' "
                f"{dims(shapes[names.index(n2)])}: dim {j - ndim} is {v1} against {v2}",
                "from",
            )
        out.append(big[0][0] if big else 1)
    return tuple(out)


class MatMul(Kind):
    """torch.matmul of two activations: 1-D operands gain and lose a dim, batch dims broadcast."""

    autocast = "low"

    inputs = (2, 2)

    def infer(self, a, xs, names=()):
        p, q = xs
        if not p or not q:
            raise LayerError(
                f"both operands must be at least 1-D, found {dims(p)} and {dims(q)}", "from"
            )
        pa = (1, *p) if len(p) == 1 else p
        qa = (*q, 1) if len(q) == 1 else q
        if pa[-1] != qa[-2]:
            raise LayerError(
                f"cannot multiply '{names[0]}' {dims(p)} by '{names[1]}' {dims(q)}: "
                f"{pa[-1]} columns against {qa[-2]} rows",
                "from",
            )
        batch = broadcast([pa[:-2], qa[:-2]], list(names)) if len(pa) > 2 or len(qa) > 2 else ()
        out = (*batch, *((pa[-2],) if len(p) > 1 else ()), *((qa[-1],) if len(q) > 1 else ()))
        # FlopCounterMode counts mm and bmm; a 1-D right operand makes torch use dot or mv, which it
        # does not count
        counted = len(q) >= 2
        macs = prod(batch) * pa[-2] * pa[-1] * qa[-1] if counted else 0
        return Out(shape=out, macs=macs)

    needs_strides = True

    def saves(self, a, xs, out, grads, strides=(None, None)):
        """Each operand's gradient needs the other, as torch.matmul reshapes it for mm/bmm: the
        operand itself
        where that reshape is a view of it, else the copy the reshape made (measured: torch
        2.13)."""
        p, q = xs
        sp = strides[0] or contiguous(p)
        sq = strides[1] or contiguous(q)

        def kept(k, shape, stride, target):
            return (
                ("in", k)
                if view_strides(shape, stride, target) is not None
                else ("new", target, "act")
            )

        keep = []
        if len(p) <= 2 and len(q) <= 2:  # dot, mv, mm: the operands as they are
            return [("in", 1)] * bool(grads[0]) + [("in", 0)] * bool(grads[1])
        if len(p) >= 3 and len(q) <= 2:  # p's batch folds into its rows: one mm
            if grads[0]:
                keep.append(("in", 1))
            if grads[1]:
                keep.append(kept(0, p, sp, (prod(p[:-1]), p[-1])))
            return keep
        if len(q) >= 3 and len(p) <= 2:  # q's batch folds into the rows of q.mT: one mm
            qt = (*q[:-2], q[-1], q[-2])
            st = (*sq[:-2], sq[-1], sq[-2])
            if grads[0]:
                keep.append(kept(1, qt, st, (prod(q[:-2]) * q[-1], q[-2])))
            if grads[1]:
                keep.append(("in", 0))
            return keep
        batch = out[: len(out) - 2] if len(q) > 1 else out[: len(out) - 1]
        for k, x, stx in ((1, q, sq), (0, p, sp)):
            if not grads[1 - k]:
                continue
            xa, sa = ((1, *x), (x[0] * stx[0], *stx)) if len(x) == 1 else (x, stx)
            full = (*batch, *xa[-2:])
            lead = len(full) - len(xa)
            fs = tuple(
                0 if i < lead or (xa[i - lead] == 1 and full[i] != 1) else sa[i - lead]
                for i in range(len(full))
            )
            keep.append(kept(k, full, fs, (prod(batch), *xa[-2:])))
        return keep

    def forward_temps(self, a, xs, out, grads=(), strides=()):
        # an operand's batched copy that its partner's gradient does not need (both batched)
        if len(xs[0]) <= 2 or len(xs[1]) <= 2:
            return []
        keep = self.saves(a, xs, out, [True, True], strides or (None, None))
        need = self.saves(a, xs, out, list(grads), strides or (None, None)) if grads else []
        return [("before", i[1], "act") for i in keep if i[0] == "new" and i not in need]

    def backward(self, a, xs, out, grads):
        # batched: each operand's gradient comes out of bmm at the broadcast batch shape, then
        # summed down to the operand's own
        p, q = xs
        if len(p) <= 2 or len(q) <= 2:
            return [("grad", k) for k, g in enumerate(grads) if g]
        batch = out[: len(out) - 2]
        full = [("grad", k, (*batch, *x[-2:])) for k, (g, x) in enumerate(zip(grads, xs)) if g]
        # the sums are expand's backward: a node of its own, after this one lets go
        return [*full, ("release", "sums after")]

    def explain(self, a, xs, out):
        p, q = xs
        return [f"matrix product {dims(p)} @ {dims(q)} = {dims(out)}; batch dims broadcast"]

    def module(self, kwargs):
        return "MatMul", {}


@schema({"type": "array", "items": {"type": "integer", "minimum": 1}})
def _param_shape(v, key):
    if isinstance(v, list) and all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in v
    ):
        return tuple(v)
    raise LayerError(f"{key} must be a list of positive sizes, found {v!r}", key)


class Parameter(Kind):
    """A parameter a module owns without a submodule (layer scale, class token): its name is the
    layer's."""

    inputs = (0, 0)

    def infer(self, a, xs, names=()):
        return Out(shape=a["shape"], params=[("", a["shape"])])

    def explain(self, a, xs, out):
        return [
            f"a learned tensor {dims(out)} = {prod(out):,} parameters, named as the layer "
            "(no suffix)"
        ]

    def module(self, kwargs):
        return "Param", {"shape": kwargs["shape"]}
