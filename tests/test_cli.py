"""The command line: the tutorial's numbers, JSON keys, diagnostics, exit status, and no torch
import."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_params_lists_the_tutorials_ten_tensors():
    r = run("params", "--format", "json")
    assert r.exit_code == 0
    out = json.loads(r.stdout)
    assert [(t["name"], t["shape"]) for t in out["tensors"]] == [
        ("conv1.weight", [6, 1, 3, 3]),
        ("conv1.bias", [6]),
        ("conv2.weight", [16, 6, 3, 3]),
        ("conv2.bias", [16]),
        ("fc1.weight", [120, 576]),
        ("fc1.bias", [120]),
        ("fc2.weight", [84, 120]),
        ("fc2.bias", [84]),
        ("fc3.weight", [10, 84]),
        ("fc3.bias", [10]),
    ]
    assert (out["total"], out["trainable"], out["non_trainable"], out["buffers"]) == (
        81194,
        81194,
        0,
        [],
    )


def test_shapes_of_the_tutorial_net():
    r = run("shapes", ROOT / "configs" / "lenet.yaml", "--format", "json")
    assert r.exit_code == 0
    out = json.loads(r.stdout)
    sides = [
        layer["output_shape"][-1] for layer in out["layers"] if len(layer["output_shape"]) == 4
    ]
    assert sides == [30, 30, 15, 13, 13, 6]
    assert out["flatten"] == [{"layer": "6", "size": 576, "factors": [16, 6, 6]}]
    assert (
        out["input"],
        out["output"],
        out["total_params"],
        out["trainable_params"],
        out["total_macs"],
    ) == (
        [1, 1, 32, 32],
        [1, 10],
        81194,
        81194,
        274656,
    )
    conv1 = out["layers"][0]
    assert conv1 == {
        "name": "conv1",
        "type": "Conv2d",
        "from": ["input"],
        "output_shape": [1, 6, 30, 30],
        "params": 60,
        "macs": 48600,
        "receptive_field": {"size": [3, 3], "jump": [1, 1], "start": [1.0, 1.0]},
    }


def test_shapes_table_shows_flatten_factors_and_totals():
    r = run("shapes", ROOT / "configs" / "lenet.yaml")
    assert r.exit_code == 0
    for line in (
        "576 = 16 × 6 × 6",
        "Total params: 81,194",
        "Trainable params: 81,194",
        "MACs: 274,656",
        "Param memory (float32): 317.2 KiB",
    ):
        assert line in r.stdout
    assert "[1, 16, 13, 13]" in r.stdout and "[1, 6, 15, 15]" in r.stdout


def test_markdown_table():
    r = run("params", "--format", "markdown")
    assert "| conv1.weight | [6, 1, 3, 3] | 54 |" in r.stdout


def test_batch_override():
    out = json.loads(run("shapes", "--format", "json", "--batch", "8").stdout)
    assert (
        out["input"] == [8, 1, 32, 32]
        and out["output"] == [8, 10]
        and out["total_macs"] == 8 * 274656
    )


def test_rounding_warning_keeps_exit_0_and_strict_makes_it_1():
    r = run("shapes", ROOT / "configs" / "lenet.yaml")
    assert r.exit_code == 0
    assert (
        "lenet.yaml:19:5: warning: layer '5' (MaxPool2d): the last 1 of its 13 input rows "
        "(H) and the last 1 of its 13 input columns (W) lie past its last window" in r.stderr
    )
    assert run("shapes", ROOT / "configs" / "lenet.yaml", "--strict").exit_code == 1


def test_invalid_spec_exit_1_with_diagnostic(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(
        "input: [1, 1, 32, 32]\nlayers:\n  - {type: Conv2d, out_channels: 6, kernel_size: "
        "3}\n  - {type: MaxPool2d, kernel_size: 2}\n"
        "  - {type: Conv2d, out_channels: 16, kernel_size: 3}\n  - {type: MaxPool2d, "
        "kernel_size: 2}\n  - {type: Flatten}\n"
        "  - {name: fc1, type: Linear, in_features: 400, out_features: 120}\n"
    )
    r = run("shapes", p)
    assert r.exit_code == 1
    assert (
        f"{p}:8:44: error: layer 'fc1' (Linear): in_features is 400, but the incoming "
        "tensor [1, 576] has 576 features" in r.stderr
    )
    assert "Traceback" not in r.output


def test_missing_file_and_unknown_option_exit_2():
    r = run("shapes", "no/such/spec.yaml")
    assert r.exit_code == 2 and "cannot read 'no/such/spec.yaml'" in r.stderr
    assert run("shapes", "--no-such-option").exit_code == 2


def test_verify_meta_and_cpu_agree_on_the_tutorial():
    for device in ("meta", "cpu"):
        r = run("verify", "--device", device)
        assert r.exit_code == 0, r.output
        assert "12 of 12 layers agree with torch" in r.stdout
    assert (
        "10 parameter tensors got gradients of their shapes"
        in run("verify", "--device", "cpu").stdout
    )


def test_verify_on_an_invalid_spec_shows_torchs_error(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(
        "input: [1, 3, 8, 8]\nlayers:\n  - {type: Conv2d, out_channels: 4, kernel_size: "
        "3}\n  - {type: Flatten}\n  - {name: fc, type: Linear, in_features: 400, out_features: 2}\n"
    )
    r = run("verify", p)
    assert r.exit_code == 1
    assert "error: layer 'fc' (Linear): in_features is 400" in r.stderr
    assert "torch at layer 'fc' (Linear) agrees it is invalid" in r.stderr


@pytest.mark.parametrize("command", ["shapes", "params", "check"])
def test_analytic_commands_never_import_torch(command):
    code = (
        "import sys\nfrom cnncalc.cli import app\n"
        f"try:\n    app(['{command}', '{ROOT / 'configs' / 'lenet.yaml'}', '--format', "
        f"'{'text' if command == 'check' else 'json'}'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\nprint('no torch')"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "no torch" in r.stdout


def test_explain_walks_a_beginner_through_the_tutorial():
    r = run("explain")
    assert r.exit_code == 0
    for line in (
        "conv1 (Conv2d): [1, 1, 32, 32] -> [1, 6, 30, 30]   (from the input)",
        "  H: out = ⌊(32 + 2·0 − 1·(3 − 1) − 1) / 1⌋ + 1 = 30",
        "  stride defaults to kernel_size [2, 2]: the windows sit side by side without overlapping",
        "  H: out = ⌊(13 + 2·0 − 1·(2 − 1) − 1) / 2⌋ + 1 = 6",
        "  in_channels = 6: left out, so taken from the incoming tensor [1, 6, 15, 15]",
        "  parameters: weight [6, 1, 3, 3] = 6 × 1 × 3 × 3 = 54; bias [6]; 60 in all (2 tensors)",
        "  dims 1..3 [16, 6, 6] become one: 16 × 6 × 6 = 576; [1, 16, 6, 6] -> [1, 576]",
        "  MACs: 1 sample(s) · 6 out channels · 30 × 30 positions · 1 × 3 × 3 per output = 48,600",
        "parameters: 10 tensors in 5 layers (conv1: 2, conv2: 2, fc1: 2, fc2: 2, fc3: 2), "
        "60 + 880 + 69,240 + 10,164 + 850 = 81,194; a weight and a bias for each",
    ):
        assert line in r.stdout.splitlines(), line
    assert "warning: the last 1 of its 13 input rows (H)" in r.stdout


def test_explain_one_layer_and_unknown_layer():
    r = run("explain", "--layer", "fc1")
    assert r.exit_code == 0 and r.stdout.startswith("fc1 (Linear): [1, 576] -> [1, 120]")
    assert run("explain", "--layer", "nope").exit_code == 2


def test_verify_cpu_checks_receptive_fields():
    r = run("verify", "--device", "cpu")
    assert (
        "receptive fields: 12 layer positions checked against the support of the input gradient"
        in r.stdout
    )


def test_memory_command_json_and_fit():
    out = json.loads(run("memory", "--format", "json", "--optimizer", "adam").stdout)
    assert (
        out["params_bytes"] == out["grads_bytes"] == 81194 * 4
        and out["optimizer_bytes"] == 2 * 81194 * 4
    )
    assert out["saved_activation_bytes"] == sum(x["saved_bytes"] for x in out["layers"])
    assert out["total_bytes"] == 4 * 81194 * 4 + out["saved_activation_bytes"]
    fitted = json.loads(run("memory", "--format", "json", "--fit", "1MiB").stdout)["fit_batch"]
    at = json.loads(run("memory", "--format", "json", "--batch", str(fitted)).stdout)
    above = json.loads(run("memory", "--format", "json", "--batch", str(fitted + 1)).stdout)
    assert at["peak_bytes_cuda"] <= 1 << 20 < above["peak_bytes_cuda"]
    assert {"peak_bytes", "peak_phase", "peak_layer", "peak_breakdown"} <= set(at)
    assert sum(at["peak_breakdown"].values()) == at["peak_bytes"]
    for bad in (["--amp", "float8"], ["--step", "last"], ["--foreach", "maybe"]):
        assert run("memory", *bad).exit_code == 2
    assert run("memory", "--fit", "12 parsecs").exit_code == 2


def test_batch_on_an_unbatched_spec_adds_the_batch_dim(tmp_path):
    p = tmp_path / "unbatched.yaml"
    p.write_text(
        "input: [3, 16, 16]\nlayers:\n  - {type: Conv2d, out_channels: 4, kernel_size: 3}\n"
    )
    assert json.loads(run("shapes", p, "--format", "json").stdout)["output"] == [4, 14, 14]
    assert json.loads(run("shapes", p, "--format", "json", "--batch", "8").stdout)["output"] == [
        8,
        4,
        14,
        14,
    ]


def test_verify_cpu_refuses_what_does_not_fit(tmp_path):
    p = tmp_path / "huge.yaml"
    p.write_text(
        "input: [4096, 3, 1024, 1024]\nlayers:\n  - {type: Conv2d, out_channels: 64, "
        "kernel_size: 3}\n"
    )
    r = run("verify", p, "--device", "cpu")
    assert r.exit_code == 2 and "use --device meta" in r.stderr
    assert run("verify", p).exit_code == 0  # meta allocates nothing
