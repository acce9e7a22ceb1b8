"""Walk a spec's layer graph: shapes, parameter tensors, buffers, MACs and receptive fields.

Counting rules, stated once:
- a *parameter* is a tensor that ``named_parameters()`` of the equivalent torch model yields;
- a *buffer* is a tensor it keeps but does not train (``running_mean``, ``running_var``,
  ``num_batches_tracked``);
- a *MAC* is one multiply-accumulate of a Conv*, ConvTranspose* or Linear weight product, bias
  not included (half of ``torch.utils.flop_counter``'s FLOPs); every other layer has 0.
"""

from __future__ import annotations

from ..diagnostics import SpecError
from ..layers import LayerError
from ..layers.base import arity, contiguous, dims, prod, times
from ..model import Analysis, Field, LayerResult, LayerSpec, LayerWarning, Spec
from .fields import CONST
from .fields import field as _field
from .tensors import tensors as _tensors

SPATIAL_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
MAX_DIMS = 64
MAX_SIZE = 10**18  # a dim past it is no net's: every count and byte size stays exact and printable


def analyze(spec: Spec, batch: int | None = None, *, counting: bool = False) -> Analysis:
    """Compute every layer's facts; raises SpecError at the first layer that does not fit.

    ``counting``: only the shapes, kwargs and MACs, for a spec whose full analysis (at another
    input size) has passed: no receptive fields, tensors or warnings, and none of the checks of
    names that the input size cannot change."""
    named = [k for k, d in spec.symbols.items() if not (batch is not None and d == [0])]
    if named:
        listed = ", ".join(named)
        spatial = [k for k in named if spec.symbols[k] != [0]]
        how = " ".join(f"--set {k}=224" for k in spatial) + (
            " --batch 8" if len(spatial) < len(named) else ""
        )
        raise SpecError(
            f"the input dims {listed} are names: give them sizes ({how.strip()}); "
            "`cnncalc shapes` prints the shapes as formulas of them",
            spec.input_pos,
        )
    shape = input_at(spec, batch)
    n_sp = _spatial_dims(spec)
    outputs: dict[str, tuple[int, ...]] = {"input": shape}
    fields: dict[str, Field | None] | None = {
        "input": Field((1,) * n_sp, (1,) * n_sp, (0.0,) * n_sp) if n_sp else None
    }
    if counting:
        fields = None
    owned: dict[
        str, str
    ] = {}  # parameter and buffer names -> layer, to catch clashes with layer names
    strides: dict[str, tuple] = {}  # tensor -> its strides where a view left it non-contiguous
    analysis = Analysis(spec.name, shape, [], input_dtype=spec.input_dtype)
    analysis.warnings += [LayerWarning(pos, message) for pos, message in spec.notes]
    analysis.batch_size = None if n_sp and len(shape) == n_sp + 1 else shape[0]
    prev = "input"
    names = {layer.name for layer in spec.layers}
    for layer in spec.layers:
        try:
            prev = _layer(layer, analysis, outputs, fields, strides, owned, prev, names, counting)
        except SpecError as e:
            err = SpecError(e.message + layer.context(), e.pos, e.layer)
            err.partial = analysis  # the layers that fit, for a table up to the failing one
            raise err from None
    _outputs(spec, analysis, outputs)
    analysis.strides = strides
    if not counting:
        _too_big(analysis)
    analysis.model = spec.ultralytics  # an Ultralytics model YAML's rows (its summary: analyses/)
    return analysis


DEVICE_BYTES = 1 << 40  # 1 TiB: more than any single accelerator holds, and than most machines


