"""Named input dims (``input: [N, 3, H, W]``): every layer's shape as a formula of the names.

Each name is swept over the sizes the net accepts (the others at a size that works), every layer's
own rule
deciding each size (``sizes.sweep``, recording each layer's output); each output dim is then written
in the
one form that fits *every* swept size exactly: a constant, ``a·X + b``, or ``a·⌊(X + b)/s⌋ + c``
(what floor
rounding composes to). A dim that depends on several names is the product its Flatten takes, or is
said to
vary. Parameters and MACs are a number where the names leave them alone, else a coefficient times
the
product of the output dims (checked at every swept size), else said to vary. Nothing here is
guessed: a
formula is printed only where it equals the rules at every size of the sweep, and the sweep's range
is said.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction

from ..diagnostics import SpecError
from ..layers.base import prod
from ..model import Spec
from .runs import describe_set
from .sizes import sweep

# the sizes each name is swept over: 1..HI (a batch name: 1..8), fewer for a net of many layers
HI = 512
BATCH_HI = 8
WORK = 100_000  # layer rules one sweep may run per name (a 10,000-layer net is swept over 1..10)


class Slim:
    """What a sweep records of one layer's result at a size: its shape, parameter count, MACs,
    flatten."""

    __slots__ = ("shape", "params", "macs", "flattened")

    def __init__(self, out):
        self.shape, self.macs, self.flattened = tuple(out.shape), out.macs, out.flattened
        self.params = sum(prod(sh) for _, sh in out.params)


@dataclass
class Term:
    """``a·⌊(X + b)/s⌋ + c`` (s = 1: ``a·X + c``); a constant when ``name`` is None."""

    name: str | None
    a: int = 0
    b: int = 0
    s: int = 1
    c: int = 0

    def __call__(self, x: int) -> int:
        return self.c if self.name is None else self.a * ((x + self.b) // self.s) + self.c

    def text(self) -> str:
        if self.name is None:
            return str(self.c)
        x, sign = self.name, lambda v: f"{'+' if v > 0 else '−'} {abs(v)}"
        if self.s == 1:
            core = x if self.b == 0 else f"({x} {sign(self.b)})"
        else:
            core = f"⌊({x} {sign(self.b)})/{self.s}⌋" if self.b else f"⌊{x}/{self.s}⌋"
        core = core if self.a == 1 else f"{self.a}·{core}"
        return f"{core} {sign(self.c)}" if self.c else core


def fit(name: str, xs: list[int], ys: list[int]) -> Term | None:
    """The simplest term equal to ``ys`` at every one of ``xs`` (sorted), or None."""
    if len(set(ys)) == 1:
        return Term(None, c=ys[0])
    pts = list(zip(xs, ys))
    # a·X + c with integer a
    (x0, y0), (x1, y1) = pts[0], pts[-1]
    slope = Fraction(y1 - y0, x1 - x0)
    if slope.denominator == 1:
        t = Term(name, a=int(slope), c=y0 - int(slope) * x0)
        if all(t(x) == y for x, y in pts):
            return t
    # a·⌊(X + b)/s⌋ + c: from the jumps between neighbouring sizes (their spacing is s, their height
    # a); where the
    # sizes that fit step by d (a net that takes even sizes only), neighbours are d apart and s, b
    # scale by d
    import math

    d = 0
    for (px, _), (x, _) in zip(pts, pts[1:]):
        d = math.gcd(d, x - px)
    jumps = [(x, y - py) for (px, py), (x, y) in zip(pts, pts[1:]) if y != py and x == px + d]
    candidates = []
    if len(jumps) >= 2:
        sk = (jumps[1][0] - jumps[0][0]) // d
        bk = (-((jumps[0][0] - x0) // d)) % sk
        candidates.append((jumps[0][1], d * sk, d * bk - x0))
    # sizes that are not neighbours (a net taking only multiples of 16): the slope's denominator is
    # the step
    if slope.denominator > 1:
        s = slope.denominator * (1 if not jumps else 1)
        for b in range(s):
            candidates.append((slope.numerator, s, b))
    for a, s, b in candidates:
        if a == 0 or s < 2:
            continue
        b %= s
        c = y0 - a * ((x0 + b) // s)
        t = Term(name, a=a, b=b, s=s, c=c)
        if all(t(x) == y for x, y in pts):
            if (
                t.b > 0
            ):  # the same term with a subtracted offset: ⌊(H − 1)/32⌋ + 1 rather than ⌊(H + 31)/32⌋
                t = Term(name, a=t.a, b=t.b - t.s, s=t.s, c=t.c + t.a)
            return t
    return None


@dataclass
class Row:
    name: str
    type: str
    shape: list[str]
    params: str
    macs: str
    terms: list = dataclasses.field(
        default_factory=list
    )  # per dim: a Term, or ("product", row, start, end)

    def at(self, rows: list, sizes: dict) -> tuple:
        """The shape at given sizes of the names, from the formulas (what the tests hold against
        torch)."""
        out = []
        for t in self.terms:
            if isinstance(t, Term):
                out.append(t(sizes[t.name]) if t.name else t.c)
            elif isinstance(t, tuple):
                _, src, start, end = t
                dims = (
                    src.at(rows, sizes)
                    if isinstance(src, Row)
                    else tuple(sizes[v] if v in sizes else int(v) for v in src)
                )
                out.append(prod(dims[start : end + 1]))
            else:
                raise ValueError(f"no formula for a dim of {self.name}")
        return tuple(out)


@dataclass
class Result:
    name: str | None
    input: list[str]
    rows: list[Row]
    base: dict  # name -> the size the other names stood at while one was swept
    constraints: list[str]
    notes: list[str]
    valid: dict = dataclasses.field(
        default_factory=dict
    )  # name -> the sizes that fit, the others at base


def formulas(spec: Spec) -> Result:
    """Every layer's shape, parameters and MACs as formulas of the named input dims."""
    names = dict(spec.symbols)
    batch = [k for k, d in names.items() if d == [0] and len(spec.input) >= 3]
    spatial = [k for k in names if k not in batch]
    base = {k: 1 for k in batch}
    hi_spatial = max(8, min(HI, WORK // max(len(spec.layers), 1)))
    # a size every spatial name can take at once: the one nearest 224 of those that work together
    if spatial:
        together = [d for k in spatial for d in names[k]]
        ok = sweep(_with(spec, base), [], 1, hi_spatial, dims=together, freeze=False).valid
        if not ok:
            raise SpecError(
                f"no size from 1 to {hi_spatial} of {', '.join(spatial)} (all at once) "
                "gives a net that fits; `cnncalc sizes` says why",
                spec.input_pos,
            )
        v = min(ok, key=lambda s: (abs(s - 224), -s))
        base.update({k: v for k in spatial})
    per_layer: list[dict] = [
        {} for _ in spec.layers
    ]  # layer -> name -> [(size, Slim)] at the sizes that fit
    constraints, notes = [], []
    accepted: dict = {}
    for k in [*batch, *spatial]:
        others = {o: v for o, v in base.items() if o != k}
        s = _with(spec, others)
        seen: dict = {}

        def record(i, out, xs, seen=seen):
            seen.setdefault(i, []).append((xs, Slim(out)))

        hi = BATCH_HI if k in batch else hi_spatial
        sw = sweep(s, [], 1, hi, dims=names[k], record=record)
        valid = sw.valid
        accepted[k] = valid
        held = ", ".join(f"{o} = {v}" for o, v in others.items())
        constraints.append(
            f"{k}: {describe_set(valid, 1, hi)}" + (f" (with {held})" if held else "")
        )
        ok_x = set(valid)
        for i, groups in seen.items():
            per_layer[i][k] = sorted(
                ((x, o) for xs, o in groups for x in xs if x in ok_x), key=lambda p: p[0]
            )
    rows = []
    for i, layer in enumerate(spec.layers):
        seen = per_layer[i]
        base_out = _at_base(seen, base)
        if base_out is None:
            rows.append(Row(layer.name, layer.type, ["?"], "?", "?"))
            continue
        shape = []
        terms_of_dim = []
        for d in range(len(base_out.shape)):
            ts = {}
            for k, samples in seen.items():
                if len(samples[0][1].shape) != len(base_out.shape):
                    continue
                t = fit(k, [x for x, _ in samples], [o.shape[d] for _, o in samples])
                ts[k] = t
            varying = {k: t for k, t in ts.items() if t is None or t.name is not None}
            if not varying:
                shape.append(str(base_out.shape[d]))
                terms_of_dim.append(Term(None, c=base_out.shape[d]))
            elif len(varying) == 1 and all(varying.values()):
                ((k, t),) = varying.items()
                shape.append(t.text())
                terms_of_dim.append(t)
            elif base_out.flattened and d == _flat_dim(layer, base_out):
                text, term = _product(layer, i, spec, rows)
                shape.append(text)
                terms_of_dim.append(term)
            else:
                shape.append(
                    f"varies with {', '.join(varying)} ({base_out.shape[d]} at the base sizes)"
                )
                terms_of_dim.append(None)
        params = _count(seen, base_out, lambda o: o.params, shape)
        macs = _count(seen, base_out, lambda o: o.macs, shape)
        if (
            layer.type == "Linear" and "varies" in params + macs
        ):  # in_features follows the names: the rule, written
            src = layer.inputs[0] if layer.inputs else (spec.layers[i - 1].name if i else "input")
            feats = next((r.shape for r in rows if r.name == src), None)
            if feats is not None and not feats[-1].isdigit() and "varies" not in feats[-1]:
                out_f, f = layer.args["out_features"], f"({feats[-1]})"
                params = f"{out_f:,} · {f}" + (f" + {out_f:,}" if layer.args["bias"] else "")
                rest = [t if " " not in t else f"({t})" for t in shape[:-1] if not t.isdigit()]
                const = prod(int(t) for t in shape[:-1] if t.isdigit())
                macs = " · ".join([f"{out_f * const:,}", *rest, f])
        rows.append(Row(layer.name, layer.type, shape, params, macs, terms_of_dim))
    notes.append(
        f"each name swept over 1..{hi_spatial if spatial else BATCH_HI} with the others "
        f"held at {', '.join(f'{k} = {v}' for k, v in base.items())}; "
        "every formula equals the layers' rules at every swept size that fits"
    )
    return Result(spec.name, _written(spec, spec.input), rows, base, constraints, notes, accepted)


def _written(spec: Spec, shape) -> list[str]:
    """The input as written: its names where it has them."""
    by_dim = {d: k for k, ds in spec.symbols.items() for d in ds}
    return [by_dim.get(i, str(v)) for i, v in enumerate(shape)]


def _with(spec: Spec, values: dict) -> Spec:
    """The spec with these names at these sizes (the sweep sets the one it varies)."""
    shape = list(spec.input)
    for k, ds in spec.symbols.items():
        for d in ds if k in values else ():
            shape[d] = values[k]
    return dataclasses.replace(spec, input=tuple(shape), symbols={})


def _at_base(seen: dict, base: dict):
    for k, samples in seen.items():
        for x, o in samples:
            if x == base[k]:
                return o
    return None


def _flat_dim(layer, out) -> int:
    """The output dim a Flatten writes its product into."""
    start = layer.args.get("start_dim", 1)
    return start % (len(out.shape) + len(out.flattened) - 1)


def _product(layer, i, spec, rows) -> tuple:
    """A Flatten's product: the formulas of the dims it multiplies (its input's, as the rows
    above give them)."""
    src = layer.inputs[0] if layer.inputs else (spec.layers[i - 1].name if i else "input")
    row = None
    if src == "input":
        dims = _written(spec, spec.input)
    else:
        row = next((r for r in rows if r.name == src), None)
        if row is None:
            return "?", None
        dims = row.shape
    n = len(dims)
    start = layer.args.get("start_dim", 1) % n
    end = layer.args.get("end_dim", -1) % n
    parts = [f"({t})" if " " in t else t for t in dims[start : end + 1]]
    consts = [int(t) for t in parts if t.isdigit()]
    names = [t for t in parts if not t.isdigit()]
    head = [f"{prod(consts):,}"] if consts and prod(consts) != 1 or not names else []
    return " · ".join(head + names), ("product", row if row is not None else dims, start, end)


def _count(seen: dict, base_out, value, shape) -> str:
    """A number, or a coefficient times the varying output dims, checked at every swept size;
    else 'varies'."""
    at = {k: [(x, value(o), o) for x, o in samples] for k, samples in seen.items()}
    varying = [k for k, vs in at.items() if len({v for _, v, _ in vs}) > 1]
    if not varying:
        return f"{value(base_out):,}"
    dims = [d for d, text in enumerate(shape) if not text.isdigit()]
    size = prod(base_out.shape[d] for d in dims) or 1
    coef = Fraction(value(base_out), size)
    for k in varying:
        for _, v, o in at[k]:
            if len(o.shape) != len(base_out.shape) or Fraction(v) != coef * prod(
                o.shape[d] for d in dims
            ):
                return "varies with " + ", ".join(varying)
    parts = [f"{coef}" if coef.denominator > 1 else f"{int(coef):,}"] + [
        f"({shape[d]})" if " " in shape[d] else shape[d] for d in dims
    ]
    return " · ".join(parts)
