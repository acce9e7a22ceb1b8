"""The graph layers torch.nn lacks as modules: Add, Mul (broadcasting) and Cat."""

from __future__ import annotations

from .base import Kind, LayerError, Out, dims, integer, norm_dim, register


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
                f"cannot broadcast '{n1}' {dims(shapes[names.index(n1)])} with '{n2}' {dims(shapes[names.index(n2)])}: "
                f"dim {j - ndim} is {v1} against {v2}",
                "from",
            )
        out.append(big[0][0] if big else 1)
    return tuple(out)


class Elementwise2(Kind):
    inputs = 0

    def infer(self, a, xs, names=()):
        return Out(shape=broadcast(xs, list(names)), rf="same")

    def explain(self, a, xs, out):
        what = "sum" if self.type == "Add" else "product"
        same = all(tuple(x) == tuple(out) for x in xs)
        return [
            f"element-wise {what} of {len(xs)} tensors" + ("" if same else f", broadcast to {dims(out)} (sizes of 1 stretch)")
        ]

    def saves(self, a, xs, out, grads):
        if self.type == "Add":
            return []
        # (x0 · x1) · x2 ...: each product keeps the factor the other side's gradient needs
        items, acc_grad, acc = [], grads[0], ("in", 0)
        for k in range(1, len(xs)):
            if acc_grad:
                items.append(("in", k))
            if grads[k]:
                items.append(acc)
            acc_grad = acc_grad or grads[k]
            acc = ("new", broadcast(xs[: k + 1], [str(j) for j in range(k + 1)]), "act") if k + 1 < len(xs) else None
        return items

    def module(self, kwargs):
        from ..bridge.modules import Add, Mul

        return {"Add": Add, "Mul": Mul}[self.type]()


class Cat(Kind):
    inputs = 0

    def infer(self, a, xs, names=()):
        first = xs[0]
        d = norm_dim(a["dim"], len(first), "dim")
        for s, n in zip(xs[1:], names[1:]):
            if len(s) != len(first) or any(u != v for j, (u, v) in enumerate(zip(s, first)) if j != d):
                raise LayerError(
                    f"cannot concatenate '{names[0]}' {dims(first)} with '{n}' {dims(s)} along dim {a['dim']}: "
                    "all other dims must be equal",
                    "from",
                )
        out = list(first)
        out[d] = sum(s[d] for s in xs)
        return Out(shape=tuple(out), rf="same", mixes_dim=d)

    def explain(self, a, xs, out):
        d = a["dim"] % len(out)
        return [f"concatenated along dim {a['dim']}: {' + '.join(str(x[d]) for x in xs)} = {out[d]}; the other dims stay"]

    def module(self, kwargs):
        from ..bridge.modules import Cat

        return Cat(**kwargs)


register(Elementwise2("Add", {}), Elementwise2("Mul", {}), Cat("Cat", {"dim": (integer(None), 1)}))
