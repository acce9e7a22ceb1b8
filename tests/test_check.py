"""`cnncalc check`: a corpus of bad specs with their exact diagnostics, annotations, and inputs
that must never crash or hang it (fuzzed)."""

import json
import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.diagnostics import SpecError
from cnncalc.engine import analyze
from cnncalc.read import parse

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "tests" / "bad"
runner = CliRunner()


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


def test_bad_corpus_gives_exactly_the_expected_diagnostics():
    r = runner.invoke(app, ["check", "tests/bad"])
    assert r.exit_code == 1
    assert r.stdout == (BAD / "expected.txt").read_text()
    assert len(list(BAD.glob("*.yaml"))) >= 25


@pytest.mark.parametrize("path", sorted(p.name for p in BAD.glob("*.yaml")))
def test_each_bad_spec_exits_1_with_one_located_error(path):
    r = runner.invoke(app, ["check", f"tests/bad/{path}"])
    assert r.exit_code == 1
    first = r.stdout.splitlines()[0]
    assert first.startswith(f"tests/bad/{path}:") and ": error: " in first
    line = int(first.split(":")[1])
    assert 1 <= line <= max(1, len((BAD / path).read_bytes().splitlines()))
    assert "Traceback" not in r.output


def test_good_and_bad_together_report_every_bad_one():
    r = runner.invoke(
        app, ["check", "configs", "tests/bad/unknown_type.yaml", "tests/bad/self_from.yaml"]
    )
    assert r.exit_code == 1
    assert r.stdout.count(": error: ") == 2
    good = len(list((ROOT / "configs").glob("*.yaml")))
    assert r.stdout.splitlines()[-1].startswith(
        f"checked {good + 2} specs: {good} ok, 2 invalid (2 errors, "
    )


def test_globs_and_missing_paths():
    r = runner.invoke(app, ["check", "configs/res*.yaml"])
    assert r.exit_code == 0 and "checked 2 specs: 2 ok" in r.stdout
    r = runner.invoke(app, ["check", "configs/lenet.yaml", "no/such.yaml"])
    assert (
        r.exit_code == 2
        and "no/such.yaml: error: no such file, folder or matching glob" in r.stderr
    )


def test_warnings_keep_check_at_0_unless_strict():
    r = runner.invoke(app, ["check", "configs/lenet.yaml"])
    assert r.exit_code == 0
    assert (
        "configs/lenet.yaml:19:5: warning: layer '5' (MaxPool2d): the last 1 of its 13 "
        "input rows (H)" in r.stdout
    )
    assert runner.invoke(app, ["check", "--strict", "configs/lenet.yaml"]).exit_code == 1


def test_github_annotations(monkeypatch):
    expected = (
        "::error file=tests/bad/wrong_in_channels.yaml,line=3,col=46::layer 'conv1' (Conv2d): "
        "in_channels is 1, but the incoming tensor [1, 3, 32, 32] has 3 channels"
    )
    r = runner.invoke(app, ["check", "--format", "github", "tests/bad/wrong_in_channels.yaml"])
    assert expected in r.stdout.splitlines()
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    r = runner.invoke(app, ["check", "tests/bad/wrong_in_channels.yaml"])
    assert expected in r.stdout.splitlines()
    r = runner.invoke(app, ["shapes", "tests/bad/wrong_in_channels.yaml"])
    assert expected in r.stderr.splitlines() and r.exit_code == 1


def test_pre_commit_hook_runs_check():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hooks[0]["id"] == "cnncalc-check" and hooks[0]["entry"] == "cnncalc check"


def test_schema_accepts_the_configs_and_rejects_bad_arguments():
    jsonschema = pytest.importorskip("jsonschema")
    r = runner.invoke(app, ["schema"])
    schema = json.loads(r.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    for path in (ROOT / "configs").glob("*.yaml"):
        assert not list(v.iter_errors(yaml.safe_load(path.read_text()))), path
    bad = yaml.safe_load(
        "input: [1, 3, 8, 8]\nlayers:\n  - {type: Conv2d, out_channels: 3}\n  - {type: "
        "Linear, out_features: x}\n"
    )
    assert sorted(e.message for e in v.iter_errors(bad)) == [
        "'kernel_size' is a required property",
        "'x' is not of type 'integer'",
    ]


# ---- inputs that must not crash, hang or eat memory ---------------------------------------


def diagnose(text: str):
    """The outcome of analysing text: 'ok' or the SpecError; anything else propagates (a crash)."""
    try:
        analyze(parse(text))
        return "ok"
    except SpecError as e:
        assert e.message and e.pos[0] >= 1 and e.pos[1] >= 1
        return e


def test_billion_laughs_is_refused_quickly():
    text = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for prev, name in zip("abcdefgh", "bcdefghi"):
        text += f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]\n"
    assert "more than 1,000,000 values" in diagnose(text).message


