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

from ..diagnostics import cut
from ..layers import REGISTRY, REQUIRED
from ..layers.base import prod


class ImportFailed(Exception):
    pass


def load_target(target: str):
    """``package.module:name`` or ``path/to/file.py:name`` -> an nn.Module (a class is instantiated, a function called)."""
    if ":" not in target:
        raise ImportFailed(
            f"TARGET must be package.module:name or path/to/file.py:name, found {target!r}"
        )
    where, name = target.rsplit(":", 1)
    try:
        if where.endswith(".py") or "/" in where:
            path = Path(where)
            if not path.is_file():
                raise ImportFailed(f"no such file: {where}")
            spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[path.stem] = module
            sys.path.insert(
                0, str(path.resolve().parent)
            )  # as running the file would: its neighbours import
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
    F.avg_pool1d: (
        "AvgPool1d",
        ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"],
    ),
    F.avg_pool2d: (
        "AvgPool2d",
        ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"],
    ),
    F.avg_pool3d: (
        "AvgPool3d",
        ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"],
    ),
    F.adaptive_avg_pool1d: ("AdaptiveAvgPool1d", ["output_size"]),
    F.adaptive_avg_pool2d: ("AdaptiveAvgPool2d", ["output_size"]),
    F.adaptive_avg_pool3d: ("AdaptiveAvgPool3d", ["output_size"]),
    F.adaptive_max_pool1d: ("AdaptiveMaxPool1d", ["output_size"]),
    F.adaptive_max_pool2d: ("AdaptiveMaxPool2d", ["output_size"]),
    F.adaptive_max_pool3d: ("AdaptiveMaxPool3d", ["output_size"]),
    F.pixel_shuffle: ("PixelShuffle", ["upscale_factor"]),
    F.pixel_unshuffle: ("PixelUnshuffle", ["downscale_factor"]),
}


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
    """`` at file.py:LINE (code)``: the innermost frame of the model's own code (not torch's, not cnncalc's),
    i.e. the line of the operation itself rather than the model's outer ``forward``."""
    lines = (node.stack_trace or "").splitlines()
    found = ""
    for i, line in enumerate(lines):
        m = re.search(r'File "([^"]+)", line (\d+)', line)
        if not m:
            continue
        path = m.group(1).replace("\\", "/")
        tail = path.split("site-packages/")[-1]
        if tail.startswith(("torch/", "cnncalc/")) or "/cnncalc/bridge/" in path:
            continue
        code = lines[i + 1].strip() if i + 1 < len(lines) else ""
        found = f" at {Path(m.group(1)).name}:{m.group(2)} ({code[:120]})"
    return found


_LEAF_EXTRA = {
    "Permute",
    "StochasticDepth",
}  # torchvision.ops modules with a layer kind of the same name


def _base_kind(m: nn.Module) -> str | None:
    """The layer kind a module call is: its torch.nn class, or the torch.nn class whose forward it keeps."""
    for cls in type(m).__mro__:
        if cls.__module__.startswith("torch.nn") and cls.__name__ in REGISTRY:
            return cls.__name__ if type(m).forward is cls.forward else None
        if cls.__name__ in _LEAF_EXTRA and cls.__module__.startswith("torchvision"):
            return cls.__name__
    return None


class _eager:
    """torch.nn.Module's own ``__call__`` and ``__getattr__`` (tracing patches them), to run an operation for real."""

    def __enter__(self):
        from torch.fx import _symbolic_trace as st

        self.saved = nn.Module.__call__, nn.Module.__getattr__
        nn.Module.__call__, nn.Module.__getattr__ = st._orig_module_call, st._orig_module_getattr

    def __exit__(self, *exc):
        nn.Module.__call__, nn.Module.__getattr__ = self.saved


class _Proxy(fx.Proxy):
    def __len__(self):
        return len(self.node.meta["concrete"])