def _too_big(analysis: Analysis) -> None:
    """A warning where one tensor alone would not fit in any device: the input, a layer's output,
    the parameters."""
    if prod(analysis.input) * 4 > DEVICE_BYTES:
        pos = analysis.layers[0].pos
        analysis.warnings.append(
            LayerWarning(
                pos,
                f"the input {dims(analysis.input)} holds {prod(analysis.input):,} values "
                f"({_tib(prod(analysis.input) * 4)} in float32), more than any device holds",
            )
        )
        return
    for layer in analysis.layers:
        n = prod(layer.output_shape)
        if n * 4 > DEVICE_BYTES:
            analysis.warnings.append(
                LayerWarning(
                    layer.pos,
                    f"layer '{layer.name}' ({layer.type}): its output holds {n:,} values "
                    f"({_tib(n * 4)} in float32), more than any device holds",
                )
            )
            return
    if analysis.total_params * 4 > DEVICE_BYTES:
        analysis.warnings.append(
            LayerWarning(
                analysis.layers[0].pos,
                f"the parameters ({analysis.total_params:,}, "
                f"{_tib(analysis.total_params * 4)} in float32) are more than any device holds",
            )
        )


def _tib(n: int) -> str:
    return f"{n >> 40:,} TiB"


def input_at(spec: Spec, batch: int | None) -> tuple[int, ...]:
    """The input shape at a batch: an unbatched (C, *spatial) input gets a batch dim, a batched
    one a new batch size; None keeps the spec's."""
    shape = spec.input
    if batch is None:
        return shape
    n_sp = _spatial_dims(spec)
    return (batch, *shape) if n_sp and len(shape) == n_sp + 1 else (batch, *shape[1:])


def _outputs(spec: Spec, analysis: Analysis, outputs: dict) -> None:
    """The tensors the net returns; a warning for each layer none of them depends on."""
    last = analysis.layers[-1]
    wanted = spec.outputs or (
        [last.name]
        if last.output_shapes is None
        else [f"{last.name}:{k}" for k in range(len(last.output_shapes))]
    )
    for i, name in enumerate(wanted):
        pos = spec.outputs_pos[i] if spec.outputs else None
        shape = outputs.get(name)
        if not isinstance(shape, tuple):
            why = _missing(name, outputs, {layer.name for layer in spec.layers})
            raise SpecError(f"outputs names '{name}', but {why}", pos)
        analysis.outputs.append((name, shape))
    reached = {base(n) for n in wanted}
    for layer in reversed(analysis.layers):
        if layer.name in reached:
            reached.update(base(s) for s in layer.inputs)
    held = getattr(spec.ultralytics, "held", ())  # tensors a model holds and never runs
    dead = [x for x in analysis.layers if x.name not in reached and x.name not in held]
    for layer in dead[:20]:
        analysis.warnings.append(
            LayerWarning(
                layer.pos,
                f"layer '{layer.name}' ({layer.type}): its output reaches no output of the net",
            )
        )
    if len(dead) > 20:
        analysis.warnings.append(
            LayerWarning(dead[20].pos, f"{len(dead) - 20} more layers reach no output of the net")
        )


def base(ref: str) -> str:
    """``split:1`` -> ``split``: the layer a reference names."""
    return ref.rsplit(":", 1)[0] if ":" in ref else ref


def _missing(src: str, outputs: dict, names: set, here: str | None = None) -> str:
    """Why a reference names nothing above."""
    if isinstance(outputs.get(src), int):
        n = outputs[src]
        return f"'{src}' has {n} outputs: name one of them, '{src}:0' to '{src}:{n - 1}'"
    b = base(src)
    if b != src and isinstance(outputs.get(b), (tuple, int)):
        n = outputs[b] if isinstance(outputs[b], int) else 1
        if n == 1:
            return f"'{b}' has one output: name it '{b}'"
        return f"'{b}' has {n} outputs, '{b}:0' to '{b}:{n - 1}'"
    if b == here:
        return "it is this layer"
    if b in names:
        return "it is defined below this layer"
    return "no layer has that name"


