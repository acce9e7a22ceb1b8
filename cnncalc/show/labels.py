"""Edge labels that never collide: each sits beside its edge in a gap between two rows (no box
or frame is there), on one of the gap's lanes; a gap gets as many lanes as its labels need, so
it grows rather than let two labels meet.

An edge crosses a gap as one straight segment, from ``(xa, top - a)`` (``a`` above the gap) to
``(xb, bottom + b)`` (``b`` below it); with ``L`` lanes the gap is ``height(L)`` tall and lane
``k`` is centred ``(k + 1) / (L + 1)`` of the way down, at least ``LANE`` apart: labels of two
lanes never meet, and in one lane they stand apart along the row.
"""

from __future__ import annotations

GAP_Y = 46  # the least gap between rows
LANE = 15  # label height plus room
LABEL_H = 12  # a label's box: 10 px text
SIDE = 4  # a label's distance from its edge
APART = 10  # between two labels of one lane
FEW = 8  # lanes tried one by one; past them, each label its own lane (bounded cost)


def height(lanes: int) -> float:
    return max(GAP_Y, LANE * lanes + 16)


def place(requests: list) -> tuple[float, dict]:
    """``requests``: (key, xa, a, xb, b, width, left) per label, ``left`` if it prefers the left
    side of its edge. Returns the gap's height and key -> (label's left x, its centre's depth
    below the gap's top)."""
    if not requests:
        return GAP_Y, {}
    for lanes in range(1, FEW + 1):
        out = _try(requests, lanes)
        if out is not None:
            return height(lanes), out
    lanes = len(requests)  # one label per lane: always fits
    h = height(lanes)
    out = {}
    for k, q in enumerate(sorted(requests, key=lambda q: _x(q, h, h / 2))):
        y = (k + 1) * h / (lanes + 1)
        out[q[0]] = (_x(q, h, y) + SIDE, y)
    return h, out


def _x(q, h: float, y: float) -> float:
    """Where the edge of request ``q`` crosses depth ``y`` of a gap ``h`` tall."""
    _, xa, a, xb, b, _, _ = q
    return xa + (xb - xa) * (a + y) / (a + h + b)


def _try(requests: list, lanes: int) -> dict | None:
    h = height(lanes)
    ends = [-float("inf")] * lanes
    out = {}
    for q in sorted(requests, key=lambda q: _x(q, h, h / 2)):
        key, width, left = q[0], q[5], q[6]
        for k in range(lanes):
            y = (k + 1) * h / (lanes + 1)
            at = _x(q, h, y)
            sides = (at - SIDE - width, at + SIDE) if left else (at + SIDE, at - SIDE - width)
            for x0 in sides:
                if x0 >= ends[k] + APART:
                    out[key] = (x0, y)
                    ends[k] = x0 + width
                    break
            if key in out:
                break
        else:
            return None
    return out
