"""A layered (Sugiyama-style) layout for a net's graph: boxes in rows by depth, never overlapping,
edges kept off
the boxes.

1. rank: a node sits one row below the lowest of its inputs (rows follow the graph's depth);
2. an edge spanning several rows passes through a narrow *dummy* slot in each row between, so it is
routed
   around the boxes of those rows; between rows there are no boxes, so no segment crosses one;
3. order within rows: the order of a depth-first walk from the input (first inputs first), then
median sweeps;
4. x: per row, the positions closest (weighted least squares) to the mean of each node's neighbours
that keep
   the row's order and the minimum gap, solved exactly by pool-adjacent-violators; the main path
   (the first
   input of each layer, back from the output) weighs most, so it runs straight down.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GAP_X = 24  # between neighbouring boxes of a row
GAP_Y = 46  # between rows: the edges and their shape labels live here
DUMMY_W = 14  # the slot an edge takes in a row it passes
BIG = 4000  # nodes and edge slots past which x gets one sweep each way, not three: bounded cost


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
    rows: list = field(default_factory=list)  # (top, height) per rank


def layered(
    nodes: list, sizes: dict, edges: list, main: set | None = None, last_row: set | None = None
) -> Layout:
    """``nodes`` in topological order; ``sizes[n] = (w, h)``; ``edges`` (u, v) pairs (repeats
    allowed);
    ``main`` the nodes of the main path; ``last_row`` nodes placed in the bottom row (the net's
    outputs)."""
    main = main or set()
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
    # dummy slots for the long edges
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
    rows: list[list] = [[] for _ in range(max(rank.values()) + 1)]
    order = _dfs_order(nodes, succ)
    for n in order:
        rows[rank[n]].append(n)
    placed = set(order)
    for n in rank:  # anything the walk missed (it reaches all from the roots, but stay safe)
        if n not in placed:
            rows[rank[n]].append(n)
    _median_sweeps(rows, succ, pred2)
    x = _coordinates(rows, w, succ, pred2, main)
    _straighten(rows, w, x, chains)
    # rows' tops: each as tall as its tallest box
    tops, y = [], 0.0
    row_h = []
    for row in rows:
        h = max((w[n][1] for n in row), default=0) or 20
        tops.append(y)
        row_h.append(h)
        y += h + GAP_Y
    left = min((x[n] - w[n][0] / 2 for n in x), default=0)
    boxes = {}
    for n in nodes:
        bw, bh = w[n]
        r = rank[n]
        boxes[n] = Placed(x[n] - bw / 2 - left, tops[r] + (row_h[r] - bh) / 2, bw, bh)

    # ports: the edges leaving (entering) a box spread along its bottom (top), ordered by where they
    # go (come from)
    def towards(i, end):
        chain = chains[i]
        m = chain[1] if end == "out" else chain[-2]
        return x[m] - left

    outs: dict = {}
    ins: dict = {}
    for i, chain in chains.items():
        outs.setdefault(chain[0], []).append(i)
        ins.setdefault(chain[-1], []).append(i)
    port: dict = {}
    for end, table in (("out", outs), ("in", ins)):
        for n, edge_ids in table.items():
            b = boxes[n]
            edge_ids.sort(key=lambda i: towards(i, end))
            k = len(edge_ids)
            for j, i in enumerate(edge_ids):
                port[(i, end)] = b.x + b.w / 2 if k == 1 else b.x + b.w * (j + 1) / (k + 1)
    routes = {}
    for i, chain in chains.items():
        u, v = chain[0], chain[-1]
        bu, bv = boxes[u], boxes[v]
        pts = [(port[(i, "out")], bu.y + bu.h)]
        for d in chain[1:-1]:
            cx = x[d] - left
            pts += [(cx, tops[rank[d]]), (cx, tops[rank[d]] + row_h[rank[d]])]
        pts.append((port[(i, "in")], bv.y))
        routes[(u, v, i)] = pts
    width = max((b.x + b.w for b in boxes.values()), default=0)
    for pts in routes.values():
        width = max(width, *(p[0] for p in pts))
    return Layout(boxes, routes, width, y - GAP_Y, list(zip(tops, row_h)))


def _dfs_order(nodes, succ) -> list:
    """Depth-first from the roots, each node's successors in edge order: branches stay together."""
    seen, out = set(), []
    for root in nodes:  # in order: the input first, then whatever the walk has not reached
        if root in seen:
            continue
        stack = [root]
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            out.append(n)
            stack.extend(reversed(succ.get(n, [])))
    return out


