"""Modules of the conv kinds torch.nn lacks: StdConv2d, a Conv2d whose weight is standardised per
output channel as it runs (timm's StdConv2d, and ScaledStdConv2d with ``gain``), and
FunctionalConv2d, ``F.conv2d`` of a weight another layer gives."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class StdConv2d(nn.Conv2d):
    def __init__(self, *args, eps=1e-6, gain=False, scale=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.eps, self.scale = eps, scale
        self.gain = nn.Parameter(torch.ones(self.out_channels, 1, 1, 1)) if gain else None

    def standardised(self) -> torch.Tensor:
        g = None if self.gain is None else (self.gain * self.scale).view(-1)
        w = self.weight.reshape(1, self.out_channels, -1)
        w = F.batch_norm(w, None, None, weight=g, training=True, momentum=0.0, eps=self.eps)
        return w.reshape_as(self.weight)

    def forward(self, x):
        return self._conv_forward(x, self.standardised(), self.bias)


class FunctionalConv2d(nn.Module):
    def __init__(self, stride=1, padding=0, dilation=1, groups=1):
        super().__init__()
        self.kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)

    def forward(self, x, weight, bias=None):
        return F.conv2d(x, weight, bias, **self.kw)
