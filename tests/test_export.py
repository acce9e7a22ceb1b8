"""export: the generated source runs in torch with the spec's parameter names and output shape."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import analysis_of, torch_run
from test_graph import CASES as GRAPHS

from cnncalc.bridge.export import export
from cnncalc.engine import analyze
from cnncalc.spec import load

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def load_class(source: str, name: str = "Net"):
    namespace: dict = {}
    exec(compile(source, "<export>", "exec"), namespace)
    return namespace[name]


def check(a, device="cpu"):
    source = export(a)
    with torch.device(device):
        model = load_class(source)()
    assert [(n, tuple(p.shape)) for n, p in model.named_parameters()] == [(t.name, t.shape) for t in a.tensors]
    assert [(n, tuple(b.shape)) for n, b in model.named_buffers()] == [(t.name, t.shape) for t in a.buffers]
    x = torch.randn(a.input) if device == "cpu" else torch.empty(a.input, device=device)
    assert tuple(model.eval()(x).shape) == a.output
    return source


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_configs_export(name):
    check(analyze(load(str(CONFIGS / name))), device="meta")


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
    assert [line for line in source.splitlines() if line.startswith(("import", "from"))] == ["import torch", "from torch import nn"]
    path = tmp_path / "net.py"
    path.write_text(source)
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    r = subprocess.run([ruff, "check", "--isolated", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout
