"""Autograd's bookkeeping, storage by storage, for the peak of a training step (``peak.py``).

A pool of storages, each with its bytes, category and holders: the forward's locals (a tensor
lives until the last layer that reads it), autograd's nodes (what ``Kind.saves`` declares, until
the node runs), the gradients in flight (until the node they flow into has run) and ``.grad``.
This module holds the pool and the forward; ``backward.py`` plays the backward on them.
"""

from __future__ import annotations

from ..layers import REGISTRY
from ..layers.base import prod
from ..model import Analysis

DTYPES = {"float32": 4, "float16": 2, "bfloat16": 2}
OPTIMIZERS = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}
ITEM = {"int64": 8, "bool": 1}  # every other saved tensor has the activation dtype


def nbytes(tag: str, act: int, size: int) -> int:
    """Element bytes of a saved tensor or temporary: ``"param"`` a copy of a parameter's or
    buffer's (float32 under autocast), else ``ITEM``'s or the activation dtype's."""
    return size if tag == "param" else ITEM.get(tag, act)


CATEGORIES = (
    "params",
    "buffers",
    "optimizer_state",
    "inputs",
    "activations",
    "activation_grads",
    "grads",
    "temporaries",
)
BLOCK = 512  # bytes: CUDA's caching allocator rounds every block up to this


