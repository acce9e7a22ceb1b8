"""The command line: options in, library calls, rendering, exit status. One module per command
group (``tables``, ``sizing``, ``check``, ``draw``, ``bridges``); ``common`` holds what they share.
Exit status: 0 all good; 1 a spec is invalid (or verify found a disagreement); 2 a usage error or a
file that cannot be read."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from . import bridges, check, draw, sizing, tables

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Shapes, parameters and MACs of a convolutional net, from a YAML spec, exactly as "
    "torch computes them.",
)


def _version(value: bool):
    if value:
        from .. import __version__

        print(f"cnncalc {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
):
    """Shapes, parameters and MACs of a convolutional net, from a YAML spec, exactly as torch
    computes them.

    SPEC may be '-' to read the spec from standard input (cnncalc expand x.yaml | cnncalc shapes
    -)."""


COMMANDS = {  # in the order --help lists them
    "shapes": tables.shapes,
    "params": tables.params,
    "memory": sizing.memory,
    "sizes": sizing.sizes,
    "draw": draw.draw,
    "check": check.check,
    "explain": tables.explain,
    "export": bridges.export,
    "import": bridges.import_,
    "schema": tables.schema,
    "expand": tables.expand,
    "verify": bridges.verify,
}
for name, command in COMMANDS.items():
    app.command(name)(command)


def main() -> None:
    import gc
    import os

    # a short-lived process that makes many small objects: the collector only costs time
    gc.disable()
    try:
        code = _run()
    except SystemExit as e:
        code = e.code
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    # the output flushed, the process ends without tearing down its objects one by one (a
    # 5,000-layer analysis holds millions: a third of a second)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = 130
    try:
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    os._exit(code or 0)


def _run() -> int:
    try:
        app()
    except (KeyboardInterrupt, BrokenPipeError):
        return 130
    except RecursionError:
        print("cnncalc: error: the input nests too deeply to process", file=sys.stderr)
        return 2
    except MemoryError:
        print("cnncalc: error: out of memory", file=sys.stderr)
        return 2
    except Exception as e:  # a bug, never a traceback: say what, and ask for a report
        print(
            f"cnncalc: internal error: {type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}; please report it",
            file=sys.stderr,
        )
        return 2
    return 0
