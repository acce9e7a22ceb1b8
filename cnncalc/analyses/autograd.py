"""Autograd's bookkeeping, storage by storage, for the peak of a training step (``peak.py``).

A pool of storages, each with its bytes, category and holders: the forward's locals (a tensor
lives until the last layer that reads it), autograd's nodes (what ``Kind.saves`` declares, until
the node runs), the gradients in flight (until the node they flow into has run) and ``.grad``.
Backward runs in autograd's order: of the nodes whose gradients are all in, the one made last in
the forward first; two gradients that meet at a tensor are summed into a new one (as autograd
does where the tensors are a subclass, FakeTensor among them); what a node allocates is its
kind's ``backward``.
"""

from __future__ import annotations

import heapq

from ..engine import base
from ..layers import REGISTRY
from ..layers.base import contiguous, prod, view_strides
from ..model import Analysis

DTYPES = {"float32": 4, "float16": 2, "bfloat16": 2}
OPTIMIZERS = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}
ITEM = {"int64": 8, "bool": 1}  # every other saved tensor has the activation dtype
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
        self.casts: dict[str, list[int]] = {}  # layer -> the casts of its inputs (autocast)
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
            pool.alloc(prod(t[1]) * ITEM.get(t[2], act), "temporaries")
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
            items = _saves(kind, layer, grads, trains)
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
                    sid = pool.alloc(prod(item[1]) * ITEM.get(item[2], act), "activations")
                held.append(sid)
        elif layer.inputs and kind.saved_without_grad:  # made still, and freed at once
            made = [
                pool.alloc(prod(item[1]) * ITEM.get(item[2], act), "activations")
                for item in _saves(kind, layer, [True] * len(grads), True)
                if item[0] == "new"
            ]
            for sid in made:
                pool.drop(sid)
        f.saved[layer.name] = held
        for t in temps:
            if t[0] == "after":
                pool.drop(pool.alloc(prod(t[1]) * ITEM.get(t[2], act), "temporaries"))
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
    how = kind.autocast
    op = {"low": amp, "fp32": 4}.get(how)
    f.op[layer.name] = [op or max(ins)] * len(ins) if how or len(set(ins)) == 1 else ins
    f.dt[layer.name] = op or max(ins)
    f.low[layer.name] = how == "low"


def _casts(pool: _Pool, f: _Fwd, kind, layer, needs: bool, amp) -> list:
    """Autocast's copies: the parameters' (cached to the autocast's exit; a node keeps its
    weights), then the inputs' (kept where the node saves its input, else dropped after)."""
    if amp is None:
        f.casts[layer.name] = [None] * len(layer.inputs)
        return f.casts[layer.name]
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
    f.casts[layer.name] = out
    return out


def _saves(kind, layer, grads, trains) -> list[tuple]:
    if kind.needs_strides:
        items = kind.saves(
            layer.kwargs, list(layer.input_shapes), layer.output_shape, grads, layer.input_strides
        )
    else:
        items = kind.saves(layer.kwargs, list(layer.input_shapes), layer.output_shape, grads)
    if not trains and kind.reads_input_for_weight:
        items = [i for i in items if i != ("in", 0)]
    return items


