"""Build the equivalent torch model, run it, and compare its numbers with the analytic engine's.

Shapes are read from each layer's real output, MACs from ``FlopCounterMode`` around each layer
call (FLOPs / 2), parameter and buffer names and shapes from ``named_parameters()`` and
``named_buffers()``. On ``cpu`` a training step as the tutorial does it (zero_grad, MSELoss
against a random target, backward) checks that every parameter gets a gradient of its shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model import Analysis
from ..show.render import shape_text


class VerifyRefused(Exception):
    """The run would not fit in this machine's memory."""


@dataclass
class Row:
    name: str
    type: str
    shape: tuple
    torch_shape: tuple
    macs: int
    torch_macs: int
    params: int
    torch_params: int

    @property
    def ok(self) -> bool:
        return (
            self.shape == self.torch_shape
            and self.macs == self.torch_macs
            and self.params == self.torch_params
        )


@dataclass
class Report:
    device: str
    rows: list[Row]
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked_grads: int = 0
    checked_fields: int = 0
    saved_bytes: tuple[int, int] | None = None  # (analysis, torch) bytes autograd keeps in training

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.ok for r in self.rows)


def available_memory() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 << 30


def estimate_bytes(a: Analysis) -> int:
    """What the cpu run needs: the training step cnncalc computes, every layer's output kept
    (the forward is recorded layer by layer), with a quarter more for torch's own workspaces."""
    from ..analyses.memory import memory
    from ..diagnostics import SpecError

    outputs = sum(4 * _numel(layer.output_shape) for layer in a.layers)
    try:
        step = memory(a).total_bytes
    except SpecError:  # a step the books do not model: parameters, gradients, state, outputs
        step = 16 * a.total_params + 3 * outputs
    return (step + outputs) * 5 // 4


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def verify(a: Analysis, device: str = "meta", progress=None) -> Report:
    """Compare torch with the analysis layer by layer; nothing is allocated on ``meta``.
    ``progress(text)`` hears of each phase (the CLI shows it on a terminal)."""
    progress = progress or (lambda text: None)
    if device == "cpu":
        need, have = estimate_bytes(a), available_memory()
        if need > have:
            raise VerifyRefused(
                f"a cpu run needs about {need / 2**30:.1f} GiB, but {have / 2**30:.1f} GiB "
                "are available; use --device meta"
            )
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from .build import build

    progress("building the torch model")
    torch.manual_seed(0)
    model = build(a, device)
    model.eval()  # shapes do not depend on the mode; eval keeps batch-norm happy with batch 1
    report = Report(device, [])

    names = [(n, tuple(p.shape)) for n, p in model.named_parameters()]
    ours = [(t.name, t.shape) for t in a.tensors]
    if sorted(names) != sorted(ours):
        report.problems.append(f"parameters differ: torch has {_diff(names, ours)}")
    elif names != ours:
        report.notes.append(
            "parameter order differs (same names and shapes): torch lists a module's own "
            "parameters before its submodules'"
        )
    bufs = [(n, tuple(b.shape)) for n, b in model.named_buffers()]
    our_bufs = [(t.name, t.shape) for t in a.buffers]
    if sorted(bufs) != sorted(our_bufs):
        report.problems.append(f"buffers differ: torch has {_diff(bufs, our_bufs)}")
    frozen = {
        t.name
        for layer in a.layers
        for t in layer.params
        if not layer.trainable or t.name.rsplit(".", 1)[-1] in layer.frozen
    }
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if trainable != a.trainable_params:
        report.problems.append(
            f"trainable parameters: torch has {trainable:,}, the analysis {a.trainable_params:,}"
        )

    seen = {}
    from .kernels import cpu_macs

    by_name = {layer.name: layer for layer in a.layers}

    def record(name, m, xs):
        y = m(*xs)  # plain first: under FlopCounterMode some of torch's checks are skipped
        macs = cpu_macs(by_name[name], xs)  # counted as the CPU's kernels run it
        if macs is None:
            with FlopCounterMode(display=False) as fc:  # detached: its tracker trips on views
                m(*[x.detach() for x in xs])
            macs = fc.get_total_flops() // 2
        shapes = tuple(tuple(t.shape) for t in y) if isinstance(y, tuple) else (tuple(y.shape),)
        seen[name] = (shapes, macs, sum(p.numel() for p in m.parameters(recurse=False)))
        return y

    from .modules import Input

    x = (
        Input(a.input, a.input_dtype).example(device)
        if device == "cpu"
        else torch.empty(a.input, device=device, dtype=Input(a.input, a.input_dtype).dtype)
    )
    if device == "cpu":
        model.train()
        x.requires_grad_(False)
    progress(f"running the forward pass on {device}")
    try:
        out = model(x, record)
    except Exception as e:  # torch refused what the analysis accepted: report it, do not crash
        report.problems.append(f"torch raised at layer '{_last_name(a, seen)}': {_first_line(e)}")
        out = None
    counts = {t.name: t.count for t in a.tensors}
    owns: dict[str, int] = {}
    for layer in a.layers:
        t_shapes, t_macs, t_params = seen.get(layer.name, (((),), -1, -1))
        own = sum(
            t.count
            for t in layer.params
            if t.name == layer.name or t.name.rsplit(".", 1)[0] == layer.name
        ) + sum(counts[name] for name in layer.tied.values())  # the module holds them too
        own = owns[layer.name] = owns.get(layer.shares, 0) if layer.shares else own  # called again
        report.rows.append(
            Row(
                layer.name,
                layer.type,
                layer.output_shape,
                t_shapes[0],
                layer.macs,
                t_macs,
                own,
                t_params,
            )
        )
        if layer.output_shapes is not None and tuple(layer.output_shapes) != t_shapes:
            report.problems.append(
                f"layer '{layer.name}' has outputs {list(layer.output_shapes)}, torch "
                f"{list(t_shapes)}"
            )
    if out is not None:
        progress("measuring what autograd keeps")
        _check_memory(a, device, report)
    if device == "cpu" and out is not None:
        progress("running the backward pass")
        model.zero_grad()
        outs = out if isinstance(out, tuple) else (out,)
        loss = sum(torch.nn.MSELoss()(o, torch.randn(o.shape)) for o in outs)
        if loss.requires_grad:  # a net of no parameters has nothing to differentiate
            loss.backward()
        for n, p in model.named_parameters():
            if n in frozen:
                if p.grad is not None:
                    report.problems.append(f"frozen parameter {n} got a gradient")
                else:
                    report.checked_grads += 1
            elif p.grad is None or p.grad.shape != p.shape:
                report.problems.append(
                    f"parameter {n} got no gradient of its shape {list(p.shape)}"
                )
            else:
                report.checked_grads += 1
        from .receptive import agrees, measure

        progress("checking receptive fields against input gradients")
        for name, pos, expected, measured, interior in measure(a):
            if not agrees(expected, measured, interior):
                report.problems.append(
                    f"receptive field of '{name}' at output position {list(pos)}: the "
                    f"analysis covers input {expected}, the input gradient reaches {measured}"
                )
            report.checked_fields += 1
    return report


