"""memory and sizes: what a training step holds, and which input sizes the net takes."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated

import typer

from ..diagnostics import Diagnostic, SpecError
from ..show import render
from .common import (
    BatchOpt,
    Format,
    FormatOpt,
    ImgszOpt,
    ScaleOpt,
    SetOpt,
    Source,
    SpecArg,
    Status,
    cannot_read,
    emit,
    github_actions,
    read_options,
    run,
)


class Dtype(str, Enum):
    float32 = "float32"
    float16 = "float16"
    bfloat16 = "bfloat16"


class Optimizer(str, Enum):
    sgd = "sgd"
    momentum = "momentum"
    adam = "adam"
    adamw = "adamw"


class Step(str, Enum):
    steady = "steady"
    first = "first"


class OnOff(str, Enum):
    on = "on"
    off = "off"


class Loss(str, Enum):
    cross_entropy = "cross_entropy"
    mse = "mse"


class Amp(str, Enum):
    bfloat16 = "bfloat16"
    float16 = "float16"


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
    step: Annotated[
        Step,
        typer.Option(
            "--step", help="steady: the optimizer state exists; first: the step that makes it."
        ),
    ] = Step.steady,
    foreach: Annotated[
        OnOff,
        typer.Option(
            "--foreach", help="The optimizer's foreach kernels (torch's CUDA default) or its loop."
        ),
    ] = OnOff.on,
    loss: Annotated[
        Loss, typer.Option("--loss", help="cross_entropy (int64 targets) or mse (float targets).")
    ] = Loss.cross_entropy,
    amp: Annotated[
        Amp | None, typer.Option("--amp", help="Mixed precision under torch.autocast.")
    ] = None,
    format: FormatOpt = Format.table,
    fit: Annotated[
        str | None,
        typer.Option("--fit", help="A memory size (16GiB): report the largest batch that fits."),
    ] = None,
    scale: ScaleOpt = None,
    imgsz: ImgszOpt = None,
    set_: SetOpt = None,
):
    """One training step's memory: parameters, gradients, optimizer state, buffers, what autograd
    keeps."""
    source = Source(spec, read_options(scale, imgsz, set_))
    from ..analyses.memory import FitTooLong, fit_probes, parse_size
    from ..analyses.memory import fit as fit_batch
    from ..analyses.memory import memory as measure
    from ..engine import analyze, input_at

    if amp is not None and dtype is not Dtype.float32:
        print("cnncalc: error: --amp takes float32 parameters (--dtype float32)", file=sys.stderr)
        raise typer.Exit(2)
    how = {
        "step": step.value,
        "foreach": foreach is OnOff.on,
        "loss": loss.value,
        "amp": amp.value if amp else None,
    }
    limit = None
    if fit is not None:  # an option is checked before any spec is read
        try:
            limit = parse_size(fit)
        except ValueError as e:
            print(f"cnncalc: error: --fit: {e}", file=sys.stderr)
            raise typer.Exit(2) from None
    a = run(source, batch, False)
    from ..analyses.peak import modelled

    try:
        modelled(a)
    except SpecError as e:
        emit([Diagnostic.of(source.shown, e)], github_actions())
        raise typer.Exit(1) from None
    fitted, peaks, mine = None, {}, []  # mine: the batch at which `a` itself was fitted
    if limit is not None:
        s = source.spec()
        status = Status(label="fit:")

        def at(n):
            status(f"trying batch {n:,}")
            if input_at(s, n) == tuple(a.input):
                mine.append(n)  # the spec's own batch: its analysis is at hand
                return a
            return analyze(s, n)

        try:
            probes = fit_probes(a)
            fitted = (
                fit,
                fit_batch(
                    at, limit, dtype.value, optimizer.value, peaks=peaks, probes=probes, **how
                ),
            )
        except FitTooLong as e:
            status.done()
            print(f"cnncalc: error: --fit: {e}", file=sys.stderr)
            raise typer.Exit(2) from None
        status.done()
        if fitted[1] == 0:
            need = measure(analyze(s, 1), dtype.value, optimizer.value, **how).peak
            print(
                f"cnncalc: error: not even batch 1 fits in {fit}: one training step at "
                f"batch 1 peaks at {render.bytes_text(need.peak_bytes_cuda)}",
                file=sys.stderr,
            )
            raise typer.Exit(1)
    known = peaks.get(mine[0]) if mine else None  # the peak --fit found for `a` itself
    m = measure(a, dtype.value, optimizer.value, **how, known=known)
    if format is Format.json:
        print(render.dump(render.memory_json(m, fitted[1] if fitted else None)))
    else:
        sys.stdout.write(render.memory_text(a, m, markdown=format is Format.markdown, fit=fitted))


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
    """The input sizes the net accepts: exact runs of valid and lossless sizes, and for each refused
    run the
    first layer that refuses it and why."""
    source = Source(spec, read_options(scale, imgsz, set_))
    from ..analyses.sizes import (
        MAX_RULES,
        SizesError,
        check_work,
        parse_range,
        parse_vary,
        sweep,
    )
    from ..show.sizes import sizes_text

    try:
        s = source.spec()
        names = parse_vary(s, vary) if vary else None
        lo, hi = parse_range(range_)
        from ..analyses.sizes import spatial_names

        names = names or list(spatial_names(s))
        if not names:
            raise SizesError(f"the input {list(s.input)} has no spatial dims to vary")
        check_work(s, lo, hi)
        result = sweep(s, names, lo, hi, train, budget=MAX_RULES)
    except OSError as e:
        cannot_read(source.path, e)
    except SizesError as e:
        print(f"cnncalc: error: {e}", file=sys.stderr)
        raise typer.Exit(2) from None
    except SpecError as e:
        emit([Diagnostic.of(source.shown, e)], github_actions())
        raise typer.Exit(1) from None
    if format is Format.json:
        print(render.dump(result.to_dict()))
    else:
        sys.stdout.write(sizes_text(result, s, markdown=format is Format.markdown))
