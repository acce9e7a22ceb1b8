"""Pictures of a net: the analysis as a graph (facts), then SVG, a self-contained HTML page, Mermaid or DOT.

One box per layer (name; type and the arguments that matter; parameters), each edge labelled with the shape
it carries, blocks as labelled groups (``depth`` folds them into one box), a colour per layer family with a
legend, the net's outputs at the bottom. An invalid spec is drawn up to the layer that fails, that layer
marked with the diagnostic.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field

from ..engine import Analysis, base
from ..layers import REGISTRY

FAMILIES = {  # family (the layers/ file a kind lives in) -> (fill, stroke, legend label)
    "conv": ("#dbe8fb", "#3b6fb6", "convolution"),
    "pool": ("#e9dff7", "#7a52b3", "pooling"),
    "norm": ("#dff3e4", "#3f8f57", "normalization"),
    "elementwise": ("#fdebd3", "#c27a1a", "activation, dropout"),
    "linear": ("#f9dcdc", "#b84a4a", "linear"),
    "merge": ("#ececec", "#6b6b6b", "merge, split, product"),
    "reshape": ("#d9f1f1", "#2f8a8a", "reshape, view, resize"),
    "reduce": ("#f4f1d2", "#8f8532", "reduction"),
    "pad": ("#f1e4dc", "#8a5f45", "padding"),
    "io": ("#ffffff", "#333333", "input, output"),
    "group": ("#f3f3f3", "#888888", "folded block"),
    "error": ("#ffd9d9", "#d00000", "refused"),
}
CHAR_W, LINE_H, PAD = 6.6, 14, 8  # text metrics of the 11-12 px sans-serif the pictures use


@dataclass
class Node:
    id: str
    name: str
    lines: list[str]  # label lines: name, type and arguments, parameters
    family: str
    shape: tuple | None = None
    params: int = 0
    detail: str = ""  # explain text (html pages)
    error: str | None = None


@dataclass
class Edge:
    src: str
    dst: str
    shape: tuple


@dataclass
class Graph:
    title: str
    nodes: list[Node]
    edges: list[Edge]
    groups: dict = field(default_factory=dict)  # group name -> node ids, outermost first
    main: set = field(default_factory=set)
    outputs: list[str] = field(default_factory=list)  # the output nodes' ids


def family(type_: str) -> str:
    kind = REGISTRY.get(type_)
    return type(kind).__module__.rsplit(".", 1)[-1] if kind is not None else "group"


def shape_text(shape) -> str:
    return "[" + ", ".join(map(str, shape)) + "]" if shape is not None else "?"


def _key_args(layer) -> str:
    """The arguments a reader of the picture needs: kernel/stride/channels, features, factors."""
    t, a = layer.type, layer.kwargs

    def kk(v):
        v = tuple(v) if isinstance(v, (tuple, list)) else (v,)
        return str(v[0]) if len(set(v)) == 1 else "×".join(map(str, v))

    def k2(v):
        v = tuple(v) if isinstance(v, (tuple, list)) else (v,)
        return (
            "×".join([str(v[0])] * 2) if len(set(v)) == 1 and len(v) >= 2 else "×".join(map(str, v))
        )

    if t.startswith(("Conv", "ConvTranspose")):
        parts = [f"{k2(a['kernel_size'])}", f"{a['in_channels']}→{a['out_channels']}"]
        if any(s != 1 for s in a["stride"]):
            parts[0] += f" /{kk(a['stride'])}"
        if a.get("groups", 1) != 1:
            parts.append(f"g{a['groups']}")
        if any(d != 1 for d in a.get("dilation", (1,))):
            parts.append(f"d{kk(a['dilation'])}")
        return " ".join(parts)
    if "Pool" in t and "Adaptive" not in t:
        s = a.get("stride") or a["kernel_size"]
        return f"{k2(a['kernel_size'])} /{kk(s)}"
    if "Adaptive" in t:
        return f"→ {kk(a['output_size'])}"
    if t == "Linear":
        return f"{a['in_features']} → {a['out_features']}"
    if t in ("Cat", "Stack", "Softmax", "Split", "Chunk", "Unbind", "Mean", "Sum", "Amax"):
        d = a.get("dim")
        return f"dim {list(d) if isinstance(d, tuple) else d}" if d is not None else ""
    if t == "Upsample":
        return f"×{a['scale_factor']}" if a.get("scale_factor") else f"→ {a.get('size')}"
    if t in ("View", "Reshape", "Expand"):
        return str(list(a["shape"]))
    if t == "Permute":
        return str(list(a["dims"]))
    if t == "Transpose":
        return f"{a['dim0']} ↔ {a['dim1']}"
    if t.startswith(("BatchNorm", "InstanceNorm")):
        return str(a["num_features"])
    if t in ("Add", "Sub", "Mul", "Div") and a.get("value") is not None:
        return f"{a['value']:g}" if isinstance(a["value"], float) else str(a["value"])
    return ""


def _label(name: str, type_: str, args: str, params: int) -> list[str]:
    lines = [name, f"{type_} {args}".strip()]
    if params:
        lines.append(f"{params:,} params")
    return lines


def graph(
    a: Analysis, depth: int | None = None, failure: tuple | None = None, explain: bool = False
) -> Graph:
    """The analysis as boxes and edges; ``depth`` folds names with more dotted parts into one box per group;
    ``failure`` (layer spec, message) adds the layer that does not fit, marked."""
    from .explain import explain as explain_text

    title = a.name or "spec"
    nodes: dict[str, Node] = {
        "input": Node("input", "input", ["input", shape_text(a.input)], "io", a.input)
    }
    of: dict[str, str] = {
        "input": "input"
    }  # layer name -> node id (its folded group's, when folded)
    edges: list[Edge] = []
    counts: dict[str, int] = {}
    # a folded Ultralytics row is named by its module (model.2: C2f)
    modules = {r.prefix: r.module for r in a.model.rows} if a.model is not None else {}
    shapes = {"input": a.input}
    for layer in a.layers:
        shapes[layer.name] = layer.output_shape
        for k, s in enumerate(layer.output_shapes or ()):
            shapes[f"{layer.name}:{k}"] = s
    for layer in a.layers:
        parts = layer.name.split(".")
        nid = ".".join(parts[:depth]) if depth is not None and len(parts) > depth else layer.name
        of[layer.name] = nid
        fam = family(layer.type)
        if nid in nodes and nid != layer.name:  # another layer of a folded group
            n = nodes[nid]
            n.params += layer.param_count
            n.shape = layer.output_shape
            counts[nid] += 1
            n.lines = _label(
                nid, f"{modules.get(nid, '')} ({counts[nid]} layers)".strip(), "", n.params
            )
        elif nid != layer.name:
            counts[nid] = 1
            text = f"{modules.get(nid, '')} (1 layer)".strip()
            nodes[nid] = Node(
                nid,
                nid,
                _label(nid, text, "", layer.param_count),
                "group",
                layer.output_shape,
                layer.param_count,
            )
        else:
            nodes[nid] = Node(nid, layer.name, _label(layer.name, layer.type, _key_args(layer), layer.param_count), fam,
                              layer.output_shape, layer.param_count)  # fmt: skip
            if explain:
                nodes[nid].detail = explain_text(a, layer.name).strip()
        for s in layer.inputs:
            src = of[base(s)]
            if src != nid:
                edges.append(Edge(src, nid, shapes.get(s)))
    if failure is not None:
        spec_layer, message = failure
        srcs = spec_layer.inputs or ([a.layers[-1].name] if a.layers else ["input"])
        nid = spec_layer.name
        nodes[nid] = Node(
            nid, nid, [nid, spec_layer.type, "refused"], "error", None, 0, message, message
        )
        for s in srcs:
            if base(s) in of:
                edges.append(Edge(of[base(s)], nid, shapes.get(s)))
    outputs = []
    if failure is None:
        for k, (name, shape) in enumerate(a.outputs):
            oid = f"output {k}" if len(a.outputs) > 1 else "output"
            nodes[oid] = Node(oid, oid, [oid, shape_text(shape)], "io", shape)
            edges.append(Edge(of[base(name)], oid, shape))
            outputs.append(oid)
    # de-duplicate edges of folded groups (one per source, destination and shape)
    seen, unique = set(), []
    for e in edges:
        key = (e.src, e.dst, e.shape)
        if key not in seen:
            seen.add(key)
            unique.append(e)
    main = _main_path(list(nodes), unique, outputs[0] if outputs else list(nodes)[-1])
    groups = {} if depth == 1 else _groups(list(nodes), depth)
    return Graph(title, list(nodes.values()), unique, groups, main, outputs)


def _main_path(order: list[str], edges: list[Edge], end: str) -> set:
    """Back from the (first) output along the deepest input (the first of equally deep ones): the spine drawn
    straight down; a U-Net's runs through its encoder and decoder, a ResNet's through the residual branches."""
    preds: dict[str, list[str]] = {}
    for e in edges:
        preds.setdefault(e.dst, []).append(e.src)
    depth: dict[str, int] = {}
    for n in order:
        depth[n] = 1 + max((depth.get(p, 0) for p in preds.get(n, [])), default=-1)
    path, n = {end}, end
    while preds.get(n):
        n = max(preds[n], key=lambda p: (depth.get(p, 0), -preds[n].index(p)))
        path.add(n)
    return path


def _groups(ids: list[str], depth: int | None) -> dict:
    """Dotted prefixes (one or two parts, within the fold depth) shared by two or more boxes: drawn as groups."""
    groups: dict[str, list[str]] = {}
    for nid in ids:
        parts = nid.split(".")
        for k in range(1, min(len(parts), 3 if depth is None else depth)):
            groups.setdefault(".".join(parts[:k]), []).append(nid)
    layers = sum(1 for nid in ids if nid != "input" and not nid.startswith("output"))
    return {
        g: m for g, m in groups.items() if 2 <= len(m) < layers
    }  # a group of everything says nothing


# ---- SVG ----------------------------------------------------------------------------------------


def _size(n: Node) -> tuple[float, float]:
    w = max(len(line) for line in n.lines) * CHAR_W + 2 * PAD
    return max(w, 64.0), len(n.lines) * LINE_H + 2 * PAD - 2


def svg(g: Graph, standalone: bool = True) -> str:
    from .layout import layered

    sizes = {n.id: _size(n) for n in g.nodes}
    lay = layered(
        [n.id for n in g.nodes], sizes, [(e.src, e.dst) for e in g.edges], g.main, set(g.outputs)
    )
    margin, legend_h = 24, 22
    top = margin + 26  # the title
    width = lay.width + 2 * margin
    fams = [f for f in FAMILIES if any(n.family == f for n in g.nodes)]
    legend_w = sum(len(FAMILIES[f][2]) * CHAR_W + 34 for f in fams)
    width = max(width, legend_w + 2 * margin)
    height = top + lay.height + margin + legend_h + 12
    ox, oy = margin, top
    out = []
    if standalone:
        out.append('<?xml version="1.0" encoding="UTF-8"?>')
    out.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Helvetica, Arial, sans-serif" font-size="11">'
    )
    out.append(
        "<style>.layer text{fill:#111}.name{font-weight:bold;font-size:12px}.shape{fill:#444;font-size:10px}"
        ".group-label{fill:#666;font-size:11px;font-style:italic}.edge path{fill:none;stroke:#777;stroke-width:1.2}"
        ".layer:hover rect{stroke-width:2.4}</style>"
    )
    out.append(
        '<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z" fill="#777"/></marker></defs>'
    )
    out.append('<rect width="100%" height="100%" fill="white"/>')
    out.append(
        f'<text x="{margin}" y="{margin + 6}" font-size="15" font-weight="bold">{_x(g.title)}</text>'
    )
    # groups, outermost first, behind everything
    for name, members in sorted(g.groups.items(), key=lambda kv: kv[0].count(".")):
        bs = [lay.boxes[m] for m in members]
        level = name.count(".")
        pad = (
            18 - 5 * level
        )  # room for the label, written down the left side (off the edges' shape labels)
        x0 = min(b.x for b in bs) - pad + ox
        y0 = min(b.y for b in bs) - 8 + 3 * level + oy
        x1 = max(b.x + b.w for b in bs) + pad + ox
        y1 = max(b.y + b.h for b in bs) + 8 - 3 * level + oy
        out.append(
            f'<g class="group" data-name="{_x(name)}"><rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" '
            f'rx="10" fill="{"#f6f7f9" if level == 0 else "#eef0f4"}" stroke="#c8ccd4" stroke-dasharray="4 3"/>'
            f'<text class="group-label" transform="translate({x0 + 3:.1f},{y0 + 6:.1f}) rotate(90)">{_x(name)}</text></g>'
        )
    for (u, v, i), pts in lay.routes.items():
        e = g.edges[i]
        d = "M" + " L".join(f"{px + ox:.1f},{py + oy:.1f}" for px, py in pts)
        (x0, y0), (x1, y1) = (
            pts[-2],
            pts[-1],
        )  # on the last segment: edges into one box come from apart
        target = lay.boxes[v]
        left = (
            x0 + x1
        ) / 2 < target.x + target.w / 2 - 1  # an edge into the left half: its label on the left
        lx, ly = (x0 + x1) / 2 + ox + (-4 if left else 4), (y0 + y1) / 2 + oy + 3
        anchor = ' text-anchor="end"' if left else ""
        out.append(
            f'<g class="edge" data-from="{_x(u)}" data-to="{_x(v)}"><path d="{d}" marker-end="url(#arrow)"/>'
            f'<text class="shape" x="{lx:.1f}" y="{ly:.1f}"{anchor}>{_x(shape_text(e.shape))}</text></g>'
        )
    for n in g.nodes:
        b = lay.boxes[n.id]
        fill, stroke, _ = FAMILIES.get(n.family, FAMILIES["group"])
        x, y = b.x + ox, b.y + oy
        tip = n.detail or "\n".join(n.lines)
        rx = 14 if n.family == "io" else 5
        out.append(
            f'<g class="layer" data-name="{_x(n.name)}" data-family="{n.family}">'
            f"<title>{_x(tip)}</title>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{b.w:.1f}" height="{b.h:.1f}" rx="{rx}" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="{2.4 if n.error else 1.2}"/>'
        )
        for i, line in enumerate(n.lines):
            cls = ' class="name"' if i == 0 else ""
            out.append(
                f'<text{cls} x="{x + b.w / 2:.1f}" y="{y + PAD + 10 + i * LINE_H:.1f}" text-anchor="middle">{_x(line)}</text>'
            )
        out.append("</g>")
        if n.error:
            out.append(
                f'<text x="{x + b.w + 8:.1f}" y="{y + 14:.1f}" fill="#d00000" font-size="11">{_x(n.error[:140])}</text>'
            )
    lx, ly = margin, height - legend_h
    for f in fams:
        fill, stroke, label = FAMILIES[f]
        out.append(
            f'<rect x="{lx}" y="{ly - 10}" width="14" height="12" rx="3" fill="{fill}" stroke="{stroke}"/>'
        )
        out.append(f'<text x="{lx + 19}" y="{ly}" fill="#333">{_x(label)}</text>')
        lx += len(label) * CHAR_W + 34
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _x(text: str) -> str:
    return html.escape(str(text), quote=True)


# ---- HTML ---------------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{margin:0;font-family:Helvetica,Arial,sans-serif;display:flex;height:100vh}}
#view{{flex:1;overflow:hidden;cursor:grab;background:#fff;border-right:1px solid #ddd}}
#view svg{{width:100%;height:100%}}
#side{{width:34%;min-width:320px;overflow:auto;padding:12px;box-sizing:border-box;font-size:13px}}
pre{{white-space:pre-wrap;background:#f6f6f6;padding:8px;border-radius:4px}}
table{{border-collapse:collapse;font-size:12px}}td,th{{border-bottom:1px solid #eee;padding:2px 6px;text-align:left}}
td{{white-space:nowrap}}td.n{{text-align:right}}tr.sel{{background:#fff3c4}}tr[data-name]{{cursor:pointer}}
</style></head><body>
<div id="view">{svg}</div>
<div id="side"><h2>{title}</h2><p>Wheel to zoom, drag to pan; click a box (or a row) for its numbers and rules.</p>
<pre id="detail">Click a layer.</pre>
<table><thead><tr><th>Layer</th><th>Type</th><th>Output shape</th><th>Params</th><th>MACs</th></tr></thead>
<tbody>{rows}</tbody></table>{footer}</div>
<script>
const details = {details};
const svg = document.querySelector('#view svg');
const view = document.getElementById('view');
let vb = svg.getAttribute('viewBox').split(' ').map(Number);
svg.setAttribute('preserveAspectRatio', 'xMidYMin meet');
svg.removeAttribute('width'); svg.removeAttribute('height');
function set() {{ svg.setAttribute('viewBox', vb.join(' ')); }}
const box = view.getBoundingClientRect();  // start at the top, as wide as the picture (a tall net scrolls by panning)
vb = [vb[0], vb[1], vb[2], Math.min(vb[3], vb[2] * box.height / Math.max(box.width, 1))]; set();
const full = vb.slice();
view.addEventListener('wheel', e => {{
  e.preventDefault();
  const r = svg.getBoundingClientRect(), k = e.deltaY > 0 ? 1.15 : 1 / 1.15;
  const px = vb[0] + (e.clientX - r.left) / r.width * vb[2], py = vb[1] + (e.clientY - r.top) / r.height * vb[3];
  vb = [px - (px - vb[0]) * k, py - (py - vb[1]) * k, vb[2] * k, vb[3] * k]; set();
}}, {{passive: false}});
let drag = null;
view.addEventListener('mousedown', e => {{ drag = [e.clientX, e.clientY, vb[0], vb[1]]; }});
window.addEventListener('mouseup', () => {{ drag = null; }});
window.addEventListener('mousemove', e => {{
  if (!drag) return;
  const r = svg.getBoundingClientRect(), s = vb[2] / r.width;
  vb[0] = drag[2] - (e.clientX - drag[0]) * s; vb[1] = drag[3] - (e.clientY - drag[1]) * s; set();
}});
view.addEventListener('dblclick', () => {{ vb = full.slice(); set(); }});
function show(name) {{
  document.getElementById('detail').textContent = details[name] || name;
  document.querySelectorAll('tr.sel').forEach(t => t.classList.remove('sel'));
  const row = document.querySelector('tr[data-name="' + CSS.escape(name) + '"]');
  if (row) {{ row.classList.add('sel'); }}
}}
document.querySelectorAll('g.layer').forEach(g => g.addEventListener('click', () => show(g.dataset.name)));
document.querySelectorAll('tr[data-name]').forEach(t => t.addEventListener('click', () => show(t.dataset.name)));
</script></body></html>
"""


