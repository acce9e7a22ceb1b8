"""Spec -> readable PyTorch source: an nn.Module class with modules in ``__init__`` and a plain
``forward``; its ``named_parameters()`` are the spec's tensor names. Generates text only: torch
is not imported here."""

from __future__ import annotations

import keyword
import re

from ...model import Analysis

__all__ = ["ExportError", "export"]

from .source import (
    EXPRESSIONS,
    GROUP_NORM_NO_BIAS,
    INTERPOLATE,
    MODULE_DICT_METHODS,
    STATES,
    STD_CONV,
    STOCHASTIC_DEPTH,
    ExportError,
    _ident,
    _tree_source,
    call,
    expression,
    freeze_lines,
    module_source,
    net_class,
)


def export(a: Analysis, class_name: str = "Net", spec=None) -> str:
    """Python source of an nn.Module equivalent to the analysed spec; with ``spec`` given and
    blocks in it, one class per block where they can be expressed that way."""
    if not class_name.isidentifier() or keyword.iskeyword(class_name):
        raise ExportError(f"--class-name must be a Python identifier, found {class_name!r}")
    if spec is not None and spec.blocks:
        from ...engine import _spatial_dims
        from .block_class import Unsupported
        from .blocks import export_with_blocks

        n = _spatial_dims(spec)
        channel_dim = 1 if len(a.input) == n + 2 else 0
        try:
            return export_with_blocks(spec, a, class_name, module_source, channel_dim)
        except Unsupported:
            pass  # the flat export below expresses everything
    for layer in a.layers:
        if layer.type in ("Parameter", "Buffer") and "." in layer.name:
            raise ExportError(
                f"layer '{layer.name}' ({layer.type}): export writes parameters and buffers on "
                "the top-level module only; a dotted name needs the module that owns it"
            )
    modules = [layer for layer in a.layers if layer.type not in EXPRESSIONS and not layer.shares]
    inputs = {}  # an Input layer -> the forward's argument that takes it
    for layer in a.layers:
        if layer.type == "Input":
            arg = re.sub(r"\W", "_", layer.name)
            if not _ident(arg) or arg in ("x", "self") or arg in inputs.values():
                raise ExportError(
                    f"layer '{layer.name}' (Input): its name makes no argument of forward"
                )
            inputs[layer.name] = arg
    names = {layer.name for layer in modules}
    for name in names:
        for i in range(1, name.count(".") + 1):
            if name.rsplit(".", i)[0] in names:
                raise ExportError(
                    f"layer '{name}' nests inside layer '{name.rsplit('.', i)[0]}'; export "
                    "needs containers without parameters"
                )
    # parameter-free layers whose names cannot be attributes get readable ones (no tensor names
    # change)
    taken = {name.split(".")[0] for name in names}
    rename = {}
    for layer in modules:
        if (
            "." not in layer.name
            and not _ident(layer.name)
            and not layer.params
            and not layer.buffers
        ):
            base = re.sub(r"\W", "_", layer.type.lower())
            new = f"{base}{layer.name}" if _ident(f"{base}{layer.name}") else base
            k = 1
            while new in taken:
                new, k = f"{base}_{k}", k + 1
            taken.add(new)
            rename[layer.name] = new
    tree: dict = {}
    for layer in modules:
        parts = rename.get(layer.name, layer.name).split(".")
        if any(p in MODULE_DICT_METHODS for p in parts[1:]):
            raise ExportError(
                f"layer '{layer.name}': nn.ModuleDict cannot hold a key named like its "
                f"methods ({', '.join(sorted(MODULE_DICT_METHODS))})"
            )
        node = tree
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = layer

    init = []
    params = [layer for layer in a.layers if layer.type == "Parameter"]
    for layer in [x for x in a.layers if x.type == "Buffer"]:
        if not _ident(layer.name):
            raise ExportError(f"layer '{layer.name}' (Buffer): its name is not a Python identifier")
        zeros = f"torch.zeros({tuple(layer.output_shape)}, dtype=torch.{layer.kwargs['dtype']})"
        init.append(f"        self.register_buffer({layer.name!r}, {zeros})")
    for layer in params:
        if not _ident(layer.name):
            raise ExportError(
                f"layer '{layer.name}' (Parameter): its name is not a Python identifier"
            )
        init.append(
            f"        self.{layer.name} = nn.Parameter(torch.zeros({tuple(layer.output_shape)}))"
        )
        if not layer.trainable:
            init.append(f"        self.{layer.name}.requires_grad_(False)")
    for key, node in tree.items():
        value = _tree_source(node, 2)
        init.append(
            f"        self.{key} = {value}"
            if _ident(key)
            else f"        self.add_module({key!r}, {value})"
        )

    def access(name: str) -> str:
        first, *rest = rename.get(name, name).split(".")
        head = f"self.{first}" if _ident(first) else f"getattr(self, {first!r})"
        return head + "".join(f"[{p!r}]" for p in rest)

    for layer in modules:
        for attr, name in layer.tied.items():  # the tensor of a layer above, itself
            init.append(f"        {access(layer.name)}.{attr} = self.get_parameter({name!r})")
        for attr in layer.pruned:  # held as weight_orig and the buffer weight_mask
            init.append(f"        prune.identity({access(layer.name)}, {attr!r})")
    init += freeze_lines(a)

    # variable names: "x" for a value used only by the next layer, a name of its own otherwise
    from ...engine import base

    uses: dict[str, list[int]] = {}
    for i, layer in enumerate(a.layers):
        for s in layer.inputs:
            uses.setdefault(base(s), []).append(i)
    for n, _ in a.outputs:  # a returned tensor keeps its own variable to the end
        uses.setdefault(base(n), []).append(len(a.layers) + 1)
    var = {}
    taken_vars = {"x"}
    for i, name in enumerate(["input"] + [layer.name for layer in a.layers]):
        used = uses.get(name, [])
        if used == [i] or not used:  # read only by the next layer (layer i is the one after)
            var[name] = "x"
        else:
            v = "x_" + re.sub(r"\W", "_", name)
            while v in taken_vars:
                v += "_"
            taken_vars.add(v)
            var[name] = v
    body = []
    if var["input"] != "x":
        body.append(f"        {var['input']} = x")

    def read(ref: str) -> str:
        b = base(ref)
        return var[b] if b == ref else f"{var[b]}[{ref.rsplit(':', 1)[1]}]"

    for layer in a.layers:
        args = [read(s) for s in layer.inputs]
        if layer.type in EXPRESSIONS:
            attr = inputs.get(layer.name, f"self.{layer.name}")
            expr = expression(layer, args, attr)
            for attr_ in ("device", "size(0)"):  # of the forward's own argument, x
                expr = expr.replace(f"x_input.{attr_}", f"x.{attr_}")
        else:
            expr = call(layer, access(layer.shares or layer.name), args)
        body.append(f"        {var[layer.name]} = {expr}")
    if len(a.outputs) > 1 or (a.outputs and a.outputs[0][0] != a.layers[-1].name):
        body.append(f"        return {', '.join(read(n) for n, _ in a.outputs)}")
    else:
        body.append(f"        return {var[a.layers[-1].name]}")
    text = "\n".join(body + init)
    uses_torch = "torch." in text
    head = (
        ["import torch", "from torch import nn"]
        if uses_torch or any(x.type in ("StochasticDepth", "StdConv2d") for x in a.layers)
        else ["from torch import nn"]
    )
    if any(x.pruned for x in a.layers):
        head.append("from torch.nn.utils import prune")
    if any(x.type == "StochasticDepth" for x in a.layers):
        head.append(STOCHASTIC_DEPTH.rstrip())
    if any(x.type == "StdConv2d" for x in a.layers):
        head.append(STD_CONV.rstrip())
    if any(x.kwargs.get("antialias") for x in a.layers):
        head.append(INTERPOLATE.rstrip())
    if any(x.type == "GroupNorm" and not x.kwargs["bias"] for x in a.layers):
        head.append(GROUP_NORM_NO_BIAS.rstrip())
    if any(x.type in ("RNN", "LSTM", "GRU") for x in a.layers):
        head.append(STATES.rstrip())
    doc = (
        f'    """{a.name or "The spec"}: input {list(a.input)} -> output {list(a.output)}, '
        f'{a.total_params:,} parameters."""'
    )
    cls = net_class(class_name, doc, init, body, list(inputs.values()))
    return "\n".join([*head, "", "", cls])
