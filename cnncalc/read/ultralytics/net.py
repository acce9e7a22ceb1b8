"""The layers an Ultralytics model's rows add, collected as a spec's ``layers`` would give them, and
the helpers of Ultralytics' modules (``autopad``, ``make_divisible``, BatchNorm's settings)."""

from __future__ import annotations

import math

from ...diagnostics import Pos
from ..blocks import MAX_LAYERS
from ..yamlpos import Map

BN = {
    "eps": 0.001,
    "momentum": 0.03,
}  # what Ultralytics' initialize_weights sets on every BatchNorm2d


def make_divisible(x: float, divisor: int) -> int:
    return math.ceil(x / divisor) * divisor


def autopad(k, p=None, d=1):
    if d > 1:
        k = d * (k - 1) + 1 if isinstance(k, int) else [d * (x - 1) + 1 for x in k]
    if p is None:
        p = k // 2 if isinstance(k, int) else [x // 2 for x in k]
    return p


class Act:
    """An activation module a block makes and passes to its Convs (``act=nn.ReLU()``): one leaf
    module however many Convs call it."""

    def __init__(self, kind: str = "ReLU"):
        self.kind, self.counted = kind, False


class _Refused(Exception):
    """A row cnncalc cannot read (raised inside a module function; the reader adds the row's
    position)."""


class _Net:
    """Collects the layers of the rows: (Map, position) items as a spec's ``layers`` would give
    them."""

    def __init__(self):
        self.items: list[tuple[Map, Pos]] = []
        self.pos: Pos = (1, 1)
        self.fpos: Pos = (1, 1)
        self.origin: str | None = None  # "in row 11, Concat": said after a layer's diagnostic
        self.leaves = 0
        self.default_act = ("SiLU", {})
        self.shared_act = False  # Conv.default_act: one module shared by every Conv, so one leaf
        self.shared_rep_act = False  # RepConv.default_act: another, shared by every RepConv
        self.functional: set[str] = set()
        self.held: set[str] = set()  # tensors modules hold that the eval forward never runs
        self.text = self.text0 = None  # YOLO-World's text embeddings: as updated, as held
        self.assumed = ""  # what the reading assumes of data Ultralytics would download

    def add(
        self, name: str, type_: str, src, functional: bool = False, leaf: bool = True, **args
    ) -> str:
        """``functional``: run as a function (no module, no THOP rule); ``leaf=False``: a module
        called again (``shares``), whose leaf is counted already."""
        if len(self.items) >= MAX_LAYERS:
            raise _Refused(f"the model has more than the {MAX_LAYERS:,} layers a spec may have")
        m = Map()
        m["name"], m["type"] = name, type_
        if src is not None:
            m["from"] = list(src) if isinstance(src, (list, tuple)) else src
        for k, v in args.items():
            if v is not None:
                m[k] = _plain(v)
        m.pos, m.vpos, m.kpos, m.origin = self.pos, {"from": self.fpos}, {}, self.origin
        self.items.append((m, self.pos))
        if functional:
            self.functional.add(name)
        elif leaf:
            self.leaves += 1
        return name

    def act(self, name: str, x: str, act) -> str:
        if isinstance(act, Act):  # a module passed in (nn.ReLU()): one leaf for all its calls
            first, act.counted = not act.counted, True
            return self.add(name, act.kind, x, leaf=first)
        if act is True:
            if not self.shared_act:
                self.shared_act = True
                self.leaves += 1
            t, a = self.default_act
            return self.add(name, t, x, functional=True, **a)  # counted once above
        return self.add(name, "Identity", x)


def tensor_op(net, at, kind, src, **args):
    """A tensor operation of a forward (no module, no leaf, no THOP rule)."""
    return net.add(at, kind, src, functional=True, **args)


def linear(net, at, x, c1, c2, shares=None):
    """``nn.Linear``; ``shares``: the layer whose module this call runs again."""
    return net.add(
        at, "Linear", x, leaf=shares is None, in_features=c1, out_features=c2, shares=shares
    )


def layer_norm(net, at, x, c):
    return net.add(at, "LayerNorm", x, normalized_shape=[c])


def _plain(v):
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v
