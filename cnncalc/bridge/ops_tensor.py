"""The op table, tensor operations: indexing, arithmetic, products, joins and splits, views and
reshapes, reductions, and the no-ops (copies and casts)."""

from __future__ import annotations

import operator

import torch
from torch import fx

from ..layers.base import prod
from .trace import ImportFailed, Trace, _arg, _op_name, _shape_of, _what, _where

_VIEWS = {"view": "View", "reshape": "Reshape", torch.reshape: "Reshape"}
_VIEWS |= {"view_as": "View", "reshape_as": "Reshape"}  # to the other's shape, as the trace gave


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
    operator.add: "Add",
    operator.iadd: "Add",
    torch.add: "Add",
    "add": "Add",
    "add_": "Add",
    operator.mul: "Mul",
    operator.imul: "Mul",
    torch.mul: "Mul",
    "mul": "Mul",
    "mul_": "Mul",
    operator.sub: "Sub",
    operator.isub: "Sub",
    torch.sub: "Sub",
    "sub": "Sub",
    "sub_": "Sub",
    operator.truediv: "Div",
    operator.itruediv: "Div",
    torch.div: "Div",
    "div": "Div",
    "div_": "Div",
}


_MATMUL = (operator.matmul, torch.matmul, torch.bmm, torch.mm, "matmul", "bmm", "mm")


_TRANSPOSE = ("transpose", torch.transpose, "swapaxes", torch.swapaxes, "swapdims", torch.swapdims)

_NO_OPS = {"contiguous", "clone", "detach", "float", "type_as", "to"}


def _as_flatten(x: tuple, y: tuple):
    for s in range(len(x)):
        for e in range(len(x) - 1, s, -1):
            if y == (*x[:s], prod(x[s : e + 1]), *x[e + 1 :]):
                return s, e - len(x)
    return None


def _count(v) -> int:
    return sum(_count(x) for x in v) if isinstance(v, (tuple, list)) else 1


def _ints(i) -> bool:
    """A list of ints as an index (``x[:, [2, 0, 1]]``: the positions it picks)."""
    return isinstance(i, list) and bool(i) and all(type(j) is int for j in i)


def getitem(t: Trace, node, v, op, target) -> None:
    src = node.args[0]
    if src in t.parts:  # a tuple of inputs, or of the parts a handler made
        parts, k = t.parts[src], t.value(node.args[1])
        if isinstance(parts, list) and not (isinstance(k, int) and -len(parts) <= k < len(parts)):
            raise ImportFailed(f"part {k!r} of '{_what(src)}' has no cnncalc layer{_where(node)}")
        t.name_of[node] = parts[k]
        return
    if src in t.name_of and isinstance(src.meta.get("value"), (tuple, list)):
        k = t.value(node.args[1])
        if not isinstance(k, int):
            raise ImportFailed(f"a slice of a tuple of tensors has no cnncalc layer{_where(node)}")
        parts = src.meta["value"]
        k %= len(parts)
        # the layer's outputs are flat (an LSTM's (output, (h_n, c_n)) is output, h_n, c_n)
        at, n = sum(_count(p) for p in parts[:k]), _count(parts[k])
        if isinstance(parts[k], (tuple, list)):
            t.parts[node] = [f"{t.name_of[src]}:{j}" for j in range(at, at + n)]
        else:
            t.name_of[node] = f"{t.name_of[src]}:{at}"
        return
    key = node.args[1]
    raw = (key,) if _ints(key) else key if isinstance(key, (tuple, list)) else (key,)
    at = [k for k, i in enumerate(raw) if _ints(i)]
    if at == [len(raw) - 1] and all(i == slice(None) for i in raw[:-1]):  # x[:, [2, 0, 1]]
        ks = raw[-1]
        c = t.emit(None, "Constant", {"shape": [len(ks)], "dtype": "int64"}, t.fresh("picks"), [])
        t.emit(node, "Index", {"dim": len(raw) - 1}, t.fresh("index"), [t.ref(src, node), c])
        return
    if any(t.is_tensor(i) for i in raw):  # x[index] or x[:, index]: one index tensor
        *lead, index = raw
        if not all(i == slice(None) for i in lead) or not t.is_tensor(index):
            raise ImportFailed(
                f"indexing with {len(raw)} indices has no cnncalc layer{_where(node)}"
            )
        srcs = [t.ref(src, node), t.ref(index, node)]
        t.emit(node, "Index", {"dim": len(lead)}, t.fresh("index"), srcs)
        return
    idx = t.value(node.args[1])
    idx = list(idx) if isinstance(idx, list) else [idx]
    if any(
        not (i is None or i is Ellipsis or isinstance(i, (int, slice))) or isinstance(i, bool)
        for i in idx
    ):
        raise ImportFailed(f"indexing a tensor with {idx!r} has no cnncalc layer{_where(node)}")
    ndim = len(_shape_of(src))
    if Ellipsis in idx:
        e = idx.index(Ellipsis)
        fill = ndim - sum(1 for i in idx if i is not None and i is not Ellipsis)
        idx = idx[:e] + [slice(None)] * fill + idx[e + 1 :]
    cur, pos = t.ref(src, node), 0
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
        t.name_of[node] = cur
        return
    for type_, args in steps:
        cur = t.emit(None, type_, args, t.fresh(type_.lower()), [cur])
    t.name_of[node] = cur


