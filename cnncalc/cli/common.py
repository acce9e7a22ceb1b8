"""What every command shares: option types, the spec it reads (held once read), diagnostics out,
exit status. Exit status: 0 all good; 1 a spec is invalid (or verify found a disagreement);
2 a usage error or a file that cannot be read."""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..diagnostics import Diagnostic, SpecError, cut
from ..read import ReadOptions

DEFAULT_SPEC = str(Path(__file__).parent.parent / "data" / "lenet.yaml")


class Format(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


class CheckFormat(str, Enum):
    text = "text"
    github = "github"
    json = "json"
    sarif = "sarif"


SpecArg = Annotated[
    str | None,
    typer.Argument(
        help="The YAML spec ('-': standard input); default: the tutorial net shipped with cnncalc."
    ),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
BatchOpt = Annotated[
    int | None,
    typer.Option(
        "--batch",
        min=1,
        help="The batch size: replaces the input's first dim, or adds one to an unbatched input.",
    ),
]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Treat warnings as errors (exit 1).")]
DepthOpt = Annotated[
    int | None,
    typer.Option(
        "--depth", min=1, help="Fold layers nested deeper than N dotted parts into one row (box)."
    ),
]
ScaleOpt = Annotated[
    str | None,
    typer.Option(
        "--scale",
        help="Ultralytics model YAML: the scale (n, s, m, l, x); default: from the file name "
        "(yolov8n.yaml).",
    ),
]
ImgszOpt = Annotated[
    int | None,
    typer.Option(
        "--imgsz", min=1, help="Ultralytics model YAML: the input image size (default 640)."
    ),
]


SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set", help="A size for a named input dim, NAME=VALUE (input: [N, 3, H, W]); repeatable."
    ),
]


def read_options(
    scale: str | None, imgsz: int | None, sets: list[str] | None = None
) -> ReadOptions:
    """--scale and --imgsz (Ultralytics model YAML) and --set (named input dims): how this command
    reads its specs."""
    given = {}
    for item in sets or []:
        name, _, value = item.partition("=")
        if not name.strip().isidentifier() or not value.strip().isdigit() or int(value) < 1:
            print(
                "cnncalc: error: --set must be NAME=SIZE with a positive size (H=224), "
                f"found '{item}'",
                file=sys.stderr,
            )
            raise typer.Exit(2)
        given[name.strip()] = int(value)
    return ReadOptions.of(scale, imgsz, given)


def refuse_empty(path: str, what: str = "the spec path") -> None:
    """An empty path is a usage error (exit 2): a CI variable left unset checks nothing."""
    if not path.strip():
        print(
            f"cnncalc: error: {what} is empty (an unset variable?): give a file, a folder or "
            "'-' for standard input",
            file=sys.stderr,
        )
        raise typer.Exit(2)


class Source:
    """The spec one command reads: its path and reading options, read once and held (the Spec, or
    the error reading it), so a command that needs it twice reads standard input once."""

    def __init__(self, path: str | None, options: ReadOptions):
        if path is not None:
            refuse_empty(path)
        self.path = DEFAULT_SPEC if path is None else path
        self.options = options
        self.shown = "<stdin>" if self.path == "-" else self.path
        self._spec = self._error = None

    def spec(self):
        """The Spec; raises the SpecError or OSError of reading it (each time it is asked)."""
        if self._error is not None:
            raise self._error
        if self._spec is None:
            from ..read import load

            try:
                self._spec = load(self.path, self.options)
            except (SpecError, OSError) as e:
                self._error = e
                raise
        return self._spec


def github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def annotation(d: Diagnostic) -> str:
    """A GitHub Actions workflow command for one diagnostic."""
    return (
        f"::{d.severity} file={escape(d.path, True)},line={d.line},col={d.col}::{escape(d.message)}"
    )


def colour(stream) -> bool:
    """Colour on a terminal; none in CI, with NO_COLOR, or into a pipe or file."""
    return (
        not os.environ.get("NO_COLOR")
        and not os.environ.get("CI")
        and hasattr(stream, "isatty")
        and stream.isatty()
    )