class _Tracer(fx.Tracer):
    """Modules with a layer kind are leaves; everything else is traced into (timm's BatchNormAct2d, LayerNorm2d).

    Every operation also runs on a real input as it is traced, so sizes, ``x.shape`` arithmetic, asserts
    and branches on them take their concrete values, as they would in eager mode."""

    def __init__(self, x):
        super().__init__()
        self.x = x

    def is_leaf_module(self, m, qualname):
        return _base_kind(m) is not None

    def proxy(self, node):
        return _Proxy(node, self)

    def create_proxy(self, kind, target, args, kwargs, *rest, **kw):
        p = super().create_proxy(kind, target, args, kwargs, *rest, **kw)
        real = lambda a: a.node.meta["concrete"] if isinstance(a, fx.Proxy) else a  # noqa: E731
        cargs = fx.node.map_aggregate(args, real)
        ckw = fx.node.map_aggregate(kwargs, real)
        with torch.no_grad(), _eager():
            if kind == "placeholder":
                val = self.x
            elif kind == "get_attr":
                val = self.root
                for part in target.split("."):
                    val = getattr(val, part)
            elif kind == "call_function":
                val = target(*cargs, **ckw)
            elif kind == "call_method":
                val = getattr(cargs[0], target)(*cargs[1:], **ckw)
            elif kind == "call_module":
                val = self.root.get_submodule(target)(*cargs, **ckw)
            else:
                val = None
        p.node.meta["concrete"] = val
        return p

    def to_bool(self, obj):
        return bool(obj.node.meta["concrete"])

    def iter(self, obj):
        return iter([obj[i] for i in range(len(obj.node.meta["concrete"]))])

    def keys(self, obj):
        return obj.node.meta["concrete"].keys()


class _T:
    """A tensor seen in the trace: its shape and whether it was contiguous."""

    __slots__ = ("shape", "contiguous")

    def __init__(self, t):
        self.shape, self.contiguous = tuple(int(s) for s in t.shape), t.is_contiguous()


def _summary(v):
    if isinstance(v, torch.Tensor):
        return _T(v)
    if isinstance(v, (tuple, list)):
        return (
            type(v)(_summary(x) for x in v)
            if not hasattr(v, "_fields")
            else tuple(_summary(x) for x in v)
        )
    if isinstance(v, dict):
        return {k: _summary(x) for k, x in v.items()}
    return v


def _shape_of(node) -> tuple:
    v = node.meta.get("value")
    return v.shape if isinstance(v, _T) else ()


_FUNC_MODULE = {F.linear: "Linear", F.conv1d: "Conv1d", F.conv2d: "Conv2d", F.conv3d: "Conv3d"}
_NORM_FUNCS = {F.batch_norm: "BatchNorm", F.layer_norm: "LayerNorm", F.group_norm: "GroupNorm"}
_VIEWS = {"view": "View", "reshape": "Reshape", torch.reshape: "Reshape"}
_SQUEEZE = {
    "squeeze": "Squeeze",
    torch.squeeze: "Squeeze",
    "unsqueeze": "Unsqueeze",
    torch.unsqueeze: "Unsqueeze",
}
_REDUCE = {
    "mean": "Mean",
    torch.mean: "Mean",
    "sum": "Sum",
    torch.sum: "Sum",
    "amax": "Amax",
    torch.amax: "Amax",
}
_SPLIT = {"split": "Split", torch.split: "Split", "chunk": "Chunk", torch.chunk: "Chunk"}
_ARITH = {
    operator.add: "Add", operator.iadd: "Add", torch.add: "Add", "add": "Add", "add_": "Add",
    operator.mul: "Mul", operator.imul: "Mul", torch.mul: "Mul", "mul": "Mul", "mul_": "Mul",
    operator.sub: "Sub", operator.isub: "Sub", torch.sub: "Sub", "sub": "Sub", "sub_": "Sub",
    operator.truediv: "Div", operator.itruediv: "Div", torch.div: "Div", "div": "Div", "div_": "Div",
}  # fmt: skip
_MATMUL = (operator.matmul, torch.matmul, torch.bmm, "matmul", "bmm")
_METHOD_ACT = {
    "relu": "ReLU", "relu_": "ReLU", "sigmoid": "Sigmoid", "sigmoid_": "Sigmoid", "tanh": "Tanh", "tanh_": "Tanh",
    "softmax": "Softmax", "log_softmax": "LogSoftmax",
}  # fmt: skip
_NO_OPS = {"contiguous", "clone", "detach", "float", "type_as", "to"}
_SHAPE_OPS = {"size", "dim", "numel", getattr, torch._assert, operator.getitem, "__getitem__"}


