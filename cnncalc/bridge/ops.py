"""The op table, layers with arguments and parameters: module calls, the functional forms of
conv, linear and the norms, pads, interpolation and activations. Each handler adds the layers of one
operation to the :class:`~cnncalc.bridge.trace.Trace`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import fx, nn

from ..layers import REGISTRY, REQUIRED
from ..layers.base import arity
from .ops_derived import conv_args, product, std_conv
from .trace import ImportFailed, Trace, _arg, _base_kind, _plain, _shape_of, _where


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
    F.unfold: ("Unfold", ["kernel_size", "dilation", "padding", "stride"]),
    F.fold: ("Fold", ["output_size", "kernel_size", "dilation", "padding", "stride"]),
    F.pixel_unshuffle: ("PixelUnshuffle", ["downscale_factor"]),
}


def _module_args(kind, sub: nn.Module) -> dict:
    args = {}
    for key in kind.args:
        if key == "bias":
            b = getattr(sub, "bias", getattr(sub, "in_proj_bias", None))
            args[key] = b if isinstance(b, bool) else b is not None
        elif key == "add_bias_kv":
            args[key] = getattr(sub, "bias_k", None) is not None
        elif key == "init" or not hasattr(sub, key):
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
    """Drop what equals torch's default, so the spec reads like hand-written code; sizes stay, to
    be checked."""
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


_FUNC_MODULE = {F.linear: "Linear", F.conv1d: "Conv1d", F.conv2d: "Conv2d", F.conv3d: "Conv3d"}


_NORM_FUNCS = {F.batch_norm: "BatchNorm", F.layer_norm: "LayerNorm", F.group_norm: "GroupNorm"}
_NORM_FUNCS[F.rms_norm] = "RMSNorm"


_METHOD_ACT = {
    "relu": "ReLU",
    "relu_": "ReLU",
    "sigmoid": "Sigmoid",
    "sigmoid_": "Sigmoid",
    "tanh": "Tanh",
    "tanh_": "Tanh",
    "softmax": "Softmax",
    "log_softmax": "LogSoftmax",
}


def call_module(t: Trace, node, v, op, target) -> None:
    sub = t.gm.get_submodule(target)
    type_ = _base_kind(sub)
    has_tensors = any(True for _ in sub.parameters(recurse=False)) or any(
        True for _ in sub.buffers(recurse=False)
    )
    shares = None
    if target in t.called:
        name = t.fresh(target)
        shares = t.first_call.get(target) if has_tensors else None
    else:
        t.called.add(target)
        name = target
        t.used.add(name)
    kind = REGISTRY[type_]
    args = _module_args(kind, sub)
    args.update(_forward_args(t, type_, node))
    pruned = sorted(
        n[: -len("_orig")]
        for n, _ in sub.named_parameters(recurse=False)
        if n.endswith("_orig") and hasattr(sub, n[: -len("_orig")] + "_mask")
    )
    if pruned:
        args["pruned"] = pruned
    tied = {
        n: t.canonical[id(p)]
        for n, p in sub.named_parameters(recurse=False, remove_duplicate=False)
        if t.canonical.get(id(p), f"{target}.{n}") != f"{target}.{n}"
    }
    if tied and shares is None:  # another module's tensor (a decoder tied to the embedding)
        args["tied"] = tied
    frozen = [n for n, p in sub.named_parameters(recurse=False) if not p.requires_grad]
    if frozen and len(frozen) == len(list(sub.parameters(recurse=False))):
        args["trainable"] = False
    elif frozen:
        args["frozen"] = frozen
    if shares is not None:
        args = {"shares": shares, **args}
    t.first_call.setdefault(target, name)
    lo, hi = arity(kind)
    flat = [a for a in _leaves((node.args, tuple(node.kwargs.values()))) if t.is_tensor(a)]
    srcs = [n for a in flat for n in t.refs(a, node)]
    t.emit(node, type_, args, name, srcs if hi is None or hi > 1 else srcs[:1])


def _leaves(v) -> list:
    """The nodes of a call's arguments, in order, repeats kept (``attn(x, x, x)``)."""
    if isinstance(v, (tuple, list)):
        return [x for a in v for x in _leaves(a)]
    return [v]


