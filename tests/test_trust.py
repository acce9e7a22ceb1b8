"""The edges a new user meets: CI footguns, YAML habits, messages, exports of block specs."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_check_of_a_folder_without_specs_fails(tmp_path):
    (tmp_path / "notes.txt").write_text("no specs here")
    r = run("check", tmp_path)
    assert r.exit_code == 2 and "no specs to check" in r.output


def test_check_of_a_repository_skips_tool_folders_and_other_yaml(tmp_path):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "net.yaml").write_text((ROOT / "configs" / "lenet.yaml").read_text())
    for d in (".venv/lib", ".git", "node_modules/x", ".github/workflows", "venv", "build"):
        (tmp_path / d).mkdir(parents=True)
        (tmp_path / d / "bad.yaml").write_text("layers: [")
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text(
        "on:\n  push:\njobs:\n  test: {runs-on: x}\n"
    )
    (tmp_path / "docker-compose.yml").write_text("services:\n  web: {image: x}\n")
    (tmp_path / "configs" / "skipme.yaml").write_text("layers: [")
    r = run("check", tmp_path, "--exclude", "skipme.yaml")
    assert r.exit_code == 0, r.output
    assert "checked 1 spec: 1 ok, 0 invalid" in r.output
    assert run("check", tmp_path).exit_code == 1  # without --exclude the broken spec is found


def test_yaml_one_one_keys_say_what_they_became(tmp_path):
    p = tmp_path / "ci.yaml"
    p.write_text("on:\n  push:\njobs: {}\n")
    r = run("check", p)
    assert "unknown top-level key True (YAML 1.1 reads an unquoted on" in r.output


def test_merge_keys_and_shared_anchors(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text(
        "x-conv: &conv {type: Conv2d, kernel_size: 3, padding: 1, bias: false}\n"
        "defaults: {act: &act {type: ReLU}}\n"
        "input: [1, 3, 8, 8]\nlayers:\n  - {<<: *conv, name: c1, out_channels: 4}\n  - *act\n"
        "  - <<: [*conv]\n    name: c2\n    out_channels: 8\n    kernel_size: 1\n    padding: 0\n"
    )
    r = run("params", p, "--format", "json")
    assert r.exit_code == 0, r.output
    assert (
        '"total": 140' in r.output
    )  # 4·3·3·3 + 8·4·1·1, no biases: the merged keys and the written ones


def test_tabs_are_named(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("input: [1, 2]\nlayers:\n\t- {type: ReLU}\n")
    r = run("shapes", p)
    assert r.exit_code == 1 and "a tab character" in r.output and ":3:1:" in r.output


def test_plural_counts(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("input: [1, 2]\nlayers: []\n")
    assert "(1 error, 0 warnings)" in run("check", p).output


def _warnings(shape, layers):
    from helpers import analysis_of

    return [w.message for w in analysis_of(shape, layers).warnings]


def test_rounding_warning_follows_the_corrected_rule():
    for name in ("resnet50.yaml", "resnet18.yaml", "mobilenet_v2.yaml", "vgg16.yaml"):
        assert run("shapes", ROOT / "configs" / name, "--strict").exit_code == 0, name
    r = run("shapes", ROOT / "configs" / "lenet.yaml", "--strict")
    assert r.exit_code == 1 and "layer '5' (MaxPool2d): the last 1 of its 13 input rows" in r.output
    # a 1x1 stride-2 conv on an even size skips every other row by design: no warning
    assert (
        _warnings(
            (1, 2, 8, 8), [{"type": "Conv2d", "out_channels": 2, "kernel_size": 1, "stride": 2}]
        )
        == []
    )
    # stride 3 over windows of 2 on 10 rows: windows at 0-1, 3-4, 6-7 leave 8-9 (2 > 3 − 2): lost
    (w,) = _warnings((1, 2, 10, 10), [{"type": "MaxPool2d", "kernel_size": 2, "stride": 3}])
    assert "the last 2 of its 10 input rows" in w
    from helpers import analysis_of

    from cnncalc.show.explain import explain

    text = explain(
        analysis_of(
            (1, 2, 8, 8), [{"type": "Conv2d", "out_channels": 2, "kernel_size": 1, "stride": 2}]
        )
    )
    assert (
        "H: stride 2 > window 1: 1 input position(s) between neighbouring windows are never read"
        in text
    )


def test_linear_on_a_conv_output_gets_the_flatten_hint():
    conv = [
        {"type": "Conv2d", "out_channels": 6, "kernel_size": 5},
        {"type": "MaxPool2d", "kernel_size": 2},
    ]
    (w,) = _warnings((1, 1, 32, 32), [*conv, {"name": "fc", "type": "Linear", "out_features": 10}])
    assert "add a Flatten before this layer (6 × 14 × 14 = 1,176)" in w
    from helpers import analysis_of

    from cnncalc.diagnostics import SpecError

    with pytest.raises(SpecError) as e:
        analysis_of(
            (1, 1, 32, 32),
            [*conv, {"name": "fc", "type": "Linear", "in_features": 100, "out_features": 10}],
        )
    assert "add a Flatten before this layer (6 × 14 × 14 = 1,176)" in e.value.message
    # a Linear on the last dim of a sequence is not hinted at
    assert _warnings((2, 7, 16), [{"type": "Linear", "out_features": 4}]) == []


WHEN = """
input: [1, 4, 8, 8]
blocks:
  B:
    args: {res: true}
    layers:
      - {name: conv, type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1}
      - {name: add, type: Add, from: [conv, input], when: "${res}"ELSE}
