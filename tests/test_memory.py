"""Memory of a training step against torch: saved tensors under saved_tensors_hooks, byte for
byte."""

from pathlib import Path

import peak_oracle
import pytest
from helpers import analysis_of, torch_run, valid_analysis
from hypothesis import HealthCheck, given, settings
from test_graph import CASES as GRAPHS
from test_layers import C as LAYERS
from test_property import nets

from cnncalc.analyses.memory import fit, memory, parse_size
from cnncalc.bridge.memory import measure_saved
from cnncalc.engine import analyze
from cnncalc.read import load

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def agree(a, device="cpu"):
    m = memory(a)
    total, per_layer = measure_saved(a, device)
    assert m.saved_activation_bytes == total
    assert {k: v for k, v in m.per_layer.items() if v} == per_layer


VALID = [(s, layers) for s, layers in LAYERS + GRAPHS if torch_run(s, layers)[1] is None]


@pytest.mark.parametrize("shape,layers", VALID)
def test_every_layer_type_saves_what_torch_saves(shape, layers):
    from test_peak import unmodelled

    if unmodelled(analysis_of(shape, layers)):
        return  # refused, located (the books do not model that step yet)
    agree(analysis_of(shape, layers))
    # and behind a layer with parameters, where every input needs a gradient
    if len(shape) >= 2 and all(layer.get("from") is None for layer in layers):
        head = {"name": "head", "type": "Linear", "out_features": shape[-1]}
        agree(analysis_of(shape, [head, *layers]))


@pytest.mark.parametrize(
    "name",
    [
        "alexnet.yaml",
        "resnet50.yaml",
        "mobilenet_v2.yaml",
        "densenet121.yaml",
        "squeezenet1_0.yaml",
    ],
)
def test_architectures_on_meta(name):
    agree(analyze(load(str(CONFIGS / name))), device="meta")


@settings(
    max_examples=150, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)
@given(nets())
def test_random_nets_save_what_torch_saves(net):
    a = valid_analysis(*net)
    if a is None or any("in training mode" in w.message for w in a.warnings):
        return  # invalid, or batch norm with 1 value per channel, which torch refuses in training
    agree(a)


def test_totals_of_the_tutorial():
    a = analyze(load(str(CONFIGS / "lenet.yaml")))
    m = memory(a, optimizer="adam")
    assert m.params_bytes == m.grads_bytes == 81194 * 4
    assert m.optimizer_bytes == 2 * 81194 * 4
    assert m.buffers_bytes == 0
    # conv1 keeps the input (1·32·32), ReLU its output, the pool its input (the same) and int64
    # indices, ...
    assert m.per_layer["conv1"] == 32 * 32 * 4
    assert m.per_layer["1"] == 6 * 30 * 30 * 4 and m.per_layer["2"] == 6 * 15 * 15 * 8
    assert m.total_bytes == 4 * 81194 * 4 + m.saved_activation_bytes
    half = memory(a, dtype="float16")
    assert (
        half.params_bytes == 81194 * 2 and half.per_layer["2"] == 6 * 15 * 15 * 8
    )  # indices stay int64


def test_a_parameter_free_first_layer_keeps_nothing():
    a = analysis_of(
        (1, 3, 8, 8),
        [
            {"type": "ReLU"},
            {"type": "MaxPool2d", "kernel_size": 2},
            {"type": "Conv2d", "out_channels": 2, "kernel_size": 1},
        ],
    )
    m = memory(a)
    assert m.per_layer == {"0": 0, "1": 0, "2": 3 * 4 * 4 * 4}


def test_inference_peak_frees_after_last_use():
    a = analysis_of(
        (1, 1, 4, 4),
        [
            {"type": "Conv2d", "out_channels": 2, "kernel_size": 1},
            {"type": "ReLU"},
            {"type": "Flatten"},
        ],
    )
    # input 16 + conv output 32 floats; then the conv output and the ReLU output, 32 + 32 (the input
    # is freed)
    assert memory(a).inference_peak_bytes == (32 + 32) * 4
    skip = analysis_of(
        (1, 1, 4, 4),
        [
            {"name": "a", "type": "ReLU"},
            {"name": "b", "type": "ReLU"},
            {"name": "c", "type": "Add", "from": ["b", "input"]},
        ],
    )
    assert memory(skip).inference_peak_bytes == 3 * 16 * 4  # the input lives until the Add


