"""export: the generated source runs in torch with the spec's parameter names and output shape."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import analysis_of, torch_run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_graph import CASES as GRAPHS
from test_layers import C as LAYERS

from cnncalc.bridge.export import export
from cnncalc.engine import analyze
from cnncalc.read import load

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def load_class(source: str, name: str = "Net"):
    namespace: dict = {}
    exec(compile(source, "<export>", "exec"), namespace)
    return namespace[name]


def check(a, device="cpu", spec=None):
    source = export(a, spec=spec)
    with torch.device(device):
        model = load_class(source)()
    assert sorted((n, tuple(p.shape)) for n, p in model.named_parameters()) == sorted(
        (t.name, t.shape) for t in a.tensors
    )
    assert [(n, tuple(b.shape)) for n, b in model.named_buffers()] == [
        (t.name, t.shape) for t in a.buffers
    ]
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == a.trainable_params
    dtype = getattr(torch, a.input_dtype)
    make = (
        (
            lambda s, d=torch.float32: (
                torch.randn(s, dtype=d) if d.is_floating_point else torch.zeros(s, dtype=d)
            )
        )
        if device == "cpu"
        else (lambda s, d=torch.float32: torch.empty(s, dtype=d, device=device))
    )
    x = make(a.input, dtype)
    extra = [
        make(layer.kwargs["shape"], getattr(torch, layer.kwargs["dtype"]))
        for layer in a.layers
        if layer.type == "Input"
    ]
    out = model.eval()(x, *extra)
    outs = out if isinstance(out, tuple) else (out,)
    assert [tuple(o.shape) for o in outs] == [s for _, s in a.outputs]
    return source


@pytest.mark.parametrize(
    "shape,layers", [c for c in LAYERS if torch_run(*c)[1] is None], ids=lambda c: str(c)[:40]
)
def test_every_layer_kind_exports(shape, layers):
    check(analysis_of(shape, layers))


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_configs_export(name):
    spec = load(str(CONFIGS / name))
    source = check(analyze(spec), device="meta", spec=spec)
    if name in (
        "resnet18.yaml",
        "resnet50.yaml",
        "googlenet.yaml",
        "squeezenet1_0.yaml",
        "densenet121.yaml",
    ):
        assert "class " in source.split("class Net")[0]  # its blocks became classes
        check(analyze(spec, batch=2), device="meta", spec=spec)


@pytest.mark.parametrize("shape,layers", [c for c in GRAPHS if torch_run(*c)[1] is None])
def test_graph_nets_export(shape, layers):
    check(analysis_of(shape, layers))


def test_unbatched_and_odd_names_export():
    layers = [
        {"name": "0", "type": "Conv2d", "out_channels": 4, "kernel_size": 3},
        {"type": "ReLU"},
        {"type": "MaxPool2d", "kernel_size": 2},
        {"name": "for", "type": "Conv2d", "out_channels": 2, "kernel_size": 1},
        {"name": "head.fc-1", "type": "Flatten", "start_dim": 0},
    ]
    check(analysis_of((3, 9, 9), layers))


def test_export_is_ruff_clean_and_imports_only_torch(tmp_path):
    source = export(analyze(load(str(CONFIGS / "squeezenet1_0.yaml"))), "SqueezeNet")
    assert [line for line in source.splitlines() if line.startswith(("import", "from"))] == [
        "import torch",
        "from torch import nn",
    ]
    path = tmp_path / "net.py"
    path.write_text(source)
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    r = subprocess.run([ruff, "check", "--isolated", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


@pytest.mark.parametrize(
    "block,layers,shape",
    [("Bottleneck", [2, 1], (1, 3, 45, 61)), ("BasicBlock", [1, 2], (2, 3, 40, 33))],
)
def test_block_specs_export_block_classes(block, layers, shape, tmp_path):
    from test_blocks import resnet_spec

    from cnncalc.read import parse

    spec = parse(resnet_spec(block, layers, shape, 8, classes=5))
    source = check(analyze(spec), spec=spec)
    assert f"class {block}(nn.Module):" in source
    assert ("class Down(nn.Module):" in source) == (
        block == "Bottleneck"
    )  # the nested block, only where used
    path = tmp_path / "net.py"
    path.write_text(source)
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    assert (
        subprocess.run([ruff, "check", "--isolated", str(path)], capture_output=True).returncode
        == 0
    )


def test_blocks_with_computed_names_export_flat():
    spec = load(str(CONFIGS / "mobilenet_v2.yaml"))
    source = check(analyze(spec), device="meta", spec=spec)
    assert source.count("class ") == 1


@st.composite
def block_specs(draw):
    """Nested blocks with expressions, repeat (written or computed), first and when, used at the
    top level."""
    import yaml

    inner_layers = [
        {
            "name": "conv",
            "type": "Conv2d",
            "out_channels": "${planes * mult}",
            "kernel_size": draw(st.sampled_from([1, 3])),
            "padding": "${pad}",
            "stride": "${stride}",
            "bias": draw(st.booleans()),
        },
        {"name": "bn", "type": "BatchNorm2d"},
    ]
    if draw(st.booleans()):
        inner_layers.append(
            {
                "name": "extra",
                "type": "Conv2d",
                "out_channels": "${planes}",
                "kernel_size": 1,
                "when": "${index > 0}",
            }
        )
    outer_use = {
        "name": "body",
        "type": "Inner",
        "planes": "${width}",
        "mult": draw(st.integers(1, 2)),
    }
    if draw(st.booleans()):
        outer_use["repeat"] = draw(st.sampled_from([1, 2, "${depth}"]))
    if draw(st.booleans()):
        outer_use["first"] = {"stride": 2}
    blocks = {
        "Inner": {
            "args": {"planes": None, "mult": 1, "stride": 1, "pad": 1},
            "layers": inner_layers,
        },
        "Outer": {
            "args": {"width": None, "depth": 2},
            "layers": [outer_use, {"name": "act", "type": "ReLU"}],
        },
    }
    top = [{"name": "stem", "type": "Inner", "planes": draw(st.sampled_from([4, "${2 * 3}"]))}]
    use = {"name": "stage", "type": "Outer", "width": draw(st.sampled_from([3, "${2 + 2}"]))}
    if draw(st.booleans()):
        use["repeat"] = draw(st.integers(1, 3))
        if draw(st.booleans()):
            use["first"] = {"depth": draw(st.integers(1, 3))}
    top.append(use)
    return yaml.safe_dump(
        {"input": [1, 3, 16, 16], "blocks": blocks, "layers": top}, sort_keys=False
    )


@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(block_specs())
def test_random_block_specs_export_with_the_analysed_tensors(text):
    from cnncalc.read import parse

    spec = parse(text)
    source = check(analyze(spec), spec=spec)
    a = analyze(spec)
    assert f"{a.total_params:,} parameters" in source


def test_shared_pruned_and_partly_frozen_layers_export():
    layers = [
        {"name": "c", "type": "Conv2d", "out_channels": 3, "kernel_size": 3, "padding": 1},
        {
            "name": "c2",
            "type": "Conv2d",
            "shares": "c",
            "in_channels": 3,
            "out_channels": 3,
            "kernel_size": 3,
            "padding": 1,
        },
        {
            "name": "d",
            "type": "Conv2d",
            "out_channels": 4,
            "kernel_size": 1,
            "pruned": ["weight"],
            "frozen": ["bias"],
        },
        {"type": "Flatten"},
        {"name": "fc", "type": "Linear", "out_features": 2, "frozen": ["weight"]},
    ]
    a = analysis_of((1, 3, 5, 5), layers)
    source = check(a)
    assert "prune.identity(self.d, 'weight')" in source and "self.c(" in source
    tied = [
        {
            "name": "emb",
            "type": "Embedding",
            "num_embeddings": 9,
            "embedding_dim": 4,
            "from": "ids",
        },
        {"name": "out", "type": "Linear", "out_features": 9, "tied": {"weight": "emb.weight"}},
    ]
    b = analysis_of(
        (2, 3), [{"name": "ids", "type": "Constant", "shape": [2, 3], "dtype": "int64"}, *tied]
    )
    assert [t.name for t in b.tensors] == ["emb.weight", "out.bias"] and b.total_params == 45
    assert "self.out.weight = self.get_parameter('emb.weight')" in check(b)
    assert a.trainable_params == a.total_params - 4 - 2 * 100
