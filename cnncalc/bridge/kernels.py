"""The MACs of the layers whose count depends on the kernel the CPU picks (oneDNN's LSTM, the
fused attention kernels, MultiheadAttention's fast path): FlopCounterMode / 2 of the layer run on
the CPU in the mode its spec records, whatever device a check builds the net on."""

from __future__ import annotations

import torch

from ..model import LayerResult
from .build import module_for

KINDS = {"RNN", "LSTM", "GRU", "MultiheadAttention", "ScaledDotProductAttention"}


def cpu_macs(layer: LayerResult, xs: list) -> int | None:
    """FlopCounterMode / 2 of ``layer`` on CPU tensors of its inputs' shapes, strides (a kernel
    may take only a contiguous last dim) and dtypes, in eval
    without gradients where the spec records torch's fast path, in training where it records a
    training call, else in eval with gradients (torch's regular kernels); None for other kinds."""
    from torch.utils.flop_counter import FlopCounterMode

    if layer.type not in KINDS:
        return None
    torch.manual_seed(0)
    m = module_for(layer.type, layer.kwargs)
    m.train(bool(layer.kwargs.get("training")))
    made: dict = {}  # the same tensor where the layer takes one tensor twice (self-attention)
    ins = [made.setdefault(id(x), _like(x)) for x in xs]
    grad = not layer.kwargs.get("fast_path")
    with torch.set_grad_enabled(grad), FlopCounterMode(display=False) as fc:
        m(*ins)
    return fc.get_total_flops() // 2


def _like(x):
    """A CPU tensor of random values with the shape, strides and dtype of ``x``."""
    return torch.empty_strided(tuple(x.shape), x.stride(), dtype=x.dtype).normal_()
