"""The walk over a traced graph (the tracer is in ``tracer``): :class:`Trace` holds what the walk
has made so far (the layers, the spec name of every tensor) and the helpers an operation's handler
uses. The handlers, one per operation, are the op tables in ``ops``, ``ops_tensor``, ``ops_seq``."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import fx, nn

from ..diagnostics import cut
from ..layers import REGISTRY
from .fold import MAKERS, METHODS, is_static, standardised, value_writes, writes_into


class ImportFailed(Exception):
    pass


def _plain(v):
    if isinstance(v, torch.Size):
        return [int(x) for x in v]
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    if isinstance(v, torch.Tensor):
        raise ImportFailed("a tensor where a number was expected")
    return v


def own_code(path: str) -> bool:
    """Whether a frame's file is the model's own code: not torch's, not cnncalc's."""
    path = path.replace("\\", "/")
    tail = path.split("site-packages/")[-1]
    return not (tail.startswith(("torch/", "cnncalc/")) or "/cnncalc/bridge/" in path)


def _where(node) -> str:
    """`` at file.py:LINE (code)``: the innermost frame of the model's own code (not torch's, not
    cnncalc's),
    i.e. the line of the operation itself rather than the model's outer ``forward``."""
    lines = (node.stack_trace or "").splitlines()
    found = ""
    for i, line in enumerate(lines):
        m = re.search(r'File "([^"]+)", line (\d+)', line)
        if not m:
            continue
        if not own_code(m.group(1)):
            continue
        code = lines[i + 1].strip() if i + 1 < len(lines) else ""
        found = f" at {Path(m.group(1)).name}:{m.group(2)} ({code[:120]})"
    return found


_LEAF_EXTRA = {
    "Permute",
    "StochasticDepth",
}  # torchvision.ops modules with a layer kind of the same name


def _base_kind(m: nn.Module) -> str | None:
    """The layer kind a module call is: its torch.nn class, or the torch.nn class whose forward
    it keeps."""
    for cls in type(m).__mro__:
        if cls.__module__.startswith("torch.nn") and cls.__name__ in REGISTRY:
            return cls.__name__ if type(m).forward is cls.forward else None
        if cls.__name__ in _LEAF_EXTRA and cls.__module__.startswith("torchvision"):
            return cls.__name__
    return None


class _T:
    """A tensor seen in the trace: its shape and whether it was contiguous."""

    __slots__ = ("shape", "contiguous", "dtype")

    def __init__(self, t):
        self.shape, self.contiguous = tuple(int(s) for s in t.shape), t.is_contiguous()
        self.dtype = str(t.dtype).removeprefix("torch.")


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


def _arg(node, i: int, key: str, default=None):
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(key, default)


def _flatten_out(out) -> list:
    if isinstance(out, dict):
        return [x for v in out.values() for x in _flatten_out(v)]
    if isinstance(out, (tuple, list)):
        return [x for v in out for x in _flatten_out(v)]
    return [out] if out is not None else []


def _what(node) -> str:
    t = node.target
    return t if isinstance(t, str) else getattr(t, "__name__", str(t))


def _line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return cut(text[0] if text else "", 200)


def _op_name(target) -> str:
    return target if isinstance(target, str) else getattr(target, "__name__", str(target))


