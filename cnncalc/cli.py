"""The command line: parse options, call the library, render, set the exit status.

Exit status: 0 all good; 1 a spec is invalid (or verify found a disagreement);
2 a usage error or a file that cannot be read.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from . import render
from .diagnostics import Diagnostic, SpecError, cut

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Shapes, parameters and MACs of a convolutional net, from a YAML spec, exactly as torch computes them.",
)


def _version(value: bool):
    if value:
        from . import __version__

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
    """Shapes, parameters and MACs of a convolutional net, from a YAML spec, exactly as torch computes them.

    SPEC may be '-' to read the spec from standard input (cnncalc expand x.yaml | cnncalc shapes -)."""
    from .spec import _STDIN, READ

    _STDIN.clear()  # standard input is read once per command
    READ.update(scale=None, imgsz=None, set={})  # and each command's options are its own


DEFAULT_SPEC = str(Path(__file__).parent / "data" / "lenet.yaml")


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
        help="Ultralytics model YAML: the scale (n, s, m, l, x); default: from the file name (yolov8n.yaml).",
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


def _ultra(scale: str | None, imgsz: int | None, sets: list[str] | None = None) -> None:
    """--scale and --imgsz (Ultralytics model YAML) and --set (named input dims) for every spec this command reads."""
    from .spec import READ

    given = {}
    for item in sets or []:
        name, _, value = item.partition("=")
        if not name.strip().isidentifier() or not value.strip().isdigit() or int(value) < 1:
            print(
                f"cnncalc: error: --set must be NAME=SIZE with a positive size (H=224), found '{item}'",
                file=sys.stderr,
            )
            raise typer.Exit(2)
        given[name.strip()] = int(value)
    READ.update(scale=scale, imgsz=imgsz, set=given)


def _github() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def _escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def annotation(d: Diagnostic) -> str:
    """A GitHub Actions workflow command for one diagnostic."""
    return f"::{d.severity} file={_escape(d.path, True)},line={d.line},col={d.col}::{_escape(d.message)}"


def _colour(stream) -> bool:
    """Colour on a terminal; none in CI, with NO_COLOR, or into a pipe or file."""
    return (
        not os.environ.get("NO_COLOR")
        and not os.environ.get("CI")
        and hasattr(stream, "isatty")
        and stream.isatty()
    )


def emit(diags: list[Diagnostic], github: bool, stream=None) -> None:
    stream = stream or sys.stderr
    colour = _colour(stream)
    for d in diags:
        text = str(d)
        if colour:
            code = "31" if d.severity == "error" else "33"
            text = text.replace(f": {d.severity}: ", f": \x1b[1;{code}m{d.severity}\x1b[0m: ", 1)
        print(text, file=stream)
        if github:
            print(annotation(d), file=stream)


class Status:
    """A live status line on stderr for a run that can take a while; silent when stderr is not a terminal."""

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


def _cannot_read(path: str, e: OSError):
    from .diagnostics import printable

    print(f"cnncalc: error: cannot read '{printable(path)}': {e.strerror or e}", file=sys.stderr)
    raise typer.Exit(2) from None


def _write(text: str, output: str | None) -> None:
    """To the file ``output``, or to stdout."""
    if not output:
        sys.stdout.write(text)
        return
    try:
        with open(output, "w") as f:
            f.write(text)
    except OSError as e:
        print(f"cnncalc: error: cannot write '{output}': {e.strerror or e}", file=sys.stderr)
        raise typer.Exit(2) from None


def analyze_file(path: str, batch: int | None = None, partial: list | None = None):
    """(analysis, diagnostics); analysis is None when the spec has an error (then the analysis of the
    layers above the failing one is appended to ``partial``). OSError propagates."""
    from .engine import analyze
    from .spec import load

    shown = "<stdin>" if path == "-" else path
    try:
        a = analyze(load(path), batch)
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
                f"internal error while reading this spec ({type(e).__name__}: {cut(str(e), 200)}); please report it",
            )
        ]
    a.path = shown
    return a, a.diagnostics


def _strict(diags: list[Diagnostic]) -> list[Diagnostic]:
    """--strict: every warning becomes an error."""
    return [Diagnostic(d.path, d.line, d.col, "error", d.message) for d in diags]


def _run(path: str | None, batch: int | None, strict: bool, on_invalid=None, shown=None):
    """Analyze one spec; exit 1 or 2 with diagnostics on stderr when it fails (after ``on_invalid(path)``
    has said its piece, and ``shown(partial analysis or None, diagnostics)`` has shown the layers that fit).
    ``shown`` also receives the diagnostics of a valid spec, and then prints them itself."""
    path = path or DEFAULT_SPEC
    partial: list = []
    try:
        a, diags = analyze_file(path, batch, partial)
    except OSError as e:
        _cannot_read(path, e)
    if strict:
        diags = _strict(diags)
    failed = a is None or any(d.severity == "error" for d in diags)
    if shown is not None and (failed or diags):
        shown(partial[0] if a is None and partial else a, diags, failed)
    else:
        emit(diags, _github())
    if failed:
        if on_invalid is not None:
            on_invalid(path)
        raise typer.Exit(1)
    return a


@app.command()
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
    """The layer-by-layer table: output shape, parameters, MACs, receptive field; flatten size and totals.

    For an invalid spec: the table up to the failing layer, then the diagnostic (JSON: the layers so far
    and the diagnostics)."""
    _ultra(scale, imgsz, set_)
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
            emit(diags, _github())

    if _symbolic(spec, batch, format):
        return
    a = _run(spec, batch, strict, shown=shown)
    if format is Format.json:
        obj = render.shapes_json(a)
        obj["diagnostics"] = [render.diag_json(d) for d in diagnostics]
        print(render.dump(obj))
    else:
        sys.stdout.write(render.shapes_text(a, markdown=format is Format.markdown, depth=depth))


def _symbolic(spec: str | None, batch: int | None, format) -> bool:
    """shapes of a spec whose input dims are names: the formulas (True), or False for a spec with numbers."""
    from .spec import load

    path = spec or DEFAULT_SPEC
    try:
        s = load(path)
    except (SpecError, OSError):
        return False  # the normal path reports it
    if batch is not None and s.symbols:  # --batch gives the first dim its size
        import dataclasses

        s = dataclasses.replace(
            s, symbols={k: d for k, d in s.symbols.items() if d != [0]}, input=(batch, *s.input[1:])
        )
    if not s.symbols:
        return False
    from .symbolic import formulas

    try:
        result = formulas(s)
    except SpecError as e:
        emit([Diagnostic.of("<stdin>" if path == "-" else path, e)], _github())
        raise typer.Exit(1) from None
    if format is Format.json:
        print(render.dump(render.symbolic_json(result)))
    else:
        sys.stdout.write(render.symbolic_text(result, markdown=format is Format.markdown))
    return True


@app.command()
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
    _ultra(scale, imgsz, set_)
    a = _run(spec, batch, strict)
    if format is Format.json:
        print(render.dump(render.params_json(a)))
    else:
        sys.stdout.write(render.params_text(a, markdown=format is Format.markdown))


# the folders ruff skips by default, and every hidden one
SKIPPED_DIRS = frozenset(
    """.bzr .direnv .eggs .git .git-rewrite .hg .ipynb_checkpoints .mypy_cache .nox .pants.d .pyenv .pytest_cache
    .pytype .ruff_cache .svn .tox .venv .vscode __pypackages__ _build buck-out build dist node_modules site-packages venv""".split()
)


def _walk(folder: str, exclude: list[str]) -> list[str]:
    """The *.yaml and *.yml files below ``folder``, skipping hidden and tool folders and ``exclude`` globs."""
    import fnmatch

    def excluded(path: str) -> bool:
        rel = os.path.relpath(path, folder)
        return any(
            fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(os.path.basename(path), g) for g in exclude
        )

    out = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIPPED_DIRS
            and not d.startswith(".")
            and not excluded(os.path.join(root, d))
        )
        for n in sorted(names):
            path = os.path.join(root, n)
            if (
                n.endswith((".yaml", ".yml"))
                and not n.startswith(".")
                and not excluded(path)
                and os.path.isfile(path)
            ):
                out.append(path)
    return out


def _looks_like_spec(path: str) -> bool:
    """A YAML file found in a folder is checked when it is a spec: a mapping with 'layers' or 'input'
    (or Ultralytics' 'backbone'); other YAML (workflows, compose files) is not cnncalc's."""
    import re

    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16).decode("utf-8", "replace")
    except OSError:
        return True  # let the reader report it
    keys = re.findall(r"^([^\s#:-][^:]*?)\s*:", head, re.M)
    return not keys or any(
        k.strip("'\"") in ("layers", "input", "blocks", "backbone", "head") for k in keys
    )


def _scaled_name(path: str) -> bool:
    """``yolov8n.yaml`` where only ``yolov8.yaml`` exists: Ultralytics' name for that model at scale n."""
    from .ultralytics import unscaled

    return unscaled(path) != path and os.path.isfile(unscaled(path))


def expand_paths(
    targets: list[str], exclude: list[str] | None = None
) -> tuple[list[str], list[str]]:
    """Files, folders (every spec *.yaml and *.yml below) and globs -> (spec files, targets not found)."""
    files, missing = [], []
    for t in targets:
        if os.path.isdir(t):
            files += [f for f in _walk(t, exclude or []) if _looks_like_spec(f)]
        elif os.path.exists(t) or _scaled_name(t):
            files.append(t)
        elif any(c in t for c in "*?["):
            import glob

            matched = sorted(glob.glob(t, recursive=True))
            if matched:
                files += [m for m in matched if os.path.isfile(m)]
            else:
                missing.append(t)
        else:
            missing.append(t)
    seen = set()
    return [f for f in files if not (f in seen or seen.add(f))], missing


class Dtype(str, Enum):
    float32 = "float32"
    float16 = "float16"
    bfloat16 = "bfloat16"


class Optimizer(str, Enum):
    sgd = "sgd"
    momentum = "momentum"
    adam = "adam"
    adamw = "adamw"


@app.command()
def memory(
    spec: SpecArg = None,
    batch: BatchOpt = None,
    dtype: Annotated[
        Dtype, typer.Option("--dtype", help="Parameter and activation dtype.")
    ] = Dtype.float32,
    optimizer: Annotated[
        Optimizer,
        typer.Option(
            "--optimizer", help="sgd keeps no state, momentum 1x, adam/adamw 2x the parameters."
        ),
    ] = Optimizer.sgd,
    format: FormatOpt = Format.table,
    fit: Annotated[
        str | None,
        typer.Option("--fit", help="A memory size (16GiB): report the largest batch that fits."),
    ] = None,
    scale: ScaleOpt = None,
    imgsz: ImgszOpt = None,
    set_: SetOpt = None,
):
    """One training step's memory: parameters, gradients, optimizer state, buffers, what autograd keeps."""
    _ultra(scale, imgsz, set_)
    from .engine import analyze
    from .memory import fit as fit_batch
    from .memory import memory as measure
    from .memory import parse_size
    from .spec import load

    a = _run(spec, batch, False)
    fitted = None
    if fit is not None:
        try:
            limit = parse_size(fit)
        except ValueError as e:
            print(f"cnncalc: error: --fit: {e}", file=sys.stderr)
            raise typer.Exit(2) from None
        s = load(spec or DEFAULT_SPEC)
        status = Status(label="fit:")

        def at(n):
            status(f"trying batch {n:,}")
            return analyze(s, n)

        fitted = (fit, fit_batch(at, limit, dtype.value, optimizer.value))
        status.done()
        if fitted[1] == 0:
            need = measure(analyze(s, 1), dtype.value, optimizer.value).total_bytes
            print(
                f"cnncalc: error: not even batch 1 fits in {fit}: one training step at batch 1 needs {render.bytes_text(need)}",
                file=sys.stderr,
            )
            raise typer.Exit(1)
    m = measure(a, dtype.value, optimizer.value)
    if format is Format.json:
        print(render.dump(render.memory_json(m, fitted[1] if fitted else None)))
    else:
        sys.stdout.write(render.memory_text(a, m, markdown=format is Format.markdown, fit=fitted))


@app.command()
def sizes(
    spec: SpecArg = None,
    vary: Annotated[
        str | None,
        typer.Option(
            "--vary", help="Spatial dims set to each size together: H,W (default: all), H, W, L, D."
        ),
    ] = None,
    range_: Annotated[str, typer.Option("--range", help="The sizes to decide, LO:HI.")] = "1:1024",
    format: FormatOpt = Format.table,
    train: Annotated[
        bool,
        typer.Option("--train", help="Add training mode's refusals (BatchNorm with one value)."),
    ] = False,
    scale: ScaleOpt = None,
    imgsz: ImgszOpt = None,
    set_: SetOpt = None,
):
    """The input sizes the net accepts: exact runs of valid and lossless sizes, and for each refused run the
    first layer that refuses it and why."""
    _ultra(scale, imgsz, set_)
    from .sizes import SizesError, check_work, parse_range, parse_vary, sweep
    from .spec import load

    path = spec or DEFAULT_SPEC
    shown = "<stdin>" if path == "-" else path
    try:
        s = load(path)
        names = parse_vary(s, vary) if vary else None
        lo, hi = parse_range(range_)
        from .sizes import spatial_names

        names = names or list(spatial_names(s))
        if not names:
            raise SizesError(f"the input {list(s.input)} has no spatial dims to vary")
        check_work(s, lo, hi)
        result = sweep(s, names, lo, hi, train)
    except OSError as e:
        _cannot_read(path, e)
    except SizesError as e:
        print(f"cnncalc: error: {e}", file=sys.stderr)
        raise typer.Exit(2) from None
    except SpecError as e:
        emit([Diagnostic.of(shown, e)], _github())
        raise typer.Exit(1) from None
    if format is Format.json:
        print(render.dump(result.to_dict()))
    else:
        sys.stdout.write(render.sizes_text(result, s, markdown=format is Format.markdown))


class DrawFormat(str, Enum):
    svg = "svg"
    html = "html"
    mermaid = "mermaid"
    dot = "dot"


SUFFIXES = {".svg": "svg", ".html": "html", ".htm": "html", ".mmd": "mermaid", ".mermaid": "mermaid", ".md": "mermaid",
            ".dot": "dot", ".gv": "dot"}  # fmt: skip


@app.command()
def draw(
    spec: SpecArg = None,
    output: Annotated[
        str | None,
        typer.Option("-o", "--output", help="The file to write; its suffix picks the format."),
    ] = None,
    format: Annotated[
        DrawFormat | None,
        typer.Option("--format", "-f", help="svg, html (one self-contained page), mermaid or dot."),
    ] = None,
    depth: DepthOpt = None,
    batch: BatchOpt = None,
    scale: ScaleOpt = None,
    imgsz: ImgszOpt = None,
    set_: SetOpt = None,
):
    """A picture of the net: a box per layer, the shapes on the edges, blocks as groups, colours by family.

    An invalid spec is drawn up to the layer that does not fit, that layer marked (exit 1)."""
    _ultra(scale, imgsz, set_)
    from . import draw as pictures

    fmt = format.value if format else None
    if fmt is None and output:
        fmt = SUFFIXES.get(Path(output).suffix.lower())
        if fmt is None:
            print(
                f"cnncalc: error: cannot tell the format from '{output}': use --format svg|html|mermaid|dot",
                file=sys.stderr,
            )
            raise typer.Exit(2)
    fmt = fmt or "svg"
    path = spec or DEFAULT_SPEC

    def picture(a, failure=None) -> None:
        g = pictures.graph(a, depth, failure, explain=fmt == "html")
        render_it = {"svg": pictures.svg, "mermaid": pictures.mermaid, "dot": pictures.dot}.get(fmt)
        _write(render_it(g) if render_it else pictures.page(g, a), output)

    def shown(partial, diags, failed):  # an invalid spec: drawn up to the failing layer, marked
        if failed and partial is not None:
            picture(partial, _failing_layer(path, diags[0]))
        emit(diags, _github())

    picture(_run(path, batch, False, shown=shown))


def _failing_layer(path: str, diag: Diagnostic):
    """(layer spec, message) of the layer an invalid spec fails at, for the picture."""
    from .spec import load

    s = load(path)
    for layer in s.layers:
        if layer.pos == (diag.line, diag.col) or any(
            p == (diag.line, diag.col) for p in layer.vpos.values()
        ):
            return layer, diag.message
    return None


@app.command()
def check(
    specs: Annotated[
        list[str], typer.Argument(help="Spec files, folders (every *.yaml / *.yml below) or globs.")
    ],
    format: Annotated[
        CheckFormat,
        typer.Option("--format", "-f", help="text, or github for ::error annotations too."),
    ] = CheckFormat.text,
    strict: StrictOpt = False,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Skip files and folders matching this glob (repeatable)."),
    ] = None,
    scale: ScaleOpt = None,
    imgsz: ImgszOpt = None,
    set_: SetOpt = None,
):
    """Validate many specs, shapes included, for CI: one diagnostic per problem, then a summary.

    Folders are searched for specs, skipping hidden folders and those ruff skips (.venv, node_modules, ...)."""
    _ultra(scale, imgsz, set_)
    files, missing = expand_paths(specs, exclude)
    github = format is CheckFormat.github or (format is CheckFormat.text and _github())
    machine = format in (CheckFormat.json, CheckFormat.sarif)
    found: list[Diagnostic] = []
    status_line = Status(len(files), "checking") if len(files) > 20 else None
    status = 0
    if not files and not missing:
        print(
            f"cnncalc: error: no specs to check in {', '.join(specs)} (nothing to check is an error, so a renamed folder fails CI)",
            file=sys.stderr,
        )
        raise typer.Exit(2)
    bad = errors = warnings = 0
    for t in missing:
        print(f"{t}: error: no such file, folder or matching glob", file=sys.stderr)
        status = 2
    for i, path in enumerate(files):
        if status_line:
            status_line(path, i + 1)
        try:
            _, diags = analyze_file(path)
        except OSError as e:
            print(f"{path}: error: cannot read: {e.strerror or e}", file=sys.stderr)
            status = 2
            continue
        if strict:
            diags = _strict(diags)
        if machine:
            found += diags
        else:
            emit(diags, github, sys.stdout)
        n_err = sum(d.severity == "error" for d in diags)
        errors += n_err
        warnings += len(diags) - n_err
        bad += n_err > 0
    if status_line:
        status_line.done()
    if bad and status == 0:
        status = 1
    if format is CheckFormat.json:
        for d in found:
            print(render.dump(render.diag_json(d)))
        raise typer.Exit(status)
    if format is CheckFormat.sarif:
        print(render.dump(sarif(found, files)))
        raise typer.Exit(status)
    plural = "" if len(files) == 1 else "s"
    print(
        f"checked {len(files):,} spec{plural}: {len(files) - bad:,} ok, {bad:,} invalid "
        f"({_count(errors, 'error')}, {_count(warnings, 'warning')})"
    )
    raise typer.Exit(status)


