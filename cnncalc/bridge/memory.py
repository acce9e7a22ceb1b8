"""What autograd really keeps: a training-mode forward under ``saved_tensors_hooks``.

Every saved tensor is counted once per storage (views share their base's), parameters excluded,
and attributed to the layer whose call saved it first. Works on ``meta`` (nothing allocated).
"""

from __future__ import annotations

import torch

from ..model import Analysis
from .build import build

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def measure_saved(
    a: Analysis, device: str = "meta", dtype: str = "float32"
) -> tuple[int, dict[str, int]]:
    """(saved bytes, per layer) as torch sees them."""
    torch.manual_seed(0)
    model = build(a, device).to(DTYPES[dtype])
    model.train()
    params = {p.untyped_storage()._cdata for p in model.parameters()}
    seen: dict[int, int] = {}
    keep = []  # hold every saved tensor so that no storage address is reused meanwhile
    per_layer: dict[str, int] = {}
    current = ["input"]

    def pack(t):
        keep.append(t)
        st = t.untyped_storage()
        key = st._cdata
        if key not in params and key not in seen:
            seen[key] = st.nbytes()
            per_layer[current[0]] = per_layer.get(current[0], 0) + st.nbytes()
        return t

    def record(name, m, xs):
        current[0] = name
        return m(*xs)

    x = (
        torch.randn(a.input, device=device, dtype=DTYPES[dtype])
        if device == "cpu"
        else torch.empty(a.input, device=device, dtype=DTYPES[dtype])
    )
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x, record)
    return sum(seen.values()), per_layer
