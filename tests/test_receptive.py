"""Receptive fields: known values, and the analytic field against torch's input-gradient support."""

from pathlib import Path

import pytest
from helpers import analysis_of, valid_analysis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_property import layer

from cnncalc.bridge.receptive import agrees, measure
from cnncalc.engine import analyze
from cnncalc.read import load

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


@pytest.mark.parametrize(
    "config,layer_name,size",
    [
        ("alexnet.yaml", "features.12", 195),
        ("vgg16.yaml", "features.30", 212),
        ("resnet50.yaml", "layer4.2.relu", 427),
        ("lenet.yaml", "5", 10),
    ],
)
def test_known_receptive_fields(config, layer_name, size):
    a = analyze(load(str(CONFIGS / config)))
    f = {x.name: x.field for x in a.layers}[layer_name]
    assert f.size == (size, size)


def test_tutorial_fields_and_json_shape():
    a = analyze(load(str(CONFIGS / "lenet.yaml")))
    fields = [(x.field.size, x.field.jump, x.field.start) if x.field else None for x in a.layers]
    assert fields[0] == ((3, 3), (1, 1), (1.0, 1.0))
    assert fields[2] == ((4, 4), (2, 2), (1.5, 1.5))
    assert fields[5] == ((10, 10), (4, 4), (4.5, 4.5))
    assert fields[6:] == [None] * 6  # Flatten and everything after it


GRAPHS = [
    (
        (1, 2, 17, 15),
        [
            {"name": "a", "type": "Conv2d", "out_channels": 3, "kernel_size": 3, "padding": 1},
            {
                "name": "b",
                "type": "Conv2d",
                "out_channels": 3,
                "kernel_size": 5,
                "padding": 2,
                "from": "input",
            },
            {"name": "c", "type": "Cat", "from": ["a", "b"]},
            {"name": "d", "type": "MaxPool2d", "kernel_size": 3, "stride": 2, "ceil_mode": True},
            {
                "name": "e",
                "type": "Conv2d",
                "out_channels": 6,
                "kernel_size": 3,
                "dilation": 2,
                "padding": "same",
            },
            {"name": "f", "type": "Add", "from": ["e", "d"]},
        ],
    ),
    (
        (2, 20),
        [
            {"type": "Conv1d", "out_channels": 2, "kernel_size": 4, "padding": "same"},
            {"type": "MaxPool1d", "kernel_size": 3, "stride": 2, "padding": 1, "dilation": 2},
            {"type": "ReflectionPad1d", "padding": [2, 1]},
            {"type": "Conv1d", "out_channels": 2, "kernel_size": 2, "stride": 3},
        ],
    ),
    (
        (1, 1, 7, 8, 9),
        [
            {"type": "Conv3d", "out_channels": 2, "kernel_size": [3, 1, 2], "stride": [1, 2, 2]},
            {"type": "BatchNorm3d"},
            {"type": "AvgPool3d", "kernel_size": 2, "padding": 1},
        ],
    ),
]


@pytest.mark.parametrize("shape,layers", GRAPHS)
def test_fields_equal_gradient_support(shape, layers):
    results = measure(analysis_of(shape, layers))
    assert results
    for name, pos, expected, measured, interior in results:
        assert agrees(expected, measured, interior), (name, pos, expected, measured)


@st.composite
def small_nets(draw):
    n = draw(st.sampled_from([1, 2, 3]))
    side = {1: 30, 2: 14, 3: 7}[n]
    shape = [
        *draw(st.sampled_from([[], [1]])),
        draw(st.integers(1, 3)),
        *(draw(st.integers(3, side)) for _ in range(n)),
    ]
    return shape, draw(st.lists(layer(n), min_size=1, max_size=4))


@settings(
    max_examples=120, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)
@given(small_nets())
def test_random_nets_fields_equal_gradient_support(net):
    a = valid_analysis(*net)
    for name, pos, expected, measured, interior in measure(a) if a else []:
        assert agrees(expected, measured, interior), (name, pos, expected, measured)