class _Pool:
    """Storages alive: each with its bytes, category and holders; the peak and where it fell."""

    def __init__(self):
        self.size: dict[int, tuple[int, int, str]] = {}  # id -> (bytes, cuda bytes, category)
        self.refs: dict[int, int] = {}
        self.live = [0, 0]
        self.by = dict.fromkeys(CATEGORIES, 0)
        self.peak = [0, 0]
        self.at: tuple[str, str | None] = ("forward", None)
        self.breakdown = dict(self.by)
        self.phase = "setup"
        self.layer: str | None = None
        self.phase_peak: dict[str, int] = {"setup": 0}
        self._dirty = False
        self._next = 0
        self.log: list | None = None

    def alloc(self, nbytes: int, category: str, refs: int = 1) -> int:
        sid = self._next
        self._next += 1
        self.refs[sid] = refs
        if nbytes <= 0:  # an empty tensor: no storage to count
            self.size[sid] = (0, 0, category)
            return sid
        cuda = -(-nbytes // BLOCK) * BLOCK
        self.size[sid] = (nbytes, cuda, category)
        live = self.live
        live[0] += nbytes
        live[1] += cuda
        self.by[category] += nbytes
        if live[0] > self.peak[0]:
            self.peak[0] = live[0]
            self.at = (self.phase, self.layer)
            self._dirty = True  # the breakdown is taken when the live bytes next change course
            if live[0] > self.phase_peak[self.phase]:
                self.phase_peak[self.phase] = live[0]
        elif live[0] > self.phase_peak[self.phase]:
            self.phase_peak[self.phase] = live[0]
        if live[1] > self.peak[1]:
            self.peak[1] = live[1]
        if self.log is not None:
            self.log.append(("+", nbytes, live[0], self.phase, self.layer, category))
        return sid

    def snapshot(self) -> None:
        """What is alive at the peak, by category (taken just before the first change after it)."""
        if self._dirty:
            self.breakdown = dict(self.by)
            self._dirty = False

    def hold(self, sid: int | None, n: int = 1) -> None:
        if sid is not None:
            self.refs[sid] += n

    def drop(self, sid: int | None) -> None:
        if sid is None:
            return
        self.refs[sid] -= 1
        if self.refs[sid] == 0:
            if self._dirty:
                self.snapshot()
            nbytes, cuda, category = self.size.pop(sid)
            del self.refs[sid]
            self.live[0] -= nbytes
            self.live[1] -= cuda
            self.by[category] -= nbytes
            if self.log is not None:
                self.log.append(("-", nbytes, self.live[0], self.phase, self.layer, category))

    def recategorize(self, sid: int, category: str) -> None:
        self.snapshot()
        nbytes, cuda, old = self.size[sid]
        self.by[old] -= nbytes
        self.by[category] += nbytes
        self.size[sid] = (nbytes, cuda, category)

    def enter(self, phase: str) -> None:
        self.snapshot()
        self.phase = phase
        self.layer = None
        self.phase_peak.setdefault(phase, self.live[0])


class _Fwd:
    """What the forward leaves: each tensor's storage, which layers have a node, and what the
    nodes hold."""

    def __init__(self):
        self.sid: dict[str, int | None] = {}
        self.grad: dict[str, bool] = {"input": False}
        self.saved: dict[str, list[int]] = {}
        self.order: dict[str, int] = {}
        self.dt: dict[str, int] = {}  # tensor -> its element's bytes
        self.op: dict[str, list[int]] = {}  # layer -> the element bytes its op sees per input
        self.cache: list[int] = []  # autocast's casts of the parameters, kept to its exit
        self.low: dict[str, bool] = {}  # layer -> runs in the low dtype with its weights cast
        self.flows: dict[str, list[bool]] = {}  # layer -> per input, whether a gradient flows
        self.pgrads: dict[str, list[int]] = {}  # layer -> its parameters' low gradients


def _forward(
    pool: _Pool, a: Analysis, size: int, outputs: list[str], amp: int | None = None
) -> _Fwd:
    """The training forward; ``amp``: autocast's low dtype's bytes (None: no autocast)."""
    pool.enter("forward")
    owner, _ = storages(a, size, kernels=False)
    f = _Fwd()
    f.sid["input"] = None  # held by the caller: never freed in the step
    f.dt["input"] = size
    last: dict[str, int] = {}
    for i, layer in enumerate(a.layers):
        for s in layer.inputs:
            last[s] = i
    for o in outputs:
        last[o] = len(a.layers)
    for i, layer in enumerate(a.layers):
        pool.layer = layer.name
        kind = REGISTRY[layer.type]
        f.order[layer.name] = i
        grads = f.flows[layer.name] = _flows(kind, layer, f.grad)
        trains = bool(layer.params) and layer.trainable
        needs = any(grads) or trains
        f.grad[layer.name] = needs
        _dtypes(f, kind, layer, size, amp)
        casts = _casts(pool, f, kind, layer, needs, amp)
        act = f.dt[layer.name]
        temps = kind.forward_temps(
            layer.kwargs, list(layer.input_shapes), layer.output_shape, grads, layer.input_strides
        )
        before = [
            pool.alloc(prod(t[1]) * nbytes(t[2], act, size), "temporaries")
            for t in temps
            if t[0] == "before"
        ]
        if not layer.inputs:  # a parameter: its own storage, counted with the parameters
            f.sid[layer.name] = None
        elif owner[layer.name] == layer.name:
            f.sid[layer.name] = pool.alloc(prod(layer.output_shape) * act, "activations")
        else:
            f.sid[layer.name] = f.sid[layer.inputs[0]]
            pool.hold(f.sid[layer.name])
        names = [layer.name] + [f"{layer.name}:{k}" for k in range(len(layer.output_shapes or ()))]
        for k in names[1:]:
            f.sid[k] = f.sid[layer.name]
            f.grad[k] = needs
            f.dt[k] = act
            pool.hold(f.sid[k])
        held = []
        if needs:
            items = saves(kind, layer, grads, trains)
            for item in items:
                if item[0] == "in":  # the input as the op saw it (its cast, under autocast)
                    sid = casts[item[1]] or f.sid[layer.inputs[item[1]]]
                    pool.hold(sid)
                elif item[0] == "out":
                    sid = f.sid[layer.name]
                    pool.hold(sid)
                elif item[0] == "buffer":  # a running statistic: alive anyway
                    continue
                else:
                    sid = pool.alloc(prod(item[1]) * nbytes(item[2], act, size), "activations")
                held.append(sid)
        elif layer.inputs and kind.saved_without_grad:  # made still, and freed at once
            made = [
                pool.alloc(prod(item[1]) * nbytes(item[2], act, size), "activations")
                for item in saves(kind, layer, [True] * len(grads), True)
                if item[0] == "new"
            ]
            for sid in made:
                pool.drop(sid)
        f.saved[layer.name] = held
        for t in temps:
            if t[0] == "after":
                sid = pool.alloc(prod(t[1]) * nbytes(t[2], act, size), "temporaries")
                if t[3:] == ("cast",) and nbytes(t[2], act, size) != size:  # to a buffer's dtype
                    pool.drop(pool.alloc(prod(t[1]) * size, "temporaries"))
                pool.drop(sid)
        for sid in before + casts:
            pool.drop(sid)  # None (no cast) is no-op
        for s in layer.inputs:
            if last.get(s) == i:
                pool.drop(f.sid[s])
                last[s] = -1
        for k in names:
            if k not in last:  # read by nothing: dropped as soon as it is made
                pool.drop(f.sid[k])
    pool.layer = None
    return f


def _dtypes(f: _Fwd, kind, layer, size: int, amp: int | None) -> None:
    """Element bytes of the layer's output and of each input as its op sees it: autocast runs
    convs, linears and matmuls in the low dtype (inputs and weights cast), a few kernels in
    float32, the rest in their inputs' (the widest where they mix)."""
    ins = [f.dt[s] for s in layer.inputs]
    if amp is None or not layer.inputs:
        f.op[layer.name] = ins
        f.dt[layer.name] = size if not layer.inputs else max(ins)
        f.low[layer.name] = False
        return
    how = kind.autocast if kind.autocast in ("low", "fp32") else ""
    op = {"low": amp, "fp32": 4}.get(how)
    f.op[layer.name] = [op or max(ins)] * len(ins) if how or len(set(ins)) == 1 else ins
    f.dt[layer.name] = op or max(ins)
    f.low[layer.name] = how == "low"


def _casts(pool: _Pool, f: _Fwd, kind, layer, needs: bool, amp) -> list:
    """Autocast's copies: the parameters' (cached to the autocast's exit; a node keeps its
    weights), then the inputs' (kept where the node saves its input, else dropped after)."""
    if amp is None:
        return [None] * len(layer.inputs)
    if f.low.get(layer.name):
        grads = f.flows[layer.name]
        keeps = needs and (not kind.weight_for_input_grad or any(grads))
        for p in reversed(layer.params):  # autocast casts the bias first
            sid = pool.alloc(p.count * amp, "activations")
            f.cache.append(sid)
            if keeps and not p.name.endswith("bias"):
                pool.hold(sid)
                f.saved.setdefault(layer.name + "#weights", []).append(sid)
    out = []
    for s, shape, want in zip(layer.inputs, layer.input_shapes, f.op[layer.name]):
        out.append(pool.alloc(prod(shape) * want, "activations") if want != f.dt[s] else None)
    return out


def saves(kind, layer, grads, trains) -> list[tuple]:
    """What the layer's node keeps (``Kind.saves``); a frozen weight needs no input for its
    gradient."""
    if kind.needs_strides:
        items = kind.saves(
            layer.kwargs, list(layer.input_shapes), layer.output_shape, grads, layer.input_strides
        )
    else:
        items = kind.saves(layer.kwargs, list(layer.input_shapes), layer.output_shape, grads)
    if not trains and kind.reads_input_for_weight:
        items = [i for i in items if i != ("in", 0)]
    return items


def _flows(kind, layer, grad: dict) -> list[bool]:
    """Per input: whether a gradient flows into it (it needs one and the kind reads its
    values, not only its shape)."""
    return [grad[s] and k not in kind.shape_only for k, s in enumerate(layer.inputs)]


def _names(layer) -> list[str]:
    """The layer's tensor names: its own, and ``name:k`` for each of several outputs."""
    if not layer.output_shapes:
        return [layer.name]
    return [layer.name] + [f"{layer.name}:{k}" for k in range(len(layer.output_shapes))]


def storages(a: Analysis, size: int, kernels: bool = True) -> tuple[dict[str, str], dict[str, int]]:
    """(tensor -> storage id, storage id -> bytes): a view or pass-through shares its input's
    storage."""
    owner = {"input": "input"}
    nbytes = {"input": prod(a.input) * size}
    for layer in a.layers:
        kind = REGISTRY[layer.type]
        if not layer.inputs:  # a parameter
            owner[layer.name] = None
            continue
        sid = (
            owner[layer.inputs[0]]
            if kind.shares_input(layer.kwargs) and not layer.copies
            else layer.name
        )
        owner[layer.name] = sid
        for k in range(len(layer.output_shapes or ())):
            owner[f"{layer.name}:{k}"] = sid
        if sid == layer.name:
            # the CPU kernels' own sizes, else each op's (as FakeTensorMode counts them)
            numel = (
                kind.storage_numel(layer.kwargs, list(layer.input_shapes), layer.output_shape)
                if kernels
                else prod(layer.output_shape)
            )
            nbytes[sid] = numel * size
    return owner, nbytes
