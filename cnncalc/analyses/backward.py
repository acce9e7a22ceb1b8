"""Backward of the training step, node by node (the books are ``autograd.py``'s pool).

Of the nodes whose gradients are all in, the one made last in the forward runs first; what it
allocates is its kind's ``backward`` (``Kind.backward``); it lets go of its incoming gradients and
saved tensors when done; the gradients it sends meet others at a tensor by a sum into a new
tensor (as autograd does for tensor subclasses, FakeTensor among them), and keep their layout.
"""

from __future__ import annotations

import heapq

from ..engine import base
from ..layers import REGISTRY
from ..layers.base import contiguous, prod, view_strides
from ..model import Analysis
from .autograd import _flows, _Fwd, _names, _Pool, nbytes


def _backward(pool: _Pool, a: Analysis, f: _Fwd, heads, size: int) -> None:
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
    promoted = kind.autocast == "weight" and layer.params and max(si, default=size) < size
    if promoted:  # made at the weight's dtype (float32), cast back inside the node
        si = [size] * len(si)
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
            temps.append(pool.alloc(prod(item[1]) * nbytes(item[2], so, size), "temporaries"))
    for t in temps:
        pool.drop(t)
    out = []
    for k, grad, n in sends:  # made at the output's shape: summed to the input's
        k, grad, n = _sum_down(pool, k, grad, n, shapes[k], si[k])
        out.append((layer.inputs[k], grad, n))
    return (_cast_back(pool, layer, f, out, size) if promoted else out), incoming


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