def _nearby_sizes(path: str) -> None:
    """After explain's diagnostic for a refused input size: the nearest sizes that work, found by a sweep."""
    from .sizes import nearby, spatial_names
    from .spec import load

    try:
        s = load(path)
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


@app.command()
def explain(
    spec: SpecArg = None,
    layer: Annotated[str | None, typer.Option("--layer", help="Explain only this layer.")] = None,
    batch: BatchOpt = None,
    scale: ScaleOpt = None,
    imgsz: ImgszOpt = None,
    set_: SetOpt = None,
):
    """Every layer's numbers with the rules that produced them, the numbers filled in."""
    _ultra(scale, imgsz, set_)
    from .explain import explain as explain_text

    a = _run(spec, batch, False, on_invalid=_nearby_sizes)
    if layer is not None and all(x.name != layer for x in a.layers):
        inside = [x.name for x in a.layers if x.name.startswith(layer + ".")]
        if inside:  # a block instance, or a container: explain the layers in it
            sys.stdout.write(
                "".join(explain_text(a, name).rstrip("\n") + "\n\n" for name in inside).rstrip("\n")
                + "\n"
            )
            return
        from .diagnostics import did_you_mean

        names = [x.name for x in a.layers]
        listed = ", ".join(names[:30]) + (
            f", ... ({len(names):,} in all)" if len(names) > 30 else ""
        )
        print(
            f"cnncalc: error: no layer named '{layer}'{did_you_mean(layer, names)}; the layers are: {listed}",
            file=sys.stderr,
        )
        raise typer.Exit(2)
    sys.stdout.write(explain_text(a, layer))


