"""Spec -> nn.Module whose ``named_parameters()`` are the spec's tensor names."""

from __future__ import annotations

from torch import nn

from ..layers import REGISTRY
from ..model import Analysis


def module_for(type_: str, kwargs: dict) -> nn.Module:
    """The torch module of one layer, from its resolved constructor arguments: the class its kind
    declares, ``torch.nn``'s or one of ``modules``."""
    from . import modules

    name, args = REGISTRY[type_].module(dict(kwargs))
    return (getattr(nn, name, None) or getattr(modules, name))(**args)


def attach(root: nn.Module, name: str, module: nn.Module) -> None:
    """Register ``module`` at a dotted path, creating plain containers on the way
    (``layer1.0.conv1``)."""
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
    """The spec as a module: layers registered at their dotted names, a forward that follows
    ``from``."""

    def __init__(self, analysis: Analysis):
        super().__init__()
        steps, made = [], {}
        for layer in analysis.layers:
            if layer.shares is not None:  # the module of another layer, called again
                steps.append((layer.name, made[layer.shares], layer.inputs))
                continue
            m = made[layer.name] = module_for(layer.type, layer.kwargs)
            if isinstance(m, nn.Module):
                attach(self, layer.name, m)
                for attr in layer.pruned:  # weight_orig and weight_mask, as prune holds them
                    from torch.nn.utils import prune

                    prune.identity(m, attr)
                for attr in layer.frozen:
                    getattr(m, attr).requires_grad_(False)
                for attr, name in layer.tied.items():  # the tensor of a layer above, itself
                    setattr(m, attr, self.get_parameter(name))
                if not layer.trainable:
                    m.requires_grad_(False)
            else:  # a parameter owned by the module above it in the dotted path
                *parents, last = layer.name.split(".")
                owner = self
                for part in parents:
                    if part not in owner._modules:
                        owner.add_module(part, nn.Module())
                    owner = owner._modules[part]
                m.register(owner, last)
                if layer.params:  # a parameter (a buffer trains nothing)
                    getattr(owner, last).requires_grad_(layer.trainable)
            steps.append((layer.name, m, layer.inputs))
        outputs = [name for name, _ in analysis.outputs] or [analysis.layers[-1].name]
        # each tensor is dropped after the last layer that reads it, as a module's locals are:
        # the forward holds what a plain torch forward holds, no more
        last = {}
        for i, (name, _, inputs) in enumerate(steps):
            for k in inputs:
                last[k] = i
            last.setdefault(name, i)
        for i, layer in enumerate(analysis.layers):
            for k in range(len(layer.output_shapes or ())):
                last.setdefault(f"{layer.name}:{k}", i)
        for o in outputs:
            last[o] = len(steps)
        drops: list[list[str]] = [[] for _ in steps]
        for k, i in last.items():
            if i < len(steps):
                drops[i].append(k)
        self._steps = [(*step, drops[i]) for i, step in enumerate(steps)]  # registration is done
        self._outputs = outputs

    def forward(self, x, record=None):
        """Run the net; ``record(name, module, inputs)`` may wrap each layer call (returns its
        output). Several outputs come back as a tuple; a further input (``Input``) is made as
        its layer says, on the device the net was built on."""
        outs = {"input": x}
        for name, m, inputs, drop in self._steps:
            y = (
                record(name, m, [outs[i] for i in inputs])
                if record
                else m(*[outs[i] for i in inputs])
            )
            outs[name] = y
            if isinstance(y, tuple):
                outs.update((f"{name}:{k}", t) for k, t in enumerate(y))
            del y
            for k in drop:
                outs.pop(k, None)
        res = [outs[o] for o in self._outputs]
        return res[0] if len(res) == 1 else tuple(res)


def build(analysis: Analysis, device: str = "cpu") -> SpecNet:
    import torch

    with torch.device(device):
        return SpecNet(analysis)