class Trace:
    """The walk over a traced graph: the layers so far and the spec name of each tensor node."""

    def __init__(self, model: nn.Module, gm: fx.GraphModule):
        self.gm = gm
        self.layers: list[dict] = []
        self.name_of: dict = {}  # node -> the spec name of its tensor (or of its tuple of tensors)
        self.made: dict = {}  # node -> the names of the layers made for it
        self.used: set[str] = set()
        self.called: set[str] = set()
        self.input_dtype, self.input_shape = "float32", ()
        self.first_call: dict[str, str] = {}  # module -> the layer of its first call
        self.parts: dict = {}  # node of a tuple of inputs -> the spec names of its tensors
        self.params = dict(model.named_parameters())
        self.canonical = {id(p): n for n, p in self.params.items()}  # a tied tensor's one name
        self.buffers = dict(model.named_buffers())
        self.static: set = set()  # nodes of tensors made from sizes alone (folded, see fold)
        self.empty: set = set()  # nodes of tensors without elements: a cat passes them over
        self.std: dict = {}  # conv nodes whose weight is standardised -> (see fold.standardised)
        self.alias: dict = {}  # a copy of a parameter or buffer (``.clone()``) -> its node
        self.notes: list[str] = []  # what the spec does not say of the model, as comments

    scope: str | None = None  # the module whose forward the current operation is in

    def fresh(self, base: str) -> str:
        """A new layer name: ``base``, in the scope of the module whose forward makes it
        (``layer1.0.add``), so that folding by depth keeps a block's operations in it."""
        base = base.replace(":", "_")
        if self.scope and "." not in base:
            base = f"{self.scope}.{base}"
        name, n = base, 0
        while name in self.used:
            n += 1
            name = f"{base}_{n}"
        self.used.add(name)
        return name

    def emit(self, node, type_: str, args: dict, name: str, srcs: list[str]):
        layer = {"name": name, "type": type_}
        prev = self.layers[-1]["name"] if self.layers else "input"
        if srcs and srcs != [prev]:
            layer["from"] = srcs[0] if len(srcs) == 1 else srcs
        layer.update({k: v for k, v in args.items() if v is not None})
        self.layers.append(layer)
        if node is not None:
            self.name_of[node] = name
            self.made.setdefault(node, []).append(name)
        return name

    def value(self, a):
        """A node argument as a plain value (sizes read from the trace); tensors are not values."""
        if isinstance(a, fx.Node):
            if a in self.name_of or isinstance(a.meta.get("value"), _T) or a.op == "get_attr":
                what = f" ('{a.target}')" if a.op == "get_attr" else ""
                raise ImportFailed(f"a tensor{what} where a number was expected{_where(a)}")
            return _plain(a.meta.get("value"))
        if isinstance(a, (list, tuple)):
            return [self.value(x) for x in a]
        if isinstance(a, slice):
            return slice(self.value(a.start), self.value(a.stop), self.value(a.step))
        return _plain(a)

    def ref(self, a, node) -> str:
        """The spec name of a tensor argument; a parameter read directly becomes a Parameter
        layer."""
        a = self.alias.get(a, a)
        if a in self.name_of:
            return self.name_of[a]
        if a in self.empty:
            raise ImportFailed(
                f"'{_what(node)}' of a tensor with no elements {list(a.meta['value'].shape)}, "
                f"which cnncalc does not take{_where(node)}"
            )
        if a in self.static and isinstance(a.meta.get("value"), _T):
            v = a.meta["value"]
            args = {"shape": list(v.shape), "dtype": v.dtype}
            made = a.target in MAKERS or a.target in METHODS  # named so; a result "constant"
            return self.emit(a, "Constant", args, self.fresh(_what(a) if made else "constant"), [])
        if isinstance(a, fx.Node) and a.op == "get_attr":
            if a.target in self.params:
                if a.target in self.used:
                    if any(layer["name"] == a.target for layer in self.layers):
                        self.name_of[a] = a.target
                        return a.target
                    raise ImportFailed(
                        f"the parameter '{a.target}' is used twice, which a spec cannot "
                        f"express{_where(node)}"
                    )
                self.used.add(a.target)
                return self.emit(
                    a, "Parameter", {"shape": list(self.params[a.target].shape)}, a.target, []
                )
            if a.target in self.buffers:  # a positional table, a fixed filter: a Buffer layer
                if a.target in self.used:
                    self.name_of[a] = a.target
                    return a.target
                self.used.add(a.target)
                b = self.buffers[a.target]
                args = {"shape": list(b.shape), "dtype": str(b.dtype).removeprefix("torch.")}
                return self.emit(a, "Buffer", args, a.target, [])
            raise ImportFailed(
                f"the forward reads the tensor '{a.target}', which is not a parameter{_where(node)}"
            )
        raise ImportFailed(f"'{_what(node)}' takes a tensor no layer gives{_where(node)}")

    def source(self, arg: str, v) -> str:
        """A tensor input: the spec's ``input`` if it is the first, else an ``Input`` layer."""
        if "input" not in self.used:
            self.used.add("input")
            self.input_dtype, self.input_shape = v.dtype, v.shape
            return "input"
        return self.emit(
            None, "Input", {"shape": list(v.shape), "dtype": v.dtype}, self.fresh(arg), []
        )

    def refs(self, a, node) -> list[str]:
        """The spec names of a tensor argument, or of each tensor of a tuple argument."""
        if a in self.parts:
            p = self.parts[a]
            return list(p.values() if isinstance(p, dict) else p)
        v = a.meta.get("value") if isinstance(a, fx.Node) else None
        if isinstance(v, (tuple, list)) and a in self.name_of:
            return [f"{self.name_of[a]}:{k}" for k in range(len(v))]
        return [self.ref(a, node)]

    def is_tensor(self, a) -> bool:
        return isinstance(a, fx.Node) and (
            a in self.name_of
            or a in self.parts
            or isinstance(a.meta.get("value"), _T)
            or a.op == "get_attr"
        )

    def owned(self, node, tensors: dict) -> str:
        """The module that owns the parameters a functional call uses (``weight``, ``bias``,
        ...)."""
        owner = None
        for attr, a in tensors.items():
            if a is None:
                continue
            a = self.alias.get(a, a)
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
        if owner in self.called:
            raise ImportFailed(
                f"module '{owner}' is used twice (shared weights), which a spec cannot "
                f"express{_where(node)}"
            )
        self.called.add(owner)
        self.used.add(owner)
        return owner


