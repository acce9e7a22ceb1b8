"""A layered layout's rows: the order within each row (a depth-first walk, then median sweeps)
and the x of each box (per row, the weighted least-squares positions that keep the order and the
gaps, solved exactly by pool-adjacent-violators; the main path weighs most, so it runs straight
down), long edges straightened where the rows let them."""

from __future__ import annotations

GAP_X = 24  # between neighbouring boxes of a row
BIG = 4000  # nodes and edge slots past which x gets one sweep each way, not three: bounded cost


def dfs_order(nodes, succ) -> list:
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


def median_sweeps(rows, succ, pred, sweeps: int = 4) -> None:
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


def coordinates(rows, w, succ, pred, main, sweeps: int = 6) -> dict:
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
            new = want if len(row) == 1 else place(row, w, want, [weight[n] for n in row])
            for n, v in zip(row, new):
                x[n] = v
    return x


def straighten(rows, w, x, chains) -> None:
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


def place(row, w, want, weight) -> list[float]:
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
