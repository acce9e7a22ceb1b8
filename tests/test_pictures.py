"""Pictures fit for a paper: on every drawn net, frames nest or stand apart, no text overlaps a
box or other text, every edge keeps its shape label (``geometry.check``). The nets: every
config, the imported zoo, Ultralytics models, a GoogLeNet written as a new user would (branch
groups with the ReLUs named outside them), a DenseNet block and random graphs (hypothesis)."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import geometry
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.engine import analyze
from cnncalc.read import load, parse
from cnncalc.show.draw import graph
from cnncalc.show.page import page
from cnncalc.show.svg import svg

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(
    [*(ROOT / "configs").glob("*.yaml"), *(ROOT / "tests" / "zoo").glob("*.yaml")],
    key=lambda p: p.name,
)


def inception_net(modules: int = 3) -> str:
    """Inception modules as a user writes them: branches as dotted groups, each ReLU named
    ``relu_N`` outside them, so a branch's layers are not contiguous in the graph."""
    lines = [
        "name: googlenet_by_hand",
        "input: [1, 3, 32, 32]",
        "layers:",
        "  - {name: stem.conv, type: Conv2d, out_channels: 16, kernel_size: 3, padding: 1}",
        "  - {name: stem.bn, type: BatchNorm2d}",
        "  - {name: relu_0, type: ReLU}",
    ]
    src, k = "relu_0", 1
    for m in range(modules):
        p = f"inception{m + 3}a"
        lines += [
            f"  - {{name: {p}.branch1.conv, type: Conv2d, from: {src}, out_channels: 8, "
            "kernel_size: 1}",
            f"  - {{name: {p}.branch1.bn, type: BatchNorm2d}}",
            f"  - {{name: relu_{k}, type: ReLU}}",
            f"  - {{name: {p}.branch2.conv1, type: Conv2d, from: {src}, out_channels: 8, "
            "kernel_size: 1}",
            f"  - {{name: {p}.branch2.bn1, type: BatchNorm2d}}",
            f"  - {{name: relu_{k + 1}, type: ReLU}}",
            f"  - {{name: {p}.branch2.conv2, type: Conv2d, out_channels: 12, kernel_size: 3, "
            "padding: 1}",
            f"  - {{name: {p}.branch2.bn2, type: BatchNorm2d}}",
            f"  - {{name: relu_{k + 2}, type: ReLU}}",
            f"  - {{name: {p}.branch3.conv1, type: Conv2d, from: {src}, out_channels: 4, "
            "kernel_size: 1}",
            f"  - {{name: relu_{k + 3}, type: ReLU}}",
            f"  - {{name: {p}.branch3.conv2, type: Conv2d, out_channels: 6, kernel_size: 5, "
            "padding: 2}",
            f"  - {{name: relu_{k + 4}, type: ReLU}}",
            f"  - {{name: {p}.branch4.pool, type: MaxPool2d, from: {src}, kernel_size: 3, "
            "stride: 1, padding: 1}",
            f"  - {{name: {p}.branch4.conv, type: Conv2d, out_channels: 6, kernel_size: 1}}",
            f"  - {{name: relu_{k + 5}, type: ReLU}}",
            f"  - {{name: {p}.cat, type: Cat, from: [relu_{k}, relu_{k + 2}, relu_{k + 4}, "
            f"relu_{k + 5}]}}",
        ]
        src, k = f"{p}.cat", k + 6
    lines += [
        "  - {name: pool, type: AdaptiveAvgPool2d, output_size: 1}",
        "  - {name: flat, type: Flatten}",
        "  - {name: fc, type: Linear, out_features: 10}",
    ]
    return "\n".join(lines) + "\n"


def dense_block() -> str:
    """A DenseNet block: every layer reads the concatenation of all before it."""
    lines = ["name: dense", "input: [1, 8, 16, 16]", "layers:"]
    feats = ["input"]
    for i in range(4):
        lines += [
            f"  - {{name: block.layer{i}.cat, type: Cat, from: [{', '.join(feats)}]}}"
            if len(feats) > 1
            else f"  - {{name: block.layer{i}.id, type: Identity, from: input}}",
            f"  - {{name: block.layer{i}.norm, type: BatchNorm2d}}",
            f"  - {{name: block.layer{i}.relu, type: ReLU}}",
            f"  - {{name: block.layer{i}.conv, type: Conv2d, out_channels: 4, kernel_size: 3, "
            "padding: 1}",
        ]
        feats.append(f"block.layer{i}.conv")
    lines.append(f"  - {{name: out, type: Cat, from: [{', '.join(feats)}]}}")
    return "\n".join(lines) + "\n"


