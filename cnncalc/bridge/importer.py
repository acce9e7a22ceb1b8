"""A torch model -> a spec: traced with torch.fx, one layer per module call or supported function.

Module calls keep their qualified names (so parameter names match), functions become layers
named after them, and ``from`` is written where the data does not come from the layer above.
What a spec cannot express is an error naming the operation and its source line.
"""

from __future__ import annotations

import importlib
import importlib.util
import operator
import re
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from ..layers import REGISTRY, REQUIRED


class ImportFailed(Exception):
    pass


def load_target(target: str):
    """``package.module:name`` or ``path/to/file.py:name`` -> an nn.Module (a class is instantiated, a function called)."""
    if ":" not in target:
        raise ImportFailed(f"TARGET must be package.module:name or path/to/file.py:name, found {target!r}")
    where, name = target.rsplit(":", 1)
    try:
        if where.endswith(".py") or "/" in where:
            path = Path(where)
            if not path.is_file():
                raise ImportFailed(f"no such file: {where}")
            spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[path.stem] = module
            sys.path.insert(0, str(path.resolve().parent))  # as running the file would: its neighbours import
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except ImportFailed:
        raise
    except Exception as e:
        raise ImportFailed(f"cannot import {where}: {type(e).__name__}: {e}") from None
    obj = getattr(module, name, None)
    if obj is None:
        raise ImportFailed(f"{where} has no attribute {name!r}")
    try:
        model = obj() if callable(obj) and not isinstance(obj, nn.Module) else obj
    except Exception as e:
        raise ImportFailed(f"calling {name}() failed: {type(e).__name__}: {e}") from None
    if not isinstance(model, nn.Module):
        raise ImportFailed(f"{name} did not give an nn.Module, but {type(model).__name__}")
    return model


def _n(name: str) -> int:
    return int(name[-2]) if name[-2:-1].isdigit() else 2


