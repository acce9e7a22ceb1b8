"""Named input dims: the formulas `shapes` prints, evaluated at sizes the sweep never held together,
against torch
(the plain torch modules run at that size: every layer's output shape, the parameters and the
MACs)."""

import random
import re

from helpers import torch_run
from hypothesis import HealthCheck, assume, given, settings
from test_property import nets
from typer.testing import CliRunner

from cnncalc.analyses.symbolic import Row, Term, fit, formulas
from cnncalc.cli import app
from cnncalc.diagnostics import SpecError
from cnncalc.read import parse

runner = CliRunner()
NAMES = {1: ["L"], 2: ["H", "W"], 3: ["D", "H", "W"]}


def value(text: str, sizes: dict) -> int:
    """A printed formula, evaluated (⌊ ⌋ is floor division, · is a product)."""
    expr = (
        text.replace(",", "")
        .replace("−", "-")
        .replace("·", "*")
        .replace("⌊", "((")
        .replace("⌋", "))")
        .replace("/", "//")
    )
    assert re.fullmatch(r"[\w\s()+\-*/]+", expr), text
    return eval(expr, {"__builtins__": {}}, dict(sizes))  # noqa: S307 - a formula the test itself printed


def symbolic_text(shape, layers, names):
    """The spec with the batch dim N and the spatial dims named."""
    written = (
        ["N", *map(str, shape[1 : -len(names)]), *names]
        if len(shape) > len(names) + 1
        else [*map(str, shape[: -len(names)]), *names]
    )
    lines = [f"input: [{', '.join(written)}]", "layers:"]
    import json

    lines += [f"  - {json.dumps(layer)}" for layer in layers]
    return "\n".join(lines) + "\n", written


def check_against_torch(shape, layers, n, tries=6, seed=0):
    names = NAMES[n]
    text, written = symbolic_text(shape, layers, names)
    spec = parse(text)
    try:
        r = formulas(spec)
    except SpecError:
        assume(False)  # no size makes the net fit
    rng = random.Random(seed)
    checked = 0
    for t in range(
        tries
    ):  # the base sizes, then each name at a size it takes alone, drawn independently
        sizes = dict(r.base) if t == 0 else {k: rng.choice(r.valid[k][:60]) for k in spec.symbols}
        concrete = tuple(sizes[v] if v in sizes else int(v) for v in written)
        facts, failed = torch_run(concrete, layers)
        if failed is not None:
            continue
        checked += 1
        for row, (out, params, _buffers, macs) in zip(r.rows, facts):
            for i, (got, want) in enumerate(zip(dims_at(row, r.rows, sizes), out)):
                if got is None:  # no formula fits this dim: the table says so
                    assert "varies" in row.shape[i], (row, sizes)
                else:
                    assert got == want, (row, i, sizes)
            if "varies" not in row.params:
                assert value(row.params, sizes) == sum(_count(s) for _, s in params), (row, sizes)
            if "varies" not in row.macs:
                assert value(row.macs, sizes) == macs, (row, sizes)
    return checked


def dims_at(row, rows, sizes) -> list:
    """Each dim of a row at the given sizes from its formula, None where it has none."""
    out = []
    for term in row.terms:
        if term is None:
            out.append(None)
        elif isinstance(term, tuple):  # a flatten: the product of dims of its source
            try:
                out.append(Row.at(Row(*[None] * 5, terms=[term]), rows, sizes)[0])
            except ValueError:  # one of those dims has no formula
                out.append(None)
        else:
            out.append(term(sizes[term.name]) if term.name else term.c)
    return out


def _count(shape):
    n = 1
    for v in shape:
        n *= v
    return n


def spatial(layers):
    for layer in layers:
        t = layer["type"]
        if t[-1] == "d" and t[-2] in "123":
            return int(t[-2])
    return None


@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(nets())
def test_formulas_are_torchs_shapes_params_and_macs(net):
    shape, layers = net
    n = spatial(layers)
    assume(n is not None and len(shape) >= n + 2)
    assert (
        check_against_torch(shape, layers, n) >= 1
    )  # at least the base sizes, which fit by construction


