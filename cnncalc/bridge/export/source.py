"""The source of one layer (a module constructor, or an expression for a functional layer) and of
the class around them; shared by the flat export and the export with block classes."""

from __future__ import annotations

import keyword

from ...layers import REGISTRY, REQUIRED
from ...model import Analysis, LayerResult

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
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Cat",
    "Stack",
    "MatMul",
    "Split",
    "Chunk",
    "Unbind",
    "View",
    "Reshape",
    "ViewAs",
    "ReshapeAs",
    "UpsampleAs",
    "Contiguous",
    "Permute",
    "Transpose",
    "Squeeze",
    "Unsqueeze",
    "Expand",
    "Slice",
    "Select",
    "Mean",
    "Sum",
    "Amax",
    "Norm",
    "Parameter",
    "Buffer",
    "Index",
    "Input",
    "Constant",
    "Einsum",
    "ScaledDotProductAttention",
    "Pointwise",
    "TopK",
    "Gather",
    "GridSample",
    "Roll",
    "FunctionalConv2d",
    "TensorUnfold",
    "Maximum",
    "Minimum",
}
_OPS = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "/"}

# written into exported files, which import nothing but torch (bridge/modules.py holds the same
# module for verify)
STOCHASTIC_DEPTH = '''

class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth: the identity in eval; in training each sample (row) or
    the batch survives with 1 - p."""

    def __init__(self, p, mode):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(1.0 - self.p)
        return x * (noise / (1.0 - self.p) if self.p < 1.0 else noise)'''


# written into exported files that hold an antialiased Upsample (bridge/picks.py holds the same)
INTERPOLATE = '''

class Interpolate(nn.Module):
    """F.interpolate with antialias (nn.Upsample has no such argument)."""

    def __init__(self, **kw):
        super().__init__()
        self.kw = kw

    def forward(self, x):
        return nn.functional.interpolate(x, antialias=True, **self.kw)'''

# written into exported files that hold a StdConv2d (bridge/std_conv.py holds the same module)
STD_CONV = '''

class StdConv2d(nn.Conv2d):
    """A Conv2d whose weight is standardised per output channel as it runs (times gain * scale
    where it has a gain)."""

    def __init__(self, *args, eps=1e-6, gain=False, scale=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.eps, self.scale = eps, scale
        self.gain = nn.Parameter(torch.ones(self.out_channels, 1, 1, 1)) if gain else None

    def forward(self, x):
        g = None if self.gain is None else (self.gain * self.scale).view(-1)
        w = self.weight.reshape(1, self.out_channels, -1)
        w = nn.functional.batch_norm(w, None, None, g, training=True, momentum=0.0, eps=self.eps)
        return self._conv_forward(x, w.reshape_as(self.weight), self.bias)'''


# written into exported files holding a GroupNorm without a bias (bridge/modules.py holds the same)
GROUP_NORM_NO_BIAS = '''

class GroupNormNoBias(nn.GroupNorm):
    """nn.GroupNorm with a weight and no bias."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bias = None'''


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
    if t == "UpsampleAs":
        corners = "" if a["align_corners"] is None else f", align_corners={a['align_corners']}"
        return (
            f"torch.nn.functional.interpolate({x}, size={args[1]}.shape[2:], "
            f"mode={a['mode']!r}{corners})"
        )
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
    if t == "Index":
        return f"{x}[{', '.join([':'] * a['dim'] + [args[1]])}]"
    if t in ("Input", "Buffer"):
        return attr  # the forward's argument of that name, the buffer
    if t == "Constant":
        shape = str(tuple(a["shape"]))
        if a.get("batched"):  # the batch of the forward's input, not the one analysed
            shape = f"(x_input.size(0), {', '.join(map(str, a['shape'][1:]))})"
        return f"torch.zeros({shape}, dtype=torch.{a['dtype']}, device=x_input.device)"
    if t == "Pointwise":
        if a["op"] == "pow":
            return f"torch.pow({x}, {a['exponent']!r})"
        if a["op"] == "clamp":
            return f"torch.clamp({x}, {a['min']!r}, {a['max']!r})"
        return f"torch.{a['op']}({x})"
    if t == "TopK":
        k = f"min({a['k']}, {x}.shape[{a['dim']}])" if a["at_most"] else a["k"]
        return f"torch.topk({x}, {k}, {a['dim']}, {a['largest']}, {a['sorted']})"
    if t == "FunctionalConv2d":
        kw = ", ".join(f"{k}={_value(a[k], False)}" for k in ("stride", "padding", "dilation"))
        return f"nn.functional.conv2d({', '.join(args)}, {kw}, groups={a['groups']})"
    if t in ("Maximum", "Minimum"):
        return f"torch.{t.lower()}({args[0]}, {args[1]})"
    if t == "TensorUnfold":
        return f"{x}.unfold({a['dimension']}, {a['size']}, {a['step']})"
    if t == "Roll":
        return f"torch.roll({x}, {list(a['shifts'])}, {list(a['dims'] or ())})"
    if t == "Gather":
        return f"torch.gather({x}, {a['dim']}, {args[1]}.long())"
    if t == "GridSample":
        return (
            f"nn.functional.grid_sample({x}, {args[1]}, {a['mode']!r}, {a['padding_mode']!r}, "
            f"align_corners={a['align_corners']})"
        )
    if t == "Einsum":
        return f"torch.einsum({a['equation']!r}, {', '.join(args)})"
    if t == "ScaledDotProductAttention":
        kw = {k: v for k, v in a.items() if v not in (None, False, 0.0) and k != "kernel"}
        extra = "".join(f", {k}={v!r}" for k, v in kw.items())
        return f"nn.functional.scaled_dot_product_attention({', '.join(args)}{extra})"
    raise ExportError(f"layer '{layer.name}' ({t}) has no expression")


