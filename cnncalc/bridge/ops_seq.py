"""The op table's handlers for pointwise functions, einsum and attention as a function
(``F.scaled_dot_product_attention``); tensors made in the forward from sizes are folded (see
``fold``), operations written as several layers are in ``ops_derived``."""

from __future__ import annotations

import operator

import torch
import torch.nn.functional as F

from ..layers.pointwise import OPS
from .fold import hashable as _hashable
from .trace import ImportFailed, Trace, _arg, _where


def attention(t: Trace, node, v, op, target) -> None:
    q, k, val = (_arg(node, i, n) for i, n in enumerate(("query", "key", "value")))
    mask = _arg(node, 3, "attn_mask")
    names = ["attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa"]
    args = {n: t.value(_arg(node, i + 3, n)) for i, n in enumerate(names[1:], 1)}
    args = {n: w for n, w in args.items() if w not in (None, False, 0.0)}
    srcs = [t.ref(x, node) for x in (q, k, val)]
    if mask is not None:
        if not t.is_tensor(mask):
            raise ImportFailed(f"an attention mask that is not a tensor{_where(node)}")
        srcs.append(t.ref(mask, node))
    if node.meta.get("macs") is not None:  # the kernel torch ran on the CPU (its count)
        args["kernel"] = "math" if node.meta["macs"] else "flash"
    t.emit(node, "ScaledDotProductAttention", args, t.fresh("attention"), srcs)


def packed(t: Trace, node, v, op, target) -> None:
    """A named tuple of tensors (GoogLeNet's outputs): its tensors, each by its own name."""
    fields = [*node.args, *node.kwargs.values()]
    t.parts[node] = [n for a in fields if a is not None and t.is_tensor(a) for n in t.refs(a, node)]


def _is_named_tuple(target) -> bool:
    return isinstance(target, type) and issubclass(target, tuple) and hasattr(target, "_fields")


def einsum(t: Trace, node, v, op, target) -> None:
    eq, *xs = node.args
    if len(xs) == 1 and isinstance(xs[0], (list, tuple)):
        xs = list(xs[0])
    if not isinstance(eq, str) or not all(t.is_tensor(x) for x in xs):
        raise ImportFailed(f"einsum with operands that are not tensors{_where(node)}")
    if (
        torch.backends.opt_einsum.is_available()
        and torch.backends.opt_einsum.enabled
        and len(xs) > 2
    ):
        raise ImportFailed(
            f"einsum of {len(xs)} operands in the order opt_einsum picks{_where(node)}"
        )
    t.emit(node, "Einsum", {"equation": eq}, t.fresh("einsum"), [t.ref(x, node) for x in xs])


_POINTWISE = {getattr(torch, op): op for op in OPS if op not in ("pow", "clamp")}
_POINTWISE |= {op: op for op in OPS} | {torch.pow: "pow", operator.pow: "pow", torch.clamp: "clamp"}
_POINTWISE |= {torch.clip: "clamp", "clip": "clamp", operator.neg: "neg", torch.square: "square"}


def pointwise(t: Trace, node, v, op, target) -> None:
    name = _POINTWISE[target]
    x = node.args[0]
    if not t.is_tensor(x):
        raise ImportFailed(
            f"'{name}' of a constant and a tensor has no cnncalc layer{_where(node)}"
        )
    args = {}
    if name == "pow":
        exponent = _arg(node, 1, "exponent")
        if t.is_tensor(exponent):
            raise ImportFailed(f"'pow' with a tensor exponent has no cnncalc layer{_where(node)}")
        args["exponent"] = t.value(exponent)
    if name == "clamp":
        bounds = [_arg(node, 1, "min"), _arg(node, 2, "max")]
        if any(t.is_tensor(b) for b in bounds):  # torch.clamp(x, lo, hi): max then min
            y = t.ref(x, node)
            for b, kind in zip(bounds, ("Maximum", "Minimum")):
                if b is not None:
                    if not t.is_tensor(b):
                        raise ImportFailed(f"'clamp' with one tensor bound{_where(node)}")
                    y = t.emit(None, kind, {}, t.fresh(kind.lower()), [y, t.ref(b, node)])
            t.name_of[node] = y
            return
        args = {"min": t.value(bounds[0]), "max": t.value(bounds[1])}
    t.emit(node, "Pointwise", {"op": name, **args}, t.fresh(name), [t.ref(x, node)])


def extremum(t: Trace, node, v, op, target) -> None:
    name = target if isinstance(target, str) else target.__name__
    kind = "Maximum" if name == "maximum" else "Minimum"
    a, b = node.args[0], _arg(node, 1, "other")
    t.emit(node, kind, {}, t.fresh(name), [t.ref(a, node), t.ref(b, node)])


SEQ_OPS = [
    (lambda op, target: _hashable(target) and target in _POINTWISE, pointwise),
    (lambda op, target: target in (torch.maximum, torch.minimum, "maximum", "minimum"), extremum),
    (lambda op, target: target is torch.einsum, einsum),
    (lambda op, target: op == "call_function" and _is_named_tuple(target), packed),
    (lambda op, target: target is F.scaled_dot_product_attention, attention),
]
