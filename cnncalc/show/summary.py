"""The table ``cnncalc.summary`` prints, in torchinfo's columns: one row per layer (layers nested
deeper than ``depth`` dotted parts folded into their group's row), then the totals."""

from __future__ import annotations

from ..model import Analysis
from .render import field_text, fold, shape_text

COLUMNS = {
    "input_size": "Input Shape",
    "output_size": "Output Shape",
    "num_params": "Param #",
    "params_percent": "Param %",
    "kernel_size": "Kernel Shape",
    "mult_adds": "Mult-Adds",
    "trainable": "Trainable",
    "macs": "MACs",
    "receptive_field": "Receptive field",
}
DEFAULT_COLUMNS = ("output_size", "num_params")


def _cell(col: str, first, last, members: list, params: int, total: int, adds: dict) -> str:
    if col == "input_size":
        return " | ".join(shape_text(s) for s in first.input_shapes) or "--"
    if col == "output_size":
        shapes = last.output_shapes or (last.output_shape,)
        return " | ".join(shape_text(s) for s in shapes)
    if col == "num_params":
        shared = all(m.shares for m in members) and members
        return "(shared)" if shared else (f"{params:,}" if params else "--")
    if col == "params_percent":
        return f"{100 * params / total:.2f}%" if params and total else "--"
    if col == "kernel_size":
        k = first.kwargs.get("kernel_size") if len(members) == 1 else None
        return shape_text(k) if k else "--"
    if col == "mult_adds":
        n = sum(adds.get(m.name, 0) for m in members)
        return f"{n:,}" if n else "--"
    if col == "macs":
        return f"{sum(m.macs for m in members):,}"
    if col == "trainable":
        owned = [m for m in members if m.params]
        if not owned:
            return "--"
        flags = {m.trainable and not m.frozen for m in owned}
        if any(m.trainable and m.frozen for m in owned):
            flags.add(False)  # frozen in part
            flags.add(True)
        return "Partial" if len(flags) == 2 else str(flags.pop())
    return field_text(last.field)


def summary_text(
    a: Analysis, totals: list[tuple[str, str]], depth: int, columns, mult_adds: dict
) -> str:
    """The table: rows at ``depth`` (0: the model as one row), the chosen ``columns``
    (``mult_adds``: layer -> torchinfo's count), and the ``totals`` lines (label, value)."""
    total = sum(x.param_count for x in a.layers)
    if depth == 0:
        groups = [(a.name or "model", "model", a.layers)]
    else:
        groups, at = [], 0
        for name, type_, last, _, _ in fold(a.layers, depth):
            end = a.layers.index(last, at) + 1
            groups.append((name, type_, a.layers[at:end]))
            at = end
    rows = []
    for name, type_, members in groups:
        params = sum(m.param_count for m in members)
        cells = [
            _cell(c, members[0], members[-1], members, params, total, mult_adds) for c in columns
        ]
        rows.append([f"{name} {type_}" if type_.startswith("(") else f"{name} ({type_})", *cells])
    head = ["Layer (type)", *(COLUMNS[c] for c in columns)]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    line = lambda cells: "  ".join(  # noqa: E731
        c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
    ).rstrip()
    width = max(sum(widths) + 2 * (len(widths) - 1), *(len(k) + len(v) + 2 for k, v in totals))
    rule = "=" * width
    out = [rule, line(head), rule, *map(line, rows), rule]
    out += [f"{k}: {v}" for k, v in totals]
    return "\n".join([*out, rule]) + "\n"