def _median_sweeps(rows, succ, pred, sweeps: int = 4) -> None:
    """Reorder each row by the median position of its neighbours in the row above (then below);
    a sweep down and a sweep up that change nothing end it early (a fixed point: the rest would
    change nothing either)."""
    still = 0
    for it in range(sweeps):
        down = it % 2 == 0
        seq = range(1, len(rows)) if down else range(len(rows) - 2, -1, -1)
        moved = False
        for r in seq:
            if len(rows[r]) < 2:
                continue  # one node: no order to find
            ref = rows[r - 1] if down else rows[r + 1]
            pos = {n: i for i, n in enumerate(ref)}
            keys = {}
            for i, n in enumerate(rows[r]):
                near = sorted(pos[m] for m in (pred[n] if down else succ[n]) if m in pos)
                keys[n] = near[len(near) // 2] if near else i
            before = rows[r][:]
            rows[r].sort(key=lambda n: keys[n])  # stable: ties keep the walk's order
            moved = moved or rows[r] != before
        still = 0 if moved else still + 1
        if still == 2:
            return


def _coordinates(rows, w, succ, pred, main, sweeps: int = 6) -> dict:
    x = {}
    for row in rows:  # packed left to right to start
        at = 0.0
        for n in row:
            x[n] = at + w[n][0] / 2
            at += w[n][0] + GAP_X
    for row in rows:  # the main path starts on one vertical line
        for n in row:
            if n in main:
                shift = -x[n]
                for m in row:
                    x[m] += shift
                break
    # per node and sweep direction, the neighbours it follows (the main path follows only itself:
    # straight down), or the other side's where it has none; and its weight
    follows: list[dict] = [{}, {}]
    weight = {}
    for row in rows:
        for n in row:
            weight[n] = 1e4 if n in main else 4.0 if isinstance(n, tuple) else 1.0
            for d, (ms, other) in enumerate(((pred[n], succ[n]), (succ[n], pred[n]))):
                if n in main and any(m in main for m in ms):
                    ms = [m for m in ms if m in main]
                follows[d][n] = ms or other
    for it in range(sweeps if len(x) <= BIG else 2):
        down = it % 2 == 0
        seq = range(len(rows)) if down else range(len(rows) - 1, -1, -1)
        near_of = follows[0 if down else 1]
        for r in seq:
            row = rows[r]
            want = []
            for n in row:
                near = near_of[n]
                want.append(sum([x[m] for m in near]) / len(near) if near else x[n])
            new = want if len(row) == 1 else _place(row, w, want, [weight[n] for n in row])
            for n, v in zip(row, new):
                x[n] = v
    return x


def _straighten(rows, w, x, chains) -> None:
    """A long edge's slots on one vertical line where the rows let them (its rightmost or its
    leftmost x)."""
    where = {n: (r, i) for r, row in enumerate(rows) for i, n in enumerate(row)}
    for chain in chains.values():
        ds = chain[1:-1]
        if len(ds) < 2:
            continue
        for target in (max(x[d] for d in ds), min(x[d] for d in ds)):
            fits = True
            for d in ds:
                r, i = where[d]
                row = rows[r]
                half = w[d][0] / 2
                if (
                    i + 1 < len(row)
                    and target + half + GAP_X > x[row[i + 1]] - w[row[i + 1]][0] / 2
                ):
                    fits = False
                if i > 0 and target - half - GAP_X < x[row[i - 1]] + w[row[i - 1]][0] / 2:
                    fits = False
                if not fits:
                    break
            if fits:
                for d in ds:
                    x[d] = target
                break


def _place(row, w, want, weight) -> list[float]:
    """Centres as close as possible to ``want`` (weighted least squares) that keep the order and the
    gaps:
    with offsets o_i (the packed widths before i) the constraint is c_i − o_i non-decreasing, an
    isotonic
    regression, solved exactly by pooling adjacent violators."""
    offs, at = [], 0.0
    for i, n in enumerate(row):
        if i:
            at += (w[row[i - 1]][0] + w[n][0]) / 2 + GAP_X
        offs.append(at)
    blocks: list[list[float]] = []  # [mean, weight, count]
    for target, o, wt in zip(want, offs, weight):
        blocks.append([target - o, wt, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, c2 = blocks.pop()
            m1, w1, c1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    out, i = [], 0
    for mean, _, count in blocks:
        for _ in range(count):
            out.append(mean + offs[i])
            i += 1
    return out
