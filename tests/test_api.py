"""The Python API and the shell habits: analyze/summary/SpecError, --version, -h, stdin, completion,
machine-readable check output, no progress or colour when not on a terminal."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from typer.testing import CliRunner

import cnncalc
from cnncalc.cli import app

ROOT = Path(__file__).resolve().parent.parent
LENET = ROOT / "configs" / "lenet.yaml"
runner = CliRunner()


def test_analyze_to_dict_is_the_cli_json(monkeypatch):
    monkeypatch.chdir(ROOT)
    cli = json.loads(
        runner.invoke(app, ["shapes", "configs/lenet.yaml", "--format", "json"]).stdout
    )
    assert cnncalc.analyze("configs/lenet.yaml").to_dict() == cli
    assert cnncalc.analyze(LENET).params_dict() == json.loads(
        runner.invoke(app, ["params", str(LENET), "-f", "json"]).stdout
    )
    assert cnncalc.analyze(LENET).memory().to_dict() == json.loads(
        runner.invoke(app, ["memory", str(LENET), "-f", "json"]).stdout
    )


def test_a_dict_and_text_work_alike():
    text = LENET.read_text()
    a, b, c = cnncalc.analyze(LENET), cnncalc.analyze(yaml.safe_load(text)), cnncalc.analyze(text)
    assert a.to_dict()["layers"] == b.to_dict()["layers"] == c.to_dict()["layers"]
    assert (a.total_params, b.total_params, c.total_params) == (81194,) * 3
    assert cnncalc.analyze(LENET, batch=4).output == (4, 10)
    with pytest.raises(TypeError):
        cnncalc.analyze(42)


def test_a_bad_spec_raises_spec_error_with_its_position():
    with pytest.raises(cnncalc.SpecError) as e:
        cnncalc.analyze({"input": [1, 3, 8, 8], "layers": [{"type": "Conv2d", "out_channels": 2}]})
    (d,) = e.value.diagnostics
    assert (
        (d.path, d.severity) == ("<dict>", "error") and d.line >= 1 and "kernel_size" in d.message
    )
    with pytest.raises(cnncalc.SpecError) as e:
        cnncalc.analyze("input: [1, 2]\nlayers: []\n")
    assert (e.value.diagnostics[0].line, e.value.diagnostics[0].col) == (2, 9)


def test_summary_of_a_torch_module_is_torchs():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 5),
    )
    s = cnncalc.summary(model, (2, 3, 32, 32))
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        out = model.eval()(torch.randn(2, 3, 32, 32))
    assert s.output == tuple(out.shape)
    assert s.total_params == sum(p.numel() for p in model.parameters())
    assert [(t.name, t.shape) for t in s.tensors] == [
        (n, tuple(p.shape)) for n, p in model.named_parameters()
    ]
    assert s.total_macs == fc.get_total_flops() // 2


def test_an_analysis_renders_as_markdown():
    md = cnncalc.analyze(LENET)._repr_markdown_()
    assert (
        md.startswith("lenet: input [1, 1, 32, 32]")
        and "| conv1 | Conv2d |" in md
        and "- Total params: 81,194" in md
    )


def test_import_cnncalc_imports_no_torch_and_no_cli():
    code = (
        "import sys, cnncalc; a = cnncalc.analyze('configs/lenet.yaml'); print('torch' in "
        "sys.modules, 'typer' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.split() == ["False", "False"], r.stderr


def test_version_help_and_completion():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout.strip() == f"cnncalc {cnncalc.__version__}"
    meta = (ROOT / "pyproject.toml").read_text()
    assert 'version = {attr = "cnncalc.__version__"}' in meta  # one source of truth
    for args in (["-h"], ["shapes", "-h"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 0 and "Usage" in r.stdout
    r = runner.invoke(app, ["--show-completion", "bash"], prog_name="cnncalc")
    assert r.exit_code == 0 and "complete" in r.stdout and "cnncalc" in r.stdout


def test_a_spec_from_standard_input():
    flat = runner.invoke(app, ["expand", str(ROOT / "configs" / "resnet18.yaml")]).stdout
    r = runner.invoke(app, ["shapes", "-", "--format", "json"], input=flat)
    assert r.exit_code == 0 and json.loads(r.stdout)["total_params"] == 11_689_512
    r = runner.invoke(app, ["shapes", "-"], input="input: [1, 2]\nlayers: []\n")
    assert r.exit_code == 1 and r.output.startswith("<stdin>:2:9: error:")


def test_no_progress_or_colour_when_not_a_terminal():
    r = runner.invoke(app, ["check", str(ROOT / "configs"), str(ROOT / "tests" / "bad")])
    assert "\r" not in r.output and "\x1b[" not in r.output
    r = runner.invoke(app, ["verify", str(LENET), "--device", "cpu"])
    assert r.exit_code == 0 and "\r" not in r.output


def test_status_and_colour_on_a_terminal(monkeypatch, capsys):
    from cnncalc.cli import common as cli
    from cnncalc.diagnostics import Diagnostic

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    status = cli.Status(10, "checking")
    status("a.yaml", 3)
    status.done()
    cli.emit([Diagnostic("a.yaml", 1, 2, "error", "bad")], False)
    err = capsys.readouterr().err
    assert "checking 3/10 a.yaml" in err and "\x1b[1;31merror\x1b[0m" in err
    monkeypatch.setenv("NO_COLOR", "1")
    cli.emit([Diagnostic("a.yaml", 1, 2, "error", "bad")], False)
    assert capsys.readouterr().err == "a.yaml:1:2: error: bad\n"


def test_check_json_and_sarif():
    targets = [str(ROOT / "tests" / "bad" / "wrong_in_features.yaml"), str(LENET)]
    r = runner.invoke(app, ["check", *targets, "--format", "json"])
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert (
        r.exit_code == 1
        and [d["severity"] for d in rows] == ["error", "warning"]
        and rows[0]["line"] == 6
    )
    r = runner.invoke(app, ["check", *targets, "--format", "sarif"])
    log = json.loads(r.stdout)
    assert log["version"] == "2.1.0" and r.exit_code == 1
    results = log["runs"][0]["results"]
    assert [x["level"] for x in results] == ["error", "warning"]
    assert results[0]["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 6,
        "startColumn": 44,
    }