def _arg(node, i: int, key: str, default=None):
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(key, default)


def trace_to_layers(
    model: nn.Module, shape: tuple[int, ...]
) -> tuple[list[dict], list[str], list[str]]:
    """(layers, outputs, parameters the forward never uses)."""
    tracer = _Tracer(torch.randn(shape))
    tracer.record_stack_traces = True
    model.eval()
    try:
        graph = tracer.trace(model)
    except fx.proxy.TraceError as e:
        raise ImportFailed(f"torch.fx cannot trace the model: {_line(e)}") from None
    except Exception as e:
        raise ImportFailed(
            f"the model does not run on an input of shape {list(shape)}: {type(e).__name__}: {_line(e)}"
        ) from None
    for node in graph.nodes:
        node.meta["value"] = _summary(node.meta.pop("concrete", None))
    gm = fx.GraphModule(tracer.root, graph)

    layers: list[dict] = []
    name_of: dict = {}  # node -> the spec name of its tensor (or of its tuple of tensors)
    used: set[str] = set()
    called: set[str] = set()
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())

    def fresh(base: str) -> str:
        base = base.replace(":", "_")
        name, n = base, 0
        while name in used:
            n += 1
            name = f"{base}_{n}"
        used.add(name)
        return name

    def emit(node, type_: str, args: dict, name: str, srcs: list[str]):
        layer = {"name": name, "type": type_}
        prev = layers[-1]["name"] if layers else "input"
        if srcs and srcs != [prev]:
            layer["from"] = srcs[0] if len(srcs) == 1 else srcs
        layer.update({k: v for k, v in args.items() if v is not None})
        layers.append(layer)
        if node is not None:
            name_of[node] = name
        return name

    def value(a):
        """A node argument as a plain value (sizes read from the trace); tensors are not values."""
        if isinstance(a, fx.Node):
            if a in name_of or isinstance(a.meta.get("value"), _T):
                raise ImportFailed(f"a tensor where a number was expected{_where(a)}")
            return _plain(a.meta.get("value"))
        if isinstance(a, (list, tuple)):
            return [value(x) for x in a]
        if isinstance(a, slice):
            return slice(value(a.start), value(a.stop), value(a.step))
        return _plain(a)

    def ref(a, node) -> str:
        """The spec name of a tensor argument; a parameter read directly becomes a Parameter layer."""
        if a in name_of:
            return name_of[a]
        if isinstance(a, fx.Node) and a.op == "get_attr":
            if a.target in params:
                if a.target in used:
                    if any(layer["name"] == a.target for layer in layers):
                        name_of[a] = a.target
                        return a.target
                    raise ImportFailed(
                        f"the parameter '{a.target}' is used twice, which a spec cannot express{_where(node)}"
                    )
                used.add(a.target)
                return emit(a, "Parameter", {"shape": list(params[a.target].shape)}, a.target, [])
            raise ImportFailed(
                f"the forward reads the tensor '{a.target}', which is not a parameter{_where(node)}"
            )
        raise ImportFailed(f"'{_what(node)}' takes a tensor no layer gives{_where(node)}")

    def is_tensor(a) -> bool:
        return isinstance(a, fx.Node) and (
            a in name_of or isinstance(a.meta.get("value"), _T) or a.op == "get_attr"
        )

    def owned(node, tensors: dict) -> str:
        """The module that owns the parameters a functional call uses (``weight``, ``bias``, ...)."""
        owner = None
        for attr, a in tensors.items():
            if a is None:
                continue
            if not (isinstance(a, fx.Node) and a.op == "get_attr") or "." not in a.target and attr:
                raise ImportFailed(
                    f"'{_what(node)}' uses a {attr} that is not a module's own tensor{_where(node)}"
                )
            mod, _, got = a.target.rpartition(".")
            if got != attr or (owner is not None and mod != owner):
                raise ImportFailed(
                    f"'{_what(node)}' uses the tensor '{a.target}' as its {attr}{_where(node)}"
                )
            owner = mod
        if owner is None:
            raise ImportFailed(
                f"'{_what(node)}' without parameters has no cnncalc layer{_where(node)}"
            )
        if owner in called:
            raise ImportFailed(
                f"module '{owner}' is used twice (shared weights), which a spec cannot express{_where(node)}"
            )
        called.add(owner)
        used.add(owner)
        return owner

    for node in gm.graph.nodes:
        v = node.meta.get("value")
        op, target = node.op, node.target
        if op == "placeholder":
            name_of[node] = "input"
            continue
        if op == "output":
            outs = _flatten_out(node.args[0])
            if not outs or not all(is_tensor(o) for o in outs):
                raise ImportFailed(
                    f"the model must return tensors (one, or a tuple, list or dict of them){_where(node)}"
                )
            names = [ref(o, node) for o in outs]
            if len(names) == 1 and layers and names[0] != layers[-1]["name"]:
                emit(None, "Identity", {}, fresh("output"), names)
                names = [layers[-1]["name"]]
            continue
        if op == "get_attr":
            continue  # read where it is used
        if not isinstance(v, (_T, tuple, list)) or (
            isinstance(v, (tuple, list)) and not any(isinstance(x, _T) for x in v)
        ):
            continue  # sizes, dims, asserts: plain values, read where they are used
        srcs_all = [a for a in node.all_input_nodes if is_tensor(a)]
        if op == "call_module":
            sub = gm.get_submodule(target)
            type_ = _base_kind(sub)
            has_tensors = any(True for _ in sub.parameters(recurse=False)) or any(
                True for _ in sub.buffers(recurse=False)
            )
            if target in called:
                if has_tensors:
                    raise ImportFailed(
                        f"module '{target}' is called twice (shared weights), which a spec cannot express{_where(node)}"
                    )
                name = fresh(target)
            else:
                called.add(target)
                name = target
                used.add(name)
            emit(node, type_, _module_args(REGISTRY[type_], sub), name, [ref(srcs_all[0], node)])
            continue
        if op == "call_function" and target in _FUNC_MODULE:
            type_ = _FUNC_MODULE[target]
            x, w, b = node.args[0], _arg(node, 1, "weight"), _arg(node, 2, "bias")
            owner = owned(node, {"weight": w, "bias": b})
            ws = params[w.target].shape
            if type_ == "Linear":
                args = {"in_features": ws[1], "out_features": ws[0], "bias": b is not None}
            else:
                args = {
                    "in_channels": ws[1] * value(_arg(node, 6, "groups", 1)),
                    "out_channels": ws[0],
                    "kernel_size": list(ws[2:]),
                }
                for i, key, default in (
                    (3, "stride", 1),
                    (4, "padding", 0),
                    (5, "dilation", 1),
                    (6, "groups", 1),
                ):
                    val = value(_arg(node, i, key, default))
                    args[key] = val if isinstance(val, (str, int)) else list(val)
                args["bias"] = b is not None
                args = {k: v for k, v in args.items() if k in REGISTRY[type_].args}
            emit(node, type_, _without_defaults(REGISTRY[type_], args), owner, [ref(x, node)])
            continue
        if op == "call_function" and target in _NORM_FUNCS:
            x = node.args[0]
            kind = _NORM_FUNCS[target]
            if kind == "BatchNorm":
                rm, rv, w, b = (
                    _arg(node, i, k)
                    for i, k in (
                        (1, "running_mean"),
                        (2, "running_var"),
                        (3, "weight"),
                        (4, "bias"),
                    )
                )
                owner = owned(node, {"running_mean": rm, "running_var": rv, "weight": w, "bias": b})
                if value(_arg(node, 5, "training", False)):
                    raise ImportFailed(
                        f"batch norm in training mode in an eval forward{_where(node)}"
                    )
                n = len(_shape_of(x)) - 2 if len(_shape_of(x)) > 2 else 1
                type_ = f"BatchNorm{n}d"
                mod = gm.get_submodule(owner)
                args = {
                    "num_features": _shape_of(x)[1],
                    "eps": value(_arg(node, 7, "eps", 1e-5)),
                    "momentum": getattr(mod, "momentum", 0.1),
                    "affine": w is not None,
                    "track_running_stats": rm is not None,
                }
                if rm is not None and f"{owner}.num_batches_tracked" not in buffers:
                    raise ImportFailed(
                        f"batch norm statistics of '{owner}' without num_batches_tracked{_where(node)}"
                    )
            elif kind == "LayerNorm":
                w, b = _arg(node, 2, "weight"), _arg(node, 3, "bias")
                owner = owned(node, {"weight": w, "bias": b})
                type_ = "LayerNorm"
                args = {
                    "normalized_shape": list(value(node.args[1])),
                    "eps": value(_arg(node, 4, "eps", 1e-5)),
                    "elementwise_affine": w is not None,
                    "bias": b is not None,
                }
            else:
                w, b = _arg(node, 2, "weight"), _arg(node, 3, "bias")
                owner = owned(node, {"weight": w, "bias": b})
                type_ = "GroupNorm"
                args = {
                    "num_groups": value(node.args[1]),
                    "eps": value(_arg(node, 4, "eps", 1e-5)),
                    "affine": w is not None,
                }
            emit(node, type_, _without_defaults(REGISTRY[type_], args), owner, [ref(x, node)])
            continue
        what = target if isinstance(target, str) else getattr(target, "__name__", str(target))
        if op == "call_function" and target is operator.getitem:
            src = node.args[0]
            if src in name_of and isinstance(src.meta.get("value"), (tuple, list)):
                k = value(node.args[1])
                if not isinstance(k, int):
                    raise ImportFailed(
                        f"a slice of a tuple of tensors has no cnncalc layer{_where(node)}"
                    )
                name_of[node] = f"{name_of[src]}:{k % len(src.meta['value'])}"
                continue
            idx = value(node.args[1])
            idx = list(idx) if isinstance(idx, list) else [idx]
            if any(
                not (i is None or i is Ellipsis or isinstance(i, (int, slice)))
                or isinstance(i, bool)
                for i in idx
            ):
                raise ImportFailed(
                    f"indexing a tensor with {idx!r} has no cnncalc layer{_where(node)}"
                )
            ndim = len(_shape_of(src))
            if Ellipsis in idx:
                e = idx.index(Ellipsis)
                fill = ndim - sum(1 for i in idx if i is not None and i is not Ellipsis)
                idx = idx[:e] + [slice(None)] * fill + idx[e + 1 :]
            cur, pos = ref(src, node), 0
            steps = []
            for i in idx:
                if i is None:
                    steps.append(("Unsqueeze", {"dim": pos}))
                    pos += 1
                elif isinstance(i, int):
                    steps.append(("Select", {"dim": pos, "index": i}))
                else:
                    if (i.start, i.stop, i.step) not in (
                        (None, None, None),
                        (0, None, None),
                        (None, None, 1),
                    ):
                        steps.append(
                            ("Slice", {"dim": pos, "start": i.start, "end": i.stop, "step": i.step})
                        )
                    pos += 1
            if not steps:
                name_of[node] = cur
                continue
            for type_, args in steps:
                cur = emit(None, type_, args, fresh(type_.lower()), [cur])
            name_of[node] = cur
            continue
        if target in _ARITH:
            type_ = _ARITH[target]
            a0, a1 = node.args[0], node.args[1] if len(node.args) > 1 else node.kwargs.get("other")
            if node.kwargs.get("alpha", 1) != 1 or node.kwargs.get("rounding_mode") is not None:
                raise ImportFailed(
                    f"{what} with alpha or rounding_mode has no cnncalc layer{_where(node)}"
                )
            tensors = [a for a in (a0, a1) if is_tensor(a)]
            if len(tensors) == 2:
                emit(node, type_, {}, fresh(type_.lower()), [ref(a0, node), ref(a1, node)])
            elif is_tensor(a0) or (type_ not in ("Div", "Sub") and is_tensor(a1)):
                t, c = (a0, a1) if is_tensor(a0) else (a1, a0)
                emit(node, type_, {"value": value(c)}, fresh(type_.lower()), [ref(t, node)])
            else:
                raise ImportFailed(
                    f"a constant {'divided by' if type_ == 'Div' else 'minus'} a tensor has no cnncalc layer{_where(node)}"
                )
            continue
        if target in (torch.addcmul, "addcmul"):  # a + value · b · c, as a product then a sum
            a0, b0, c0 = node.args[:3]
            if value(node.kwargs.get("value", 1)) != 1:
                raise ImportFailed(
                    f"addcmul with a value other than 1 has no cnncalc layer{_where(node)}"
                )
            prod_ = emit(None, "Mul", {}, fresh("mul"), [ref(b0, node), ref(c0, node)])
            emit(node, "Add", {}, fresh("add"), [ref(a0, node), prod_])
            continue
        if target in _MATMUL:
            emit(
                node,
                "MatMul",
                {},
                fresh("matmul"),
                [ref(node.args[0], node), ref(node.args[1], node)],
            )
            continue
        if op == "call_function" and target is torch.stack:
            dim = value(_arg(node, 1, "dim", 0))
            emit(node, "Stack", {"dim": dim}, fresh("stack"), [ref(t, node) for t in node.args[0]])
            continue
        if target in ("expand", "expand_as"):
            src = node.args[0]
            x, y = _shape_of(src), v.shape
            if x == y:
                name_of[node] = ref(src, node)
                continue
            out = [
                -1 if i >= len(y) - len(x) and x[i - len(y) + len(x)] == s else s
                for i, s in enumerate(y)
            ]
            emit(node, "Expand", {"shape": out}, fresh("expand"), [ref(src, node)])
            continue
        if target in ("norm", torch.norm):
            p_ = value(_arg(node, 1, "p", 2.0))
            if not isinstance(p_, (int, float)) or isinstance(p_, bool):
                raise ImportFailed(f"norm with p={p_!r} has no cnncalc layer{_where(node)}")
            dim = value(_arg(node, 2, "dim"))
            keep = value(_arg(node, 3, "keepdim", False))
            emit(
                node,
                "Norm",
                {"p": float(p_), "dim": dim, "keepdim": keep or None},
                fresh("norm"),
                [ref(node.args[0], node)],
            )
            continue
        if op == "call_function" and target is torch.cat:
            tensors = node.args[0]
            dim = value(_arg(node, 1, "dim", 0))
            emit(node, "Cat", {"dim": dim}, fresh("cat"), [ref(t, node) for t in tensors])
            continue
        if target in ("unbind", torch.unbind):
            dim = value(_arg(node, 1, "dim", 0))
            emit(node, "Unbind", {"dim": dim}, fresh("unbind"), [ref(node.args[0], node)])
            continue
        if target in _SPLIT:
            type_ = _SPLIT[target]
            x = node.args[0]
            key = "split_size_or_sections" if type_ == "Split" else "chunks"
            alt = "split_size" if type_ == "Split" else "chunks"
            size = value(_arg(node, 1, key, node.kwargs.get(alt)))
            dim = value(_arg(node, 2, "dim", 0))
            emit(node, type_, {key: size, "dim": dim}, fresh(type_.lower()), [ref(x, node)])
            continue
        if target in _VIEWS or target in ("flatten", torch.flatten):
            src = node.args[0]
            x, y = _shape_of(src), v.shape
            if y == x:
                name_of[node] = ref(src, node)
                continue
            flat = _as_flatten(x, y)
            if flat is not None:
                emit(
                    node,
                    "Flatten",
                    {"start_dim": flat[0], "end_dim": flat[1]},
                    fresh("flatten"),
                    [ref(src, node)],
                )
                continue
            out = list(y)
            if x and y and y[0] == x[0] and len(y) > 1:
                out[0] = -1  # the batch dim, written so that another batch size works
            type_ = _VIEWS.get(target, "Reshape")
            emit(node, type_, {"shape": out}, fresh(type_.lower()), [ref(src, node)])
            continue
        if target in ("permute", torch.permute):
            dims = (
                node.args[1:]
                if target == "permute" and len(node.args) > 2
                else _arg(node, 1, "dims")
            )
            emit(
                node,
                "Permute",
                {"dims": [int(d) for d in value(dims)]},
                fresh("permute"),
                [ref(node.args[0], node)],
            )
            continue
        if target in ("transpose", torch.transpose):
            d0, d1 = value(_arg(node, 1, "dim0")), value(_arg(node, 2, "dim1"))
            emit(
                node,
                "Transpose",
                {"dim0": d0, "dim1": d1},
                fresh("transpose"),
                [ref(node.args[0], node)],
            )
            continue
        if target in _SQUEEZE:
            type_ = _SQUEEZE[target]
            dim = value(_arg(node, 1, "dim"))
            emit(node, type_, {"dim": dim}, fresh(type_.lower()), [ref(node.args[0], node)])
            continue
        if target in _REDUCE:
            type_ = _REDUCE[target]
            dim = value(_arg(node, 1, "dim"))
            keep = value(_arg(node, 2, "keepdim", False))
            emit(
                node,
                type_,
                {"dim": dim, "keepdim": keep or None},
                fresh(type_.lower()),
                [ref(node.args[0], node)],
            )
            continue
        if (
            target in _NO_OPS
        ):  # copies and casts: the same shape (a copy only where contiguous() must make one)
            src = node.args[0]
            if target == "contiguous" and not src.meta["value"].contiguous:
                emit(node, "Contiguous", {}, fresh("contiguous"), [ref(src, node)])
            else:
                name_of[node] = ref(src, node)
            continue
        if op == "call_function" and target is F.pad:
            pad = _plain(value(node.args[1] if len(node.args) > 1 else node.kwargs["pad"]))
            mode = _arg(node, 2, "mode", "constant")
            fill = _arg(node, 3, "value", 0.0)
            n = len(pad) // 2
            type_ = {
                "constant": f"ConstantPad{n}d",
                "reflect": f"ReflectionPad{n}d",
                "replicate": f"ReplicationPad{n}d",
            }.get(mode)
            if type_ is None or n not in (1, 2, 3):
                raise ImportFailed(
                    f"F.pad with mode {mode!r} over {n} dims is not supported{_where(node)}"
                )
            args = {"padding": pad, **({"value": fill or 0.0} if mode == "constant" else {})}
            if mode == "constant" and not fill:
                type_, args = f"ZeroPad{n}d", {"padding": pad}
            emit(node, type_, args, fresh("pad"), [ref(node.args[0], node)])
            continue
        if op == "call_function" and target is F.interpolate:
            names = ["size", "scale_factor", "mode", "align_corners", "recompute_scale_factor"]
            args = {k: value(_arg(node, i + 1, k)) for i, k in enumerate(names)}
            args = {k: w for k, w in args.items() if w is not None}
            if "antialias" in node.kwargs and node.kwargs["antialias"]:
                raise ImportFailed(f"interpolate with antialias has no cnncalc layer{_where(node)}")
            emit(node, "Upsample", args, fresh("interpolate"), [ref(node.args[0], node)])
            continue
        if op == "call_function" and target in _FUNCS:
            type_, names = _FUNCS[target]
            args = dict(zip(names, (value(w) for w in node.args[1:])))
            args.update({k: value(w) for k, w in node.kwargs.items() if k in names})
            if (
                type_ == "Dropout"
                and value(node.kwargs.get("training", len(node.args) > 2 and node.args[2])) is False
            ):
                type_, args = "Identity", {}
            if type_ == "GELU" and "approximate" in node.kwargs:
                args["approximate"] = node.kwargs["approximate"]
            emit(
                node,
                type_,
                _without_defaults(REGISTRY[type_], args),
                fresh(target.__name__),
                [ref(node.args[0], node)],
            )
            continue
        if op == "call_method" and target in _METHOD_ACT:
            type_ = _METHOD_ACT[target]
            args = (
                {"dim": value(_arg(node, 1, "dim"))} if type_ in ("Softmax", "LogSoftmax") else {}
            )
            emit(node, type_, args, fresh(target.rstrip("_")), [ref(node.args[0], node)])
            continue
        raise ImportFailed(f"the operation '{what}' has no cnncalc layer{_where(node)}")
    if not layers:
        raise ImportFailed("the model has no layers")
    out_nodes = _flatten_out(next(n for n in gm.graph.nodes if n.op == "output").args[0])
    outputs = [name_of[o] for o in out_nodes]
    if len(outputs) == 1:
        outputs = [layers[-1]["name"]]
    unused = [n for n in params if n not in used and n.rsplit(".", 1)[0] not in used]
    return layers, outputs, unused


