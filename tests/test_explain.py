"""explain reads every kind of layer without failing, and its numbers are the analysis's."""

from pathlib import Path

import pytest
from helpers import spec_text, torch_run
from test_graph import CASES as GRAPHS
from test_layers import C as LAYERS

from cnncalc.engine import analyze
from cnncalc.read import load, parse
from cnncalc.show.explain import explain

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
VALID = [(s, layers) for s, layers in LAYERS + GRAPHS if torch_run(s, layers)[1] is None]


@pytest.mark.parametrize("shape,layers", VALID)
def test_explain_every_layer(shape, layers):
    spec = parse(spec_text(shape, layers))
    a = analyze(spec)
    text = explain(a)
    for layer in a.layers:
        assert f"{layer.name} ({layer.type}): " in text
    assert f"= {a.total_params:,}" in text or "parameters: none" in text


@pytest.mark.parametrize("name", ["googlenet.yaml", "mobilenet_v2.yaml"])
def test_explain_architectures(name):
    spec = load(str(CONFIGS / name))
    a = analyze(spec)
    text = explain(a)
    assert "MACs: " in text and f"= {a.total_macs:,}" in text
