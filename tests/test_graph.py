"""Graph nets: `from`, Add, Mul and Cat against torch; reference errors at the right layer."""

import pytest
from helpers import analysis_of, assert_agrees_with_torch, ours, torch_run

from cnncalc.bridge.verify import verify
from cnncalc.diagnostics import SpecError

RESIDUAL = [
    {
        "name": "stem",
        "type": "Conv2d",
        "in_channels": 3,
        "out_channels": 8,
        "kernel_size": 3,
        "padding": 1,
    },
    {
        "name": "b.conv1",
        "type": "Conv2d",
        "in_channels": 8,
        "out_channels": 8,
        "kernel_size": 3,
        "padding": 1,
        "bias": False,
    },
    {"name": "b.bn1", "type": "BatchNorm2d", "num_features": 8},
    {"name": "b.relu", "type": "ReLU"},
    {
        "name": "b.conv2",
        "type": "Conv2d",
        "in_channels": 8,
        "out_channels": 8,
        "kernel_size": 3,
        "padding": 1,
        "bias": False,
    },
    {"name": "b.add", "type": "Add", "from": ["b.conv2", "stem"]},
]
SE = [
    {"name": "conv", "type": "Conv2d", "in_channels": 3, "out_channels": 16, "kernel_size": 3},
    {"name": "se.pool", "type": "AdaptiveAvgPool2d", "output_size": 1},
    {"name": "se.fc1", "type": "Conv2d", "in_channels": 16, "out_channels": 4, "kernel_size": 1},
    {"name": "se.relu", "type": "ReLU"},
    {"name": "se.fc2", "type": "Conv2d", "in_channels": 4, "out_channels": 16, "kernel_size": 1},
    {"name": "se.gate", "type": "Sigmoid"},
    {"name": "se.mul", "type": "Mul", "from": ["conv", "se.gate"]},
]
INCEPTION = [
    {
        "name": "b1",
        "type": "Conv2d",
        "in_channels": 3,
        "out_channels": 4,
        "kernel_size": 1,
        "from": "input",
    },
    {
        "name": "b2",
        "type": "Conv2d",
        "in_channels": 3,
        "out_channels": 6,
        "kernel_size": 3,
        "padding": 1,
        "from": "input",
    },
    {
        "name": "b3",
        "type": "MaxPool2d",
        "kernel_size": 3,
        "stride": 1,
        "padding": 1,
        "from": "input",
    },
    {"name": "cat", "type": "Cat", "from": ["b1", "b2", "b3", "input"]},
    {"name": "cat2", "type": "Cat", "dim": -1, "from": ["cat", "cat"]},
]
UNET = [
    {
        "name": "enc",
        "type": "Conv2d",
        "in_channels": 1,
        "out_channels": 4,
        "kernel_size": 3,
        "padding": 1,
    },
    {"name": "down", "type": "MaxPool2d", "kernel_size": 2},
    {
        "name": "mid",
        "type": "Conv2d",
        "in_channels": 4,
        "out_channels": 8,
        "kernel_size": 3,
        "padding": 1,
    },
    {
        "name": "up",
        "type": "ConvTranspose2d",
        "in_channels": 8,
        "out_channels": 4,
        "kernel_size": 2,
        "stride": 2,
    },
    {"name": "skip", "type": "Cat", "from": ["up", "enc"]},
    {"name": "dec", "type": "Conv2d", "in_channels": 8, "out_channels": 2, "kernel_size": 1},
]
BROADCAST = [
    {"name": "a", "type": "Flatten", "start_dim": 2},
    {"name": "b", "type": "AdaptiveAvgPool1d", "output_size": 1},
    {"name": "sum", "type": "Add", "from": ["a", "b", "input"]},
]

CASES = [
    ((2, 3, 9, 11), RESIDUAL),
    ((1, 3, 12, 10), SE),
    ((3, 12, 10), SE[:1] + [{**SE[1]}, *SE[2:]]),  # unbatched
    ((2, 3, 7, 9), INCEPTION),
    ((1, 1, 16, 12), UNET),
    ((1, 1, 15, 12), UNET),  # odd size: the skip does not fit
    (
        (1, 3, 5),
        [
            {"name": "x", "type": "Flatten", "start_dim": 1},
            {"name": "y", "type": "Add", "from": ["x", "input"]},
        ],
    ),
    (
        (2, 3, 4),
        [
            {"name": "a", "type": "Unflatten", "dim": 2, "unflattened_size": [4, 1]},
            {"name": "s", "type": "Mul", "from": ["a", "input"]},
        ],
    ),
    (
        (2, 3, 4),
        [
            {"name": "a", "type": "ReLU"},
            {"name": "s", "type": "Cat", "dim": 3, "from": ["a", "input"]},
        ],
    ),
    (
        (2, 3, 4, 1),
        BROADCAST[:1]
        + [
            {"name": "b", "type": "Identity", "from": "input"},
            {"name": "sum", "type": "Add", "from": ["a", "b"]},
        ],
    ),
]


