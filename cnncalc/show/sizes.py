"""Which input sizes work, as text: a sweep's valid and refused runs, and the formulas of a spec
whose input dims are names."""

from __future__ import annotations

from .render import table


def sizes_text(sw, spec, markdown: bool = False) -> str:
    """The sizes a net accepts, in words: the valid and lossless sets (their periods), then the
    refusals."""
    from ..analyses.runs import describe_set
    from ..analyses.sizes import spatial_names

    shape = list(spec.input)
    where = spatial_names(spec)
    for v in sw.vary:
        shape[where[v]] = v
    together = " and ".join(sw.vary) + (" together" if len(sw.vary) > 1 else "")
    lines = [
        f"{sw.name or 'spec'}: input [{', '.join(map(str, shape))}], {together}, sizes "
        f"{sw.lo} to {sw.hi}",
        "",
    ]
    lines.append(f"valid:    {describe_set(sw.valid, sw.lo, sw.hi)}")
    lines.append(
        f"lossless: {describe_set(sw.lossless, sw.lo, sw.hi)}  (valid, and no layer leaves "
        "input positions unread)"
    )
    lines.append("")
    if sw.refusals:
        rows = [
            [describe_set(ref.sizes, sw.lo, sw.hi), ref.layer, ref.reason] for ref in sw.refusals
        ]
        lines.append(
            table(
                ["Refused sizes", "First layer to refuse", "Why (at the first of them)"],
                rows,
                set(),
                markdown,
            )
        )
    else:
        lines.append("no size in the range is refused")
    return "\n".join(lines) + "\n"


def symbolic_text(r, markdown: bool = False) -> str:
    """Shapes, parameters and MACs as formulas of the named input dims, then what each name may
    be."""
    rows = [[x.name, x.type, "[" + ", ".join(x.shape) + "]", x.params, x.macs] for x in r.rows]
    out = [f"{r.name or 'spec'}: input [{', '.join(r.input)}]", ""]
    out.append(table(["Layer", "Type", "Output shape", "Params", "MACs"], rows, set(), markdown))
    out.append("")
    lines = ["Sizes that fit, each name alone: " + "; ".join(r.constraints)] + [
        f"({n})" for n in r.notes
    ]
    out += [f"- {line}" for line in lines] if markdown else lines
    return "\n".join(out) + "\n"


def symbolic_json(r) -> dict:
    return {
        "name": r.name,
        "input": [int(v) if v.isdigit() else v for v in r.input],
        "layers": [
            {
                "name": x.name,
                "type": x.type,
                "output_shape": x.shape,
                "params": x.params,
                "macs": x.macs,
            }
            for x in r.rows
        ],
        "sizes": r.constraints,
        "base": r.base,
    }
