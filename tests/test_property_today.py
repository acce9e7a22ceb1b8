"""Random nets of today's kinds against torch (hypothesis, derandomized): views after permutes and
transposes (torch's stride rule decides which views exist), squeezes, reductions, splits whose
outputs are named with `name:k`, products and constants. torch's own functions are the oracle."""

from helpers import assert_agrees_with_torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@st.composite
def layer(draw, i, ndim, prev_multi):
    name = f"l{i}"
    kinds = [
        "Permute",
        "Transpose",
        "View",
        "Reshape",
        "Contiguous",
        "Squeeze",
        "Unsqueeze",
        "Mean",
        "Sum",
        "Amax",
        "Split",
        "Chunk",
        "MulC",
        "AddC",
        "Div",
        "GELU",
        "Flatten",
        "MatMul",
        "ChannelShuffle",
    ]
    kind = draw(st.sampled_from(kinds))
    d = st.integers(-ndim - 1, ndim) if ndim else st.just(0)
    src = {"from": f"{prev_multi}:{draw(st.integers(0, 2))}"} if prev_multi else {}
    if kind == "Permute":
        perm = draw(st.permutations(list(range(ndim)))) if ndim else []
        return {"name": name, "type": "Permute", "dims": list(perm), **src}
    if kind == "Transpose":
        return {"name": name, "type": "Transpose", "dim0": draw(d), "dim1": draw(d), **src}
    if kind in ("View", "Reshape"):
        # a regrouping of the element count that often exists only as a copy
        shape = draw(st.lists(st.integers(1, 6), min_size=1, max_size=4))
        if draw(st.booleans()):
            shape[draw(st.integers(0, len(shape) - 1))] = -1
        return {"name": name, "type": kind, "shape": shape, **src}
    if kind == "Squeeze":
        return {
            "name": name,
            "type": "Squeeze",
            **({"dim": draw(d)} if draw(st.booleans()) else {}),
            **src,
        }
    if kind == "Unsqueeze":
        return {"name": name, "type": "Unsqueeze", "dim": draw(d), **src}
    if kind in ("Mean", "Sum", "Amax"):
        dims = draw(st.lists(d, max_size=2))
        return {"name": name, "type": kind, "dim": dims, "keepdim": draw(st.booleans()), **src}
    if kind == "Split":
        sec = draw(
            st.one_of(st.integers(1, 4), st.lists(st.integers(1, 3), min_size=1, max_size=3))
        )
        return {"name": name, "type": "Split", "split_size_or_sections": sec, "dim": draw(d), **src}
    if kind == "Chunk":
        return {
            "name": name,
            "type": "Chunk",
            "chunks": draw(st.integers(1, 3)),
            "dim": draw(d),
            **src,
        }
    if kind in ("MulC", "AddC"):
        return {
            "name": name,
            "type": kind[:3],
            "from": [src.get("from", f"l{i - 1}" if i else "input")],
            "value": 0.5,
        }
    if kind == "Div":
        return {
            "name": name,
            "type": "Div",
            "from": [src.get("from", f"l{i - 1}" if i else "input"), "input"],
        }
    if kind == "MatMul":
        other = draw(st.sampled_from(["input", f"l{i - 1}" if i else "input"]))
        return {
            "name": name,
            "type": "MatMul",
            "from": [src.get("from", f"l{i - 1}" if i else "input"), other],
        }
    if kind == "ChannelShuffle":
        return {"name": name, "type": "ChannelShuffle", "groups": draw(st.integers(1, 3)), **src}
    if kind == "Flatten":
        return {"name": name, "type": "Flatten", **src}
    return {"name": name, "type": kind, **src}


@st.composite
def nets(draw):
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    layers, multi, ndim = [], None, len(shape)
    for i in range(draw(st.integers(1, 5))):
        lay = draw(layer(i, ndim, multi))
        layers.append(lay)
        multi = lay["name"] if lay["type"] in ("Split", "Chunk") else None
    return shape, layers


@settings(
    max_examples=300, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)
@given(nets())
def test_random_nets_of_todays_kinds_agree_with_torch(net):
    assert_agrees_with_torch(*net)
