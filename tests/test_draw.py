"""`cnncalc draw`: the SVG parses, every layer has a labelled box, no two boxes overlap, every edge
carries the
shape the analysis gives it; folding, an invalid spec, Mermaid and DOT; the HTML page rendered by a
real
headless browser (Chromium), its screenshot not blank."""

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import geometry
import pytest
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.engine import analyze, base
from cnncalc.read import load, parse
from cnncalc.show.draw import graph, mermaid, shape_text
from cnncalc.show.page import page
from cnncalc.show.render import fold
from cnncalc.show.svg import svg

ROOT = Path(__file__).resolve().parent.parent
NS = {"s": "http://www.w3.org/2000/svg"}
runner = CliRunner()
ONE_D = """name: tcn
input: [2, 4, 64]
layers:
  - {name: c1, type: Conv1d, out_channels: 8, kernel_size: 5, padding: 2}
  - {name: r1, type: ReLU}
  - {name: c2, type: Conv1d, out_channels: 8, kernel_size: 3, dilation: 2, padding: 2}
  - {name: skip, type: Conv1d, from: input, out_channels: 8, kernel_size: 1}
  - {name: add, type: Add, from: [c2, skip]}
  - {name: pool, type: AdaptiveAvgPool1d, output_size: 1}
  - {name: flat, type: Flatten}
  - {name: fc, type: Linear, out_features: 3}
"""


def boxes_of(root):
    out = {}
    for g in root.iterfind(".//s:g[@class='layer']", NS):
        r = g.find("s:rect", NS)
        texts = [t.text for t in g.iterfind("s:text", NS)]
        out[g.get("data-name")] = (
            (float(r.get("x")), float(r.get("y")), float(r.get("width")), float(r.get("height"))),
            texts,
        )
    return out


def check_picture(a, text):
    """The geometry (tests/geometry.py), a labelled box per layer, an edge per input."""
    geometry.check(text)
    root = ET.fromstring(text.split("\n", 1)[1] if text.startswith("<?xml") else text)
    boxes = boxes_of(root)
    names = [x.name for x in a.layers]
    assert set(names) <= set(boxes)  # a box per layer, labelled with its name and type
    for x in a.layers:
        assert boxes[x.name][1][0] == x.name and boxes[x.name][1][1].startswith(x.type)
    edges = [
        (g.get("data-from"), g.get("data-to"), g.get("data-shape"))
        for g in root.iterfind(".//s:g[@class='edge']", NS)
    ]
    shapes = {"input": a.input, **{x.name: x.output_shape for x in a.layers}}
    for x in a.layers:
        for k, s in enumerate(x.output_shapes or ()):
            shapes[f"{x.name}:{k}"] = s
    want = {(base(s), x.name, shape_text(shapes[s])) for x in a.layers for s in x.inputs}
    assert want <= set(
        edges
    )  # every input of every layer an edge, labelled with the shape it carries
    into_outputs = [e for e in edges if e[1].startswith("output")]
    assert len(into_outputs) == len(
        a.outputs
    )  # one edge into each output box, from the layer returned
    assert {(base(n), shape_text(s)) for n, s in a.outputs} == {(e[0], e[2]) for e in into_outputs}
    return boxes, edges


@pytest.mark.parametrize(
    "name",
    [
        "resnet50.yaml",
        "googlenet.yaml",
        "densenet121.yaml",
        "unet.yaml",
        "mobilenet_v2.yaml",
        "lenet.yaml",
    ],
)
def test_configs_draw_every_layer_apart_with_shapes(name):
    a = analyze(load(str(ROOT / "configs" / name)))
    check_picture(a, svg(graph(a)))


@pytest.mark.parametrize(
    "path", sorted((ROOT / "tests" / "zoo").glob("*.yaml")), ids=lambda p: p.stem
)
def test_imported_torchvision_nets_draw(path):
    """Imports of torchvision models (a MobileNetV3 inside LR-ASPP, EfficientNet, ConvNeXt,
    DenseNet ...)."""
    a = analyze(load(str(path)))
    check_picture(a, svg(graph(a)))


def test_a_1d_net_and_a_detector_draw():
    a = analyze(parse(ONE_D))
    check_picture(a, svg(graph(a)))
    a = analyze(load(str(ROOT / "tests" / "ultralytics" / "yolo91n-seg.yaml"), imgsz=128))
    boxes, _ = check_picture(a, svg(graph(a)))
    assert {"output 0", "output 1"} <= set(boxes)  # several outputs, at the bottom
    bottom = max(b[0][1] for b in boxes.values())
    assert all(boxes[o][0][1] == bottom for o in boxes if o.startswith("output"))


def test_depth_folds_blocks_into_one_box():
    a = analyze(load(str(ROOT / "configs" / "resnet18.yaml")))
    root = ET.fromstring(svg(graph(a, depth=1)).split("\n", 1)[1])
    boxes = boxes_of(root)
    assert set(boxes) == {name for name, *_ in fold(a.layers, 1)} | {"input", "output"}
    assert boxes["layer1"][1][1] == "(14 layers)" and boxes["layer1"][1][2] == "147,968 params"
    groups = {g.get("data-name") for g in root.iterfind(".//s:g[@class='group']", NS)}
    assert not groups  # folded: no groups left to draw
    unfolded = {
        g.get("data-name")
        for g in ET.fromstring(svg(graph(a)).split("\n", 1)[1]).iterfind(
            ".//s:g[@class='group']", NS
        )
    }
    assert {"layer1", "layer1.0", "layer4.1"} <= unfolded


