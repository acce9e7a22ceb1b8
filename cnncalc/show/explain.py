"""Every number of every layer with the rule that produced it, the numbers filled in."""

from __future__ import annotations

from ..layers import REGISTRY
from ..layers.base import times
from ..model import Analysis, LayerResult
from .render import shape_text

# What a default means, where it is not obvious from its name.
MEANING = {
    "bias": "adds a learned bias per output",
    "padding_mode": "how the border is padded",
    "ceil_mode": "round output sizes down",
    "affine": "learns a scale (weight) and shift (bias) per channel",
    "track_running_stats": "keeps running mean and variance as buffers",
}


def explain(a: Analysis, only: str | None = None) -> str:
    out = list(each(a, None if only is None else {only}).values())
    if only is None:
        out.append(_totals(a))
    return "\n\n".join(out) + "\n"


def each(a: Analysis, names=None) -> dict[str, str]:
    """Layer name -> its explanation, for every layer (or those in ``names``), in one pass."""
    warned = _warnings_by_layer(a)
    return {
        layer.name: _layer(layer, a, warned.get(layer.name, ()))
        for layer in a.layers
        if names is None or layer.name in names
    }


def _warnings_by_layer(a: Analysis) -> dict[str, list[str]]:
    """Layer name -> its warnings (``layer 'NAME' ...: TEXT``), read once for every layer."""
    names = {layer.name for layer in a.layers}
    out: dict[str, list[str]] = {}
    for w in a.warnings:
        if not w.message.startswith("layer '"):
            continue
        end = w.message.find("' ", 7)
        while end != -1:  # a name may itself hold "' ": every prefix that names a layer
            if w.message[7:end] in names:
                out.setdefault(w.message[7:end], []).append(w.message)
            end = w.message.find("' ", end + 1)
    return out


def _layer(r: LayerResult, a: Analysis, warnings=()) -> str:
    kind = REGISTRY[r.type]
    x = r.input_shapes[0] if r.input_shapes else ()
    src = "the input" if r.inputs == ("input",) else ", ".join(f"'{s}'" for s in r.inputs)
    outs = (
        " | ".join(shape_text(s) for s in r.output_shapes)
        if r.output_shapes is not None
        else shape_text(r.output_shape)
    )
    if r.inputs:
        lines = [
            f"{r.name} ({r.type}): {' + '.join(shape_text(s) for s in r.input_shapes)} -> "
            f"{outs}   (from {src})"
        ]
    else:
        lines = [f"{r.name} ({r.type}): {outs}   (a parameter: it takes no input)"]
    for key in kind.size_keys:
        if key not in r.written:
            lines.append(
                f"  {key} = {r.kwargs[key]}: left out, so taken from the incoming tensor "
                f"{shape_text(x)}"
            )
        else:
            lines.append(
                f"  {key} = {r.kwargs[key]}: written, and it matches the incoming tensor "
                f"{shape_text(x)}"
            )
    defaults = [
        k
        for k in kind.args
        if k not in r.written and k not in kind.size_keys and kind.args[k][1] is not None
    ]
    if defaults:
        shown = ", ".join(
            f"{k} {_value(r.kwargs[k])}" + (f" ({MEANING[k]})" if k in MEANING else "")
            for k in defaults
        )
        lines.append(f"  defaults: {shown}")
    for line in kind.explain(
        r.kwargs, x if kind.inputs == 1 else list(r.input_shapes), r.output_shape
    ):
        lines.append(f"  {line}".replace("{name}", r.name))
    if not r.trainable and r.params:
        lines.append(
            "  trainable: false, so its parameters are frozen: no gradients, no optimizer state"
        )
    if r.params:
        parts = [
            f"{t.name.rsplit('.', 1)[-1]} {shape_text(t.shape)}"
            + (f" = {times(t.shape)} = {t.count:,}" if len(t.shape) > 1 else "")
            for t in r.params
        ]
        lines.append(
            f"  parameters: {'; '.join(parts)}; {r.param_count:,} in all ({len(r.params)} "
            f"tensor{'s' * (len(r.params) > 1)})"
        )
    else:
        lines.append("  parameters: none")
    if r.buffers:
        lines.append(
            "  buffers (not parameters): "
            f"{', '.join(t.name.rsplit('.', 1)[-1] + ' ' + shape_text(t.shape) for t in r.buffers)}"
        )
    f = r.field
    if f is not None:
        lines.append(
            f"  receptive field: {times(f.size)} input positions, jump {times(f.jump)}, "
            f"centre of output 0 at {_value(list(f.start))}"
        )
    for message in warnings:
        lines.append("  warning: " + message.split(": ", 1)[1])
    return "\n".join(lines)


def _totals(a: Analysis) -> str:
    with_params = [layer for layer in a.layers if layer.params]
    if not with_params:
        lines = [
            "parameters: none (no layer has weights)",
            "MACs: 0 (only Conv, ConvTranspose and Linear layers multiply-accumulate)",
        ]
        return "\n".join(
            lines + [f"flatten at '{n}': {times(f)} = {s:,} features" for n, s, f in a.flattens]
        )
    lines = [
        f"parameters: {len(a.tensors)} tensors in {len(with_params)} layers "
        f"({', '.join(f'{layer.name}: {len(layer.params)}' for layer in with_params)}), "
        f"{' + '.join(f'{layer.param_count:,}' for layer in with_params)} = {a.total_params:,}"
        + (
            "; a weight and a bias for each"
            if all(
                sorted(t.name.rsplit(".", 1)[-1] for t in layer.params) == ["bias", "weight"]
                for layer in with_params
            )
            else ""
        ),
        f"MACs: {' + '.join(f'{layer.macs:,}' for layer in a.layers if layer.macs)} = "
        f"{a.total_macs:,} (multiply-accumulates of Conv/Linear weights, bias not included)",
    ]
    for name, size, factors in a.flattens:
        lines.append(f"flatten at '{name}': {times(factors)} = {size:,} features")
    return "\n".join(lines)


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, tuple):
        return str(list(v))
    return str(v)