def arith(t: Trace, node, v, op, target) -> None:
    what = _op_name(target)
    type_ = _ARITH[target]
    a0, a1 = node.args[0], node.args[1] if len(node.args) > 1 else node.kwargs.get("other")
    if node.kwargs.get("alpha", 1) != 1 or node.kwargs.get("rounding_mode") is not None:
        raise ImportFailed(f"{what} with alpha or rounding_mode has no cnncalc layer{_where(node)}")
    tensors = [a for a in (a0, a1) if t.is_tensor(a)]
    if len(tensors) == 2:
        t.emit(node, type_, {}, t.fresh(type_.lower()), [t.ref(a0, node), t.ref(a1, node)])
    elif t.is_tensor(a0) or (type_ not in ("Div", "Sub") and t.is_tensor(a1)):
        x, c = (a0, a1) if t.is_tensor(a0) else (a1, a0)
        t.emit(node, type_, {"value": t.value(c)}, t.fresh(type_.lower()), [t.ref(x, node)])
    elif t.is_tensor(a1):  # c - x as -x + c, c / x as (1 / x) * c
        op, then = ("neg", "Add") if type_ == "Sub" else ("reciprocal", "Mul")
        y = t.emit(None, "Pointwise", {"op": op}, t.fresh(op), [t.ref(a1, node)])
        value = t.value(a0)
        if value == 1 and then == "Mul":
            t.name_of[node] = y
        else:
            t.emit(node, then, {"value": value}, t.fresh(type_.lower()), [y])
    else:
        raise ImportFailed(f"'{what}' of no tensor has no cnncalc layer{_where(node)}")


def addcmul(t: Trace, node, v, op, target) -> None:
    a0, b0, c0 = node.args[:3]
    if t.value(node.kwargs.get("value", 1)) != 1:
        raise ImportFailed(f"addcmul with a value other than 1 has no cnncalc layer{_where(node)}")
    prod_ = t.emit(None, "Mul", {}, t.fresh("mul"), [t.ref(b0, node), t.ref(c0, node)])
    t.emit(node, "Add", {}, t.fresh("add"), [t.ref(a0, node), prod_])


def matmul(t: Trace, node, v, op, target) -> None:
    t.emit(
        node,
        "MatMul",
        {},
        t.fresh("matmul"),
        [t.ref(node.args[0], node), t.ref(node.args[1], node)],
    )


def stack(t: Trace, node, v, op, target) -> None:
    dim = t.value(_arg(node, 1, "dim", 0))
    t.emit(node, "Stack", {"dim": dim}, t.fresh("stack"), [t.ref(x, node) for x in node.args[0]])


def expand(t: Trace, node, v, op, target) -> None:
    src = node.args[0]
    x, y = _shape_of(src), v.shape
    if x == y:
        t.name_of[node] = t.ref(src, node)
        return
    out = [
        -1 if i >= len(y) - len(x) and x[i - len(y) + len(x)] == s else s for i, s in enumerate(y)
    ]
    t.emit(node, "Expand", {"shape": out}, t.fresh("expand"), [t.ref(src, node)])


def norm(t: Trace, node, v, op, target) -> None:
    p_ = t.value(_arg(node, 1, "p", 2.0))
    if not isinstance(p_, (int, float)) or isinstance(p_, bool):
        raise ImportFailed(f"norm with p={p_!r} has no cnncalc layer{_where(node)}")
    dim = t.value(_arg(node, 2, "dim"))
    keep = t.value(_arg(node, 3, "keepdim", False))
    t.emit(
        node,
        "Norm",
        {"p": float(p_), "dim": dim, "keepdim": keep or None},
        t.fresh("norm"),
        [t.ref(node.args[0], node)],
    )


def cat(t: Trace, node, v, op, target) -> None:
    tensors = [x for x in node.args[0] if x not in t.empty]  # an empty part adds nothing
    dim = t.value(_arg(node, 1, "dim", 0))
    if len(tensors) == 1:
        t.name_of[node] = t.ref(tensors[0], node)
        return
    t.emit(node, "Cat", {"dim": dim}, t.fresh("cat"), [t.ref(x, node) for x in tensors])


def unbind(t: Trace, node, v, op, target) -> None:
    dim = t.value(_arg(node, 1, "dim", 0))
    t.emit(node, "Unbind", {"dim": dim}, t.fresh("unbind"), [t.ref(node.args[0], node)])


