"""`cnncalc sizes` against torch: for random nets and graphs, the valid sizes of a range are exactly
those at
which the torch model (built once at the spec's size, plain torch modules) runs; the refusing layer
is the one
torch raises at; lossless sizes are those the analysis gives no rounding warning for."""

import dataclasses
import json
from pathlib import Path

import pytest
from helpers import spec_text, torch_run
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_property import nets
from typer.testing import CliRunner

from cnncalc.analyses.runs import describe_set, runs
from cnncalc.analyses.sizes import parse_range, spatial_names, sweep
from cnncalc.cli import app
from cnncalc.diagnostics import SpecError
from cnncalc.engine import analyze
from cnncalc.read import load, parse

ROOT = Path(__file__).resolve().parent.parent
RANGE = {1: 40, 2: 24, 3: 9}
runner = CliRunner()


def explicit(layers: list[dict], a) -> list[dict]:
    """The layers with every size the analysis inferred at the spec's own input written out (the
    built model)."""
    out = []
    for layer, r in zip(layers, a.layers):
        kind_keys = {
            "in_channels",
            "num_features",
            "in_features",
            "num_channels",
            "normalized_shape",
            "num_parameters",
        }
        filled = {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in r.kwargs.items()
            if k in kind_keys and layer.get(k) is None
        }
        out.append({**layer, **filled})
    return out


def at(shape, dims, x):
    s = list(shape)
    for d in dims:
        s[d] = x
    return tuple(s)


def agree_with_torch(shape, layers, hi=None):
    """Vary every spatial dim of the input (as the spec's first spatial layer counts them)
    together."""
    spec = parse(spec_text(shape, layers))
    try:
        a = analyze(spec)
    except SpecError:
        assume(False)  # a net refused at its own size has no built model to run at others
    names = spatial_names(spec)
    assume(names)
    dims = list(names.values())
    hi = hi or RANGE[len(dims)]
    sw = sweep(spec, list(names), 1, hi)
    fixed = explicit(layers, a)
    refused_at = {x: r.layer for r in sw.refusals for x in r.sizes}
    for x in range(1, hi + 1):
        _, failed = torch_run(at(shape, dims, x), fixed)
        assert (x in sw.valid) == (failed is None), (x, failed, sw.to_dict())
        if failed is not None:
            assert refused_at[x] == fixed[failed].get("name", str(failed)), x
    return sw


