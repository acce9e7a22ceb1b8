"""Einsum: torch.einsum of one or more activations, its output shape by the equation (broadcasting
size-1 dims, ``...`` for the leading dims) and its MACs as torch computes it.

torch (without opt_einsum) contracts the operands left to right: a label that no later operand
and not the output has is summed out as soon as it can be (no product), two operands that share
no summed label are multiplied element-wise (no product), and the others meet in one ``bmm``
(batch: the labels both keep; rows and columns: those only one keeps; inner: the summed ones),
which FlopCounterMode counts (so is the ``dot`` of two operands summed whole).
"""

from __future__ import annotations

from .base import REQUIRED, Kind, LayerError, Out, dims, prod, register, schema


@schema({"type": "string", "minLength": 1})
def _equation(v, key):
    if not isinstance(v, str) or not v.strip() or len(v) > 500:
        raise LayerError(f"{key} must be an einsum equation like 'bij,bjk->bik', found {v!r}", key)
    return v.replace(" ", "")


def _terms(eq: str, xs) -> tuple[list[list[str]], list[str]]:
    """Each operand's labels (``...`` as labels of its own, right-aligned) and the output's."""
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(xs):
        raise LayerError(f"the equation has {len(terms)} operands, from lists {len(xs)}", "from")
    spans = []
    for term, x in zip(terms, xs):
        letters = term.replace("...", "")
        if not all(c.isalpha() and c.isascii() for c in letters) or term.count("...") > 1:
            raise LayerError(f"cannot read the einsum term '{term}'", "equation")
        rest = len(x) - len(letters)
        if rest < 0 or (rest and "..." not in term):
            raise LayerError(
                f"the term '{term}' has {len(letters)} labels, its operand {dims(x)} {len(x)} dims",
                "equation",
            )
        spans.append(rest)
    width = max(spans) if any("..." in t for t in terms) else 0
    ell = [f"…{k}" for k in range(width)]
    labels = []
    for term, rest in zip(terms, spans):
        head, _, tail = term.partition("...")
        labels.append([*head, *(ell[width - rest :] if "..." in term else []), *tail])
    if arrow:
        head, _, tail = rhs.partition("...")
        if not all(c.isalpha() and c.isascii() for c in head + tail) or rhs.count("...") > 1:
            raise LayerError(f"cannot read the einsum output '{rhs}'", "equation")
        if ell and "..." not in rhs and any(s for s in spans):
            raise LayerError("the output must keep '...' when the operands have it", "equation")
        out = [*head, *(ell if "..." in rhs else []), *tail]
        seen = {c for ls in labels for c in ls}
        bad = [c for c in out if c not in seen] + [c for c in set(out) if out.count(c) > 1]
        if bad:
            raise LayerError(
                f"the output label '{bad[0]}' is not in the inputs or repeats", "equation"
            )
    else:
        count = {}
        for ls in labels:
            for c in dict.fromkeys(ls):
                count[c] = count.get(c, 0) + ls.count(c)
        out = ell + sorted(c for c in count if count[c] == 1 and not c.startswith("…"))
    return labels, out


class Einsum(Kind):
    inputs = (1, None)

    def infer(self, a, xs, names=()):
        labels, out = _terms(a["equation"], xs)
        size: dict[str, int] = {}
        ops = []
        for ls, x in zip(labels, xs):
            own: dict[str, int] = {}
            for c, s in zip(ls, x):
                if own.get(c, s) != s:
                    raise LayerError(f"label '{c}' is {own[c]} and {s} in one operand", "equation")
                own[c] = s
                if s != 1 and size.get(c, 1) not in (1, s):
                    raise LayerError(
                        f"label '{c}' is {size[c]} in one operand and {s} in another", "equation"
                    )
                size[c] = max(size.get(c, 1), s)
            ops.append(own)
        summed = [c for c in size if c not in out]
        # the last operand in which a summed label has a size above 1 (size-1 dims broadcast)
        last = {
            c: max((i for i, own in enumerate(ops) if own.get(c, 1) > 1), default=0) for c in summed
        }
        # the result so far: label -> size (labels it lacks are size 1)
        result = {c: s for c, s in ops[0].items() if c in out or last[c] > 0}
        macs = 0
        for i, own in enumerate(ops[1:], 1):
            right = {c: s for c, s in own.items() if c in out or last[c] >= i}
            inner = []
            for c in [c for c in summed if last[c] == i]:
                if result.get(c, 1) == 1 or right.get(c, 1) == 1:
                    result.pop(c, None)  # summed within one side, or squeezed: no product
                    right.pop(c, None)
                else:
                    inner.append(c)
            keys = dict.fromkeys([*result, *right])
            if not inner:
                result = {c: max(result.get(c, 1), right.get(c, 1)) for c in keys}
                continue
            rest = [c for c in keys if c not in inner]
            both = prod(size[c] for c in rest if result.get(c, 1) > 1 and right.get(c, 1) > 1)
            lo = prod(result.get(c, 1) for c in rest if right.get(c, 1) == 1)
            ro = prod(right.get(c, 1) for c in rest if result.get(c, 1) == 1)
            macs += both * lo * ro * prod(size[c] for c in inner)
            result = {c: max(result.get(c, 1), right.get(c, 1)) for c in rest}
        shape = tuple(size[c] for c in out)
        return Out(shape=shape, macs=macs)

    def explain(self, a, xs, out):
        return [f"einsum '{a['equation']}' of {', '.join(map(dims, xs))} -> {dims(out)}"]

    def module(self, kwargs):
        return "Einsum", kwargs


register(Einsum("Einsum", {"equation": (_equation, REQUIRED)}))