def drawn(a, depth=None) -> dict:
    return geometry.check(svg(graph(a, depth)))


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_every_spec_draws_clean_at_every_depth(path):
    a = analyze(load(str(path)))
    m = drawn(a)
    assert len(m["boxes"]) == len(a.layers) + 1 + len(a.outputs)
    for depth in (1, 2):
        drawn(a, depth)


@pytest.mark.parametrize(
    "name",
    [
        "yolo90.yaml",
        "yolo91-seg.yaml",
        "yolo93-pose.yaml",
        "yolo97-gelan.yaml",
        "yolo98n-nmsfree.yaml",
    ],
)
def test_ultralytics_heads_draw_clean(name):
    a = analyze(load(str(ROOT / "tests" / "ultralytics" / name), imgsz=64))
    drawn(a)
    drawn(a, 2)


def test_branch_groups_with_layers_named_outside_them():
    """The GoogLeNet a new user writes: every branch is one frame, its own layers inside and the
    ReLUs named outside it outside; the frames of the four branches stand apart."""
    a = analyze(parse(inception_net()))
    m = drawn(a)
    frames = m["frames"]
    assert {f"inception3a.branch{b}" for b in range(1, 5)} <= set(frames)
    for name, (_, chain) in m["boxes"].items():
        if name.startswith("relu_"):
            assert not chain  # drawn outside every frame (geometry.check: no frame covers it)
    branches = [frames[f"inception4a.branch{b}"] for b in range(1, 5)]
    for i, a_ in enumerate(branches):
        for b_ in branches[i + 1 :]:
            assert a_[2] <= b_[0] or b_[2] <= a_[0]  # side by side, apart


def test_a_dense_block_and_a_shufflenet_unit():
    drawn(analyze(parse(dense_block())))
    drawn(analyze(load(str(ROOT / "configs" / "shufflenet_unit.yaml"))))


def test_edges_that_leave_one_box_with_one_shape_share_a_label():
    """The four branches read the same tensor: one label below the box they leave, not four."""
    m = drawn(analyze(parse(inception_net(1))))
    out = [e for e in m["edges"] if e[0] == "relu_0"]
    assert len(out) == 4 and sum(has for *_, has in out) == 1


PREFIXES = ["", "a.", "a.b.", "a.c.", "d.", "d.e.", "f.g."]


@st.composite
def random_net(draw):
    """A random DAG of convolutions, ReLUs and concatenations, named into random (nested,
    interleaved) groups."""
    n = draw(st.integers(2, 24))
    lines = ["name: random", "input: [1, 4, 8, 8]", "layers:"]
    names = ["input"]
    for i in range(n):
        prefix = draw(st.sampled_from(PREFIXES))
        name = f"{prefix}l{i}"
        kind = draw(st.sampled_from(["conv", "relu", "cat", "cat"]))
        if kind == "cat" and len(names) > 2:
            srcs = draw(st.lists(st.sampled_from(names), min_size=2, max_size=4, unique=True))
            lines.append(f"  - {{name: {name}, type: Cat, from: [{', '.join(srcs)}]}}")
        else:
            src = draw(st.sampled_from(names))
            c = draw(st.sampled_from([2, 4, 6]))
            lines.append(
                f"  - {{name: {name}, type: Conv2d, from: {src}, out_channels: {c}, "
                "kernel_size: 1}"
                if kind == "conv"
                else f"  - {{name: {name}, type: ReLU, from: {src}}}"
            )
        names.append(name)
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_net(), st.sampled_from([None, 1, 2]))
def test_random_graphs_draw_clean(text, depth):
    a = analyze(parse(text))
    drawn(a, depth)


