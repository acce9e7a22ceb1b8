"""Operations a spec writes as several layers, each exact in shape and value, or as one layer read
from several nodes (a conv whose weight the forward standardises: StdConv2d): ``F.linear`` with
tensors no Linear owns (a transpose and a product), ``F.normalize`` (a norm, a clamp, a
division), ``var`` and ``std`` (mean, deviation, square, sum, scale), ``repeat`` and
``repeat_interleave`` (views, an expand and a reshape)."""

from __future__ import annotations

import operator

import torch
import torch.nn.functional as F

from .trace import ImportFailed, Trace, _arg, _shape_of, _where


def conv_args(t: Trace, node) -> dict:
    """``F.conv*d(x, w, b, stride, padding, dilation, groups)``'s geometry, as a layer holds it."""
    args = {}
    for i, key, default in (
        (3, "stride", 1),
        (4, "padding", 0),
        (5, "dilation", 1),
        (6, "groups", 1),
    ):
        val = t.value(_arg(node, i, key, default))
        args[key] = val if isinstance(val, (str, int)) else list(val)
    return args


def product(t: Trace, node, x, w, b) -> None:
    """``F.linear(x, w, b)`` with tensors no Linear module owns (a parameter of another name, a
    computed weight): ``x @ w.T`` (+ b), the product FlopCounterMode counts; ``F.conv2d`` with
    such a weight (a blur pool's fixed filter, a buffer): a FunctionalConv2d of them."""
    if node.target is F.conv2d:
        args = conv_args(t, node)
        srcs = [t.ref(a, node) for a in (x, w, b) if a is not None]
        t.emit(node, "FunctionalConv2d", args, t.fresh("conv2d"), srcs)
        return
    wt = t.emit(None, "Transpose", {"dim0": 0, "dim1": 1}, t.fresh("weight_t"), [t.ref(w, node)])
    y = t.emit(
        None if b is not None else node, "MatMul", {}, t.fresh("linear"), [t.ref(x, node), wt]
    )
    if b is not None:
        t.emit(node, "Add", {}, t.fresh("bias"), [y, t.ref(b, node)])


def normalize(t: Trace, node, v, op, target) -> None:
    """``F.normalize(x, p, dim, eps)`` as torch computes it: x over its p-norm along dim (kept),
    clamped to at least eps: a Norm, a clamp and a Div."""
    p, d = t.value(_arg(node, 1, "p", 2.0)), t.value(_arg(node, 2, "dim", 1))
    eps = t.value(_arg(node, 3, "eps", 1e-12))
    x = t.ref(node.args[0], node)
    n = t.emit(None, "Norm", {"p": float(p), "dim": [d], "keepdim": True}, t.fresh("norm"), [x])
    n = t.emit(None, "Pointwise", {"op": "clamp", "min": eps}, t.fresh("clamp"), [n])
    t.emit(node, "Div", {}, t.fresh("normalize"), [x, n])


def variance(t: Trace, node, v, op, target) -> None:
    """``var`` and ``std`` (``dim``, ``correction`` or ``unbiased``, ``keepdim``) as torch
    defines them: the mean of the squared deviations, over ``n - correction``: Mean, Sub,
    square, Sum, a Mul by the constant (a square root for std); no MACs, as FlopCounterMode."""
    name = target if isinstance(target, str) else target.__name__
    src = node.args[0]
    d = t.value(_arg(node, 1, "dim", None))
    kw = {k: t.value(w) for k, w in node.kwargs.items()}
    if isinstance(d, bool):  # var(x, unbiased)
        kw["unbiased"], d = d, None
    if len(node.args) > 2:  # var(x, dim, unbiased, keepdim)
        kw["unbiased"] = t.value(node.args[2])
    if len(node.args) > 3:
        kw["keepdim"] = t.value(node.args[3])
    keep = bool(kw.get("keepdim", False))
    corr = kw.get("correction")
    corr = (1 if kw.get("unbiased", True) else 0) if corr is None else corr
    shape = _shape_of(src)
    ds = list(range(len(shape))) if d is None else [d] if isinstance(d, int) else list(d)
    n = 1
    for k in ds:
        n *= shape[k]
    if n - corr <= 0:
        raise ImportFailed(f"'{name}' over {n} values with correction {corr}{_where(node)}")
    x = t.ref(src, node)
    m = t.emit(None, "Mean", {"dim": ds, "keepdim": True}, t.fresh("mean"), [x])
    dev = t.emit(None, "Sub", {}, t.fresh("deviation"), [x, m])
    sq = t.emit(None, "Pointwise", {"op": "square"}, t.fresh("square"), [dev])
    total = t.emit(None, "Sum", {"dim": ds, "keepdim": keep}, t.fresh("sum"), [sq])
    var = t.emit(
        None if name == "std" else node, "Mul", {"value": 1.0 / (n - corr)}, t.fresh("var"), [total]
    )
    if name == "std":
        t.emit(node, "Pointwise", {"op": "sqrt"}, t.fresh("std"), [var])