def split(t: Trace, node, v, op, target) -> None:
    type_ = _SPLIT[target]
    x = node.args[0]
    key = "split_size_or_sections" if type_ == "Split" else "chunks"
    alt = "split_size" if type_ == "Split" else "chunks"
    size = t.value(_arg(node, 1, key, node.kwargs.get(alt)))
    dim = t.value(_arg(node, 2, "dim", 0))
    t.emit(node, type_, {key: size, "dim": dim}, t.fresh(type_.lower()), [t.ref(x, node)])


def view(t: Trace, node, v, op, target) -> None:
    src = node.args[0]
    x, y = _shape_of(src), v.shape
    if y == x:
        t.name_of[node] = t.ref(src, node)
        return
    flat = _as_flatten(x, y)
    if flat is not None:
        t.emit(
            node,
            "Flatten",
            {"start_dim": flat[0], "end_dim": flat[1]},
            t.fresh("flatten"),
            [t.ref(src, node)],
        )
        return
    out = list(y)
    if x and y and y[0] == x[0] and len(y) > 1:
        out[0] = -1  # the batch dim, written so that another batch size works
    type_ = _VIEWS.get(target, "Reshape")
    t.emit(node, type_, {"shape": out}, t.fresh(type_.lower()), [t.ref(src, node)])


def permute(t: Trace, node, v, op, target) -> None:
    dims = node.args[1:] if target == "permute" and len(node.args) > 2 else _arg(node, 1, "dims")
    t.emit(
        node,
        "Permute",
        {"dims": [int(d) for d in t.value(dims)]},
        t.fresh("permute"),
        [t.ref(node.args[0], node)],
    )


def transpose(t: Trace, node, v, op, target) -> None:
    d0, d1 = t.value(_arg(node, 1, "dim0")), t.value(_arg(node, 2, "dim1"))
    t.emit(
        node,
        "Transpose",
        {"dim0": d0, "dim1": d1},
        t.fresh("transpose"),
        [t.ref(node.args[0], node)],
    )


def squeeze(t: Trace, node, v, op, target) -> None:
    type_ = _SQUEEZE[target]
    dim = t.value(_arg(node, 1, "dim"))
    t.emit(node, type_, {"dim": dim}, t.fresh(type_.lower()), [t.ref(node.args[0], node)])


def reduce(t: Trace, node, v, op, target) -> None:
    type_ = _REDUCE[target]
    dim = t.value(_arg(node, 1, "dim"))
    keep = t.value(_arg(node, 2, "keepdim", False))
    t.emit(
        node,
        type_,
        {"dim": dim, "keepdim": keep or None},
        t.fresh(type_.lower()),
        [t.ref(node.args[0], node)],
    )


def no_op(t: Trace, node, v, op, target) -> None:
    src = node.args[0]
    if isinstance(src, fx.Node) and src.op == "get_attr":  # a parameter's copy: read as it
        t.alias[node] = src
    elif target == "contiguous" and not src.meta["value"].contiguous:
        t.emit(node, "Contiguous", {}, t.fresh("contiguous"), [t.ref(src, node)])
    else:
        t.name_of[node] = t.ref(src, node)


def roll(t: Trace, node, v, op, target) -> None:
    shifts, ds = t.value(_arg(node, 1, "shifts")), t.value(_arg(node, 2, "dims", None))
    args = {"shifts": shifts, "dims": [ds] if isinstance(ds, int) else ds or None}
    t.emit(node, "Roll", args, t.fresh("roll"), [t.ref(node.args[0], node)])


def unfold(t: Trace, node, v, op, target) -> None:
    """``x.unfold(dimension, size, step)`` (the method; ``F.unfold`` is the Unfold kind)."""
    d, n, s = (t.value(_arg(node, i, k)) for i, k in ((1, "dimension"), (2, "size"), (3, "step")))
    args = {"dimension": d, "size": n, "step": s}
    t.emit(node, "TensorUnfold", args, t.fresh("unfold"), [t.ref(node.args[0], node)])


TENSOR_OPS = [
    (lambda op, target: op == "call_function" and target is operator.getitem, getitem),
    (lambda op, target: target in _ARITH, arith),
    (lambda op, target: target in (torch.addcmul, "addcmul"), addcmul),
    (lambda op, target: target in _MATMUL, matmul),
    (lambda op, target: op == "call_function" and target is torch.stack, stack),
    (lambda op, target: target in ("expand", "expand_as"), expand),
    (lambda op, target: target in ("norm", torch.norm), norm),
    (lambda op, target: op == "call_function" and target is torch.cat, cat),
    (lambda op, target: target in ("unbind", torch.unbind), unbind),
    (lambda op, target: target in _SPLIT, split),
    (lambda op, target: target in _VIEWS or target in ("flatten", torch.flatten), view),
    (lambda op, target: target in ("permute", torch.permute), permute),
    (lambda op, target: target in _TRANSPOSE, transpose),
    (lambda op, target: target in _SQUEEZE, squeeze),
    (lambda op, target: target in _REDUCE, reduce),
    (lambda op, target: target in _NO_OPS, no_op),
    (lambda op, target: target in (torch.roll, "roll"), roll),
    (lambda op, target: op == "call_method" and target == "unfold", unfold),
]