def _flatten_out(out) -> list:
    if isinstance(out, dict):
        return [x for v in out.values() for x in _flatten_out(v)]
    if isinstance(out, (tuple, list)):
        return [x for v in out for x in _flatten_out(v)]
    return [out] if out is not None else []


def _as_flatten(x: tuple, y: tuple):
    for s in range(len(x)):
        for e in range(len(x) - 1, s, -1):
            if y == (*x[:s], prod(x[s : e + 1]), *x[e + 1 :]):
                return s, e - len(x)
    return None


def _what(node) -> str:
    t = node.target
    return t if isinstance(t, str) else getattr(t, "__name__", str(t))


def _line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return cut(text[0] if text else "", 200)


def to_yaml(name: str, shape: tuple[int, ...], layers: list[dict], outputs=None, unused=()) -> str:
    import json

    import yaml

    def one(v) -> str:
        return yaml.safe_dump(v, default_flow_style=True, width=1 << 30, sort_keys=False).strip()

    lines = [f"# imported from {name} with cnncalc import"]
    if unused:
        lines.append(
            f"# not in this spec: {len(unused)} parameter tensors the forward never uses: {', '.join(unused[:8])}"
            + (", ..." if len(unused) > 8 else "")
        )
    lines += [f"name: {json.dumps(name)}", f"input: {one(list(shape))}", "layers:"]
    lines += [f"  - {one(layer)}" for layer in layers]
    if outputs and len(outputs) > 1:
        lines.append(f"outputs: {one(list(outputs))}")
    return "\n".join(lines) + "\n"


