"""The geometry of a drawn SVG, measured: every layer box, group frame and piece of text as a
rectangle (text from the font metrics the pictures are sized with, its ascent and descent from
Helvetica's), and the rules a picture keeps: frames nest or stand apart, each around its members
and clear of every other box; no text overlaps a box (other than its own) or other text; every
edge's shape is printed, by its own label or one it shares with edges of the same shape that
leave (or enter) the same box."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from cnncalc.show.metrics import text_width

NS = {"s": "http://www.w3.org/2000/svg"}
EPS = 0.05  # rounding of the drawn coordinates (one decimal)
ASCENT, DESCENT = 0.905, 0.212  # of Helvetica / Arial / Liberation Sans, per font size


def _rect(el) -> tuple:
    x, y = float(el.get("x")), float(el.get("y"))
    return (x, y, x + float(el.get("width")), y + float(el.get("height")))


def _text(el, size: float, bold: bool) -> tuple:
    x, y = float(el.get("x")), float(el.get("y"))
    w = text_width(el.text or "", size, bold)
    anchor = el.get("text-anchor", "start")
    x0 = x - w / 2 if anchor == "middle" else x - w if anchor == "end" else x
    return (x0, y - ASCENT * size, x0 + w, y + DESCENT * size)


def _meet(a, b) -> bool:
    return a[0] < b[2] - EPS and b[0] < a[2] - EPS and a[1] < b[3] - EPS and b[1] < a[3] - EPS


def _inside(a, b) -> bool:
    """``a`` within ``b``."""
    return a[0] >= b[0] - EPS and a[1] >= b[1] - EPS and a[2] <= b[2] + EPS and a[3] <= b[3] + EPS


def pairs(rects: list) -> list:
    """Index pairs of the rectangles that meet (a sweep down the picture)."""
    order = sorted(range(len(rects)), key=lambda i: rects[i][1])
    active: list = []
    out = []
    for i in order:
        r = rects[i]
        active = [j for j in active if rects[j][3] > r[1] + EPS]
        out += [(j, i) for j in active if _meet(rects[j], r)]
        active.append(i)
    return out


def measure(text: str) -> dict:
    """Boxes, frames, texts and edges of a drawn SVG."""
    root = ET.fromstring(text.split("\n", 1)[1] if text.startswith("<?xml") else text)
    boxes, frames, texts, edges = {}, {}, [], []
    for g in root.iterfind(".//s:g[@class='layer']", NS):
        name = g.get("data-name")
        boxes[name] = (_rect(g.find("s:rect", NS)), (g.get("data-groups") or "").split())
        for k, t in enumerate(g.iterfind("s:text", NS)):
            texts.append((("box", name), _text(t, 12 if k == 0 else 11, k == 0), t.text))
    for g in root.iterfind(".//s:g[@class='group']", NS):
        frames[g.get("data-name")] = _rect(g.find("s:rect", NS))
    for g in root.iterfind(".//s:g[@class='group-title']", NS):
        name = g.get("data-name")
        texts.append((("group", name), _text(g.find("s:text", NS), 11, False), name))
    labelled = set()
    for g in root.iterfind(".//s:g[@class='label']", NS):
        t = g.find("s:text", NS)
        key = (g.get("data-from"), g.get("data-to"), g.get("data-shape"))
        assert t.text == key[2], (t.text, key)
        labelled.add(key)
        texts.append((("edge", key), _text(t, 10, False), t.text))
    for g in root.iterfind(".//s:g[@class='edge']", NS):
        key = (g.get("data-from"), g.get("data-to"), g.get("data-shape"))
        edges.append((*key, key in labelled))
    title = root.find("s:text", NS)  # the picture's title, 15 px bold
    texts.append((("title", ""), _text(title, 15, True), title.text))
    return {"boxes": boxes, "frames": frames, "texts": texts, "edges": edges}


def check(text: str) -> dict:
    """Every rule above, on one SVG; returns the measures."""
    m = measure(text)
    boxes, frames, texts, edges = m["boxes"], m["frames"], m["texts"], m["edges"]
    names = list(frames)
    rects = [frames[n] for n in names]
    for i, j in pairs(rects):  # frames nest or stand apart
        a, b = rects[i], rects[j]
        assert _inside(a, b) or _inside(b, a), f"frames {names[i]} and {names[j]} cross: {a} {b}"
    for name, (r, chain) in boxes.items():
        for gname in chain:
            assert _inside(r, frames[gname]), f"{name} outside its group {gname}"
    box_names = list(boxes)
    box_rects = [boxes[n][0] for n in box_names]
    for i, j in pairs(box_rects):
        raise AssertionError(f"boxes {box_names[i]} and {box_names[j]} overlap")
    everything = box_rects + rects
    for i, j in pairs(everything):  # a box meets only the frames that hold it
        if i >= len(box_rects) and j >= len(box_rects):
            continue
        b, f = (i, j) if i < len(box_rects) else (j, i)
        group = names[f - len(box_rects)]
        assert group in boxes[box_names[b]][1], f"{box_names[b]} inside the frame of {group}"
    trects = [t[1] for t in texts]
    for i, j in pairs(trects):  # no two texts meet, but the lines of one box
        a, b = texts[i][0], texts[j][0]
        assert a == b and a[0] == "box", f"text {texts[i][2]!r} {a} meets {texts[j][2]!r} {b}"
    for i, j in pairs(trects + box_rects):  # text on a box: only that box's own lines, inside
        if i >= len(trects) and j >= len(trects):
            continue
        t, b = (i, j) if i < len(trects) else (j, i)
        owner = texts[t][0]
        name = box_names[b - len(trects)]
        assert owner == ("box", name), f"text {texts[t][2]!r} ({owner}) on the box {name}"
    for key, r, line in texts:
        if key[0] == "box":
            assert _inside(r, boxes[key[1]][0]), f"{line!r} runs out of its box {key[1]}"
        if key[0] == "group":
            f = frames[key[1]]
            assert _inside(r, f), f"the title {line!r} runs out of its frame"
            for other, fr in frames.items():
                if other != key[1] and _inside(fr, f):
                    assert not _meet(r, fr), f"the title {line!r} under the frame of {other}"
    shown = {(u, s) for u, _, s, has in edges if has} | {
        (("to", v), s) for _, v, s, has in edges if has
    }
    for u, v, s, _ in edges:  # every edge's shape printed: its own label or a shared one
        assert (u, s) in shown or (("to", v), s) in shown, f"edge {u} -> {v} has no label {s}"
    return m
