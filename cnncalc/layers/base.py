"""What every layer kind shares: argument readers, the result record, and shape helpers.

A layer kind declares its constructor arguments (torch's names and defaults) and one
``infer`` that maps input shapes to an :class:`Out`. Sizes are plain Python integers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Shape = tuple[int, ...]
REQUIRED = object()  # a constructor argument torch requires
INFER = None  # an input-size argument left out: taken from the incoming tensor


class LayerError(Exception):
    """A problem with one layer; ``key`` names the argument it is about, if any."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.message = message
        self.key = key


@dataclass
class Out:
    """What a layer does to its input: the facts the engine collects.

    ``params`` and ``buffers`` are (torch attribute, shape) pairs. ``macs`` counts the
    multiply-accumulates of the weight products, bias excluded. ``rf`` is the receptive-field
    step per spatial dim as (effective kernel, stride, left padding), ``"same"`` for a layer
    that keeps the field, or None where the field is undefined. ``unread`` lists, per spatial
    dim, how many input positions no window reads (floor rounding). ``kwargs`` are the
    constructor arguments with inferred sizes filled in; ``warnings`` what is legal but likely
    wrong.
    """

    shape: Shape
    params: list[tuple[str, Shape]] = field(default_factory=list)
    buffers: list[tuple[str, Shape]] = field(default_factory=list)
    macs: int = 0
    rf: list[tuple[int, int, int]] | str | None = None
    unread: list[int] = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    flattened: tuple[int, ...] = ()  # the sizes a Flatten multiplies into one
    mixes_dim: int | None = (
        None  # a dim along which outputs mix all inputs (no field if it is spatial)
    )
    outputs: list[Shape] | None = (
        None  # the shapes of a layer with several outputs (``shape`` is the first)
    )
    strides: tuple[int, ...] | None = (
        None  # a view's element strides, where they are not contiguous
    )


def prod(xs) -> int:
    n = 1
    for x in xs:
        n *= x
    return n


