"""Groups drawn as frames that nest or stand apart, never cross.

A group is laid out as a unit: every row's order keeps a group's members together (the groups
form a tree; siblings are ordered by where their members sit, and each row takes the tree's
order), and in every row the group spans, a left and a right border stand around what it holds,
one border variable for all its rows: the frame is a rectangle, and whatever stands beside it in
any of its rows (a layer named outside the group, an edge passing) stays outside. The borders are
solved with the boxes as difference constraints (packed from the left and from the right, the
mean of the two), then each frame is shrunk to the smallest one around its members and its
title. Above a group's first row a band holds its title (nested titles stacked), below its last
row a band keeps the frames apart: the gaps between rows stay free for the edges' labels.
"""

from __future__ import annotations

from dataclasses import dataclass

from .rows import GAP_X

PADX = 8  # a frame's side to what it holds
GAPF = 12  # a frame's side to what stands beside it
HEAD_H = 22  # a frame's title band (its text, then room for the arrowheads below it)
FOOT_H = 8  # below a frame's last row, per frame ending there
INF = float("inf")


@dataclass
class Tree:
    chain: dict  # node -> the groups holding it, outermost first
    parent: dict  # group -> the group around it (None at the top)
    span: dict  # group -> (first row, last row)
    size: dict  # group -> members
    heads: dict  # group -> title band index from the boxes up (1: just above them)
    feet: dict  # group -> foot band index from the boxes down


def tree(groups: dict, rank: dict) -> Tree:
    """The groups as a tree (they nest or are apart: dotted prefixes), with their rows."""
    order = _outermost_first(groups)
    chain = chains(groups)
    parent = {}
    for g in order:
        c = chain[groups[g][0]]
        i = c.index(g)
        parent[g] = c[i - 1] if i else None
    span = {g: (min(rank[m] for m in ms), max(rank[m] for m in ms)) for g, ms in groups.items()}
    heads: dict = {}
    feet: dict = {}
    for g in reversed(order):  # the inner ones first
        heads.setdefault(g, 1)
        feet.setdefault(g, 1)
        p = parent[g]
        if p is not None:
            if span[p][0] == span[g][0]:
                heads[p] = max(heads.get(p, 1), heads[g] + 1)
            if span[p][1] == span[g][1]:
                feet[p] = max(feet.get(p, 1), feet[g] + 1)
    return Tree(chain, parent, span, {g: len(ms) for g, ms in groups.items()}, heads, feet)


def _outermost_first(groups: dict) -> list:
    return sorted(groups, key=lambda g: (-len(groups[g]), g.count("."), g))


def chains(groups: dict) -> dict:
    """Node -> the groups holding it, outermost first."""
    out: dict = {}
    for g in _outermost_first(groups):
        for m in groups[g]:
            out.setdefault(m, []).append(g)
    return out


def owner(t: Tree, item, edges: list):
    """The innermost group an item belongs to: a node's own; an edge slot's, the innermost group
    holding both ends of its edge (None: the top level)."""
    if isinstance(item, tuple) and item and item[0] == "dummy":
        u, v = edges[item[1]]
        cu, cv = t.chain.get(u, []), t.chain.get(v, [])
        common = None
        for a, b in zip(cu, cv):
            if a != b:
                break
            common = a
        return common
    c = t.chain.get(item)
    return c[-1] if c else None


def flatten(t: Tree, items: list, own: dict, key: dict) -> list:
    """Every item and every group's borders ``("[", g)``, ``("]", g)`` in one sequence: each
    group's contents together, siblings in the order of ``key`` (the mean of their members')."""
    kids: dict = {}
    for it in items:
        kids.setdefault(own[it], []).append(it)
    for g, p in t.parent.items():
        kids.setdefault(p, []).append(("[", g))
    total: dict = {}
    for it in items:  # a group's key: the mean of its items' keys
        g = own[it]
        while g is not None:
            s, n = total.get(g, (0.0, 0))
            total[g] = (s + key[it], n + 1)
            g = t.parent[g]

    def k(e):
        if e[0] == "[" and len(e) == 2 and e[1] in t.parent:
            s, n = total.get(e[1], (0.0, 1))
            return s / n
        return key[e]

    out: list = []
    stack = [(None, iter(sorted(kids.get(None, []), key=k)))]
    while stack:
        g, it = stack[-1]
        e = next(it, None)
        if e is None:
            stack.pop()
            if g is not None:
                out.append(("]", g))
            continue
        if isinstance(e, tuple) and e[0] == "[" and len(e) == 2 and e[1] in t.parent:
            out.append(e)
            stack.append((e[1], iter(sorted(kids.get(e[1], []), key=k))))
        else:
            out.append(e)
    return out