def test_an_invalid_spec_is_drawn_to_the_failing_layer(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (ROOT / "configs" / "lenet.yaml").read_text().replace("[1, 1, 32, 32]", "[1, 1, 36, 36]")
    )
    out = tmp_path / "bad.svg"
    r = runner.invoke(app, ["draw", str(bad), "-o", str(out)])
    assert r.exit_code == 1 and "error: layer 'fc1' (Linear)" in r.stderr
    root = ET.fromstring(out.read_text().split("\n", 1)[1])
    boxes = boxes_of(root)
    assert boxes["fc1"][1][2] == "refused"
    marked = [g.get("data-name") for g in root.iterfind(".//s:g[@data-family='error']", NS)]
    assert marked == ["fc1"] and "in_features is 576" in out.read_text()
    assert {"conv1", "6"} <= set(boxes) and "fc2" not in boxes


def test_mermaid_and_dot_have_every_layer_and_edge():
    a = analyze(load(str(ROOT / "configs" / "resnet18.yaml")))
    g = graph(a)
    m = mermaid(g)
    assert m.startswith("flowchart TD\n")
    nodes = re.findall(r'^  (n\d+)[\[(]+"([^"]*)"', m, re.M)
    assert len(nodes) == len(a.layers) + 2 and all(
        t.split("<br/>")[0] == x.name for (_, t), x in zip(nodes[1:], a.layers)
    )
    assert (
        len(re.findall(r'-->\|"\[[0-9, ]+\]"\|', m))
        == len(g.edges)
        == sum(len(x.inputs) for x in a.layers) + 1
    )
    r = runner.invoke(app, ["draw", str(ROOT / "configs" / "resnet18.yaml"), "-f", "dot"])
    assert r.exit_code == 0 and r.stdout.startswith('digraph "resnet18" {')
    assert len(re.findall(r' -> n\d+ \[label="\[[0-9, ]+\]"\];', r.stdout)) == len(g.edges)
    assert "subgraph cluster_" in r.stdout


def test_format_from_the_suffix_and_a_bad_suffix(tmp_path):
    for suffix, start in (
        (".svg", "<?xml"),
        (".html", "<!DOCTYPE html>"),
        (".mmd", "flowchart TD"),
        (".dot", "digraph"),
    ):
        out = tmp_path / f"net{suffix}"
        assert runner.invoke(app, ["draw", "-o", str(out)]).exit_code == 0
        assert out.read_text().startswith(start)
    r = runner.invoke(app, ["draw", "-o", str(tmp_path / "net.bmp")])
    assert r.exit_code == 2 and "cannot tell the format" in r.stderr


def test_html_is_self_contained_with_explain_text():
    a = analyze(load(str(ROOT / "configs" / "resnet18.yaml")))
    text = page(graph(a, explain=True), a)
    assert (
        not re.search(r"(src|href)=[\"']?(https?:)?//", text) and "@import" not in text
    )  # nothing fetched
    assert (
        "layer1.0.conv1 (Conv2d): [1, 64, 56, 56] -> [1, 64, 56, 56]" in text
    )  # explain, per layer
    assert text.count("<tr data-name=") == len(a.layers)


CHROMIUM = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium here (Debian: apt-get install chromium; .ci/run installs it)",
)
def test_chromium_renders_the_html_page(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    a = analyze(load(str(ROOT / "configs" / "googlenet.yaml")))
    html = tmp_path / "net.html"
    html.write_text(page(graph(a, explain=True), a))
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--screenshot={shot}",
            "--window-size=1200,800",
            html.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    img = Image.open(shot).convert("RGB")
    assert img.size == (1200, 800)
    colours = img.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # boxes, text, table: not a blank page
    # the picture side has the layer colours (the conv blue and the batch-norm green are drawn)
    left = img.crop((0, 0, 700, 800)).getcolors(maxcolors=1 << 20)
    assert any(c[:3] == (0xDB, 0xE8, 0xFB) for _, c in left) and any(
        c[:3] == (0xDF, 0xF3, 0xE4) for _, c in left
    )


def test_an_ultralytics_model_folds_into_its_rows():
    a = analyze(load(str(ROOT / "tests" / "ultralytics" / "yolo90n.yaml"), imgsz=128))
    root = ET.fromstring(svg(graph(a, depth=2)).split("\n", 1)[1])
    boxes = boxes_of(root)
    assert {f"model.{i}" for i in range(19)} <= set(boxes)
    assert boxes["model.2"][1][1].startswith("C2f (") and boxes["model.13"][1][1] == "Cat dim 1"
    assert not list(root.iterfind(".//s:g[@class='group']", NS))  # no group of everything


def test_folded_groups_that_feed_each_other_are_drawn(tmp_path):
    """At depth 1, a -> b -> a: the main path's walk back ends where it meets itself (it looped
    for ever once; fuzz seed 7,008,284)."""
    p = tmp_path / "spec.yaml"
    p.write_text(
        "input: [1, 2, 4, 4]\nlayers:\n"
        "  - {name: a.x, type: Conv2d, out_channels: 2, kernel_size: 1}\n"
        "  - {name: b.y, type: ReLU}\n"
        "  - {name: a.z, type: Conv2d, out_channels: 2, kernel_size: 1}\n"
    )
    for fmt in ("mermaid", "svg", "dot"):
        r = CliRunner().invoke(app, ["draw", str(p), "--format", fmt, "--depth", "1"])
        assert r.exit_code == 0, r.output
        assert "a" in r.output and "b" in r.output and "(2 layers)" in r.output, r.output
