"""verify, export and import: the commands that run torch (through ``cnncalc.bridge``)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .common import (
    BatchOpt,
    ImgszOpt,
    ScaleOpt,
    SetOpt,
    Source,
    SpecArg,
    Status,
    read_options,
    run,
    write,
)


def export(
    spec: SpecArg = None,
    output: Annotated[
        str | None, typer.Option("-o", "--output", help="Write the source here instead of stdout.")
    ] = None,
    class_name: Annotated[
        str, typer.Option("--class-name", help="Name of the nn.Module class.")
    ] = "Net",
    scale: ScaleOpt = None,
    imgsz: ImgszOpt = None,
    set_: SetOpt = None,
):
    """Readable PyTorch source of the spec: modules in __init__, a plain forward, the spec's
    parameter names."""
    source = Source(spec, read_options(scale, imgsz, set_))
    from ..bridge.export import ExportError
    from ..bridge.export import export as python_source

    a = run(source, None, False)
    try:
        text = python_source(a, class_name, source.spec())
    except ExportError as e:
        print(f"cnncalc: error: {e}", file=sys.stderr)
        raise typer.Exit(1) from None
    write(text, output)


def import_(
    target: Annotated[
        str,
        typer.Argument(
            help="package.module:name or path/to/file.py:name: an nn.Module class or a function "
            "returning one."
        ),
    ],
    input: Annotated[
        list[str],
        typer.Option(
            "--input",
            help="An input's shape, e.g. 1,3,224,224; repeat it for a forward of several inputs.",
        ),
    ],
    output: Annotated[
        str | None, typer.Option("-o", "--output", help="Write the spec here instead of stdout.")
    ] = None,
    dtypes: Annotated[
        str | None,
        typer.Option(
            "--dtypes", help="The inputs' dtypes, comma-separated (int64 for token indices)."
        ),
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option("--mode", help="train or eval (default: eval, as most summaries want)."),
    ] = None,
):
    """Trace a torch model with torch.fx into a spec whose analysis equals the model's."""

    def usage(message: str):
        print(f"cnncalc: error: {message}", file=sys.stderr)
        raise typer.Exit(2)

    shapes = []
    for text in input:
        try:
            shape = tuple(int(v) for v in text.replace("x", ",").split(","))
            if not shape or any(v < 1 for v in shape):
                raise ValueError
        except ValueError:
            usage(f"--input must be positive integers separated by commas, found '{text}'")
        shapes.append(shape)
    kinds = [d.strip() for d in dtypes.split(",")] if dtypes else []
    from ..layers.sources import DTYPES

    if len(kinds) > len(shapes) or any(d not in DTYPES for d in kinds):
        usage(
            f"--dtypes must list at most one of {', '.join(DTYPES)} per --input, found '{dtypes}'"
        )
    if mode not in (None, "train", "eval"):
        usage(f"--mode must be train or eval, found '{mode}'")
    from ..bridge.importer import ImportFailed, import_spec

    try:
        text = import_spec(target, shapes, kinds, mode or "eval")
    except ImportFailed as e:
        print(f"cnncalc: error: {e}", file=sys.stderr)
        raise typer.Exit(1) from None
    write(text, output)


def verify(
    spec: SpecArg = None,
    device: Annotated[
        str,
        typer.Option(
            "--device", help="meta (nothing allocated) or cpu (a real forward and backward pass)."
        ),
    ] = "meta",
    batch: BatchOpt = None,
    scale: ScaleOpt = None,
    imgsz: ImgszOpt = None,
    set_: SetOpt = None,
):
    """Build the equivalent torch model, run it, and compare every number with the analytic
    results."""
    source = Source(spec, read_options(scale, imgsz, set_))
    if device not in ("meta", "cpu"):
        print(f"cnncalc: error: --device must be meta or cpu, found '{device}'", file=sys.stderr)
        raise typer.Exit(2)
    from ..bridge import verify as v

    a = run(
        source,
        batch,
        False,
        on_invalid=lambda src: print(v.torch_on_invalid(src.spec, batch), file=sys.stderr),
    )
    status = Status(label="verify:")
    try:
        report = v.verify(a, device=device, progress=status)
    except v.VerifyRefused as e:
        print(f"cnncalc: error: {e}", file=sys.stderr)
        raise typer.Exit(2) from None
    except (
        Exception
    ) as e:  # torch itself could not build or run the model (sizes past what it can address)
        text = str(e).strip().splitlines()
        print(
            f"cnncalc: error: torch could not build or run this model: {type(e).__name__}: "
            f"{text[0][:300] if text else ''}",
            file=sys.stderr,
        )
        raise typer.Exit(1) from None
    status.done()
    sys.stdout.write(v.report_text(report))
    raise typer.Exit(0 if report.ok else 1)
