"""A drawn net as one self-contained HTML page: the picture (wheel zoom, drag to pan), groups that
fold into one box on a click (its input and output shapes, params and MACs) and unfold on
another, search by layer name, the layer table, each layer's explain text."""

from __future__ import annotations

import json

from ..model import Analysis
from .draw import Graph, shape_text
from .svg import _x, svg

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{margin:0;font-family:Helvetica,Arial,sans-serif;display:flex;height:100vh}}
#view{{flex:1;overflow:hidden;cursor:grab;background:#fff;border-right:1px solid #ddd}}
#view svg{{width:100%;height:100%}}
#side{{width:36%;min-width:320px;overflow:auto;padding:12px;box-sizing:border-box;font-size:13px}}
pre{{white-space:pre-wrap;background:#f6f6f6;padding:8px;border-radius:4px}}
#search{{width:100%;box-sizing:border-box;padding:4px 6px;margin-bottom:6px;font-size:13px}}
table{{border-collapse:collapse;font-size:12px;width:100%;table-layout:fixed}}
td,th{{border-bottom:1px solid #eee;padding:2px 4px;text-align:left;overflow-wrap:anywhere}}
th:nth-child(1){{width:30%}}th:nth-child(2){{width:19%}}th:nth-child(3){{width:23%}}
th:nth-child(4){{width:12%}}th:nth-child(5){{width:16%}}
td.n,th.n{{text-align:right}}tr.sel{{background:#fff3c4}}tr[data-name]{{cursor:pointer}}
g.group,g.group-title,g.fold{{cursor:pointer}}
g.layer.hit rect{{stroke:#e08a00;stroke-width:3}}
</style></head><body>
<div id="view">{svg}</div>
<div id="side"><h2>{title}</h2>
<p>Wheel to zoom, drag to pan; click a box (or a row) for its numbers and rules, a group's frame
to fold it into one box, the box to unfold it.</p>
<input id="search" type="search" placeholder="Search layers by name"><span id="hits"></span>
<pre id="detail">Click a layer.</pre>
<table><thead>
<tr><th>Layer</th><th>Type</th><th>Output shape</th><th class="n">Params</th>
<th class="n">MACs</th></tr>
</thead>
<tbody>{rows}</tbody></table>{footer}</div>
<script>
const details = {details};
const svg = document.querySelector('#view svg');
const view = document.getElementById('view');
let vb = svg.getAttribute('viewBox').split(' ').map(Number);
svg.setAttribute('preserveAspectRatio', 'xMidYMin meet');
svg.removeAttribute('width'); svg.removeAttribute('height');
function set() {{ svg.setAttribute('viewBox', vb.join(' ')); }}
// start at the top, as wide as the picture (a tall net scrolls by panning)
const box = view.getBoundingClientRect();
vb = [vb[0], vb[1], vb[2], Math.min(vb[3], vb[2] * box.height / Math.max(box.width, 1))]; set();
const full = vb.slice();
view.addEventListener('wheel', e => {{
  e.preventDefault();
  const r = svg.getBoundingClientRect(), k = e.deltaY > 0 ? 1.15 : 1 / 1.15;
  const px = vb[0] + (e.clientX - r.left) / r.width * vb[2];
  const py = vb[1] + (e.clientY - r.top) / r.height * vb[3];
  vb = [px - (px - vb[0]) * k, py - (py - vb[1]) * k, vb[2] * k, vb[3] * k]; set();
}}, {{passive: false}});
let drag = null, moved = false;
view.addEventListener('mousedown', e => {{
  drag = [e.clientX, e.clientY, vb[0], vb[1]]; moved = false;
}});
window.addEventListener('mouseup', () => {{ drag = null; }});
window.addEventListener('mousemove', e => {{
  if (!drag) return;
  if (Math.abs(e.clientX - drag[0]) + Math.abs(e.clientY - drag[1]) > 4) moved = true;
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
const pick = el => el.addEventListener('click', () => show(el.dataset.name));
document.querySelectorAll('g.layer').forEach(pick);
document.querySelectorAll('tr[data-name]').forEach(pick);
// folding: a folded group hides its layers, the edges within it and the frames inside it
const within = {{}};
document.querySelectorAll('g.layer').forEach(el => {{
  within[el.dataset.name] = (el.dataset.groups || '').split(' ').filter(Boolean);
}});
const folded = new Set();
const under = n => [...folded].some(f => n.startsWith(f + '.'));
function refresh() {{
  document.querySelectorAll('g.layer').forEach(el => {{
    el.style.display = within[el.dataset.name].some(g => folded.has(g)) ? 'none' : '';
  }});
  document.querySelectorAll('g.edge, g.label').forEach(el => {{
    const a = within[el.dataset.from] || [], b = within[el.dataset.to] || [];
    el.style.display = [...folded].some(f => a.includes(f) && b.includes(f)) ? 'none' : '';
  }});
  document.querySelectorAll('g.group, g.group-title').forEach(el => {{
    el.style.display = under(el.dataset.name) ? 'none' : '';
  }});
  document.querySelectorAll('g.fold').forEach(el => {{
    const n = el.dataset.group;
    el.setAttribute('display', folded.has(n) && !under(n) ? 'inline' : 'none');
  }});
}}
function toggle(name) {{
  if (folded.has(name)) folded.delete(name); else folded.add(name);
  refresh();
}}
document.querySelectorAll('g.group, g.group-title').forEach(el => el.addEventListener(
  'click', () => {{
  if (!moved) toggle(el.dataset.name);
}}));
document.querySelectorAll('g.fold').forEach(el => el.addEventListener('click', () => {{
  if (!moved) toggle(el.dataset.group);
}}));
// search: matching boxes marked (their folded groups opened), rows filtered, the first shown
const search = document.getElementById('search');
search.addEventListener('input', () => {{
  const q = search.value.trim().toLowerCase();
  let first = null, n = 0;
  document.querySelectorAll('g.layer').forEach(el => {{
    const hit = q !== '' && el.dataset.name.toLowerCase().includes(q);
    el.classList.toggle('hit', hit);
    if (hit) {{ within[el.dataset.name].forEach(g => folded.delete(g)); first = first || el; }}
  }});
  document.querySelectorAll('tr[data-name]').forEach(tr => {{
    const hit = q === '' || tr.dataset.name.toLowerCase().includes(q);
    tr.style.display = hit ? '' : 'none'; if (hit && q !== '') n += 1;
  }});
  document.getElementById('hits').textContent = q === '' ? '' : n + ' of ' + {count} + ' layers';
  refresh();
  if (first) {{
    const b = first.getBBox();
    vb = [b.x + b.width / 2 - vb[2] / 2, b.y + b.height / 2 - vb[3] / 3, vb[2], vb[3]]; set();
  }}
}});
</script></body></html>
"""


def folds(g: Graph) -> dict:
    """Group -> the lines of the box it folds into: its name, the shapes that enter and leave it,
    its params and MACs."""
    inside: dict = {}
    for name, members in g.groups.items():
        for m in members:
            inside.setdefault(m, set()).add(name)
    nodes = {n.id: n for n in g.nodes}
    ins: dict = {name: [] for name in g.groups}
    outs: dict = {name: [] for name in g.groups}
    for e in g.edges:
        a, b = inside.get(e.src, set()), inside.get(e.dst, set())
        for name in b - a:
            if e.shape not in ins[name]:
                ins[name].append(e.shape)
        for name in a - b:
            if e.shape not in outs[name]:
                outs[name].append(e.shape)
    out = {}
    for name, members in g.groups.items():
        params = sum(nodes[m].params for m in members)
        macs = sum(nodes[m].macs for m in members)
        out[name] = [
            f"{name} ({len(members)} layers)",
            "in " + " ".join(shape_text(s) for s in ins[name]),
            "out " + " ".join(shape_text(s) for s in outs[name]),
            f"{params:,} params",
            f"{macs:,} MACs",
        ]
    return out


def page(g: Graph, a: Analysis) -> str:
    """One self-contained file: the picture (zoom, pan, fold, search), the layer table, each
    layer's explain text."""
    rows = "".join(
        f'<tr data-name="{_x(x.name)}"><td>{_x(x.name)}</td><td>{_x(x.type)}</td>'
        f"<td>{_x(shape_text(x.output_shape))}</td>"
        f'<td class="n">{x.param_count:,}</td><td class="n">{x.macs:,}</td></tr>'
        for x in a.layers
    )
    footer = (
        f"<p>Total params: {a.total_params:,}<br>Trainable params: "
        f"{a.trainable_params:,}<br>MACs: {a.total_macs:,}</p>"
    )
    details = {n.name: n.detail for n in g.nodes if n.detail}
    data = json.dumps(details).replace("</", "<\\/")
    return PAGE.format(
        title=_x(g.title),
        svg=svg(g, standalone=False, folds=folds(g)),
        rows=rows,
        footer=footer,
        details=data,
        count=len(a.layers),
    )