layers:
  - {name: b, type: B, res: false}
  - {name: head, type: Conv2d, out_channels: 2, kernel_size: 1}
"""


def test_when_on_a_layer_with_several_inputs_must_say_what_stands_for_it():
    from helpers import torch_run  # noqa: F401  (torch is the judge below)

    from cnncalc.bridge.export import export
    from cnncalc.diagnostics import SpecError
    from cnncalc.engine import analyze
    from cnncalc.read import parse

    with pytest.raises(SpecError) as e:
        parse(WHEN.replace("ELSE", ""))
    assert (
        "left out by when, it has several inputs (conv, input), so which one stands for it "
        "is ambiguous" in e.value.message
    )
    for alt, expect_conv in (("conv", True), ("input", False)):
        spec = parse(WHEN.replace("ELSE", f", else: {alt}"))
        a = analyze(spec)
        assert [layer.name for layer in a.layers] == (["b.conv", "head"])
        assert a.layers[1].inputs == (("b.conv",) if expect_conv else ("input",))
        import torch

        ns: dict = {}
        exec(export(a, spec=spec), ns)
        model = ns["Net"]()
        assert sorted(n for n, _ in model.named_parameters()) == sorted(t.name for t in a.tensors)
        assert tuple(model(torch.randn(a.input)).shape) == a.output


def test_an_invalid_spec_shows_the_table_so_far(tmp_path):
    import json

    p = tmp_path / "bad.yaml"
    p.write_text(
        "input: [1, 1, 32, 32]\nlayers:\n  - {type: Conv2d, out_channels: 6, kernel_size: 5}\n"
        "  - {type: MaxPool2d, kernel_size: 2}\n  - {name: fc, type: Linear, "
        "in_features: 100, out_features: 10}\n"
    )
    r = run("shapes", p)
    assert r.exit_code == 1
    assert (
        "the layers that fit, up to the one that does not" in r.stdout
        and "[1, 6, 14, 14]" in r.stdout
    )
    r = run("shapes", p, "--format", "json")
    obj = json.loads(r.stdout)
    assert obj["valid"] is False and [x["name"] for x in obj["layers"]] == ["0", "1"]
    assert (
        obj["diagnostics"][0]["line"] == 5
        and "in_features is 100" in obj["diagnostics"][0]["message"]
    )
    r = run(
        "shapes", ROOT / "configs" / "lenet.yaml", "--format", "json"
    )  # warnings belong in the JSON too
    assert [d["severity"] for d in json.loads(r.stdout)["diagnostics"]] == ["warning"]


def test_explain_of_an_unknown_layer_and_of_a_block_instance():
    r = run("explain", ROOT / "configs" / "resnet18.yaml", "--layer", "layer1.0.conv")
    assert (
        r.exit_code == 2
        and "did you mean 'layer1.0.conv2'?" in r.output
        and "the layers are: conv1, bn1" in r.output
    )
    r = run("explain", ROOT / "configs" / "resnet18.yaml", "--layer", "layer1.0")
    assert (
        r.exit_code == 0
        and "layer1.0.conv1 (Conv2d)" in r.output
        and "layer1.0.relu (ReLU)" in r.output
    )


def test_fit_when_nothing_fits():
    r = run("memory", ROOT / "configs" / "resnet50.yaml", "--fit", "1MiB")
    assert (
        r.exit_code == 1
        and "not even batch 1 fits in 1MiB: one training step at batch 1 peaks at 256.2 MiB"
        in r.output
    )


def test_sizes_past_any_device_are_warned_about(tmp_path):
    p = tmp_path / "huge.yaml"
    p.write_text(
        "input: [1, 3, 1000000000000, 1000000000000]\nlayers:\n  - {type: Conv2d, "
        "out_channels: 64, kernel_size: 3}\n"
    )
    for cmd in ("shapes", "memory"):
        r = run(cmd, p)
        assert r.exit_code == 0 and "more than any device holds" in r.output, r.output
    assert run("shapes", p, "--strict").exit_code == 1


def test_verify_of_an_input_torch_cannot_address_is_one_line(tmp_path):
    p = tmp_path / "huge.yaml"
    p.write_text(
        "input: [1000000000000, 1000000000000, 1000000000000]\nlayers:\n  - {type: ReLU}\n"
    )
    r = run("verify", p)
    assert (
        r.exit_code in (1, 2)
        and "Traceback" not in r.output
        and len(r.output.strip().splitlines()) <= 2
    ), r.output


def test_expression_messages():
    from cnncalc.read.expr import ExprError, evaluate

    with pytest.raises(ExprError, match="use // for integer division"):
        evaluate("planes / 2", {"planes": 4})
    with pytest.raises(ExprError, match="exceeds"):
        evaluate("a * a * a * a", {"a": 10**6})
