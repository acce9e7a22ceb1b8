"""Today's nets end to end: the README's ShuffleNetV2 unit, imports of modern modules, and specs
that
`benchmarks/zoo.py` imported from torchvision 0.29, each against the torch model."""

import json
from pathlib import Path

import pytest
import torch
from helpers import spec_text
from models import ConvNeXtBlock, ShuffleUnit, TimmStyle
from torch.utils.flop_counter import FlopCounterMode

from cnncalc.analyses.memory import memory
from cnncalc.bridge.importer import import_model
from cnncalc.bridge.memory import measure_saved
from cnncalc.bridge.verify import verify
from cnncalc.diagnostics import SpecError
from cnncalc.engine import analyze
from cnncalc.read import load, parse

ROOT = Path(__file__).resolve().parent.parent
ZOO = sorted((ROOT / "tests" / "zoo").glob("*.yaml"))


def torch_numbers(model, shape):
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        out = model(torch.randn(shape))
    outs = list(out.values()) if isinstance(out, dict) else [out]
    return (
        sorted((n, tuple(p.shape)) for n, p in model.named_parameters()),
        fc.get_total_flops() // 2,
        [tuple(o.shape) for o in outs],
    )


def spec_numbers(a, skip=()):
    return sorted((t.name, t.shape) for t in a.tensors), a.total_macs, [s for _, s in a.outputs]


def test_readme_shufflenet_unit_is_torchvisions_unit():
    a = analyze(load(str(ROOT / "configs" / "shufflenet_unit.yaml")))
    assert spec_numbers(a) == torch_numbers(ShuffleUnit(), a.input)
    assert verify(a, "cpu").ok
    # and the same unit written as torch code imports to the same numbers
    b = analyze(parse(import_model(ShuffleUnit(), a.input).text))
    assert spec_numbers(b) == spec_numbers(a)
    assert (
        memory(b).saved_activation_bytes
        == memory(a).saved_activation_bytes
        == measure_saved(a, "cpu")[0]
    )


@pytest.mark.parametrize(
    "model,shape", [(ConvNeXtBlock(), (2, 16, 9, 9)), (TimmStyle(), (1, 3, 17, 15))]
)
def test_modern_modules_import_exactly(model, shape):
    imported = import_model(model, shape)
    a = analyze(parse(imported.text))
    params, macs, outs = torch_numbers(model, shape)
    skip = set(imported.unused)
    assert spec_numbers(a) == ([p for p in params if p[0] not in skip], macs, outs)
    report = verify(a, "cpu")
    assert report.ok, report.problems


def test_unused_parameters_are_reported_not_counted():
    imported = import_model(TimmStyle(), (1, 3, 17, 15))
    assert imported.unused == ["aux.weight", "aux.bias"]
    assert "2 parameter tensors the forward never uses: aux.weight, aux.bias" in imported.text


@pytest.mark.parametrize("path", ZOO, ids=[p.stem for p in ZOO])
def test_zoo_imports_match_torchvision(path):
    """Specs imported from torchvision 0.29 and timm models (CNNs, ViT, Swin, MaxViT, NFNet,
    HaloNet, MViTv2, TResNet, TinyViT); the numbers torch gave for the model itself."""
    truth = json.loads(path.with_suffix(".json").read_text())
    a = analyze(load(str(path)))
    assert (a.total_params, a.total_macs, [list(s) for _, s in a.outputs]) == (
        truth["params"],
        truth["macs"],
        truth["outputs"],
    )
    report = verify(a, "meta")
    assert report.ok, report.problems


def analysed(layers, shape=(1, 4, 6, 6), **top):
    import yaml

    doc = yaml.safe_load(spec_text(shape, layers))
    doc.update(top)
    return analyze(parse(yaml.safe_dump(doc, sort_keys=False)))


def test_several_outputs_and_unreached_layers():
    layers = [
        {"name": "s", "type": "Split", "split_size_or_sections": [1, 3], "dim": 1},
        {"name": "a", "type": "Conv2d", "from": "s:1", "out_channels": 2, "kernel_size": 3},
        {"name": "b", "type": "ReLU", "from": "s:0"},
        {"name": "dead", "type": "Sigmoid", "from": "input"},
    ]
    a = analysed(layers, outputs=["a", "b"])
    assert a.outputs == [("a", (1, 2, 4, 4)), ("b", (1, 1, 6, 6))]
    assert [w.message for w in a.warnings] == [
        "layer 'dead' (Sigmoid): its output reaches no output of the net"
    ]
    from cnncalc.show.render import shapes_json

    assert shapes_json(a)["outputs"] == [
        {"name": "a", "shape": [1, 2, 4, 4]},
        {"name": "b", "shape": [1, 1, 6, 6]},
    ]
    assert verify(a, "cpu").ok


@pytest.mark.parametrize(
    "layers,message",
    [
        (
            [{"name": "s", "type": "Chunk", "chunks": 2, "dim": 1}, {"type": "ReLU"}],
            "'s' has 2 outputs: name one of them, 's:0' to 's:1'",
        ),
        (
            [
                {"name": "s", "type": "Chunk", "chunks": 2, "dim": 1},
                {"type": "ReLU", "from": "s:2"},
            ],
            "'s' has 2 outputs, 's:0' to 's:1'",
        ),
        (
            [{"name": "r", "type": "ReLU"}, {"type": "ReLU", "from": "r:0"}],
            "'r' has one output: name it 'r'",
        ),
        ([{"name": "a:b", "type": "ReLU"}], "has a ':'"),
        (
            [{"type": "Permute", "dims": [0, 2, 3, 1]}, {"type": "View", "shape": [1, -1]}],
            "not laid out contiguously",
        ),
        ([{"name": "p", "type": "Parameter", "shape": [4], "from": "input"}], "takes no input"),
    ],
)
def test_several_outputs_diagnostics(layers, message):
    with pytest.raises(SpecError) as e:
        analysed(layers)
    assert message in e.value.message


def test_trainable_false_freezes_parameters():
    layers = [
        {"name": "conv", "type": "Conv2d", "out_channels": 4, "kernel_size": 3},
        {
            "name": "dfl",
            "type": "Conv2d",
            "out_channels": 2,
            "kernel_size": 1,
            "bias": False,
            "trainable": False,
        },
    ]
    a = analysed(layers)
    assert (a.total_params, a.trainable_params) == (148 + 8, 148)
    m = memory(a, optimizer="adam")
    assert (m.grads_bytes, m.optimizer_bytes) == (148 * 4, 148 * 8)
    report = verify(a, "cpu")  # torch: the frozen weight gets no gradient; saved bytes agree
    assert report.ok, report.problems
