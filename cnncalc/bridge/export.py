"""Spec -> readable PyTorch source: an nn.Module class with modules in ``__init__`` and a plain
``forward``; its ``named_parameters()`` are the spec's tensor names. Generates text only: torch
is not imported here."""

from __future__ import annotations

import keyword
import re

from ..engine import Analysis, LayerResult
from ..layers import REGISTRY, REQUIRED

RESERVED = {
    "forward",
    "training",
    "eval",
    "train",
    "to",
    "cuda",
    "cpu",
    "type",
    "float",
    "double",
    "half",
    "apply",
    "children",
    "modules",
    "parameters",
    "buffers",
    "state_dict",
    "zero_grad",
    "register_buffer",
    "add_module",
}


MODULE_DICT_METHODS = {"clear", "items", "keys", "pop", "update", "values"}


class ExportError(Exception):
    pass


SHAPE_ARGS = {"normalized_shape", "unflattened_size"}  # tuples that are shapes: (5, 5) is not 5


def _value(v, shape: bool = False) -> str:
    if isinstance(v, tuple):
        if (
            not shape
            and len(set(v)) == 1
            and all(isinstance(x, int) and not isinstance(x, bool) for x in v)
        ):
            return repr(v[0])
        return "(" + ", ".join(_value(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


# layers written as expressions in ``forward`` (torch.nn has no module for them)
EXPRESSIONS = {
    "Add", "Sub", "Mul", "Div", "Cat", "Stack", "MatMul", "Split", "Chunk", "Unbind", "View", "Reshape", "ViewAs", "ReshapeAs", "Contiguous", "Permute",
    "Transpose", "Squeeze", "Unsqueeze", "Expand", "Slice", "Select", "Mean", "Sum", "Amax", "Norm", "Parameter",
}  # fmt: skip
_OPS = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "/"}

# written into exported files, which import nothing but torch (bridge/modules.py holds the same module for verify)
STOCHASTIC_DEPTH = '''

class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth: the identity in eval; in training each sample (row) or the batch survives with 1 - p."""

    def __init__(self, p, mode):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(1.0 - self.p)
        return x * (noise / (1.0 - self.p) if self.p < 1.0 else noise)'''


def expression(layer: LayerResult, args: list[str], attr: str) -> str:
    """The ``forward`` expression of a layer written inline."""
    a, t = layer.kwargs, layer.type
    x = args[0] if args else ""
    if t in _OPS:
        terms = list(args) + ([repr(a["value"])] if a.get("value") is not None else [])
        return f" {_OPS[t]} ".join(terms)
    if t in ("Cat", "Stack"):
        return f"torch.{t.lower()}([{', '.join(args)}], dim={a['dim']})"
    if t == "MatMul":
        return f"{args[0]} @ {args[1]}"
    if t == "Split":
        sec = a["split_size_or_sections"]
        return f"torch.split({x}, {sec if isinstance(sec, int) else list(sec)}, dim={a['dim']})"
    if t == "Unbind":
        return f"torch.unbind({x}, dim={a['dim']})"
    if t == "Chunk":
        return f"torch.chunk({x}, {a['chunks']}, dim={a['dim']})"
    if t in ("View", "Reshape", "Expand"):
        return f"{x}.{t.lower()}({', '.join(map(str, a['shape']))})"
    if t in ("ViewAs", "ReshapeAs"):
        return f"{x}.{t[:-2].lower()}_as({args[1]})"
    if t == "Contiguous":
        return f"{x}.contiguous()"
    if t == "Permute":
        return f"{x}.permute({', '.join(map(str, a['dims']))})"
    if t == "Transpose":
        return f"{x}.transpose({a['dim0']}, {a['dim1']})"
    if t == "Squeeze":
        return f"{x}.squeeze()" if a["dim"] is None else f"{x}.squeeze({tuple(a['dim'])})"
    if t == "Unsqueeze":
        return f"{x}.unsqueeze({a['dim']})"
    if t == "Slice":
        d = a["dim"] % len(layer.input_shapes[0])
        part = ":".join("" if v is None else str(v) for v in (a["start"], a["end"])) + (
            "" if a["step"] == 1 else f":{a['step']}"
        )
        return f"{x}[{', '.join([':'] * d + [part])}]"
    if t == "Select":
        return f"{x}.select({a['dim']}, {a['index']})"
    if t in ("Mean", "Sum", "Amax", "Norm"):
        ndim = len(layer.input_shapes[0])
        dims = tuple(range(ndim)) if not a["dim"] else tuple(a["dim"])
        if t == "Norm":
            return f"torch.norm({x}, p={a['p']}, dim={dims}, keepdim={a['keepdim']})"
        return f"{x}.{t.lower()}(dim={dims}, keepdim={a['keepdim']})"
    if t == "Parameter":
        return attr
    raise ExportError(f"layer '{layer.name}' ({t}) has no expression")


def module_source(layer: LayerResult) -> str:
    """``nn.Conv2d(1, 6, kernel_size=3)``: required arguments first, then those that differ from torch's defaults."""
    kind = REGISTRY[layer.type]
    if layer.type in EXPRESSIONS:
        raise ExportError("graph layers are expressions, not modules")
    if layer.type == "StochasticDepth":
        return f"StochasticDepth(p={layer.kwargs['p']!r}, mode={layer.kwargs['mode']!r})"
    parts = []
    for key, (reader, default) in kind.args.items():
        v = layer.kwargs.get(key)
        norm = None if default is None or default is REQUIRED else reader(default, key)
        if default is REQUIRED or key in kind.size_keys or v != norm:
            parts.append(f"{key}={_value(v, key in SHAPE_ARGS)}")
    return f"nn.{layer.type}({', '.join(parts)})"


def _ident(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name) and name not in RESERVED


def export(a: Analysis, class_name: str = "Net", spec=None) -> str:
    """Python source of an nn.Module equivalent to the analysed spec; with ``spec`` given and
    blocks in it, one class per block where they can be expressed that way."""
    if not class_name.isidentifier() or keyword.iskeyword(class_name):
        raise ExportError(f"--class-name must be a Python identifier, found {class_name!r}")
    if spec is not None and spec.blocks:
        from ..engine import _spatial_dims
        from .export_blocks import Unsupported, export_with_blocks

        n = _spatial_dims(spec)
        channel_dim = 1 if len(a.input) == n + 2 else 0
        try:
            return export_with_blocks(spec, a, class_name, module_source, channel_dim)
        except Unsupported:
            pass  # the flat export below expresses everything
    for layer in a.layers:
        if layer.type == "Parameter" and "." in layer.name:
            raise ExportError(
                f"layer '{layer.name}' (Parameter): export writes parameters on the top-level module only; "
                "a dotted parameter name needs the module that owns it"
            )
    modules = [layer for layer in a.layers if layer.type not in EXPRESSIONS]
    names = {layer.name for layer in modules}
    for name in names:
        for i in range(1, name.count(".") + 1):
            if name.rsplit(".", i)[0] in names:
                raise ExportError(
                    f"layer '{name}' nests inside layer '{name.rsplit('.', i)[0]}'; export needs containers without parameters"
                )
    # parameter-free layers whose names cannot be attributes get readable ones (no tensor names change)
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
                f"layer '{layer.name}': nn.ModuleDict cannot hold a key named like its methods ({', '.join(sorted(MODULE_DICT_METHODS))})"
            )
        node = tree
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = layer

    init = []
    params = [layer for layer in a.layers if layer.type == "Parameter"]
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

    init += freeze_lines(a)

    # variable names: "x" for a value used only by the next layer, a name of its own otherwise
    from ..engine import base

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
            expr = expression(layer, args, f"self.{layer.name}")
        else:
            expr = f"{access(layer.name)}({', '.join(args)})"
        body.append(f"        {var[layer.name]} = {expr}")
    if len(a.outputs) > 1 or (a.outputs and a.outputs[0][0] != a.layers[-1].name):
        body.append(f"        return {', '.join(read(n) for n, _ in a.outputs)}")
    else:
        body.append(f"        return {var[a.layers[-1].name]}")
    text = "\n".join(body + init)
    uses_torch = "torch." in text
    head = (
        ["import torch", "from torch import nn"]
        if uses_torch or any(x.type == "StochasticDepth" for x in a.layers)
        else ["from torch import nn"]
    )
    if any(x.type == "StochasticDepth" for x in a.layers):
        head.append(STOCHASTIC_DEPTH.rstrip())
    doc = f'    """{a.name or "The spec"}: input {list(a.input)} -> output {list(a.output)}, {a.total_params:,} parameters."""'
    return "\n".join([*head, "", "", net_class(class_name, doc, init, body)])


def freeze_lines(a: Analysis) -> list[str]:
    """``trainable: false``: those parameters of the built module get no gradient (named as the analysis names them)."""
    frozen = [
        t.name
        for layer in a.layers
        if not layer.trainable and layer.type != "Parameter"
        for t in layer.params
    ]
    if not frozen:
        return []
    return [
        f"        for name in {frozen!r}:  # trainable: false",
        "            self.get_parameter(name).requires_grad_(False)",
    ]


def net_class(class_name: str, doc: str, init: list[str], body: list[str]) -> str:
    """The top-level nn.Module class from its ``__init__`` and ``forward`` lines."""
    lines = [
        f"class {class_name}(nn.Module):",
        doc,
        "",
        "    def __init__(self):",
        "        super().__init__()",
        *init,
    ]
    return "\n".join([*lines, "", "    def forward(self, x):", *body, ""])


def _tree_source(node, depth: int) -> str:
    if isinstance(node, LayerResult):
        return module_source(node)
    pad = "    " * (depth + 1)
    items = [f"{pad}{k!r}: {_tree_source(v, depth + 1)}," for k, v in node.items()]
    return "nn.ModuleDict({\n" + "\n".join(items) + "\n" + "    " * depth + "})"
