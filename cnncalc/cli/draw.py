"""draw: a picture of the net (SVG, HTML, Mermaid, DOT)."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..diagnostics import Diagnostic
from .common import (
    BatchOpt,
    DepthOpt,
    ImgszOpt,
    ScaleOpt,
    SetOpt,
    Source,
    SpecArg,
    emit,
    github_actions,
    read_options,
    run,
    write,
)


class DrawFormat(str, Enum):
    svg = "svg"
    html = "html"
    mermaid = "mermaid"
    dot = "dot"
    png = "png"


SUFFIXES = {
    ".svg": "svg",
    ".html": "html",
    ".htm": "html",
    ".mmd": "mermaid",
    ".mermaid": "mermaid",
    ".md": "mermaid",
    ".dot": "dot",
    ".gv": "dot",
    ".png": "png",
}


def draw(
    spec: SpecArg = None,
    output: Annotated[
        str | None,
        typer.Option("-o", "--output", help="The file to write; its suffix picks the format."),
    ] = None,
    format: Annotated[
        DrawFormat | None,
        typer.Option(
            "--format", "-f", help="svg, html (one self-contained page), mermaid, dot or png."
        ),
    ] = None,
    depth: DepthOpt = None,
    batch: BatchOpt = None,
    scale: ScaleOpt = None,
    imgsz: ImgszOpt = None,
    set_: SetOpt = None,
):
    """A picture of the net: a box per layer, the shapes on the edges, blocks as groups, colours by
    family.

    An invalid spec is drawn up to the layer that does not fit, that layer marked (exit 1)."""
    source = Source(spec, read_options(scale, imgsz, set_))
    from ..show import draw as pictures
    from ..show.page import page
    from ..show.svg import svg

    fmt = format.value if format else None
    if fmt is None and output:
        fmt = SUFFIXES.get(Path(output).suffix.lower())
        if fmt is None:
            print(
                f"cnncalc: error: cannot tell the format from '{output}': use --format "
                "svg|html|mermaid|dot|png",
                file=sys.stderr,
            )
            raise typer.Exit(2)
    fmt = fmt or "svg"
    if fmt == "png" and not output:
        print("cnncalc: error: PNG output goes to a file: add -o FILE.png", file=sys.stderr)
        raise typer.Exit(2)

    def picture(a, failure=None) -> None:
        g = pictures.graph(a, depth, failure, explain=fmt == "html")
        if fmt == "png":
            return _write_png(svg(g), output)
        render_it = {"svg": svg, "mermaid": pictures.mermaid, "dot": pictures.dot}.get(fmt)
        write(render_it(g) if render_it else page(g, a), output)

    def shown(partial, diags, failed):  # an invalid spec: drawn up to the failing layer, marked
        if failed and partial is not None:
            picture(partial, _failing_layer(source, diags[0]))
        emit(diags, github_actions())

    picture(run(source, batch, False, shown=shown))


def _write_png(svg_text: str, output: str) -> None:
    from ..show.png import Unavailable, png

    try:
        data = png(svg_text)
    except Unavailable as e:
        print(f"cnncalc: error: {e}", file=sys.stderr)
        raise typer.Exit(2) from None
    write(data, output)


def _failing_layer(source: Source, diag: Diagnostic):
    """(layer spec, message) of the layer an invalid spec fails at, for the picture."""
    s = source.spec()
    for layer in s.layers:
        if layer.pos == (diag.line, diag.col) or any(
            p == (diag.line, diag.col) for p in layer.vpos.values()
        ):
            return layer, diag.message
    return None