def test_fit_and_sizes():
    assert (
        parse_size("16GiB") == 16 << 30
        and parse_size("512MB") == 512 * 10**6
        and parse_size("1000") == 1000
    )
    spec = load(str(CONFIGS / "resnet18.yaml"))
    n = fit(lambda b: analyze(spec, b), 1 << 30, "float32", "momentum")
    assert n > 1
    # the batch torch's own step fits in, and one more that it does not
    fits = peak_oracle.peak(analyze(spec, n), "momentum", cuda=True)["peak_bytes"]
    more = peak_oracle.peak(analyze(spec, n + 1), "momentum", cuda=True)["peak_bytes"]
    assert fits <= 1 << 30 < more


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_saves_what_torch_saves(dtype):
    layers = [
        {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
        {"type": "BatchNorm2d"},
        {"type": "InstanceNorm2d", "affine": True},
        {"type": "GroupNorm", "num_groups": 4},
        {"type": "LayerNorm", "normalized_shape": [16, 16]},
        {"type": "MaxPool2d", "kernel_size": 2},
        {"type": "Dropout"},
        {"type": "Flatten"},
        {"type": "Linear", "out_features": 3},
    ]
    a = analysis_of((2, 3, 16, 16), layers)
    m = memory(a, dtype)
    total, per_layer = measure_saved(a, "cpu", dtype)
    assert (m.saved_activation_bytes, {k: v for k, v in m.per_layer.items() if v}) == (
        total,
        per_layer,
    )
    assert (
        m.per_layer["5"] == 2 * 8 * 16 * 16 * 2 + 2 * 8 * 8 * 8 * 8
    )  # input in half, indices int64


@pytest.mark.parametrize(
    "a_shape,b_shape",
    [
        ((1, 4, 7, 5), (1, 1, 5, 6)),
        ((2, 1, 4, 5), (3, 5, 6)),
        ((3, 1, 4, 5), (1, 2, 5, 6)),
        ((4, 5), (2, 3, 5, 6)),
        ((5,), (2, 5, 3)),
    ],
)
def test_broadcast_matmul_keeps_what_torch_keeps(a_shape, b_shape):
    layers = [
        {"name": "w", "type": "Parameter", "shape": list(b_shape)},
        {"name": "x", "type": "Mul", "from": ["input"], "value": 2.0},
        {"name": "v", "type": "Parameter", "shape": list(a_shape)},
        {"name": "xa", "type": "Add", "from": ["x", "v"]},
        {"name": "mm", "type": "MatMul", "from": ["xa", "w"]},
    ]
    agree(analysis_of(a_shape, layers))


@pytest.mark.parametrize("perm", [[0, 2, 1, 3], [0, 1, 3, 2], [0, 2, 3, 1]])
def test_attention_style_matmuls_keep_what_torch_keeps(perm):
    """q @ k.T and attn @ v on permuted views: torch keeps a copy where its reshape cannot view
    them."""
    layers = [
        {"name": "proj", "type": "Linear", "out_features": 8},
        {"name": "q", "type": "Permute", "dims": perm},
        {"name": "kt", "type": "Transpose", "from": "q", "dim0": -1, "dim1": -2},
        {"name": "attn", "type": "MatMul", "from": ["q", "kt"]},
        {"name": "soft", "type": "Softmax", "dim": -1},
        {"name": "out", "type": "MatMul", "from": ["soft", "q"]},
        {"name": "w", "type": "Parameter", "shape": [8, 3]},
        {"name": "flat", "type": "MatMul", "from": ["proj", "w"]},
        {"name": "vec", "type": "Parameter", "shape": [3]},
        {"name": "mv", "type": "MatMul", "from": ["flat", "vec"]},
    ]
    agree(analysis_of((2, 3, 5, 4), layers))


def test_a_product_of_many_broadcast_inputs_saves_what_torch_saves():
    """(x0 · x1) · x2 ...: each partial product torch keeps has the broadcast shape so far."""
    layers = [
        {"name": "fc", "type": "Linear", "in_features": 4, "out_features": 4},
        {"name": "a", "type": "Unsqueeze", "from": "fc", "dim": 0},
        {"name": "b", "type": "Unsqueeze", "from": "fc", "dim": 1},
        {"name": "m", "type": "Mul", "from": ["fc", "a", "b", "fc", "a"]},
    ]
    agree(analysis_of((3, 4), layers))
