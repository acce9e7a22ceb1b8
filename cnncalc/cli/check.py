"""check: many specs (files, folders, globs) validated for CI, as text, GitHub annotations, JSON
or SARIF."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..diagnostics import Diagnostic
from ..show import render
from .common import (
    CheckFormat,
    ImgszOpt,
    ScaleOpt,
    SetOpt,
    Source,
    Status,
    StrictOpt,
    analyze_file,
    count,
    emit,
    github_actions,
    read_options,
    refuse_empty,
    strict_diags,
)

# the folders ruff skips by default, and every hidden one
SKIPPED_DIRS = frozenset(
    """.bzr .direnv .eggs .git .git-rewrite .hg .ipynb_checkpoints .mypy_cache .nox .pants.d .pyenv
        .pytest_cache .pytype .ruff_cache .svn .tox .venv .vscode __pypackages__ _build buck-out
        build dist node_modules site-packages venv""".split()
)


def _walk(folder: str, exclude: list[str]) -> list[str]:
    """The *.yaml and *.yml files below ``folder``, skipping hidden and tool folders and
    ``exclude`` globs."""
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
    """A YAML file found in a folder is checked when it is a spec: a mapping with 'layers' or
    'input'
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
    """``yolov8n.yaml`` where only ``yolov8.yaml`` exists: Ultralytics' name for that model at
    scale n."""
    from ..read.ultralytics import unscaled

    return unscaled(path) != path and os.path.isfile(unscaled(path))


def expand_paths(
    targets: list[str], exclude: list[str] | None = None
) -> tuple[list[str], list[str]]:
    """Files, folders (every spec *.yaml and *.yml below) and globs -> (spec files, targets not
    found)."""
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

    Folders are searched for specs, skipping hidden folders and those ruff skips (.venv,
    node_modules, ...)."""
    options = read_options(scale, imgsz, set_)
    for target in specs:
        refuse_empty(target)
    files, missing = expand_paths(specs, exclude)
    github = format is CheckFormat.github or (format is CheckFormat.text and github_actions())
    machine = format in (CheckFormat.json, CheckFormat.sarif)
    found: list[Diagnostic] = []
    status_line = Status(len(files), "checking") if len(files) > 20 else None
    status = 0
    if not files and not missing:
        print(
            f"cnncalc: error: no specs to check in {', '.join(specs)} (nothing to check is "
            "an error, so a renamed folder fails CI)",
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
            _, diags = analyze_file(Source(path, options))
        except OSError as e:
            print(f"{path}: error: cannot read: {e.strerror or e}", file=sys.stderr)
            status = 2
            continue
        if strict:
            diags = strict_diags(diags)
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
        f"({count(errors, 'error')}, {count(warnings, 'warning')})"
    )
    raise typer.Exit(status)


def sarif(diags: list[Diagnostic], files: list[str]) -> dict:
    """SARIF 2.1.0, for code-scanning tools."""
    from .. import __version__

    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "cnncalc",
                        "version": __version__,
                        "rules": [
                            {
                                "id": "spec",
                                "shortDescription": {"text": "a spec that does not fit together"},
                            }
                        ],
                    }
                },
                "artifacts": [{"location": {"uri": Path(f).as_posix()}} for f in files],
                "results": [
                    {
                        "ruleId": "spec",
                        "level": "error" if d.severity == "error" else "warning",
                        "message": {"text": d.message},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": Path(d.path).as_posix()},
                                    "region": {"startLine": d.line, "startColumn": d.col},
                                }
                            }
                        ],
                    }
                    for d in diags
                ],
            }
        ],
    }