@pytest.mark.parametrize("shape,layers", CASES)
def test_graph_matches_torch(shape, layers):
    facts, failed_at = torch_run(shape, layers)
    if failed_at is None:
        a = analysis_of(shape, layers)
        assert ours(a) == facts
        report = verify(a, device="cpu")
        assert report.ok, report.problems
    else:
        with pytest.raises(SpecError) as e:
            analysis_of(shape, layers)
        assert e.value.layer == layers[failed_at]["name"]


@pytest.mark.parametrize(
    "layers,message",
    [
        (
            [{"name": "a", "type": "ReLU", "from": "nope"}],
            "from names 'nope', but no layer has that name",
        ),
        (
            [{"name": "a", "type": "ReLU", "from": "b"}, {"name": "b", "type": "ReLU"}],
            "from names 'b', but it is defined below this layer",
        ),
        ([{"name": "a", "type": "ReLU", "from": "a"}], "from names 'a', but it is this layer"),
        ([{"name": "a", "type": "Add", "from": ["input"]}], "takes two or more inputs"),
        ([{"name": "a", "type": "Add"}], "takes two or more inputs"),
        (
            [{"name": "a", "type": "ReLU", "from": ["input", "input"]}],
            "takes one input, but from lists 2",
        ),
        (
            [
                {"name": "a", "type": "MaxPool2d", "kernel_size": 2},
                {"name": "b", "type": "Add", "from": ["a", "input"]},
            ],
            "cannot broadcast 'a' [1, 2, 4, 4] with 'input' [1, 2, 8, 8]: dim -2 is 4 against 8",
        ),
        (
            [
                {"name": "a", "type": "MaxPool2d", "kernel_size": 2},
                {"name": "b", "type": "Cat", "from": ["a", "input"]},
            ],
            "cannot concatenate 'a' [1, 2, 4, 4] with 'input' [1, 2, 8, 8] along dim 1",
        ),
        ([{"name": "input", "type": "ReLU"}], "the name 'input' is reserved"),
        (
            [{"name": "a", "type": "ReLU"}, {"name": "a", "type": "ReLU"}],
            "the name is already used by the layer at line",
        ),
    ],
)
def test_reference_and_merge_errors(layers, message):
    with pytest.raises(SpecError) as e:
        analysis_of((1, 2, 8, 8), layers)
    assert message in e.value.message


def test_dotted_names_give_nested_parameter_names():
    a = analysis_of((1, 3, 9, 11), RESIDUAL)
    assert [t.name for t in a.tensors][2:6] == [
        "b.conv1.weight",
        "b.bn1.weight",
        "b.bn1.bias",
        "b.conv2.weight",
    ]
    assert [t.name for t in a.buffers] == [
        "b.bn1.running_mean",
        "b.bn1.running_var",
        "b.bn1.num_batches_tracked",
    ]


# ---- random graphs: layers take from any layer above; merges of two or three of them -----------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_property import layer  # noqa: E402


@st.composite
def graphs(draw):
    n = 2
    shape = [
        draw(st.sampled_from([1, 2])),
        draw(st.integers(1, 4)),
        draw(st.integers(2, 10)),
        draw(st.integers(2, 10)),
    ]
    layers = []
    for i in range(draw(st.integers(2, 7))):
        names = ["input"] + [f"l{j}" for j in range(i)]
        if i and draw(st.integers(0, 2)) == 0:
            merge = draw(st.sampled_from(["Add", "Mul", "Cat"]))
            srcs = draw(st.lists(st.sampled_from(names), min_size=2, max_size=3))
            item = {"name": f"l{i}", "type": merge, "from": srcs}
            if merge == "Cat":
                item["dim"] = draw(st.sampled_from([1, -1, -3]))
        else:
            item = {"name": f"l{i}", **draw(layer(n))}
            if draw(st.booleans()):
                item["from"] = draw(st.sampled_from(names))
        layers.append(item)
    return shape, layers


@settings(
    max_examples=250, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)
@given(graphs())
def test_random_graphs_agree_with_torch(net):
    assert_agrees_with_torch(*net)
