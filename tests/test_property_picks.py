"""TopK, Gather and GridSample on random shapes and arguments against torch itself (hypothesis,
derandomized): the shapes where torch runs them, an error at the same layer where torch refuses."""

from helpers import assert_agrees_with_torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(
    max_examples=200, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)


@st.composite
def topk(draw):
    shape = draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    n = len(shape)
    layer = {
        "name": "t",
        "type": "TopK",
        "k": draw(st.integers(1, 6)),
        "dim": draw(st.integers(-n - 1, n)),
        "largest": draw(st.booleans()),
        "sorted": draw(st.booleans()),
        "at_most": draw(st.booleans()),
    }
    return shape, [layer, {"type": "Identity", "from": f"t:{draw(st.integers(0, 1))}"}]


@st.composite
def gather(draw):
    shape = draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    n = len(shape)
    index = [draw(st.integers(1, 6)) for _ in range(n + draw(st.sampled_from([0, 0, 0, 1, -1])))]
    return shape, [
        {"name": "i", "type": "Constant", "shape": index or [1], "dtype": "int64"},
        {"type": "Gather", "from": ["input", "i"], "dim": draw(st.integers(-n - 1, n))},
    ]


@st.composite
def grid_sample(draw):
    spatial = draw(st.sampled_from([2, 2, 3]))
    x = [draw(st.integers(1, 3)), draw(st.integers(1, 3))] + [
        draw(st.integers(1, 5)) for _ in range(spatial)
    ]
    grid = [x[0] if draw(st.integers(0, 4)) else x[0] + 1]
    grid += [draw(st.integers(1, 4)) for _ in range(spatial)]
    grid.append(spatial if draw(st.integers(0, 4)) else spatial + 1)
    mode = draw(st.sampled_from(["bilinear", "nearest", "bicubic"]))
    return x, [
        {"name": "g", "type": "Input", "shape": grid},
        {
            "type": "GridSample",
            "from": ["input", "g"],
            "mode": mode,
            "padding_mode": draw(st.sampled_from(["zeros", "border", "reflection"])),
            "align_corners": draw(st.booleans()),
        },
    ]


@SETTINGS
@given(topk())
def test_topk_agrees_with_torch(case):
    assert_agrees_with_torch(*case)


@SETTINGS
@given(gather())
def test_gather_agrees_with_torch(case):
    assert_agrees_with_torch(*case)


@SETTINGS
@given(grid_sample())
def test_grid_sample_agrees_with_torch(case):
    assert_agrees_with_torch(*case)
