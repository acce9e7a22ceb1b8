"""shapes, params, explain, expand, schema: a spec's facts as tables, rules and text."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ..diagnostics import Diagnostic, SpecError
from ..show import render
from .common import (
    BatchOpt,
    DepthOpt,
    Format,
    FormatOpt,
    ImgszOpt,
    ScaleOpt,
    SetOpt,
    Source,
    SpecArg,
    StrictOpt,
    cannot_read,
    emit,
    github_actions,
    read_options,
    refuse_empty,
    run,
)


def shapes(
    spec: SpecArg = None,
    format: FormatOpt = Format.table,
    batch: BatchOpt = None,
    strict: StrictOpt = False,
    depth: DepthOpt = None,
    scale: ScaleOpt = None,
    imgsz: ImgszOpt = None,
    set_: SetOpt = None,
):
    """The layer-by-layer table: output shape, parameters, MACs, receptive field; flatten size and
    totals.

    For an invalid spec: the table up to the failing layer, then the diagnostic (JSON: the layers so
    far
    and the diagnostics)."""
    source = Source(spec, read_options(scale, imgsz, set_))
    diagnostics: list = []

    def shown(partial, diags, failed):
        diagnostics.extend(diags)
        if failed and format is Format.json:
            obj = (
                render.partial_json(partial)
                if partial is not None
                else {"name": None, "layers": []}
            )
            obj.update(valid=False, diagnostics=[render.diag_json(d) for d in diags])
            print(render.dump(obj))
        elif failed and partial is not None and partial.layers:
            sys.stdout.write(
                render.shapes_text(
                    partial, markdown=format is Format.markdown, depth=depth, partial=True
                )
            )
        if format is not Format.json or not failed:
            emit(diags, github_actions())

    if _symbolic(source, batch, format):
        return
    a = run(source, batch, strict, shown=shown)
    if format is Format.json:
        obj = render.shapes_json(a)
        obj["diagnostics"] = [render.diag_json(d) for d in diagnostics]
        print(render.dump(obj))
    else:
        sys.stdout.write(render.shapes_text(a, markdown=format is Format.markdown, depth=depth))


def _symbolic(source: Source, batch: int | None, format) -> bool:
    """shapes of a spec whose input dims are names: the formulas (True), or False for a spec with
    numbers."""
    try:
        s = source.spec()
    except (SpecError, OSError):
        return False  # the normal path reports it
    if batch is not None and s.symbols:  # --batch gives the first dim its size
        import dataclasses

        s = dataclasses.replace(
            s, symbols={k: d for k, d in s.symbols.items() if d != [0]}, input=(batch, *s.input[1:])
        )
    if not s.symbols:
        return False
    from ..analyses.symbolic import formulas
    from ..show.sizes import symbolic_json, symbolic_text

    try:
        result = formulas(s)
    except SpecError as e:
        emit([Diagnostic.of(source.shown, e)], github_actions())
        raise typer.Exit(1) from None
    if format is Format.json:
        print(render.dump(symbolic_json(result)))
    else:
        sys.stdout.write(symbolic_text(result, markdown=format is Format.markdown))
    return True


def params(
    spec: SpecArg = None,
    format: FormatOpt = Format.table,
    batch: BatchOpt = None,
    strict: StrictOpt = False,
    scale: ScaleOpt = None,
    imgsz: ImgszOpt = None,
    set_: SetOpt = None,
):
    """Every parameter tensor (torch's names), its shape and count; buffers; totals."""
    options = read_options(scale, imgsz, set_)
    a = run(Source(spec, options), batch, strict)
    if format is Format.json:
        print(render.dump(render.params_json(a)))
    else:
        sys.stdout.write(render.params_text(a, markdown=format is Format.markdown))


def _nearby_sizes(source: Source) -> None:
    """After explain's diagnostic for a refused input size: the nearest sizes that work, found by
    a sweep."""
    from ..analyses.sizes import nearby, spatial_names

    try:
        s = source.spec()
    except (SpecError, OSError):
        return
    names = spatial_names(s)
    if not names:
        return
    now = {v: s.input[i] for v, i in names.items()}
    groups = [[v] for v in names] + ([list(names)] if len(names) > 1 else [])
    notes = []
    for vary in groups:
        x = now[vary[0]]
        try:
            below, above = nearby(s, vary, x)
        except SpecError:
            return  # refused whatever the size: the diagnostic above says why
        if x in (below, above) or (below is None and above is None):
            continue
        found = " and ".join(str(v) for v in (below, above) if v is not None)
        what = f"{vary[0]} = {x}" if len(vary) == 1 else f"{' = '.join(vary)} (together)"
        notes.append(f"{what}: the nearest that work are {found}")
    if notes:
        print(
            f"cnncalc: note: nearby input sizes: {'; '.join(notes)} (cnncalc sizes lists them all)",
            file=sys.stderr,
        )
    else:
        print("cnncalc: note: no input size within 64 of this one works", file=sys.stderr)


def explain(
    spec: SpecArg = None,
    layer: Annotated[str | None, typer.Option("--layer", help="Explain only this layer.")] = None,
    batch: BatchOpt = None,
    scale: ScaleOpt = None,
    imgsz: ImgszOpt = None,
    set_: SetOpt = None,
):
    """Every layer's numbers with the rules that produced them, the numbers filled in."""
    options = read_options(scale, imgsz, set_)
    from ..show.explain import explain as explain_text

    a = run(Source(spec, options), batch, False, on_invalid=_nearby_sizes)
    if layer is not None and all(x.name != layer for x in a.layers):
        inside = [x.name for x in a.layers if x.name.startswith(layer + ".")]
        if inside:  # a block instance, or a container: explain the layers in it
            from ..show.explain import each

            texts = each(a, set(inside))
            sys.stdout.write("\n\n".join(texts[name].rstrip("\n") for name in inside) + "\n")
            return
        from ..diagnostics import did_you_mean

        names = [x.name for x in a.layers]
        listed = ", ".join(names[:30]) + (
            f", ... ({len(names):,} in all)" if len(names) > 30 else ""
        )
        print(
            f"cnncalc: error: no layer named '{layer}'{did_you_mean(layer, names)}; the "
            f"layers are: {listed}",
            file=sys.stderr,
        )
        raise typer.Exit(2)
    sys.stdout.write(explain_text(a, layer))


def schema():
    """Print the JSON Schema of the spec format (for editors with the YAML language server)."""
    import json

    from ..read.schema import spec_schema

    print(json.dumps(spec_schema(), indent=2))


def expand(
    spec: Annotated[str, typer.Argument(help="A spec that uses blocks.")],
    scale: ScaleOpt = None,
    imgsz: ImgszOpt = None,
    set_: SetOpt = None,
):
    """Print the flat spec a block spec stands for: YAML that analyses identically."""
    options = read_options(scale, imgsz, set_)
    refuse_empty(spec)
    from ..read import load
    from ..read.spec import flat_yaml

    try:
        s = load(spec, options)
    except OSError as e:
        cannot_read(spec, e)
    except SpecError as e:
        emit([Diagnostic.of(spec, e)], github_actions())
        raise typer.Exit(1) from None
    sys.stdout.write(flat_yaml(s))