def test_deep_nesting_is_refused():
    assert (
        "nest" in diagnose("input: " + "[" * 100_000 + "]" * 100_000).message
    )  # libyaml or our own limit
    assert (
        "nested deeper than"
        in diagnose("input:\n" + "".join(" " * i + "- \n" for i in range(0, 4000, 2))).message
    )


def test_huge_sizes_stay_exact():
    a = analyze(
        parse(
            "input: [1, 1000000000000]\nlayers:\n  - {type: Linear, out_features: 1000000000000}\n"
        )
    )
    assert a.total_params == 10**24 + 10**12 and a.total_macs == 10**24


VALID = [
    (ROOT / "configs" / name).read_text()
    for name in ("lenet.yaml", "resnet18.yaml", "mobilenet_v2.yaml")
]
PIECES = [
    "0",
    "-1",
    "99999999999999999999",
    "[]",
    "{}",
    "null",
    "true",
    "'x'",
    ":",
    "-",
    "[",
    "}",
    "&a",
    "*a",
    "!!str",
    "\t",
    "\n",
    "${",
    "1.5",
    "\xff",
]


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(VALID))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        j = min(len(text), i + draw(st.integers(0, 8)))
        text = text[:i] + draw(st.one_of(st.sampled_from(PIECES), st.text(max_size=4))) + text[j:]
    return text


@settings(
    max_examples=300, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)
@given(mutated())
def test_mutated_specs_never_crash(text):
    diagnose(text)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**15), 10**15),
    st.floats(allow_nan=False),
    st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
layer_types = st.sampled_from(
    [
        "Conv2d",
        "Linear",
        "MaxPool2d",
        "Flatten",
        "Add",
        "Cat",
        "BatchNorm2d",
        "Upsample",
        "ZeroPad2d",
        "Bottleneck",
    ]
)


@st.composite
def random_specs(draw):
    layers = draw(
        st.lists(
            st.one_of(
                values,
                st.builds(
                    lambda t, extra: {"type": t, **extra},
                    layer_types,
                    st.dictionaries(
                        st.sampled_from(
                            [
                                "kernel_size",
                                "out_features",
                                "out_channels",
                                "from",
                                "name",
                                "padding",
                                "dim",
                                "size",
                            ]
                        ),
                        values,
                        max_size=3,
                    ),
                ),
            ),
            max_size=4,
        )
    )
    doc = draw(
        st.one_of(values, st.fixed_dictionaries({"input": values, "layers": st.just(layers)}))
    )
    return yaml.safe_dump(doc)


@settings(
    max_examples=300, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)
@given(random_specs())
def test_random_yaml_never_crashes(text):
    diagnose(text)


def test_cli_on_unreadable_bytes_and_directories(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_bytes(os.urandom(64) + b"\x00\xff")
    r = runner.invoke(app, ["check", str(p)])
    assert r.exit_code == 1 and ": error: " in r.stdout
    r = runner.invoke(app, ["shapes", str(tmp_path)])
    assert r.exit_code == 2 and "cannot read" in r.stderr


def _accepted_specs():
    """Every spec text in the tests and configs that cnncalc accepts (the schema must accept
    each)."""
    from helpers import spec_text
    from test_blocks import resnet_spec
    from test_graph import CASES as GRAPHS
    from test_layers import C as LAYERS

    texts = [p.read_text() for p in (ROOT / "configs").glob("*.yaml")]
    texts += [p.read_text() for p in (ROOT / "tests" / "zoo").glob("*.yaml")]
    texts += [spec_text(s, layers) for s, layers in LAYERS + GRAPHS]
    texts += [
        resnet_spec(b, layers, (1, 3, 45, 61), 8, classes=5)
        for b, layers in (("Bottleneck", [2, 1]), ("BasicBlock", [1, 2]))
    ]
    texts.append(
        "input: [1, 3, 8, 8]\nblocks:\n  B:\n    args: {n: 2}\n    layers:\n      - {type: ReLU}\n"
        "layers:\n  - {name: b, type: B, repeat: '${2}'}\n  - {type: Conv2d, "
        "out_channels: 2, kernel_size: 1, trainable: false}\noutputs: [b.1.0, '1']\n"
    )
    out = []
    for text in texts:
        try:
            analyze(parse(text))
        except SpecError:
            continue
        out.append(text)
    return out


def test_schema_accepts_every_spec_cnncalc_accepts():
    jsonschema = pytest.importorskip("jsonschema")
    v = jsonschema.Draft202012Validator(json.loads(runner.invoke(app, ["schema"]).stdout))
    specs = _accepted_specs()
    assert len(specs) > 150
    specs.append(
        (ROOT / "docs" / "lenet_named.yaml").read_text()
    )  # named input dims: shapes gives formulas
    for text in specs:
        errors = [e.message for e in v.iter_errors(yaml.safe_load(text))]
        assert not errors, (errors, text[:300])
