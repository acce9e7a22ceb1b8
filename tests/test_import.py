"""import: torch models traced into specs whose parameters, MACs and output equal torch's."""

from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from typer.testing import CliRunner

from cnncalc.bridge.export import export
from cnncalc.bridge.importer import ImportFailed, import_spec, load_target
from cnncalc.cli import app
from cnncalc.engine import analyze
from cnncalc.read import load, parse

TESTS = Path(__file__).resolve().parent
CONFIGS = TESTS.parent / "configs"

MODELS = [
    ("TutorialNet", (1, 1, 32, 32)),
    ("Audio1d", (2, 2, 40)),
    ("Video3d", (1, 3, 5, 6, 7)),
    ("TinyUNet", (1, 1, 16, 12)),
    ("PadsAndShuffles", (2, 3, 9, 10)),
    ("Residual", (2, 4, 8, 8)),
    ("resnet10", (1, 3, 64, 80)),
]


@pytest.mark.parametrize("name,shape", MODELS)
def test_imported_specs_equal_the_model(name, shape):
    target = f"{TESTS / 'models.py'}:{name}"
    a = analyze(parse(import_spec(target, shape)))
    model = load_target(target).eval()
    assert [(t.name, t.shape) for t in a.tensors] == [
        (n, tuple(p.shape)) for n, p in model.named_parameters()
    ]
    with FlopCounterMode(display=False) as fc:
        out = model(torch.randn(shape))
    assert a.total_macs == fc.get_total_flops() // 2
    assert a.output == tuple(out.shape)


@pytest.mark.parametrize(
    "config",
    ["lenet.yaml", "resnet18.yaml", "squeezenet1_0.yaml", "mobilenet_v2.yaml", "googlenet.yaml"],
)
@pytest.mark.parametrize("with_blocks", [False, True])
def test_round_trip_spec_export_import(config, with_blocks, tmp_path):
    spec = load(str(CONFIGS / config))
    a = analyze(spec)
    path = tmp_path / "net.py"
    path.write_text(export(a, spec=spec if with_blocks else None))
    b = analyze(parse(import_spec(f"{path}:Net", a.input)))
    assert [(t.name, t.shape) for t in b.tensors] == [(t.name, t.shape) for t in a.tensors]
    assert (b.total_macs, b.output, b.total_params) == (a.total_macs, a.output, a.total_params)
    assert [x.output_shape for x in b.layers if x.params] == [
        x.output_shape for x in a.layers if x.params
    ]


def test_what_a_spec_cannot_express_is_named_with_its_line():
    with pytest.raises(ImportFailed) as e:
        import_spec(f"{TESTS / 'models.py'}:Unsupported", (1, 3, 4, 4))
    assert "the operation 'cumsum' has no cnncalc layer at models.py:" in str(e.value)


def test_a_module_called_twice_shares_its_tensors_and_counts_its_macs_each_time():
    from models import SharedWeights
    from torch.utils.flop_counter import FlopCounterMode

    model = SharedWeights()
    text = import_spec(f"{TESTS / 'models.py'}:SharedWeights", (1, 3, 4, 4))
    a = analyze(parse(text))
    assert [x.shares for x in a.layers] == [None, "conv"]
    with FlopCounterMode(display=False) as fc:
        model(torch.randn(1, 3, 4, 4))
    assert a.total_macs == fc.get_total_flops() // 2 == 2 * a.layers[0].macs
    assert a.total_params == sum(p.numel() for p in model.parameters())


def test_cli_import(tmp_path):
    out = tmp_path / "spec.yaml"
    r = CliRunner().invoke(
        app,
        ["import", f"{TESTS / 'models.py'}:TutorialNet", "--input", "1,1,32,32", "-o", str(out)],
    )
    assert r.exit_code == 0, r.output
    assert analyze(load(str(out))).total_params == 81194
    assert CliRunner().invoke(app, ["import", "nope.py:X", "--input", "1,2"]).exit_code == 1
    assert (
        CliRunner()
        .invoke(app, ["import", f"{TESTS / 'models.py'}:TutorialNet", "--input", "a,b"])
        .exit_code
        == 2
    )


def test_summary_counts_frozen_parameters_apart_and_hands_the_model_back_as_it_came():
    """requires_grad=False parameters are not trainable; the model's training flags are kept."""
    from torchref import BasicBlock, ResNet

    import cnncalc

    model = ResNet(BasicBlock, [2, 2, 2, 2])
    for i, p in enumerate(model.parameters()):
        p.requires_grad_(i >= 30)
    model.train()
    model.layer1.eval()
    flags = [m.training for m in model.modules()]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.requires_grad for p in model.parameters()]
    s = cnncalc.summary(model, (1, 3, 224, 224))
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert grads == [p.requires_grad for p in model.parameters()]
    assert s.total_params == sum(p.numel() for p in model.parameters())
    assert s.trainable_params == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert [m.training for m in model.modules()] == flags


def test_a_module_frozen_in_part_is_written_tensor_by_tensor():
    import cnncalc

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    model[0].bias.requires_grad_(False)
    s = cnncalc.summary(model, (1, 3, 8, 8), verbose=0)
    assert '"frozen": ["bias"]' in s.spec
    assert s.trainable_params == s.analysis.trainable_params == 108


def test_summary_totals_count_the_parameters_the_forward_never_reaches():
    """As torch's sum(p.numel()): an aux head the eval forward skips is in the totals, and named."""
    from test_today import TimmStyle

    import cnncalc

    model = TimmStyle()
    s = cnncalc.summary(model, (1, 3, 17, 15))
    assert s.total_params == sum(p.numel() for p in model.parameters())
    assert s.trainable_params == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert s.unused == ["aux.weight", "aux.bias"]
    assert s.unused_params == model.aux.weight.numel() + model.aux.bias.numel()