def _check_memory(a: Analysis, device: str, report: Report) -> None:
    from ..analyses.memory import memory
    from ..analyses.peak import modelled
    from ..diagnostics import SpecError
    from .memory import measure_saved

    try:
        modelled(a)
    except SpecError as e:
        report.notes.append(f"saved memory not compared: {e.message}")
        return
    try:
        total, per_layer = measure_saved(a, device)
    except Exception as e:  # e.g. batch norm with one value per channel, refused in training mode
        report.notes.append(
            f"torch refuses a training-mode forward at this batch size ({_first_line(e)}), "
            "so saved memory was not measured"
        )
        return
    m = memory(a)
    report.saved_bytes = (m.saved_activation_bytes, total)
    for name, ours in m.per_layer.items():
        if ours != per_layer.get(name, 0):
            report.problems.append(
                f"layer '{name}' makes autograd keep {ours:,} bytes by the analysis, "
                f"{per_layer.get(name, 0):,} in torch"
            )


def _last_name(a: Analysis, seen) -> str:
    for layer in a.layers:
        if layer.name not in seen:
            return layer.name
    return a.layers[-1].name


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"


def _diff(theirs, ours) -> str:
    t, o = dict(theirs), dict(ours)
    extra = [f"{n} {list(s)}" for n, s in theirs if o.get(n) != s]
    missing = [f"{n} {list(s)}" for n, s in ours if t.get(n) != s]
    return (
        f"{', '.join(extra) or 'nothing more'}; the analysis has "
        f"{', '.join(missing) or 'nothing more'}"
    )