def _forward_args(t: Trace, type_: str, node) -> dict:
    """Arguments of a module's forward that a layer kind holds (MultiheadAttention's
    ``need_weights``, MaxUnpool's ``output_size``); the masks it cannot hold are refused."""
    if type_.startswith("MaxUnpool"):
        size = _arg(node, 2, "output_size")
        return {} if size is None else {"output_size": list(t.value(size))}
    if type_ != "MultiheadAttention":
        return {}
    names = ["query", "key", "value", "key_padding_mask", "need_weights", "attn_mask"]
    names += ["average_attn_weights", "is_causal"]
    got = dict(zip(names, node.args)) | dict(node.kwargs)
    for k in ("key_padding_mask", "attn_mask"):
        if got.get(k) is not None:
            raise ImportFailed(f"MultiheadAttention with a {k} has no cnncalc layer{_where(node)}")
    out = {}
    for k in ("need_weights", "average_attn_weights"):
        if k in got and got[k] is not True:
            out[k] = bool(got[k])
    if node.meta.get("macs") == 0:  # torch ran its fused fast path: FlopCounterMode saw nothing
        out["fast_path"] = True
    m = t.gm.get_submodule(node.target)
    if m.training and m.dropout > 0:  # attention dropped out: torch's math kernel, counted
        out["training"] = True
    return out


def functional_layer(t: Trace, node, v, op, target) -> None:
    if node in t.std:
        return std_conv(t, node, v, op, target)
    type_ = _FUNC_MODULE[target]
    x, w, b = node.args[0], _arg(node, 1, "weight"), _arg(node, 2, "bias")
    added = None  # a bias the forward computes (BEiT's cat of q, k and v biases): added after
    if type_ == "Linear" and isinstance(b, fx.Node) and t.alias.get(b, b).op != "get_attr":
        added, b = b, None
    try:
        owner = t.owned(node, {"weight": w, "bias": b})
    except ImportFailed:
        if type_ not in ("Linear", "Conv2d") or not all(t.is_tensor(a) for a in (x, w, b) if a):
            raise
        return product(t, node, x, w, b if added is None else added)
    ws = t.params[w.target].shape
    if type_ == "Linear":
        args = {"in_features": ws[1], "out_features": ws[0], "bias": b is not None}
    else:
        args = {
            "in_channels": ws[1] * t.value(_arg(node, 6, "groups", 1)),
            "out_channels": ws[0],
            "kernel_size": list(ws[2:]),
        }
        args |= conv_args(t, node) | {"bias": b is not None}
        args = {k: v for k, v in args.items() if k in REGISTRY[type_].args}
    args = _without_defaults(REGISTRY[type_], args)
    if added is None:
        t.emit(node, type_, args, owner, [t.ref(x, node)])
    else:  # x @ W.T + b: the same product (FlopCounterMode counts no bias), then the sum
        y = t.emit(None, type_, args, owner, [t.ref(x, node)])
        t.emit(node, "Add", {}, t.fresh("bias"), [y, t.ref(added, node)])


def _norm_owner(t: Trace, node, tensors: dict, base: str) -> str:
    """The module a functional norm's parameters belong to; a norm without any: a new name."""
    if all(a is None for a in tensors.values()):
        return t.fresh(base)
    return t.owned(node, tensors)