@app.command()
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
    """Readable PyTorch source of the spec: modules in __init__, a plain forward, the spec's parameter names."""
    _ultra(scale, imgsz, set_)
    from .bridge.export import ExportError
    from .bridge.export import export as source
    from .spec import load

    a = _run(spec, None, False)
    try:
        text = source(a, class_name, load(spec or DEFAULT_SPEC))
    except ExportError as e:
        print(f"cnncalc: error: {e}", file=sys.stderr)
        raise typer.Exit(1) from None
    _write(text, output)


@app.command("import")
def import_(
    target: Annotated[
        str,
        typer.Argument(
            help="package.module:name or path/to/file.py:name: an nn.Module class or a function returning one."
        ),
    ],
    input: Annotated[str, typer.Option("--input", help="The input shape, e.g. 1,3,224,224.")],
    output: Annotated[
        str | None, typer.Option("-o", "--output", help="Write the spec here instead of stdout.")
    ] = None,
):
    """Trace a torch model with torch.fx into a spec whose analysis equals the model's."""
    try:
        shape = tuple(int(v) for v in input.replace("x", ",").split(","))
        if not shape or any(v < 1 for v in shape):
            raise ValueError
    except ValueError:
        print(
            f"cnncalc: error: --input must be positive integers separated by commas, found '{input}'",
            file=sys.stderr,
        )
        raise typer.Exit(2) from None
    from .bridge.importer import ImportFailed, import_spec

    try:
        text = import_spec(target, shape)
    except ImportFailed as e:
        print(f"cnncalc: error: {e}", file=sys.stderr)
        raise typer.Exit(1) from None
    _write(text, output)