class Imported:
    """An import's result: the spec text, and the parameters of the model that the forward never uses."""

    def __init__(self, text: str, unused: list[str]):
        self.text, self.unused = text, unused


def import_model(model: nn.Module, shape: tuple[int, ...], name: str = "model") -> Imported:
    """Trace ``model`` into a spec, then check the spec's analysis against the model itself:
    parameter names and shapes, buffers and output shapes must be torch's, or the import fails."""
    layers, outputs, unused = trace_to_layers(model, shape)
    text = to_yaml(name, shape, layers, outputs, unused)
    _check(model, shape, text, unused)
    return Imported(text, unused)


def _check(model: nn.Module, shape, text: str, unused: list[str]) -> None:
    from ..diagnostics import SpecError
    from ..engine import analyze
    from ..read import parse

    try:
        a = analyze(parse(text))
    except SpecError as e:
        raise ImportFailed(
            f"the traced spec does not analyse (a cnncalc bug, please report it): {e.message}"
        ) from None
    skip = set(unused)
    theirs = sorted((n, tuple(p.shape)) for n, p in model.named_parameters() if n not in skip)
    ours = sorted((t.name, t.shape) for t in a.tensors)
    if theirs != ours:
        extra = sorted(set(theirs) - set(ours))[:3]
        missing = sorted(set(ours) - set(theirs))[:3]
        raise ImportFailed(
            f"the traced spec's parameters differ from the model's: model only {extra}, spec only {missing}"
        )
    bufs = sorted(
        (n, tuple(b.shape))
        for n, b in model.named_buffers()
        if n.rsplit(".", 1)[0] in {t.name.rsplit(".", 1)[0] for t in a.buffers}
        or n in {t.name for t in a.buffers}
    )
    if bufs != sorted((t.name, t.shape) for t in a.buffers):
        raise ImportFailed("the traced spec's buffers differ from the model's")
    with torch.no_grad():
        out = model(torch.randn(shape))
    got = [tuple(t.shape) for t in _flatten_out(out)]
    if got != [s for _, s in a.outputs]:
        raise ImportFailed(
            f"the traced spec's outputs {[list(s) for _, s in a.outputs]} differ from the model's {[list(s) for s in got]}"
        )


def import_spec(target: str, shape: tuple[int, ...]) -> str:
    model = load_target(target)
    return import_model(model, shape, target.rsplit(":", 1)[1]).text
