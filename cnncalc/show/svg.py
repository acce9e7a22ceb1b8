"""A drawn net as SVG: the layout's boxes, frames and labels as elements (the HTML page, in
``page``, wraps it)."""

from __future__ import annotations

import functools
import html

from .draw import FAMILIES, LINE_H, PAD, Graph, Node, shape_text
from .frames import chains as frames_chains
from .metrics import text_width

BOLD = ' font-weight="bold"'
NAME_PX, TEXT_PX, SHAPE_PX, GROUP_PX = 12, 11, 10, 11  # font sizes: names, lines, shapes, titles


def _size(n: Node) -> tuple[float, float]:
    w = max(
        text_width(line, NAME_PX if i == 0 else TEXT_PX, bold=i == 0)
        for i, line in enumerate(n.lines)
    )
    return max(w + 2 * PAD, 64.0), len(n.lines) * LINE_H + 2 * PAD - 2


def label_plan(g: Graph) -> tuple[dict, list]:
    """Which edge carries the shape label of which: edges that leave one box with one shape share
    one label below it; of the rest, those that enter one box with one shape share one above it.
    Returns edge -> the edge whose label it shares, and the layout's label requests."""
    carrier: dict = {}
    asks: list = []
    by_src: dict = {}
    for i, e in enumerate(g.edges):
        by_src.setdefault((e.src, e.shape), []).append(i)
    rest = []
    for ids in by_src.values():
        if len(ids) > 1:
            rep = ids[len(ids) // 2]
            asks.append((rep, rep, "out"))
            carrier.update((i, rep) for i in ids)
        else:
            rest.append(ids[0])
    by_dst: dict = {}
    for i in rest:
        by_dst.setdefault((g.edges[i].dst, g.edges[i].shape), []).append(i)
    for ids in by_dst.values():
        rep = ids[len(ids) // 2]
        asks.append((rep, rep, "in"))
        carrier.update((i, rep) for i in ids)
    asks = [(k, i, end, text_width(shape_text(g.edges[i].shape), SHAPE_PX)) for k, i, end in asks]
    return carrier, asks


def picture(g: Graph):
    """The layout of ``g``'s boxes, frames and labels (``svg`` draws it; the tests measure it)."""
    from .layout import layered

    sizes = {n.id: _size(n) for n in g.nodes}
    carrier, asks = label_plan(g)
    heads = {name: text_width(name, GROUP_PX) + 12 for name in g.groups}
    lay = layered(
        [n.id for n in g.nodes],
        sizes,
        [(e.src, e.dst) for e in g.edges],
        g.main,
        set(g.outputs),
        g.groups,
        heads,
        asks,
    )
    return lay, carrier


def svg(g: Graph, standalone: bool = True, folds: dict | None = None) -> str:
    """The picture as SVG; ``folds`` (group -> its folded box's lines) adds, hidden, the box each
    group folds into (the HTML page shows it on a click)."""
    lay, carrier = picture(g)
    margin, legend_h = 24, 22
    top = margin + 26  # the title
    present = {n.family for n in g.nodes}
    fams = [f for f in FAMILIES if f in present]
    legend_w = sum(text_width(FAMILIES[f][2], TEXT_PX) + 34 for f in fams)
    title_w = text_width(g.title, 15, bold=True)
    width = max(lay.width, legend_w, title_w) + 2 * margin
    height = top + lay.height + margin + legend_h + 12
    ox, oy = margin, top
    out = []
    if standalone:
        out.append('<?xml version="1.0" encoding="UTF-8"?>')
    out.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Helvetica, Arial, '
        'sans-serif" font-size="11">'
    )
    out.append(
        "<style>.layer text{fill:#111}.name{font-weight:bold;font-size:12px}"
        ".shape{fill:#444;font-size:10px}.group-label{fill:#555;font-size:11px}"
        ".edge path{fill:none;stroke:#777;stroke-width:1.2}.layer:hover rect{stroke-width:2.4}"
        "</style>"
    )
    out.append(
        '<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#777"/></marker></defs>'
    )
    out.append('<rect width="100%" height="100%" fill="white"/>')
    out.append(
        f'<text x="{margin}" y="{margin + 6}" font-size="15" '
        f'font-weight="bold">{_x(g.title)}</text>'
    )
    # frames, outermost first, behind everything; then the edges; then, over the edges on a
    # backing of their own, the frames' titles (in the band at each frame's top) and the labels
    frames = sorted(lay.frames, key=lambda n: -len(g.groups[n]))
    for name in frames:
        f = lay.frames[name]
        fill = "#f6f7f9" if name.count(".") == 0 else "#eceef3"
        out.append(
            f'<g class="group" data-name="{_x(name)}"><rect x="{f.x + ox:.1f}" '
            f'y="{f.y + oy:.1f}" width="{f.w:.1f}" height="{f.h:.1f}" rx="8" fill="{fill}" '
            'stroke="#c8ccd4" stroke-dasharray="4 3"/></g>'
        )
    labels = []
    for (u, v, i), pts in lay.routes.items():
        e = g.edges[i]
        d = "M" + " L".join(f"{px + ox:.1f},{py + oy:.1f}" for px, py in pts)
        ends = f'data-from="{_x(u)}" data-to="{_x(v)}" data-shape="{_x(shape_text(e.shape))}"'
        out.append(f'<g class="edge" {ends}><path d="{d}" marker-end="url(#arrow)"/></g>')
        if carrier.get(i) == i and i in lay.labels:
            lx, ly = lay.labels[i]
            text = shape_text(e.shape)
            labels.append(
                f'<g class="label" {ends}><rect x="{lx + ox - 1:.1f}" y="{ly + oy - 6:.1f}" '
                f'width="{text_width(text, SHAPE_PX) + 2:.1f}" height="12" fill="white" '
                f'fill-opacity="0.85"/><text class="shape" x="{lx + ox:.1f}" '
                f'y="{ly + oy + 3.5:.1f}">{_x(text)}</text></g>'
            )
    for name in frames:
        f = lay.frames[name]
        fill = "#f6f7f9" if name.count(".") == 0 else "#eceef3"
        out.append(
            f'<g class="group-title" data-name="{_x(name)}"><rect x="{f.x + ox + 4:.1f}" '
            f'y="{f.y + oy + 2:.1f}" width="{text_width(name, GROUP_PX) + 4:.1f}" height="13" '
            f'fill="{fill}"/><text class="group-label" x="{f.x + ox + 6:.1f}" '
            f'y="{f.y + oy + 12.5:.1f}">{_x(name)}</text></g>'
        )
    out += labels
    chains = frames_chains(g.groups)
    for n in g.nodes:
        b = lay.boxes[n.id]
        fill, stroke, _ = FAMILIES.get(n.family, FAMILIES["group"])
        x, y = b.x + ox, b.y + oy
        tip = n.detail or "\n".join(n.lines)
        rx = 14 if n.family == "io" else 5
        groups = f' data-groups="{_x(" ".join(chains[n.id]))}"' if chains.get(n.id) else ""
        out.append(
            f'<g class="layer" data-name="{_x(n.name)}" data-family="{n.family}"{groups}>'
            f"<title>{_x(tip)}</title>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{b.w:.1f}" height="{b.h:.1f}" rx="{rx}" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{2.4 if n.error else 1.2}"/>'
        )
        for i, line in enumerate(n.lines):
            cls = ' class="name"' if i == 0 else ""
            out.append(
                f'<text{cls} x="{x + b.w / 2:.1f}" y="{y + PAD + 10 + i * LINE_H:.1f}" '
                f'text-anchor="middle">{_x(line)}</text>'
            )
        out.append("</g>")
    for name, lines in (folds or {}).items():  # hidden: the HTML page shows one on a click
        f = lay.frames.get(name)
        if f is None:
            continue
        x0, y0 = f.x + ox, f.y + oy
        texts = "".join(
            f'<text x="{x0 + f.w / 2:.1f}" y="{y0 + 14 + k * 12:.1f}" text-anchor="middle" '
            f'font-size="10"{BOLD if k == 0 else ""}>{_x(line)}</text>'
            for k, line in enumerate(lines)
        )
        out.append(
            f'<g class="fold" data-group="{_x(name)}" display="none"><rect x="{x0:.1f}" '
            f'y="{y0:.1f}" width="{f.w:.1f}" height="{f.h:.1f}" rx="8" fill="#f3f3f3" '
            f'stroke="#888888" stroke-width="1.6"/>{texts}</g>'
        )
    lx, ly = margin, height - legend_h
    for f in fams:
        fill, stroke, label = FAMILIES[f]
        out.append(
            f'<rect x="{lx}" y="{ly - 10}" width="14" height="12" rx="3" fill="{fill}" '
            f'stroke="{stroke}"/>'
        )
        out.append(f'<text x="{lx + 19}" y="{ly}" fill="#333">{_x(label)}</text>')
        lx += text_width(label, TEXT_PX) + 34
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _x(text: str) -> str:
    return _escaped(str(text))


@functools.lru_cache(maxsize=4096)  # names and shapes repeat: each escaped once
def _escaped(text: str) -> str:
    return html.escape(text, quote=True)