def test_png_output_is_the_svg_rendered(tmp_path):
    """``-o net.png``: a PNG twice the SVG's size, the layer colours on it; without -o, exit 2."""
    Image = pytest.importorskip("PIL.Image")
    out = tmp_path / "net.png"
    spec = str(ROOT / "configs" / "lenet.yaml")
    r = CliRunner().invoke(app, ["draw", spec, "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = CliRunner().invoke(app, ["draw", spec]).stdout
    width, height = (float(v) for v in re.search(r'width="(\d+)" height="(\d+)"', text).groups())
    img = Image.open(out).convert("RGB")
    assert img.size == (2 * width, 2 * height)
    colours = {c for _, c in img.getcolors(maxcolors=1 << 20)}
    assert {(0xDB, 0xE8, 0xFB), (0xF9, 0xDC, 0xDC)} <= colours  # conv blue, linear red
    r = CliRunner().invoke(app, ["draw", spec, "--format", "png"])
    assert r.exit_code == 2 and "-o FILE.png" in r.stderr


CHROMIUM = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)
# run in the page after it loads: real text boxes (getBBox) against the layer boxes and each
# other, then a click on a group (folds), on its box (unfolds), a search; the results as JSON
PROBE = """<script>
(() => {
const out = {};
const all = q => [...document.querySelectorAll(q)];
const rects = all('g.layer').map(g => [g, g.querySelector('rect').getBBox()]);
const meet = (a, b) => a.x < b.x + b.width - 0.5 && b.x < a.x + a.width - 0.5 &&
  a.y < b.y + b.height - 0.5 && b.y < a.y + a.height - 0.5;
const inside = (a, b) => a.x >= b.x - 0.5 && a.y >= b.y - 0.5 &&
  a.x + a.width <= b.x + b.width + 0.5 && a.y + a.height <= b.y + b.height + 0.5;
const texts = [...document.querySelectorAll('#view text')].filter(t => !t.closest('g.fold'))
  .map(t => [t, t.getBBox(), t.closest('g.layer')]);
const bad = [];
for (const [t, b, own] of texts) {
  for (const [g, r] of rects) {
    if (g === own ? !inside(b, r) : meet(b, r)) bad.push(t.textContent + ' / ' + g.dataset.name);
  }
}
for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) {
  const [a, ba, oa] = texts[i], [b, bb, ob] = texts[j];
  if ((oa === null || oa !== ob) && meet(ba, bb)) bad.push(a.textContent + ' / ' + b.textContent);
}
out.overlaps = bad.slice(0, 20);
const shown = () => all('g.layer').filter(g => g.style.display !== 'none').length;
out.layers = shown();
const G = document.querySelector('g.group[data-name="GROUP"]');
G.dispatchEvent(new MouseEvent('click', {bubbles: true}));
out.folded = shown();
const fold = document.querySelector('g.fold[data-group="GROUP"]');
out.fold_shown = fold.getAttribute('display');
out.fold_text = [...fold.querySelectorAll('text')].map(t => t.textContent);
fold.dispatchEvent(new MouseEvent('click', {bubbles: true}));
out.unfolded = shown();
out.fold_after = fold.getAttribute('display');
const s = document.getElementById('search');
s.value = 'QUERY'; s.dispatchEvent(new Event('input'));
out.hits = document.querySelectorAll('g.layer.hit').length;
out.rows = all('tr[data-name]').filter(r => r.style.display !== 'none').length;
const side = document.getElementById('side'), table = side.querySelector('table');
const right = el => el.getBoundingClientRect().right;
out.table_fits = right(table) <= right(side) + 0.5;
out.cells_cut = all('#side td, #side th').filter(c => c.scrollWidth > c.clientWidth + 1).length;
const pre = document.createElement('pre'); pre.id = 'probe';
pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
})();
</script></body>"""


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium here (Debian: apt-get install chromium; .ci/run installs it)",
)
@pytest.mark.parametrize(
    "net,group,query",
    [("googlenet", "inception3a", "branch2"), ("by_hand", "inception4a.branch2", "relu_1")],
)
def test_the_page_folds_searches_and_fits_in_chromium(tmp_path, net, group, query):
    a = analyze(
        load(str(ROOT / "configs" / "googlenet.yaml"))
        if net == "googlenet"
        else parse(inception_net())
    )
    g = graph(a, explain=True)
    html = page(g, a).replace("</body>", PROBE.replace("GROUP", group).replace("QUERY", query))
    path = tmp_path / "net.html"
    path.write_text(html)
    r = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1400,900",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    m = re.search(r'<pre id="probe">(.*?)</pre>', r.stdout)
    assert m, r.stderr[-2000:]
    out = json.loads(m.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    assert out["overlaps"] == []  # measured by the browser's own fonts
    members = set(g.groups[group])
    assert out["layers"] == len(g.nodes)
    assert out["folded"] == len(g.nodes) - len(members)  # the group's boxes hidden
    assert out["fold_shown"] == "inline" and out["fold_after"] == "none"
    assert out["unfolded"] == len(g.nodes)
    params = sum(x.param_count for x in a.layers if x.name in members)
    macs = sum(x.macs for x in a.layers if x.name in members)
    assert out["fold_text"][0] == f"{group} ({len(members)} layers)"
    assert f"{params:,} params" in out["fold_text"] and f"{macs:,} MACs" in out["fold_text"]
    assert out["fold_text"][1].startswith("in [1, ") and out["fold_text"][2].startswith("out [1, ")
    named = sum(query in x.name for x in a.layers)
    assert named > 0 and out["hits"] == out["rows"] == named
    assert out["table_fits"] and out["cells_cut"] == 0