def _placeholder(t: Trace, node, v) -> None:
    """The first tensor input is the spec's ``input``; the others (and the tensors of a tuple
    input) are ``Input`` layers named after the forward's argument."""
    arg = node.target.lstrip("*")
    if isinstance(v, _T):
        t.name_of[node] = t.source(arg, v)
    elif isinstance(v, (tuple, list)) and v and all(isinstance(x, _T) for x in v):
        t.parts[node] = [t.source(arg, x) for x in v]
    elif isinstance(v, dict) and v and all(isinstance(x, _T) for x in v.values()):
        t.parts[node] = {k: t.source(f"{arg}_{k}", x) for k, x in v.items()}


def walk(t: Trace, ops: list) -> tuple[list[dict], list[str], list[str]]:
    """Each node to layers by the first handler of ``ops`` whose test takes its (op, target):
    (layers, outputs, parameters the forward never uses)."""
    skip, copied = value_writes(t.gm.graph)
    t.std, passed = standardised(t.gm.graph)
    skip |= passed
    if copied:
        t.notes.append(
            f"values written (zero_, fill_) into copies of {len(copied)} parameters in the "
            "forward: "
            f"{', '.join(copied[:4])}" + (", ..." if len(copied) > 4 else "")
        )
    for node in t.gm.graph.nodes:
        if node in skip:
            continue
        v = node.meta.get("value")
        op, target = node.op, node.target
        if op == "placeholder":
            _placeholder(t, node, v)
            continue
        if op == "output":
            outs = _flatten_out(node.args[0])
            if not outs or not all(t.is_tensor(o) for o in outs):
                raise ImportFailed(
                    "the model must return tensors (one, or a tuple, list or dict of "
                    f"them){_where(node)}"
                )
            names = [n for o in outs for n in t.refs(o, node)]
            if len(names) == 1 and t.layers and names[0] != t.layers[-1]["name"]:
                t.emit(None, "Identity", {}, t.fresh("output"), names)
                names = [t.layers[-1]["name"]]
            continue
        if op == "get_attr":
            if target not in t.params and target not in t.buffers:
                t.static.add(node)  # a tensor the forward made eagerly (fx's constant)
            continue  # read where it is used
        if writes_into(node) and is_static(node, t.is_tensor, t.static):
            continue  # into a tensor made from sizes: its shape stays
        if writes_into(node):
            pass  # into a tensor a layer computes: its handler (ops_derived.write_into)
        elif not isinstance(v, (_T, tuple, list)) or (
            isinstance(v, (tuple, list)) and not any(isinstance(x, _T) for x in v)
        ):
            continue  # sizes, dims, asserts: plain values, read where they are used
        if isinstance(v, _T) and 0 in v.shape:
            t.empty.add(node)  # a part of no elements (EVA's prefix tokens when there are none)
            continue
        if is_static(node, t.is_tensor, t.static):
            t.static.add(node)  # a Constant where a layer reads it
            continue
        stack = node.meta.get("nn_module_stack") if op != "call_module" else None
        t.scope = next(reversed(stack)) if stack else None
        for match, handle in ops:
            if match(op, target):
                try:
                    handle(t, node, v, op, target)
                except ImportFailed as e:  # a refusal that does not say where: the node's line
                    if not node.stack_trace or re.search(r" at \S+:\d+ \(", str(e)):
                        raise
                    raise ImportFailed(f"{e} in '{_op_name(target)}'{_where(node)}") from None
                break
        else:
            raise ImportFailed(
                f"the operation '{_op_name(target)}' has no cnncalc layer{_where(node)}"
            )
    if not t.layers:
        raise ImportFailed("the model has no layers")
    out_nodes = _flatten_out(next(n for n in t.gm.graph.nodes if n.op == "output").args[0])
    outputs = [n for o in out_nodes for n in (t.parts[o] if o in t.parts else [t.name_of[o]])]
    if len(outputs) == 1:
        outputs = [t.layers[-1]["name"]]

    def used(n: str) -> bool:  # the tensor, or a module that holds it (at any depth), is used
        parts = n.split(".")
        return any(".".join(parts[:k]) in t.used for k in range(1, len(parts) + 1))

    unused = [n for n in t.params if not used(n)]
    return t.layers, outputs, unused