@app.command()
def schema():
    """Print the JSON Schema of the spec format (for editors with the YAML language server)."""
    import json

    from .schema import spec_schema

    print(json.dumps(spec_schema(), indent=2))


@app.command()
def expand(
    spec: Annotated[str, typer.Argument(help="A spec that uses blocks.")],
    scale: ScaleOpt = None,
    imgsz: ImgszOpt = None,
    set_: SetOpt = None,
):
    """Print the flat spec a block spec stands for: YAML that analyses identically."""
    _ultra(scale, imgsz, set_)
    from .spec import flat_yaml, load

    try:
        s = load(spec)
    except OSError as e:
        _cannot_read(spec, e)
    except SpecError as e:
        emit([Diagnostic.of(spec, e)], _github())
        raise typer.Exit(1) from None
    sys.stdout.write(flat_yaml(s))


@app.command()
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
    """Build the equivalent torch model, run it, and compare every number with the analytic results."""
    _ultra(scale, imgsz, set_)
    if device not in ("meta", "cpu"):
        print(f"cnncalc: error: --device must be meta or cpu, found '{device}'", file=sys.stderr)
        raise typer.Exit(2)
    from .bridge import verify as v

    a = _run(
        spec,
        batch,
        False,
        on_invalid=lambda path: print(v.torch_on_invalid(path, batch), file=sys.stderr),
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
            f"cnncalc: error: torch could not build or run this model: {type(e).__name__}: {text[0][:300] if text else ''}",
            file=sys.stderr,
        )
        raise typer.Exit(1) from None
    status.done()
    sys.stdout.write(v.report_text(report))
    raise typer.Exit(0 if report.ok else 1)