def _backward(pool: _Pool, a: Analysis, f: _Fwd, root, heads, size: int) -> None:
    if not any(f.grad.get(o) for o, _, _, _ in heads):
        return  # nothing needs a gradient: torch has no backward to run
    # the root gradient, ones_like(loss), kept by autograd to the end of backward
    ones = pool.alloc(size, "activation_grads")
    # tensor -> its gradient: (storage id, strides, or None where contiguous), once in
    buffers: dict[str, tuple[int, tuple | None]] = {}

    def deliver(name: str, grad: tuple[int, tuple | None], n: int) -> None:
        have = buffers.get(name)
        if have is None:
            buffers[name] = grad
            return
        new = pool.alloc(n, "activation_grads")  # two gradients meet: their sum, a new tensor
        pool.drop(have[0])
        pool.drop(grad[0])
        buffers[name] = (new, None)

    by_name = {layer.name: layer.output_shape for layer in a.layers}
    by_name.update(dict(a.outputs))
    # the loss terms' backward, last term first: NllLoss then LogSoftmax (or MSE's one op)
    for o, n, saved, _ in reversed(heads):
        if not f.grad.get(o):
            for sid in saved:
                pool.drop(sid)
            continue
        if len(saved) == 2:
            g = pool.alloc(n, "activation_grads")  # nll_loss_backward
            pool.drop(saved[1])  # total_weight
            g = (pool.alloc(n, "activation_grads"), g)  # _log_softmax_backward_data
            pool.drop(g[1])
            pool.drop(saved[0])
        else:  # element-wise kernels: the gradient laid out as the output is
            g = (pool.alloc(n, "activation_grads"), None)
            for sid in saved:
                pool.drop(sid)
        own = prod(by_name[o]) * f.dt[o]
        if own != n:  # autocast: back to the output's dtype
            back = pool.alloc(own, "activation_grads")
            pool.drop(g[0])
            g = (back, None)
        deliver(o, (g[0], a.strides.get(o)), own)
    by = {layer.name: layer for layer in a.layers}
    pending = _dependencies(a, f, heads)
    for o, _, _, _ in heads:
        if f.grad.get(o):
            pending[base(o)] -= 1
    ready = [
        name
        for name, d in pending.items()
        if d == 0 and any(k in buffers for k in _names(by[name]))
    ]
    queue = [(-f.order[name], name) for name in ready]
    heapq.heapify(queue)
    queued = set(ready)
    while queue:
        _, name = heapq.heappop(queue)
        layer = by[name]
        pool.layer = name
        incoming = [buffers.pop(k) for k in _names(layer) if k in buffers]
        outs, incoming = _node(pool, layer, f, incoming, size, a.strides)
        for sid, _ in incoming:
            pool.drop(sid)
        for sid in f.saved[name] + f.saved.pop(name + "#weights", []):
            pool.drop(sid)
        outs = _cast_back(pool, layer, f, outs, size)
        for src, grad, n in outs:
            deliver(src, grad, n)
            producer = base(src)
            pending[producer] -= 1
            if pending[producer] == 0 and producer not in queued:
                queued.add(producer)
                heapq.heappush(queue, (-f.order[producer], producer))
    pool.layer = None
    pool.drop(ones)


def reached_by_loss(a: Analysis, outputs: list[str]) -> set[str]:
    """The layers whose backward runs: they need a gradient and a loss term reaches them."""
    grad = {"input": False}
    for layer in a.layers:
        flows = _flows(REGISTRY[layer.type], layer, grad)
        needs = any(flows) or (bool(layer.params) and layer.trainable)
        for k in _names(layer):
            grad[k] = needs
    reach = {o for o in outputs if grad.get(o)}
    for layer in reversed(a.layers):
        if any(k in reach for k in _names(layer)):
            reach.update(
                s for s, g in zip(layer.inputs, _flows(REGISTRY[layer.type], layer, grad)) if g
            )
    return {layer.name for layer in a.layers if any(k in reach for k in _names(layer))}


def _flows(kind, layer, grad: dict) -> list[bool]:
    """Per input: whether a gradient flows into it (it needs one and the kind reads its
    values, not only its shape)."""
    return [grad[s] and k not in kind.shape_only for k, s in enumerate(layer.inputs)]


def _names(layer) -> list[str]:
    """The layer's tensor names: its own, and ``name:k`` for each of several outputs."""
    if not layer.output_shapes:
        return [layer.name]
    return [layer.name] + [f"{layer.name}:{k}" for k in range(len(layer.output_shapes))]


def _dependencies(a: Analysis, f: _Fwd, heads) -> dict[str, int]:
    """How many gradients flow into each layer's outputs in backward (it runs when all are
    in)."""
    reach = {o for o, _, _, _ in heads if f.grad.get(o)}
    for layer in reversed(a.layers):  # the nodes the loss reaches
        if any(k in reach for k in _names(layer)):
            flows = f.flows[layer.name]
            reach.update(s for s, g in zip(layer.inputs, flows) if g)
    count = {layer.name: 0 for layer in a.layers if f.grad[layer.name]}
    for o, _, _, _ in heads:
        if f.grad.get(o):
            count[base(o)] += 1
    for layer in a.layers:
        if not any(k in reach for k in _names(layer)):
            continue
        for s, g in zip(layer.inputs, f.flows[layer.name]):
            if g:
                count[base(s)] += 1
    return count


