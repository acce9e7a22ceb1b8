"""Spec -> nn.Module whose ``named_parameters()`` are the spec's tensor names."""

from __future__ import annotations

from torch import nn

from ..engine import Analysis
from ..layers import REGISTRY


def module_for(type_: str, kwargs: dict) -> nn.Module:
    """The torch module of one layer, from its resolved constructor arguments."""
    return REGISTRY[type_].module(dict(kwargs))


def attach(root: nn.Module, name: str, module: nn.Module) -> None:
    """Register ``module`` at a dotted path, creating plain containers on the way (``layer1.0.conv1``)."""
    *parents, last = name.split(".")
    node = root
    for part in parents:
        child = node._modules.get(part)
        if child is None:
            child = nn.Module()
            node.add_module(part, child)
        node = child
    old = node._modules.get(last)
    if old is not None and type(old) is nn.Module:  # a container made earlier for deeper names
        for k, v in old._modules.items():
            module.add_module(k, v)
    node.add_module(last, module)


class SpecNet(nn.Module):
    """The spec as a module: layers registered at their dotted names, a forward that follows ``from``."""

    def __init__(self, analysis: Analysis):
        super().__init__()
        steps = []
        for layer in analysis.layers:
            m = module_for(layer.type, layer.kwargs)
            attach(self, layer.name, m)
            steps.append((layer.name, m, layer.inputs))
        self._steps = steps  # a plain list: registration happened in attach

    def forward(self, x, record=None):
        """Run the net; ``record(name, module, inputs)`` may wrap each layer call (returns its output)."""
        outs = {"input": x}
        for name, m, inputs in self._steps:
            xs = [outs[i] for i in inputs]
            outs[name] = record(name, m, xs) if record else m(*xs)
        return outs[self._steps[-1][0]]


def build(analysis: Analysis, device: str = "cpu") -> SpecNet:
    import torch

    with torch.device(device):
        return SpecNet(analysis)
