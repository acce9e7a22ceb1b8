"""Einsum against torch.einsum itself, on equations no table lists (hypothesis): output shape and
MACs as FlopCounterMode counts them."""

import torch
from helpers import analysis_of
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode


@st.composite
def equations(draw):
    letters = "abcdef"
    sizes = {c: draw(st.integers(1, 4)) for c in letters}
    n = draw(st.integers(1, 3))
    terms = [
        draw(st.lists(st.sampled_from(letters), min_size=1, max_size=4, unique=True))
        for _ in range(n)
    ]
    used = sorted({c for t in terms for c in t})
    out = draw(st.lists(st.sampled_from(used), max_size=len(used), unique=True))
    shapes = [
        [1 if draw(st.integers(0, 5)) == 0 else sizes[c] for c in t] for t in terms
    ]  # some dims broadcast
    eq = ",".join("".join(t) for t in terms) + "->" + "".join(out)
    return eq, shapes


@settings(max_examples=150, deadline=None)
@given(equations())
def test_einsum_matches_torch(case):
    eq, shapes = case
    xs = [torch.randn(s) for s in shapes]
    try:
        with FlopCounterMode(display=False) as fc:
            y = torch.einsum(eq, *xs)
    except RuntimeError:
        return  # sizes torch refuses (a label of two sizes, neither 1): not this test's subject
    layers = [{"name": f"x{k}", "type": "Input", "shape": s} for k, s in enumerate(shapes[1:], 1)]
    layers.append(
        {"type": "Einsum", "from": ["input", *(lay["name"] for lay in layers)], "equation": eq}
    )
    a = analysis_of(tuple(shapes[0]), layers)
    assert (a.layers[-1].output_shape, a.layers[-1].macs) == (
        tuple(y.shape),
        fc.get_total_flops() // 2,
    ), eq