def _node(pool: _Pool, layer, f: _Fwd, incoming: list, size: int, a_strides: dict):
    """Run one layer's backward: allocate what its kind declares; the gradients it sends on,
    each as (tensor, (storage id, strides or None), bytes)."""
    kind = REGISTRY[layer.type]
    grads = f.flows[layer.name]
    shapes = list(layer.input_shapes)
    out_shape = layer.output_shape
    so = f.dt[layer.name]  # the output's (and its gradient's) element bytes
    si = f.op[layer.name]  # each input's as the op sees it: its gradient's, until cast back
    sp = f.op[layer.name][0] if f.low[layer.name] else size  # the parameters' gradients
    sends, temps, following, done = [], [], None, 0
    if not layer.inputs:  # a parameter: .grad steals a dense gradient of its own, else a copy
        own = prod(out_shape) * so
        for sid, strides in incoming:
            if strides is None and pool.size[sid][0] == own:
                pool.hold(sid)
                pool.recategorize(sid, "grads")
            else:
                pool.alloc(own, "grads")
        return [], incoming
    for item in kind.backward(layer.kwargs, shapes, out_shape, grads):
        if item[0] == "grad":
            k = item[1]
            n = prod(item[2] if len(item) > 2 else shapes[k]) * si[k]
            # an element-wise kernel lays its gradient out as its input is
            layout = a_strides.get(layer.inputs[k]) if kind.keeps_layout else None
            sends.append((k, (pool.alloc(n, "activation_grads"), layout), n))
        elif item[0] in ("pass", "expand"):
            k = item[1]
            sid, strides = incoming[0]
            at = item[2] if len(item) > 2 else shapes[k]  # summed down to a broadcast input after
            if item[0] == "expand":
                view = kind.grad_layout(layer.kwargs, shapes, out_shape, k, strides)
            elif len(item) > 2:  # the incoming gradient itself, at the output's shape
                view = strides or contiguous(at)
            else:
                view = kind.grad_layout(layer.kwargs, shapes, out_shape, k, strides)
            if view is None:  # no view of the gradient has the input's shape: reshape copies
                sid = pool.alloc(prod(at) * so, "activation_grads")
            else:
                pool.hold(sid)
            sends.append(
                (k, (sid, None if view in (None, contiguous(at)) else view), prod(at) * so)
            )
        elif item[0] == "viewgrad":  # the node reshapes its incoming gradient first
            sid, strides = incoming[0]
            if strides is not None and view_strides(out_shape, strides, item[1]) is None:
                copy = pool.alloc(prod(out_shape) * so, "activation_grads")
                pool.drop(sid)
                incoming[0] = (copy, None)
        elif item[0] == "params":
            if layer.trainable:
                made = [pool.alloc(p.count * sp, "grads") for p in layer.params]
                if sp != size:  # autocast: low gradients, cast to .grad's dtype after the node
                    f.pgrads[layer.name] = made
        elif item[0] == "next":  # the gradient the node's next part takes in
            following = pool.alloc(prod(item[1]) * so, "activation_grads")
        elif item[0] == "release":  # a part of the node is done: what it held goes
            if len(item) == 1:  # its gradients summed down to broadcast inputs' first
                sends[done:] = [
                    _sum_down(pool, k, g, n, shapes[k], si[k]) for k, g, n in sends[done:]
                ]
                done = len(sends)
            for sid, _ in incoming:
                pool.drop(sid)
            for sid in f.saved[layer.name]:
                pool.drop(sid)
            incoming = [(following, None)] if following is not None else []
            f.saved[layer.name], following = [], None
        elif item[0] == "free":
            for t in temps:
                pool.drop(t)
            temps = [None] * len(temps)
        elif item[0] == "drop":  # one temporary, by the order it was made in
            pool.drop(temps[item[1]])
            temps[item[1]] = None
        elif item[0] == "unsave":  # one saved tensor, by its place in ``saves``
            pool.drop(f.saved[layer.name][item[1]])
            f.saved[layer.name][item[1]] = None
        elif item[0] == "release_in":
            for sid, _ in incoming:
                pool.drop(sid)
            incoming = []
        else:
            temps.append(pool.alloc(prod(item[1]) * ITEM.get(item[2], so), "temporaries"))
    for t in temps:
        pool.drop(t)
    out = []
    for k, grad, n in sends:  # made at the output's shape: summed to the input's
        k, grad, n = _sum_down(pool, k, grad, n, shapes[k], si[k])
        out.append((layer.inputs[k], grad, n))
    return out, incoming


def _cast_back(pool: _Pool, layer, f: _Fwd, outs: list, size: int) -> list:
    """Autocast's casts, undone in backward: the parameters' gradients to theirs (float32), each
    input's to its own dtype."""
    for p, sid in zip(layer.params, f.pgrads.pop(layer.name, [])):
        pool.alloc(p.count * size, "grads")
        pool.drop(sid)
    back = []
    for src, (sid, strides), n in outs:
        own = prod(layer.input_shapes[layer.inputs.index(src)]) * f.dt[src]
        if own != n:
            new = pool.alloc(own, "activation_grads")
            pool.drop(sid)
            sid, strides, n = new, None, own
        back.append((src, (sid, strides), n))
    return back


def _sum_down(pool: _Pool, k: int, grad, n: int, shape, size: int):
    """A gradient made at the output's shape, summed to its (broadcast) input's: a new tensor."""
    own = prod(shape) * size
    if n == own:
        return k, grad, n
    new = pool.alloc(own, "activation_grads")
    pool.drop(grad[0])
    return k, (new, None), own


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