def _marker(e) -> str:
    return e[0] if isinstance(e, tuple) and len(e) == 2 and e[0] in "[]" else ""


def solve(t: Tree, flat: list, own: dict, rank: dict, x: dict, w: dict, head_w: dict) -> dict:
    """Positions for every item (centres) and border (x) that keep each row's order and gaps and
    hold each group's items ``PADX`` inside its borders, its neighbours ``GAPF`` outside, its
    title within; from ``x`` as wanted. Returns the borders: group -> (left, right)."""
    where = {e: i for i, e in enumerate(flat)}
    seqs: dict = {}
    for e in flat:
        m = _marker(e)
        if not m:
            seqs.setdefault(rank[e], []).append(e)
        elif m == "[":
            r1, r2 = t.span[e[1]]
            for r in range(r1, r2 + 1):
                seqs.setdefault(r, []).append(e)
                seqs[r].append(("]", e[1]))
    pred: dict = {}
    succ: dict = {}
    for seq in seqs.values():
        seq.sort(key=where.__getitem__)
        for p, q in zip(seq, seq[1:]):
            pred.setdefault(q, []).append(p)
            succ.setdefault(p, []).append(q)

    def half(e):
        return 0.0 if _marker(e) else w[e][0] / 2

    def sep(p, q):
        if _marker(p) == "[" or _marker(q) == "]":
            return PADX
        if _marker(p) == "]" or _marker(q) == "[":
            return GAPF
        return GAP_X

    lo, hi = _reach(flat, own, x, half, t.parent)  # what each group wants, around its items
    left: dict = {}
    for e in flat:
        b = max((left[p] + half(p) + sep(p, e) for p in pred.get(e, ())), default=-INF)
        m = _marker(e)
        if not m:
            left[e] = max(x[e], b + half(e))
        elif m == "[":
            left[e] = max(lo.get(e[1], b), b)
        else:
            left[e] = max(b, left[("[", e[1])] + head_w[e[1]])
    right: dict = {}
    for e in reversed(flat):
        b = min((right[s] - half(s) - sep(e, s) for s in succ.get(e, ())), default=INF)
        m = _marker(e)
        if not m:
            right[e] = min(x[e], b - half(e))
        elif m == "]":
            right[e] = min(hi.get(e[1], b), b)
        else:
            right[e] = min(b, right[("]", e[1])] - head_w[e[1]])
    for e in flat:
        if not _marker(e):
            x[e] = (left[e] + right[e]) / 2
    borders = {}
    for g in sorted(t.parent, key=t.size.__getitem__):  # inner ones first: shrink to the members
        a = (left[("[", g)] + right[("[", g)]) / 2
        b = (left[("]", g)] + right[("]", g)]) / 2
        borders[g] = [a, b]
    inner_lo, inner_hi = _reach(flat, own, x, half, {})  # its own items (frames added below)
    for g in sorted(t.parent, key=t.size.__getitem__):
        a, b = borders[g]
        na, nb = inner_lo.get(g, a), inner_hi.get(g, b)
        if nb - na < head_w[g]:  # room for the title, within the solved borders
            nb = min(b, na + head_w[g])
            na = nb - head_w[g]
        borders[g] = [max(a, na), min(b, nb)]
        p = t.parent[g]
        if p is not None:
            inner_lo[p] = min(inner_lo.get(p, INF), borders[g][0] - PADX)
            inner_hi[p] = max(inner_hi.get(p, -INF), borders[g][1] + PADX)
    return borders


def _reach(flat, own, x, half, parent: dict) -> tuple[dict, dict]:
    """Each group's extent around its items, ``PADX`` out: its own items, and through ``parent``
    (group -> the group around it) every group around them too."""
    lo: dict = {}
    hi: dict = {}
    for e in flat:
        if _marker(e):
            continue
        g = own[e]
        while g is not None:
            lo[g] = min(lo.get(g, INF), x[e] - half(e) - PADX)
            hi[g] = max(hi.get(g, -INF), x[e] + half(e) + PADX)
            g = parent.get(g)
    return lo, hi