def dims(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def times(xs) -> str:
    """``16 × 6 × 6``"""
    return " × ".join(str(v) for v in xs) if len(xs) else "1"


# ---- argument readers: (value, key) -> normalized value, or LayerError ---------------------


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def schema(fragment: dict):
    """Attach the JSON Schema of what a reader accepts (used by ``cnncalc schema``)."""

    def wrap(read):
        read.schema = fragment
        return read

    return wrap


def integer(lo: int | None = 1):
    """An int of at least ``lo``."""

    @schema({"type": "integer"} if lo is None else {"type": "integer", "minimum": lo})
    def read(v, key):
        if not _is_int(v) or (lo is not None and v < lo):
            want = (
                "an integer"
                if lo is None
                else ("a positive integer" if lo == 1 else f"an integer >= {lo}")
            )
            raise LayerError(f"{key} must be {want}, found {v!r}", key)
        return v

    return read


def ints(n: int, lo: int | None = 1):
    """An int, repeated over ``n`` dims, or a list of ``n`` ints (torch's _ntuple)."""
    one = integer(lo)

    @schema(
        {
            "anyOf": [
                one.schema,
                {"type": "array", "items": one.schema, "minItems": n, "maxItems": n},
            ]
        }
    )
    def read(v, key):
        if _is_int(v):
            return (one(v, key),) * n
        if isinstance(v, list) and len(v) == n and all(_is_int(x) for x in v):
            return tuple(one(x, key) for x in v)
        want = {1: "a positive integer", 0: "a non-negative integer"}.get(lo, "an integer")
        raise LayerError(f"{key} must be {want} or a list of {n} of them, found {v!r}", key)

    return read


@schema(
    {"anyOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}, "minItems": 1}]}
)
def int_list(v, key):
    """A list of ints (or one int) as a tuple."""
    if _is_int(v):
        return (v,)
    if isinstance(v, list) and v and all(_is_int(x) for x in v):
        return tuple(v)
    raise LayerError(f"{key} must be an integer or a list of integers, found {v!r}", key)


@schema({"anyOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}}]})
def dim_list(v, key):
    """One dim or a list of dims (possibly empty) as a tuple."""
    if _is_int(v):
        return (v,)
    if isinstance(v, list) and all(_is_int(d) for d in v):
        return tuple(v)
    raise LayerError(f"{key} must be an integer or a list of integers, found {v!r}", key)


@schema({"type": "boolean"})
def flag(v, key):
    if not isinstance(v, bool):
        raise LayerError(f"{key} must be true or false, found {v!r}", key)
    return v


def number(lo: float | None = None, hi: float | None = None, lo_open: bool = False):
    frag = {"type": "number"}
    if lo is not None:
        frag["exclusiveMinimum" if lo_open else "minimum"] = lo
    if hi is not None:
        frag["maximum"] = hi

    @schema(frag)
    def read(v, key):
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        if ok and lo is not None:
            ok = v > lo if lo_open else v >= lo
        if ok and hi is not None:
            ok = v <= hi
        if not ok:
            rng = "" if lo is None else (f" > {lo}" if lo_open else f" >= {lo}")
            rng += "" if hi is None else f" and <= {hi}"
            raise LayerError(f"{key} must be a number{rng}, found {v!r}", key)
        return v

    return read


def choice(*options):
    @schema({"enum": list(options)})
    def read(v, key):
        if v not in options or not isinstance(v, str):
            opts = ", ".join(repr(o) for o in options)
            raise LayerError(f"{key} must be one of {opts}, found {v!r}", key)
        return v

    return read


def optional(reader):
    @schema({"anyOf": [getattr(reader, "schema", {}), {"type": "null"}]})
    def read(v, key):
        return None if v is None else reader(v, key)

    return read


# ---- shape helpers ------------------------------------------------------------------------


def spatial_input(x: Shape, n: int, unbatched: bool = True) -> tuple[tuple[int, ...], int, Shape]:
    """Split an (N, C, *n spatial) or, where allowed, (C, *n spatial) shape into (batch, C,
    spatial)."""
    names = {1: "L", 2: "H, W", 3: "D, H, W"}[n]
    if len(x) == n + 2:
        return (x[0],), x[1], x[2:]
    if unbatched and len(x) == n + 1:
        return (), x[0], x[1:]
    want = f"{n + 2}-D (N, C, {names})" + (f" or {n + 1}-D (C, {names})" if unbatched else "")
    raise LayerError(f"expects a {want} input, but the incoming tensor {dims(x)} is {len(x)}-D")


def check_size(a: dict, key: str, found: int, what: str, x: Shape) -> int:
    """Fill an inferred input size, or check a written one against the incoming tensor."""
    given = a.get(key)
    if given is None:
        a[key] = found
    elif given != found:
        raise LayerError(
            f"{key} is {given}, but the incoming tensor {dims(x)} has {found} {what}", key
        )
    return found


def norm_dim(d: int, ndim: int, key: str) -> int:
    """A possibly negative dim index, checked the way torch checks it."""
    if not -max(ndim, 1) <= d < max(ndim, 1):
        raise LayerError(
            f"{key} {d} is out of range for the {ndim}-D incoming tensor (expected "
            f"{-max(ndim, 1)} to {max(ndim, 1) - 1})",
            key,
        )
    return d % max(ndim, 1)


class Kind:
    """A layer type: its constructor arguments and its rule. Subclasses override ``infer``."""

    type: str = ""
    args: dict = {}
    ignored = frozenset({"inplace", "device", "dtype"})
    any_args = False
    # acts on each value (or channel) alone: shape, channels and receptive field pass through
    pointwise = False
    # its rule (in eval mode) reads the input's dims and channels but never its spatial sizes, and
    # passes the shape
    # through: `sizes` decides it once for all sizes (pointwise kinds and BatchNorm)
    size_blind = False

    def blind(self, a: dict) -> bool:
        """Whether, with these arguments, the rule never reads the spatial sizes and keeps them
        (``size_blind``,
        or a conv whose windows are single positions one apart)."""
        return self.size_blind or self.pointwise

    inputs = 1  # how many inputs it takes; 0: two or more; (lo, hi) a range (hi None: no limit)
    size_keys: tuple[str, ...] = ()  # input-size arguments that may be inferred

    def __init__(self, type_: str, args: dict, **attrs):
        self.type = type_
        self.args = args
        for k, v in attrs.items():
            setattr(self, k, v)

    def infer(self, a: dict, x):  # pragma: no cover - every kind overrides it
        raise NotImplementedError

    view = False  # the output shares the input's storage (a view, or the input itself)
    keeps_layout = False  # the output has the input's strides (element-wise kernels)
    reads_input_for_weight = False  # keeps its input only for its weight's gradient (conv, linear)
    needs_strides = False  # ``saves`` also takes the inputs' strides (it keeps by the layout)

    def shares_input(self, a: dict) -> bool:
        return self.view

    def laid_out(self, a: dict, xs: list, strides: list, out):
        """``out`` for inputs of these ``strides`` (None: contiguous), where a kernel picked by
        the layout changes the count."""
        return out

    def storage_numel(self, a: dict, xs: list, out) -> int:
        """Elements of the storage torch allocates for the output (more than it holds in rare
        kernels)."""
        return prod(out)

    def saves(self, a: dict, xs: list, out, grads: list[bool]) -> list[tuple]:
        """What autograd keeps for backward in a training-mode forward (torch 2.13, CPU), as items:
        ``("in", k)`` input k's storage, ``("out",)`` the output's, ``("new", shape, dtype)`` a
        fresh tensor (``"buffer"``: a buffer's, allocated before the step), dtype ``"act"`` (the
        activation dtype: statistics too, on the CPU), ``"param"`` (a parameter's) or ``"int64"``.
        Only asked when an input needs a gradient or the layer has parameters."""
        return []

    def forward_temps(self, a: dict, xs: list, out, grads=(), strides=()) -> list[tuple]:
        """Tensors its training forward makes and lets go: ``("before", shape, dtype)`` made
        before the output and freed after the layer, ``("after", shape, dtype)`` made and freed
        one at a time after it (``..., "cast")``: with its cast to a buffer's dtype)."""
        return []

    # where no gradient is needed the op still makes what ``saves`` lists ("new"), and drops it
    saved_without_grad = True
    shape_only: tuple[int, ...] = ()  # inputs it reads the shape of, never the values (no grad)
    # under torch.autocast: "low" runs in the low dtype (inputs and weights cast), "fp32" in
    # float32, "" in its inputs' dtype ("weight": its input's gradient at its weight's, float32)
    autocast = ""
    weight_for_input_grad = False  # its node keeps the weight only for the input's gradient

    # its backward hands on the incoming gradient (or views of it) rather than a new tensor:
    # None means as ``view`` says (a view's backward is a view; expand, slice and select copy)
    passes_grad: bool | None = None

    def backward(self, a: dict, xs: list, out, grads: list[bool]) -> list[tuple]:
        """What its backward allocates, in order (torch 2.13, CPU, as the dispatcher sees it):
        ``("grad", k)`` input k's gradient (a fresh tensor of its shape), ``("pass", k)`` input k's
        gradient is the incoming one (or a view of it), ``("params",)`` the parameters' gradients,
        ``("tmp", shape, dtype)`` a temporary freed when the node ends (``("free",)``: the
        temporaries so far, freed there); ``("grad", k, shape)`` a gradient made at another shape
        (a broadcast input's, summed down to its own after; ``("pass", k, shape)`` likewise);
        ``("release",)`` the incoming gradient and the saved tensors let go (a second node; the
        gradients so far summed down to broadcast inputs first, unless ``("release", "sums
        after")``);
        ``("expand", k)`` input k's gradient is the incoming one expanded (``grad_layout``);
        ``("viewgrad", shape)`` the incoming gradient reshaped first (a copy where no view is);
        ``("drop", j)`` temporary j freed, ``("unsave", j)`` saved item j let go,
        ``("release_in",)`` the incoming gradient let go (for kinds that run several nodes).
        Inputs that need no gradient get none; ``("params",)`` is skipped for a frozen layer."""
        if self.view if self.passes_grad is None else self.passes_grad:
            return [("pass", k) for k, g in enumerate(grads) if g] + [("params",)]
        return [("grad", k) for k, g in enumerate(grads) if g] + [("params",)]

    def grad_layout(self, a: dict, xs: list, out, k: int, strides) -> tuple | None:
        """The strides of input k's gradient where the backward hands on a view of the incoming
        one (``strides``, None where contiguous): a reshape of it by default, None where no
        view exists (torch's reshape then copies)."""
        return view_strides(out, strides or contiguous(out), xs[k])

    def explain(self, a: dict, x, out) -> list[str]:
        """The rule behind the output shape (and MACs), with the numbers filled in."""
        if tuple(out) == tuple(x):
            return [f"keeps the shape {dims(x)}: it acts on each value (or each channel) alone"]
        return [f"{dims(x)} -> {dims(out)}"]

    def module(self, kwargs: dict) -> tuple[str, dict]:
        """The equivalent torch module, declared: its class name (``torch.nn``'s, else one of
        ``cnncalc.bridge.modules``) and its constructor arguments. ``bridge/`` builds it."""
        return self.type, kwargs


def arity(kind: Kind) -> tuple[int, int | None]:
    """(fewest, most) inputs a kind takes."""
    if isinstance(kind.inputs, tuple):
        return kind.inputs
    return (1, 1) if kind.inputs == 1 else (2, None)


def contiguous(shape) -> tuple[int, ...]:
    """The strides of a contiguous tensor of ``shape``."""
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc *= max(s, 1)
    return tuple(reversed(out))


def view_strides(old: Shape, stride: tuple[int, ...], new: Shape) -> tuple[int, ...] | None:
    """torch's computeStride: the strides of ``new`` as a view of (old, stride), or None where no
    view exists."""
    if not old:
        return (1,) * len(new)
    out = [0] * len(new)
    view_d = len(new) - 1
    base = stride[-1]
    tensor_numel = view_numel = 1
    for d in range(len(old) - 1, -1, -1):
        tensor_numel *= old[d]
        if d == 0 or (old[d - 1] != 1 and stride[d - 1] != tensor_numel * base):
            while view_d >= 0 and (view_numel < tensor_numel or new[view_d] == 1):
                out[view_d] = view_numel * base
                view_numel *= new[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if d > 0:
                base = stride[d - 1]
                tensor_numel = view_numel = 1
    return tuple(out) if view_d == -1 else None


REGISTRY: dict[str, Kind] = {}


def register(*kinds: Kind) -> None:
    for k in kinds:
        REGISTRY[k.type] = k