def sarif(diags: list[Diagnostic], files: list[str]) -> dict:
    """SARIF 2.1.0, for code-scanning tools."""
    from . import __version__

    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "cnncalc", "version": __version__,
                                    "rules": [{"id": "spec", "shortDescription": {"text": "a spec that does not fit together"}}]}},
                "artifacts": [{"location": {"uri": Path(f).as_posix()}} for f in files],
                "results": [
                    {
                        "ruleId": "spec",
                        "level": "error" if d.severity == "error" else "warning",
                        "message": {"text": d.message},
                        "locations": [{"physicalLocation": {"artifactLocation": {"uri": Path(d.path).as_posix()},
                                                             "region": {"startLine": d.line, "startColumn": d.col}}}],
                    }
                    for d in diags
                ],
            }
        ],
    }  # fmt: skip


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def main() -> None:
    import gc

    gc.disable()  # a short-lived process that makes many small objects: the collector only costs time
    try:
        app()
    except (KeyboardInterrupt, BrokenPipeError):
        raise SystemExit(130) from None
    except RecursionError:
        print("cnncalc: error: the input nests too deeply to process", file=sys.stderr)
        raise SystemExit(2) from None
    except MemoryError:
        print("cnncalc: error: out of memory", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as e:  # a bug, never a traceback: say what, and ask for a report
        print(
            f"cnncalc: internal error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}; please report it",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
