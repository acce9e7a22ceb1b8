"""Inputs that once broke the contract: each gives a located diagnostic and exit 1 or 2, at once."""

import os
import time

import pytest
from fuzz import run_case
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cnncalc.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/urandom", "fifo", "dir"])
def test_only_regular_files_are_read(target, tmp_path):
    if target == "fifo":
        target = tmp_path / "spec.yaml"
        os.mkfifo(target)
    elif target == "dir":
        target = tmp_path
    t0 = time.perf_counter()
    r = run("shapes", target)
    assert r.exit_code == 2 and "cannot read" in r.output and time.perf_counter() - t0 < 2


BLOCKS = """input: [1, 2, 4, 4]
blocks:
  B:
    layers:
      - {name: c, type: Conv2d, out_channels: 2, kernel_size: 1, when: false}
layers:
  - {name: net, type: B, repeat: REPEAT}
"""


@pytest.mark.parametrize(
    "text,message",
    [
        (
            'input: [1, 2]\nlayers:\n  - {type: ReLU, name: "ok\\nfake.yaml:1:1: error: '
            'injected"}\n',
            "control character",
        ),
        ("input: [1, !!bool maybe]\nlayers: [{type: ReLU}]\n", "cannot read 'maybe' as bool"),
        ("input: [1, !!int '']\nlayers: [{type: ReLU}]\n", "cannot read '' as int"),
        ("input: [1, " + "9" * 5000 + "]\nlayers: [{type: ReLU}]\n", "longer than 64 characters"),
        ("input: [1, 0x" + "f" * 40 + "]\nlayers: [{type: ReLU}]\n", "larger than 1e+18"),
        ("input: [1, 99999999999999999999]\nlayers: [{type: ReLU}]\n", "larger than 1e+18"),
        ("input: [" + ", ".join(["1"] * 100) + "]\nlayers: [{type: ReLU}]\n", "at most 64"),
        (BLOCKS.replace("REPEAT", "1000000000"), "more than the 5,000 layers"),
        (BLOCKS.replace("REPEAT", "3"), "every layer is left out by when"),
        (BLOCKS.replace("REPEAT", "1e100"), "repeat must be an integer"),
        (
            "input: [1, 2, 3]\nlayers:\n  - {type: Upsample, scale_factor: 1.0e300}\n",
            "larger than 1e+18",
        ),
    ],
)
def test_hostile_specs_give_one_located_line(text, message, tmp_path):
    p = tmp_path / "spec.yaml"
    p.write_text(text)
    r = run("shapes", p)
    assert r.exit_code == 1, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{p}:") and message in lines[0], r.output
    assert not run_case(text, tmp_path / "again.yaml")


def test_a_deep_chain_of_blocks_is_refused_not_a_recursion(tmp_path):
    blocks = "".join(f"  B{k}:\n    layers:\n      - {{type: B{k - 1}}}\n" for k in range(1, 120))
    text = (
        "input: [1, 2]\nblocks:\n  B0:\n    layers:\n      - {type: ReLU}\n"
        + blocks
        + "layers:\n  - {type: B119}\n"
    )
    p = tmp_path / "spec.yaml"
    p.write_text(text)
    r = run("shapes", p)
    assert r.exit_code == 1 and "nested more than 50 deep" in r.output


@pytest.mark.parametrize(
    "layer,message",
    [
        (
            "{name: r, type: ReLU, from: true}",
            "from must be a layer name or a list of names, found True",
        ),
        (
            "{name: r, type: ReLU, from: missing, when: false}",
            "left out by when, it stands for its input 'missing', but no layer above",
        ),
    ],
)
def test_a_bad_from_in_a_block_is_never_dropped(layer, message, tmp_path):
    p = tmp_path / "spec.yaml"
    p.write_text(
        "input: [1, 2, 4, 4]\nblocks:\n  B:\n    layers:\n      - {name: c, type: Conv2d, "
        "out_channels: 2, kernel_size: 1}\n"
        f"      - {layer}\nlayers:\n  - {{name: net, type: B}}\n  - {{type: ReLU}}\n"
    )
    for cmd in ("shapes", "export", "expand"):
        r = run(cmd, p)
        assert r.exit_code == 1 and message in r.output and ":6:" in r.output, (cmd, r.output)


def test_import_of_a_model_that_refuses_the_input_is_one_line():
    from pathlib import Path

    models = Path(__file__).resolve().parent / "models.py"
    r = run("import", f"{models}:TutorialNet", "--input", "1,3,8,8")
    assert (
        r.exit_code == 1 and len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output
    )
    assert "the model raises on inputs [[1, 3, 8, 8]] in 'conv1' at models.py:" in r.output
    assert "expected input[1, 3, 8, 8] to have 1 channels" in r.output