def _layer(
    layer: LayerSpec,
    analysis: Analysis,
    outputs: dict,
    fields: dict | None,
    strides: dict,
    owned: dict,
    prev: str,
    names: set,
    counting: bool = False,
) -> str:
    """Analyse one layer into ``analysis``; returns its name (the next layer's default input)."""
    label = f"layer '{layer.name}' ({layer.type})"
    sources = layer.inputs or ([] if arity(layer.kind)[1] == 0 else [prev])
    for src in sources:
        if not isinstance(outputs.get(src), tuple):
            where = _missing(src, outputs, names, layer.name)
            tail = (
                ""
                if "output" in where
                else "; a layer may only take from layers above it or 'input'"
            )
            raise SpecError(
                f"{label}: from names '{src}', but {where}{tail}", layer.at("from"), layer.name
            )
    xs = [outputs[s] for s in sources]
    args = dict(layer.args)
    if args.get("batched"):  # a Constant whose first dim is the batch
        if analysis.batch_size is None:
            raise SpecError(
                f"{label}: batched needs a batched input", layer.at("batched"), layer.name
            )
        args["shape"] = (analysis.batch_size, *args["shape"][1:])
    try:
        out = (
            layer.kind.infer(args, *xs)
            if layer.kind.inputs == 1
            else layer.kind.infer(args, xs, sources)
        )
        xst = [strides.get(s) for s in sources]
        if any(xst):  # a kernel picked by the layout (attention's, on the CPU)
            out = layer.kind.laid_out(args, xs, xst, out)
        st, copies = _layout(layer.kind, args, xs, xst, out.shape)
    except LayerError as e:
        raise SpecError(
            f"{label}: {e.message}{_flatten_hint(layer, analysis, sources, xs, e.message)}",
            layer.at(e.key),
            layer.name,
        ) from None
    except (
        ArithmeticError,
        ValueError,
    ) as e:  # e.g. an infinite scale factor: still a located error
        raise SpecError(
            f"{label}: the arguments give no finite shape ({e})", layer.pos, layer.name
        ) from None
    for shape in out.outputs or [out.shape]:
        if len(shape) > MAX_DIMS:
            raise SpecError(
                f"{label}: its output would have {len(shape)} dims; torch's tensors have "
                f"at most {MAX_DIMS}",
                layer.pos,
                layer.name,
            )
        if any(v > MAX_SIZE for v in shape):
            raise SpecError(
                f"{label}: its output {dims(shape)} has a dim larger than {MAX_SIZE:.0e}",
                layer.pos,
                layer.name,
            )
    if counting:
        params, buffers = [], []
    else:
        params, buffers = _tensors(layer, out, analysis, args, outputs, owned, label)
    fld = None if fields is None else _field(out.rf, [fields[s] for s in sources])
    if (
        fld is not None
        and out.mixes_dim is not None
        and out.mixes_dim >= len(out.shape) - len(fld.size)
    ):
        fld = None  # it mixes a spatial dim whole
    result = LayerResult(
        name=layer.name,
        type=layer.type,
        inputs=tuple(sources),
        input_shapes=tuple(xs),
        output_shape=tuple(out.shape),
        params=params,
        buffers=buffers,
        macs=out.macs,
        kwargs=args,
        pos=layer.pos,
        field=fld,
        default_input=layer.inputs is None,
        written=layer.written,
        output_shapes=tuple(tuple(o) for o in out.outputs) if out.outputs is not None else None,
        trainable=layer.trainable,
        shares=layer.shares,
        pruned=layer.pruned,
        frozen=layer.frozen,
        tied=layer.tied,
        copies=copies,
        input_strides=tuple(strides.get(s) for s in sources),
    )
    analysis.layers.append(result)
    analysis.by_name[layer.name] = result
    if not counting:
        _notes(analysis, layer, out, sources, xs, label)
    if out.outputs is not None:
        outputs[layer.name] = len(out.outputs)  # the bare name stands for several tensors: name one
        for k, o in enumerate(result.output_shapes):
            outputs[f"{layer.name}:{k}"] = o
            if fields is not None:
                fields[f"{layer.name}:{k}"] = fld
            if st is not None and not is_contiguous(o, st):
                strides[f"{layer.name}:{k}"] = st
        return layer.name  # a layer below without `from` is told to name one output
    outputs[layer.name] = result.output_shape
    if fields is not None:
        fields[layer.name] = CONST if arity(layer.kind)[1] == 0 else fld
    if st is not None and not is_contiguous(result.output_shape, st):
        strides[layer.name] = st
    return layer.name