def report_text(r: Report) -> str:
    from ..show.render import table

    rows = []
    for row in r.rows:
        shape = (
            shape_text(row.shape)
            if row.shape == row.torch_shape
            else f"{shape_text(row.shape)} ≠ torch {shape_text(row.torch_shape)}"
        )
        macs = (
            f"{row.macs:,}"
            if row.macs == row.torch_macs
            else f"{row.macs:,} ≠ torch {row.torch_macs:,}"
        )
        params = (
            f"{row.params:,}"
            if row.params == row.torch_params
            else f"{row.params:,} ≠ torch {row.torch_params:,}"
        )
        rows.append([row.name, row.type, shape, params, macs, "ok" if row.ok else "DIFFERS"])
    out = [f"verify on {r.device}: the torch model's numbers against the analysis", ""]
    out.append(table(["Layer", "Type", "Output shape", "Params", "MACs", "Torch"], rows, {3, 4}))
    out.append("")
    out += [f"problem: {p}" for p in r.problems]
    out += [f"note: {p}" for p in r.notes]
    agree = sum(row.ok for row in r.rows)
    out.append(
        f"{agree} of {len(r.rows)} layers agree with torch; parameter and buffer names and shapes "
        + (
            "agree"
            if not any(p.startswith(("parameters", "buffers")) for p in r.problems)
            else "DIFFER"
        )
    )
    if r.saved_bytes is not None:
        ours, theirs = r.saved_bytes
        verdict = "agree" if ours == theirs else "DIFFER"
        out.append(
            f"saved for backward in training: {ours:,} bytes by the analysis, {theirs:,} "
            f"in torch ({verdict})"
        )
    if r.device == "cpu":
        out.append(
            f"forward and backward ran on cpu: {r.checked_grads} parameter tensors got "
            "gradients of their shapes"
        )
        out.append(
            f"receptive fields: {r.checked_fields} layer positions checked against the "
            "support of the input gradient"
        )
    out.append(
        "OK: torch agrees with every number" if r.ok else "FAILED: torch disagrees (see above)"
    )
    return "\n".join(out) + "\n"


def torch_on_invalid(read, batch: int | None) -> str:
    """For a spec the analysis rejects at a layer: what torch raises at that same layer
    (``read()`` gives the spec, or raises what reading it raised)."""
    from ..diagnostics import SpecError
    from ..engine import analyze
    from ..layers import LayerError

    try:
        spec = read()
        analyze(spec, batch)
    except SpecError as e:
        if e.layer is None:
            return "torch was not run: the spec could not be read"
        idx = next(i for i, layer in enumerate(spec.layers) if layer.name == e.layer)
    except OSError:
        return "torch was not run: the spec could not be read"
    else:
        return "torch was not run: the spec is valid"
    import torch

    from .build import attach, module_for

    head = spec.layers[:idx]
    bad = spec.layers[idx]
    xs_shapes = []
    if head:
        import dataclasses

        # the layers above the failing one, returning the last of them (an Ultralytics summary is
        # not asked)
        spec = dataclasses.replace(
            spec, layers=head, outputs=None, outputs_pos=[], ultralytics=None
        )
        a = analyze(spec, batch)
        outs = {"input": a.input, **{lay.name: lay.output_shape for lay in a.layers}}
        prev = a.layers[-1].name
    else:
        shape = spec.input if batch is None else (batch, *spec.input[1:])
        outs, prev = {"input": shape}, "input"
    sources = bad.inputs or [prev]
    if any(s not in outs for s in sources):
        return f"torch was not run at layer '{bad.name}': its inputs do not exist"
    xs_shapes = [outs[s] for s in sources]
    args = dict(bad.args)
    try:
        if bad.kind.inputs == 1:
            bad.kind.infer(args, *xs_shapes)
        else:
            bad.kind.infer(args, xs_shapes, sources)
    except LayerError:
        pass  # inferred sizes are filled in before the rule fails
    try:
        with torch.device("meta"):
            m = module_for(bad.type, args)
            root = torch.nn.Module()
            attach(root, bad.name, m)
        m(*[torch.empty(s, device="meta") for s in xs_shapes])
    except Exception as err:
        return f"torch at layer '{bad.name}' ({bad.type}) agrees it is invalid: {_first_line(err)}"
    return f"torch at layer '{bad.name}' ({bad.type}) ran without an error on the same input"