def _heavy_block(expr: str, uses: int, varied: bool) -> str:
    """A block layer whose name holds 100 expressions of about 420 characters, used many times."""
    name = "l" + "".join("${" + expr + "}" for _ in range(100))
    use = "  - {{name: u{i}, type: B, k: {k}}}\n"
    return (
        "input: [1, 4, 8, 8]\nblocks:\n  B:\n    args: {k: 1}\n    layers:\n"
        f'      - {{name: "{name}", type: ReLU}}\nlayers:\n'
        + "".join(use.format(i=i, k=i % 3 if varied else 1) for i in range(uses))
    )


def test_an_expression_without_names_is_evaluated_once_per_text(tmp_path):
    spec = tmp_path / "consts.yaml"
    spec.write_text(_heavy_block(" + ".join(["0"] * 105), 1000, varied=True))
    r = run("shapes", spec, "--format", "json")
    assert r.exit_code == 0, r.output
    layers = __import__("json").loads(r.stdout)["layers"]
    assert len(layers) == 1000 and layers[0]["name"] == "u0.l" + "0" * 100


def test_block_expressions_have_a_bounded_cost(tmp_path):
    spec = tmp_path / "names.yaml"
    spec.write_text(_heavy_block(" + ".join(["k"] * 105), 1000, varied=True))
    r = run("shapes", spec)
    line = r.output.strip().splitlines()[-1]
    assert r.exit_code == 1 and line.startswith(f"{spec}:6:16: error: layer 'u")
    assert "more than 500,000 evaluation steps" in line and len(line) < 500


@given(
    st.recursive(
        st.one_of(st.integers(-50, 50).map(str), st.sampled_from(["a", "b", "true", "false"])),
        lambda e: st.one_of(
            st.tuples(
                e, st.sampled_from(["+", "-", "*", "//", "%", "==", "<", "and", "or"]), e
            ).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(e, e, e).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
            st.tuples(e, e).map(lambda t: f"min({t[0]}, {t[1]})"),
            e.map(lambda x: f"(not {x})"),
        ),
        max_leaves=12,
    ),
    st.integers(-9, 9),
    st.integers(-9, 9),
)
@settings(max_examples=300, derandomize=True, deadline=None)
def test_folding_keeps_every_value_and_every_error(text, a, b):
    """The folded tree evaluates as the tree the parser wrote, to the same value or error."""
    from cnncalc.read.expr import ExprError, _eval, _Parser, evaluate

    env = {"a": a, "b": b}

    def outcome(f):
        try:
            return ("value", f())
        except ExprError as e:
            return ("error", str(e))

    raw = outcome(lambda: _eval(_Parser(text).expr(), env))
    assert outcome(lambda: evaluate(text, env)) == raw


LENET = "configs/lenet.yaml"


@pytest.mark.parametrize("value", ["inf", "nan", "-5GB", "1e400", "", "1e30GB", "0", "0.5", "10x"])
def test_a_bad_fit_is_a_usage_error_before_any_spec_is_read(value):
    for spec in (LENET, "tests/bad/no-such-file.yaml"):
        r = run("memory", spec, "--fit", value)
        assert r.exit_code == 2 and r.output.strip().splitlines()[-1].startswith(
            "cnncalc: error: --fit: "
        ), r.output
        assert "internal error" not in r.output


def test_a_fit_takes_sizes_with_units_and_fractions():
    from cnncalc.analyses.memory import parse_size

    assert parse_size("24GiB") == 24 << 30 and parse_size("1.5 KiB") == 1536
    assert parse_size("2000000") == 2_000_000 and parse_size("2 GB") == 2 * 10**9
    r = run("memory", LENET, "--fit", "1.5KiB")
    assert r.exit_code == 1 and "not even batch 1 fits in 1.5KiB" in r.output


@pytest.mark.parametrize(
    "args", [["check", ""], ["check", "configs", ""], ["shapes", ""], ["explain", " "],
             ["expand", ""], ["verify", ""], ["draw", ""], ["sizes", ""], ["memory", ""]]
)  # fmt: skip
def test_an_empty_path_is_a_usage_error(args):
    r = run(*args)
    assert r.exit_code == 2 and "the spec path is empty" in r.output, r.output


@pytest.mark.parametrize("char", ["\x10", "\x1b", "\x7f", "\ufffe"])
def test_a_character_yaml_refuses_is_placed_where_it_stands(char, tmp_path):
    text = "input: [1, 4]\nlayers:\n" + "  - {type: ReLU}\n" * 200 + f"  - {{name: a{char}b}}\n"
    spec = tmp_path / "ctrl.yaml"
    spec.write_text(text, encoding="utf-8")
    r = run("shapes", spec)
    line = r.output.strip().splitlines()[-1]
    assert r.exit_code == 1 and line.startswith(f"{spec}:203:13: error: "), line
    assert f"U+{ord(char):04X} is not allowed in YAML" in line and "position" not in line


