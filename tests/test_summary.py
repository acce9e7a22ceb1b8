"""cnncalc.summary as torchinfo's users call it, checked against torch itself (the model's own
forward under FlopCounterMode, its parameters) and against torchinfo for its mult-adds rule."""

import copy

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from summary_cases import CASES, Tutorial, _pruned, check
from torch import nn

import cnncalc

REFUSED = {
    "transformer encoder eval": "fused fast path of TransformerEncoder, TransformerEncoderLayer",
    "torchscript": "TorchScript",
    "distribution out": "torch.distributions.normal.Normal, which is not a tensor",
    "bad: string size": "input_size must be a sequence of positive integers",
    "bad: zero size": "found [1, 0, 32, 32]",
    "bad: tensor as size": "pass tensors as input_data",
    "bad: wrong channels": "the model raises on inputs [[1, 3, 32, 32]] in 'conv1' at",
}


@pytest.mark.parametrize("name,make,call", CASES, ids=[c[0] for c in CASES])
def test_each_case_is_exact_or_refused_in_one_line(name, make, call):
    result, detail = check(make, call)
    if name in REFUSED:
        assert result == "refused" and REFUSED[name] in detail, detail
    else:
        assert result == "exact", detail


def test_the_table_is_printed_and_is_the_summary_str(capsys):
    s = cnncalc.summary(Tutorial(), (1, 1, 32, 32))
    printed = capsys.readouterr().out
    assert printed == str(s) + "\n"
    lines = printed.splitlines()
    assert "conv1 (Conv2d)" in printed and "[1, 6, 30, 30]" in printed
    assert "Total params: 81,194" in lines and "MACs (FlopCounterMode / 2): 274,656" in lines
    cnncalc.summary(Tutorial(), (1, 1, 32, 32), verbose=0)
    assert capsys.readouterr().out == ""


def test_depth_folds_and_columns_choose():
    model = nn.Sequential(
        nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), nn.Sequential(nn.Conv2d(4, 5, 3), nn.ReLU())
    )
    s = cnncalc.summary(
        model,
        (1, 3, 9, 9),
        depth=1,
        col_names=("input_size", "output_size", "kernel_size"),
        verbose=0,
    )
    rows = str(s).splitlines()
    assert any(r.startswith("0 (2 layers)") and "[1, 3, 9, 9]" in r for r in rows), str(s)
    assert "Kernel Shape" in rows[1] and "Param #" not in rows[1]
    assert len([r for r in rows if "layers)" in r]) == 2
    with pytest.raises(cnncalc.SpecError, match="col_names: unknown"):
        cnncalc.summary(model, (1, 3, 9, 9), col_names=["params"], verbose=0)
    with pytest.raises(cnncalc.SpecError, match="depth must be"):
        cnncalc.summary(model, (1, 3, 9, 9), depth=-1, verbose=0)
    with pytest.raises(cnncalc.SpecError, match="mode must be"):
        cnncalc.summary(model, (1, 3, 9, 9), mode="training", verbose=0)


def test_mult_adds_follow_torchinfos_rule():
    torchinfo = pytest.importorskip("torchinfo")
    for make, size in (
        (Tutorial, (1, 1, 32, 32)),
        (_pruned, (2, 3, 8, 8)),
        (lambda: nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(3), nn.Linear(5, 2)), (4, 3, 6)),
        (lambda: nn.Sequential(nn.Embedding(20, 6), nn.LSTM(6, 7, batch_first=True)), (2, 5)),
        (lambda: nn.Conv2d(3, 5, 3, stride=2), (2, 3, 9, 9)),  # a bare layer
    ):
        torch.manual_seed(0)
        model, twin = make(), None
        torch.manual_seed(0)
        twin = make()
        dtypes = (
            [torch.long]
            if isinstance(model, nn.Sequential) and isinstance(model[0], nn.Embedding)
            else None
        )
        theirs = torchinfo.summary(twin, size, dtypes=dtypes, verbose=0)
        ours = cnncalc.summary(model, size, dtypes=dtypes, verbose=0)
        assert ours.total_mult_adds == theirs.total_mult_adds
        assert ours.total_params == theirs.total_params or make is _pruned  # masks: theirs


def test_a_training_forward_leaves_the_batch_norm_statistics_as_they_were():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.3)).train()
    before = copy.deepcopy(model.state_dict())
    s = cnncalc.summary(model, input_data=torch.randn(2, 3, 6, 6) * 10 + 5, mode="train", verbose=0)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.training and s.output == (2, 4, 4, 4)