def test_resnet50_output_is_the_issue_formula():
    text = (
        open("configs/resnet50.yaml")
        .read()
        .replace("input: [1, 3, 224, 224]", "input: [N, 3, H, W]")
    )
    r = formulas(parse(text))
    last = next(x for x in r.rows if x.name == "layer4.2.relu")
    assert last.shape == ["N", "2048", "⌊(H − 1)/32⌋ + 1", "⌊(W − 1)/32⌋ + 1"]
    fc = r.rows[-1]
    assert fc.shape == ["N", "1000"] and fc.params == "2,049,000" and fc.macs == "2,048,000 · N"
    conv1 = r.rows[0]
    assert conv1.macs == "9,408 · N · (⌊(H − 1)/2⌋ + 1) · (⌊(W − 1)/2⌋ + 1)"


def test_fit_forms():
    xs = list(range(1, 200))
    assert fit("H", xs, [(x - 1) // 32 + 1 for x in xs]).text() == "⌊(H − 1)/32⌋ + 1"
    assert fit("H", xs, [2 * x + 3 for x in xs]).text() == "2·H + 3"
    assert fit("H", xs, [7] * len(xs)).text() == "7"
    assert fit("H", xs, [2 * ((x + 1) // 2) for x in xs]).text() == "2·⌊(H − 1)/2⌋ + 2"
    assert fit("H", xs, [x * x for x in xs]) is None
    sixteen = list(range(16, 513, 16))
    assert fit("H", sixteen, [x // 16 for x in sixteen])(48) == 3
    assert Term("H", a=1, b=-1, s=32, c=1)(33) == 2


def test_cli_prints_formulas_and_sizes(tmp_path):
    path = tmp_path / "net.yaml"
    tutorial = (
        open("configs/lenet.yaml").read().replace("input: [1, 1, 32, 32]", "input: [N, 1, H, W]")
    )
    path.write_text(tutorial.replace("in_features: 576, ", ""))  # fc1 takes what the flatten gives
    r = runner.invoke(app, ["shapes", str(path)])
    assert r.exit_code == 0, r.output
    assert "[N, 16, ⌊(H − 2)/4⌋ − 1, ⌊(W − 2)/4⌋ − 1]" in r.stdout
    assert (
        "120 · (16 · (⌊(H − 2)/4⌋ − 1) · (⌊(W − 2)/4⌋ − 1)) + 120" in r.stdout
    )  # fc1's parameters
    assert "H: 10 to 512 (503 sizes) (with N = 1, W = 224)" in r.stdout
    path.write_text(
        tutorial
    )  # fc1 wants 576: only 30..33 fit, where the pooled map is always 6 x 6
    r = runner.invoke(app, ["shapes", str(path)])
    assert "[N, 16, 6, 6]" in r.stdout and "H: 30 to 33 (4 sizes) (with N = 1, W = 33)" in r.stdout
    r = runner.invoke(
        app, ["shapes", str(path), "--set", "H=32", "--set", "W=32", "--batch", "2", "-f", "json"]
    )
    import json

    out = json.loads(r.stdout)
    assert out["input"] == [2, 1, 32, 32] and out["total_macs"] == 2 * 274_656
    r = runner.invoke(app, ["params", str(path)])
    assert (
        r.exit_code == 1
        and "the input dims N, H, W are names: give them sizes (--set H=224 --set W=224 --batch 8)"
        in r.stderr
    )
    r = runner.invoke(app, ["shapes", str(path), "--set", "H=x"])
    assert r.exit_code == 2 and "--set must be NAME=SIZE" in r.stderr


def test_names_no_size_fits_is_a_diagnostic(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(
        "input: [1, 3, H, W]\nlayers:\n  - {type: Conv2d, out_channels: 2, kernel_size: 3, "
        "in_channels: 5}\n"
    )
    r = runner.invoke(app, ["shapes", str(path)])
    assert (
        r.exit_code == 1
        and "no size from 1 to 512 of H, W (all at once) gives a net that fits" in r.stderr
    )