# function -> (layer type or a callable picking it, the layer's argument names in call order)
_ACT = {
    F.relu: "ReLU",
    torch.relu: "ReLU",
    F.relu6: "ReLU6",
    F.gelu: "GELU",
    F.silu: "SiLU",
    F.mish: "Mish",
    torch.sigmoid: "Sigmoid",
    F.sigmoid: "Sigmoid",
    torch.tanh: "Tanh",
    F.tanh: "Tanh",
    F.hardswish: "Hardswish",
    F.hardsigmoid: "Hardsigmoid",
    F.elu: "ELU",
    F.selu: "SELU",
    F.celu: "CELU",
    F.leaky_relu: "LeakyReLU",
    F.softplus: "Softplus",
    F.hardtanh: "Hardtanh",
}
_FUNCS = {
    **{
        f: (
            t,
            {
                "ReLU": [],
                "LeakyReLU": ["negative_slope"],
                "ELU": ["alpha"],
                "CELU": ["alpha"],
                "Hardtanh": ["min_val", "max_val"],
                "Softplus": ["beta", "threshold"],
            }.get(t, []),
        )
        for f, t in _ACT.items()
    },
    F.softmax: ("Softmax", ["dim"]),
    torch.softmax: ("Softmax", ["dim"]),
    F.log_softmax: ("LogSoftmax", ["dim"]),
    torch.log_softmax: ("LogSoftmax", ["dim"]),
    F.dropout: ("Dropout", ["p"]),
    F.max_pool1d: ("MaxPool1d", ["kernel_size", "stride", "padding", "dilation", "ceil_mode"]),
    F.max_pool2d: ("MaxPool2d", ["kernel_size", "stride", "padding", "dilation", "ceil_mode"]),
    F.max_pool3d: ("MaxPool3d", ["kernel_size", "stride", "padding", "dilation", "ceil_mode"]),
    F.avg_pool1d: ("AvgPool1d", ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"]),
    F.avg_pool2d: ("AvgPool2d", ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"]),
    F.avg_pool3d: ("AvgPool3d", ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"]),
    F.adaptive_avg_pool1d: ("AdaptiveAvgPool1d", ["output_size"]),
    F.adaptive_avg_pool2d: ("AdaptiveAvgPool2d", ["output_size"]),
    F.adaptive_avg_pool3d: ("AdaptiveAvgPool3d", ["output_size"]),
    F.adaptive_max_pool1d: ("AdaptiveMaxPool1d", ["output_size"]),
    F.adaptive_max_pool2d: ("AdaptiveMaxPool2d", ["output_size"]),
    F.adaptive_max_pool3d: ("AdaptiveMaxPool3d", ["output_size"]),
    F.pixel_shuffle: ("PixelShuffle", ["upscale_factor"]),
    F.pixel_unshuffle: ("PixelUnshuffle", ["downscale_factor"]),
    torch.flatten: ("Flatten", ["start_dim", "end_dim"]),
}
_ADD = (operator.add, operator.iadd, torch.add)
_MUL = (operator.mul, operator.imul, torch.mul)
_METHODS = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax", "log_softmax": "LogSoftmax"}
_FUNC_DEFAULTS = {torch.flatten: {"start_dim": 0}}  # where the function's default differs from the module's


def _plain(v):
    if isinstance(v, torch.Size):
        return [int(x) for x in v]
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    if isinstance(v, torch.Tensor):
        raise ImportFailed("a tensor where a number was expected")
    return v


def _module_args(kind, sub: nn.Module) -> dict:
    args = {}
    for key in kind.args:
        if key == "bias":
            args[key] = getattr(sub, "bias", None) is not None
        elif key in ("init", "return_indices") or not hasattr(sub, key):
            continue
        else:
            value = getattr(sub, key)
            if isinstance(value, (torch.Tensor, nn.Module)):
                continue
            args[key] = _plain(value)
    if type(sub).__name__.startswith("ZeroPad"):
        args = {"padding": _plain(sub.padding)}
    return _without_defaults(kind, args)


def _without_defaults(kind, args: dict) -> dict:
    """Drop what equals torch's default, so the spec reads like hand-written code; sizes stay, to be checked."""
    out = {}
    for key, value in args.items():
        reader, default = kind.args.get(key, (None, REQUIRED))
        if default is REQUIRED or default is None or key in kind.size_keys:
            out[key] = value
            continue
        try:
            same = reader(default, key) == reader(value, key)
        except Exception:
            same = False
        if not same:
            out[key] = value
    return out


def _where(node) -> str:
    """`` at file.py:LINE (code)``: the model's own frame, not torch's."""
    lines = (node.stack_trace or "").splitlines()
    for i, line in enumerate(lines):
        m = re.search(r'File "([^"]+)", line (\d+)', line)
        if m and f"{Path('torch')}/" not in m.group(1).replace("\\", "/").split("site-packages/")[-1][:6]:
            code = lines[i + 1].strip() if i + 1 < len(lines) else ""
            return f" at {Path(m.group(1)).name}:{m.group(2)} ({code})"
    return ""


def trace_to_layers(model: nn.Module, shape: tuple[int, ...]) -> list[dict]:
    tracer = fx.Tracer()
    tracer.record_stack_traces = True
    try:
        graph = tracer.trace(model)
    except Exception as e:
        raise ImportFailed(f"torch.fx cannot trace the model: {type(e).__name__}: {str(e).splitlines()[0]}") from None
    gm = fx.GraphModule(tracer.root, graph)
    model.eval()
    try:
        ShapeProp(gm).propagate(torch.randn(shape))
    except Exception as e:
        raise ImportFailed(
            f"the model does not run on an input of shape {list(shape)}: {type(e).__name__}: {str(e).splitlines()[0]}"
        ) from None

    layers: list[dict] = []
    name_of: dict[fx.Node, str] = {}
    used: dict[str, int] = {}
    called: set[str] = set()

    def fresh(base: str) -> str:
        base = base.replace("_", "_")
        n = used.get(base, 0)
        used[base] = n + 1
        return base if n == 0 else f"{base}_{n}"

    def tensor_inputs(node) -> list[str]:
        srcs = []
        for arg in node.all_input_nodes:
            if arg in name_of:
                srcs.append(name_of[arg])
        return srcs

    def emit(node, type_: str, args: dict, name: str, srcs: list[str]):
        layer = {"name": name, "type": type_}
        prev = layers[-1]["name"] if layers else "input"
        if srcs != [prev]:
            layer["from"] = srcs[0] if len(srcs) == 1 else srcs
        layer.update({k: v for k, v in args.items() if v is not None or k in ("stride",)})
        if layer.get("stride", 0) is None:
            del layer["stride"]
        layers.append(layer)
        name_of[node] = name

    for node in gm.graph.nodes:
        meta = node.meta.get("tensor_meta")
        if node.op == "placeholder":
            name_of[node] = "input"
            continue
        if node.op == "output":
            out = node.args[0]
            if not isinstance(out, fx.Node) or out not in name_of:
                raise ImportFailed(f"the model must return one tensor{_where(node)}")
            if layers and name_of[out] != layers[-1]["name"]:
                emit(node, "Identity", {}, fresh("output"), [name_of[out]])
            continue
        if node.op == "get_attr":
            raise ImportFailed(
                f"the forward reads the tensor attribute '{node.target}' directly{_where(node)}; a spec holds layers only"
            )
        srcs = tensor_inputs(node)
        if node.op == "call_module":
            sub = gm.get_submodule(node.target)
            type_ = type(sub).__name__
            kind = REGISTRY.get(type_)
            if kind is None or type_ in ("Add", "Mul", "Cat"):
                raise ImportFailed(f"module '{node.target}' is a {type_}, which cnncalc does not support{_where(node)}")
            has_tensors = any(True for _ in sub.parameters(recurse=False)) or any(True for _ in sub.buffers(recurse=False))
            if node.target in called:
                if has_tensors:
                    raise ImportFailed(
                        f"module '{node.target}' is called twice (shared weights), which a spec cannot express{_where(node)}"
                    )
                name = fresh(node.target)
            else:
                called.add(node.target)
                name = node.target
                used[name] = used.get(name, 0) + 1
            emit(node, type_, _module_args(kind, sub), name, srcs[:1])
            continue
        if node.op == "call_function" and node.target in _ADD + _MUL:
            if len(srcs) != len(node.args) or node.kwargs:
                raise ImportFailed(f"{node.target.__name__} with a constant or keyword cannot be a layer{_where(node)}")
            type_ = "Add" if node.target in _ADD else "Mul"
            emit(node, type_, {}, fresh(type_.lower()), srcs)
            continue
        if node.op == "call_function" and node.target is torch.cat:
            tensors = node.args[0]
            dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
            emit(node, "Cat", {"dim": dim}, fresh("cat"), [name_of[t] for t in tensors])
            continue
        if node.op == "call_function" and node.target is F.pad:
            pad = _plain(node.args[1] if len(node.args) > 1 else node.kwargs["pad"])
            mode = node.args[2] if len(node.args) > 2 else node.kwargs.get("mode", "constant")
            value = node.args[3] if len(node.args) > 3 else node.kwargs.get("value", 0.0)
            n = len(pad) // 2
            type_ = {"constant": f"ConstantPad{n}d", "reflect": f"ReflectionPad{n}d", "replicate": f"ReplicationPad{n}d"}.get(
                mode
            )
            if type_ is None or n not in (1, 2, 3):
                raise ImportFailed(f"F.pad with mode {mode!r} over {n} dims is not supported{_where(node)}")
            args = {"padding": pad, **({"value": value or 0.0} if mode == "constant" else {})}
            if mode == "constant" and not value:
                type_, args = f"ZeroPad{n}d", {"padding": pad}
            emit(node, type_, args, fresh("pad"), srcs)
            continue
        if node.op == "call_function" and node.target is F.interpolate:
            names = ["size", "scale_factor", "mode", "align_corners", "recompute_scale_factor"]
            args = dict(zip(names, node.args[1:]))
            args.update(node.kwargs)
            args = {k: _plain(v) for k, v in args.items() if k in names and v is not None}
            emit(node, "Upsample", args, fresh("interpolate"), srcs[:1])
            continue
        if node.op == "call_function" and node.target in _FUNCS:
            type_, names = _FUNCS[node.target]
            args = dict(_FUNC_DEFAULTS.get(node.target, {}))
            args.update(zip(names, (_plain(v) for v in node.args[1:])))
            args.update({k: _plain(v) for k, v in node.kwargs.items() if k in names})
            if type_ == "Dropout" and node.kwargs.get("training", True) is False:
                type_, args = "Identity", {}
            emit(node, type_, _without_defaults(REGISTRY[type_], args), fresh(node.target.__name__), srcs[:1])
            continue
        if node.op == "call_method" and node.target in ("size", "dim") or (meta is None and node.op != "call_module"):
            if node.op == "call_method" and node.target in ("size", "dim"):
                continue
            raise ImportFailed(f"'{node.target}' gives no tensor a spec can follow{_where(node)}")
        if node.op == "call_method" and node.target in _METHODS:
            args = {"dim": node.args[1]} if node.target in ("softmax", "log_softmax") and len(node.args) > 1 else {}
            args.update({k: v for k, v in node.kwargs.items() if k == "dim"})
            emit(node, _METHODS[node.target], args, fresh(node.target), srcs[:1])
            continue
        if node.op == "call_method" and node.target in ("view", "reshape", "flatten", "contiguous"):
            src_node = node.args[0]
            x = tuple(src_node.meta["tensor_meta"].shape)
            y = tuple(meta.shape)
            if y == x:
                name_of[node] = name_of[src_node]  # a no-op view
                continue
            for s in range(len(x)):
                for e in range(len(x) - 1, s, -1):
                    if y == (*x[:s], _prod(x[s : e + 1]), *x[e + 1 :]):
                        emit(node, "Flatten", {"start_dim": s, "end_dim": e - len(x)}, fresh("flatten"), srcs[:1])
                        break
                else:
                    continue
                break
            else:
                raise ImportFailed(f"'{node.target}' to {list(y)} from {list(x)} is not a flatten{_where(node)}")
            continue
        what = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", str(node.target))
        raise ImportFailed(f"the operation '{what}' has no cnncalc layer{_where(node)}")
    if not layers:
        raise ImportFailed("the model has no layers")
    return layers


def _prod(xs) -> int:
    n = 1
    for x in xs:
        n *= x
    return n


def to_yaml(name: str, shape: tuple[int, ...], layers: list[dict]) -> str:
    import json

    import yaml

    def one(v) -> str:
        return yaml.safe_dump(v, default_flow_style=True, width=1 << 30, sort_keys=False).strip()

    lines = [f"# imported from {name} with cnncalc import", f"name: {json.dumps(name)}", f"input: {one(list(shape))}", "layers:"]
    lines += [f"  - {one(layer)}" for layer in layers]
    return "\n".join(lines) + "\n"


def import_spec(target: str, shape: tuple[int, ...]) -> str:
    model = load_target(target)
    return to_yaml(target.rsplit(":", 1)[1], shape, trace_to_layers(model, shape))