def page(g: Graph, a: Analysis) -> str:
    """One self-contained file: the picture (zoom, pan), the layer table, each layer's explain text."""
    rows = "".join(
        f'<tr data-name="{_x(x.name)}"><td>{_x(x.name)}</td><td>{_x(x.type)}</td><td>{_x(shape_text(x.output_shape))}</td>'
        f'<td class="n">{x.param_count:,}</td><td class="n">{x.macs:,}</td></tr>'
        for x in a.layers
    )
    footer = f"<p>Total params: {a.total_params:,}<br>Trainable params: {a.trainable_params:,}<br>MACs: {a.total_macs:,}</p>"
    details = {n.name: n.detail for n in g.nodes if n.detail}
    data = json.dumps(details).replace("</", "<\\/")
    return PAGE.format(
        title=_x(g.title), svg=svg(g, standalone=False), rows=rows, footer=footer, details=data
    )


# ---- Mermaid and DOT ----------------------------------------------------------------------------


def mermaid(g: Graph) -> str:
    """A flowchart GitHub renders (Markdown, issues, pull requests)."""
    ids = {n.id: f"n{i}" for i, n in enumerate(g.nodes)}
    out = ["flowchart TD"]
    for n in g.nodes:
        text = "<br/>".join(_mm(line) for line in n.lines)
        shape = f'(["{text}"])' if n.family == "io" else f'["{text}"]'
        out.append(f"  {ids[n.id]}{shape}")
    for e in g.edges:
        out.append(f'  {ids[e.src]} -->|"{_mm(shape_text(e.shape))}"| {ids[e.dst]}')
    fams = {n.family for n in g.nodes}
    for f in FAMILIES:
        if f in fams:
            fill, stroke, _ = FAMILIES[f]
            out.append(f"  classDef {f} fill:{fill},stroke:{stroke},color:#111")
            members = ",".join(ids[n.id] for n in g.nodes if n.family == f)
            out.append(f"  class {members} {f}")
    return "\n".join(out) + "\n"