@settings(max_examples=80, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(nets())
def test_random_nets_accept_the_sizes_torch_accepts(net):
    agree_with_torch(*net)


@st.composite
def encoder_decoders(draw):
    """A U-Net-like graph: convs and a pool per level down, an upsampling per level up, each
    concatenated with
    (or added to) its level's encoder output."""
    depth = draw(st.integers(1, 3))
    layers, skips, c = [], [], 2
    for level in range(depth):
        pad = draw(st.integers(0, 1))
        layers.append(
            {
                "name": f"enc{level}",
                "type": "Conv2d",
                "out_channels": c,
                "kernel_size": 3,
                "padding": pad,
            }
        )
        skips.append(f"enc{level}")
        k = draw(st.integers(2, 3))
        layers.append(
            {
                "name": f"pool{level}",
                "type": "MaxPool2d",
                "kernel_size": k,
                "stride": 2,
                "ceil_mode": draw(st.booleans()),
            }
        )
    layers.append(
        {"name": "mid", "type": "Conv2d", "out_channels": c, "kernel_size": 3, "padding": 1}
    )
    for level in reversed(range(depth)):
        if draw(st.booleans()):
            layers.append(
                {
                    "name": f"up{level}",
                    "type": "ConvTranspose2d",
                    "out_channels": c,
                    "kernel_size": 2,
                    "stride": 2,
                }
            )
        else:
            layers.append({"name": f"up{level}", "type": "Upsample", "scale_factor": 2})
        merge = draw(st.sampled_from(["Cat", "Add"]))
        layers.append(
            {"name": f"merge{level}", "type": merge, "from": [skips[level], f"up{level}"]}
        )
        layers.append(
            {"name": f"dec{level}", "type": "Conv2d", "out_channels": c, "kernel_size": 1}
        )
    side = draw(st.integers(8, 40))
    return [1, 1, side, side], layers


@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(encoder_decoders())
def test_encoder_decoders_accept_the_sizes_torch_accepts(net):
    shape, layers = net
    agree_with_torch(shape, layers, 48)


def test_one_dim_varied_alone_against_torch():
    shape = [1, 2, 12, 9]
    layers = [
        {"name": "c", "type": "Conv2d", "out_channels": 3, "kernel_size": [3, 2], "stride": [2, 1]},
        {"name": "p", "type": "MaxPool2d", "kernel_size": [2, 3], "stride": 2, "ceil_mode": True},
        {"type": "Flatten"},
        {"name": "fc", "type": "Linear", "out_features": 4},
    ]
    spec = parse(spec_text(shape, layers))
    fixed = explicit(layers, analyze(spec))
    sw = sweep(spec, ["H"], 1, 40)
    assert sw.valid == [x for x in range(1, 41) if torch_run((1, 2, x, 9), fixed)[1] is None]
    assert sw.valid == [11, 12, 13, 14]  # those that give fc its in_features (3 · 3 · 4 = 36)


@pytest.mark.parametrize(
    "name,hi",
    [("lenet.yaml", 80), ("unet.yaml", 96), ("resnet18.yaml", 100), ("googlenet.yaml", 80)],
)
def test_configs_sweep_equals_the_analysis_at_each_size(name, hi):
    """Against the analysis itself, size for size: valid where it has no error, lossless where
    also no rounding warning."""
    spec = load(str(ROOT / "configs" / name))
    sw = sweep(spec, ["H", "W"], 1, hi)
    valid, lossless = [], []
    for x in range(1, hi + 1):
        try:
            a = analyze(dataclasses.replace(spec, input=at(spec.input, [2, 3], x)))
        except SpecError as e:
            assert next(r.layer for r in sw.refusals if x in r.sizes) == e.layer
            continue
        valid.append(x)
        if not any("never reach the output" in w.message for w in a.warnings):
            lossless.append(x)
    assert (sw.valid, sw.lossless) == (valid, lossless)


def test_tutorial_net_accepts_only_30_to_33():
    sw = sweep(load(str(ROOT / "configs" / "lenet.yaml")), ["H", "W"], 1, 1024)
    assert runs(sw.valid) == [[30, 33, 1]]
    assert sw.refusals[-1].layer == "fc1" and "in_features is 576" in sw.refusals[-1].reason


def test_unet_accepts_multiples_of_16():
    sw = sweep(load(str(ROOT / "configs" / "unet.yaml")), ["H", "W"], 1, 512)
    assert runs(sw.valid) == [[16, 512, 16]]
    assert describe_set(sw.valid, 1, 512) == "every multiple of 16 from 16 to 512 (32 sizes)"
    cat4 = next(r for r in sw.refusals if r.layer == "cat4")
    assert describe_set(cat4.sizes, 1, 512) == "sizes ≡ 8 to 15 (mod 16) from 24 to 511 (248 sizes)"


def test_train_adds_batchnorms_refusal():
    text = (
        "input: [1, 3, 8, 8]\nlayers:\n  - {type: Conv2d, out_channels: 4, kernel_size: 3, "
        "stride: 2}\n  - {type: BatchNorm2d}\n"
    )
    spec = parse(text)
    assert runs(sweep(spec, ["H", "W"], 1, 12).valid) == [[3, 12, 1]]
    train = sweep(spec, ["H", "W"], 1, 12, train=True)
    assert runs(train.valid) == [
        [5, 12, 1]
    ]  # at 3 and 4 the conv gives 1 x 1: one value per channel
    import torch

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=2), torch.nn.BatchNorm2d(4)).train()
    ok = []
    for x in range(3, 13):
        try:
            net(torch.randn(1, 3, x, x))
            ok.append(x)
        except ValueError:
            pass
    assert ok == train.valid


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_cli_json_and_table():
    r = run("sizes", ROOT / "configs" / "lenet.yaml", "--range", "1:64", "--format", "json")
    assert r.exit_code == 0
    out = json.loads(r.stdout)
    assert out["vary"] == ["H", "W"] and out["range"] == [1, 64] and out["valid"] == [[30, 33, 1]]
    assert out["lossless"] == [[30, 30, 1]]
    assert {"sizes": [[10, 29, 1], [34, 64, 1]], "layer": "fc1"}.items() <= out["invalid"][
        -1
    ].items()
    r = run("sizes", ROOT / "configs" / "unet.yaml", "--range", "1:256")
    assert "valid:    every multiple of 16 from 16 to 256 (16 sizes)" in r.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["--vary", "C"],
            "--vary C: not a spatial dim of the input [1, 1, 32, 32]; its spatial dims are H, W",
        ),
        (["--vary", "H,H"], "names a dim twice"),
        (["--range", "5:1"], "empty"),
        (["--range", "0:9"], "sizes start at 1"),
        (["--range", "a:b"], "--range must be LO:HI"),
        (["--range", "1:100000000000"], "more than the 1,048,576 one sweep decides"),
    ],
)
def test_bad_options_exit_2(args, message):
    r = run("sizes", ROOT / "configs" / "lenet.yaml", *args)
    assert r.exit_code == 2 and message in r.stderr and "Traceback" not in r.output


def test_a_spec_broken_at_every_size_is_a_diagnostic(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "input: [1, 1, 8, 8]\nlayers:\n  - {type: Conv2d, out_channels: 2, kernel_size: 3, "
        "from: nope}\n"
    )
    r = run("sizes", path)
    assert (
        r.exit_code == 1
        and f"{path}:3:59: error: layer '0' (Conv2d): from names 'nope'" in r.stderr
    )


def test_parse_range_bounds():
    assert parse_range("3:7") == (3, 7)


def test_explain_of_a_refused_size_names_the_layer_and_nearby_sizes(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(
        (ROOT / "configs" / "lenet.yaml").read_text().replace("[1, 1, 32, 32]", "[1, 1, 36, 36]")
    )
    r = run("explain", path)
    assert r.exit_code == 1 and "error: layer 'fc1' (Linear): in_features is 576" in r.stderr
    assert "H = W (together): the nearest that work are 33" in r.stderr
    path.write_text(
        (ROOT / "configs" / "lenet.yaml").read_text().replace("[1, 1, 32, 32]", "[1, 1, 28, 32]")
    )
    r = run("explain", path)
    assert "H = 28: the nearest that work are 30;" in r.stderr


def test_a_parameter_layer_reads_no_tensor_in_a_sweep():
    """A Parameter (no input) in the graph: every size decided, as the analysis decides it."""
    text = (
        "input: [1, 3, 5, 5]\nlayers:\n"
        "  - {name: c, type: Conv2d, out_channels: 4, kernel_size: 3}\n"
        "  - {name: p, type: Parameter, shape: [4, 1, 1]}\n  - {name: s, type: Add, from: [c, p]}\n"
    )
    spec = parse(text)
    sw = sweep(spec, ["H", "W"], 1, 12)
    fits = []
    for x in range(1, 13):
        try:
            analyze(parse(text.replace("[1, 3, 5, 5]", f"[1, 3, {x}, {x}]")))
            fits.append(x)
        except SpecError:
            pass
    assert sw.valid == fits == list(range(3, 13))
