"""A torch model -> a spec: traced with torch.fx, one layer per module call or supported function.

Module calls keep their qualified names (so parameter names match), functions become layers
named after them, and ``from`` is written where the data does not come from the layer above.
What a spec cannot express is an error naming the operation and its source line. The tracer is in
``trace``; what each operation becomes, in the op tables of ``ops`` and ``ops_tensor``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import torch
from torch import nn

from .ops import LAYER_OPS
from .ops_tensor import TENSOR_OPS
from .trace import ImportFailed, Trace, _flatten_out, traced, walk

__all__ = ["ImportFailed", "import_model", "import_spec", "load_target", "trace_to_layers"]
# (test, handler) pairs; a node takes the first whose test holds: module calls and functional layers
# with parameters, then tensor operations, then pads, interpolation and activations
OPS = LAYER_OPS[:3] + TENSOR_OPS + LAYER_OPS[3:]


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


def trace_to_layers(
    model: nn.Module, shape: tuple[int, ...]
) -> tuple[list[dict], list[str], list[str]]:
    """(layers, outputs, parameters the forward never uses)."""
    return walk(Trace(model, traced(model, shape)), OPS)


def to_yaml(name: str, shape: tuple[int, ...], layers: list[dict], outputs=None, unused=()) -> str:
    import json

    import yaml

    def one(v) -> str:
        return yaml.safe_dump(v, default_flow_style=True, width=1 << 30, sort_keys=False).strip()

    lines = [f"# imported from {name} with cnncalc import"]
    if unused:
        lines.append(
            f"# not in this spec: {len(unused)} parameter tensors the forward never uses: "
            f"{', '.join(unused[:8])}" + (", ..." if len(unused) > 8 else "")
        )
    lines += [f"name: {json.dumps(name)}", f"input: {one(list(shape))}", "layers:"]
    lines += [f"  - {one(layer)}" for layer in layers]
    if outputs and len(outputs) > 1:
        lines.append(f"outputs: {one(list(outputs))}")
    return "\n".join(lines) + "\n"


class Imported:
    """An import's result: the spec text, and the parameters of the model that the forward never
    uses."""

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
            f"the traced spec's parameters differ from the model's: model only {extra}, "
            f"spec only {missing}"
        )
    bufs = sorted(
        (n, tuple(b.shape))
        for n, b in model.named_buffers()
        if n.rsplit(".", 1)[0] in {t.name.rsplit(".", 1)[0] for t in a.buffers}
        or n in {t.name for t in a.buffers}
    )
    if bufs != sorted((t.name, t.shape) for t in a.buffers):
        raise ImportFailed("the traced spec's buffers differ from the model's")
    modes = [(m, m.training) for m in model.modules()]
    model.eval()  # the forward that was traced; nothing of the model changes (running stats)
    try:
        with torch.no_grad():
            out = model(torch.randn(shape))
    finally:
        for m, training in modes:
            m.training = training
    got = [tuple(t.shape) for t in _flatten_out(out)]
    if got != [s for _, s in a.outputs]:
        raise ImportFailed(
            f"the traced spec's outputs {[list(s) for _, s in a.outputs]} differ from the "
            f"model's {[list(s) for s in got]}"
        )


def import_spec(target: str, shape: tuple[int, ...]) -> str:
    model = load_target(target)
    return import_model(model, shape, target.rsplit(":", 1)[1]).text
