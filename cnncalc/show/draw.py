"""Pictures of a net: the analysis as a graph (facts), then Mermaid or DOT here, SVG and a
self-contained HTML page in ``svg``.

One box per layer (name; type and the arguments that matter; parameters), each edge labelled with
the shape
it carries, blocks as labelled groups (``depth`` folds them into one box), a colour per layer family
with a
legend, the net's outputs at the bottom. An invalid spec is drawn up to the layer that fails, that
layer
marked with the diagnostic.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field

from ..engine import base
from ..layers import REGISTRY
from ..model import Analysis

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
    macs: int = 0


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


SAME_FAMILY = {"views": "reshape"}  # layers/ files drawn in one colour


def family(type_: str) -> str:
    kind = REGISTRY.get(type_)
    if kind is None:
        return "group"
    file = type(kind).__module__.rsplit(".", 1)[-1]
    return SAME_FAMILY.get(file, file)


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
    """The analysis as boxes and edges; ``depth`` folds names with more dotted parts into one box
    per group;
    ``failure`` (layer spec, message) adds the layer that does not fit, marked."""
    from .explain import each

    details = each(a) if explain else {}
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
            n.macs += layer.macs
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
                macs=layer.macs,
            )
        else:
            nodes[nid] = Node(
                nid,
                layer.name,
                _label(layer.name, layer.type, _key_args(layer), layer.param_count),
                fam,
                layer.output_shape,
                layer.param_count,
                macs=layer.macs,
            )
            if explain:
                nodes[nid].detail = details[layer.name].strip()
        for s in layer.inputs:
            src = of[base(s)]
            if src != nid:
                edges.append(Edge(src, nid, shapes.get(s)))
    if failure is not None:
        spec_layer, message = failure
        srcs = spec_layer.inputs or ([a.layers[-1].name] if a.layers else ["input"])
        nid = spec_layer.name
        lines = [nid, spec_layer.type, "refused", *textwrap.wrap(message, 56)[:4]]
        nodes[nid] = Node(nid, nid, lines, "error", None, 0, message, message)
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
    """Back from the (first) output along the deepest input (the first of equally deep ones): the
    spine drawn
    straight down; a U-Net's runs through its encoder and decoder, a ResNet's through the residual
    branches."""
    preds: dict[str, list[str]] = {}
    for e in edges:
        preds.setdefault(e.dst, []).append(e.src)
    depth: dict[str, int] = {}
    for n in order:
        depth[n] = 1 + max((depth.get(p, 0) for p in preds.get(n, [])), default=-1)
    path, n = {end}, end
    while preds.get(n):
        ps = preds[n]
        n = ps[max(range(len(ps)), key=lambda i: (depth.get(ps[i], 0), -i))]
        if n in path:  # folded groups can feed each other: the walk ends where it meets itself
            break
        path.add(n)
    return path


def _groups(ids: list[str], depth: int | None) -> dict:
    """Dotted prefixes (one or two parts, within the fold depth) shared by two or more boxes:
    drawn as groups."""
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
    out = [
        f"digraph {json.dumps(g.title)} {{",
        '  rankdir=TB; node [shape=box, style="rounded,filled", fontname="Helvetica", '
        "fontsize=10];",
        '  edge [fontname="Helvetica", fontsize=9, color="#777777"];',
    ]
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
            f'  subgraph cluster_{k} {{ label={json.dumps(grp)}; style="rounded,dashed"; '
            'color="#aaaaaa";'
        )
        for n in g.nodes:
            if n.id in inside and inside[n.id].split(".")[0] == grp:
                out.append("    " + node_line(n))
        out.append("  }")
    for e in g.edges:
        out.append(f'  {ids[e.src]} -> {ids[e.dst]} [label="{shape_text(e.shape)}"];')
    out.append("}")
    return "\n".join(out) + "\n"