def _notes(analysis: Analysis, layer: LayerSpec, out, sources, xs, label: str) -> None:
    """What the analysis records beside the numbers: flattens, and the layer's warnings."""
    if out.flattened:
        analysis.flattens.append((layer.name, prod(out.flattened), tuple(out.flattened)))
    if xs:
        _rounding(analysis, layer, xs[0], out.unread, label)
    hint = _flatten_hint(layer, analysis, sources, xs, "")
    if hint:
        analysis.warnings.append(
            LayerWarning(
                layer.pos, f"{label}: acts on the last dim only ({xs[0][-1]} features){hint}"
            )
        )
    analysis.warnings += [LayerWarning(layer.pos, f"{label}: {w}") for w in out.warnings]


def is_contiguous(shape, stride) -> bool:
    """torch's is_contiguous: strides of size-1 dims do not matter."""
    return all(s == c for n, s, c in zip(shape, stride, contiguous(shape)) if n != 1)


def _layout(kind, a: dict, xs: list, xstrides: list, out) -> tuple[tuple | None, bool]:
    """(the output's strides, or None where contiguous; whether a reshape had to copy)."""
    if getattr(kind, "strided", False):
        given = xstrides[0] or contiguous(xs[0])
        st = kind.layout(a, xs[0], given, out)
        return st, st is None and xstrides[0] is not None
    if kind.keeps_layout and len(xs) == 1:
        return xstrides[0], False  # element-wise kernels lay the output out as the input
    return None, False


def _flatten_hint(layer: LayerSpec, analysis: Analysis, sources, xs, message: str) -> str:
    """For a Linear fed the >2-D output of a conv or pool: add a Flatten, and the product it
    gives."""
    if layer.type != "Linear" or not xs or len(xs[0]) <= 2 or "add a Flatten" in message:
        return ""
    src = base(sources[0])
    kind = getattr(analysis.by_name.get(src), "type", None)
    if kind is None or not kind.startswith(("Conv", "MaxPool", "AvgPool", "Adaptive", "LPPool")):
        return ""
    x = xs[0]
    return (
        f"; {dims(x)} is the {len(x)}-D output of a {kind}: add a Flatten before this layer "
        f"({times(x[1:])} = {prod(x[1:]):,})"
    )


def _spatial_dims(spec: Spec) -> int:
    """How many trailing dims are spatial: those of the first layer that names them, else ndim −
    2."""
    for layer in spec.layers:
        n = getattr(layer.kind, "n", None)
        if n:
            return n
    return max(len(spec.input) - 2, 0)


def _rounding(analysis: Analysis, layer: LayerSpec, x, unread: list[int], label: str) -> None:
    """One warning for a layer whose windows leave the last input positions of a dim unread."""
    if not any(unread):
        return
    n = len(unread)
    lost = [
        (name, i, u) for name, i, u in zip(SPATIAL_NAMES.get(n, ()), x[len(x) - n :], unread) if u
    ]
    if not lost:
        return
    what = {"H": "rows", "W": "columns", "D": "slices", "L": "positions"}
    parts = " and ".join(
        f"the last {u} of its {i} input {what[name]} ({name})" for name, i, u in lost
    )
    analysis.warnings.append(
        LayerWarning(
            layer.pos,
            f"{label}: {parts} lie past its last window and never reach the output "
            "(floor rounding; ceil_mode, padding or an input size that fits would use them)",
        )
    )
