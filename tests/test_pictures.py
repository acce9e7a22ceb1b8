"""Pictures fit for a paper: on every drawn net, frames nest or stand apart, no text overlaps a
box or other text, every edge keeps its shape label (``geometry.check``). The nets: every
config, the imported zoo, Ultralytics models, a GoogLeNet written as a new user would (branch
groups with the ReLUs named outside them), a DenseNet block and random graphs (hypothesis)."""

from pathlib import Path

import geometry
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnncalc.engine import analyze
from cnncalc.read import load, parse
from cnncalc.show.draw import graph
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


@pytest.mark.parametrize("name", ["yolo90.yaml", "yolo91-seg.yaml", "yolo93-pose.yaml"])
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