def test_the_summary_takes_the_analyses():
    s = cnncalc.summary(Tutorial(), (4, 1, 32, 32), verbose=0)
    assert s.memory().peak.peak_bytes == cnncalc.analyze(s.spec).memory().peak.peak_bytes
    assert s.analysis.total_params == 81194 and s.spec.startswith("# imported from Tutorial")
    assert s.fit("1GiB") > 1000


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_random_nets_are_exact_or_refused_in_one_line(data):
    c = data.draw(st.integers(1, 3))
    size = data.draw(st.integers(4, 10))
    layers, width = [], c
    shared = None
    for _ in range(data.draw(st.integers(1, 5))):
        kind = data.draw(st.sampled_from(["conv", "bn", "relu", "shared", "pool", "drop"]))
        if kind == "conv":
            out, k = data.draw(st.integers(1, 5)), data.draw(st.sampled_from([1, 3]))
            layers.append(nn.Conv2d(width, out, k, padding=k // 2))
            width, shared = out, None
        elif kind == "bn":
            layers.append(nn.BatchNorm2d(width))
        elif kind == "relu":
            layers.append(nn.ReLU())
        elif kind == "shared":
            shared = shared or nn.Conv2d(width, width, 3, padding=1)
            layers.append(shared)
        elif kind == "pool" and size >= 4:
            layers.append(nn.MaxPool2d(2))
            size //= 2
        else:
            layers.append(nn.Dropout(0.2))
    layers += [nn.Flatten(), nn.Linear(width * size * size, data.draw(st.integers(1, 4)))]
    model = nn.Sequential(*layers)
    for p in model.parameters():
        if data.draw(st.integers(0, 3)) == 0:
            p.requires_grad_(False)
    model.train(data.draw(st.booleans()))
    batch = data.draw(st.integers(2, 3))
    h = size * (2 ** sum(isinstance(m, nn.MaxPool2d) for m in layers))
    call = {
        "input_size": (batch, c, h, h),
        "mode": data.draw(st.sampled_from([None, "train", "eval"])),
    }
    result, detail = check(lambda: model, call)
    assert result == "exact", detail


def test_cli_import_takes_several_inputs_their_dtypes_and_the_mode(tmp_path):
    from typer.testing import CliRunner

    from cnncalc.cli import app

    src = tmp_path / "net.py"
    src.write_text(
        "import torch\nfrom torch import nn\n\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.emb, self.fc = nn.Embedding(50, 8), nn.Linear(8 + 4, 2)\n"
        "        self.drop = nn.Dropout(0.5)\n\n"
        "    def forward(self, ids, extra):\n"
        "        x = self.emb(ids).mean(1)\n"
        "        return self.fc(torch.cat([self.drop(x) if self.training else x, extra], 1))\n"
    )
    out = tmp_path / "net.yaml"
    args = ["import", f"{src}:Net", "--input", "2,9", "--input", "2,4", "--dtypes", "int64"]
    r = CliRunner().invoke(app, [*args, "--mode", "train", "-o", str(out)])
    assert r.exit_code == 0, r.output
    a = cnncalc.analyze(str(out))
    assert a.input_dtype == "int64" and [x.type for x in a.layers][:2] == ["Input", "Embedding"]
    assert "Dropout" in {x.type for x in a.layers}  # the training forward
    r = CliRunner().invoke(app, [*args, "-o", str(out)])
    assert "Dropout" not in {x.type for x in cnncalc.analyze(str(out)).layers}
    r = CliRunner().invoke(app, [*args[:-1], "float99"])
    assert r.exit_code == 2 and "--dtypes" in r.output
    r = CliRunner().invoke(app, [*args, "--mode", "fast"])
    assert r.exit_code == 2 and "--mode" in r.output


@pytest.mark.parametrize(
    "name",
    [
        "attention block eval",
        "attention block",
        "lstm classifier",
        "sdpa",
        "tied weights",
        "unpooling",
        "einsum attention",
        "vae",
        "char rnn",
        "frozen in part",
        "pruned",
    ],
)
def test_a_summary_spec_verifies_against_torch_on_both_devices(name):
    """The spec a summary writes, built and run by verify: every layer's shapes, parameters and
    MACs (attention and recurrent layers counted as the CPU's kernels run them)."""
    from cnncalc.bridge.verify import verify

    make, call = next((m, c) for n, m, c in CASES if n == name)
    s = cnncalc.summary(make(), **call, verbose=0)
    for device in ("meta", "cpu"):
        report = verify(cnncalc.analyze(s.spec), device=device)
        assert report.ok, (device, report.problems)
