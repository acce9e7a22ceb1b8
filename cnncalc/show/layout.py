"""A layered (Sugiyama-style) layout of a net's graph in which every drawn thing has its own
place: boxes never overlap, group frames nest or stand apart, labels never meet.

1. rank: a node sits one row below the lowest of its inputs (rows follow the graph's depth);
2. an edge spanning several rows passes a narrow *dummy* slot in each row between, so it is
   routed around the boxes of those rows;
3. order within rows (``rows``): a depth-first walk from the input, then median sweeps; then each
   group's members together (``frames``: the groups as a tree, siblings by where they sit);
4. x: per row, weighted least squares under the order and the gaps (the main path weighs most,
   so it runs straight down); then the frames' borders solved with the boxes;
5. y: each row is a band of boxes, with a title band above it for the frames that start there
   and a foot band below for those that end there; between rows a gap holds the edges' shape
   labels on as many lanes as they need (``labels``). Edges leave a box straight down to its
   row's bottom and enter straight down from its row's top, so no segment crosses a box.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import frames as fr
from . import labels as lb
from .rows import coordinates, dfs_order, median_sweeps, straighten

DUMMY_W = 14  # the slot an edge takes in a row it passes


@dataclass
class Placed:
    x: float  # left
    y: float  # top
    w: float
    h: float


@dataclass
class Layout:
    boxes: dict  # node id -> Placed
    routes: dict  # (u, v, k) -> list of (x, y) points, from u's bottom to v's top
    width: float
    height: float
    rows: list = field(default_factory=list)  # (top, height) of each row's boxes
    frames: dict = field(default_factory=dict)  # group -> Placed
    labels: dict = field(default_factory=dict)  # label key -> (left x, centre y)


def layered(
    nodes: list,
    sizes: dict,
    edges: list,
    main: set | None = None,
    last_row: set | None = None,
    groups: dict | None = None,
    head_w: dict | None = None,
    labels: list | None = None,
) -> Layout:
    """``nodes`` in topological order; ``sizes[n] = (w, h)``; ``edges`` (u, v) pairs (repeats
    allowed); ``main`` the nodes of the main path; ``last_row`` nodes placed in the bottom row
    (the net's outputs); ``groups`` name -> member nodes (nested or apart), ``head_w`` the width
    each frame's title needs; ``labels`` (key, edge index, "out" or "in", width): a label beside
    that edge, in the gap below its source or above its target."""
    main = main or set()
    groups = groups or {}
    preds: dict = {n: [] for n in nodes}
    for u, v in edges:
        preds[v].append(u)
    rank = {}
    for n in nodes:
        # an input not ranked yet is a folded group below that feeds this one: a back edge
        rank[n] = 1 + max((rank[u] for u in preds[n] if u in rank), default=-1)
    if last_row:
        bottom = max((rank[n] for n in nodes if n not in last_row), default=0) + 1
        for n in last_row:
            rank[n] = max(rank[n], bottom)
    w = dict(sizes)
    chains = {}  # edge index -> [u, d1, d2, ..., v]
    succ: dict = {n: [] for n in nodes}
    pred2: dict = {n: [] for n in nodes}
    for i, (u, v) in enumerate(edges):
        chain = [u]
        for r in range(rank[u] + 1, rank[v]):
            d = ("dummy", i, r)
            rank[d] = r
            w[d] = (DUMMY_W, 0)
            succ[d], pred2[d] = [], []
            chain.append(d)
        chain.append(v)
        for a, b in zip(chain, chain[1:]):
            succ[a].append(b)
            pred2[b].append(a)
        chains[i] = chain
    rows: list[list] = [[] for _ in range(max(rank.values(), default=0) + 1)]
    order = dfs_order(nodes, succ)
    for n in order:
        rows[rank[n]].append(n)
    placed = set(order)
    for n in rank:  # anything the walk missed (it reaches all from the roots, but stay safe)
        if n not in placed:
            rows[rank[n]].append(n)
    median_sweeps(rows, succ, pred2)
    x = coordinates(rows, w, succ, pred2, main)
    borders: dict = {}
    t = None
    if groups:
        t = fr.tree(groups, rank)
        items = [n for row in rows for n in row]
        own = {n: fr.owner(t, n, edges) for n in items}
        flat = fr.flatten(t, items, own, x)
        at = {e: i for i, e in enumerate(flat)}
        for row in rows:
            row.sort(key=at.__getitem__)
        x = coordinates(rows, w, succ, pred2, main)
    straighten(rows, w, x, chains)
    if t is not None:
        borders = fr.solve(t, flat, own, rank, x, w, head_w or {g: 0.0 for g in groups})
    # the bands of each row: titles of the frames that start there, feet of those that end there
    nrows = len(rows)
    head = [0.0] * nrows
    foot = [0.0] * nrows
    if t is not None:
        for g, (r1, r2) in t.span.items():
            head[r1] = max(head[r1], t.heads[g] * fr.HEAD_H)
            foot[r2] = max(foot[r2], t.feet[g] * fr.FOOT_H)
    row_h = [max((w[n][1] for n in row), default=0) or 20 for row in rows]
    # ports: the edges leaving (entering) a box spread along its bottom (top), ordered by where
    # they go (come from)
    outs: dict = {}
    ins: dict = {}
    for i, chain in chains.items():
        outs.setdefault(chain[0], []).append(i)
        ins.setdefault(chain[-1], []).append(i)
    port: dict = {}
    for end, table in (("out", outs), ("in", ins)):
        for n, edge_ids in table.items():
            bw = w[n][0]
            edge_ids.sort(key=lambda i: x[chains[i][1] if end == "out" else chains[i][-2]])
            k = len(edge_ids)
            for j, i in enumerate(edge_ids):
                port[(i, end)] = x[n] - bw / 2 + (bw / 2 if k == 1 else bw * (j + 1) / (k + 1))
    # labels, gap by gap: the gap below row r is as tall as its lanes need
    asks: dict = {}
    for key, i, end, width in labels or ():
        chain = chains[i]
        u, v = chain[0], chain[-1]
        if rank[v] <= rank[u]:  # a back edge (folded groups feeding each other): below u
            px = port[(i, "out")]
            asks.setdefault(rank[u], []).append((key, px, foot[rank[u]], px, 0.0, width, False))
            continue
        if end == "out":
            r, xa, a = rank[u], port[(i, "out")], foot[rank[u]]
            nxt = chain[1]
            xb, b = (port[(i, "in")], head[rank[v]]) if nxt == v else (x[nxt], 0.0)
        else:
            prv = chain[-2]
            r = rank[v] - 1
            xa, a = (port[(i, "out")], foot[r]) if prv == u else (x[prv], 0.0)
            xb, b = port[(i, "in")], head[rank[v]]
        asks.setdefault(r, []).append((key, xa, a, xb, b, width, xa > xb + 1))
    gap = [lb.GAP_Y] * nrows
    spots: dict = {}
    for r, reqs in asks.items():
        gap[r], spots[r] = lb.place(reqs)
    # rows' tops
    tops, y = [], 0.0
    for r in range(nrows):
        tops.append(y)
        y += head[r] + row_h[r] + foot[r] + gap[r]
    height = (y - (0 if nrows - 1 in asks else gap[-1])) if nrows else 0.0
    band = [tops[r] + head[r] for r in range(nrows)]  # the top of each row's boxes
    boxes = {}
    for n in nodes:
        bw, bh = w[n]
        r = rank[n]
        boxes[n] = Placed(x[n] - bw / 2, band[r] + (row_h[r] - bh) / 2, bw, bh)
    routes = {}
    for i, chain in chains.items():
        u, v = chain[0], chain[-1]
        bu, bv = boxes[u], boxes[v]
        px = port[(i, "out")]
        pts = [(px, bu.y + bu.h)]
        if bu.y + bu.h < band[rank[u]] + row_h[rank[u]]:
            pts.append((px, band[rank[u]] + row_h[rank[u]]))
        for d in chain[1:-1]:
            r = rank[d]
            pts += [(x[d], tops[r]), (x[d], band[r] + row_h[r] + foot[r])]
        qx = port[(i, "in")]
        if bv.y > band[rank[v]]:
            pts.append((qx, band[rank[v]]))
        pts.append((qx, bv.y))
        routes[(u, v, i)] = pts
    placed_frames = {}
    if t is not None:
        for g, (a, b) in borders.items():
            r1, r2 = t.span[g]
            y0 = band[r1] - t.heads[g] * fr.HEAD_H
            y1 = band[r2] + row_h[r2] + t.feet[g] * fr.FOOT_H
            placed_frames[g] = Placed(a, y0, b - a, y1 - y0)
    spots_abs = {}
    for r, got in spots.items():
        top = band[r] + row_h[r] + foot[r]
        for key, (lx, dy) in got.items():
            spots_abs[key] = (lx, top + dy)
    # everything from x = 0
    xs = [b.x for b in boxes.values()] + [f.x for f in placed_frames.values()]
    xs += [p[0] for pts in routes.values() for p in pts] + [s[0] for s in spots_abs.values()]
    left = min(xs, default=0.0)
    for b in [*boxes.values(), *placed_frames.values()]:
        b.x -= left
    routes = {k: [(px - left, py) for px, py in pts] for k, pts in routes.items()}
    spots_abs = {k: (lx - left, ly) for k, (lx, ly) in spots_abs.items()}
    label_w = {key: wd for key, _, _, wd in labels or ()}
    width = max(
        [b.x + b.w for b in [*boxes.values(), *placed_frames.values()]]
        + [p[0] for pts in routes.values() for p in pts]
        + [lx + label_w[k] for k, (lx, _) in spots_abs.items()],
        default=0.0,
    )
    return Layout(
        boxes,
        routes,
        width,
        height,
        [(band[r], row_h[r]) for r in range(nrows)],
        placed_frames,
        spots_abs,
    )
