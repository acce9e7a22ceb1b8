"""Modules of the product kinds built by name: Einsum and ScaledDotProductAttention (with the
kernel a spec names: torch's CPU flash kernel, which FlopCounterMode counts nothing in, or the
math one, whose two products it counts)."""

from __future__ import annotations

import contextlib

import torch
from torch import nn


class ScaledDotProduct(nn.Module):
    def __init__(self, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False, kernel=None):
        super().__init__()
        self.kw = dict(dropout_p=dropout_p, is_causal=is_causal, scale=scale, enable_gqa=enable_gqa)
        self.kernel = kernel

    def forward(self, q, k, v, mask=None):
        from torch.nn.attention import SDPBackend, sdpa_kernel

        picked = {"math": SDPBackend.MATH, "flash": SDPBackend.FLASH_ATTENTION}.get(self.kernel)
        with sdpa_kernel([picked]) if picked is not None else contextlib.nullcontext():
            return torch.nn.functional.scaled_dot_product_attention(q, k, v, mask, **self.kw)


class Einsum(nn.Module):
    def __init__(self, equation):
        super().__init__()
        self.equation = equation

    def forward(self, *xs):
        return torch.einsum(self.equation, *xs)
