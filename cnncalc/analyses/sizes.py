"""Which input sizes a net accepts: every size of a range at once, exactly, by the layers' own
rules.

A sweep runs each layer's shape rule (the same ``infer`` the analysis runs) once per *distinct
state*
rather than once per size: sizes whose live tensors have the same shapes (and layouts) at some layer
share everything from there on, so they are grouped. A stride-2 layer halves the number of groups,
which is why a ResNet-50 sweep over 4,096 sizes costs about as much as ~20 analyses. Nothing is
extrapolated: every size in the range is decided by the rules, the refusals as the analysis states
them. Runs (``[first, last, step]``) and their periods are read off the exact sets afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..diagnostics import SpecError
from ..engine import MAX_DIMS, MAX_SIZE, SPATIAL_NAMES, _spatial_dims, base, is_contiguous
from ..layers import LayerError
from ..layers.base import arity, contiguous
from ..model import Spec
from .runs import runs

MANY = "several"  # marks the value of a layer with several outputs: (MANY, ((shape, strides), ...))
MAX_SIZES = (
    1 << 20
)  # sizes one sweep decides; a wider range is refused (answer in runs, never out of memory)
# sizes times layers: a sweep past it could take minutes, so it is refused with a narrower range
MAX_WORK = 4_000_000
# the layer rules one `cnncalc sizes` may run (sizes that stay apart each run every layer's):
# about a second at most (a ResNet-50 over 4,096 sizes runs 23,177)
MAX_RULES = 30_000


@dataclass
class Refusal:
    layer: str
    reason: str
    sizes: list[int] = field(default_factory=list)


@dataclass
class Sweep:
    name: str | None
    vary: list[str]
    lo: int
    hi: int
    valid: list[int]
    lossless: list[int]
    refusals: list[Refusal]  # in the order of the layers that refuse

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "vary": self.vary,
            "range": [self.lo, self.hi],
            "valid": runs(self.valid),
            "lossless": runs(self.lossless),
            "invalid": [
                {"sizes": runs(r.sizes), "layer": r.layer, "reason": r.reason}
                for r in self.refusals
            ],
        }


class SizesError(ValueError):
    """A usage error of ``sizes`` (exit 2): a dim that is not spatial, an empty or too wide
    range."""


def spatial_names(spec: Spec) -> dict[str, int]:
    """``{"H": 2, "W": 3}``: the input dims ``--vary`` may name, and their index in the input
    shape."""
    n = _spatial_dims(spec)
    first = next((layer.kind for layer in spec.layers if getattr(layer.kind, "n", None)), None)
    if first is not None and first.type.startswith(
        "BatchNorm"
    ):  # (N, C) or (N, C, *spatial): batched always
        n = min(n, len(spec.input) - 2)
    names = SPATIAL_NAMES.get(n, ())
    first = len(spec.input) - len(names)
    return {name: first + k for k, name in enumerate(names)} if first >= 0 else {}


def parse_vary(spec: Spec, text: str) -> list[str]:
    names = spatial_names(spec)
    vary = [v.strip().upper() for v in text.split(",") if v.strip()]
    if not vary:
        raise SizesError("--vary names no dim: give spatial dims such as H,W (or L, or D)")
    for v in vary:
        if v not in names:
            have = ", ".join(names) or "none (the input has no spatial dims)"
            raise SizesError(
                f"--vary {v}: not a spatial dim of the input {list(spec.input)}; its "
                f"spatial dims are {have}"
            )
    if len(set(vary)) != len(vary):
        raise SizesError(f"--vary names a dim twice: {text}")
    return vary


def parse_range(text: str) -> tuple[int, int]:
    try:
        lo_s, hi_s = text.split(":")
        lo, hi = int(lo_s), int(hi_s)
    except ValueError:
        raise SizesError(
            f"--range must be LO:HI, two positive integers (1:512), found '{text}'"
        ) from None
    if lo < 1:
        raise SizesError(f"--range {text}: sizes start at 1")
    if hi < lo:
        raise SizesError(f"--range {text}: empty (the last size is below the first)")
    if hi - lo + 1 > MAX_SIZES:
        raise SizesError(
            f"--range {text}: {hi - lo + 1:,} sizes, more than the {MAX_SIZES:,} one sweep decides"
        )
    return lo, hi


def sweep(
    spec: Spec,
    vary: list[str],
    lo: int,
    hi: int,
    train: bool = False,
    dims: list[int] | None = None,
    record=None,
    freeze=True,
    budget: int | None = None,
) -> Sweep:
    """Decide every size in ``lo..hi`` (the ``vary`` dims set to it together, the others as the spec
    has them).

    ``dims`` names the input dims to vary by index instead; ``record(i, out, sizes)`` hears each
    layer's result
    for each group of sizes (then every layer runs its rule); ``freeze=False`` (and ``record``)
    infers the sizes
    left to inference at each size instead of at the spec's own (a net whose input dims are
    names); ``budget``: the layer rules it may run (SizesError past it)."""
    where = spatial_names(spec)
    idx = dims if dims is not None else [where[v] for v in vary]
    layers = spec.layers
    n = len(layers)
    fixed = _fixed_args(spec) if freeze and record is None else [layer.args for layer in layers]
    # the layer each tensor is last read by (the net's outputs: read at the end)
    last: dict[str, int] = {}
    srcs: list[list[str]] = []
    prev = "input"
    for i, layer in enumerate(layers):
        s = layer.inputs or ([] if arity(layer.kind)[1] == 0 else [prev])
        srcs.append(s)
        for r in s:
            last[base(r)] = i
        prev = layer.name
    for r in spec.outputs or [layers[-1].name]:
        last[base(r)] = n
    # the live tensors after each layer, in a fixed order: a state is their (shape, strides) values
    keeps: list[list[str]] = []
    alive = ["input"]
    for i, layer in enumerate(layers):
        alive = [r for r in [*alive, layer.name] if last.get(r, -1) > i]
        keeps.append(alive)
    # per layer: where its inputs sit in the state before it, and how the state after it is made
    plans = []
    before = ["input"]
    for i, layer in enumerate(layers):
        pos = {r: k for k, r in enumerate(before)}
        for r in srcs[i]:
            if base(r) not in pos:
                _structural(
                    spec, idx, lo
                )  # a reference to nothing (or below): the analysis says where
        ins = [
            (
                pos[base(r)],
                int(r.rsplit(":", 1)[1])
                if base(r) != r and r.rsplit(":", 1)[1].isdigit()
                else (-1 if base(r) == r else -2),
            )
            for r in srcs[i]
        ]
        after = [pos[r] if r != layer.name else -1 for r in keeps[i]]
        plans.append((ins, after))
        before = keeps[i]
    groups: dict = {}
    for x in range(lo, hi + 1):
        shape = list(spec.input)
        for d in idx:
            shape[d] = x
        groups.setdefault((((tuple(shape), None),), False), []).append(x)
    refused: dict[str, Refusal] = {}
    for i, layer in enumerate(layers):
        kind = layer.kind
        many = kind.inputs != 1
        strided = getattr(kind, "strided", False)
        keeps_layout = kind.keeps_layout
        blind = not many and not train and record is None and kind.blind(fixed[i])
        rep, tail = (), 0
        ins_at, after = plans[i]
        new: dict = {}
        # a size-blind kind's rule reads the dims and channels, never the spatial sizes: decided
        # once, it passes
        # every group's shape through (each group still runs it where the first run changes the
        # shape or refuses)
        passes = None
        for (state, lossy), xs in groups.items():
            v = state[ins_at[0][0]] if ins_at else None  # a Parameter reads no tensor
            if (
                passes
                and v is not None
                and v[0] != MANY
                and len(v[0]) == len(rep)
                and v[0][:-tail] == rep[:-tail]
            ):
                value = (passes[:-tail] + v[0][-tail:], v[1] if keeps_layout else None)
                key = (tuple(value if k < 0 else state[k] for k in after), lossy)
                if key in new:
                    new[key].extend(xs)
                else:
                    new[key] = list(xs)
                continue
            ins = []
            for k, j in ins_at:
                v = state[k]
                if j == -1:
                    if v[0] == MANY:
                        _structural(spec, idx, xs[0])  # a bare name of a layer with several outputs
                else:
                    if v[0] != MANY or j < 0 or j >= len(v[1]):
                        _structural(spec, idx, xs[0])
                    v = v[1][j]
                ins.append(v)
            a = dict(fixed[i])
            if budget is not None:
                budget -= 1
                if budget < 0:
                    _over_budget(spec, lo, hi, i)
            try:
                if many:
                    out = kind.infer(a, [v[0] for v in ins], srcs[i])
                else:
                    out = kind.infer(a, ins[0][0])
                shape = out.shape
                if strided:
                    st = kind.layout(a, ins[0][0], ins[0][1] or contiguous(ins[0][0]), shape)
                elif keeps_layout and len(ins) == 1:
                    st = ins[0][1]
                else:
                    st = None
                for o in out.outputs or (shape,):
                    if len(o) > MAX_DIMS or (o and max(o) > MAX_SIZE):
                        raise LayerError(f"its output {list(o)} is larger than a tensor can be")
                if train and getattr(out, "train_refusal", None):
                    raise LayerError(out.train_refusal)
            except LayerError as e:
                _refuse(refused, layer, e.message, xs)
                continue
            except (ArithmeticError, ValueError) as e:
                _refuse(refused, layer, f"the arguments give no finite shape ({e})", xs)
                continue
            if record is not None:
                record(i, out, xs)
            if out.outputs is not None:
                value = (
                    MANY,
                    tuple(
                        (tuple(o), st if st is not None and not is_contiguous(o, st) else None)
                        for o in out.outputs
                    ),
                )
            else:
                value = (
                    tuple(shape),
                    st if st is not None and not is_contiguous(shape, st) else None,
                )
            if (
                passes is None and blind
            ):  # the representative: other groups differing only in its spatial dims follow it
                rep = ins[0][0]
                # the dims its rule never reads: those after the batch and channel dims (and within
                # its spatial ones)
                tail = min(getattr(kind, "n", len(rep)), len(rep) - 2)
                same = (
                    out.outputs is None
                    and len(shape) == len(rep)
                    and 0 < tail
                    and tuple(shape[-tail:]) == tuple(rep[-tail:])
                )
                ok = (
                    same
                    and value[1] == (ins[0][1] if keeps_layout else None)
                    and not any(out.unread)
                )
                passes = tuple(shape) if ok else False
            key = (tuple(value if k < 0 else state[k] for k in after), lossy or any(out.unread))
            if key in new:
                new[key].extend(xs)
            else:
                new[key] = list(xs)
        groups = new
        if not groups:
            break
    valid, lossless = [], []
    for (_, lossy), xs in groups.items():
        valid += xs
        if not lossy:
            lossless += xs
    order = {layer.name: i for i, layer in enumerate(layers)}
    refusals = sorted(refused.values(), key=lambda r: order[r.layer])
    for r in refusals:
        r.sizes.sort()
    return Sweep(spec.name, vary, lo, hi, sorted(valid), sorted(lossless), refusals)


def _fixed_args(spec: Spec) -> list[dict]:
    """Each layer's arguments with the sizes left to inference (in_features, num_features, ...) as
    the spec's own
    input gives them: the model is built once and run at every size, as torch would run it. Where
    the spec's own
    size is refused, they are inferred at each size instead."""
    from ..engine import analyze

    try:
        a = analyze(spec)
    except SpecError:
        return [layer.args for layer in spec.layers]
    return [r.kwargs for r in a.layers]


def at_size(spec: Spec, idx: list[int], x: int) -> Spec:
    import dataclasses

    shape = list(spec.input)
    for d in idx:
        shape[d] = x
    return dataclasses.replace(spec, input=tuple(shape), symbols={})


def _structural(spec: Spec, idx: list[int], x: int):
    """A spec whose references do not resolve at any size: the analysis raises its diagnostic."""
    from ..engine import analyze

    analyze(at_size(spec, idx, x))
    raise SpecError(
        "the layers' references do not resolve"
    )  # the analysis raised above; kept for safety


def _refuse(refused: dict, layer, message: str, xs: list[int]) -> None:
    r = refused.get(layer.name)
    if r is None:
        refused[layer.name] = r = Refusal(layer.name, f"{layer.type}: {message}")
    elif min(xs) < min(r.sizes):
        r.reason = f"{layer.type}: {message}"  # the reason at the first size it refuses
    r.sizes += xs


def nearby(
    spec: Spec, vary: list[str], size: int, reach: int = 64
) -> tuple[int | None, int | None]:
    """The nearest accepted sizes below and above ``size`` (within ``reach``)."""
    lo, hi = max(1, size - reach), size + reach
    ok = sweep(spec, vary, lo, hi).valid
    below = [v for v in ok if v < size]
    above = [v for v in ok if v > size]
    return (below[-1] if below else None), (above[0] if above else None)


def _over_budget(spec: Spec, lo: int, hi: int, at: int) -> None:
    n = len(spec.layers)
    most = max(MAX_RULES // n, 1)
    raise SizesError(
        f"--range {lo}:{hi}: the sizes stay apart through this {n:,}-layer net, so deciding "
        f"them runs more than {MAX_RULES:,} layer rules (reached at layer {at + 1:,}); ask for "
        f"at most {most:,} sizes at a time (--range {lo}:{lo + most - 1})"
    )


def check_work(spec: Spec, lo: int, hi: int) -> None:
    """Refuse (SizesError) a sweep whose worst case is past MAX_WORK layer rules."""
    n = len(spec.layers)
    if (hi - lo + 1) * n > MAX_WORK:
        most = max(MAX_WORK // n, 1)
        raise SizesError(
            f"--range {lo}:{hi}: {hi - lo + 1:,} sizes of a {n:,}-layer net could take minutes; "
            f"ask for at most {most:,} sizes at a time (--range {lo}:{lo + most - 1})"
        )