def repeat_interleave(t: Trace, node, v, op, target) -> None:
    """``x.repeat_interleave(r, dim)`` with an int ``r``: each element ``r`` times in a row, as
    ``x.unsqueeze(dim + 1).expand(..., r, ...).reshape(...)`` gives it."""
    src = node.args[0]
    r, d = t.value(_arg(node, 1, "repeats")), t.value(_arg(node, 2, "dim", None))
    if type(r) is not int or d is None or node.kwargs.get("output_size") is not None:
        raise ImportFailed(
            f"repeat_interleave other than an int count along a dim has no cnncalc layer"
            f"{_where(node)}"
        )
    x = _shape_of(src)
    d %= len(x)
    y = t.emit(None, "Unsqueeze", {"dim": d + 1}, t.fresh("unsqueeze"), [t.ref(src, node)])
    y = t.emit(None, "Expand", {"shape": [*x[: d + 1], r, *x[d + 1 :]]}, t.fresh("expand"), [y])
    t.emit(node, "Reshape", {"shape": list(v.shape)}, t.fresh("repeat_interleave"), [y])


def repeat(t: Trace, node, v, op, target) -> None:
    """``x.repeat(r0, r1, ...)``: whole copies along each dim, as a reshape to (1, s0, 1, s1,
    ...), an expand to (r0, s0, r1, s1, ...) and a reshape to (r0 * s0, r1 * s1, ...)."""
    src = node.args[0]
    rs = t.value(list(node.args[1:]) if len(node.args) > 2 else node.args[1])
    rs = [rs] if isinstance(rs, int) else list(rs)
    x = _shape_of(src)
    if target in ("tile", torch.tile):  # tile's fewer counts than dims: ones in front
        rs = [1] * (len(x) - len(rs)) + rs
    x = (1,) * (len(rs) - len(x)) + tuple(x)
    pairs = [s for size in x for s in (1, size)]
    y = t.emit(None, "Reshape", {"shape": pairs}, t.fresh("reshape"), [t.ref(src, node)])
    wide = [s for r, size in zip(rs, x) for s in (r, size)]
    y = t.emit(None, "Expand", {"shape": wide}, t.fresh("expand"), [y])
    t.emit(node, "Reshape", {"shape": list(v.shape)}, t.fresh("repeat"), [y])


def std_conv(t: Trace, node, v, op, target) -> None:
    """``F.conv2d(x, standardised(weight), bias, ...)`` (see ``fold.standardised``): one
    StdConv2d layer under the module that owns the weight."""
    w, gain, scale, eps = t.std[node]
    b = _arg(node, 2, "bias")
    owner = t.owned(node, {"weight": w, "bias": b, **({"gain": gain} if gain is not None else {})})
    ws = t.params[w.target].shape
    groups = t.value(_arg(node, 6, "groups", 1))
    args = {
        "in_channels": ws[1] * groups,
        "out_channels": ws[0],
        "kernel_size": list(ws[2:]),
    }
    args |= conv_args(t, node) | {"bias": b is not None, "eps": eps}
    if gain is not None:
        args |= {"gain": True, "scale": scale}
    t.emit(node, "StdConv2d", args, owner, [t.ref(node.args[0], node)])


