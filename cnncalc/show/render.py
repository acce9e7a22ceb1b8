"""Table, JSON and Markdown output, read from an :class:`~cnncalc.model.Analysis`."""

from __future__ import annotations

import json

from ..model import Analysis, Field, LayerResult

PARAM_BYTES = 4  # float32


def shape_text(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def field_json(f: Field | None):
    if f is None:
        return None
    return {"size": list(f.size), "jump": list(f.jump), "start": list(f.start)}


def field_text(f: Field | None) -> str:
    if f is None:
        return "-"
    return "×".join(map(str, f.size)) + " (jump " + "×".join(map(str, f.jump)) + ")"


def bytes_text(n: int) -> str:
    """``1.5 GiB (1,610,612,736 bytes)``; integer arithmetic, so no size is too large to print."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            tenths = (n * 10 + size // 2) // size
            return f"{tenths // 10:,}.{tenths % 10} {unit} ({n:,} bytes)"
    return f"{n:,} bytes"


# ---- JSON ---------------------------------------------------------------------------------


def _layer_json(layer: LayerResult) -> dict:
    d = {
        "name": layer.name,
        "type": layer.type,
        "from": list(layer.inputs),
        "output_shape": list(layer.output_shape),
        "params": layer.param_count,
        "macs": layer.macs,
        "receptive_field": field_json(layer.field),
    }
    if layer.output_shapes is not None:
        d["output_shapes"] = [list(s) for s in layer.output_shapes]
    if not layer.trainable:
        d["trainable"] = False
    return d


def shapes_json(a: Analysis) -> dict:
    return {
        "name": a.name,
        "input": list(a.input),
        "output": list(a.output),
        "outputs": [{"name": n, "shape": list(s)} for n, s in a.outputs],
        "layers": [_layer_json(layer) for layer in a.layers],
        "flatten": [
            {"layer": name, "size": size, "factors": list(f)} for name, size, f in a.flattens
        ],
        "total_params": a.total_params,
        "trainable_params": a.trainable_params,
        "total_macs": a.total_macs,
        "param_bytes": a.total_params * PARAM_BYTES,
        **({"ultralytics": a.ultralytics.to_dict()} if a.ultralytics is not None else {}),
    }


def diag_json(d) -> dict:
    return {
        "path": d.path,
        "line": d.line,
        "col": d.col,
        "severity": d.severity,
        "message": d.message,
    }


def partial_json(a: Analysis) -> dict:
    """The layers of an invalid spec that fit, up to the failing one."""
    return {
        "name": a.name,
        "input": list(a.input),
        "layers": [_layer_json(layer) for layer in a.layers],
    }


def params_json(a: Analysis) -> dict:
    return {
        "name": a.name,
        "tensors": [
            {
                "name": t.name,
                "shape": list(t.shape),
                "count": t.count,
                **({} if layer.trainable else {"trainable": False}),
            }
            for layer in a.layers
            for t in layer.params
        ],
        "buffers": [{"name": t.name, "shape": list(t.shape), "count": t.count} for t in a.buffers],
        "total": a.total_params,
        "trainable": a.trainable_params,
        "non_trainable": a.total_params - a.trainable_params,
    }


def dump(obj) -> str:
    return json.dumps(obj, allow_nan=False)  # every number is finite: sizes are bounded integers


# ---- tables -------------------------------------------------------------------------------


def table(
    headers: list[str], rows: list[list[str]], right: set[int], markdown: bool = False
) -> str:
    if markdown:
        out = [
            "| " + " | ".join(headers) + " |",
            "|" + "|".join("---:" if i in right else "---" for i in range(len(headers))) + "|",
        ]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells):
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _shape_cell(layer: LayerResult) -> str:
    if layer.output_shapes is None:
        return shape_text(layer.output_shape)
    return " | ".join(shape_text(s) for s in layer.output_shapes)


def _group_sources(layers: list[LayerResult], depth: int) -> dict[str, str]:
    """For each folded group of layers, the inputs it takes from outside itself (one pass)."""
    from ..engine import base

    seen: dict[str, dict[str, None]] = {}
    for layer in layers:
        parts = layer.name.split(".")
        if len(parts) <= depth:
            continue
        group = ".".join(parts[:depth])
        inside = group + "."
        got = seen.setdefault(group, {})
        for s in layer.inputs:
            if not base(s).startswith(inside):
                got[s] = None
    return {g: ", ".join(v) for g, v in seen.items()}


def _source(layer: LayerResult) -> str:
    return "" if layer.default_input else ", ".join(layer.inputs)


def fold(layers: list[LayerResult], depth: int) -> list[tuple[str, str, LayerResult, int, int]]:
    """(name, type, last layer, params, MACs) rows, layers below ``depth`` dotted parts folded
    into one."""
    rows: list = []
    for layer in layers:
        parts = layer.name.split(".")
        if len(parts) > depth:
            group = ".".join(parts[:depth])
            if rows and rows[-1][0] == group and rows[-1][5]:
                name, _, _, params, macs, count = rows[-1]
                rows[-1] = [
                    name,
                    f"({count + 1} layers)",
                    layer,
                    params + layer.param_count,
                    macs + layer.macs,
                    count + 1,
                ]
                continue
            rows.append([group, "(1 layer)", layer, layer.param_count, layer.macs, 1])
        else:
            rows.append([layer.name, layer.type, layer, layer.param_count, layer.macs, 0])
    return [tuple(r[:5]) for r in rows]


def rows_text(a: Analysis, markdown: bool = False) -> str:
    """An Ultralytics model by its rows, as its parse_model table (i, from, n, params, module,
    arguments), with
    each row's output shape and MACs; then cnncalc's totals and Ultralytics' summary line."""
    shapes = {x.name: x.output_shape for x in a.layers}
    for x in a.layers:
        for k, s in enumerate(x.output_shapes or ()):
            shapes[f"{x.name}:{k}"] = s
    rows = []
    for r in a.model.rows:
        part = a.layers[r.first : r.last]
        rows.append(
            [
                str(r.index),
                str(r.frm),
                str(r.n),
                f"{sum(x.param_count for x in part):,}",
                r.module,
                str(r.args),
                shape_text(shapes.get(r.out, ())),
                f"{sum(x.macs for x in part):,}",
            ]
        )
    more = (
        f" (and {len(a.outputs) - 1} more: the head's raw outputs and inputs)"
        if len(a.outputs) > 1
        else ""
    )
    out = [f"{a.name}: input {shape_text(a.input)} -> output {shape_text(a.output)}{more}", ""]
    out.append(
        table(
            ["", "from", "n", "params", "module", "arguments", "Output shape", "MACs"],
            rows,
            {0, 2, 3, 7},
            markdown,
        )
    )
    out.append("")
    footer = [
        f"Total params: {a.total_params:,}",
        f"Trainable params: {a.trainable_params:,}",
        f"MACs: {a.total_macs:,} ({a.total_macs * 2 / 1e9:.2f} GFLOPs as torch's "
        "FlopCounterMode counts them)",
        f"Param memory (float32): {bytes_text(a.total_params * PARAM_BYTES)}",
        f"Ultralytics' summary, by its rules: {a.ultralytics.line()}",
    ]
    out += [f"- {line}" for line in footer] if markdown else footer
    return "\n".join(out) + "\n"


def shapes_text(
    a: Analysis, markdown: bool = False, depth: int | None = None, partial: bool = False
) -> str:
    if a.model is not None and depth is None and not partial:
        return rows_text(a, markdown)
    graph = any(not layer.default_input for layer in a.layers)
    groups = _group_sources(a.layers, depth) if graph and depth is not None else {}
    headers = [
        "Layer",
        "Type",
        *(["From"] if graph else []),
        "Output shape",
        "Params",
        "MACs",
        "Receptive field",
    ]
    folded = (
        fold(a.layers, depth)
        if depth is not None
        else [(x.name, x.type, x, x.param_count, x.macs) for x in a.layers]
    )
    rows = [
        [
            name,
            type_,
            *([_source(layer) if name == layer.name else groups.get(name, "")] if graph else []),
            _shape_cell(layer),
            f"{params:,}",
            f"{macs:,}",
            field_text(layer.field),
        ]
        for name, type_, layer, params, macs in folded
    ]
    n = len(headers)
    if partial:
        head = (
            f"{a.name or 'spec'}: input {shape_text(a.input)}; the layers that fit, up to the "
            "one that does not:"
        )
        return "\n".join([head, "", table(headers, rows, {n - 3, n - 2}, markdown), ""]) + "\n"
    if len(a.outputs) > 1:
        outs = ", ".join(f"{name} {shape_text(s)}" for name, s in a.outputs)
        out = [f"{a.name or 'spec'}: input {shape_text(a.input)} -> outputs {outs}", ""]
    else:
        out = [
            f"{a.name or 'spec'}: input {shape_text(a.input)} -> output {shape_text(a.output)}",
            "",
        ]
    out.append(table(headers, rows, {n - 3, n - 2}, markdown))
    out.append("")
    footer = [
        f"Flatten at '{name}': {size:,} = {' × '.join(map(str, factors))}"
        for name, size, factors in a.flattens
    ]
    footer += [
        f"Total params: {a.total_params:,}",
        f"Trainable params: {a.trainable_params:,}",
        f"MACs: {a.total_macs:,}",
        f"Param memory (float32): {bytes_text(a.total_params * PARAM_BYTES)}",
    ]
    if a.ultralytics is not None:
        footer.append(f"Ultralytics' summary, by its rules: {a.ultralytics.line()}")
    out += [f"- {line}" for line in footer] if markdown else footer
    return "\n".join(out) + "\n"


def memory_json(m, fit_batch: int | None = None) -> dict:
    return m.to_dict(fit_batch)


def memory_text(a: Analysis, m, markdown: bool = False, fit: tuple[str, int] | None = None) -> str:
    rows = [
        [name, a_type, shape_text(shape), f"{b:,}"]
        for (name, b), a_type, shape in zip(
            m.per_layer.items(), (x.type for x in a.layers), (x.output_shape for x in a.layers)
        )
    ]
    out = [f"one training step, batch {m.batch}, {m.dtype}, {m.optimizer}", ""]
    out.append(
        table(["Layer", "Type", "Output shape", "Saved for backward (bytes)"], rows, {3}, markdown)
    )
    footer = [
        f"Parameters:        {bytes_text(m.params_bytes)}",
        f"Gradients:         {bytes_text(m.grads_bytes)}",
        f"Optimizer state:   {bytes_text(m.optimizer_bytes)}",
        f"Buffers:           {bytes_text(m.buffers_bytes)}",
        f"Saved activations: {bytes_text(m.saved_activation_bytes)}",
        f"Total:             {bytes_text(m.total_bytes)}",
        f"Inference peak (activations alive at once): {bytes_text(m.inference_peak_bytes)}",
    ]
    if m.peak is not None:
        footer += peak_lines(m.peak)
    if fit is not None:
        footer.append(f"Largest batch whose training step's peak fits in {fit[0]}: {fit[1]:,}")
    out.append("")
    out += [f"- {' '.join(line.split())}" for line in footer] if markdown else footer
    return "\n".join(out) + "\n"


def peak_lines(p) -> list[str]:
    """The peak of the step: how much, where, what is alive then, and each phase's peak."""
    where = p.peak_phase + (f", layer {p.peak_layer}" if p.peak_layer else "")
    alive = ", ".join(
        f"{k.replace('_', ' ')} {bytes_text(v)}" for k, v in p.peak_breakdown.items() if v
    )
    phases = ", ".join(f"{k} {bytes_text(v)}" for k, v in p.phase_peak_bytes.items())
    how = f"{p.step} step, {p.loss}, foreach {'on' if p.foreach else 'off'}"
    return [
        f"Peak of the step:  {bytes_text(p.peak_bytes)} ({how}); in CUDA's 512-byte blocks "
        f"{bytes_text(p.peak_bytes_cuda)}",
        f"  where: {where}",
        f"  alive then: {alive}",
        f"  phase peaks: {phases}",
    ]


def params_text(a: Analysis, markdown: bool = False) -> str:
    rows = [[t.name, shape_text(t.shape), f"{t.count:,}"] for t in a.tensors]
    out = [table(["Parameter", "Shape", "Count"], rows, {2}, markdown), ""]
    if a.buffers:
        brows = [[t.name, shape_text(t.shape), f"{t.count:,}"] for t in a.buffers]
        out += [table(["Buffer", "Shape", "Count"], brows, {2}, markdown), ""]
    with_params = sum(1 for layer in a.layers if layer.params)
    footer = [
        f"{len(a.tensors):,} parameter tensors in {with_params:,} layers"
        + (
            f", {len(a.buffers):,} buffers ({sum(t.count for t in a.buffers):,} values, "
            "not parameters)"
            if a.buffers
            else ""
        ),
        f"Total params: {a.total_params:,}",
        f"Trainable params: {a.trainable_params:,}",
        f"Non-trainable params: {a.total_params - a.trainable_params:,}",
    ]
    out += [f"- {line}" for line in footer] if markdown else footer
    return "\n".join(out) + "\n"