def _mm(text: str) -> str:
    return str(text).replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def dot(g: Graph) -> str:
    """Graphviz: boxes filled by family, edges labelled with shapes, blocks as clusters."""
    ids = {n.id: f"n{i}" for i, n in enumerate(g.nodes)}
    out = [f"digraph {json.dumps(g.title)} {{", '  rankdir=TB; node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
           '  edge [fontname="Helvetica", fontsize=9, color="#777777"];']  # fmt: skip
    inside: dict[str, str] = {}
    for name in sorted(g.groups, key=len):  # innermost (longest prefix) last wins
        for m in g.groups[name]:
            inside[m] = name

    def node_line(n: Node) -> str:
        fill, stroke, _ = FAMILIES.get(n.family, FAMILIES["group"])
        label = "\\n".join(line.replace('"', '\\"') for line in n.lines)
        return f'{ids[n.id]} [label="{label}", fillcolor="{fill}", color="{stroke}"];'

    top_groups = sorted({inside[n.id].split(".")[0] for n in g.nodes if n.id in inside})
    for n in g.nodes:
        if n.id not in inside:
            out.append("  " + node_line(n))
    for k, grp in enumerate(top_groups):
        out.append(
            f'  subgraph cluster_{k} {{ label={json.dumps(grp)}; style="rounded,dashed"; color="#aaaaaa";'
        )
        for n in g.nodes:
            if n.id in inside and inside[n.id].split(".")[0] == grp:
                out.append("    " + node_line(n))
        out.append("  }")
    for e in g.edges:
        out.append(f'  {ids[e.src]} -> {ids[e.dst]} [label="{shape_text(e.shape)}"];')
    out.append("}")
    return "\n".join(out) + "\n"