def functional_norm(t: Trace, node, v, op, target) -> None:
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
        owner = t.owned(node, {"running_mean": rm, "running_var": rv, "weight": w, "bias": b})
        if t.value(_arg(node, 5, "training", False)):
            raise ImportFailed(f"batch norm in training mode in an eval forward{_where(node)}")
        n = len(_shape_of(x)) - 2 if len(_shape_of(x)) > 2 else 1
        type_ = f"BatchNorm{n}d"
        mod = t.gm.get_submodule(owner)
        args = {
            "num_features": _shape_of(x)[1],
            "eps": t.value(_arg(node, 7, "eps", 1e-5)),
            "momentum": getattr(mod, "momentum", 0.1),
            "affine": w is not None,
            "track_running_stats": rm is not None,
        }
        if rm is not None and f"{owner}.num_batches_tracked" not in t.buffers:
            raise ImportFailed(
                f"batch norm statistics of '{owner}' without num_batches_tracked{_where(node)}"
            )
    elif kind == "LayerNorm":
        w, b = _arg(node, 2, "weight"), _arg(node, 3, "bias")
        owner = _norm_owner(t, node, {"weight": w, "bias": b}, "layer_norm")
        type_ = "LayerNorm"
        args = {
            "normalized_shape": list(t.value(node.args[1])),
            "eps": t.value(_arg(node, 4, "eps", 1e-5)),
            "elementwise_affine": w is not None,
            "bias": b is not None,
        }
    elif kind == "RMSNorm":
        w = _arg(node, 2, "weight")
        owner = _norm_owner(t, node, {"weight": w}, "rms_norm")
        type_ = "RMSNorm"
        args = {
            "normalized_shape": list(t.value(node.args[1])),
            "eps": t.value(_arg(node, 3, "eps", None)),
            "elementwise_affine": w is not None,
        }
    else:
        w, b = _arg(node, 2, "weight"), _arg(node, 3, "bias")
        owner = t.owned(node, {"weight": w, "bias": b})
        type_ = "GroupNorm"
        args = {
            "num_groups": t.value(node.args[1]),
            "eps": t.value(_arg(node, 4, "eps", 1e-5)),
            "affine": w is not None,
            "bias": b is not None or w is None,
        }
    t.emit(node, type_, _without_defaults(REGISTRY[type_], args), owner, [t.ref(x, node)])


def pad(t: Trace, node, v, op, target) -> None:
    pad = _plain(t.value(node.args[1] if len(node.args) > 1 else node.kwargs["pad"]))
    mode = _arg(node, 2, "mode", "constant")
    fill = _arg(node, 3, "value", 0.0)
    n = len(pad) // 2
    type_ = {
        "constant": f"ConstantPad{n}d",
        "reflect": f"ReflectionPad{n}d",
        "replicate": f"ReplicationPad{n}d",
    }.get(mode)
    if type_ is None or n not in (1, 2, 3):
        raise ImportFailed(f"F.pad with mode {mode!r} over {n} dims is not supported{_where(node)}")
    args = {"padding": pad, **({"value": fill or 0.0} if mode == "constant" else {})}
    if mode == "constant" and not fill:
        type_, args = f"ZeroPad{n}d", {"padding": pad}
    t.emit(node, type_, args, t.fresh("pad"), [t.ref(node.args[0], node)])


def interpolate(t: Trace, node, v, op, target) -> None:
    names = ["size", "scale_factor", "mode", "align_corners", "recompute_scale_factor"]
    args = {k: t.value(_arg(node, i + 1, k)) for i, k in enumerate(names)}
    args = {k: w for k, w in args.items() if w is not None}
    if t.value(_arg(node, 6, "antialias", False)):
        args["antialias"] = True
    t.emit(node, "Upsample", args, t.fresh("interpolate"), [t.ref(node.args[0], node)])


def function(t: Trace, node, v, op, target) -> None:
    type_, names = _FUNCS[target]
    args = dict(zip(names, (t.value(w) for w in node.args[1:])))
    args.update({k: t.value(w) for k, w in node.kwargs.items() if k in names})
    if (
        type_ == "Dropout"
        and t.value(node.kwargs.get("training", len(node.args) > 2 and node.args[2])) is False
    ):
        type_, args = "Identity", {}
    if type_ == "GELU" and "approximate" in node.kwargs:
        args["approximate"] = node.kwargs["approximate"]
    t.emit(
        node,
        type_,
        _without_defaults(REGISTRY[type_], args),
        t.fresh(target.__name__),
        [t.ref(node.args[0], node)],
    )


def method_activation(t: Trace, node, v, op, target) -> None:
    type_ = _METHOD_ACT[target]
    args = {"dim": t.value(_arg(node, 1, "dim"))} if type_ in ("Softmax", "LogSoftmax") else {}
    t.emit(node, type_, args, t.fresh(target.rstrip("_")), [t.ref(node.args[0], node)])


LAYER_OPS = [
    (lambda op, target: op == "call_module", call_module),
    (lambda op, target: op == "call_function" and target in _FUNC_MODULE, functional_layer),
    (lambda op, target: op == "call_function" and target in _NORM_FUNCS, functional_norm),
    (lambda op, target: op == "call_function" and target is F.pad, pad),
    (lambda op, target: op == "call_function" and target is F.interpolate, interpolate),
    (lambda op, target: op == "call_function" and target in _FUNCS, function),
    (lambda op, target: op == "call_method" and target in _METHOD_ACT, method_activation),
]