def emit(diags: list[Diagnostic], github: bool, stream=None) -> None:
    stream = stream or sys.stderr
    coloured = colour(stream)
    for d in diags:
        text = str(d)
        if coloured:
            code = "31" if d.severity == "error" else "33"
            text = text.replace(f": {d.severity}: ", f": \x1b[1;{code}m{d.severity}\x1b[0m: ", 1)
        print(text, file=stream)
        if github:
            print(annotation(d), file=stream)


class Status:
    """A live status line on stderr for a run that can take a while; silent when stderr is not a
    terminal."""

    def __init__(self, total: int | None = None, label: str = ""):
        self.on = hasattr(sys.stderr, "isatty") and sys.stderr.isatty() and not os.environ.get("CI")
        self.total, self.label = total, label

    def __call__(self, text: str, i: int | None = None) -> None:
        if self.on:
            count = f" {i:,}/{self.total:,}" if i is not None and self.total else ""
            sys.stderr.write(f"\r\x1b[K{self.label}{count} {text}"[:200])
            sys.stderr.flush()

    def done(self) -> None:
        if self.on:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def cannot_read(path: str, e: OSError):
    from ..diagnostics import printable

    print(f"cnncalc: error: cannot read '{printable(path)}': {e.strerror or e}", file=sys.stderr)
    raise typer.Exit(2) from None


def write(text: str | bytes, output: str | None) -> None:
    """To the file ``output`` (bytes: as they are), or to stdout."""
    if not output:
        sys.stdout.write(text)
        return
    try:
        with open(output, "wb" if isinstance(text, bytes) else "w") as f:
            f.write(text)
    except OSError as e:
        print(f"cnncalc: error: cannot write '{output}': {e.strerror or e}", file=sys.stderr)
        raise typer.Exit(2) from None


def analyze_file(source: Source, batch: int | None = None, partial: list | None = None):
    """(analysis, diagnostics); analysis is None when the spec has an error (then the analysis of
    the
    layers above the failing one is appended to ``partial``). OSError propagates."""
    from ..api import Analysis, facts

    shown = source.shown
    try:
        a = Analysis.of(facts(source.spec(), batch))
    except SpecError as e:
        if partial is not None and e.partial is not None:
            partial.append(e.partial)
        return None, [Diagnostic.of(shown, e)]
    except OSError:
        raise
    except Exception as e:  # a bug, never a traceback: say where and what, and ask for a report
        return None, [
            Diagnostic(
                shown,
                1,
                1,
                "error",
                f"internal error while reading this spec ({type(e).__name__}: "
                f"{cut(str(e), 200)}); please report it",
            )
        ]
    a.path = shown
    return a, a.diagnostics


def strict_diags(diags: list[Diagnostic]) -> list[Diagnostic]:
    """--strict: every warning becomes an error."""
    return [Diagnostic(d.path, d.line, d.col, "error", d.message) for d in diags]


def run(source: Source, batch: int | None, strict: bool, on_invalid=None, shown=None):
    """Analyze one spec; exit 1 or 2 with diagnostics on stderr when it fails (after
    ``on_invalid(path)``
    has said its piece, and ``shown(partial analysis or None, diagnostics)`` has shown the layers
    that fit).
    ``shown`` also receives the diagnostics of a valid spec, and then prints them itself."""
    partial: list = []
    try:
        a, diags = analyze_file(source, batch, partial)
    except OSError as e:
        cannot_read(source.path, e)
    if strict:
        diags = strict_diags(diags)
    failed = a is None or any(d.severity == "error" for d in diags)
    if shown is not None and (failed or diags):
        shown(partial[0] if a is None and partial else a, diags, failed)
    else:
        emit(diags, github_actions())
    if failed:
        if on_invalid is not None:
            on_invalid(source)
        raise typer.Exit(1)
    return a


def count(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")