def extreme(t: Trace, node, v, op, target) -> None:
    """``x.max(dim)`` (and min): its values as an Amax (of the negation, for min); its indices
    have no layer."""
    name = target if isinstance(target, str) else target.__name__
    d = _arg(node, 1, "dim")
    whole = d is None and len(node.args) == 1 and not node.kwargs  # x.max(): of every value
    if not whole and (not isinstance(v, tuple) or not isinstance(d, int)):
        raise ImportFailed(f"'{name}' other than along one dim has no cnncalc layer{_where(node)}")
    keep = bool(t.value(_arg(node, 2, "keepdim", False)))
    x = t.ref(node.args[0], node)
    if whole:
        y = t.emit(None if name == "min" else node, "Amax", {}, t.fresh(name), [x])
        if name == "min":
            t.emit(node, "Pointwise", {"op": "neg"}, t.fresh("min"), [y])
        return
    if name == "min":
        x = t.emit(None, "Pointwise", {"op": "neg"}, t.fresh("neg"), [x])
    y = t.emit(None, "Amax", {"dim": [d], "keepdim": keep}, t.fresh(name), [x])
    if name == "min":
        y = t.emit(None, "Pointwise", {"op": "neg"}, t.fresh("min"), [y])
    t.parts[node] = [y]  # the values; the indices, asked for, have no layer


def write_into(t: Trace, node, v, op, target) -> None:
    """``x[:, :, a:b, c:d] = y`` into a tensor a layer computes (MViTv2's relative positions
    added to all but the class token): x rebuilt around the region, Slices of x on either side
    concatenated with y along each sliced dim; later reads of x read the result."""
    x, key, y = node.args
    key = key if isinstance(key, tuple) else (key,)
    where = f"item assignment into a tensor a layer computes{_where(node)}"
    if not t.is_tensor(y) or any(not isinstance(k, slice) for k in key):
        raise ImportFailed(f"{where}: only slices of it, and a tensor, have cnncalc layers")
    shape = _shape_of(x)
    cuts = []
    for d, k in enumerate(key):
        start, stop, step = (t.value(k.start), t.value(k.stop), t.value(k.step))
        if step not in (None, 1):
            raise ImportFailed(f"{where}: a slice with a step has no cnncalc layer")
        lo, hi, _ = slice(start, stop).indices(shape[d])
        if (lo, hi) != (0, shape[d]):
            cuts.append((d, lo, hi))
    region = list(shape)
    for d, lo, hi in cuts:
        region[d] = hi - lo
    if tuple(_shape_of(y)) != tuple(region):
        raise ImportFailed(f"{where}: a value of {list(_shape_of(y))} for a region {region}")
    t.name_of[x] = _around(t, t.ref(x, node), shape, t.ref(y, node), cuts)


def _around(t: Trace, x: str, shape: tuple, y: str, cuts: list) -> str:
    """x (of ``shape``) with the region ``cuts`` ((dim, lo, hi), outermost first) replaced by
    y."""
    if not cuts:
        return y
    (d, lo, hi), rest = cuts[0], cuts[1:]

    def part(a, b):
        return t.emit(None, "Slice", {"dim": d, "start": a, "end": b}, t.fresh("slice"), [x])

    inner = y
    if rest:
        inner = _around(t, part(lo, hi), (*shape[:d], hi - lo, *shape[d + 1 :]), y, rest)
    parts = ([part(None, lo)] if lo else []) + [inner] + ([part(hi, None)] if hi < shape[d] else [])
    return t.emit(None, "Cat", {"dim": d}, t.fresh("written"), parts) if len(parts) > 1 else inner


DERIVED_OPS = [
    (lambda op, target: target is operator.setitem, write_into),
    (lambda op, target: target is F.normalize, normalize),
    (lambda op, target: target in (torch.var, torch.std, "var", "std"), variance),
    (
        lambda op, target: target in (torch.repeat_interleave, "repeat_interleave"),
        repeat_interleave,
    ),
    (lambda op, target: target in ("repeat", "tile", torch.tile), repeat),
    (lambda op, target: target in ("max", "min", torch.max, torch.min), extreme),
]