# arguments a kind holds that torch takes in the module's forward, not its constructor
CALL_ARGS = {
    "MultiheadAttention": ("need_weights", "average_attn_weights", "fast_path", "training"),
    **{f"MaxUnpool{n}d": ("output_size",) for n in (1, 2, 3)},
}

# written into exported files that call a recurrent module
STATES = '''

def flat_states(out):
    """A recurrent module's (output, h_n) or (output, (h_n, c_n)), flat."""
    y, last = out
    return (y, *last) if isinstance(last, tuple) else (y, last)'''


def call(layer: LayerResult, module: str, args: list[str]) -> str:
    """The ``forward`` call of a module: its inputs, and what torch takes at the call."""
    t, a = layer.type, layer.kwargs
    if t in ("RNN", "LSTM", "GRU"):
        states = args[1:]
        state = "" if not states else (states[0] if len(states) == 1 else f"({', '.join(states)})")
        return f"flat_states({module}({args[0]}{', ' + state if state else ''}))"
    if t == "MultiheadAttention":
        kw = "" if a["need_weights"] else ", need_weights=False"
        kw += "" if a["average_attn_weights"] else ", average_attn_weights=False"
        return f"{module}({', '.join(args)}{kw})"
    if t.startswith("MaxUnpool") and a.get("output_size") is not None:
        return f"{module}({', '.join(args)}, output_size={list(a['output_size'])})"
    return f"{module}({', '.join(args)})"


def module_source(layer: LayerResult) -> str:
    """``nn.Conv2d(1, 6, kernel_size=3)``: required arguments first, then those that differ from
    torch's defaults."""
    kind = REGISTRY[layer.type]
    if layer.type in EXPRESSIONS:
        raise ExportError("graph layers are expressions, not modules")
    if layer.type == "StochasticDepth":
        return f"StochasticDepth(p={layer.kwargs['p']!r}, mode={layer.kwargs['mode']!r})"
    if layer.kwargs.get("antialias"):  # F.interpolate's: nn.Upsample does not take it
        keys = ("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor")
        kw = {k: layer.kwargs[k] for k in keys if layer.kwargs.get(k) is not None}
        return "Interpolate(" + ", ".join(f"{k}={_value(v)}" for k, v in kw.items()) + ")"
    name = f"{'' if layer.type == 'StdConv2d' else 'nn.'}{layer.type}"
    if layer.type == "GroupNorm" and not layer.kwargs["bias"]:
        name = "GroupNormNoBias"
    parts = []
    for key, (reader, default) in kind.args.items():
        if key in CALL_ARGS.get(layer.type, ()) or (layer.type == "GroupNorm" and key == "bias"):
            continue  # an argument of the forward, written at the call; or the class's
        v = layer.kwargs.get(key)
        norm = None if default is None or default is REQUIRED else reader(default, key)
        if default is REQUIRED or key in kind.size_keys or v != norm:
            parts.append(f"{key}={_value(v, key in SHAPE_ARGS)}")
    return f"{name}({', '.join(parts)})"


def _ident(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name) and name not in RESERVED


def freeze_lines(a: Analysis) -> list[str]:
    """``trainable: false``: those parameters of the built module get no gradient (named as the
    analysis names them)."""
    frozen = [
        t.name
        for layer in a.layers
        if layer.type != "Parameter"
        for t in layer.params
        if not layer.trainable or t.name.rsplit(".", 1)[-1] in layer.frozen
    ]
    if not frozen:
        return []
    return [
        f"        for name in {frozen!r}:  # trainable: false",
        "            self.get_parameter(name).requires_grad_(False)",
    ]


def net_class(
    class_name: str, doc: str, init: list[str], body: list[str], inputs: list[str] = ()
) -> str:
    """The top-level nn.Module class from its ``__init__`` and ``forward`` lines."""
    lines = [
        f"class {class_name}(nn.Module):",
        doc,
        "",
        "    def __init__(self):",
        "        super().__init__()",
        *init,
    ]
    signature = ", ".join(["self", "x", *inputs])
    return "\n".join([*lines, "", f"    def forward({signature}):", *body, ""])


def _tree_source(node, depth: int) -> str:
    if isinstance(node, LayerResult):
        return module_source(node)
    pad = "    " * (depth + 1)
    items = [f"{pad}{k!r}: {_tree_source(v, depth + 1)}," for k, v in node.items()]
    return "nn.ModuleDict({\n" + "\n".join(items) + "\n" + "    " * depth + "})"
