"""A torch model -> a spec: traced with torch.fx, one layer per module call or supported function.

Module calls keep their qualified names (so parameter names match), functions become layers
named after them, and ``from`` is written where the data does not come from the layer above.
What a spec cannot express is an error naming the operation and its source line. The tracer is in
``trace``; what each operation becomes, in the op tables of ``ops`` and ``ops_tensor``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import re
import sys
import traceback
from pathlib import Path

import torch
from torch import nn

from .inputs import Inputs
from .ops import LAYER_OPS
from .ops_derived import DERIVED_OPS
from .ops_seq import SEQ_OPS
from .ops_tensor import TENSOR_OPS
from .trace import ImportFailed, Trace, _flatten_out, _line, _op_name, _where, own_code, walk
from .tracer import Raised, traced

__all__ = ["ImportFailed", "import_model", "import_spec", "load_target", "trace_to_layers"]
# (test, handler) pairs; a node takes the first whose test holds: module calls and functional layers
# with parameters, then tensor operations, then pads, interpolation and activations
OPS = LAYER_OPS[:3] + SEQ_OPS + DERIVED_OPS + TENSOR_OPS + LAYER_OPS[3:]


def load_target(target: str):
    """``package.module:name`` or ``path/to/file.py:name`` -> an nn.Module (a class is
    instantiated, a function called)."""
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


def trace_to_layers(model: nn.Module, inputs, fake: bool = True, stacks: bool = False):
    """(the walk's trace, layers, outputs, parameters the forward never uses); ``inputs`` an
    :class:`Inputs` or one input's shape."""
    if not isinstance(inputs, Inputs):
        inputs = Inputs.sized(tuple(inputs))
    try:
        t = Trace(model, _traced(model, inputs, fake, stacks))
        return (t, *walk(t, OPS))  # t.gm: the graph, and the outputs and MACs torch gave
    except ImportFailed:  # traced again with the stacks that name the source line
        t = Trace(model, _traced(model, inputs, fake, stacks=True))
        return (t, *walk(t, OPS))


def _traced(model, inputs, fake: bool, stacks: bool = False):
    """The traced graph: on meta tensors, else (an operation they cannot run) on real ones; an
    operation the model itself refuses is named with its source line."""
    try:
        return traced(model, inputs, fake, stacks)
    except ImportFailed:
        raise
    except Raised as e:
        if fake or not stacks:  # for real, and with the stack that names the line
            return _traced(model, inputs, False, stacks=not fake)
        shapes = [list(s) for s in inputs.shapes()]
        raise ImportFailed(
            f"the model raises on inputs {shapes} in '{_op_name(e.node.target)}'{_where(e.node)}: "
            f"{type(e.error).__name__}: {_line(e.error)}"
        ) from None
    except Exception as e:
        if fake:
            return _traced(model, inputs, False, stacks)
        odd = re.search(r"argument of type: <class '([\w.]+)'>", str(e))
        if odd:  # fx meets a value that is not a tensor, a number or a container of them
            raise ImportFailed(
                f"the model hands on a {odd.group(1)}{_raised_at(e)}, which is not a tensor: "
                "cnncalc summarises models whose values are tensors (in tuples, lists or dicts)"
            ) from None
        raise ImportFailed(
            f"torch.fx cannot trace the model{_raised_at(e)}: {type(e).__name__}: {_line(e)}"
        ) from None


def _raised_at(e: Exception) -> str:
    """`` at file.py:LINE (code)``: the innermost frame of the model's own code in the
    exception's traceback (not torch's, not cnncalc's), else nothing."""
    found = ""
    for frame in traceback.extract_tb(e.__traceback__):
        if own_code(frame.filename) and not frame.filename.startswith("<"):
            line = (frame.line or "").strip()[:120]
            found = f" at {Path(frame.filename).name}:{frame.lineno} ({line})"
    return found


def _json(v) -> str:
    """One value as YAML flow text (JSON, with floats YAML reads as floats)."""
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return {True: ".inf", False: "-.inf"}.get(v > 0, ".nan") if v == v else ".nan"
        text = repr(v)
        if "e" in text and "." not in text.split("e")[0]:
            mant, exp = text.split("e")
            text = f"{mant}.0e{exp}"
        return text
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_json(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_json(x) for x in v) + "]"
    return json.dumps(v)


def to_yaml(
    name: str,
    shape: tuple[int, ...],
    layers: list[dict],
    outputs=None,
    unused=(),
    dtype=None,
    notes=(),
) -> str:
    lines = [f"# imported from {name} with cnncalc import"]
    lines += [f"# not in this spec: {note}" for note in notes]
    if unused:
        lines.append(
            f"# not in this spec: {len(unused)} parameter tensors the forward never uses: "
            f"{', '.join(unused[:8])}" + (", ..." if len(unused) > 8 else "")
        )
    lines += [f"name: {json.dumps(name)}", f"input: {_json(list(shape))}"]
    if dtype not in (None, "float32"):
        lines.append(f"input_dtype: {dtype}")
    lines.append("layers:")
    lines += [f"  - {_json(layer)}" for layer in layers]
    if outputs and len(outputs) > 1:
        lines.append(f"outputs: {_json(list(outputs))}")
    return "\n".join(lines) + "\n"


class Imported:
    """An import's result: the spec text, the parameters of the model that the forward never
    uses, the spec's analysis and torch's MACs (FlopCounterMode / 2) on the traced forward."""

    def __init__(self, text: str, unused: list[str], analysis=None, macs=None, spec=None):
        self.text, self.unused, self.analysis, self.macs, self.spec = (
            text,
            unused,
            analysis,
            macs,
            spec,
        )


@contextlib.contextmanager
def as_given(model: nn.Module, mode: str | None):
    """The model in ``mode`` ("train", "eval"; None: as it is) for the block, then handed back
    exactly as it came: every module's training flag and every buffer's values (a training
    forward updates batch-norm statistics)."""
    flags = [(m, m.training) for m in model.modules()]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    if mode == "train":
        model.train()
    elif mode == "eval":
        model.eval()
    try:
        yield
    finally:
        for m, training in flags:
            m.training = training
        with torch.no_grad():
            for b, saved in buffers:
                if not torch.equal(b, saved):
                    b.copy_(saved)


def import_model(
    model: nn.Module, inputs, name: str = "model", mode: str | None = "eval"
) -> Imported:
    """Trace ``model`` into a spec in ``mode``, then check the spec's analysis against the model
    itself: parameter names and shapes, buffers, output shapes and MACs (FlopCounterMode / 2)
    must be torch's, or the import fails."""
    if not isinstance(inputs, Inputs):
        inputs = Inputs.sized(tuple(inputs))
    with as_given(model, mode):
        t, layers, outputs, unused = trace_to_layers(model, inputs)
        text = to_yaml(name, t.input_shape, layers, outputs, unused, t.input_dtype, t.notes)
        try:
            spec, a, macs = _check(model, t, text, unused)
        except ImportFailed as e:
            if not getattr(e, "names", None):
                raise
            again = trace_to_layers(model, inputs, stacks=True)[0]  # the stacks name the line
            raise ImportFailed(f"{e}{_located(again, e.names)}") from None
        if t.gm.real or any(type(m).__name__ in _FAST for m in model.modules()):
            _eagerly(model, inputs, t.gm)
    return Imported(text, unused, a, macs, spec)


def _refused(message: str, names) -> ImportFailed:
    """A check's refusal, with the spec names (of layers or tensors) it is about: the import
    names the operation that made the first of them and its source line."""
    e = ImportFailed(message)
    e.names = [n for n in names if n]
    return e


def _located(t: Trace, names) -> str:
    """`` (from 'op' at file.py:LINE (code))``: the graph node behind the first name found (a
    layer's name, a tensor's, a parameter's that a node reads), else nothing."""
    node_of = {layer: node for node, layer in t.name_of.items()}
    node_of |= {f"node:{node.name}": node for node in t.gm.graph.nodes}
    reads = {}
    for node in t.gm.graph.nodes:
        if node.op == "get_attr" and node.users:
            reads.setdefault(node.target, next(iter(node.users)))
        elif node.op == "call_module":
            reads.setdefault(node.target, node)
    for name in names:
        parts = name.split(".")
        for k in range(len(parts), 0, -1):
            key = ".".join(parts[:k])
            node = node_of.get(key) or reads.get(key)
            if node is not None:
                return f" (from '{_op_name(node.target)}'{_where(node)})"
    return ""


def _first_count_differing(t: Trace, a) -> list[str]:
    """The first operation of the graph whose MACs (FlopCounterMode's, as it ran in the trace)
    differ from those of the layers made for it: their names, or the node's."""
    for node in t.gm.graph.nodes:
        names = [n for n in t.made.get(node, ()) if n in a.by_name]
        if node.meta.get("torch_macs", 0) != sum(a.by_name[n].macs for n in names):
            return names or [f"node:{node.name}"]
    return []


def _check(model: nn.Module, t: Trace, text: str, unused: list[str]):
    """The spec's analysis against the model and against what torch gave as it ran the traced
    forward (``t.gm``: its output shapes, FlopCounterMode's MACs)."""
    from ..diagnostics import SpecError
    from ..engine import analyze
    from ..read import parse

    try:
        spec = parse(text)
        a = analyze(spec)
    except SpecError as e:
        layer = re.match(r"layer '([^']+)'", e.message)
        raise _refused(
            f"the traced spec does not analyse (a cnncalc bug, please report it): {e.message}",
            [layer and layer.group(1)],
        ) from None
    skip = set(unused)
    theirs = sorted((n, tuple(p.shape)) for n, p in model.named_parameters() if n not in skip)
    ours = sorted((t.name, t.shape) for t in a.tensors)
    if theirs != ours:
        extra = sorted(set(theirs) - set(ours))[:3]
        missing = sorted(set(ours) - set(theirs))[:3]
        raise _refused(
            f"the traced spec's parameters differ from the model's: model only {extra}, "
            f"spec only {missing}",
            [n for n, _ in missing + extra],
        )
    modules = {x.name for x in a.layers if x.type != "Buffer"}  # hold all their buffers
    owners = {t.name.rsplit(".", 1)[0] for t in a.buffers} & modules
    bufs = sorted(
        (n, tuple(b.shape))
        for n, b in model.named_buffers()
        if n.rsplit(".", 1)[0] in owners or n in {t.name for t in a.buffers}
    )
    held = sorted((t.name, t.shape) for t in a.buffers)
    if bufs != held:
        odd = sorted(set(bufs) ^ set(held))
        raise _refused(
            f"the traced spec's buffers differ from the model's: {odd[:3]}", [n for n, _ in odd]
        )
    got, macs = t.gm.outputs, t.gm.macs
    if got != [s for _, s in a.outputs]:
        raise _refused(
            f"the traced spec's outputs {[list(s) for _, s in a.outputs]} differ from the "
            f"model's {[list(s) for s in got]}",
            [n for (n, s), g in zip(a.outputs, got) if s != g] or [n for n, _ in a.outputs],
        )
    if macs != a.total_macs:
        raise _refused(
            f"the traced spec's MACs {a.total_macs:,} differ from torch's {macs:,} "
            "(FlopCounterMode / 2): an operation cnncalc counts differently",
            _first_count_differing(t, a),
        )
    return spec, a, macs


def _eagerly(model: nn.Module, inputs, ran) -> None:
    """A model traced on the CPU is run again as it runs eagerly: torch's fused fast paths
    (TransformerEncoderLayer in eval without gradients) branch on whether the values are traced,
    and then the eager forward runs other kernels than the traced one."""
    from torch.utils.flop_counter import FlopCounterMode

    args, kwargs = inputs.make(False)
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            out = model(*args, **kwargs, **inputs.extra)
    except AssertionError:  # FlopCounterMode's module hooks without autograd (CaiT's class
        with FlopCounterMode(display=False) as fc:  # token, a parameter expanded): with it
            out = model(*args, **kwargs, **inputs.extra)
    got = [tuple(t.shape) for t in _flatten_out(out) if isinstance(t, torch.Tensor)]
    macs = fc.get_total_flops() // 2
    if (got, macs) != (ran.outputs, ran.macs):
        fused = sorted({type(m).__name__ for m in model.modules() if type(m).__name__ in _FAST})
        raise ImportFailed(
            f"the eager forward runs other kernels than the traced one (FlopCounterMode counts "
            f"{macs:,} MACs eagerly, {ran.macs:,} traced): torch's fused fast path"
            + (f" of {', '.join(fused)}" if fused else "")
            + ", which a spec cannot follow; summarise in training mode (mode='train')"
        )


_FAST = {"TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer"}


def import_spec(target: str, shapes, dtypes=(), mode: str = "eval") -> str:
    """``cnncalc import``: the spec of ``target`` on inputs of ``shapes`` (one shape, or a list
    of them, with their ``dtypes`` names), traced in ``mode``."""
    import torch

    from .inputs import Size

    model = load_target(target)
    shapes = [shapes] if shapes and isinstance(shapes[0], int) else list(shapes)
    kinds = [getattr(torch, d) for d in dtypes] + [torch.float32] * (len(shapes) - len(dtypes))
    inputs = Inputs([Size(tuple(s), d) for s, d in zip(shapes, kinds)])
    return import_model(model, inputs, target.rsplit(":", 1)[1], mode).text