@pytest.mark.parametrize(
    "text,where,words",
    [
        ("input: [1, 4]\nlayers:\n  - {type: 'ReLU}\n", "3:12", "quoted string is never closed"),
        ("input: [1, 4\nlayers:\n  - {type: ReLU}\n", "2:7", "the '[' list opened at 1:8"),
        ("input: [1, 4]\nlayers:\n  - {type: ReLU\n", "3:5", "mapping is never closed"),
        ("input: [1, 4]\nlayers:\n  - type: a: b\n", "3:12", "would start a mapping"),
        ("input: [1, 4]\nlayers:\n  - {type: ReLU}\n bad: 1\n", "4:2", "does not line up"),
        ("input: [1, 4]\nlayers:\n  - {type: ReLU}\n}\n", "4:1", ""),
    ],
)
def test_yaml_syntax_errors_are_placed_and_worded_as_ours(text, where, words, tmp_path):
    """PyYAML's scanner and parser errors: at the place that explains them (an unclosed quote or
    bracket where it opens), in a spec writer's words, one line."""
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    r = run("check", spec)
    first = r.output.strip().splitlines()[0]
    assert r.exit_code == 1 and first.startswith(f"{spec}:{where}: error: "), first
    assert "invalid YAML: " in first
    assert words in first and "\\n" not in first and ", line " not in first  # PyYAML's "in ..."


CHAIN = (
    "input: [1, 2, 8, 8]\nlayers:\n"
    + "  - {type: Conv2d, out_channels: 2, kernel_size: 3, padding: 1}\n"
)


def test_the_layer_limit_is_a_located_refusal_and_the_limit_itself_is_taken(tmp_path):
    from cnncalc.read.blocks import MAX_LAYERS

    p = tmp_path / "spec.yaml"
    p.write_text("input: [1, 4]\nlayers:\n" + "  - {type: ReLU}\n" * (MAX_LAYERS + 1))
    r = run("check", p)
    assert r.exit_code == 1 and f"more than the {MAX_LAYERS:,} a spec may have" in r.output
    p.write_text("input: [1, 4]\nlayers:\n" + "  - {type: ReLU}\n" * MAX_LAYERS)
    r = run("shapes", p, "--format", "json")
    assert r.exit_code == 0 and r.output.count('"type": "ReLU"') == MAX_LAYERS


def test_a_sweep_whose_sizes_stay_apart_is_refused_past_its_budget(tmp_path):
    """1,000 padded convs keep 64 sizes apart at every layer: 64,000 rules, past the budget; the
    refusal names a range that fits, and that range is decided."""
    from cnncalc.analyses.sizes import MAX_RULES

    p = tmp_path / "spec.yaml"
    p.write_text(CHAIN.split("\n", 2)[0] + "\nlayers:\n" + CHAIN.split("\n", 2)[2] * 1000)
    r = run("sizes", p, "--range", "1:64")
    assert r.exit_code == 2, r.output
    assert f"more than {MAX_RULES:,} layer rules" in r.output and "--range 1:30)" in r.output
    r = run("sizes", p, "--range", "1:30", "--format", "json")
    assert r.exit_code == 0 and '"valid"' in r.output, r.output


def test_a_fit_past_its_work_is_a_usage_error_and_within_it_is_answered(tmp_path):
    from cnncalc.analyses.memory import MAX_FIT_WORK

    body = CHAIN.split("\n", 2)[2]
    p = tmp_path / "spec.yaml"
    p.write_text(CHAIN.split("\n", 2)[0] + "\nlayers:\n" + body * (MAX_FIT_WORK // 8 + 1))
    r = run("memory", p, "--fit", "24GiB")
    assert r.exit_code == 2 and "compare batches one at a time with --batch" in r.output, r.output
    p.write_text(CHAIN.split("\n", 2)[0] + "\nlayers:\n" + body * 50)
    r = run("memory", p, "--fit", "24GiB")
    assert r.exit_code == 0 and "Largest batch whose training step's peak fits" in r.output


def test_the_command_line_flushes_its_output_and_exit_status_before_it_ends(tmp_path):
    """``cnncalc`` ends without tearing its objects down: what it printed is all there, and its
    status is the command's."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "cnncalc"]
    r = subprocess.run([*cmd, "shapes", "--format", "json"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.rstrip().endswith("}"), r
    import json

    assert json.loads(r.stdout)["total_params"] == 81_194
    r = subprocess.run(
        [*cmd, "shapes", str(tmp_path / "none.yaml")], capture_output=True, text=True
    )
    assert r.returncode == 2 and "cannot read" in r.stderr
    p = tmp_path / "bad.yaml"
    p.write_text("input: [1, 4]\nlayers:\n  - {type: Nope}\n")
    r = subprocess.run([*cmd, "shapes", str(p)], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.startswith(f"{p}:3:"), r
